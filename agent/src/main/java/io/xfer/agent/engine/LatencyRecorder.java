package io.xfer.agent.engine;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramLogWriter;
import org.HdrHistogram.Recorder;

import java.io.ByteArrayOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * HdrHistogram latencies of one transfer: each chunk's round trip (sent to acknowledged), disk read and write time
 * per chunk, and time spent waiting for ring space. Recording is wait-free ({@link Recorder}) from any thread; the
 * role thread takes interval histograms about once a second and sums them for the end-of-transfer percentiles.
 * Interval histograms are recycled, so memory stays fixed however long the transfer runs; with an interval log
 * (the .hlog) each interval is encoded, compressed, as it is taken.
 * <p>
 * Only the metrics of the side a transfer is on get histograms (three each), at two significant digits: an agent
 * holds one recorder per running transfer, and at three digits and all four metrics that was 3.2 MB of heap each,
 * enough for a burst of transfers within {@code max_connections} to exhaust the default 256 MiB heap.
 */
public final class LatencyRecorder
{
    /** What is measured. */
    public enum Metric
    {
        CHUNK_RTT("chunk_rtt"),
        DISK_READ("disk_read"),
        DISK_WRITE("disk_write"),
        RING_WAIT("ring_wait");

        /** What a sending side measures. */
        public static final Set<Metric> SENDING =
            Collections.unmodifiableSet(EnumSet.of(CHUNK_RTT, DISK_READ, RING_WAIT));
        /** What a receiving side measures. */
        public static final Set<Metric> RECEIVING = Collections.unmodifiableSet(EnumSet.of(DISK_WRITE));

        private final String key;

        Metric(final String key)
        {
            this.key = key;
        }

        public String key()
        {
            return key;
        }
    }

    /** Percentiles in microseconds. */
    public record Summary(long count, double p50Us, double p90Us, double p99Us, double p999Us, double maxUs)
    {
        @Override
        public String toString()
        {
            return String.format(Locale.ROOT, "p50 %.0f us, p90 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us (%d)",
                p50Us, p90Us, p99Us, p999Us, maxUs, count);
        }
    }

    private static final long HIGHEST_TRACKABLE_NS = 3_600_000_000_000L;
    /** Values within 1%: 36 KB a histogram up to an hour in ns, where three digits took 270 KB. */
    private static final int SIGNIFICANT_DIGITS = 2;
    private static final long SAMPLE_INTERVAL_NS = 1_000_000_000L;

    private final Map<Metric, Recorder> recorders = new EnumMap<>(Metric.class);
    private final Map<Metric, Histogram> totals = new EnumMap<>(Metric.class);
    private final Map<Metric, Histogram> recycled = new EnumMap<>(Metric.class);
    /** Encoded interval log lines per metric, or null without an interval log. */
    private final Map<Metric, ByteArrayOutputStream> intervalLogs;
    private final Map<Metric, HistogramLogWriter> intervalWriters;
    private final long startMs = System.currentTimeMillis();
    private long lastSampleNs = System.nanoTime();

    /** Percentiles only, of every metric. */
    public LatencyRecorder()
    {
        this(false, EnumSet.allOf(Metric.class));
    }

    /**
     * @param intervalLog also keep the per-second interval histograms for {@link #writeTo}'s .hlog files.
     * @param metrics     what this side measures ({@link Metric#SENDING} or {@link Metric#RECEIVING}); values of
     *                    any other metric are not recorded.
     */
    public LatencyRecorder(final boolean intervalLog, final Set<Metric> metrics)
    {
        intervalLogs = intervalLog ? new EnumMap<>(Metric.class) : null;
        intervalWriters = intervalLog ? new EnumMap<>(Metric.class) : null;
        ByteBuffer scratch = null;
        for (final Metric metric : metrics)
        {
            final Recorder recorder = new Recorder(HIGHEST_TRACKABLE_NS, SIGNIFICANT_DIGITS);
            // an empty first interval, so that the recorder has its second histogram now: each interval from
            // then on swaps the two, and a transfer allocates no histogram after its start
            Histogram spare = recorder.getIntervalHistogram();
            if (intervalLog)
            {
                // each histogram keeps the buffer it encodes through (a few hundred KiB) from its first encoding
                // on: encode both of the pair once now, so that this too is a cost of starting, not of the
                // transfer's second and third second
                if (scratch == null)
                {
                    scratch = ByteBuffer.allocate(spare.getNeededByteBufferCapacity());
                }
                spare.encodeIntoCompressedByteBuffer(scratch.clear());
                spare = recorder.getIntervalHistogram(spare);
                spare.encodeIntoCompressedByteBuffer(scratch.clear());
            }
            recycled.put(metric, spare);
            recorders.put(metric, recorder);
            totals.put(metric, new Histogram(HIGHEST_TRACKABLE_NS, SIGNIFICANT_DIGITS));
            if (intervalLog)
            {
                final ByteArrayOutputStream log = new ByteArrayOutputStream();
                final HistogramLogWriter writer =
                    new HistogramLogWriter(new PrintStream(log, false, StandardCharsets.UTF_8));
                writer.setBaseTime(startMs);
                intervalLogs.put(metric, log);
                intervalWriters.put(metric, writer);
            }
        }
    }

