package io.xfer.tools;

import io.xfer.agent.engine.LinkSizing;
import io.xfer.agent.engine.TransferEvent;
import io.xfer.agent.engine.TransferException;
import io.xfer.agent.engine.TransferListener;
import io.xfer.agent.engine.TransferReport;
import io.xfer.protocol.FileEntryFlyweight;

import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Writes what a command does: human lines, or with {@code --json} one JSON object per line per event and a final
 * summary object. Problems go to stderr in human mode; in JSON mode everything is on stdout so one stream holds the
 * whole record.
 *
 * <p>Per-file JSON events are buffered: a transfer of many small files would otherwise pay a write system call per
 * file (measured: 4% of the client's CPU for 20,000 files of 4 KiB). The buffer goes out when it reaches
 * {@link #FLUSH_BYTES}, at the latest {@link #FLUSH_INTERVAL_MS} ms after an event was buffered (a daemon thread
 * sees to that while the transfer is busy with a large file), and before any other line, so the order of lines is
 * kept. {@link #close} flushes what is left, and so does a shutdown hook when the process is stopped by a signal.
 */
final class Output implements TransferListener, AutoCloseable
{
    static final int FLUSH_BYTES = 64 * 1024;
    static final long FLUSH_INTERVAL_MS = 100;

    private final PrintStream out;
    private final PrintStream err;
    private final boolean json;
    private final boolean quiet;
    private final boolean verbose;
    private final StringBuilder pending = new StringBuilder();
    private ScheduledExecutorService flusher;
    /** Flushes at JVM exit (Ctrl-C, SIGTERM) what the flusher has not written yet. */
    private Thread exitFlush;

    Output(final PrintStream out, final PrintStream err, final boolean json, final boolean quiet, final boolean verbose)
    {
        this.out = out;
        this.err = err;
        this.json = json;
        this.quiet = quiet;
        this.verbose = verbose;
    }

    boolean json()
    {
        return json;
    }

    @Override
    public void onEvent(final TransferEvent event)
    {
        final boolean problem = event.kind() == TransferEvent.Kind.FAILED ||
            event.kind() == TransferEvent.Kind.REFUSED || event.kind() == TransferEvent.Kind.VANISHED;
        if (json)
        {
            final Json line = new Json()
                .field("event", event.kind().name().toLowerCase(Locale.ROOT))
                .field("path", event.path())
                .field("type", typeName(event.fileType()))
                .field("bytes", event.bytes());
            if (event.sha256() != null)
            {
                line.field("sha256", event.sha256());
            }
            if (event.code() != null)
            {
                line.field("error", event.code().name()).field("code", event.code().code())
                    .field("message", event.message());
            }
            buffer(line.toString());
        }
        else if (problem)
        {
            err.println("xfer: " + event.kind().name().toLowerCase(Locale.ROOT) + ": " + event.path() + ": " +
                event.message());
        }
        else if (verbose && !quiet)
        {
            out.println(event.kind().name().toLowerCase(Locale.ROOT) + " " + event.path());
        }
    }

    /** What moved the bytes in this process: the network transport ("epoll", "nio") and TLS ("BoringSSL", "JDK"). */
    record Engine(String transport, String tls)
    {
    }

    void summary(
        final String operation, final String endpoint, final TransferReport report, final int exitCode,
        final long heapAllocatedBytes, final Engine engine)
    {
        flush();
        if (json)
        {
            out.println(summaryJson(operation, endpoint, report, exitCode, heapAllocatedBytes, engine));
            return;
        }
        if (quiet)
        {
            return;
        }
        out.println(String.format(Locale.ROOT,
            "%s %s: %d committed, %d skipped, %d refused, %d failed, %d vanished; %s in %.2f s (%s/s)",
            operation, endpoint, report.committed(), report.skipped(), report.refused(), report.failed(),
            report.vanished(), bytes(report.bytes()), report.durationNs() / 1e9, bytes((long)report.bytesPerSecond())));
        if (verbose)
        {
            out.println(String.format(Locale.ROOT, "  on the wire %s, re-sent %s, resumed %s", bytes(report.wireBytes()),
                bytes(report.resentBytes()), bytes(report.resumedBytes())));
            report.latency().forEach((metric, summary) -> out.println("  " + metric.key() + ": " + summary));
            if (report.link() != null)
            {
                out.println("  " + report.link().describe());
            }
            out.println("  transport " + engine.transport() + ", TLS " + engine.tls());
        }
    }

    static String summaryJson(
        final String operation, final String endpoint, final TransferReport report, final int exitCode,
        final long heapAllocatedBytes, final Engine engine)
    {
        final Json latency = new Json();
        report.latency().forEach((metric, summary) -> latency.raw(metric.key() + "_us", new Json()
            .field("count", summary.count())
            .field("p50", summary.p50Us())
            .field("p90", summary.p90Us())
            .field("p99", summary.p99Us())
            .field("p999", summary.p999Us())
            .field("max", summary.maxUs())
            .toString()));
        final Json summary = new Json()
            .field("event", "summary")
            .field("operation", operation)
            .field("endpoint", endpoint)
            .field("committed", report.committed())
            .field("skipped", report.skipped())
            .field("refused", report.refused())
            .field("failed", report.failed())
            .field("vanished", report.vanished())
            .field("bytes", report.bytes())
            .field("wire_bytes", report.wireBytes())
            .field("resent_bytes", report.resentBytes())
            .field("resumed_bytes", report.resumedBytes())
            .field("corrupt_chunks", report.corruptChunks())
            .field("source_changes", report.sourceChanges())
            .field("seconds", report.durationNs() / 1e9)
            .field("bytes_per_second", report.bytesPerSecond())
            .field("heap_allocated_bytes", heapAllocatedBytes)
            .field("data_connections", report.plaintextData() ? "plaintext" : "tls")
            .field("transport", engine.transport())
            .field("tls_provider", engine.tls())
            .raw("latency", latency.toString());
        final LinkSizing link = report.link();
        if (link != null)
        {
            summary.raw("link", new Json()
                .field("bandwidth_bytes_per_second", link.bandwidthBytesPerSecond())
                .field("rtt_us", link.rttNs() / 1e3)
                .field("bdp_bytes", link.bdpBytes())
                .field("streams", link.streams())
                .field("window_bytes", link.windowBytes())
                .field("socket_buffer_bytes", link.socketBufferBytes())
                .field("limited", !link.advice().isEmpty())
                .toString());
        }
        return summary.field("exit_code", exitCode).toString();
    }

    void error(final String message, final String errorName, final int exitCode)
    {
        flush();
        if (json)
        {
            out.println(new Json().field("event", "error").field("error", errorName).field("message", message)
                .field("exit_code", exitCode));
        }
        else
        {
            err.println("xfer: " + message);
        }
    }

    /**
     * Report a transfer that failed as a whole.
     *
     * @return its exit code.
     */
    int failure(final TransferException ex)
    {
        final int exitCode = ExitCodes.of(ex);
        String message = ex.getMessage();
        if (exitCode == ExitCode.TLS)
        {
            message += " (check --cert, --key and --ca; the agent must trust the client certificate's CA)";
        }
        error(message, ex.errorCode() != null ? ex.errorCode().name() : exitCode == ExitCode.TLS ? "TLS" :
            "CONNECTION", exitCode);
        return exitCode;
    }

    /**
     * The process is ending on a signal (SIGINT, SIGTERM, SIGHUP) while a transfer runs: its exit status is the
     * signal's (130, 143, 129), which this process cannot tell apart, so the event carries none.
     */
    void interrupted(final String message)
    {
        flush();
        if (json)
        {
            out.println(new Json().field("event", "error").field("error", "INTERRUPTED").field("message", message));
        }
        else
        {
            err.println("xfer: " + message);
        }
        out.flush();
        err.flush();
    }

    void retry(final int attempt, final int retries, final long delayNs, final String reason)
    {
        flush();
        if (json)
        {
            out.println(new Json().field("event", "retry").field("attempt", attempt).field("retries", retries)
                .field("delay_seconds", delayNs / 1e9).field("reason", reason));
        }
        else if (!quiet)
        {
            err.println(String.format(Locale.ROOT, "xfer: %s; retry %d of %d in %.1f s (resuming)", reason, attempt,
                retries, delayNs / 1e9));
        }
    }

    void raw(final String line)
    {
        flush();
        out.println(line);
    }

    void info(final String message)
    {
        if (!json && !quiet)
        {
            out.println(message);
        }
    }

    private synchronized void buffer(final String line)
    {
        pending.append(line).append(System.lineSeparator());
        if (pending.length() >= FLUSH_BYTES)
        {
            flush();
        }
        else if (flusher == null)
        {
            flusher = Executors.newSingleThreadScheduledExecutor(task ->
            {
                final Thread thread = new Thread(task, "xfer-output-flush");
                thread.setDaemon(true);
                return thread;
            });
            flusher.scheduleWithFixedDelay(this::flush, FLUSH_INTERVAL_MS, FLUSH_INTERVAL_MS, TimeUnit.MILLISECONDS);
            exitFlush = new Thread(this::flush, "xfer-output-exit");
            try
            {
                Runtime.getRuntime().addShutdownHook(exitFlush);
            }
            catch (final IllegalStateException ex)
            {
                exitFlush = null; // already shutting down
            }
        }
    }

    /** Write out the buffered events, if any. */
    synchronized void flush()
    {
        if (pending.length() > 0)
        {
            out.print(pending);
            out.flush();
            pending.setLength(0);
        }
    }

    /** Flush and stop the flushing thread. */
    @Override
    public synchronized void close()
    {
        flush();
        if (flusher != null)
        {
            flusher.shutdownNow();
            flusher = null;
        }
        if (exitFlush != null)
        {
            try
            {
                Runtime.getRuntime().removeShutdownHook(exitFlush);
            }
            catch (final IllegalStateException ex)
            {
                // shutting down: the hook runs, flushing nothing more
            }
            exitFlush = null;
        }
    }

    static String typeName(final int fileType)
    {
        switch (fileType)
        {
            case FileEntryFlyweight.TYPE_FILE: return "file";
            case FileEntryFlyweight.TYPE_DIRECTORY: return "directory";
            case FileEntryFlyweight.TYPE_SYMLINK: return "symlink";
            default: return "unknown";
        }
    }

    static String bytes(final long bytes)
    {
        if (bytes < 1024)
        {
            return bytes + " B";
        }
        final String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB"};
        double value = bytes;
        int unit = -1;
        while (value >= 1024 && unit < units.length - 1)
        {
            value /= 1024;
            unit++;
        }
        return String.format(Locale.ROOT, "%.1f %s", value, units[unit]);
    }
}
