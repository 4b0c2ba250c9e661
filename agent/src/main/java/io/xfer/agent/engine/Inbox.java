package io.xfer.agent.engine;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.util.ReferenceCountUtil;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Hands frames from a connection's event loop to the thread of the transfer role that consumes them, so the event
 * loop never touches the disk. Bounded in bytes: above the high mark the channel stops reading (TCP backpressure
 * reaches the peer), below half of it reading resumes.
 */
public final class Inbox
{
    /** Delivered once after the connection closed; carries the cause when it failed. */
    public record Closed(Throwable cause)
    {
    }

    private final LinkedBlockingQueue<Object> queue = new LinkedBlockingQueue<>();
    private final AtomicLong queuedBytes = new AtomicLong();
    private final long highBytes;
    private final Channel channel;
    private volatile boolean readingPaused;
    private volatile boolean closed;

    public Inbox(final Channel channel, final long highBytes)
    {
        this.channel = channel;
        this.highBytes = highBytes;
    }

    /** Called on the event loop. Takes ownership of the frame. */
    public void offer(final ByteBuf frame)
    {
        if (closed)
        {
            frame.release();
            return;
        }
        final long queued = queuedBytes.addAndGet(frame.readableBytes());
        queue.add(frame);
        if (queued > highBytes && !readingPaused)
        {
            readingPaused = true;
            channel.config().setAutoRead(false);
        }
    }

    public void close(final Throwable cause)
    {
        queue.add(new Closed(cause));
    }

    /**
     * @return a frame (owned by the caller), a {@link Closed}, or null when nothing came within the timeout.
     */
    public Object poll(final long timeoutNs) throws InterruptedException
    {
        final Object message = timeoutNs <= 0 ? queue.poll() : queue.poll(timeoutNs, TimeUnit.NANOSECONDS);
        if (message instanceof ByteBuf frame)
        {
            final long queued = queuedBytes.addAndGet(-frame.readableBytes());
            if (readingPaused && queued < highBytes / 2)
            {
                readingPaused = false;
                channel.config().setAutoRead(true);
            }
        }
        else if (message instanceof Closed)
        {
            closed = true;
        }
        return message;
    }

    /** Release every frame still queued. */
    public void drain()
    {
        closed = true;
        Object message;
        while ((message = queue.poll()) != null)
        {
            ReferenceCountUtil.release(message);
        }
    }
}
