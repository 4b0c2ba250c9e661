package io.xfer.agent.engine;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.util.ReferenceCountUtil;
import io.xfer.protocol.ErrorCode;
import io.xfer.protocol.FrameDecoder;
import org.agrona.concurrent.ManyToManyConcurrentArrayQueue;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Hands frames from the event loops of a transfer's connections to the one thread that runs its role, so event
 * loops never touch the disk. An Agrona many-to-one queue of references: payload stays in the pooled direct buffers
 * the frames arrived in, nothing is copied. Bounded in bytes: above the high mark the connection that offered stops
 * reading (TCP backpressure reaches the peer); below half of it every paused connection reads again.
 */
public final class Inbox
{
    /**
     * A frame and the connection it came from. Valid until the consumer's next {@link #poll}, which recycles it: one
     * object per frame received was a tenth of what a receiving agent allocated per GiB.
     */
    public static final class Inbound
    {
        private FrameConnection source;
        private ByteBuf frame;

        public FrameConnection source()
        {
            return source;
        }

        public ByteBuf frame()
        {
            return frame;
        }
    }

    /** A connection closed; carries the cause when it failed. */
    public record Closed(FrameConnection source, Throwable cause)
    {
    }

    /** Queued frames above which reading pauses on the connection that offered. */
    static final int COUNT_HIGH_MARK = 1 << 13;
    /** Slots only the role's own posts may take (commit results, lost chunks, closes), so that they never wait. */
    static final int POST_RESERVE = 1 << 10;
    /** The most one socket read takes in, on either side (the client's reads; the agent's stop at 64 KiB). */
    public static final int MAX_READ_BYTES = 256 << 10;
    /**
     * The most frames one connection can still offer after it is paused: the rest of the read under way (plaintext
     * connections), or of the frame decoder's pass under way (TLS: at most {@link FrameDecoder#MAX_SPILL} bytes of
     * frames past a large one, the same as a read), up to {@link #MAX_READ_BYTES} of DATA frames whose chunk (4 KiB
     * at the least) compressed to almost nothing. A peer that sends smaller frames than that in bulk may fill the
     * queue, and is failed.
     */
    static final int FRAMES_PER_READ = Math.max(MAX_READ_BYTES, FrameDecoder.MAX_SPILL) /
        (io.xfer.protocol.DataFlyweight.HEADER_LENGTH + 16);

    /** Holders the consumer is done with, taken again by the event loops' offers. */
    static final int RECYCLED = 64;

    private final ManyToOneConcurrentArrayQueue<Object> queue;
    private final ManyToManyConcurrentArrayQueue<Inbound> recycled = new ManyToManyConcurrentArrayQueue<>(RECYCLED);
    /** The holder the consumer's last poll returned, recycled at its next poll. */
    private Inbound lastPolled;
    private final int offerLimit;
    private final AtomicLong queuedBytes = new AtomicLong();
    private final Set<Channel> paused = ConcurrentHashMap.newKeySet();
    private final long highBytes;
    private volatile Thread consumer;
    private volatile boolean closed;

    /**
     * @param highBytes   queued bytes above which reading pauses
     * @param connections how many connections can feed it (the control connection and the data connections): the
     *                    queue's array, allocated whole with the transfer at 4 bytes a slot, is sized for the pause
     *                    mark, one more read from each connection and the reserve for posts: 128 KiB for one
     *                    stream, 256 KiB for four. 2^18 slots for every transfer were 1 MiB each, and 120
     *                    concurrent pushes ran an agent's default 256 MiB heap out.
     */
    public Inbox(final long highBytes, final int connections)
    {
        this.highBytes = highBytes;
        final long needed = COUNT_HIGH_MARK + (long)Math.max(1, connections) * FRAMES_PER_READ + POST_RESERVE;
        final int capacity = (int)Math.min(1 << 24, Long.highestOneBit(needed - 1) << 1);
        this.queue = new ManyToOneConcurrentArrayQueue<>(capacity);
        this.offerLimit = capacity - POST_RESERVE;
    }

    /** @return the queue's slots. */
    int capacity()
    {
        return queue.capacity();
    }

