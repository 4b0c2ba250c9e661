package io.xfer.agent.storage;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.attribute.FileAttribute;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The directories a receiver writes into, held open so that its temporary files are created and removed by name
 * relative to the directory ({@code openat}, {@code unlinkat} through {@link SecureDirectoryStream}) instead of by
 * a path the kernel walks from the root again for every file. On a tree of small files the receiver's thread spends
 * most of its time in the system calls that create, link and remove each file, and their path walks are a good part
 * of that (profiled).
 *
 * <p>The {@value #MAX_OPEN} directories used last stay open; where the platform has no
 * {@link SecureDirectoryStream}, or a directory cannot be opened, the calls take whole paths as before. A file that
 * cannot be created relative to its directory is tried again by its whole path, so that a failure is reported, and
 * worded, as it always was. Not thread-safe: one receiver's thread uses it, and closes it when its transfer ends.
 */
public final class DirectoryHandles implements AutoCloseable
{
    /** Directories held open at most (the JDK holds two descriptors for each). */
    static final int MAX_OPEN = 16;

    private final Map<Path, SecureDirectoryStream<Path>> open = new LinkedHashMap<>(2 * MAX_OPEN, 0.75f, true);
    private boolean unsupported;

    /**
     * Open (or create) {@code file} as {@link FileChannel#open(Path, Set, FileAttribute[])} would, relative to its
     * directory where it can.
     */
    public FileChannel openFile(
        final Path file, final Set<? extends OpenOption> options, final FileAttribute<?> attribute) throws IOException
    {
        final SecureDirectoryStream<Path> directory = directory(file.getParent(), true);
        if (directory != null)
        {
            try
            {
                final SeekableByteChannel channel = directory.newByteChannel(file.getFileName(), options, attribute);
                if (channel instanceof FileChannel fileChannel)
                {
                    return fileChannel;
                }
                channel.close();
            }
            catch (final FileAlreadyExistsException ex)
            {
                throw new FileAlreadyExistsException(file.toString());
            }
            catch (final IOException ex)
            {
                // by its whole path again, for the usual exception and message
            }
        }
        return FileChannel.open(file, options, attribute);
    }

    /**
     * Remove {@code file}, a regular file this receiver made: relative to its directory when that is open, else by
     * its whole path.
     */
    public void deleteFile(final Path file) throws IOException
    {
        final SecureDirectoryStream<Path> directory = directory(file.getParent(), false);
        if (directory != null)
        {
            try
            {
                directory.deleteFile(file.getFileName());
                return;
            }
            catch (final IOException ex)
            {
                // by its whole path again, for the usual exception and message
            }
        }
        FileMetadata.deleteOwnFile(file);
    }

    /** @return how many directories are open now (tests). */
    int openCount()
    {
        return open.size();
    }

    /** @return the open directory, opened now if {@code openIfMissing}; null where none can be had. */
    private SecureDirectoryStream<Path> directory(final Path path, final boolean openIfMissing)
    {
        if (unsupported || path == null)
        {
            return null;
        }
        final SecureDirectoryStream<Path> known = open.get(path);
        if (known != null || !openIfMissing)
        {
            return known;
        }
        final DirectoryStream<Path> stream;
        try
        {
            stream = Files.newDirectoryStream(path);
        }
        catch (final IOException | RuntimeException ex)
        {
            return null;
        }
        if (!(stream instanceof SecureDirectoryStream<Path> secure))
        {
            unsupported = true;
            closeQuietly(stream);
            return null;
        }
        if (open.size() >= MAX_OPEN)
        {
            final Iterator<SecureDirectoryStream<Path>> eldest = open.values().iterator();
            closeQuietly(eldest.next());
            eldest.remove();
        }
        open.put(path, secure);
        return secure;
    }

    @Override
    public void close()
    {
        for (final SecureDirectoryStream<Path> directory : open.values())
        {
            closeQuietly(directory);
        }
        open.clear();
    }

    private static void closeQuietly(final DirectoryStream<Path> stream)
    {
        try
        {
            stream.close();
        }
        catch (final IOException ignore)
        {
            // a directory opened for reading: nothing was written through it
        }
    }
}
