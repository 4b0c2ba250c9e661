package io.xfer.agent.storage;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Compares two trees entry by entry: the same names, types, contents, permission bits, modification times (files
 * and directories, at microsecond precision) and symlink targets. Used by the demo and the tests to prove a round
 * trip byte-identical.
 */
public final class TreeComparison
{
    private TreeComparison()
    {
    }

    /**
     * @return the differences, at most {@code limit} of them; empty when the trees are identical.
     */
    public static List<String> differences(final Path expected, final Path actual, final int limit) throws IOException
    {
        final List<String> differences = new ArrayList<>();
        compareDirectory(expected, actual, "", differences, limit);
        return differences;
    }

    private static void compareDirectory(
        final Path expected, final Path actual, final String prefix, final List<String> out, final int limit)
        throws IOException
    {
        final TreeSet<String> names = new TreeSet<>(list(expected));
        names.addAll(list(actual));
        for (final String name : names)
        {
            if (out.size() >= limit)
            {
                return;
            }
            final String relative = prefix.isEmpty() ? name : prefix + "/" + name;
            compareEntry(expected.resolve(name), actual.resolve(name), relative, out, limit);
        }
    }

    private static void compareEntry(
        final Path expected, final Path actual, final String relative, final List<String> out, final int limit)
        throws IOException
    {
        final BasicFileAttributes a = attributes(expected);
        final BasicFileAttributes b = attributes(actual);
        if (a == null || b == null)
        {
            out.add(relative + ": only in " + (a == null ? "actual" : "expected"));
            return;
        }
        if (a.isSymbolicLink() || b.isSymbolicLink())
        {
            if (!(a.isSymbolicLink() && b.isSymbolicLink()))
            {
                out.add(relative + ": symlink in one tree only");
            }
            else if (!Files.readSymbolicLink(expected).equals(Files.readSymbolicLink(actual)))
            {
                out.add(relative + ": symlink target " + Files.readSymbolicLink(expected) + " vs " +
                    Files.readSymbolicLink(actual));
            }
            return;
        }
        if (a.isDirectory() != b.isDirectory() || a.isRegularFile() != b.isRegularFile())
        {
            out.add(relative + ": different types");
            return;
        }
        final int modeA = FileMetadata.readMode(expected);
        final int modeB = FileMetadata.readMode(actual);
        if ((modeA & 0777) != (modeB & 0777))
        {
            out.add(relative + ": mode 0" + Integer.toOctalString(modeA) + " vs 0" + Integer.toOctalString(modeB));
        }
        if (!FileMetadata.sameMtime(FileMetadata.toNanos(a.lastModifiedTime()),
            FileMetadata.toNanos(b.lastModifiedTime())))
        {
            out.add(relative + ": mtime " + a.lastModifiedTime() + " vs " + b.lastModifiedTime());
        }
        if (a.isDirectory())
        {
            compareDirectory(expected, actual, relative, out, limit);
        }
        else if (a.size() != b.size())
        {
            out.add(relative + ": size " + a.size() + " vs " + b.size());
        }
        else if (!sameContent(expected, actual))
        {
            out.add(relative + ": contents differ");
        }
    }

    private static boolean sameContent(final Path a, final Path b) throws IOException
    {
        try (InputStream inA = Files.newInputStream(a); InputStream inB = Files.newInputStream(b))
        {
            final byte[] bufA = new byte[1 << 16];
            final byte[] bufB = new byte[1 << 16];
            while (true)
            {
                final int n = inA.readNBytes(bufA, 0, bufA.length);
                final int m = inB.readNBytes(bufB, 0, bufB.length);
                if (n != m || !java.util.Arrays.equals(bufA, 0, n, bufB, 0, m))
                {
                    return false;
                }
                if (n == 0)
                {
                    return true;
                }
            }
        }
    }

    private static List<String> list(final Path directory) throws IOException
    {
        final List<String> names = new ArrayList<>();
        if (attributes(directory) == null)
        {
            return names;
        }
        try (Stream<Path> stream = Files.list(directory))
        {
            stream.forEach(p -> names.add(p.getFileName().toString()));
        }
        return names;
    }

    private static BasicFileAttributes attributes(final Path path)
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
}