    /** Record one measurement; any thread. A metric this recorder was not made for is dropped (an assertion). */
    public void record(final Metric metric, final long durationNs)
    {
        final Recorder recorder = recorders.get(metric);
        // a role records only its side's metrics: a miss is a bug the tests (run with assertions) catch
        assert recorder != null : metric + " is not measured on this side";
        if (recorder != null)
        {
            recorder.recordValue(Math.max(0, Math.min(durationNs, HIGHEST_TRACKABLE_NS)));
        }
    }

    /** Take interval histograms if a second has passed; one thread (the role's). */
    public void sample(final long nowNs)
    {
        if (nowNs - lastSampleNs >= SAMPLE_INTERVAL_NS)
        {
            takeIntervals();
            lastSampleNs = nowNs;
        }
    }

    private void takeIntervals()
    {
        for (final Metric metric : recorders.keySet())
        {
            final Histogram interval = recorders.get(metric).getIntervalHistogram(recycled.get(metric));
            recycled.put(metric, interval);
            if (interval.getTotalCount() > 0)
            {
                totals.get(metric).add(interval);
                if (intervalWriters != null)
                {
                    intervalWriters.get(metric).outputIntervalHistogram(interval);
                }
            }
        }
    }

    /**
     * Close the last interval and return the percentiles of every metric that saw values.
     */
    public synchronized Map<Metric, Summary> finish()
    {
        takeIntervals();
        final Map<Metric, Summary> summaries = new EnumMap<>(Metric.class);
        for (final Metric metric : totals.keySet())
        {
            final Histogram total = totals.get(metric);
            if (total.getTotalCount() > 0)
            {
                summaries.put(metric, new Summary(total.getTotalCount(),
                    total.getValueAtPercentile(50) / 1e3, total.getValueAtPercentile(90) / 1e3,
                    total.getValueAtPercentile(99) / 1e3, total.getValueAtPercentile(99.9) / 1e3,
                    total.getMaxValue() / 1e3));
            }
        }
        return summaries;
    }

    /**
     * Write {@code METRIC.hgrm} (percentile distribution in microseconds) and, with an interval log,
     * {@code METRIC.hlog} (interval log, in nanoseconds) for each metric that saw values. Call after
     * {@link #finish()}.
     */
    public synchronized void writeTo(final Path directory, final String prefix) throws IOException
    {
        Files.createDirectories(directory);
        for (final Metric metric : totals.keySet())
        {
            final Histogram total = totals.get(metric);
            if (total.getTotalCount() == 0)
            {
                continue;
            }
            final String base = prefix + metric.key();
            try (PrintStream out = new PrintStream(
                new FileOutputStream(directory.resolve(base + ".hgrm").toFile()), false, StandardCharsets.UTF_8))
            {
                total.outputPercentileDistribution(out, 1000.0);
            }
            if (intervalLogs == null)
            {
                continue;
            }
            try (PrintStream out = new PrintStream(
                new FileOutputStream(directory.resolve(base + ".hlog").toFile()), false, StandardCharsets.UTF_8))
            {
                final HistogramLogWriter writer = new HistogramLogWriter(out);
                writer.outputLogFormatVersion();
                writer.outputStartTime(startMs);
                writer.setBaseTime(startMs);
                writer.outputLegend();
                out.flush();
                intervalWriters.get(metric).close();
                intervalLogs.get(metric).writeTo(out);
            }
        }
    }
}
