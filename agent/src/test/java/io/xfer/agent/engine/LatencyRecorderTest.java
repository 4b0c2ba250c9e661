package io.xfer.agent.engine;

import io.xfer.agent.engine.LatencyRecorder.Metric;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One recorder per transfer: what it measures for its side, how close its percentiles are, and which histogram
 * files it writes. What it costs in heap is in {@link TransferFootprintTest}.
 */
class LatencyRecorderTest
{
    @TempDir
    Path work;

    @Test
    void shouldKeepOnlyTheMetricsOfItsSideAndReportThemWithinOnePercent()
    {
        final LatencyRecorder sending = new LatencyRecorder(false, Metric.SENDING);
        for (long us = 1; us <= 1_000; us++)
        {
            sending.record(Metric.CHUNK_RTT, us * 1_000);
            sending.record(Metric.DISK_READ, us * 2_000);
        }
        sending.record(Metric.RING_WAIT, 5_000_000);
        // not this side's: a bug, which tests (run with assertions) catch
        assertThrows(AssertionError.class, () -> sending.record(Metric.DISK_WRITE, 1_000));

        final Map<Metric, LatencyRecorder.Summary> summaries = sending.finish();
        assertEquals(Set.of(Metric.CHUNK_RTT, Metric.DISK_READ, Metric.RING_WAIT), summaries.keySet());
        final LatencyRecorder.Summary rtt = summaries.get(Metric.CHUNK_RTT);
        assertEquals(1_000, rtt.count());
        assertEquals(500, rtt.p50Us(), 5);
        assertEquals(990, rtt.p99Us(), 9.9);
        assertEquals(999, rtt.p999Us(), 10);
        assertEquals(1_000, rtt.maxUs(), 10);
        assertEquals(1_000, summaries.get(Metric.DISK_READ).p50Us(), 10);
        assertEquals(5_000, summaries.get(Metric.RING_WAIT).maxUs(), 50);

        final LatencyRecorder receiving = new LatencyRecorder(false, Metric.RECEIVING);
        receiving.record(Metric.DISK_WRITE, 42_000);
        assertThrows(AssertionError.class, () -> receiving.record(Metric.CHUNK_RTT, 1_000));
        assertEquals(Set.of(Metric.DISK_WRITE), receiving.finish().keySet());
        assertEquals(42, receiving.finish().get(Metric.DISK_WRITE).maxUs(), 0.42);
    }

    @Test
    void shouldWriteFilesForTheMetricsThatSawValuesOnly() throws Exception
    {
        final LatencyRecorder recorder = new LatencyRecorder(true, Metric.SENDING);
        recorder.record(Metric.CHUNK_RTT, 3_000_000);
        recorder.finish();
        recorder.writeTo(work, "send-");
        try (Stream<Path> files = Files.list(work))
        {
            assertEquals(List.of("send-chunk_rtt.hgrm", "send-chunk_rtt.hlog"),
                files.map(file -> file.getFileName().toString()).sorted().toList());
        }
        // 3 ms, in microseconds, within 1%
        final String hgrm = Files.readString(work.resolve("send-chunk_rtt.hgrm"));
        final Matcher max = Pattern.compile("#\\[Max\\s+=\\s+([0-9.]+)").matcher(hgrm);
        assertTrue(max.find(), hgrm);
        assertEquals(3_000, Double.parseDouble(max.group(1)), 30, hgrm);
    }
}
