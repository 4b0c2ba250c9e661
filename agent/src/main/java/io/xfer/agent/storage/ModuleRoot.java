package io.xfer.agent.storage;

import io.xfer.agent.engine.TransferException;
import io.xfer.protocol.ErrorCode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Set;

/**
 * A directory that a transfer reads from or writes into, and the only way the engine turns a relative path from the
 * network into a file system path. Every path is checked segment by segment: no absolute paths, no empty, "." or
 * ".." segments, no NUL, and no symlink anywhere on the way (a symlink in the tree is data to copy, never a
 * directory to walk through), so nothing is read or written outside the root.
 *
 * <p>Limitation: the checks and the following open are separate system calls; a local user who can rename
 * directories inside the root while a transfer runs could race them. The root should not be writable by untrusted
 * local users.
 */
public final class ModuleRoot
{
    /** Longest relative path accepted, in bytes of UTF-8. */
    public static final int MAX_PATH_BYTES = 4096;
    /** Longest single name accepted, in bytes of UTF-8 (the Linux NAME_MAX). */
    public static final int MAX_NAME_BYTES = 255;

    private final Path root;

    /**
     * @param root an existing directory; symlinks in the root's own path are resolved once here.
     */
    public ModuleRoot(final Path root) throws IOException
    {
        this.root = root.toRealPath();
        if (!Files.isDirectory(this.root))
        {
            throw new NoSuchFileException(root.toString(), null, "not a directory");
        }
    }

    public Path path()
    {
        return root;
    }

    /**
     * Check a relative path from the network and return it in canonical form: '/'-separated segments with no
     * leading, trailing or doubled slashes. The empty string names the root itself.
     *
     * @throws TransferException with {@link ErrorCode#INVALID_PATH} naming what is wrong.
     */
    public static String checkRelativePath(final String path)
    {
        if (path.getBytes(StandardCharsets.UTF_8).length > MAX_PATH_BYTES)
        {
            throw invalid(path, "longer than " + MAX_PATH_BYTES + " bytes");
        }
        if (path.startsWith("/"))
        {
            throw invalid(path, "absolute paths are not allowed");
        }
        if (path.indexOf('\0') >= 0)
        {
            throw invalid(path, "contains NUL");
        }
        if (path.isEmpty())
        {
            return path;
        }
        final String trimmed = path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
        for (final String segment : trimmed.split("/", -1))
        {
            if (segment.isEmpty())
            {
                throw invalid(path, "empty path segment");
            }
            if (segment.equals(".") || segment.equals(".."))
            {
                throw invalid(path, "'" + segment + "' segments are not allowed");
            }
            if (segment.getBytes(StandardCharsets.UTF_8).length > MAX_NAME_BYTES)
            {
                throw invalid(path, "a name is longer than " + MAX_NAME_BYTES + " bytes");
            }
        }
        return trimmed;
    }

    /**
     * Resolve a path whose every segment must exist; no segment but the last may be a symlink, and the last is not
     * followed.
     */
    public Path resolveExisting(final String relativePath)
    {
        final String canonical = checkRelativePath(relativePath);
        Path current = root;
        if (canonical.isEmpty())
        {
            return current;
        }
        final String[] segments = canonical.split("/");
        for (int i = 0; i < segments.length; i++)
        {
            current = current.resolve(segments[i]);
            final BasicFileAttributes attributes = attributesOrNull(current);
            if (attributes == null)
            {
                throw new TransferException(ErrorCode.NOT_FOUND, "no such file or directory: " + canonical);
            }
            if (i < segments.length - 1 && !attributes.isDirectory())
            {
                throw invalid(canonical, attributes.isSymbolicLink() ?
                    "'" + segments[i] + "' is a symlink; paths never pass through symlinks" :
                    "'" + segments[i] + "' is not a directory");
            }
        }
        return current;
    }

    /**
     * Resolve a path for writing: every parent segment must be a real directory inside the root (missing ones are
     * created); the last segment is returned unchecked for the caller to inspect without following links.
     */
    public Path resolveForWrite(final String relativePath)
    {
        return resolveForWrite(relativePath, null);
    }

    /**
     * As {@link #resolveForWrite(String)}, skipping the checks of directories already in {@code verified} and
     * adding those it checks: a transfer of many files in few directories then costs one stat per file, not one
     * per path segment.
     */
    public Path resolveForWrite(final String relativePath, final Set<Path> verified)
    {
        final String canonical = checkRelativePath(relativePath);
        if (canonical.isEmpty())
        {
            return root;
        }
        final String[] segments = canonical.split("/");
        Path current = root;
        for (int i = 0; i < segments.length - 1; i++)
        {
            current = current.resolve(segments[i]);
            if (verified == null || !verified.contains(current))
            {
                ensureDirectory(current, canonical, segments[i]);
                if (verified != null)
                {
                    verified.add(current);
                }
            }
        }
        return current.resolve(segments[segments.length - 1]);
    }

    /**
     * Make sure a path inside the root is a real directory, creating it and its parents when missing.
     */
    public Path ensureDirectory(final String relativePath)
    {
        final String canonical = checkRelativePath(relativePath);
        Path current = root;
        if (!canonical.isEmpty())
        {
            for (final String segment : canonical.split("/"))
            {
                current = current.resolve(segment);
                ensureDirectory(current, canonical, segment);
            }
        }
        return current;
    }

    private static void ensureDirectory(final Path directory, final String canonical, final String segment)
    {
        BasicFileAttributes attributes = attributesOrNull(directory);
        if (attributes == null)
        {
            try
            {
                Files.createDirectory(directory);
                return;
            }
            catch (final java.nio.file.FileAlreadyExistsException ex)
            {
                attributes = attributesOrNull(directory);
            }
            catch (final IOException ex)
            {
                throw new TransferException(StorageErrors.classify(ex),
                    "cannot create directory " + canonical + ": " + StorageErrors.describe(ex), ex);
            }
        }
        if (attributes == null || !attributes.isDirectory())
        {
            throw invalid(canonical, attributes != null && attributes.isSymbolicLink() ?
                "'" + segment + "' is a symlink; paths never pass through symlinks" :
                "'" + segment + "' exists and is not a directory");
        }
    }

    static BasicFileAttributes attributesOrNull(final Path path)
    {
        try
        {
            return Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        }
        catch (final IOException ex)
        {
            return null;
        }
    }

    private static TransferException invalid(final String path, final String why)
    {
        return new TransferException(ErrorCode.INVALID_PATH, "invalid path '" + printable(path) + "': " + why);
    }

    private static String printable(final String path)
    {
        final String clean = path.replace('\0', '?');
        return clean.length() > 200 ? clean.substring(0, 200) + "..." : clean;
    }
}
