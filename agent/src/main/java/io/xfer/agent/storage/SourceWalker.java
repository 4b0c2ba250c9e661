package io.xfer.agent.storage;

import io.xfer.protocol.ErrorCode;
import io.xfer.protocol.FileEntryFlyweight;

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
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * Walks source trees lazily, depth first, a directory before its contents, names in sorted order, never following
 * symlinks. The sender pulls entries one at a time so that the manifest flows while the walk goes on and memory
 * holds only the directories on the current path. Entries that vanish or cannot be read are reported to the
 * {@link Problems} callback and the walk goes on.
 *
 * <p>The directories on the current path stay open ({@link SecureDirectoryStream}, at most {@value #MAX_OPEN} deep),
 * and their entries are read relative to them: attributes ({@code fstatat}), subdirectories ({@code openat} with
 * {@code O_NOFOLLOW}), and small files ({@link #openFile}). The kernel then does not walk each entry's whole path
 * from the root again, which on a tree of small files is a good part of those calls (profiled); and an entry is
 * looked up in the directory that was listed, so a directory on the path that is swapped for a symlink during the
 * walk leads nowhere outside the tree. Below that depth, or where the platform has no
 * {@link SecureDirectoryStream}, whole paths are used. {@link #close()} closes what is still open when a walk is
 * abandoned.
 */
public final class SourceWalker implements AutoCloseable
{
    /** Directories on the current path held open at most (the JDK holds two descriptors for each). */
    static final int MAX_OPEN = 64;

    /** Receives what the walk had to leave out. */
    public interface Problems
    {
        void onProblem(String relativePath, ErrorCode code, String message);
    }

    /**
     * A source to walk and the name it gets at the destination ("" for "the contents of this directory").
     *
     * @param anchor a directory at or above {@code path} that is trusted as it is named (a module's root), from
     *               which {@code path} is reached one name at a time without following a symlink; null: {@code path}
     *               itself is trusted as it is named (a path the user gave).
     */
    public record Root(Path path, String name, Path anchor)
    {
        public Root(final Path path, final String name)
        {
            this(path, name, null);
        }
    }

    private static final Set<OpenOption> READ_ONLY = Set.of(StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);

    private final Deque<Root> roots;
    private final List<Root> allRoots;
    private final Deque<Frame> stack = new ArrayDeque<>();
    private final Problems problems;
    /**
     * Directories that files sent later were opened in, each reached from its root one name at a time without
     * following a symlink ({@link #openLater}); the {@value DirectoryHandles#MAX_OPEN} used last stay open.
     */
    private final DirectoryHandles later = new DirectoryHandles(this::isBase, false);

    /** A directory being listed: its children, and the directory held open where it can be. */
    private record Frame(String prefix, Path directory, Iterator<Path> children, SecureDirectoryStream<Path> handle)
    {
    }

    public SourceWalker(final List<Root> roots, final Problems problems)
    {
        this.roots = new ArrayDeque<>(roots);
        this.allRoots = List.copyOf(roots);
        this.problems = problems;
    }

    /**
     * @return the next entry, or null when every root is walked.
     */
    public SourceEntry next()
    {
        while (true)
        {
            final Frame top = stack.peek();
            if (top != null)
            {
                if (!top.children().hasNext())
                {
                    closeQuietly(stack.pop().handle());
                    continue;
                }
                final Path child = top.children().next();
                final String name = child.getFileName().toString();
                if (CheckpointJournal.isReservedName(name))
                {
                    // a receiver's own state (checkpoints, partial files) is never data to send
                    continue;
                }
                final String relative = top.prefix().isEmpty() ? name : top.prefix() + "/" + name;
                final SourceEntry entry = visit(child, relative, top.handle());
                if (entry != null)
                {
                    return entry;
                }
                continue;
            }
            final Root root = roots.poll();
            if (root == null)
            {
                return null;
            }
            final SecureDirectoryStream<Path> rootParent;
            try
            {
                rootParent = rootParent(root);
            }
            catch (final IOException ex)
            {
                final String what = root.name().isEmpty() ? root.path().toString() : root.name();
                problems.onProblem(what, ex instanceof NoSuchFileException ? ErrorCode.SOURCE_VANISHED :
                    StorageErrors.classify(ex), StorageErrors.describe(ex));
                continue;
            }
            if (root.name().isEmpty())
            {
                // contents of a directory: no entry for the directory itself
                final BasicFileAttributes attributes = attributes(root.path(), root.path().toString(), rootParent);
                if (attributes == null)
                {
                    continue;
                }
                if (!attributes.isDirectory())
                {
                    problems.onProblem(root.path().toString(), ErrorCode.INVALID_PATH,
                        "a trailing slash needs a directory: " + root.path());
                    continue;
                }
                push(root.path(), "", rootParent);
                continue;
            }
            final SourceEntry entry = visit(root.path(), root.name(), rootParent);
            if (entry != null)
            {
                return entry;
            }
        }
    }

    private SourceEntry visit(final Path path, final String relative, final SecureDirectoryStream<Path> parent)
    {
        final BasicFileAttributes attributes = attributes(path, relative, parent);
        if (attributes == null)
        {
            return null;
        }
        try
        {
            final long mtimeNs = FileMetadata.toNanos(attributes.lastModifiedTime());
            if (attributes.isSymbolicLink())
            {
                return new SourceEntry(relative, path, FileEntryFlyweight.TYPE_SYMLINK, 0777, 0, mtimeNs,
                    readSymbolicLink(path, parent).toString());
            }
            final int mode = FileMetadata.mode(attributes, path);
            if (attributes.isDirectory())
            {
                push(path, relative, parent);
                return new SourceEntry(relative, path, FileEntryFlyweight.TYPE_DIRECTORY, mode, 0, mtimeNs, "");
            }
            if (attributes.isRegularFile())
            {
                return new SourceEntry(relative, path, FileEntryFlyweight.TYPE_FILE, mode, attributes.size(),
                    mtimeNs, "");
            }
            problems.onProblem(relative, ErrorCode.UNSUPPORTED_FILE_TYPE,
                "skipped: not a regular file, directory or symlink");
            return null;
        }
        catch (final NoSuchFileException ex)
        {
            problems.onProblem(relative, ErrorCode.SOURCE_VANISHED, "vanished during the walk");
            return null;
        }
        catch (final IOException ex)
        {
            problems.onProblem(relative, StorageErrors.classify(ex), StorageErrors.describe(ex));
            return null;
        }
    }

    /** The target of the symlink {@code path}, read in {@code parent} (where held open) as its attributes were. */
    private static Path readSymbolicLink(final Path path, final SecureDirectoryStream<Path> parent) throws IOException
    {
        final Path reached = parent == null ? null : DirectoryHandles.through(parent, path.getFileName());
        try
        {
            return Files.readSymbolicLink(reached != null ? reached : path);
        }
        catch (final FileSystemException ex)
        {
            throw StorageErrors.withPath(ex, path);
        }
    }

    private BasicFileAttributes attributes(final Path path, final String relative,
        final SecureDirectoryStream<Path> parent)
    {
        try
        {
            return parent != null ?
                parent.getFileAttributeView(path.getFileName(), BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                    .readAttributes() :
                Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        }
        catch (final NoSuchFileException ex)
        {
            problems.onProblem(relative, ErrorCode.SOURCE_VANISHED, "vanished during the walk");
            return null;
        }
        catch (final IOException ex)
        {
            problems.onProblem(relative, StorageErrors.classify(ex), describe(ex, path));
            return null;
        }
    }

    /** As {@link StorageErrors#describe}, naming the whole path where the call named it relative to its directory. */
    private static String describe(final IOException ex, final Path path)
    {
        if (ex instanceof FileSystemException failure && failure.getFile() != null &&
            !failure.getFile().equals(path.toString()))
        {
            return ex.getClass().getSimpleName() + ": " + path +
                (failure.getReason() != null ? ": " + failure.getReason() : "");
        }
        return StorageErrors.describe(ex);
    }

    /**
     * List {@code directory}: relative to its {@code parent} when that is open, and then never through a symlink
     * (a name that is no longer a directory of this tree is reported, not followed).
     */
    private void push(final Path directory, final String prefix, final SecureDirectoryStream<Path> parent)
    {
        final List<Path> children = new ArrayList<>();
        DirectoryStream<Path> stream = null;
        try
        {
            stream = parent != null ?
                parent.newDirectoryStream(directory.getFileName(), LinkOption.NOFOLLOW_LINKS) :
                Files.newDirectoryStream(directory);
            for (final Path child : stream)
            {
                children.add(child);
            }
        }
        catch (final NoSuchFileException ex)
        {
            closeQuietly(stream);
            problems.onProblem(prefix, ErrorCode.SOURCE_VANISHED, "directory vanished during the walk");
            return;
        }
        catch (final IOException ex)
        {
            closeQuietly(stream);
            problems.onProblem(prefix, StorageErrors.classify(ex), "cannot list directory: " +
                describe(ex, directory));
            return;
        }
        catch (final RuntimeException ex)
        {
            closeQuietly(stream);
            throw ex;
        }
        children.sort(null);
        SecureDirectoryStream<Path> handle = null;
        if (stream instanceof SecureDirectoryStream<Path> secure && stack.size() < MAX_OPEN)
        {
            // listed already: kept open for the calls relative to it
            handle = secure;
        }
        else
        {
            closeQuietly(stream);
        }
        stack.push(new Frame(prefix, directory, children.iterator(), handle));
    }

    /**
     * Open {@code entry}, a regular file the walk just returned, for reading without following a symlink: relative
     * to its directory while that is held open, else by its whole path.
     */
    public FileChannel openFile(final SourceEntry entry) throws IOException
    {
        final Frame top = stack.peek();
        final Path path = entry.path();
        if (top != null && top.handle() != null && top.directory().equals(path.getParent()))
        {
            final SeekableByteChannel channel = top.handle().newByteChannel(path.getFileName(), READ_ONLY);
            if (channel instanceof FileChannel file)
            {
                return file;
            }
            channel.close();
        }
        // a root itself (or a directory beyond the depth held open): as a file opened later is
        return openLater(entry);
    }

    /**
     * The directory holding {@code root}, reached from its anchor without following a symlink; null for a root
     * without an anchor, or that is its anchor, which are opened as they are named.
     */
    private SecureDirectoryStream<Path> rootParent(final Root root) throws IOException
    {
        if (root.anchor() == null || root.path().equals(root.anchor()) || !root.path().startsWith(root.anchor()))
        {
            return null;
        }
        return later.directory(root.path().getParent());
    }

    /**
     * Open {@code entry}, a regular file this walk returned earlier, for reading now that the walk may have moved on
     * (a file sent as DATA, once answered): reached from its root one directory at a time, each opened relative to
     * the one before without following a symlink, so that a directory on its path swapped for a symlink since the
     * walk leads nowhere outside the tree. Failures name the whole path. Where the platform has no
     * {@link SecureDirectoryStream}, or the entry is a root itself, by its whole path, never following a symlink
     * at its name.
     */
    public FileChannel openLater(final SourceEntry entry) throws IOException
    {
        return later.openFile(entry.path(), READ_ONLY);
    }

    /**
     * Attributes of {@code entry}'s file now, not following a symlink, found as {@link #openLater} finds it.
     *
     * @throws NoSuchFileException if it is gone
     */
    public BasicFileAttributes attributesLater(final SourceEntry entry) throws IOException
    {
        final BasicFileAttributes attributes = later.attributes(entry.path());
        if (attributes == null)
        {
            throw new NoSuchFileException(entry.path().toString());
        }
        return attributes;
    }

    /**
     * @return whether {@code path} is where a root's directories are reached from: the root's anchor, or without
     * one, a root given as a directory (or as a directory's contents).
     */
    private boolean isBase(final Path path)
    {
        for (final Root root : allRoots)
        {
            if (root.anchor() != null ? root.anchor().equals(path) :
                root.path().equals(path) && Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS))
            {
                return true;
            }
        }
        return false;
    }

    /** Close the directories still open: the walk is over or abandoned. */
    @Override
    public void close()
    {
        while (!stack.isEmpty())
        {
            closeQuietly(stack.pop().handle());
        }
        later.close();
    }

    private static void closeQuietly(final DirectoryStream<Path> stream)
    {
        if (stream == null)
        {
            return;
        }
        try
        {
            stream.close();
        }
        catch (final IOException ignore)
        {
            // opened for reading only
        }
    }
}
