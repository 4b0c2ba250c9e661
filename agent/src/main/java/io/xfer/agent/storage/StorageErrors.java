package io.xfer.agent.storage;

import io.xfer.protocol.ErrorCode;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;

/**
 * Maps file system failures to protocol error codes, so a full disk is reported as such and not as a generic
 * I/O error.
 */
public final class StorageErrors
{
    private StorageErrors()
    {
    }

    public static ErrorCode classify(final IOException ex)
    {
        if (ex instanceof AccessDeniedException)
        {
            return ErrorCode.PERMISSION_DENIED;
        }
        if (ex instanceof NoSuchFileException)
        {
            return ErrorCode.NOT_FOUND;
        }
        final String reason = ex instanceof FileSystemException fse ? fse.getReason() : ex.getMessage();
        if (reason != null)
        {
            if (reason.contains("No space left") || reason.contains("Disk quota exceeded"))
            {
                return ErrorCode.NO_SPACE;
            }
            if (reason.contains("Permission denied") || reason.contains("Read-only file system"))
            {
                return ErrorCode.PERMISSION_DENIED;
            }
        }
        return ErrorCode.IO_ERROR;
    }

    public static String describe(final IOException ex)
    {
        final String message = ex.getMessage();
        return ex.getClass().getSimpleName() + (message == null ? "" : ": " + message);
    }
}
