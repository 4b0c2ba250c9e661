package io.xfer.agent.net;

import io.netty.channel.ChannelHandlerContext;
import io.xfer.agent.config.AgentConfig;
import io.xfer.agent.config.ModuleConfig;
import io.xfer.agent.engine.FrameConnection;
import io.xfer.agent.engine.Receiver;
import io.xfer.agent.engine.Sender;
import io.xfer.agent.engine.TransferException;
import io.xfer.agent.engine.TransferListener;
import io.xfer.agent.engine.TransferReport;
import io.xfer.agent.engine.TransferStats;
import io.xfer.agent.storage.ModuleRoot;
import io.xfer.agent.storage.SourceWalker;
import io.xfer.protocol.ErrorCode;
import io.xfer.protocol.ErrorFlyweight;
import io.xfer.protocol.OpenAckFlyweight;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Starts the role of an accepted OPEN on a transfer thread, so that disk I/O never runs on an event loop, and logs
 * one audit line per transfer: who moved what, where, and how it ended.
 */
final class TransferDispatcher implements AutoCloseable
{
    private static final Logger LOG = Logger.getLogger(TransferDispatcher.class.getName());

    private final AgentConfig config;
    private final ExecutorService executor;

    /** An OPEN that passed the access checks. */
    record Request(
        boolean push,
        ModuleConfig module,
        String path,
        boolean overwrite,
        boolean contents,
        int chunkLength,
        String identity,
        long transferId)
    {
    }

    TransferDispatcher(final AgentConfig config)
    {
        this.config = config;
        final AtomicInteger counter = new AtomicInteger();
        this.executor = Executors.newCachedThreadPool(runnable ->
        {
            final Thread thread = new Thread(runnable, "xfer-transfer-" + counter.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
    }

    /**
     * Called on the event loop with the OPEN accepted: resolve the paths, switch the pipeline to a
     * {@link FrameConnection}, acknowledge, and run the role on a transfer thread.
     */
    void start(final ChannelHandlerContext ctx, final Request request)
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

        final FrameConnection connection = new FrameConnection(ctx.channel(), config.receiveQueueBytes());
        ctx.pipeline().replace(ctx.handler(), "session", connection);
        connection.send(OpenAckFlyweight.encode(ctx.alloc(), request.transferId(), request.chunkLength()));
        connection.flush();

        final String what = String.format(Locale.ROOT, "transfer %016x %s by %s from %s, module %s path '%s'",
            request.transferId(), request.push() ? "push" : "pull", request.identity(),
            ctx.channel().remoteAddress(), request.module().name(), request.path());
        LOG.info(() -> what + ": started, chunk " + request.chunkLength() + " bytes");
        executor.execute(() -> run(connection, request, root, source, what));
    }

    private void run(
        final FrameConnection connection,
        final Request request,
        final ModuleRoot root,
        final Path source,
        final String what)
    {
        final TransferStats stats = new TransferStats(TransferListener.NONE);
        try
        {
            final TransferReport report;
            if (request.push())
            {
                report = new Receiver(connection, root, request.path(), request.overwrite(), request.transferId(),
                    stats, request.chunkLength(), config.idleTimeoutNs()).run();
            }
            else
            {
                final String name = request.contents() ? "" : source.getFileName().toString();
                final SourceWalker walker = new SourceWalker(List.of(new SourceWalker.Root(source, name)),
                    (path, code, message) -> LOG.warning(() -> what + ": " + path + ": " + message));
                report = new Sender(connection, walker, stats, request.chunkLength(), config.idleTimeoutNs()).run();
            }
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
            "%d committed, %d skipped, %d refused, %d failed, %d vanished, %d bytes in %.3f s (%.1f MB/s)",
            report.committed(), report.skipped(), report.refused(), report.failed(), report.vanished(),
            report.bytes(), report.durationNs() / 1e9, report.bytesPerSecond() / 1e6);
    }

    @Override
    public void close()
    {
        executor.shutdownNow();
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
