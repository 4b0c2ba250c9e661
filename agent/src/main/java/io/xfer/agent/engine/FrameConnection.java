package io.xfer.agent.engine;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.timeout.IdleStateEvent;
import io.xfer.protocol.ChunkAckFlyweight;
import io.xfer.protocol.ErrorCode;
import io.xfer.protocol.ErrorFlyweight;
import io.xfer.protocol.FrameDecoder;
import io.xfer.protocol.FrameType;
import io.xfer.protocol.PingFlyweight;
import io.xfer.protocol.ProtocolException;

import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The "session" handler of a connection that belongs to a running transfer (its control connection or one of its
 * data connections): queues frames in the transfer's {@link Inbox}, answers PING on the event loop, hands
 * CHUNK_ACK to the sending stream on the event loop, turns protocol violations into an ERROR frame and a close, and
 * tells the sending stream when the socket becomes writable again (backpressure from the socket).
 */
public final class FrameConnection extends ChannelInboundHandlerAdapter
{
    /** Receives this connection's CHUNK_ACK frames and its close, on its event loop. */
    public interface StreamListener
    {
        void onChunkAck(ChunkAckFlyweight ack);

        void onWritable();

        void onClosed();
    }

    /** Pending bytes of small frames that force a flush. */
    static final int FLUSH_THRESHOLD_BYTES = 64 * 1024;

    /** How long a connection failed by this side keeps draining input before it closes. */
    static final long LINGER_MS = 2000;

    private static final Logger LOG = Logger.getLogger(FrameConnection.class.getName());

    private final Channel channel;
    private final boolean control;
    private final PingFlyweight ping = new PingFlyweight();
    private final ErrorFlyweight error = new ErrorFlyweight();
    private final ChunkAckFlyweight chunkAck = new ChunkAckFlyweight();
    private volatile Inbox inbox;
    private volatile StreamListener streamListener;
    private volatile Throwable failure;
    private volatile boolean inactive;
    private volatile boolean closing;
    private long unflushedBytes;

    /**
     * @param inbox   where frames go; may be set later with {@link #inbox(Inbox)} (before the first frame).
     * @param control whether this is the transfer's control connection (its loss ends the transfer).
     */
    public FrameConnection(final Channel channel, final Inbox inbox, final boolean control)
    {
        this.channel = channel;
        this.inbox = inbox;
        this.control = control;
    }

    public Channel channel()
    {
        return channel;
    }

    public boolean isControl()
    {
        return control;
    }

    public Inbox inbox()
    {
        return inbox;
    }

    public void inbox(final Inbox inbox)
    {
        this.inbox = inbox;
    }

    public void streamListener(final StreamListener listener)
    {
        this.streamListener = listener;
        if (inactive)
        {
            channel.eventLoop().execute(listener::onClosed);
        }
    }

    @Override
    public void channelRead(final ChannelHandlerContext ctx, final Object msg)
    {
        final ByteBuf frame = (ByteBuf)msg;
        final int type = FrameDecoder.type(frame);
        if (type == FrameType.ERROR && failure == null)
        {
            // remembered so that the close reports the peer's reason (say NO_SPACE), not a lost connection
            error.wrap(frame, frame.readerIndex());
            if (error.fileId() == ErrorFlyweight.CONNECTION)
            {
                final ErrorCode code = ErrorCode.get(error.code());
                failure = new TransferException(code == null ? ErrorCode.INTERNAL : code, "peer: " + error.message(),
                    true, null);
            }
        }
        if (closing)
        {
            frame.release();
            return;
        }
        if (type == FrameType.PING)
        {
            ping.wrap(frame, frame.readerIndex());
            ctx.writeAndFlush(PingFlyweight.encode(ctx.alloc(), FrameType.PONG, ping.nonce(), ping.timestampNs()));
            frame.release();
            return;
        }
        final StreamListener listener = streamListener;
        if (type == FrameType.CHUNK_ACK && listener != null)
        {
            chunkAck.wrap(frame, frame.readerIndex());
            try
            {
                listener.onChunkAck(chunkAck);
            }
            finally
            {
                frame.release();
            }
            return;
        }
        inbox.offer(this, frame);
    }

