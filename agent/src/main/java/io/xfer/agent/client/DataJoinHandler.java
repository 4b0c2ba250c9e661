package io.xfer.agent.client;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.xfer.agent.engine.FrameConnection;
import io.xfer.agent.engine.Inbox;
import io.xfer.agent.engine.TransferException;
import io.xfer.agent.net.AgentServer;
import io.xfer.protocol.ErrorCode;
import io.xfer.protocol.ErrorFlyweight;
import io.xfer.protocol.FrameDecoder;
import io.xfer.protocol.FrameType;
import io.xfer.protocol.HelloFlyweight;
import io.xfer.protocol.ProtocolVersion;
import io.xfer.protocol.WelcomeFlyweight;

import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * The "session" handler of a client data connection until it has joined: sends HELLO kind DATA with the session
 * id once TLS is up (at once on a plaintext connection), and on WELCOME replaces itself, on the event loop, with a {@link FrameConnection} feeding the
 * transfer's inbox, so that no frame can arrive between the join and the hand-over.
 */
final class DataJoinHandler extends ChannelInboundHandlerAdapter
{
    private final long sessionIdHigh;
    private final long sessionIdLow;
    private final long capabilities;
    private final boolean tls;
    private final Inbox inbox;
    private final Consumer<FrameConnection> attach;
    private final CompletableFuture<FrameConnection> joined = new CompletableFuture<>();

    /**
     * @param tls whether the connection has TLS: HELLO then waits for the TLS handshake, otherwise it goes as soon
     *            as the connection is up.
     */
    DataJoinHandler(final long sessionIdHigh, final long sessionIdLow, final long capabilities, final boolean tls,
        final Inbox inbox, final Consumer<FrameConnection> attach)
    {
        this.sessionIdHigh = sessionIdHigh;
        this.sessionIdLow = sessionIdLow;
        this.capabilities = capabilities;
        this.tls = tls;
        this.inbox = inbox;
        this.attach = attach;
    }

    CompletableFuture<FrameConnection> joined()
    {
        return joined;
    }

    @Override
    public void channelActive(final ChannelHandlerContext ctx)
    {
        if (!tls)
        {
            hello(ctx);
        }
        ctx.fireChannelActive();
    }

    private void hello(final ChannelHandlerContext ctx)
    {
        ctx.writeAndFlush(HelloFlyweight.encode(ctx.alloc(), HelloFlyweight.KIND_DATA, capabilities,
            sessionIdHigh, sessionIdLow, ProtocolVersion.MAX_FRAME_LENGTH, AgentServer.SOFTWARE));
    }

    @Override
    public void userEventTriggered(final ChannelHandlerContext ctx, final Object evt)
    {
        if (evt instanceof SslHandshakeCompletionEvent completion)
        {
            if (completion.isSuccess())
            {
                hello(ctx);
            }
            else
            {
                joined.completeExceptionally(TransferException.connectionLost("TLS handshake of a data connection " +
                    "failed: " + completion.cause().getMessage(), completion.cause()));
                ctx.close();
            }
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelRead(final ChannelHandlerContext ctx, final Object msg)
    {
        final ByteBuf frame = (ByteBuf)msg;
        try
        {
            final int type = FrameDecoder.type(frame);
            if (type == FrameType.WELCOME && joined.isDone())
            {
                // too late: the client gave up on this connection (connect timeout) and counts it as not joined
                ctx.close();
                return;
            }
            if (type == FrameType.WELCOME)
            {
                final WelcomeFlyweight welcome = new WelcomeFlyweight();
                welcome.wrap(frame, frame.readerIndex());
                ctx.pipeline().get(FrameDecoder.class).maxFrameLength(
                    Math.min(welcome.maxFrameLength(), ProtocolVersion.MAX_FRAME_LENGTH));
                final FrameConnection connection = new FrameConnection(ctx.channel(), inbox, false);
                ctx.pipeline().replace(this, "session", connection);
                attach.accept(connection);
                joined.complete(connection);
                return;
            }
            if (type == FrameType.ERROR)
            {
                final ErrorFlyweight error = new ErrorFlyweight();
                error.wrap(frame, frame.readerIndex());
                final ErrorCode code = ErrorCode.get(error.code());
                joined.completeExceptionally(new TransferException(code == null ? ErrorCode.INTERNAL : code,
                    "agent refused a data connection: " + error.message(), true, null));
            }
            else
            {
                joined.completeExceptionally(new TransferException(ErrorCode.UNEXPECTED_FRAME,
                    "expected WELCOME on a data connection, got " + FrameType.name(type)));
            }
            ctx.close();
        }
        finally
        {
            frame.release();
        }
    }

    @Override
    public void channelInactive(final ChannelHandlerContext ctx)
    {
        joined.completeExceptionally(TransferException.connectionLost("data connection closed before it joined",
            null));
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(final ChannelHandlerContext ctx, final Throwable cause)
    {
        joined.completeExceptionally(TransferException.connectionLost("data connection failed: " +
            cause.getMessage(), cause));
        ctx.close();
    }
}
