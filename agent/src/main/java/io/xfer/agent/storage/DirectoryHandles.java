package io.xfer.agent.storage;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFileAttributeView;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The directories a receiver writes into, each opened from its anchor (the module root, or a client's destination)
 * one name at a time without following a symlink ({@link SecureDirectoryStream}, {@code openat} with
 * {@code O_NOFOLLOW}), and held open: temporary files are created and removed relative to them ({@code openat},
 * {@code unlinkat}), and directories get their mode and mtime through their own descriptors.
 *
 * <p>Two reasons. A directory inside the anchor that a local user swaps for a symlink during a transfer then leads
 * nowhere outside it: the receiver checks the directories on a path once per transfer ({@link ModuleRoot}), and a
 * whole path used after that check would follow such a swap. And the kernel does not walk each file's whole path
 * from the root again: on a tree of small files the receiver's thread spends most of its time in the system calls
 * that create, link and remove each file, and their path walks are a good part of that (profiled).
 *
 * <p>The {@value #MAX_OPEN} directories used last stay open. A directory held open that was removed meanwhile is
 * opened again from the anchor. Failures name the whole path. A path outside the anchor, or a platform without
 * {@link SecureDirectoryStream}, takes whole paths as before. Not thread-safe: one receiver's thread uses it, and
 * closes it when its transfer ends.
 */
public final class DirectoryHandles implements AutoCloseable
{
    /** Directories held open at most (the JDK holds two descriptors for each). */
    static final int MAX_OPEN = 16;

    private final Path anchor;
    private final Map<Path, SecureDirectoryStream<Path>> open = new LinkedHashMap<>(2 * MAX_OPEN, 0.75f, true);
    private boolean unsupported;

    /** @param anchor the directory everything is written under, itself opened by its path. */
    public DirectoryHandles(final Path anchor)
    {
        this.anchor = anchor;
    }

    /**
     * Open (or create) {@code file} as {@link FileChannel#open(Path, Set, FileAttribute[])} would, relative to its
     * directory, which is reached from the anchor without following a symlink.
     */
    public FileChannel openFile(
        final Path file, final Set<? extends OpenOption> options, final FileAttribute<?> attribute) throws IOException
    {
        final Path parent = file.getParent();
        try
        {
            SecureDirectoryStream<Path> directory = searchable(parent);
            if (directory == null)
            {
                return FileChannel.open(file, options, attribute);
            }
            SeekableByteChannel channel;
            try
            {
                channel = directory.newByteChannel(file.getFileName(), options, attribute);
            }
            catch (final NoSuchFileException ex)
            {
                // a directory held open may have been removed (and made again): from the anchor once more
                close();
                directory = directory(parent);
                if (directory == null)
                {
                    throw ex;
                }
                channel = directory.newByteChannel(file.getFileName(), options, attribute);
            }
            if (channel instanceof FileChannel fileChannel)
            {
                return fileChannel;
            }
            channel.close();
            throw new IOException("no file channel for " + file);
        }
        catch (final FileSystemException ex)
        {
            throw StorageErrors.withPath(ex, file);
        }
    }

    /**
     * Remove {@code file}, a regular file this receiver made: relative to its directory when that is open, else by
     * its whole path.
     */
    public void deleteFile(final Path file) throws IOException
    {
        final SecureDirectoryStream<Path> directory = open.get(file.getParent());
        if (directory != null)
        {
            try
            {
                directory.deleteFile(file.getFileName());
                return;
            }
            catch (final IOException ex)
            {
                // a directory removed meanwhile: by its whole path, for the usual outcome and message
            }
        }
        FileMetadata.deleteOwnFile(file);
    }

    /**
     * Give the directory {@code path} its mtime and mode (the nine rwx bits) through its own descriptor, reached as
     * {@link #openFile} reaches a file's directory.
     *
     * @return false where that cannot be done here (a path outside the anchor, a directory on the way that cannot be
     * read, no {@link SecureDirectoryStream}): the caller sets them by name.
     */
    public boolean writeDirectoryMetadata(final Path path, final int mode, final long mtimeNs) throws IOException
    {
        try
        {
            final SecureDirectoryStream<Path> directory = searchable(path);
            if (directory == null)
            {
                return false;
            }
            final PosixFileAttributeView view = directory.getFileAttributeView(PosixFileAttributeView.class);
            view.setTimes(FileTime.from(mtimeNs, TimeUnit.NANOSECONDS), FileTime.fromMillis(System.currentTimeMillis()),
                null);
            view.setPermissions(FileMetadata.permissions(mode & 0777));
            return true;
        }
        catch (final FileSystemException ex)
        {
            throw StorageErrors.withPath(ex, path);
        }
    }

    /** @return how many directories are open now (tests). */
    int openCount()
    {
        return open.size();
    }

    /**
     * As {@link #directory}, but null for a directory on the way that may be searched and not read (an upload-only
     * directory, mode 0733 for another user): opening it needs read permission, a whole path does not, so such a
     * path is used whole, as before.
     */
    private SecureDirectoryStream<Path> searchable(final Path path) throws IOException
    {
        try
        {
            return directory(path);
        }
        catch (final java.nio.file.AccessDeniedException ex)
        {
            return null;
        }
    }

    /**
     * The directory {@code path}, opened now if it is not open: under the anchor from its parent, without following
     * a symlink; the anchor itself, or a path outside it, by its path.
     *
     * @return null where the platform has no {@link SecureDirectoryStream}, or {@code path} is outside the anchor.
     */
    private SecureDirectoryStream<Path> directory(final Path path) throws IOException
    {
        if (unsupported || path == null || anchor == null || !path.startsWith(anchor))
        {
            return null;
        }
        final SecureDirectoryStream<Path> known = open.get(path);
        if (known != null)
        {
            return known;
        }
        final DirectoryStream<Path> stream;
        if (path.equals(anchor))
        {
            stream = Files.newDirectoryStream(path);
        }
        else
        {
            final SecureDirectoryStream<Path> parent = directory(path.getParent());
            if (parent == null)
            {
                return null;
            }
            stream = parent.newDirectoryStream(path.getFileName(), LinkOption.NOFOLLOW_LINKS);
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
