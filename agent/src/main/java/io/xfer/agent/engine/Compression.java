package io.xfer.agent.engine;

import java.util.Locale;

/**
 * What the sender does with LZ4 (negotiated: both peers advertise the LZ4 capability).
 */
public enum Compression
{
    /** Never compress. */
    NONE,
    /** Compress chunks that shrink by at least a tenth; after a chunk that does not, skip a growing run of chunks of
     * that file before trying again, so incompressible data costs little CPU. */
    AUTO,
    /** Try every chunk; a chunk that does not shrink enough still goes raw. */
    LZ4;

    public static Compression parse(final String text)
    {
        switch (text.toLowerCase(Locale.ROOT))
        {
            case "none": return NONE;
            case "auto": return AUTO;
            case "lz4": return LZ4;
            default: throw new IllegalArgumentException("--compress must be auto, lz4 or none, was '" + text + "'");
        }
    }
}
