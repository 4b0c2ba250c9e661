package io.xfer.protocol;

/**
 * Protocol version negotiation: each side sends the range it speaks, the acceptor picks the highest common one.
 */
public final class ProtocolVersion
{
    /** The frame magic carried in HELLO: ASCII "XFER". */
    public static final int MAGIC = 0x58464552;

    public static final int MIN_SUPPORTED = 1;
    public static final int MAX_SUPPORTED = 1;

    /** Hard ceiling on any frame's length: a 16 MiB chunk plus its header. */
    public static final int MAX_FRAME_LENGTH = 16 * 1024 * 1024 + DataFlyweight.HEADER_LENGTH;

    /** Frame length limit used before the handshake has agreed on one. */
    public static final int HANDSHAKE_FRAME_LENGTH = 64 * 1024;

    private ProtocolVersion()
    {
    }

    /**
     * @return the highest version in both ranges, or -1 when they do not overlap.
     */
    public static int negotiate(final int peerMin, final int peerMax)
    {
        final int high = Math.min(peerMax, MAX_SUPPORTED);
        final int low = Math.max(peerMin, MIN_SUPPORTED);
        return high >= low ? high : -1;
    }
}
