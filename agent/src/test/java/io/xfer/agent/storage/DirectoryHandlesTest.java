package io.xfer.agent.storage;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Files created and removed relative to held-open directories, on real directories. */
class DirectoryHandlesTest
{
    private static final Set<OpenOption> NEW = Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
        LinkOption.NOFOLLOW_LINKS);
    private static final Set<OpenOption> REOPEN = Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        LinkOption.NOFOLLOW_LINKS);
    private static final FileAttribute<Set<PosixFilePermission>> MODE =
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));

    @TempDir
    Path dir;

    @Test
    void shouldCreateWriteAndRemoveFilesInTheirDirectoryWithTheModeAsked() throws Exception
    {
        try (DirectoryHandles handles = new DirectoryHandles(dir))
        {
            final Path file = dir.resolve("a.part");
            write(handles.openFile(file, NEW, MODE), "hello");
            assertEquals("hello", Files.readString(file));
            assertEquals(PosixFilePermissions.fromString("rw-------"), Files.getPosixFilePermissions(file));
            assertEquals(1, handles.openCount());

            final FileAlreadyExistsException exists =
                assertThrows(FileAlreadyExistsException.class, () -> handles.openFile(file, NEW, MODE));
            assertEquals(file.toString(), exists.getFile(), "the whole path, as before");

            handles.deleteFile(file);
            assertFalse(Files.exists(file, LinkOption.NOFOLLOW_LINKS));
        }
    }

    @Test
    void shouldNeverOpenThroughASymlinkAtTheName() throws Exception
    {
        final Path elsewhere = Files.writeString(dir.resolve("elsewhere"), "keep");
        final Path sub = Files.createDirectory(dir.resolve("sub"));
        final Path link = Files.createSymbolicLink(sub.resolve("x.part"), elsewhere);
        try (DirectoryHandles handles = new DirectoryHandles(dir))
        {
            assertThrows(IOException.class, () -> handles.openFile(link, REOPEN, MODE));
            assertThrows(FileAlreadyExistsException.class, () -> handles.openFile(link, NEW, MODE));
        }
        assertEquals("keep", Files.readString(elsewhere));
    }

    @Test
    void shouldCreateInTheDirectoryNowAtThePathWhenTheOneHeldOpenWasReplaced() throws Exception
    {
        final Path sub = Files.createDirectory(dir.resolve("sub"));
        try (DirectoryHandles handles = new DirectoryHandles(dir))
        {
            write(handles.openFile(sub.resolve("1.part"), NEW, MODE), "one");
            Files.delete(sub.resolve("1.part"));
            Files.delete(sub);
            Files.createDirectory(sub);

            write(handles.openFile(sub.resolve("2.part"), NEW, MODE), "two");
            assertEquals("two", Files.readString(sub.resolve("2.part")));
            handles.deleteFile(sub.resolve("2.part"));
            assertFalse(Files.exists(sub.resolve("2.part")));
        }
    }

    @Test
    void shouldNeverCreateOutsideTheAnchorWhenADirectoryInsideIsSwappedForASymlink() throws Exception
    {
        final Path sub = Files.createDirectory(dir.resolve("sub"));
        final Path outside = Files.createDirectory(dir.getParent().resolve(dir.getFileName() + "-outside"));
        final Set<PosixFilePermission> outsideMode = Files.getPosixFilePermissions(outside);
        try
        {
            try (DirectoryHandles handles = new DirectoryHandles(dir))
            {
                write(handles.openFile(sub.resolve("1.part"), NEW, MODE), "one");
                // held open: the next file goes where the first went, wherever that directory is now
                Files.move(sub, dir.resolve("moved"));
                Files.createSymbolicLink(sub, outside);
                write(handles.openFile(sub.resolve("2.part"), NEW, MODE), "two");
                assertEquals("two", Files.readString(dir.resolve("moved").resolve("2.part")));

                // reached again from the anchor: the symlink is refused, with the whole path in the error
                handles.close();
                final IOException refused =
                    assertThrows(IOException.class, () -> handles.openFile(sub.resolve("3.part"), NEW, MODE));
                assertTrue(refused.getMessage().contains(sub.resolve("3.part").toString()), refused.getMessage());
                assertThrows(IOException.class, () -> handles.writeDirectoryMetadata(sub, 0700, 0));
            }
            try (java.util.stream.Stream<Path> left = Files.list(outside))
            {
                assertEquals(0, left.count(), "nothing was created outside");
            }
            assertEquals(outsideMode, Files.getPosixFilePermissions(outside), "the outside directory's mode unchanged");
        }
        finally
        {
            Files.deleteIfExists(outside);
        }
    }

    @Test
    void shouldCreateReadRenameAndRemoveEntriesInTheirDirectoryNamingTheWholePathInErrors() throws Exception
    {
        assertTrue(DirectoryHandles.throughDescriptors(), "/proc/self/fd and the JDK's stream descriptor usable here");
        final Path sub = Files.createDirectory(dir.resolve("sub"));
        try (DirectoryHandles handles = new DirectoryHandles(dir))
        {
            handles.createDirectory(sub.resolve("d"));
            assertTrue(Files.isDirectory(sub.resolve("d"), LinkOption.NOFOLLOW_LINKS));
            assertTrue(handles.attributes(sub.resolve("d")).isDirectory());
            final FileAlreadyExistsException exists =
                assertThrows(FileAlreadyExistsException.class, () -> handles.createDirectory(sub.resolve("d")));
            assertEquals(sub.resolve("d").toString(), exists.getFile());

            handles.createSymbolicLink(sub.resolve("l.tmp"), Path.of("../target"));
            handles.renameInDirectory(sub.resolve("l.tmp"), sub.resolve("l"));
            assertEquals(Path.of("../target"), Files.readSymbolicLink(sub.resolve("l")));
            assertEquals(Path.of("../target"), handles.readSymbolicLink(sub.resolve("l")));
            assertTrue(handles.attributes(sub.resolve("l")).isSymbolicLink(), "the link itself, not followed");
            handles.writeMtime(sub.resolve("l"), 1_500_000_000_123_456_000L);
            assertEquals(1_500_000_000_123_456_000L, FileMetadata.toNanos(Files.getLastModifiedTime(sub.resolve("l"),
                LinkOption.NOFOLLOW_LINKS)));

            handles.deleteEntry(sub.resolve("l"));
            assertFalse(Files.exists(sub.resolve("l"), LinkOption.NOFOLLOW_LINKS));
            assertEquals(null, handles.attributes(sub.resolve("l")));
            assertEquals(null, handles.attributes(dir.resolve("none").resolve("x")), "nor its directory");
            final java.nio.file.NoSuchFileException missing = assertThrows(java.nio.file.NoSuchFileException.class,
                () -> handles.deleteEntry(sub.resolve("l")));
            assertEquals(sub.resolve("l").toString(), missing.getFile());
        }
    }

    @Test
    void shouldCreateAndRemoveNothingOutsideTheAnchorWhenADirectoryIsSwappedForASymlink() throws Exception
    {
        final Path sub = Files.createDirectory(dir.resolve("sub"));
        Files.writeString(sub.resolve("inside"), "in");
        final Path outside = Files.createDirectory(dir.getParent().resolve(dir.getFileName() + "-elsewhere"));
        final Path victim = Files.writeString(outside.resolve("victim"), "keep");
        Files.writeString(outside.resolve("only-outside"), "out");
        try
        {
            try (DirectoryHandles handles = new DirectoryHandles(dir))
            {
                assertEquals(2, handles.attributes(sub.resolve("inside")).size());
                // held open, then swapped: every entry operation goes on in the directory that was opened
                final Path moved = dir.resolve("moved");
                Files.move(sub, moved);
                Files.createSymbolicLink(sub, outside);

                assertEquals(null, handles.attributes(sub.resolve("only-outside")), "not read through the swap");
                handles.createDirectory(sub.resolve("made"));
                handles.createSymbolicLink(sub.resolve("link"), Path.of("x"));
                handles.writeMtime(sub.resolve("link"), 1_000_000_000_000_000_000L);
                Files.writeString(moved.resolve("victim"), "a file of the module's");
                handles.deleteEntry(sub.resolve("victim"));
                // a temporary name planted outside is never renamed over a name there
                Files.writeString(moved.resolve("u.part"), "the module's");
                Files.writeString(outside.resolve("u.part"), "planted");
                handles.renameInDirectory(sub.resolve("u.part"), sub.resolve("only-outside"));
                assertEquals("the module's", Files.readString(moved.resolve("only-outside")));
                assertEquals("out", Files.readString(outside.resolve("only-outside")));
                Files.delete(outside.resolve("u.part"));

                assertTrue(Files.isDirectory(moved.resolve("made")));
                assertTrue(Files.isSymbolicLink(moved.resolve("link")));
                assertFalse(Files.exists(moved.resolve("victim")));
            }
            assertEquals("keep", Files.readString(victim), "nothing removed outside");
            try (java.util.stream.Stream<Path> left = Files.list(outside))
            {
                assertEquals(Set.of("victim", "only-outside"), left.map(p -> p.getFileName().toString())
                    .collect(java.util.stream.Collectors.toSet()), "nothing created outside");
            }
        }
        finally
        {
            try (java.util.stream.Stream<Path> left = Files.list(outside))
            {
                for (final Path path : left.toList())
                {
                    Files.delete(path);
                }
            }
            Files.deleteIfExists(outside);
        }
    }

    @Test
    void shouldGiveADirectoryItsModeAndMtimeThroughItsOwnDescriptor() throws Exception
    {
        final Path sub = Files.createDirectories(dir.resolve("a").resolve("b"));
        final long mtimeNs = 1_500_000_000_123_456_000L;
        try (DirectoryHandles handles = new DirectoryHandles(dir))
        {
            assertTrue(handles.writeDirectoryMetadata(sub, 0750, mtimeNs));
            assertFalse(handles.writeDirectoryMetadata(dir.getParent(), 0755, mtimeNs), "outside the anchor");
        }
        assertEquals(PosixFilePermissions.fromString("rwxr-x---"), Files.getPosixFilePermissions(sub));
        assertEquals(mtimeNs / 1000, Files.getLastModifiedTime(sub).to(java.util.concurrent.TimeUnit.MICROSECONDS));
    }

    @Test
    void shouldHoldAtMostItsLimitOfDirectoriesOpenAndCloseThemAll() throws Exception
    {
        try (DirectoryHandles handles = new DirectoryHandles(dir))
        {
            for (int i = 0; i < 3 * DirectoryHandles.MAX_OPEN; i++)
            {
                final Path sub = Files.createDirectory(dir.resolve("d" + i));
                write(handles.openFile(sub.resolve("f.part"), NEW, MODE), "x");
                assertTrue(handles.openCount() <= DirectoryHandles.MAX_OPEN, "open: " + handles.openCount());
            }
            assertEquals(DirectoryHandles.MAX_OPEN, handles.openCount());
            // the JDK keeps two descriptors per open directory (the stream's and its own for the *at calls)
            final long held = OpenDescriptors.under(dir);
            assertTrue(held >= DirectoryHandles.MAX_OPEN && held <= 2 * DirectoryHandles.MAX_OPEN,
                "the evicted ones are closed: " + held + " descriptors");
            // one evicted long ago: removed by its whole path
            handles.deleteFile(dir.resolve("d0").resolve("f.part"));
            assertFalse(Files.exists(dir.resolve("d0").resolve("f.part")));
            handles.close();
            assertEquals(0, handles.openCount());
        }
        assertEquals(0, OpenDescriptors.under(dir), "every directory closed");
    }

    private static void write(final FileChannel channel, final String text) throws IOException
    {
        try (channel)
        {
            channel.write(ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
        }
    }
}
