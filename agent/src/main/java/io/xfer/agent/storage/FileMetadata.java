package io.xfer.agent.storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Permission bits and modification times, as carried in FILE_ENTRY. Java exposes the nine rwx bits; setuid,
 * setgid and sticky bits are read (through the "unix" view) but not restored.
 */
public final class FileMetadata
{
    private static final PosixFilePermission[] BITS = {
        PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_READ,
        PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
        PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_READ,
    };

    private FileMetadata()
    {
    }

    public static int mode(final Set<PosixFilePermission> permissions)
    {
        int mode = 0;
        for (int i = 0; i < BITS.length; i++)
        {
            if (permissions.contains(BITS[i]))
            {
                mode |= 1 << i;
            }
        }
        return mode;
    }

    public static Set<PosixFilePermission> permissions(final int mode)
    {
        final Set<PosixFilePermission> permissions = EnumSet.noneOf(PosixFilePermission.class);
        for (int i = 0; i < BITS.length; i++)
        {
            if ((mode & (1 << i)) != 0)
            {
                permissions.add(BITS[i]);
            }
        }
        return permissions;
    }

    /**
     * @return the permission bits (07777) of a path, not following a symlink.
     */
    public static int readMode(final Path path) throws IOException
    {
        try
        {
            return ((Integer)Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS)) & 07777;
        }
        catch (final UnsupportedOperationException | IllegalArgumentException ex)
        {
            return mode(Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS));
        }
    }

    /**
     * Set the permission bits of a path, never following a symlink: the file is opened with O_NOFOLLOW and changed
     * through that descriptor. A path-based chmod follows links, so whoever could swap a symlink in for a received
     * file between its write and its commit could have the agent chmod any file it owns, its own private key
     * included; here the swap makes the commit fail instead. (Two system calls more per file than a chmod.)
     */
    public static void writeMode(final Path path, final int mode) throws IOException
    {
        Files.getFileAttributeView(path, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
            .setPermissions(permissions(mode));
    }

    public static long toNanos(final FileTime time)
    {
        return time.to(TimeUnit.NANOSECONDS);
    }

    /**
     * Set the modification time of a path, not following a symlink (a symlink's own time is set). The access time
     * becomes the current time, as a write would have left it: giving both times spares the JDK an fstat to
     * re-read the access time (one system call less per received file).
     */
    public static void writeMtime(final Path path, final long mtimeNs) throws IOException
    {
        Files.getFileAttributeView(path, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
            .setTimes(FileTime.from(mtimeNs, TimeUnit.NANOSECONDS), FileTime.fromMillis(System.currentTimeMillis()),
                null);
    }

    /**
     * Modification times as equal as the file systems involved can tell: compared at microsecond precision, which
     * every file system that keeps sub-second times offers.
     */
    public static boolean sameMtime(final long aNs, final long bNs)
    {
        return Math.floorDiv(aNs, 1000) == Math.floorDiv(bNs, 1000);
    }
}
