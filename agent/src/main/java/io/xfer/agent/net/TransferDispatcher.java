package io.xfer.agent.net;

import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.FastThreadLocal;
import io.netty.util.concurrent.FastThreadLocalThread;
import io.xfer.agent.config.AgentConfig;
import io.xfer.agent.config.ModuleConfig;
import io.xfer.agent.client.ResumeKeys;
import io.xfer.agent.engine.Checkpoints;
import io.xfer.agent.engine.CommitPool;
import io.xfer.agent.engine.Compression;
import io.xfer.agent.engine.FrameConnection;
import io.xfer.agent.engine.Inbox;
import io.xfer.agent.engine.LatencyRecorder;
import io.xfer.agent.engine.LinkSizing;
import io.xfer.agent.engine.Receiver;
import io.xfer.agent.engine.Sender;
import io.xfer.agent.engine.TransferException;
import io.xfer.agent.engine.TransferListener;
import io.xfer.agent.engine.TransferReport;
import io.xfer.agent.engine.TransferStats;
import io.xfer.agent.storage.CheckpointJournal;
import io.xfer.agent.storage.ModuleRoot;
import io.xfer.agent.storage.SourceWalker;
import io.xfer.agent.storage.StorageErrors;
import io.xfer.protocol.ErrorCode;
import io.xfer.protocol.ErrorFlyweight;
import io.xfer.protocol.OpenAckFlyweight;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Starts the role of an accepted OPEN on a transfer thread, so that disk I/O never runs on an event loop; lets the
 * transfer's data connections join it by session id; and logs one audit line per transfer: who moved what, where,
 * and how it ended.
 */
final class TransferDispatcher implements AutoCloseable
{
    private static final Logger LOG = Logger.getLogger(TransferDispatcher.class.getName());
    /** The most a window sized from {@code bandwidth} grows to: beyond it, more streams are the better answer. */
    static final long MAX_SIZED_WINDOW_BYTES = LinkSizing.MAX_SOCKET_BUFFER_BYTES;

    private static final int ENDED_SESSIONS_KEPT = 1024;

    private final AgentConfig config;
    private final ExecutorService executor;
    private final CommitPool commitPool;
    private final Map<SessionKey, Session> sessions = new ConcurrentHashMap<>();
    /**
     * The sessions whose transfers ended most recently: a data connection that a client opened at its transfer's
     * first chunk may arrive after a short transfer has ended, which is routine, not a warning.
     */
    private final Map<SessionKey, Boolean> ended = Collections.synchronizedMap(
        new LinkedHashMap<>(64, 0.75f, false)
        {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(final Map.Entry<SessionKey, Boolean> eldest)
            {
                return size() > ENDED_SESSIONS_KEPT;
            }
        });

    /** An OPEN that passed the access checks. */
    record Request(
        boolean push,
        ModuleConfig module,
        String path,
        boolean overwrite,
        boolean contents,
        int chunkLength,
        int streams,
        Compression compression,
        boolean lz4,
        String identity,
        long transferId,
        String resumeKey,
        boolean restart,
        boolean sha256Negotiated,
        boolean sha256Digests,
        boolean atomic,
        boolean plaintextData,
        boolean inlineData)
    {
    }

    record SessionKey(long high, long low)
    {
    }

    /** A running transfer that data connections may join. */
    private static final class Session
    {
        final String identity;
        final int dataConnections;
        final boolean plaintext;
        final AtomicInteger joined = new AtomicInteger();
        final Consumer<FrameConnection> attach;
        final Inbox inbox;

        Session(final String identity, final int dataConnections, final boolean plaintext,
            final Consumer<FrameConnection> attach, final Inbox inbox)
        {
            this.identity = identity;
            this.plaintext = plaintext;
            this.dataConnections = dataConnections;
            this.attach = attach;
            this.inbox = inbox;
        }
    }

