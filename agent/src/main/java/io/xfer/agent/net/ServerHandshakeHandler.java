package io.xfer.agent.net;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.concurrent.ScheduledFuture;
import io.xfer.agent.config.AgentConfig;
import io.xfer.agent.config.ModuleConfig;
import io.xfer.agent.engine.Compression;
import io.xfer.agent.engine.TransferException;
import io.xfer.agent.storage.ModuleRoot;
import io.xfer.agent.tls.CertificateIdentity;
import io.xfer.protocol.Capabilities;
import io.xfer.protocol.DataFlyweight;
import io.xfer.protocol.ErrorCode;
import io.xfer.protocol.ErrorFlyweight;
import io.xfer.protocol.FrameDecoder;
import io.xfer.protocol.FrameType;
import io.xfer.protocol.HelloFlyweight;
import io.xfer.protocol.OpenFlyweight;
import io.xfer.protocol.PingFlyweight;
import io.xfer.protocol.ProtocolException;
import io.xfer.protocol.ProtocolVersion;
import io.xfer.protocol.WelcomeFlyweight;

import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLPeerUnverifiedException;

/**
 * The "session" handler of a new agent connection, on the event loop: learns the client's identity from its
 * certificate, answers HELLO with WELCOME, answers PING, and checks OPEN against the module's rights and paths.
 * An accepted OPEN hands the connection to {@link TransferDispatcher}, which replaces this handler. Everything
 * else before OPEN is a protocol error: an ERROR frame and a close, for this connection only.
 */
final class ServerHandshakeHandler extends ChannelInboundHandlerAdapter
{
    private static final Logger LOG = Logger.getLogger(ServerHandshakeHandler.class.getName());
    private static final SecureRandom RANDOM = new SecureRandom();

    private final AgentConfig config;
    private final TransferDispatcher dispatcher;
    private final HelloFlyweight hello = new HelloFlyweight();
    private final OpenFlyweight open = new OpenFlyweight();
    private final PingFlyweight ping = new PingFlyweight();
    private List<String> identities = List.of();
    private boolean welcomed;
    private long sessionIdHigh;
    private long sessionIdLow;
    private long capabilities;

    /** What this agent implements of the capabilities a client may ask for (plaintext data only when allowed). */
    static final long SUPPORTED_CAPABILITIES = Capabilities.LZ4 | Capabilities.PARALLEL_STREAMS | Capabilities.SHA256 |
        Capabilities.INLINE_DATA;
    private ScheduledFuture<?> handshakeTimeout;

    ServerHandshakeHandler(final AgentConfig config, final TransferDispatcher dispatcher)
    {
        this.config = config;
        this.dispatcher = dispatcher;
    }

    @Override
    public void channelActive(final ChannelHandlerContext ctx)
    {
        handshakeTimeout = ctx.executor().schedule(() ->
        {
            LOG.warning(() -> "handshake with " + ctx.channel().remoteAddress() + " timed out");
            sendErrorAndClose(ctx, ErrorCode.TIMEOUT, "no OPEN within the handshake timeout");
        }, config.handshakeTimeoutNs(), TimeUnit.NANOSECONDS);
        ctx.fireChannelActive();
    }

    @Override
    public void channelInactive(final ChannelHandlerContext ctx)
    {
        cancelTimeout();
        ctx.fireChannelInactive();
    }

