package io.xfer.agent.client;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.FastThreadLocalThread;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.Future;
import io.xfer.agent.config.AgentConfig;
import io.xfer.agent.engine.Checkpoints;
import io.xfer.agent.engine.CommitPool;
import io.xfer.agent.engine.Compression;
import io.xfer.agent.engine.FrameConnection;
import io.xfer.agent.engine.Inbox;
import io.xfer.agent.engine.LatencyRecorder;
import io.xfer.agent.engine.LinkSizing;
import io.xfer.agent.engine.Receiver;
import io.xfer.agent.engine.Sender;
import io.xfer.agent.engine.TransferEvent;
import io.xfer.agent.engine.TransferException;
import io.xfer.agent.engine.TransferListener;
import io.xfer.agent.engine.TransferReport;
import io.xfer.agent.engine.TransferStats;
import io.xfer.agent.net.AgentServer;
import io.xfer.agent.net.SocketBuffers;
import io.xfer.agent.net.Transports;
import io.xfer.agent.storage.CheckpointJournal;
import io.xfer.agent.storage.ModuleRoot;
import io.xfer.agent.storage.SourceWalker;
import io.xfer.agent.storage.StorageErrors;
import io.xfer.agent.tls.TlsContexts;
import io.xfer.agent.tls.TlsRecordLayer;
import io.xfer.protocol.Capabilities;
import io.xfer.protocol.ErrorCode;
import io.xfer.protocol.ErrorFlyweight;
import io.xfer.protocol.FrameDecoder;
import io.xfer.protocol.FrameType;
import io.xfer.protocol.HelloFlyweight;
import io.xfer.protocol.OpenAckFlyweight;
import io.xfer.protocol.OpenFlyweight;
import io.xfer.protocol.PingFlyweight;
import io.xfer.protocol.ProtocolVersion;
import io.xfer.protocol.WelcomeFlyweight;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.net.ssl.SSLException;

/**
 * The client side of xfer, embedding the same transfer engine as the agent: {@link #push} runs a {@link Sender}
 * against an agent's receiver, {@link #pull} a {@link Receiver} against an agent's sender. Used by the {@code xfer}
 * command and the demo. One instance may run several transfers, one after the other.
 */
public final class XferClient implements AutoCloseable
{
    private static final AttributeKey<FrameConnection> CONNECTION = AttributeKey.valueOf("xfer.connection");
    /** The connection's TLS handler, kept: a handshake that fails closes the channel and empties its pipeline. */
    private static final AttributeKey<SslHandler> TLS = AttributeKey.valueOf("xfer.tls");
    private static final Logger LOG = Logger.getLogger(XferClient.class.getName());
    /** PINGs whose smallest round trip sizes the link (with {@code --bandwidth}). */
    private static final int LINK_PINGS = 3;

    /** Checkpoint journals in a pull destination that were not used for this long are removed. */
    static final long JOURNAL_EXPIRY_MS = 7L * 24 * 3600 * 1000;

    /** What this client implements of the optional capabilities. */
    static final long CAPABILITIES = Capabilities.LZ4 | Capabilities.PARALLEL_STREAMS | Capabilities.SHA256 |
        Capabilities.INLINE_DATA;

    private final ClientOptions options;
    private final Transports transports;
    private final EventLoopGroup group;
    /** Every open connection of this client (closed ones leave by themselves), for {@link #close()}. */
    private final ChannelGroup channels = new DefaultChannelGroup("xfer-client", ImmediateEventExecutor.INSTANCE);
    private final SslContext sslContext;
    private final java.util.concurrent.ScheduledExecutorService reconnector =
        java.util.concurrent.Executors.newSingleThreadScheduledExecutor(new DefaultThreadFactory("xfer-reconnect", true));
    /** Commits the files that {@code get} receives; its threads start with the first file. */
    private final CommitPool commitPool = new CommitPool(CommitPool.DEFAULT_THREADS, "xfer-client-commit");

    /** Longest wait before a data connection is opened again. */
    static final long MAX_RECONNECT_DELAY_NS = 30_000_000_000L;
    /** Longest {@link #close()} waits for the connections to close before it stops the event loop. */
    private static final long CLOSE_WAIT_MS = 1_000;

    /**
     * @throws IOException when the certificate, key or CA files cannot be used.
     */
    public XferClient(final ClientOptions options) throws IOException
    {
        this.options = options;
        final Path certificate = options.certificate();
        final boolean withCertificate = Files.exists(certificate) || Files.exists(options.privateKey());
        this.sslContext = TlsContexts.client(withCertificate ? certificate : null,
            withCertificate ? options.privateKey() : null, options.ca());
        this.transports = Transports.select(options.transport());
        this.group = transports.newGroup(1, new DefaultThreadFactory("xfer-client-io", true));
    }

