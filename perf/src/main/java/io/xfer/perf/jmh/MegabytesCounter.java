package io.xfer.perf.jmh;

import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/**
 * Secondary result {@code :megabytes} of the byte-crunching benchmarks: decimal megabytes processed, which JMH
 * reports per second, so its "ops/s" reads as MB/s (10^6 bytes per second) without converting by hand.
 */
@State(Scope.Thread)
@AuxCounters(AuxCounters.Type.OPERATIONS)
public class MegabytesCounter
{
    private static final double BYTES_PER_MEGABYTE = 1_000_000.0;

    /** Read by JMH, which also resets it before every iteration. */
    public double megabytes;

    void add(final int bytes)
    {
        megabytes += bytes / BYTES_PER_MEGABYTE;
    }
}
