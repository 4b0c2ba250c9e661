package io.xfer.agent.engine;

import org.agrona.concurrent.ManyToManyConcurrentArrayQueue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The sender's ring: a bounded Agrona queue of chunk descriptors that every stream pulls from when it has credit
 * (work stealing: a slow stream simply takes fewer chunks), over a fixed byte budget of payload buffers. The reader
 * must take budget before it reads a chunk and blocks when there is none (backpressure); a stream gives it back
 * once its channel has written the chunk out ({@link ChannelDrain}).
 */
final class ChunkScheduler
{
    private final ManyToManyConcurrentArrayQueue<Chunk> ready;
    private final List<DataStream> streams = new CopyOnWriteArrayList<>();
    /** The streams as an array, for offers without an iterator per chunk. */
    private volatile DataStream[] streamArray = new DataStream[0];
    private final Object budgetLock = new Object();
    private final long budgetBytes;
    private long availableBytes;

    ChunkScheduler(final long budgetBytes)
    {
        this.budgetBytes = budgetBytes;
        this.availableBytes = budgetBytes;
        final long slots = Math.max(16, budgetBytes / Chunk.MIN_CHARGE_BYTES + 1);
        this.ready = new ManyToManyConcurrentArrayQueue<>((int)Math.min(1 << 20, slots));
    }

    long budgetBytes()
    {
        return budgetBytes;
    }

    synchronized void addStream(final DataStream stream)
    {
        streams.add(stream);
        streamArray = streams.toArray(new DataStream[0]);
        stream.wake();
    }

    synchronized void removeStream(final DataStream stream)
    {
        streams.remove(stream);
        streamArray = streams.toArray(new DataStream[0]);
    }

    int liveStreams()
    {
        return streams.size();
    }

    /**
     * Take budget for a chunk; waits up to {@code timeoutNs}.
     *
     * @return false when the budget did not free up in time (the caller does other work and tries again).
     */
    boolean acquire(final int bytes, final long timeoutNs) throws InterruptedException
    {
        final long deadlineNs = System.nanoTime() + timeoutNs;
        synchronized (budgetLock)
        {
            while (availableBytes < bytes)
            {
                final long remainingNs = deadlineNs - System.nanoTime();
                if (remainingNs <= 0)
                {
                    return false;
                }
                budgetLock.wait(Math.max(1, remainingNs / 1_000_000), 0);
            }
            availableBytes -= bytes;
            return true;
        }
    }

    void release(final long bytes)
    {
        synchronized (budgetLock)
        {
            availableBytes += bytes;
            budgetLock.notifyAll();
        }
    }

    /** Hand a chunk to the streams. Budget was taken, so the queue has room. */
    void offer(final Chunk chunk)
    {
        while (!ready.offer(chunk))
        {
            Thread.onSpinWait();
        }
        final DataStream[] current = streamArray;
        for (int i = 0; i < current.length; i++)
        {
            if (current[i].wake())
            {
                break;
            }
        }
    }

    /** Have every stream return the budget of what its channel has written out (the reader is waiting for it). */
    void nudgeStreams()
    {
        final DataStream[] current = streamArray;
        for (int i = 0; i < current.length; i++)
        {
            current[i].nudge();
        }
    }

    /** Wake every idle stream, for example after one died. */
    void offerWakeAll()
    {
        for (final DataStream stream : streams)
        {
            stream.wake();
        }
    }

    Chunk poll()
    {
        return ready.poll();
    }

    boolean isEmpty()
    {
        return ready.isEmpty();
    }

    /** Release what is still queued (the transfer ended). */
    void drain()
    {
        Chunk chunk;
        while ((chunk = ready.poll()) != null)
        {
            chunk.release();
            release(chunk.chargeBytes);
        }
    }
}
