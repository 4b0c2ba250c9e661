package io.xfer.protocol;

/**
 * Capability bits exchanged in HELLO and WELCOME. The session uses the intersection of both peers' sets.
 * Unknown bits are ignored, so a peer may advertise capabilities this version does not know.
 */
public final class Capabilities
{
    /** Chunks may be LZ4-compressed (DATA flag {@link DataFlyweight#FLAG_LZ4}). */
    public static final long LZ4 = 1L;
    /** Data connections may join a session with HELLO kind {@link HelloFlyweight#KIND_DATA}. */
    public static final long PARALLEL_STREAMS = 1L << 1;
    /** The receiver reports resumable offsets in FILE_STATUS from its checkpoint journal. */
    public static final long RESUME = 1L << 2;
    /** FILE_END may carry a SHA-256 digest of the whole file. */
    public static final long SHA256 = 1L << 3;

    private Capabilities()
    {
    }

    public static boolean has(final long set, final long capability)
    {
        return (set & capability) == capability;
    }
}