    TransferDispatcher(final AgentConfig config)
    {
        this.config = config;
        final AtomicInteger counter = new AtomicInteger();
        // FastThreadLocalThreads: when an idle one ends, the buffers its pool thread cache holds go back at once
        this.executor = Executors.newCachedThreadPool(runnable ->
        {
            final Thread thread = new FastThreadLocalThread(runnable, "xfer-transfer-" + counter.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
        this.commitPool = new CommitPool(config.commitThreads(), "xfer-commit", config.slowCommitNs());
    }

    /**
     * Called on the event loop with the OPEN accepted: resolve the paths, switch the pipeline to a
     * {@link FrameConnection}, and hand the rest to a transfer thread, which opens the checkpoint journal (reading
     * it whole and expiring stale ones is disk work that must not stall the event loop), acknowledges and runs the
     * role. Frames that arrive meanwhile wait in the transfer's inbox.
     */
    void start(final ChannelHandlerContext ctx, final Request request, final SessionKey sessionKey)
    {
        final ModuleRoot root;
        final Path source;
        try
        {
            root = new ModuleRoot(request.module().root());
            if (request.push())
            {
                root.ensureDirectory(request.path());
                source = null;
            }
            else
            {
                source = root.resolveExisting(request.path());
            }
        }
        catch (final IOException ex)
        {
            throw new TransferException(ErrorCode.IO_ERROR, "module '" + request.module().name() +
                "' is not usable: " + ex.getMessage(), ex);
        }

        // the control connection and the data connections (all streams with plaintext data)
        final Inbox inbox = new Inbox(config.receiveQueueBytes(), request.streams() + 1);
        final FrameConnection connection = new FrameConnection(ctx.channel(), inbox, true);
        ctx.pipeline().replace(ctx.handler(), "session", connection);
        final String what = String.format(Locale.ROOT, "transfer %016x %s by %s from %s, module %s path '%s'",
            request.transferId(), request.push() ? "push" : "pull", request.identity(),
            ctx.channel().remoteAddress(), request.module().name(), request.path());
        executor.execute(() ->
        {
            final CheckpointJournal journal;
            try
            {
                journal = request.push() ? journal(root, request) : null;
            }
            catch (final TransferException ex)
            {
                LOG.warning(() -> what + ": refused: " + ex.getMessage());
                connection.sendErrorAndClose(ex.errorCode(), ex.getMessage());
                connection.dispose();
                return;
            }
            try
            {
                run(connection, what, request, sessionKey, root, source, journal, inbox);
            }
            finally
            {
                // noted as ended before it goes, so that a late join never finds it in neither
                ended.put(sessionKey, Boolean.TRUE);
                sessions.remove(sessionKey);
                // the buffers this thread's pool cache kept (a pull's chunk buffers, up to send_budget) go back
                // to the pool now, not when the thread next allocates or ends; so do the event loops' (frame and
                // TLS buffers), so that an idle agent holds no more than it needs
                FastThreadLocal.removeAll();
                for (final EventExecutor loop : ctx.channel().eventLoop().parent())
                {
                    loop.execute(TransferDispatcher::trimThreadCache);
                }
            }
        });
    }

    /**
     * Give back what the current thread's pool cache holds. A trim frees the entries not used since the last one,
     * so the second frees the rest.
     */
    private static void trimThreadCache()
    {
        PooledByteBufAllocator.DEFAULT.trimCurrentThreadCache();
        PooledByteBufAllocator.DEFAULT.trimCurrentThreadCache();
    }

    /** On the transfer thread: build the role, open the session to its data connections, acknowledge, run. */
    private void run(final FrameConnection connection, final String what, final Request request,
        final SessionKey sessionKey, final ModuleRoot root, final Path source, final CheckpointJournal journal,
        final Inbox inbox)
    {
        // the agent receives a push and sends a pull
        final TransferStats stats = new TransferStats(TransferListener.NONE, false,
            request.push() ? LatencyRecorder.Metric.RECEIVING : LatencyRecorder.Metric.SENDING);
        final LinkSizing link = sizeForLink(connection.channel(), request, what);
        // what OPEN_ACK grants each stream, and a pull's own window
        final long windowBytes = link != null ? link.windowBytes() : config.streamWindowBytes();
        final RoleBody role;
        final Consumer<FrameConnection> attach;
        if (request.push())
        {
            final Receiver receiver = new Receiver(connection, root, request.path(), request.overwrite(),
                request.transferId(), stats, request.chunkLength(), request.lz4(), config.idleTimeoutNs(),
                journal, new Checkpoints(config.checkpointIntervalNs(), config.checkpointBytes()))
                .acceptSha256(request.sha256Negotiated())
                .acceptInline(request.inlineData())
                .expectSha256(request.sha256Digests())
                .commitPool(commitPool);
            if (request.atomic())
            {
                receiver.atomic(CheckpointJournal.STAGE_PREFIX + (journal != null ?
                    journal.resumeKey().substring(0, 16) : Long.toHexString(request.transferId())));
            }
            attach = receiver::addStream;
            role = receiver::run;
        }
        else
        {
            final String name = request.contents() ? "" : source.getFileName().toString();
            // reached from the module's root a name at a time, never through a symlink swapped in meanwhile
            final SourceWalker walker = new SourceWalker(List.of(new SourceWalker.Root(source, name, root.path())),
                (path, code, message) -> LOG.warning(() -> what + ": " + path + ": " + message));
            final Sender sender = new Sender(connection, !request.plaintextData(), walker, stats,
                request.chunkLength(),
                windowBytes, config.sendBudgetBytes(),
                request.lz4() ? request.compression() : Compression.NONE, config.idleTimeoutNs())
                .sha256Digests(request.sha256Digests())
                .sendFromFile(request.plaintextData())
                .inlineData(request.inlineData());
            attach = sender::addStream;
            role = sender::run;
        }
        // plaintext: every stream is a data connection; otherwise the control connection is the first stream
        final int dataConnections = request.plaintextData() ? request.streams() : request.streams() - 1;
        final int socketBufferBytes = link != null ? link.socketBufferBytes() : 0;
        if (socketBufferBytes > 0 && !request.plaintextData())
        {
            SocketBuffers.applyDirection(connection.channel(), socketBufferBytes, !request.push());
        }
        if (dataConnections > 0)
        {
            final Consumer<FrameConnection> join = socketBufferBytes <= 0 ? attach : joined ->
            {
                SocketBuffers.applyDirection(joined.channel(), socketBufferBytes, !request.push());
                attach.accept(joined);
            };
            sessions.put(sessionKey, new Session(request.identity(), dataConnections, request.plaintextData(),
                join, inbox));
        }
        connection.send(OpenAckFlyweight.encode(connection.channel().alloc(), request.transferId(),
            request.chunkLength(), request.streams(), windowBytes));
        connection.flush();
        LOG.info(() -> what + ": started, " + request.streams() + (request.plaintextData() ? " plaintext" : "") +
            " streams, chunk " + request.chunkLength() +
            " bytes, compression " + (request.push() ? "by client" : request.compression().name().toLowerCase(
            Locale.ROOT)));
        run(connection, what, stats, role);
    }

    /**
     * With {@code bandwidth} configured: the transfer's link sizing, from the round trip the kernel measured on
     * the control connection (smoothed, over the handshake and the exchanges since; epoll only), logged with what
     * would keep the transfer below the rate. Its window, granted to each stream in OPEN_ACK and a pull's own, is
     * {@code stream_window} or, when a stream's share of the product needs more, that much up to
     * {@link #MAX_SIZED_WINDOW_BYTES} (in flight the bytes wait in socket buffers, not in the agent's memory). Its
     * socket buffers are for the direction the agent moves data in: SO_SNDBUF for a pull, SO_RCVBUF for a push.
     *
     * @return null without a configured rate or a measured round trip.
     */
    private LinkSizing sizeForLink(final Channel control, final Request request, final String what)
    {
        final long rate = config.bandwidthBytesPerSecond();
        if (rate <= 0)
        {
            return null;
        }
        final long rttNs = Transports.smoothedRttNs(control);
        if (rttNs <= 0)
        {
            LOG.info(() -> what + ": bandwidth is set, but this transport measures no round trip: socket buffers " +
                "stay as configured");
            return null;
        }
        final boolean sending = !request.push();
        final long window = Math.max(config.streamWindowBytes(), Math.min(MAX_SIZED_WINDOW_BYTES,
            LinkSizing.windowNeededBytes(rate, rttNs, request.streams(), request.chunkLength())));
        final LinkSizing link = LinkSizing.of(rate, rttNs, request.streams(), request.chunkLength(),
            window, window, sending, config.socketBufferBytes(),
            SocketBuffers.autotuneMaxBytes(sending), SocketBuffers.settableMaxBytes(), LinkSizing.Side.AGENT);
        LOG.info(() -> what + ": " + link.describe());
        link.advice().forEach(line -> LOG.warning(() -> what + ": " + line));
        return link;
    }

    /**
     * Called on the event loop for HELLO kind DATA: check that the connection may join its session's running
     * transfer and reserve its place.
     *
     * @return the reservation for {@link #attach(ChannelHandlerContext, Object)}.
     * @param plaintext the connection has no TLS: it may join only a session that negotiated plaintext data, and
     *                  its only credential is the session id; a TLS connection must present the session's identity
     *                  and may join only a TLS session.
     * @throws TransferException when there is no such session, it belongs to another identity, it does not take
     *                           this kind of connection, or it is full.
     */
    Object reserve(final SessionKey sessionKey, final String identity, final boolean plaintext)
    {
        final Session session = sessions.get(sessionKey);
        if (session == null)
        {
            throw new TransferException(ErrorCode.UNKNOWN_SESSION, ended.containsKey(sessionKey) ?
                AgentServer.TRANSFER_ENDED : "no running transfer with that session id");
        }
        if (session.plaintext != plaintext)
        {
            throw new TransferException(ErrorCode.ACCESS_DENIED, session.plaintext ?
                "the session's data connections are plaintext" : "the session's data connections use TLS");
        }
        if (!plaintext && !session.identity.equals(identity))
        {
            throw new TransferException(ErrorCode.ACCESS_DENIED, "the session belongs to another identity");
        }
        if (session.joined.incrementAndGet() > session.dataConnections)
        {
            session.joined.decrementAndGet();
            throw new TransferException(ErrorCode.LIMIT_EXCEEDED, "all " + session.dataConnections +
                " data connections of the session have joined");
        }
        return session;
    }

    /**
     * Hand a reserved data connection to its transfer: from here on its frames go to the transfer's inbox.
     */
    void attach(final ChannelHandlerContext ctx, final Object reservation)
    {
        final Session session = (Session)reservation;
        final FrameConnection connection = new FrameConnection(ctx.channel(), session.inbox, false);
        ctx.pipeline().replace(ctx.handler(), "session", connection);
        // a data connection that dies frees its place, so the client can open a replacement
        ctx.channel().closeFuture().addListener(f -> session.joined.decrementAndGet());
        session.attach.accept(connection);
    }

    /**
     * Open the checkpoint journal of a push that asked to be resumable. Journals are per client identity: the
     * directory is named by a hash of the identity and the client's resume key. Stale journals of the module are
     * removed on the way.
     */
    private CheckpointJournal journal(final ModuleRoot root, final Request request)
    {
        if (request.resumeKey().isEmpty())
        {
            return null;
        }
        try
        {
            final int expired = CheckpointJournal.expire(root.path(), config.journalExpiryNs() / 1_000_000L);
            if (expired > 0)
            {
                LOG.info(() -> "module " + request.module().name() + ": removed " + expired +
                    " expired checkpoint journals");
            }
            return CheckpointJournal.open(root.path(),
                ResumeKeys.hash(request.identity() + '\0' + request.resumeKey()), request.restart());
        }
        catch (final CheckpointJournal.JournalBusyException ex)
        {
            throw new TransferException(ErrorCode.LIMIT_EXCEEDED, ex.getMessage(), ex);
        }
        catch (final IOException ex)
        {
            throw new TransferException(StorageErrors.classify(ex), "cannot open the checkpoint journal: " +
                StorageErrors.describe(ex), ex);
        }
    }

    /** The body of a transfer thread. */
    @FunctionalInterface
    private interface RoleBody
    {
        TransferReport run() throws InterruptedException;
    }

    private void run(final FrameConnection connection, final String what, final TransferStats stats,
        final RoleBody body)
    {
        try
        {
            final TransferReport report = body.run();
            LOG.info(() -> what + ": " + (report.complete() ? "completed" : "ended with problems") + ": " +
                describe(report));
        }
        catch (final TransferException ex)
        {
            LOG.warning(() -> what + ": failed: " + (ex.errorCode() == null ? "" : ex.errorCode() + ": ") +
                ex.getMessage() + "; " + describe(stats.report()));
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            connection.sendErrorAndClose(ErrorCode.SHUTTING_DOWN, "agent is shutting down");
        }
        catch (final RuntimeException ex)
        {
            LOG.log(Level.SEVERE, what + ": internal error", ex);
            connection.channel().writeAndFlush(ErrorFlyweight.encode(connection.channel().alloc(),
                ErrorCode.INTERNAL, ErrorFlyweight.CONNECTION, "internal error: " + ex))
                .addListener(f -> connection.channel().close());
        }
    }

    static String describe(final TransferReport report)
    {
        return String.format(Locale.ROOT,
            "%d committed, %d skipped, %d refused, %d failed, %d vanished, %d bytes (%d on the wire, %d re-sent, " +
            "%d resumed, %d damaged chunks) in %.3f s (%.1f MB/s)",
            report.committed(), report.skipped(), report.refused(), report.failed(), report.vanished(),
            report.bytes(), report.wireBytes(), report.resentBytes(), report.resumedBytes(), report.corruptChunks(),
            report.durationNs() / 1e9, report.bytesPerSecond() / 1e6) +
            (report.latency().isEmpty() ? "" : "; latency " + report.latency());
    }

    @Override
    public void close()
    {
        executor.shutdownNow();
        commitPool.close();
        try
        {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }
}
