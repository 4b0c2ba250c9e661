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
    /**
     * Data connections skip TLS: they join with HELLO kind {@link HelloFlyweight#KIND_DATA} in the clear,
     * authenticated by the 128-bit session id that only the TLS control connection carried, and the control
     * connection carries no DATA. Offered by a client only when its user asks for it and granted by an agent only
     * when its configuration allows it.
     */
    public static final long PLAINTEXT_DATA = 1L << 4;
    /**
     * FILE_ENTRY may carry the whole content of a small regular file ({@link FileEntryFlyweight#FLAG_INLINE}); the
     * receiver answers it with its verdict, or with SEND when it cannot use the content.
     */
    public static final long INLINE_DATA = 1L << 5;

    private Capabilities()
    {
    }

    public static boolean has(final long set, final long capability)
    {
        return (set & capability) == capability;
    }
}
