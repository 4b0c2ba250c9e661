package io.xfer.agent.net;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.ssl.OptionalSslHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.xfer.agent.config.AgentConfig;
import io.xfer.agent.tls.TlsContexts;
import io.xfer.agent.tls.TlsRecordLayer;
import io.xfer.protocol.FrameDecoder;
import io.xfer.protocol.ProtocolVersion;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;

/**
 * The agent's listener: one port, TLS on every connection (but plaintext data connections, where allowed), a
 * pipeline of {@code tls -> idle -> frameDecoder -> session}, and a bound on concurrent connections. A connection that misbehaves is closed alone; the listener keeps
 * serving everyone else.
 */
public final class AgentServer implements AutoCloseable
{
    /**
     * The message of the ERROR (UNKNOWN_SESSION) that refuses a data connection whose session's transfer has ended:
     * routine for a short transfer whose data connections were still joining, logged at FINE on both sides.
     */
    public static final String TRANSFER_ENDED = "the transfer of that session has ended";
    public static final String SOFTWARE = "xfer/" + Version.VERSION;

    private static final Logger LOG = Logger.getLogger(AgentServer.class.getName());

    private final AgentConfig config;
    private final Transports transports;
    private final SslContext sslContext;
    private final TransferDispatcher dispatcher;
    private final AtomicInteger connections = new AtomicInteger();
    private EventLoopGroup bossGroup;
    private EventLoopGroup workerGroup;
    private Channel serverChannel;

    /**
     * @param config a concluded configuration.
     */
    public AgentServer(final AgentConfig config) throws IOException
    {
        this.config = config;
        this.transports = Transports.select(config.transport());
        this.sslContext = TlsContexts.server(config.certificate(), config.privateKey(), config.ca(),
            config.clientAuth() == AgentConfig.ClientAuth.REQUIRED);
        this.dispatcher = new TransferDispatcher(config);
    }

    /**
     * Bind and start serving.
     *
     * @return the address bound (the port is real even when the configuration said 0).
     */
    public InetSocketAddress start() throws InterruptedException
    {
        bossGroup = transports.newGroup(1, new DefaultThreadFactory("xfer-accept", true));
        workerGroup = transports.newGroup(config.ioThreads(), new DefaultThreadFactory("xfer-io", true));
        final ServerBootstrap bootstrap = new ServerBootstrap()
            .group(bossGroup, workerGroup)
            .channel(transports.serverChannel())
            .option(ChannelOption.SO_BACKLOG, 1024)
            .childOption(ChannelOption.TCP_NODELAY, true)
            .childOption(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
            .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK,
                new WriteBufferWaterMark(config.writeBufferHighBytes() / 2, config.writeBufferHighBytes()))
            .childHandler(new Initializer());
        serverChannel = bootstrap.bind(config.listenAddress()).sync().channel();
        final InetSocketAddress bound = (InetSocketAddress)serverChannel.localAddress();
        LOG.info(() -> SOFTWARE + " listening on " + bound + ", transport " + transports.description() +
            ", TLS " + TlsContexts.describeProvider() + ", TLSv1.3, client certificates " +
            config.clientAuth().name().toLowerCase(java.util.Locale.ROOT));
        config.modules().values().forEach(module -> LOG.info(() -> "module " + module.name() + " -> " +
            module.root() + " read=" + module.readers() + " write=" + module.writers()));
        return bound;
    }

    public Channel serverChannel()
    {
        return serverChannel;
    }

    /** Wait until the listener closes. */
    public void awaitClose() throws InterruptedException
    {
        serverChannel.closeFuture().sync();
    }

    @Override
    public void close()
    {
        if (serverChannel != null)
        {
            serverChannel.close().syncUninterruptibly();
        }
        dispatcher.close();
        if (workerGroup != null)
        {
            workerGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
        if (bossGroup != null)
        {
            bossGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    private final class Initializer extends ChannelInitializer<SocketChannel>
    {
        @Override
        protected void initChannel(final SocketChannel channel)
        {
            if (connections.incrementAndGet() > config.maxConnections())
            {
                connections.decrementAndGet();
                LOG.warning(() -> "refused " + channel.remoteAddress() + ": max_connections " +
                    config.maxConnections() + " reached");
                channel.close();
                return;
            }
            channel.closeFuture().addListener(f -> connections.decrementAndGet());
            SocketBuffers.apply(channel, config.socketBufferBytes());
            // with plaintext data allowed, a connection whose first bytes are not a TLS record goes on without TLS;
            // the session handler then lets it do nothing but join a plaintext session's data connections
            channel.pipeline()
                .addLast("tls", config.plaintextData() ? new TlsOrPlaintext(sslContext) :
                    TlsContexts.tune(sslContext.newHandler(channel.alloc())))
                .addLast(TlsRecordLayer.NAME, new TlsRecordLayer())
                .addLast("idle", new IdleStateHandler(config.idleTimeoutNs(), 0, 0, TimeUnit.NANOSECONDS))
                .addLast("frameDecoder", new FrameDecoder(ProtocolVersion.HANDSHAKE_FRAME_LENGTH))
                .addLast("session", new ServerHandshakeHandler(config, dispatcher))
                .addLast("tail", new TailHandler());
        }
    }

    /** Set on a connection that goes without TLS (plaintext data allowed, and its first bytes were no TLS record). */
    static final AttributeKey<Boolean> PLAINTEXT = AttributeKey.valueOf("xfer.plaintext");

    /** Installs TLS when the connection starts with a TLS record, and otherwise marks it plaintext and steps aside. */
    private static final class TlsOrPlaintext extends OptionalSslHandler
    {
        TlsOrPlaintext(final SslContext sslContext)
        {
            super(sslContext);
        }

        @Override
        protected String newSslHandlerName()
        {
            return "tls";
        }

        @Override
        protected SslHandler newSslHandler(final ChannelHandlerContext context, final SslContext sslContext)
        {
            return TlsContexts.tune(super.newSslHandler(context, sslContext));
        }

        @Override
        protected ChannelHandler newNonSslHandler(final ChannelHandlerContext context)
        {
            context.channel().attr(PLAINTEXT).set(Boolean.TRUE);
            context.pipeline().remove(TlsRecordLayer.NAME);
            return null;
        }
    }

    /** Swallows what reaches the end of the pipeline so nothing is logged as unhandled. */
    private static final class TailHandler extends ChannelInboundHandlerAdapter
    {
        @Override
        public void exceptionCaught(final ChannelHandlerContext ctx, final Throwable cause)
        {
            ctx.close();
        }
    }
}
