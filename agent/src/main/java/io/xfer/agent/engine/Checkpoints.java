package io.xfer.agent.engine;

/**
 * Group commit of the checkpoint journal: written chunks are made durable (partial files forced, then their
 * journal records written and forced) at most every {@code intervalNs}, or sooner once {@code bytes} were written,
 * and whenever the receiver waits for input. A crash loses at most that much work.
 *
 * @param intervalNs longest time between checkpoints while data flows.
 * @param bytes      bytes written that force a checkpoint.
 */
public record Checkpoints(long intervalNs, long bytes)
{
    public static final long INTERVAL_NS_DEFAULT = 1_000_000_000L;
    public static final long BYTES_DEFAULT = 64L << 20;

    public static final Checkpoints DEFAULT = new Checkpoints(INTERVAL_NS_DEFAULT, BYTES_DEFAULT);
}