    /** @return "epoll" or "nio": the transport this client's connections use. */
    public String transportName()
    {
        return transports.name();
    }

    /**
     * Send local files and trees into {@code endpoint}'s module path (a directory, created when missing). A source
     * with a trailing slash sends the directory's contents; otherwise the source itself, under its own name.
     */
    public TransferReport push(final Endpoint endpoint, final List<String> sources, final TransferListener listener)
        throws InterruptedException
    {
        final List<SourceWalker.Root> roots = new ArrayList<>();
        for (final String source : sources)
        {
            final Path path = options.localPath(Path.of(source)).toAbsolutePath().normalize();
            if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS))
            {
                throw new TransferException(ErrorCode.NOT_FOUND, "no such file or directory: " + source);
            }
            final boolean contents = source.endsWith("/") && Files.isDirectory(path);
            final Path name = path.getFileName();
            roots.add(new SourceWalker.Root(path, contents || name == null ? "" : name.toString()));
        }
        final TransferStats stats = new TransferStats(listener, options.intervalLog(),
            LatencyRecorder.Metric.SENDING);
        final StringBuilder identity = new StringBuilder();
        for (final SourceWalker.Root root : roots)
        {
            identity.append(root.path()).append(root.name().isEmpty() ? "/" : "").append('\0');
        }
        final String resumeKey = options.resume() ? ResumeKeys.push(endpoint, identity.toString()) : "";
        final Session session = connect(endpoint);
        try
        {
            session.open(OpenFlyweight.DIRECTION_PUSH, endpoint, resumeKey);
            stats.plaintextData(session.plaintext());
            final LinkSizing link = session.sizeForLink(true);
            stats.link(link);
            final SourceWalker walker = new SourceWalker(roots, (path, code, message) ->
                stats.record(new TransferEvent(code == ErrorCode.SOURCE_VANISHED ? TransferEvent.Kind.VANISHED :
                    TransferEvent.Kind.FAILED, path, 0, 0, code, message)));
            final Sender sender = new Sender(session.connection, !session.plaintext(), walker, stats,
                session.chunkLength,
                link != null ? link.windowBytes() : Math.min(session.windowBytes, options.windowBytes()),
                options.sendBudgetBytes(),
                session.lz4 ? options.compression() : Compression.NONE, options.idleTimeoutNs())
                .sha256Digests(options.sha256Digests() && session.sha256())
                .sendFromFile(session.plaintext())
                .inlineData(session.inlineData());
            if (session.plaintext())
            {
                // the control connection carries no DATA: the data connections are needed from the first chunk
                session.joinDataConnections(endpoint, sender::addStream);
            }
            else
            {
                // chunks may start on the control connection; the others open when there is a first chunk, off
                // the transfer thread (their TCP connects), so small files that all go with their entries need
                // no handshakes beyond the first (measured: a send of one small file, 119 ms -> 98 ms)
                sender.onFirstChunk(() -> session.joinDataConnectionsLater(endpoint, sender::addStream));
            }
            return onTransferThread(sender::run);
        }
        finally
        {
            session.close();
        }
    }

    /**
     * Fetch {@code endpoint}'s module path into the local directory {@code destination} (created when missing).
     * A path with a trailing slash, or the module root, fetches the contents; otherwise the entry itself under its
     * own name.
     */
    public TransferReport pull(final Endpoint endpoint, final Path destination, final TransferListener listener)
        throws InterruptedException
    {
        final ModuleRoot root;
        try
        {
            final Path local = options.localPath(destination);
            Files.createDirectories(local);
            root = new ModuleRoot(local);
        }
        catch (final IOException ex)
        {
            throw new TransferException(ErrorCode.IO_ERROR, "cannot use destination " + destination + ": " +
                ex.getMessage(), ex);
        }
        final TransferStats stats = new TransferStats(listener, options.intervalLog(),
            LatencyRecorder.Metric.RECEIVING);
        CheckpointJournal journal = null;
        if (options.resume())
        {
            final String resumeKey = ResumeKeys.pull(endpoint, root.path().toString());
            try
            {
                CheckpointJournal.expire(root.path(), JOURNAL_EXPIRY_MS);
                journal = CheckpointJournal.open(root.path(), resumeKey, options.restart());
            }
            catch (final IOException ex)
            {
                throw new TransferException(StorageErrors.classify(ex), "cannot open the checkpoint journal in " +
                    destination + ": " + ex.getMessage(), ex);
            }
        }
        final Session session;
        try
        {
            session = connect(endpoint);
        }
        catch (final RuntimeException | InterruptedException ex)
        {
            closeQuietly(journal);
            throw ex;
        }
        try
        {
            try
            {
                session.open(OpenFlyweight.DIRECTION_PULL, endpoint, "");
                stats.plaintextData(session.plaintext());
                stats.link(session.sizeForLink(false));
            }
            catch (final RuntimeException | InterruptedException ex)
            {
                closeQuietly(journal);
                throw ex;
            }
            final Receiver receiver = new Receiver(session.connection, root, "", options.overwrite(),
                session.transferId, stats, session.chunkLength, session.lz4, options.idleTimeoutNs(), journal,
                Checkpoints.DEFAULT).acceptSha256(session.sha256()).acceptInline(session.inlineData())
                .expectSha256(options.sha256Digests() && session.sha256())
                .commitPool(commitPool);
            if (options.atomic())
            {
                receiver.atomic(CheckpointJournal.STAGE_PREFIX + (journal != null ?
                    journal.resumeKey().substring(0, 16) : Long.toHexString(session.transferId)));
            }
            session.joinDataConnections(endpoint, receiver::addStream);
            return onTransferThread(receiver::run);
        }
        finally
        {
            session.close();
        }
    }

    /**
     * Run a role on a thread of its own that has a buffer pool thread cache: Netty gives caches only to
     * {@link FastThreadLocalThread}s, and without one every chunk buffer the role reads into is carved from and
     * returned to the shared arena, whose pool chunks are then destroyed and created again (measured: about
     * 0.3 MB of heap per GiB sent, and their page faults). The thread's cache goes back when it ends. An
     * interrupt of the caller interrupts the role, and the call returns once the role has ended.
     */
    private static TransferReport onTransferThread(final Callable<TransferReport> role) throws InterruptedException
    {
        final FutureTask<TransferReport> task = new FutureTask<>(role);
        final Thread thread = new FastThreadLocalThread(task, "xfer-transfer");
        thread.setDaemon(true);
        thread.start();
        try
        {
            task.get();
        }
        catch (final InterruptedException ex)
        {
            if (!task.isDone())
            {
                thread.interrupt();
                joinUninterruptibly(thread);
                throw ex;
            }
            // the role had ended: its outcome stands, and the interrupt stays for the caller to see
            Thread.currentThread().interrupt();
        }
        catch (final ExecutionException ex)
        {
            // reported below
        }
        return outcome(task);
    }

    /** The outcome of a role that has ended: its report, or what it threw. */
    private static TransferReport outcome(final FutureTask<TransferReport> task) throws InterruptedException
    {
        try
        {
            // the task is done: get() returns at once, whatever the calling thread's interrupt flag says
            return task.get();
        }
        catch (final ExecutionException ex)
        {
            final Throwable cause = ex.getCause();
            if (cause instanceof RuntimeException runtime)
            {
                throw runtime;
            }
            if (cause instanceof Error error)
            {
                throw error;
            }
            if (cause instanceof InterruptedException interrupted)
            {
                throw interrupted;
            }
            throw new TransferException(ErrorCode.INTERNAL, "transfer failed: " + cause, cause);
        }
    }

    private static void joinUninterruptibly(final Thread thread)
    {
        boolean interrupted = false;
        while (thread.isAlive())
        {
            try
            {
                thread.join();
            }
            catch (final InterruptedException ex)
            {
                interrupted = true;
            }
        }
        if (interrupted)
        {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Handshake with an agent and measure {@code count} PING round trips, {@code intervalNs} apart.
     */
    public PingReport ping(final Endpoint endpoint, final int count, final long intervalNs)
        throws InterruptedException
    {
        final long startNs = System.nanoTime();
        final Session session = connect(endpoint);
        try
        {
            final long connectNs = System.nanoTime() - startNs;
            final long[] roundTrips = new long[count];
            for (int i = 0; i < count; i++)
            {
                if (i > 0)
                {
                    TimeUnit.NANOSECONDS.sleep(intervalNs);
                }
                roundTrips[i] = session.roundTripNs(i);
            }
            return new PingReport(session.software, session.version, connectNs, roundTrips);
        }
        finally
        {
            session.close();
        }
    }

    /**
     * Why a handshake failed, in the words that help: the engine's own exception says "General OpenSslEngine
     * problem" where this side refused the agent's certificate, and the reason (a name the certificate does not
     * give, a chain to an untrusted CA, an expired certificate) is a {@link CertificateException} further down.
     */
    static String handshakeFailure(final Throwable cause)
    {
        for (Throwable t = cause; t != null && t.getCause() != t; t = t.getCause())
        {
            if (t instanceof CertificateException)
            {
                return "the agent's certificate was refused: " + t.getMessage();
            }
        }
        return cause.getMessage();
    }

    /** @return the first {@link SSLException} in the chain of {@code failure}, or null */
    static SSLException sslCause(final Throwable failure)
    {
        for (Throwable t = failure; t != null && t.getCause() != t; t = t.getCause())
        {
            if (t instanceof SSLException ssl)
            {
                return ssl;
            }
        }
        return null;
    }

    /**
     * @return the alert an engine reported receiving, by its name in RFC 8446 ({@code certificate_required}), or
     * null for another failure. BoringSSL writes "error:1000045c:SSL routines:OPENSSL_internal:
     * TLSV1_ALERT_CERTIFICATE_REQUIRED", the JDK "Received fatal alert: certificate_required".
     */
    static String alertName(final SSLException failure)
    {
        final String message = String.valueOf(failure.getMessage());
        final int boring = message.lastIndexOf("_ALERT_");
        if (boring >= 0 && message.lastIndexOf(':') < boring)
        {
            return message.substring(boring + "_ALERT_".length()).toLowerCase(java.util.Locale.ROOT);
        }
        final String jdk = "Received fatal alert: ";
        final int received = message.indexOf(jdk);
        return received >= 0 ? message.substring(received + jdk.length()) : null;
    }

    private Session connect(final Endpoint endpoint) throws InterruptedException
    {
        // the control connection and the data connections (all streams with plaintext data)
        final Inbox inbox = new Inbox(options.receiveQueueBytes(), options.streams() + 1);
        final Channel channel = openChannel(endpoint, ProtocolVersion.HANDSHAKE_FRAME_LENGTH, true,
            options.socketBufferBytes(), ch ->
        {
            final FrameConnection connection = new FrameConnection(ch, inbox, true);
            ch.attr(CONNECTION).set(connection);
            return connection;
        });
        final Future<Channel> handshake = channel.attr(TLS).get().handshakeFuture();
        if (!handshake.await(options.connectTimeoutNs(), TimeUnit.NANOSECONDS) || !handshake.isSuccess())
        {
            // the cause before the close: a handshake still under way fails by it, with a ClosedChannelException
            final Throwable cause = handshake.cause() != null ? handshake.cause() :
                new SSLException("TLS handshake timed out");
            channel.close();
            throw TransferException.connectionLost("TLS handshake with " + endpoint.host() + ":" +
                endpoint.port() + " failed: " + handshakeFailure(cause), cause);
        }

        // kept from initChannel: once the agent closes the channel the pipeline no longer holds the handler
        final Session session = new Session(channel, channel.attr(CONNECTION).get());
        try
        {
            session.hello();
            if (options.bandwidthBytesPerSecond() > 0)
            {
                long rttNs = Long.MAX_VALUE;
                for (int i = 0; i < LINK_PINGS; i++)
                {
                    rttNs = Math.min(rttNs, session.roundTripNs(i));
                }
                session.rttNs = Math.max(1, rttNs);
            }
        }
        catch (final RuntimeException | InterruptedException ex)
        {
            session.close();
            throw ex;
        }
        return session;
    }

    /** What this client offers in HELLO: its capabilities, and plaintext data when its user asked for it. */
    private long offered()
    {
        return (options.inlineData() ? CAPABILITIES : CAPABILITIES & ~Capabilities.INLINE_DATA) |
            (options.plaintextData() ? Capabilities.PLAINTEXT_DATA : 0);
    }

    /**
     * Connect with TLS, or without for a plaintext data connection; the session handler comes from
     * {@code sessionHandler}.
     */
    private Channel openChannel(
        final Endpoint endpoint, final int frameLimit, final boolean tls, final int socketBufferBytes,
        final Function<SocketChannel, ChannelHandler> sessionHandler)
        throws InterruptedException
    {
        final Bootstrap bootstrap = new Bootstrap()
            .group(group)
            .channel(transports.clientChannel())
            .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int)TimeUnit.NANOSECONDS.toMillis(options.connectTimeoutNs()))
            .option(ChannelOption.TCP_NODELAY, true)
            // pooled arenas serve the 1 MiB chunk buffers and frame cumulations; the adaptive default falls back
            // to unpooled, zeroed allocations at that size (measured: 7% of receiver CPU)
            .option(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
            .option(ChannelOption.RCVBUF_ALLOCATOR, SocketBuffers.readSizes())
            .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(
                (int)(AgentConfig.WRITE_BUFFER_HIGH_BYTES_DEFAULT / 2), (int)AgentConfig.WRITE_BUFFER_HIGH_BYTES_DEFAULT))
            .handler(new ChannelInitializer<SocketChannel>()
            {
                @Override
                protected void initChannel(final SocketChannel channel)
                {
                    channels.add(channel);
                    SocketBuffers.apply(channel, socketBufferBytes);
                    if (tls)
                    {
                        final SslHandler ssl = TlsContexts.tune(
                            sslContext.newHandler(channel.alloc(), endpoint.host(), endpoint.port()));
                        channel.attr(TLS).set(ssl);
                        channel.pipeline().addLast("tls", ssl).addLast(TlsRecordLayer.NAME, new TlsRecordLayer());
                    }
                    channel.pipeline()
                        .addLast("idle", new IdleStateHandler(options.idleTimeoutNs(), 0, 0, TimeUnit.NANOSECONDS))
                        .addLast("frameDecoder", new FrameDecoder(frameLimit))
                        .addLast("session", sessionHandler.apply(channel));
                }
            });

        final ChannelFuture connectFuture = bootstrap.connect(endpoint.host(), endpoint.port());
        if (!connectFuture.await(options.connectTimeoutNs() + 1_000_000_000L, TimeUnit.NANOSECONDS) ||
            !connectFuture.isSuccess())
        {
            connectFuture.channel().close();
            final Throwable cause = connectFuture.cause();
            throw TransferException.connectionLost("cannot connect to " + endpoint.host() + ":" + endpoint.port() +
                ": " + (cause == null ? "timed out" : cause.getMessage()), cause);
        }
        return connectFuture.channel();
    }

    private static void closeQuietly(final CheckpointJournal journal)
    {
        if (journal != null)
        {
            try
            {
                journal.close();
            }
            catch (final IOException ignore)
            {
                // nothing was written yet
            }
        }
    }

    /**
     * Ends every connection first, while the event loop still runs: a connection that a shutting-down loop closes
     * may never pass on its close (Netty drops the task that would), and a transfer running on it would then wait
     * for the idle timeout instead of failing at once.
     */
    @Override
    public void close()
    {
        reconnector.shutdownNow();
        channels.close().awaitUninterruptibly(CLOSE_WAIT_MS, TimeUnit.MILLISECONDS);
        commitPool.close();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** One connection, from HELLO to close. */
    private final class Session
    {
        final Channel channel;
        final FrameConnection connection;
        final ErrorFlyweight error = new ErrorFlyweight();
        final List<Channel> dataChannels = new ArrayList<>();
        volatile boolean running = true;
        String software;
        int version;
        long capabilities;
        long sessionIdHigh;
        long sessionIdLow;
        long transferId;
        int chunkLength;
        int streams;

        boolean sha256()
        {
            return Capabilities.has(capabilities, Capabilities.SHA256);
        }

        /** Small files' content may go with their entries. */
        boolean inlineData()
        {
            return Capabilities.has(capabilities, Capabilities.INLINE_DATA);
        }

        /** Data connections without TLS, and none on the control connection. */
        boolean plaintext()
        {
            return Capabilities.has(capabilities, Capabilities.PLAINTEXT_DATA);
        }

        long windowBytes;
        boolean lz4;
        /** Smallest round trip measured at the handshake, 0 when none was ({@code --bandwidth} not given). */
        long rttNs;
        /** SO_SNDBUF/SO_RCVBUF for the data connections: the user's, or sized for the link. */
        int socketBufferBytes = options.socketBufferBytes();

        Session(final Channel channel, final FrameConnection connection)
        {
            this.channel = channel;
            this.connection = connection;
        }

        void hello() throws InterruptedException
        {
            connection.send(HelloFlyweight.encode(channel.alloc(), HelloFlyweight.KIND_CONTROL, offered(), 0, 0,
                ProtocolVersion.MAX_FRAME_LENGTH, AgentServer.SOFTWARE));
            final ByteBuf frame;
            try
            {
                frame = expect(FrameType.WELCOME);
            }
            catch (final TransferException ex)
            {
                if (ex.errorCode() == null)
                {
                    throw closedBeforeWelcome(ex);
                }
                throw ex;
            }
            try
            {
                final WelcomeFlyweight welcome = new WelcomeFlyweight();
                welcome.wrap(frame, frame.readerIndex());
                software = welcome.software();
                version = welcome.protocolVersion();
                capabilities = welcome.capabilities() & offered();
                if (options.plaintextData() && !plaintext())
                {
                    LOG.warning(() -> "the agent does not allow plaintext data connections (its plaintext_data " +
                        "setting): the data goes over TLS");
                }
                lz4 = Capabilities.has(capabilities, Capabilities.LZ4);
                sessionIdHigh = welcome.sessionIdHigh();
                sessionIdLow = welcome.sessionIdLow();
                final int maxFrameLength = Math.min(welcome.maxFrameLength(), ProtocolVersion.MAX_FRAME_LENGTH);
                final FrameDecoder decoder = channel.pipeline().get(FrameDecoder.class);
                channel.eventLoop().execute(() -> decoder.maxFrameLength(maxFrameLength));
            }
            finally
            {
                frame.release();
            }
        }

        /**
         * With TLS 1.3 the client's side of the handshake completes before the agent has checked the client's
         * certificate, so a refusal arrives as an alert after HELLO went out. A close with an alert is that refusal,
         * a configuration error that a retry cannot fix; a close without one is an agent that stopped there (killed,
         * restarted), which a retry may fix, or a refusal whose alert a reset overtook.
         */
        private TransferException closedBeforeWelcome(final TransferException ex)
        {
            final SSLException ssl = sslCause(ex);
            final String alert = ssl == null ? null : alertName(ssl);
            if (alert != null)
            {
                return TransferException.connectionLost("the agent refused the client certificate (TLS alert: " +
                    alert + ")", ssl);
            }
            // not a TLS failure, whatever the engine said about a session the agent closed (exit code CONNECTION)
            final Throwable cause = ex.getCause();
            return TransferException.connectionLost("the agent closed the connection after the TLS handshake " +
                "without answering HELLO: it stopped, or it refused the client certificate and the alert was lost " +
                "(the agent's log says which)" + (cause == null || cause.getMessage() == null ? "" :
                ": " + cause.getMessage()), ssl == null ? cause : null);
        }

        /** Send a PING and wait for its PONG: the round trip, through both sides' TLS and event loops. */
        long roundTripNs(final int nonce) throws InterruptedException
        {
            final long sentNs = System.nanoTime();
            connection.send(PingFlyweight.encode(channel.alloc(), FrameType.PING, nonce, sentNs));
            final ByteBuf frame = expect(FrameType.PONG);
            try
            {
                final PingFlyweight pong = new PingFlyweight();
                pong.wrap(frame, frame.readerIndex());
                if (pong.nonce() != nonce)
                {
                    throw new TransferException(ErrorCode.PROTOCOL_ERROR, "PONG for nonce " + pong.nonce() +
                        ", expected " + nonce);
                }
                return System.nanoTime() - pong.timestampNs();
            }
            finally
            {
                frame.release();
            }
        }

        /**
         * After OPEN_ACK, with {@code --bandwidth}: size the window and the socket buffers for the link's
         * bandwidth-delay product, apply the buffers to the control connection (a stream too, over TLS) and to the
         * data connections still to open, and warn about what keeps the transfer below the link rate.
         *
         * @return the sizing, or null without a bandwidth.
         */
        LinkSizing sizeForLink(final boolean sending)
        {
            if (rttNs <= 0)
            {
                return null;
            }
            final LinkSizing link = LinkSizing.of(options.bandwidthBytesPerSecond(), rttNs, Math.max(1, streams),
                chunkLength, options.windowBytes(), windowBytes, sending, options.socketBufferBytes(),
                SocketBuffers.autotuneMaxBytes(sending), SocketBuffers.settableMaxBytes());
            socketBufferBytes = link.socketBufferBytes();
            if (socketBufferBytes > 0 && !plaintext() && channel instanceof SocketChannel)
            {
                SocketBuffers.apply((SocketChannel)channel, socketBufferBytes);
            }
            LOG.fine(link::describe);
            link.advice().forEach(line -> LOG.warning(line));
            return link;
        }

        void open(final int direction, final Endpoint endpoint, final String resumeKey) throws InterruptedException
        {
            if (endpoint.module().isEmpty())
            {
                throw new TransferException(ErrorCode.NO_SUCH_MODULE, "no module in " + endpoint);
            }
            String path = endpoint.path();
            long openOptions = options.overwrite() ? OpenFlyweight.OPTION_OVERWRITE : 0;
            if (path.endsWith("/"))
            {
                openOptions |= OpenFlyweight.OPTION_CONTENTS;
                path = path.substring(0, path.length() - 1);
            }
            if (options.compression() == Compression.AUTO)
            {
                openOptions |= OpenFlyweight.OPTION_COMPRESS_AUTO;
            }
            else if (options.compression() == Compression.LZ4)
            {
                openOptions |= OpenFlyweight.OPTION_COMPRESS_ALWAYS;
            }
            final int wantedStreams = Capabilities.has(capabilities, Capabilities.PARALLEL_STREAMS) ?
                options.streams() : 1;
            if (options.restart())
            {
                openOptions |= OpenFlyweight.OPTION_RESTART;
            }
            if (options.atomic())
            {
                openOptions |= OpenFlyweight.OPTION_ATOMIC;
            }
            if (options.sha256Digests())
            {
                if (!sha256())
                {
                    throw new TransferException(ErrorCode.UNSUPPORTED_VERSION,
                        "the agent does not support SHA-256 digests");
                }
                openOptions |= OpenFlyweight.OPTION_DIGEST_SHA256;
            }
            connection.send(OpenFlyweight.encode(channel.alloc(), direction, wantedStreams, openOptions,
                options.chunkLength(), endpoint.module(), path, resumeKey));
            final ByteBuf frame = expect(FrameType.OPEN_ACK);
            try
            {
                final OpenAckFlyweight ack = new OpenAckFlyweight();
                ack.wrap(frame, frame.readerIndex());
                transferId = ack.transferId();
                chunkLength = ack.chunkLength();
                streams = ack.streams();
                windowBytes = ack.windowBytes();
                if (chunkLength < AgentConfig.CHUNK_LENGTH_MIN || chunkLength > AgentConfig.CHUNK_LENGTH_MAX)
                {
                    throw new TransferException(ErrorCode.PROTOCOL_ERROR, "agent granted chunk length " + chunkLength);
                }
                if (streams > wantedStreams)
                {
                    throw new TransferException(ErrorCode.PROTOCOL_ERROR, "agent granted " + streams +
                        " streams, " + wantedStreams + " were asked for");
                }
            }
            finally
            {
                frame.release();
            }
        }

        /**
         * Open the data connections, without waiting for them: the role starts at once and takes each one as it
         * joins ({@code attach}, on its event loop). One that fails or does not join within the connect timeout is
         * a warning, and the transfer goes on with fewer streams; with plaintext data, where the control connection
         * carries no DATA, none joining at all ends the transfer (posted to the role's inbox).
         */
        void joinDataConnections(final Endpoint endpoint, final Consumer<FrameConnection> attach)
            throws InterruptedException
        {
            if (!running)
            {
                return;
            }
            // plaintext: every stream is a data connection; otherwise the control connection is the first stream
            final int wanted = plaintext() ? streams : streams - 1;
            final AtomicInteger pending = new AtomicInteger(wanted);
            final AtomicInteger joined = new AtomicInteger();
            final Consumer<FrameConnection> attachWhileRunning = data ->
            {
                if (running)
                {
                    attach.accept(data);
                }
                else
                {
                    data.channel().close();
                }
            };
            for (int i = 0; i < wanted && running; i++)
            {
                final CompletableFuture<FrameConnection> join = openDataConnection(endpoint, attachWhileRunning, 0);
                if (join == null)
                {
                    joinSettled(pending, joined, false);
                    continue;
                }
                join.orTimeout(options.connectTimeoutNs(), TimeUnit.NANOSECONDS).whenComplete((data, failure) ->
                {
                    final Throwable cause = failure instanceof CompletionException && failure.getCause() != null ?
                        failure.getCause() : failure;
                    // the transfer ended while this one connected (a short one can be over before a data connection
                    // opened at its first chunk has joined): routine, and no reason to fail it
                    final boolean ended = cause instanceof TransferException te &&
                        te.errorCode() == ErrorCode.UNKNOWN_SESSION &&
                        te.getMessage().contains(AgentServer.TRANSFER_ENDED);
                    if (failure != null && running)
                    {
                        LOG.log(ended ? Level.FINE : Level.WARNING, () -> ended ?
                            "a data connection joined too late: " + cause.getMessage() :
                            "a data connection did not join, going on with fewer streams: " +
                            (cause instanceof TimeoutException ? "timed out" : cause.getMessage()));
                    }
                    // one given up on (timed out) is closed by its handler if its WELCOME still comes, and with
                    // the session otherwise
                    joinSettled(pending, joined, failure == null || ended);
                });
            }
        }

        /**
         * {@link #joinDataConnections} on the reconnect thread, so that their TCP connects do not hold the caller
         * (the transfer thread); nothing when the client is being closed.
         */
        void joinDataConnectionsLater(final Endpoint endpoint, final Consumer<FrameConnection> attach)
        {
            try
            {
                reconnector.execute(() ->
                {
                    try
                    {
                        joinDataConnections(endpoint, attach);
                    }
                    catch (final InterruptedException ex)
                    {
                        Thread.currentThread().interrupt();
                    }
                });
            }
            catch (final RejectedExecutionException closing)
            {
                // the transfer goes on (or ends) on the control connection
            }
        }

        private void joinSettled(final AtomicInteger pending, final AtomicInteger joined, final boolean ok)
        {
            if (ok)
            {
                joined.incrementAndGet();
            }
            if (pending.decrementAndGet() == 0 && plaintext() && joined.get() == 0 && running)
            {
                // the control connection carries no DATA here: without a data connection nothing could move
                connection.inbox().post(new Inbox.Closed(connection, TransferException.connectionLost(
                    "no plaintext data connection could join the transfer", null)));
            }
        }

        /**
         * Open one data connection; when it closes while the transfer runs, open a replacement after a backoff
         * that doubles per attempt (bounded), so the session gets its streams back after a network hiccup.
         *
         * @return the join, or null when the connection could not be opened.
         */
        private CompletableFuture<FrameConnection> openDataConnection(
            final Endpoint endpoint, final Consumer<FrameConnection> attach, final int reconnects)
            throws InterruptedException
        {
            final DataJoinHandler[] handler = new DataJoinHandler[1];
            final Channel dataChannel;
            try
            {
                // DATA may follow WELCOME in the same read, before WELCOME raised the limit: accept full frames
                // from the start (this side announced that maximum in its HELLO)
                dataChannel = openChannel(endpoint, ProtocolVersion.MAX_FRAME_LENGTH, !plaintext(),
                    socketBufferBytes, ch ->
                {
                    handler[0] = new DataJoinHandler(sessionIdHigh, sessionIdLow, offered(), !plaintext(),
                        connection.inbox(), attach);
                    return handler[0];
                });
            }
            catch (final TransferException ex)
            {
                LOG.warning(() -> "data connection not opened: " + ex.getMessage());
                return null;
            }
            synchronized (dataChannels)
            {
                dataChannels.add(dataChannel);
            }
            if (!running)
            {
                // the session closed while this one connected: close() may have closed the others already
                dataChannel.close();
            }
            final CompletableFuture<FrameConnection> joined = handler[0].joined();
            dataChannel.closeFuture().addListener(closed ->
            {
                if (!running || reconnects >= options.maxReconnects())
                {
                    return;
                }
                final long delayNs = Math.min(MAX_RECONNECT_DELAY_NS, options.reconnectDelayNs() << reconnects);
                reconnector.schedule(() ->
                {
                    if (running)
                    {
                        try
                        {
                            openDataConnection(endpoint, attach, reconnects + 1);
                        }
                        catch (final InterruptedException ex)
                        {
                            Thread.currentThread().interrupt();
                        }
                    }
                }, delayNs, TimeUnit.NANOSECONDS);
            });
            return joined;
        }

        /**
         * @return the next frame, which has the expected type; an ERROR or anything else becomes an exception.
         */
        ByteBuf expect(final int type) throws InterruptedException
        {
            connection.flush();
            final Object message = connection.inbox().poll(options.connectTimeoutNs());
            if (message == null)
            {
                throw new TransferException(ErrorCode.TIMEOUT, "no " + FrameType.name(type) + " from the agent within " +
                    TimeUnit.NANOSECONDS.toSeconds(options.connectTimeoutNs()) + " s");
            }
            if (message instanceof Inbox.Closed closed)
            {
                final Throwable cause = closed.cause() != null ? closed.cause() : connection.failure();
                if (cause instanceof TransferException te)
                {
                    throw te;
                }
                throw TransferException.connectionLost("agent closed the connection" +
                    (cause == null ? "" : ": " + cause.getMessage()), cause);
            }
            final ByteBuf frame = ((Inbox.Inbound)message).frame();
            final int actual = FrameDecoder.type(frame);
            if (actual == type)
            {
                return frame;
            }
            try
            {
                if (actual == FrameType.ERROR)
                {
                    error.wrap(frame, frame.readerIndex());
                    final ErrorCode code = ErrorCode.get(error.code());
                    throw new TransferException(code == null ? ErrorCode.INTERNAL : code, error.message(), true, null);
                }
                throw new TransferException(ErrorCode.UNEXPECTED_FRAME, "expected " + FrameType.name(type) +
                    ", agent sent " + FrameType.name(actual));
            }
            finally
            {
                frame.release();
            }
        }

        void close()
        {
            running = false;
            synchronized (dataChannels)
            {
                for (final Channel dataChannel : dataChannels)
                {
                    dataChannel.close();
                }
            }
            if (connection != null)
            {
                connection.dispose();
            }
            channel.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
        }
    }
}
