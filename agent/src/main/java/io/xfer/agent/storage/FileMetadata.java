package io.xfer.agent.storage;

import java.io.FileDescriptor;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
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

    /** {@code FileChannelImpl.fd} and {@code IOUtil.fdVal}, when the JVM opens {@code sun.nio.ch} to us. */
    private static final Field CHANNEL_FD;
    private static final Method FD_VAL;

    static
    {
        Field channelFd = null;
        Method fdVal = null;
        try
        {
            if (Files.isDirectory(Path.of("/proc/self/fd")))
            {
                channelFd = Class.forName("sun.nio.ch.FileChannelImpl").getDeclaredField("fd");
                channelFd.setAccessible(true);
                fdVal = Class.forName("sun.nio.ch.IOUtil").getDeclaredMethod("fdVal", FileDescriptor.class);
                fdVal.setAccessible(true);
            }
        }
        catch (final ReflectiveOperationException | RuntimeException ex)
        {
            // not opened to us (no --add-opens java.base/sun.nio.ch), or not Linux: by name, checked
            channelFd = null;
            fdVal = null;
        }
        CHANNEL_FD = channelFd;
        FD_VAL = fdVal;
    }

    private FileMetadata()
    {
    }

    /**
     * @return whether {@link #writeModeAndMtime} reaches open files through their descriptors here (Linux, and
     * {@code --add-opens java.base/sun.nio.ch}, as the launchers and the build give).
     */
    public static boolean descriptorsReachable()
    {
        return FD_VAL != null;
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
     * Set the permission bits of a path that must not be a symlink: one checked just before (a symlink is refused,
     * its target left alone), then a chmod by name. For a file the receiver has open, {@link #writeModeAndMtime}
     * leaves no window between the check and the change.
     */
    public static void writeMode(final Path path, final int mode) throws IOException
    {
        if (Files.isSymbolicLink(path))
        {
            throw new IOException(path + " is a symbolic link: its mode is not set");
        }
        Files.setPosixFilePermissions(path, permissions(mode));
    }

    /**
     * Give an open file its mtime, then its mode (the mtime first, since setting it opens the file for reading,
     * which the final mode may not allow). Both go through the descriptor ({@code /proc/self/fd/N}), so they reach
     * the file the channel has open whatever its name points to by now: a symlink or a hard link swapped in for a
     * temporary file cannot turn the agent's chmod against another file. Where descriptors are not reachable the
     * name is used, refused unless it still is a regular file. The JDK's no-follow attribute views are not used:
     * from JDK 22 on, setting permissions through one follows the link anyway.
     */
    public static void writeModeAndMtime(final FileChannel channel, final Path path, final int mode, final long mtimeNs)
        throws IOException
    {
        final Path target;
        final Path descriptor = descriptorPath(channel);
        if (descriptor != null)
        {
            target = descriptor;
        }
        else
        {
            if (!Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).isRegularFile())
            {
                throw new IOException(path + " is no longer the regular file that was written");
            }
            target = path;
        }
        Files.getFileAttributeView(target, BasicFileAttributeView.class)
            .setTimes(FileTime.from(mtimeNs, TimeUnit.NANOSECONDS), FileTime.fromMillis(System.currentTimeMillis()),
                null);
        Files.setPosixFilePermissions(target, permissions(mode));
    }

    /** {@code /proc/self/fd/N} of an open channel, or null when its descriptor is not reachable. */
    private static Path descriptorPath(final FileChannel channel)
    {
        if (FD_VAL == null || !channel.isOpen())
        {
            return null;
        }
        try
        {
            final int fd = (Integer)FD_VAL.invoke(null, CHANNEL_FD.get(channel));
            return fd >= 0 ? Path.of("/proc/self/fd/" + fd) : null;
        }
        catch (final ReflectiveOperationException | RuntimeException ex)
        {
            return null;
        }
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
