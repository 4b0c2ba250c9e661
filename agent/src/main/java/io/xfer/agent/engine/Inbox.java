package io.xfer.agent.engine;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.util.ReferenceCountUtil;
import io.xfer.protocol.ErrorCode;
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
    /** A frame and the connection it came from. */
    public record Inbound(FrameConnection source, ByteBuf frame)
    {
    }

    /** A connection closed; carries the cause when it failed. */
    public record Closed(FrameConnection source, Throwable cause)
    {
    }

    /**
     * Slots of the queue: its array is allocated whole with the transfer (4 bytes a slot), and an agent holds one
     * per running transfer. 2^18 slots were 1 MiB each, and 120 concurrent pushes ran the default 256 MiB heap out.
     * Reading pauses at a quarter of it, which a sender's window of unanswered entries (4,096) stays below; the rest
     * takes the frames of reads already under way when a connection is paused.
     */
    private static final int CAPACITY = 1 << 15;
    private static final int COUNT_HIGH_MARK = CAPACITY / 4;

    private final ManyToOneConcurrentArrayQueue<Object> queue = new ManyToOneConcurrentArrayQueue<>(CAPACITY);
    private final AtomicLong queuedBytes = new AtomicLong();
    private final Set<Channel> paused = ConcurrentHashMap.newKeySet();
    private final long highBytes;
    private volatile Thread consumer;
    private volatile boolean closed;

    public Inbox(final long highBytes)
    {
        this.highBytes = highBytes;
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
        if (!queue.offer(new Inbound(source, frame)))
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
     * @return an {@link Inbound} (whose frame the caller owns), a {@link Closed}, a posted message, or null when
     * nothing came within the timeout (0: do not wait).
     */
    public Object poll(final long timeoutNs) throws InterruptedException
    {
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
            queuedBytes.addAndGet(-inbound.frame().readableBytes());
            if (!paused.isEmpty() && belowLowMark())
            {
                for (final Channel channel : paused)
                {
                    // resumed on the channel's own event loop, in order with offer() pausing it
                    if (paused.remove(channel))
                    {
                        channel.eventLoop().execute(() -> channel.config().setAutoRead(true));
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