    @Override
    public void userEventTriggered(final ChannelHandlerContext ctx, final Object evt)
    {
        if (evt instanceof SslHandshakeCompletionEvent completion)
        {
            if (!completion.isSuccess())
            {
                // a peer that went away in the middle (a client abandoning a data connection its transfer no longer
                // needs, a port probe) is routine; a refused certificate or a TLS alert is not
                final boolean peerLeft = completion.cause() instanceof ClosedChannelException;
                LOG.log(peerLeft ? Level.FINE : Level.WARNING, () -> "TLS handshake with " +
                    ctx.channel().remoteAddress() + (peerLeft ? " ended: the peer closed the connection" :
                    " failed: " + handshakeFailure(completion.cause())));
                handshakeFailed = true;
                ctx.close();
                return;
            }
            tlsUp = true;
            identities = peerIdentities(ctx);
        }
        else if (evt instanceof IdleStateEvent)
        {
            sendErrorAndClose(ctx, ErrorCode.TIMEOUT, "connection idle for too long");
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    /** The TLS handshake completed successfully (never set on a connection without TLS). */
    private boolean tlsUp;
    /** The TLS handshake failed, which was logged with its reason. */
    private boolean handshakeFailed;

    /**
     * @return why a handshake failed, in words an operator can act on: where this side refused the client's
     * certificate, the engine says "General OpenSslEngine problem" and the reason (a chain to no configured CA, an
     * expired certificate) is a {@link CertificateException} further down.
     */
    static String handshakeFailure(final Throwable cause)
    {
        for (Throwable t = cause; t != null && t.getCause() != t; t = t.getCause())
        {
            if (t instanceof CertificateException)
            {
                return "the client certificate was refused: " + t.getMessage();
            }
            final String message = String.valueOf(t.getMessage());
            if (message.contains("PEER_DID_NOT_RETURN_A_CERTIFICATE") ||
                message.contains("Empty client certificate chain"))
            {
                return "the client sent no certificate (it has none from a CA this agent trusts): " + message;
            }
        }
        return cause.getMessage();
    }

    private List<String> peerIdentities(final ChannelHandlerContext ctx)
    {
        final SslHandler ssl = ctx.pipeline().get(SslHandler.class);
        try
        {
            final Certificate[] chain = ssl.engine().getSession().getPeerCertificates();
            if (chain.length > 0 && chain[0] instanceof X509Certificate leaf)
            {
                return CertificateIdentity.identities(leaf);
            }
        }
        catch (final SSLPeerUnverifiedException ex)
        {
            // no client certificate: only possible with client_auth = optional
        }
        return List.of(AgentConfig.ANONYMOUS);
    }

    @Override
    public void channelRead(final ChannelHandlerContext ctx, final Object msg)
    {
        final ByteBuf frame = (ByteBuf)msg;
        try
        {
            final int type = FrameDecoder.type(frame);
            if (!welcomed && type != FrameType.HELLO)
            {
                throw new TransferException(ErrorCode.UNEXPECTED_FRAME, "expected HELLO, got " +
                    FrameType.name(type));
            }
            switch (type)
            {
                case FrameType.HELLO:
                    hello.wrap(frame, frame.readerIndex());
                    onHello(ctx);
                    break;
                case FrameType.PING:
                    ping.wrap(frame, frame.readerIndex());
                    ctx.writeAndFlush(PingFlyweight.encode(ctx.alloc(), FrameType.PONG, ping.nonce(),
                        ping.timestampNs()));
                    break;
                case FrameType.OPEN:
                    open.wrap(frame, frame.readerIndex());
                    onOpen(ctx);
                    break;
                default:
                    throw new TransferException(ErrorCode.UNEXPECTED_FRAME, FrameType.name(type) + " before OPEN");
            }
        }
        catch (final TransferException ex)
        {
            // a data connection that came after its (short) transfer ended is routine
            final boolean late = ex.errorCode() == ErrorCode.UNKNOWN_SESSION &&
                AgentServer.TRANSFER_ENDED.equals(ex.getMessage());
            LOG.log(late ? Level.FINE : Level.WARNING,
                () -> "refused " + describePeer(ctx) + ": " + ex.getMessage());
            sendErrorAndClose(ctx, ex.errorCode(), ex.getMessage());
        }
        finally
        {
            frame.release();
        }
    }

    private void onHello(final ChannelHandlerContext ctx)
    {
        if (welcomed)
        {
            throw new TransferException(ErrorCode.UNEXPECTED_FRAME, "second HELLO");
        }
        final int version = ProtocolVersion.negotiate(hello.minVersion(), hello.maxVersion());
        if (version < 0)
        {
            throw new TransferException(ErrorCode.UNSUPPORTED_VERSION, "client speaks versions " +
                hello.minVersion() + "-" + hello.maxVersion() + ", this agent " + ProtocolVersion.MIN_SUPPORTED +
                "-" + ProtocolVersion.MAX_SUPPORTED);
        }
        final int maxFrameLength = Math.min(ProtocolVersion.MAX_FRAME_LENGTH,
            Math.max(ProtocolVersion.HANDSHAKE_FRAME_LENGTH, hello.maxFrameLength()));
        capabilities = hello.capabilities() & (SUPPORTED_CAPABILITIES |
            (config.plaintextData() ? Capabilities.PLAINTEXT_DATA : 0));
        if (!Capabilities.has(capabilities, Capabilities.PARALLEL_STREAMS))
        {
            // plaintext applies to data connections only: without them there is nothing to grant
            capabilities &= ~Capabilities.PLAINTEXT_DATA;
        }
        final boolean plaintext = Boolean.TRUE.equals(ctx.channel().attr(AgentServer.PLAINTEXT).get());
        if (plaintext && hello.connectionKind() != HelloFlyweight.KIND_DATA)
        {
            throw new TransferException(ErrorCode.ACCESS_DENIED,
                "a connection without TLS may only join a running transfer's data connections");
        }
        if (hello.connectionKind() == HelloFlyweight.KIND_DATA)
        {
            final TransferDispatcher.SessionKey key =
                new TransferDispatcher.SessionKey(hello.sessionIdHigh(), hello.sessionIdLow());
            final Object reservation = dispatcher.reserve(key, identityName(), plaintext);
            ctx.pipeline().get(FrameDecoder.class).maxFrameLength(maxFrameLength);
            // WELCOME before attaching: once attached, the transfer may send DATA on this connection
            ctx.writeAndFlush(WelcomeFlyweight.encode(ctx.alloc(), version, capabilities, key.high(), key.low(),
                maxFrameLength, AgentServer.SOFTWARE));
            cancelTimeout();
            dispatcher.attach(ctx, reservation);
            return;
        }
        sessionIdHigh = RANDOM.nextLong();
        sessionIdLow = RANDOM.nextLong();
        welcomed = true;
        ctx.pipeline().get(FrameDecoder.class).maxFrameLength(maxFrameLength);
        ctx.writeAndFlush(WelcomeFlyweight.encode(ctx.alloc(), version, capabilities, sessionIdHigh, sessionIdLow,
            maxFrameLength, AgentServer.SOFTWARE));
    }

    private void onOpen(final ChannelHandlerContext ctx)
    {
        final String moduleName = open.module();
        final ModuleConfig module = config.module(moduleName);
        if (module == null)
        {
            throw new TransferException(ErrorCode.NO_SUCH_MODULE, "no module named '" + moduleName + "'");
        }
        final boolean push = open.direction() == OpenFlyweight.DIRECTION_PUSH;
        if (push ? !module.mayWrite(identities) : !module.mayRead(identities))
        {
            throw new TransferException(ErrorCode.ACCESS_DENIED, "denied: " + identityName() + " may not " +
                (push ? "write to" : "read from") + " module '" + moduleName + "'");
        }
        final String path = ModuleRoot.checkRelativePath(open.path());
        final int chunkLength = grantChunkLength(ctx, open.chunkLength());
        final long options = open.options();
        final int streams = Capabilities.has(capabilities, Capabilities.PARALLEL_STREAMS) ?
            Math.min(open.streams(), config.maxStreams()) : 1;
        final Compression compression = (options & OpenFlyweight.OPTION_COMPRESS_ALWAYS) != 0 ? Compression.LZ4 :
            (options & OpenFlyweight.OPTION_COMPRESS_AUTO) != 0 ? Compression.AUTO : Compression.NONE;
        final TransferDispatcher.Request request = new TransferDispatcher.Request(
            push, module, path, (options & OpenFlyweight.OPTION_OVERWRITE) != 0,
            (options & OpenFlyweight.OPTION_CONTENTS) != 0 || path.isEmpty(), chunkLength, streams, compression,
            Capabilities.has(capabilities, Capabilities.LZ4), identityName(), RANDOM.nextLong() & Long.MAX_VALUE,
            open.resumeKey(), (options & OpenFlyweight.OPTION_RESTART) != 0,
            Capabilities.has(capabilities, Capabilities.SHA256),
            (options & OpenFlyweight.OPTION_DIGEST_SHA256) != 0 && Capabilities.has(capabilities, Capabilities.SHA256),
            (options & OpenFlyweight.OPTION_ATOMIC) != 0,
            Capabilities.has(capabilities, Capabilities.PLAINTEXT_DATA),
            Capabilities.has(capabilities, Capabilities.INLINE_DATA));
        cancelTimeout();
        dispatcher.start(ctx, request, new TransferDispatcher.SessionKey(sessionIdHigh, sessionIdLow));
    }

    private int grantChunkLength(final ChannelHandlerContext ctx, final int requested)
    {
        final int frameLimit = ctx.pipeline().get(FrameDecoder.class).maxFrameLength() -
            DataFlyweight.HEADER_LENGTH;
        int granted = requested <= 0 ? config.chunkLength() : Math.min(requested, config.chunkLength());
        granted = Math.max((int)AgentConfig.CHUNK_LENGTH_MIN, Math.min(granted, frameLimit));
        return granted;
    }

    private String identityName()
    {
        return identities.isEmpty() ? AgentConfig.ANONYMOUS : identities.get(0);
    }

    private String describePeer(final ChannelHandlerContext ctx)
    {
        return identityName() + " at " + ctx.channel().remoteAddress();
    }

    @Override
    public void exceptionCaught(final ChannelHandlerContext ctx, final Throwable cause)
    {
        if (cause instanceof ProtocolException pe)
        {
            LOG.warning(() -> "protocol violation from " + describePeer(ctx) + ": " + pe.getMessage());
            sendErrorAndClose(ctx, pe.errorCode(), pe.getMessage());
            return;
        }
        // reset or closed by the peer before its TLS handshake completed: routine (see userEventTriggered); a
        // failed handshake was logged with its reason there
        final boolean peerLeft = !tlsUp && ctx.pipeline().get(SslHandler.class) != null &&
            cause instanceof IOException && !(cause instanceof SSLException);
        LOG.log(peerLeft || handshakeFailed ? Level.FINE : Level.WARNING, () -> "connection " +
            ctx.channel().remoteAddress() + " failed: " + cause);
        ctx.close();
    }

    private void sendErrorAndClose(final ChannelHandlerContext ctx, final ErrorCode code, final String message)
    {
        cancelTimeout();
        if (ctx.channel().isActive())
        {
            ctx.writeAndFlush(ErrorFlyweight.encode(ctx.alloc(), code, ErrorFlyweight.CONNECTION, message))
                .addListener(ChannelFutureListener.CLOSE);
        }
    }

    private void cancelTimeout()
    {
        if (handshakeTimeout != null)
        {
            handshakeTimeout.cancel(false);
            handshakeTimeout = null;
        }
    }
}
