package io.xfer.agent.storage;

import io.xfer.protocol.ErrorCode;
import io.xfer.protocol.FileEntryFlyweight;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;

/**
 * Walks source trees lazily, depth first, a directory before its contents, names in sorted order, never following
 * symlinks. The sender pulls entries one at a time so that the manifest flows while the walk goes on and memory
 * holds only the directories on the current path. Entries that vanish or cannot be read are reported to the
 * {@link Problems} callback and the walk goes on.
 */
public final class SourceWalker
{
    /** Receives what the walk had to leave out. */
    public interface Problems
    {
        void onProblem(String relativePath, ErrorCode code, String message);
    }

    /** A source to walk and the name it gets at the destination ("" for "the contents of this directory"). */
    public record Root(Path path, String name)
    {
    }

    private final Deque<Root> roots;
    private final Deque<Frame> stack = new ArrayDeque<>();
    private final Problems problems;

    private record Frame(String prefix, Iterator<Path> children)
    {
    }

    public SourceWalker(final List<Root> roots, final Problems problems)
    {
        this.roots = new ArrayDeque<>(roots);
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
                    stack.pop();
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
                final SourceEntry entry = visit(child, relative);
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
            if (root.name().isEmpty())
            {
                // contents of a directory: no entry for the directory itself
                final BasicFileAttributes attributes = attributes(root.path(), root.path().toString());
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
                push(root.path(), "");
                continue;
            }
            final SourceEntry entry = visit(root.path(), root.name());
            if (entry != null)
            {
                return entry;
            }
        }
    }

    private SourceEntry visit(final Path path, final String relative)
    {
        final BasicFileAttributes attributes = attributes(path, relative);
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
                    Files.readSymbolicLink(path).toString());
            }
            final int mode = FileMetadata.mode(attributes, path);
            if (attributes.isDirectory())
            {
                push(path, relative);
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

    private BasicFileAttributes attributes(final Path path, final String relative)
    {
        try
        {
            return Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
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

    private void push(final Path directory, final String prefix)
    {
        final List<Path> children = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(directory))
        {
            for (final Path child : stream)
            {
                children.add(child);
            }
        }
        catch (final NoSuchFileException ex)
        {
            problems.onProblem(prefix, ErrorCode.SOURCE_VANISHED, "directory vanished during the walk");
            return;
        }
        catch (final IOException ex)
        {
            problems.onProblem(prefix, StorageErrors.classify(ex), "cannot list directory: " +
                StorageErrors.describe(ex));
            return;
        }
        children.sort(null);
        stack.push(new Frame(prefix, children.iterator()));
    }
}