    @Override
    public void channelWritabilityChanged(final ChannelHandlerContext ctx)
    {
        final StreamListener listener = streamListener;
        if (listener != null && channel.isWritable())
        {
            listener.onWritable();
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(final ChannelHandlerContext ctx)
    {
        inactive = true;
        final StreamListener listener = streamListener;
        if (listener != null)
        {
            listener.onClosed();
        }
        final Inbox current = inbox;
        if (current != null)
        {
            current.close(this, failure);
        }
    }

    @Override
    public void userEventTriggered(final ChannelHandlerContext ctx, final Object evt)
    {
        if (evt instanceof IdleStateEvent)
        {
            if (!channel.config().isAutoRead())
            {
                // this side stopped reading (its inbox is full while its role thread is busy): the peer is not
                // the idle one. The timer fires again one timeout later, and reading resumes once the inbox drains
                return;
            }
            failure = new TransferException(ErrorCode.TIMEOUT, "connection idle for too long");
            sendErrorAndClose(ErrorCode.TIMEOUT, "connection idle for too long");
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(final ChannelHandlerContext ctx, final Throwable cause)
    {
        if (failure == null)
        {
            failure = cause;
        }
        if (cause instanceof ProtocolException pe)
        {
            LOG.warning(() -> "protocol violation from " + channel.remoteAddress() + ": " + pe.getMessage());
            sendErrorAndClose(pe.errorCode(), pe.getMessage());
        }
        else
        {
            LOG.log(Level.FINE, "connection " + channel.remoteAddress() + " failed", cause);
            ctx.close();
        }
    }

    /** @return the failure that closed the connection, if any. */
    public Throwable failure()
    {
        return failure;
    }

    public boolean isActive()
    {
        return !inactive && channel.isActive();
    }

    /**
     * Write a frame without flushing; a flush follows when enough is pending or the role is about to wait
     * ({@link #flush()}), so a burst of small frames shares TLS records and system calls. One thread at a time.
     */
    public void send(final ByteBuf frame)
    {
        unflushedBytes += frame.readableBytes();
        // a failed write fires exceptionCaught, which closes the connection; a void promise costs no object
        channel.write(frame, channel.voidPromise());
        if (unflushedBytes >= FLUSH_THRESHOLD_BYTES)
        {
            flush();
        }
    }

    /** Flush what {@link #send(ByteBuf)} left pending, if anything. */
    public void flush()
    {
        if (unflushedBytes > 0)
        {
            unflushedBytes = 0;
            channel.flush();
        }
    }

    /**
     * Close once everything written so far is flushed.
     */
    public void closeAfterFlush()
    {
        unflushedBytes = 0;
        channel.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }

    /**
     * Send an ERROR frame for the whole connection, then close. The close lingers: inbound data is discarded for up
     * to {@link #LINGER_MS} or until the peer closes, because closing a socket with unread input makes the kernel
     * send a reset that can destroy the ERROR frame before the peer reads it.
     */
    public void sendErrorAndClose(final ErrorCode code, final String message)
    {
        if (!channel.isActive() || closing)
        {
            return;
        }
        closing = true;
        channel.config().setAutoRead(true);
        channel.writeAndFlush(ErrorFlyweight.encode(channel.alloc(), code, ErrorFlyweight.CONNECTION, message))
            .addListener(future -> channel.eventLoop().schedule(() -> channel.close(), LINGER_MS,
                TimeUnit.MILLISECONDS));
    }

    /**
     * PING the peer every {@code intervalNs} while the connection is open, so that a side busy with long disk work
     * (checking a resumed prefix, reading a file back for its SHA-256) never looks idle to the other: the PONG
     * wakes the waiting role and both idle timers see traffic.
     */
    public void startKeepalive(final long intervalNs)
    {
        final io.netty.util.concurrent.ScheduledFuture<?> keepalive = channel.eventLoop().scheduleAtFixedRate(() ->
        {
            if (channel.isActive() && !closing)
            {
                channel.writeAndFlush(PingFlyweight.encode(channel.alloc(), FrameType.PING, 0, System.nanoTime()));
            }
        }, intervalNs, intervalNs, TimeUnit.NANOSECONDS);
        channel.closeFuture().addListener(f -> keepalive.cancel(false));
    }

    /** Release whatever is still queued in the inbox; later frames are released on arrival. */
    public void dispose()
    {
        final Inbox current = inbox;
        if (current != null)
        {
            current.drain();
        }
    }
}
