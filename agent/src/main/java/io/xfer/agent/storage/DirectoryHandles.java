package io.xfer.agent.storage;

import java.io.IOException;
import java.lang.reflect.Field;
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
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFileAttributeView;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * The directories a receiver writes into, each opened from its anchor (the module root, or a client's destination)
 * one name at a time without following a symlink ({@link SecureDirectoryStream}, {@code openat} with
 * {@code O_NOFOLLOW}), and held open: temporary files are created and removed relative to them ({@code openat},
 * {@code unlinkat}), what is already under a name is read the same way ({@code fstatat}), entries are renamed and
 * removed within them ({@code renameat}, {@code unlinkat}), and directories get their mode and mtime through their own
 * descriptors. For the calls the JDK has no *at form of (creating a directory or a symlink, reading a symlink, a
 * symlink's own mtime), the path given to the kernel is {@code /proc/self/fd/N/name}: it resolves through the open
 * descriptor itself, as the *at calls do.
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
 *
 * <p>The sending side's {@link SourceWalker} reaches the files it opens after its walk has moved on the same way, from
 * the walk's roots: several bases rather than one anchor, and a directory on the way that it cannot read fails the
 * file there rather than leaving its path whole.
 */
public final class DirectoryHandles implements AutoCloseable
{
    /** Directories held open at most (the JDK holds two descriptors for each). */
    static final int MAX_OPEN = 16;
    /** Where the kernel names this process's open descriptors. */
    private static final String DESCRIPTORS = "/proc/self/fd";
    /**
     * The descriptor of the JDK's {@link SecureDirectoryStream} ({@code sun.nio.fs.UnixSecureDirectoryStream.dfd},
     * open to this code with {@code --add-opens java.base/sun.nio.fs}); null where it cannot be read, or there is
     * no {@value #DESCRIPTORS}: then the calls without an *at form take whole paths, as before.
     */
    private static final Field DESCRIPTOR = descriptorField();

    /** Where directories are reached from, each opened by its path; null: everything by whole paths. */
    private final Predicate<Path> isBase;
    /** Whether a directory on the way that may be searched but not read leaves its paths whole (see searchable). */
    private final boolean wholeWhereUnreadable;
    private final Map<Path, SecureDirectoryStream<Path>> open = new LinkedHashMap<>(2 * MAX_OPEN, 0.75f, true);
    private boolean unsupported;

    /** @param anchor the directory everything is written under, itself opened by its path. */
    public DirectoryHandles(final Path anchor)
    {
        this(anchor == null ? null : anchor::equals, true);
    }

    /**
     * @param isBase whether a directory is one that others are reached from (opened by its path, as whoever chose
     * it resolved it): a path under none of them is used whole
     * @param wholeWhereUnreadable whether a directory on the way that may be searched but not read leaves its paths
     * whole (a receiver's), or fails them (a sender's)
     */
    DirectoryHandles(final Predicate<Path> isBase, final boolean wholeWhereUnreadable)
    {
        this.isBase = isBase;
        this.wholeWhereUnreadable = wholeWhereUnreadable;
    }

    /**
     * Open (or create) {@code file} as {@link FileChannel#open(Path, Set, FileAttribute[])} would, relative to its
     * directory, which is reached from the anchor without following a symlink.
     */
    public FileChannel openFile(
        final Path file, final Set<? extends OpenOption> options, final FileAttribute<?>... attributes)
        throws IOException
    {
        final Path parent = file.getParent();
        try
        {
            SecureDirectoryStream<Path> directory = searchable(parent);
            if (directory == null)
            {
                return FileChannel.open(file, options, attributes);
            }
            SeekableByteChannel channel;
            try
            {
                channel = directory.newByteChannel(file.getFileName(), options, attributes);
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
                channel = directory.newByteChannel(file.getFileName(), options, attributes);
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
     * @return {@code path}'s attributes, not following a symlink at its name ({@code fstatat} relative to its
     * directory), or null if there is nothing under that name
     */
    public BasicFileAttributes attributes(final Path path) throws IOException
    {
        try
        {
            final SecureDirectoryStream<Path> directory = searchable(path.getParent());
            return directory == null ? Files.readAttributes(path, BasicFileAttributes.class,
                LinkOption.NOFOLLOW_LINKS) : directory.getFileAttributeView(path.getFileName(),
                BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS).readAttributes();
        }
        catch (final NoSuchFileException ex)
        {
            return null;
        }
        catch (final FileSystemException ex)
        {
            throw StorageErrors.withPath(ex, path);
        }
    }

    /** Create the directory {@code path} with the default mode, in its parent as reached from the anchor. */
    public void createDirectory(final Path path) throws IOException
    {
        inDirectory(path, reached -> Files.createDirectory(reached));
    }

    /** Create the symlink {@code link} to {@code target}, in its directory as reached from the anchor. */
    public void createSymbolicLink(final Path link, final Path target) throws IOException
    {
        inDirectory(link, reached -> Files.createSymbolicLink(reached, target));
    }

    /** @return the target of the symlink {@code link}, read in its directory as reached from the anchor */
    public Path readSymbolicLink(final Path link) throws IOException
    {
        return inDirectory(link, reached -> Files.readSymbolicLink(reached));
    }

    /** Set the mtime of {@code path} itself, a symlink's own where it is one, in its directory. */
    public void writeMtime(final Path path, final long mtimeNs) throws IOException
    {
        inDirectory(path, reached ->
        {
            FileMetadata.writeMtime(reached, mtimeNs);
            return null;
        });
    }

    /**
     * Remove {@code path}, which is not a directory, relative to its directory ({@code unlinkat}); by its whole path
     * where that directory cannot be held open.
     */
    public void deleteEntry(final Path path) throws IOException
    {
        try
        {
            final SecureDirectoryStream<Path> directory = searchable(path.getParent());
            if (directory == null)
            {
                Files.delete(path);
            }
            else
            {
                directory.deleteFile(path.getFileName());
            }
        }
        catch (final FileSystemException ex)
        {
            throw StorageErrors.withPath(ex, path);
        }
    }

    /** Rename {@code from} to {@code to} in the directory they share ({@code renameat}), replacing {@code to}. */
    public void renameInDirectory(final Path from, final Path to) throws IOException
    {
        if (!from.getParent().equals(to.getParent()))
        {
            throw new IllegalArgumentException(from + " and " + to + " are not in one directory");
        }
        try
        {
            final SecureDirectoryStream<Path> directory = searchable(from.getParent());
            if (directory == null)
            {
                Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
            }
            else
            {
                directory.move(from.getFileName(), directory, to.getFileName());
            }
        }
        catch (final FileSystemException ex)
        {
            throw StorageErrors.withPath(ex, to);
        }
    }

    /** A call that the JDK offers only by path, on the path that {@link #reach} gives. */
    @FunctionalInterface
    private interface EntryCall<T>
    {
        T call(Path reached) throws IOException;
    }

    /**
     * Make {@code call} on {@code path} as {@link #reach} reaches it. A directory held open that was removed
     * meanwhile is reached again from the anchor, once, as {@link #openFile} does. Errors name {@code path}.
     */
    private <T> T inDirectory(final Path path, final EntryCall<T> call) throws IOException
    {
        try
        {
            try
            {
                return call.call(reach(path));
            }
            catch (final NoSuchFileException ex)
            {
                if (!open.containsKey(path.getParent()))
                {
                    throw ex;
                }
                close();
                return call.call(reach(path));
            }
        }
        catch (final FileSystemException ex)
        {
            throw StorageErrors.withPath(ex, path);
        }
    }

    /**
     * @return a path that names {@code path} within its directory as held open here, for the calls that the JDK
     * offers only by path (mkdir, symlink, readlink, lutimes): {@code /proc/self/fd/N/name}, which the kernel
     * resolves through the descriptor itself, as it resolves the *at calls, whatever has been renamed or swapped
     * for a symlink on the way since. It is valid only until the next call on these handles, which may close that
     * descriptor: the caller uses it at once. The whole path where the directory cannot be held open or
     * {@code /proc/self/fd} cannot be used.
     */
    private Path reach(final Path path) throws IOException
    {
        if (DESCRIPTOR == null)
        {
            return path;
        }
        final SecureDirectoryStream<Path> directory = searchable(path.getParent());
        final Path reached = directory == null ? null : through(directory, path.getFileName());
        return reached != null ? reached : path;
    }

    /**
     * @return {@code name} in {@code directory} as a path that the kernel resolves through the directory's descriptor
     * ({@code /proc/self/fd/N/name}, see {@link #reach}), valid while the directory stays open; null where that
     * cannot be done here
     */
    static Path through(final SecureDirectoryStream<Path> directory, final Path name)
    {
        if (DESCRIPTOR == null)
        {
            return null;
        }
        try
        {
            return Path.of(DESCRIPTORS, Integer.toString(DESCRIPTOR.getInt(directory))).resolve(name);
        }
        catch (final IllegalAccessException | IllegalArgumentException ex)
        {
            return null; // not the JDK's own implementation of the stream
        }
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
            if (!wholeWhereUnreadable)
            {
                throw StorageErrors.withPath(ex, path);
            }
            return null;
        }
    }

    /**
     * The directory {@code path}, opened now if it is not open: under the anchor from its parent, without following
     * a symlink; the anchor itself, or a path outside it, by its path.
     *
     * @return null where the platform has no {@link SecureDirectoryStream}, or {@code path} is outside the anchor.
     */
    SecureDirectoryStream<Path> directory(final Path path) throws IOException
    {
        if (unsupported || path == null || isBase == null)
        {
            return null;
        }
        final SecureDirectoryStream<Path> known = open.get(path);
        if (known != null)
        {
            return known;
        }
        final DirectoryStream<Path> stream;
        if (isBase.test(path))
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
            try
            {
                stream = parent.newDirectoryStream(path.getFileName(), LinkOption.NOFOLLOW_LINKS);
            }
            catch (final FileSystemException ex)
            {
                throw StorageErrors.withPath(ex, path);
            }
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

    private static Field descriptorField()
    {
        try
        {
            if (!Files.isDirectory(Path.of(DESCRIPTORS)))
            {
                return null;
            }
            final Field field = Class.forName("sun.nio.fs.UnixSecureDirectoryStream").getDeclaredField("dfd");
            field.setAccessible(true);
            return field.getType() == int.class ? field : null;
        }
        catch (final ReflectiveOperationException | RuntimeException unavailable)
        {
            return null;
        }
    }

    /** @return whether the calls without an *at form go through the directory's descriptor here (tests) */
    static boolean throughDescriptors()
    {
        return DESCRIPTOR != null;
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
