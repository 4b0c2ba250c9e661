package io.xfer.tools;

import java.lang.management.ManagementFactory;
import java.util.HashMap;
import java.util.Map;

/**
 * Heap bytes allocated by this JVM's threads during a transfer, from the HotSpot allocation counters: the figure
 * behind "heap allocation per GiB moved". The JVM's running total counts threads that ended too (the client's role
 * runs on a thread of its own that ends with the transfer); where it is not available, the live threads' counters
 * are summed instead, which misses the threads that ended.
 */
final class HeapAllocation
{
    private final com.sun.management.ThreadMXBean threads;
    private final Map<Long, Long> start = new HashMap<>();
    private final long startTotal;

    private HeapAllocation(final com.sun.management.ThreadMXBean threads)
    {
        this.threads = threads;
        this.startTotal = total(threads);
        if (startTotal < 0)
        {
            snapshot(start);
        }
    }

    static HeapAllocation start()
    {
        return new HeapAllocation((com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean());
    }

    /** @return bytes allocated since {@link #start()}, or -1 when the JVM does not count them. */
    long allocatedBytes()
    {
        if (!threads.isThreadAllocatedMemorySupported() || !threads.isThreadAllocatedMemoryEnabled())
        {
            return -1;
        }
        if (startTotal >= 0)
        {
            final long now = total(threads);
            return now >= 0 ? now - startTotal : -1;
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

    /** The JVM's total over all threads, ended ones included, or -1. */
    private static long total(final com.sun.management.ThreadMXBean threads)
    {
        try
        {
            return threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled() ?
                threads.getTotalThreadAllocatedBytes() : -1;
        }
        catch (final UnsupportedOperationException ex)
        {
            return -1;
        }
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