    /** @return what the queue holds now. */
    int size()
    {
        return queue.size();
    }

    /** Called on an event loop. Takes ownership of the frame. */
    public void offer(final FrameConnection source, final ByteBuf frame)
    {
        if (closed)
        {
            frame.release();
            return;
        }
        final long queued = queuedBytes.addAndGet(frame.readableBytes());
        Inbound inbound = recycled.poll();
        if (inbound == null)
        {
            inbound = new Inbound();
        }
        inbound.source = source;
        inbound.frame = frame;
        if (queue.size() >= offerLimit || !queue.offer(inbound))
        {
            queuedBytes.addAndGet(-frame.readableBytes());
            frame.release();
            source.sendErrorAndClose(ErrorCode.LIMIT_EXCEEDED, "receiver queue overflow");
            return;
        }
        if (closed)
        {
            // the consumer finished between the check above and the offer: nobody else will release it
            drain();
            return;
        }
        final Channel channel = source.channel();
        if ((queued > highBytes || queue.size() > COUNT_HIGH_MARK) && paused.add(channel))
        {
            channel.config().setAutoRead(false);
            // the consumer may have drained everything meanwhile without seeing this channel paused
            if (belowLowMark())
            {
                paused.remove(channel);
                channel.config().setAutoRead(true);
            }
        }
        wake();
    }

    /** Post a message of the role's own (from any thread). */
    public void post(final Object message)
    {
        while (!queue.offer(message))
        {
            Thread.onSpinWait();
        }
        wake();
    }

    public void close(final FrameConnection source, final Throwable cause)
    {
        post(new Closed(source, cause));
    }

    private void wake()
    {
        final Thread waiting = consumer;
        if (waiting != null)
        {
            LockSupport.unpark(waiting);
        }
    }

    /**
     * Consumer thread only.
     *
     * @return an {@link Inbound} (whose frame the caller owns; the holder itself is valid until the next call), a
     * {@link Closed}, a posted message, or null when nothing came within the timeout (0: do not wait).
     */
    public Object poll(final long timeoutNs) throws InterruptedException
    {
        final Inbound done = lastPolled;
        if (done != null)
        {
            lastPolled = null;
            done.source = null;
            done.frame = null;
            recycled.offer(done);
        }
        Object message = queue.poll();
        if (message == null && timeoutNs > 0)
        {
            final long deadlineNs = System.nanoTime() + timeoutNs;
            consumer = Thread.currentThread();
            try
            {
                while ((message = queue.poll()) == null)
                {
                    final long remainingNs = deadlineNs - System.nanoTime();
                    if (remainingNs <= 0)
                    {
                        return null;
                    }
                    LockSupport.parkNanos(this, remainingNs);
                    if (Thread.interrupted())
                    {
                        throw new InterruptedException();
                    }
                }
            }
            finally
            {
                consumer = null;
            }
        }
        if (message instanceof Inbound inbound)
        {
            lastPolled = inbound;
            queuedBytes.addAndGet(-inbound.frame().readableBytes());
            if (!paused.isEmpty() && belowLowMark())
            {
                for (final Channel channel : paused)
                {
                    // resumed on the channel's own event loop, in order with offer() pausing it: unless an offer
                    // there paused it again meanwhile, which a late resume would undo while it stays listed here
                    // (and so could not be paused again until the next resume)
                    if (paused.remove(channel))
                    {
                        channel.eventLoop().execute(() ->
                        {
                            if (!paused.contains(channel))
                            {
                                channel.config().setAutoRead(true);
                            }
                        });
                    }
                }
            }
        }
        return message;
    }

    private boolean belowLowMark()
    {
        return queuedBytes.get() < highBytes / 2 && queue.size() < COUNT_HIGH_MARK / 2;
    }

    /** Release every frame still queued; later offers are released at once. */
    public synchronized void drain()
    {
        closed = true;
        Object message;
        while ((message = queue.poll()) != null)
        {
            if (message instanceof Inbound inbound)
            {
                ReferenceCountUtil.release(inbound.frame());
            }
        }
    }
}
