package io.xfer.agent.engine;

import io.xfer.protocol.ErrorCode;

/**
 * The outcome of a transfer as seen by the side that ran it.
 *
 * @param committed            entries put in place (files, directories, symlinks).
 * @param skipped              entries the destination already held.
 * @param refused              entries refused because the destination exists and differs.
 * @param failed               entries that failed.
 * @param vanished             source entries that vanished before they could be sent.
 * @param verificationFailures failures that were checksum or digest mismatches.
 * @param bytes                payload bytes moved.
 * @param durationNs           wall time of the transfer.
 * @param firstError           code of the first refusal or failure, null when none.
 * @param firstErrorMessage    its message, null when none.
 */
public record TransferReport(
    long committed,
    long skipped,
    long refused,
    long failed,
    long vanished,
    long verificationFailures,
    long bytes,
    long durationNs,
    ErrorCode firstError,
    String firstErrorMessage)
{
    /** @return bytes per second over the whole transfer. */
    public double bytesPerSecond()
    {
        return durationNs <= 0 ? 0 : bytes * 1e9 / durationNs;
    }

    public boolean complete()
    {
        return refused == 0 && failed == 0 && vanished == 0;
    }
}
