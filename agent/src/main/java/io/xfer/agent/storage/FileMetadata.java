package io.xfer.agent.storage;

import java.io.FileDescriptor;
import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
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
    private static final MethodHandle CHANNEL_FD;
    private static final MethodHandle FD_VAL;
    /**
     * {@code UnixNativeDispatcher.fchmod(int, int)} and {@code futimens(int, long, long)} (times in nanoseconds),
     * when the JVM also opens {@code sun.nio.fs} to us: the system calls on the descriptor itself.
     */
    private static final MethodHandle FCHMOD;
    private static final MethodHandle FUTIMENS;
    /** {@code UnixFileAttributes.mode()}: the whole {@code st_mode} of attributes the JDK read. */
    private static final MethodHandle ST_MODE;
    /** {@code UnixNativeDispatcher.unlink(UnixPath)}: unlink alone, without the JDK's lstat before it. */
    private static final MethodHandle UNLINK;
    /** {@code UnixFileAttributes.get(int)}: fstat. */
    private static final MethodHandle FSTAT;

    static
    {
        MethodHandle channelFd = null;
        MethodHandle fdVal = null;
        try
        {
            if (Files.isDirectory(Path.of("/proc/self/fd")))
            {
                final Class<?> channelClass = Class.forName("sun.nio.ch.FileChannelImpl");
                channelFd = MethodHandles.privateLookupIn(channelClass, MethodHandles.lookup())
                    .findGetter(channelClass, "fd", FileDescriptor.class)
                    .asType(MethodType.methodType(FileDescriptor.class, FileChannel.class));
                final Class<?> ioUtil = Class.forName("sun.nio.ch.IOUtil");
                fdVal = MethodHandles.privateLookupIn(ioUtil, MethodHandles.lookup())
                    .findStatic(ioUtil, "fdVal", MethodType.methodType(int.class, FileDescriptor.class));
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

        // each looked up on its own: one that another JDK lacks leaves the others (null: the public API does it)
        final MethodHandles.Lookup lookup = fsLookup();
        final Class<?> unixAttributes = fsClass("sun.nio.fs.UnixFileAttributes");
        MethodHandle fchmod = null;
        MethodHandle futimens = null;
        try
        {
            if (fdVal != null && (boolean)lookup.findStatic(lookup.lookupClass(), "futimensSupported",
                MethodType.methodType(boolean.class)).invokeExact())
            {
                fchmod = lookup.findStatic(lookup.lookupClass(), "fchmod", MethodType.methodType(void.class,
                    int.class, int.class));
                futimens = lookup.findStatic(lookup.lookupClass(), "futimens", MethodType.methodType(void.class,
                    int.class, long.class, long.class));
            }
        }
        catch (final Throwable ex)
        {
            fchmod = null;
            futimens = null;
        }
        MethodHandle stMode;
        try
        {
            // UnixFileAttributes.toUnixFileAttributes(attributes).mode(): null for attributes of another kind
            stMode = MethodHandles.filterReturnValue(
                lookup.findStatic(unixAttributes, "toUnixFileAttributes", MethodType.methodType(unixAttributes,
                    BasicFileAttributes.class)),
                lookup.findVirtual(unixAttributes, "mode", MethodType.methodType(int.class)));
        }
        catch (final Throwable ex)
        {
            stMode = null;
        }
        MethodHandle unlink;
        try
        {
            unlink = lookup.findStatic(lookup.lookupClass(), "unlink", MethodType.methodType(void.class,
                Class.forName("sun.nio.fs.UnixPath"))).asType(MethodType.methodType(void.class, Path.class));
        }
        catch (final Throwable ex)
        {
            unlink = null;
        }
        MethodHandle fstat;
        try
        {
            fstat = fdVal == null ? null : lookup.findStatic(unixAttributes, "get",
                MethodType.methodType(unixAttributes, int.class))
                .asType(MethodType.methodType(BasicFileAttributes.class, int.class));
        }
        catch (final Throwable ex)
        {
            fstat = null;
        }
        FCHMOD = fchmod;
        FUTIMENS = futimens;
        ST_MODE = stMode;
        UNLINK = unlink;
        FSTAT = fstat;
    }

    private FileMetadata()
    {
    }

    /**
     * A lookup with private access to {@code sun.nio.fs.UnixNativeDispatcher}, or, where the JVM does not open
     * {@code sun.nio.fs} to us, one whose every find fails (so each handle stays null).
     */
    private static MethodHandles.Lookup fsLookup()
    {
        try
        {
            return MethodHandles.privateLookupIn(Class.forName("sun.nio.fs.UnixNativeDispatcher"),
                MethodHandles.lookup());
        }
        catch (final ReflectiveOperationException | RuntimeException ex)
        {
            return MethodHandles.publicLookup();
        }
    }

    private static Class<?> fsClass(final String name)
    {
        try
        {
            return Class.forName(name);
        }
        catch (final ClassNotFoundException ex)
        {
            return Object.class;
        }
    }

    /** @return whether the JDK's {@code st_mode} is read with a walk's attributes (one lstat per entry) */
    static boolean modeWithAttributesAvailable()
    {
        return ST_MODE != null;
    }

    /** @return whether {@link #deleteOwnFile} unlinks without an lstat first */
    static boolean unlinkAvailable()
    {
        return UNLINK != null;
    }

    /** @return whether {@link #attributes(FileChannel, Path)} fstats the descriptor */
    static boolean fstatAvailable()
    {
        return FSTAT != null;
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
     * Give an open file its mtime, then its mode, through its descriptor, so that they reach the file the channel
     * has open whatever its name points to by now: a symlink or a hard link swapped in for a temporary file cannot
     * turn the agent's chmod against another file.
     * <ul>
     * <li>Where the JVM opens {@code sun.nio.fs} (the launchers and the build do), with {@code futimens} and
     * {@code fchmod} on the descriptor itself: two system calls.</li>
     * <li>Otherwise through {@code /proc/self/fd/N}: the mtime first, since setting it opens the file for reading,
     * which the final mode may not allow. The JDK's no-follow attribute views are not used: from JDK 22 on,
     * setting permissions through one follows the link anyway.</li>
     * <li>Where descriptors are not reachable at all, the name is used, refused unless it still is a regular
     * file.</li>
     * </ul>
     */
    public static void writeModeAndMtime(final FileChannel channel, final Path path, final int mode, final long mtimeNs)
        throws IOException
    {
        final int fd = descriptor(channel);
        if (fd >= 0 && FUTIMENS != null && mtimeNs >= 0 && onDescriptor(fd, mode, mtimeNs))
        {
            return;
        }
        final Path target;
        if (fd >= 0)
        {
            target = Path.of("/proc/self/fd/" + fd);
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

    /**
     * @return whether {@link #writeModeAndMtime} sets an open file's mode and mtime with system calls on its
     * descriptor here, rather than through {@code /proc/self/fd/N}.
     */
    public static boolean descriptorCallsAvailable()
    {
        return FUTIMENS != null;
    }

    /**
     * {@code futimens} (the access time becomes now, as a write would have left it) then {@code fchmod}. False
     * when either fails: the caller goes the slower way, whose failure is an {@link IOException} that says why.
     */
    private static boolean onDescriptor(final int fd, final int mode, final long mtimeNs)
    {
        try
        {
            FUTIMENS.invokeExact(fd, System.currentTimeMillis() * 1_000_000L, mtimeNs);
            // the nine rwx bits only, as by name: setuid, setgid and sticky bits from a peer are not restored
            FCHMOD.invokeExact(fd, mode & 0777);
            return true;
        }
        catch (final Throwable ex)
        {
            return false;
        }
    }

    /** The descriptor of an open channel, or -1 when it is not reachable. */
    private static int descriptor(final FileChannel channel)
    {
        if (FD_VAL == null || !channel.isOpen())
        {
            return -1;
        }
        try
        {
            return (int)FD_VAL.invokeExact((FileDescriptor)CHANNEL_FD.invokeExact(channel));
        }
        catch (final Throwable ex)
        {
            return -1;
        }
    }

    /**
     * Remove a regular file that the caller itself made (a temporary file now linked under its final name): one
     * {@code unlink}, without the {@code lstat} by which {@link Files#delete} tells a directory from a file. Where
     * that is not reachable, or fails, {@link Files#delete} does it and says why.
     */
    public static void deleteOwnFile(final Path path) throws IOException
    {
        if (UNLINK != null)
        {
            try
            {
                UNLINK.invokeExact(path);
                return;
            }
            catch (final Throwable ex)
            {
                // another kind of path, or the unlink failed: the public API again, for its exception
            }
        }
        Files.delete(path);
    }

    /**
     * @return the attributes of the file the channel has open ({@code fstat}), or where its descriptor is not
     * reachable those of the path, not following a symlink
     */
    public static BasicFileAttributes attributes(final FileChannel channel, final Path path) throws IOException
    {
        if (FSTAT != null)
        {
            final int fd = descriptor(channel);
            if (fd >= 0)
            {
                try
                {
                    return (BasicFileAttributes)FSTAT.invokeExact(fd);
                }
                catch (final Throwable ex)
                {
                    // by the path, for its exception
                }
            }
        }
        return Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    }

    /**
     * @return the permission bits (07777) of the file whose attributes these are, from the {@code st_mode} the
     * JDK read with them where it can (one {@code lstat} per file for a walk), or read anew from the path.
     */
    public static int mode(final BasicFileAttributes attributes, final Path path) throws IOException
    {
        if (ST_MODE != null)
        {
            try
            {
                return (int)ST_MODE.invokeExact(attributes) & 07777;
            }
            catch (final Throwable ex)
            {
                // attributes of another provider: by the path
            }
        }
        return readMode(path);
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
