package io.xfer.tools;

import java.lang.management.ManagementFactory;
import java.util.HashMap;
import java.util.Map;

/**
 * Heap bytes allocated by this JVM's threads during a transfer, from the HotSpot per-thread allocation counters:
 * the figure behind "heap allocation per GiB moved". Threads that ended before the measurement are not counted;
 * the client's transfer runs on the calling thread and its event loops live until the client closes.
 */
final class HeapAllocation
{
    private final com.sun.management.ThreadMXBean threads;
    private final Map<Long, Long> start = new HashMap<>();

    private HeapAllocation(final com.sun.management.ThreadMXBean threads)
    {
        this.threads = threads;
    }

    static HeapAllocation start()
    {
        final HeapAllocation allocation = new HeapAllocation(
            (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean());
        allocation.snapshot(allocation.start);
        return allocation;
    }

    /** @return bytes allocated since {@link #start()}, or -1 when the JVM does not count them. */
    long allocatedBytes()
    {
        if (!threads.isThreadAllocatedMemorySupported() || !threads.isThreadAllocatedMemoryEnabled())
        {
            return -1;
        }
        final Map<Long, Long> now = new HashMap<>();
        snapshot(now);
        long total = 0;
        for (final Map.Entry<Long, Long> entry : now.entrySet())
        {
            total += entry.getValue() - start.getOrDefault(entry.getKey(), 0L);
        }
        return total;
    }

    private void snapshot(final Map<Long, Long> into)
    {
        final long[] ids = threads.getAllThreadIds();
        final long[] bytes = threads.getThreadAllocatedBytes(ids);
        for (int i = 0; i < ids.length; i++)
        {
            if (bytes[i] >= 0)
            {
                into.put(ids[i], bytes[i]);
            }
        }
    }
}
