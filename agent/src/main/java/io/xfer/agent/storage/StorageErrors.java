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

    /**
     * The same failure naming {@code path} whole, for a call made relative to a directory that named only the last
     * segment: same type where it matters to {@link #classify}, same reason, the original as the cause.
     */
    public static FileSystemException withPath(final FileSystemException ex, final java.nio.file.Path path)
    {
        final String file = path.toString();
        if (file.equals(ex.getFile()))
        {
            return ex;
        }
        final FileSystemException named;
        if (ex instanceof NoSuchFileException)
        {
            named = new NoSuchFileException(file, null, ex.getReason());
        }
        else if (ex instanceof AccessDeniedException)
        {
            named = new AccessDeniedException(file, null, ex.getReason());
        }
        else if (ex instanceof java.nio.file.FileAlreadyExistsException)
        {
            named = new java.nio.file.FileAlreadyExistsException(file, null, ex.getReason());
        }
        else if (ex instanceof java.nio.file.NotDirectoryException)
        {
            named = new java.nio.file.NotDirectoryException(file);
        }
        else
        {
            named = new FileSystemException(file, null, ex.getReason());
        }
        named.initCause(ex);
        return named;
    }

    public static String describe(final IOException ex)
    {
        final String message = ex.getMessage();
        return ex.getClass().getSimpleName() + (message == null ? "" : ": " + message);
    }
}
