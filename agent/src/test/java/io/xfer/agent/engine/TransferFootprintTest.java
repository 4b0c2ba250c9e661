package io.xfer.agent.engine;

import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * What a running transfer holds on the heap from its start, whatever it moves: its inbox and its statistics (the
 * latency histograms). An agent holds one of each per running transfer, up to {@code max_connections} (256 by
 * default) of them, in a 256 MiB heap by default; at 4.3 MB a transfer, 120 concurrent pushes exhausted it and the
 * error ended the agent's event loops.
 */
class TransferFootprintTest
{
    @Test
    void shouldHoldWellUnderAMegabytePerRunningTransfer()
    {
        // classes loaded and initialised once, so that only the instances are counted
        new Inbox(1 << 20, 2);
        new TransferStats(TransferListener.NONE);

        // one stream: the control connection only
        final long inbox = allocatedBy(() -> new Inbox(16 << 20, 2));
        // four streams, the client's default
        final long inbox4 = allocatedBy(() -> new Inbox(16 << 20, 5));
        final long receiving = allocatedBy(() -> new TransferStats(TransferListener.NONE, false,
            LatencyRecorder.Metric.RECEIVING));
        final long sending = allocatedBy(() -> new TransferStats(TransferListener.NONE, false,
            LatencyRecorder.Metric.SENDING));

        assertTrue(inbox < 160_000, () -> "inbox: " + inbox + " bytes");
        assertTrue(inbox4 < 300_000, () -> "inbox of 4 streams: " + inbox4 + " bytes");
        // three histograms per metric (a recorder's pair and the running total), about 36 KB each
        assertTrue(receiving < 160_000, () -> "receiving side's statistics: " + receiving + " bytes");
        assertTrue(sending < 400_000, () -> "sending side's statistics: " + sending + " bytes");
        // 256 running pulls of one stream (max_connections), or 64 of four, stay under half of the default heap
        assertTrue(256 * (inbox + sending) < 128L << 20, () -> "per pull: " + (inbox + sending) + " bytes");
        assertTrue(64 * (inbox4 + sending) < 128L << 20, () -> "per pull: " + (inbox4 + sending) + " bytes");
    }

    private static long allocatedBy(final Supplier<Object> make)
    {
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        assumeTrue(threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled(),
            "this JVM counts no allocation per thread");
        final long id = Thread.currentThread().getId();
        final long before = threads.getThreadAllocatedBytes(id);
        final Object made = make.get();
        final long after = threads.getThreadAllocatedBytes(id);
        assertNotNull(made);
        return after - before;
    }
}
