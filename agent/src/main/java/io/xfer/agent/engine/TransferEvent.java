package io.xfer.agent.engine;

import io.xfer.protocol.ErrorCode;

/**
 * Something that happened to one entry of a transfer, as reported to a {@link TransferListener}.
 *
 * @param kind     what happened.
 * @param path     the entry's path relative to the transfer's destination.
 * @param fileType {@code FileEntryFlyweight.TYPE_*}, or 0 when unknown.
 * @param bytes    payload bytes moved for this entry.
 * @param code     the error code for failures, null otherwise.
 * @param message  a human-readable reason for failures and warnings, "" otherwise.
 * @param sha256   hex SHA-256 of a committed file's content when SHA-256 digests were asked for, else null.
 */
public record TransferEvent(
    Kind kind, String path, int fileType, long bytes, ErrorCode code, String message, String sha256)
{
    public TransferEvent(
        final Kind kind, final String path, final int fileType, final long bytes, final ErrorCode code,
        final String message)
    {
        this(kind, path, fileType, bytes, code, message, null);
    }

    /** What happened to an entry. */
    public enum Kind
    {
        /** Complete, verified and in place under its final name. */
        COMMITTED,
        /** The destination already held an identical entry. */
        SKIPPED,
        /** The destination exists and differs, and overwrite was not requested. */
        REFUSED,
        /** The entry failed; nothing was put under its final name. */
        FAILED,
        /** The source entry vanished before it could be sent. */
        VANISHED
    }
}
