package io.xfer.agent.engine;

import io.xfer.protocol.ErrorCode;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * The outcome of a transfer as seen by the side that ran it.
 *
 * @param committed            entries put in place (files, directories, symlinks).
 * @param skipped              entries the destination already held.
 * @param refused              entries refused because the destination exists and differs.
 * @param failed               entries that failed.
 * @param vanished             source entries that vanished before they could be sent.
 * @param verificationFailures failures that were checksum or digest mismatches.
 * @param bytes                payload bytes moved (file bytes, before compression).
 * @param wireBytes            payload bytes as sent on the network (after compression); as seen by this side.
 * @param resentBytes          payload bytes sent again after a stream died.
 * @param resumedBytes         bytes the receiver already held from an earlier run of the same transfer.
 * @param corruptChunks        journaled chunks found damaged on disk when resuming (sent again).
 * @param sourceChanges        source files that changed while being sent and were sent again from the start.
 * @param checksumRetries      chunks that arrived damaged and were sent again on request.
 * @param durationNs           wall time of the transfer.
 * @param firstError           code of the first refusal or failure, null when none.
 * @param firstErrorMessage    its message, null when none.
 * @param latency              percentiles of the latencies this side measured.
 * @param recorder             the histograms behind them.
 * @param plaintextData        the data connections went without TLS (PLAINTEXT_DATA was negotiated).
 * @param link                 the sizing for the link's bandwidth-delay product ({@code --bandwidth}), null
 *                             without one.
 */
public record TransferReport(
    long committed,
    long skipped,
    long refused,
    long failed,
    long vanished,
    long verificationFailures,
    long bytes,
    long wireBytes,
    long resentBytes,
    long resumedBytes,
    long corruptChunks,
    long sourceChanges,
    long checksumRetries,
    long durationNs,
    ErrorCode firstError,
    String firstErrorMessage,
    Map<LatencyRecorder.Metric, LatencyRecorder.Summary> latency,
    LatencyRecorder recorder,
    boolean plaintextData,
    LinkSizing link)
{
    /** @return bytes per second over the whole transfer. */
    public double bytesPerSecond()
    {
        return durationNs <= 0 ? 0 : bytes * 1e9 / durationNs;
    }

    /**
     * Write the HdrHistogram files of the latencies measured ({@code PREFIX}metric{@code .hgrm} and {@code .hlog}).
     */
    public void writeHistograms(final Path directory, final String prefix) throws IOException
    {
        if (recorder != null)
        {
            recorder.writeTo(directory, prefix);
        }
    }

    public boolean complete()
    {
        return refused == 0 && failed == 0 && vanished == 0;
    }
}
