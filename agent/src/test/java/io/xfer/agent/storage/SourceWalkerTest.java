package io.xfer.agent.storage;

import io.xfer.protocol.ErrorCode;
import io.xfer.protocol.FileEntryFlyweight;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The walk over real directories: entries, types, sizes and modes as the file system has them, files opened
 * relative to their held-open directory, and no descriptor left behind, whether the walk ends or is abandoned.
 */
class SourceWalkerTest
{
    @TempDir
    Path dir;

    private final List<String> problems = new ArrayList<>();

    @Test
    void shouldReturnEveryEntryInOrderAndOpenEachFileWithItsContent() throws Exception
    {
        final Path root = Files.createDirectory(dir.resolve("src"));
        Files.writeString(root.resolve("b.txt"), "bee");
        Files.createDirectory(root.resolve("a"));
        Files.writeString(root.resolve("a").resolve("one"), "1");
        Files.writeString(root.resolve("a").resolve("two"), "22");
        Files.setPosixFilePermissions(root.resolve("a").resolve("two"), PosixFilePermissions.fromString("rwxr-x---"));
        Files.createSymbolicLink(root.resolve("c"), Path.of("b.txt"));

        final List<String> seen = new ArrayList<>();
        try (SourceWalker walker = walker(root))
        {
            for (SourceEntry entry = walker.next(); entry != null; entry = walker.next())
            {
                String line = entry.relativePath() + " " + entry.fileType() + " " + entry.size() + " " +
                    Integer.toOctalString(entry.mode());
                if (entry.fileType() == FileEntryFlyweight.TYPE_FILE)
                {
                    line += " " + read(walker.openFile(entry));
                }
                else if (entry.fileType() == FileEntryFlyweight.TYPE_SYMLINK)
                {
                    line += " -> " + entry.linkTarget();
                }
                seen.add(line);
            }
        }
        final int dirType = FileEntryFlyweight.TYPE_DIRECTORY;
        final int fileType = FileEntryFlyweight.TYPE_FILE;
        final String dirMode = Integer.toOctalString(FileMetadata.mode(Files.readAttributes(root.resolve("a"),
            java.nio.file.attribute.BasicFileAttributes.class), root.resolve("a")));
        final String fileMode = Integer.toOctalString(FileMetadata.mode(Files.readAttributes(root.resolve("b.txt"),
            java.nio.file.attribute.BasicFileAttributes.class), root.resolve("b.txt")));
        assertEquals(List.of(
            "src " + dirType + " 0 " + Integer.toOctalString(FileMetadata.mode(Files.readAttributes(root,
                java.nio.file.attribute.BasicFileAttributes.class), root)),
            "src/a " + dirType + " 0 " + dirMode,
            "src/a/one " + fileType + " 1 " + fileMode + " 1",
            "src/a/two " + fileType + " 2 750 22",
            "src/b.txt " + fileType + " 3 " + fileMode + " bee",
            "src/c " + FileEntryFlyweight.TYPE_SYMLINK + " 0 777 -> b.txt"), seen);
        assertEquals(List.of(), problems);
        assertEquals(0, OpenDescriptors.under(root), "the walk's directories are closed at its end");
    }

    @Test
    void shouldNeverOpenThroughASymlinkSwappedInAfterTheWalkSawAFile() throws Exception
    {
        final Path root = Files.createDirectory(dir.resolve("src"));
        final Path secret = Files.writeString(dir.resolve("secret"), "not for sending");
        Files.writeString(root.resolve("f"), "data");
        try (SourceWalker walker = walker(root))
        {
            assertEquals("src", walker.next().relativePath());
            final SourceEntry file = walker.next();
            assertEquals("src/f", file.relativePath());
            Files.delete(root.resolve("f"));
            Files.createSymbolicLink(root.resolve("f"), secret);
            assertThrows(IOException.class, () -> walker.openFile(file));
        }
    }

    @Test
    void shouldNeverLeaveTheTreeWhenADirectoryOnThePathIsSwappedForASymlinkDuringTheWalk() throws Exception
    {
        final Path root = Files.createDirectory(dir.resolve("src"));
        final Path sub = Files.createDirectory(root.resolve("sub"));
        Files.writeString(sub.resolve("f1"), "one");
        Files.writeString(sub.resolve("f2"), "two");
        Files.createSymbolicLink(sub.resolve("f3"), Path.of("f2"));
        final Path outside = Files.createDirectory(dir.resolve("outside"));
        Files.writeString(outside.resolve("f2"), "a secret outside the tree");
        Files.createSymbolicLink(outside.resolve("f3"), Path.of("/a/secret/place"));
        try (SourceWalker walker = walker(root))
        {
            assertEquals("src", walker.next().relativePath());
            assertEquals("src/sub", walker.next().relativePath());
            assertEquals("src/sub/f1", walker.next().relativePath());

            // the listed directory moves away and a symlink to elsewhere takes its name
            Files.move(sub, dir.resolve("moved"));
            Files.createSymbolicLink(sub, outside);

            final SourceEntry f2 = walker.next();
            assertEquals("src/sub/f2", f2.relativePath());
            assertEquals(3, f2.size(), "the listed directory's f2, not the one the symlink leads to");
            assertEquals("two", read(walker.openFile(f2)));
            final SourceEntry f3 = walker.next();
            assertEquals("src/sub/f3", f3.relativePath());
            assertEquals("f2", f3.linkTarget(), "the listed directory's symlink, not the one outside");
            assertEquals(null, walker.next());
        }
        assertEquals(List.of(), problems);
    }

    @Test
    void shouldOpenFilesLaterFromTheirRootWithoutFollowingASymlinkSwappedInSinceTheWalk() throws Exception
    {
        final Path root = Files.createDirectory(dir.resolve("src"));
        final Path sub = Files.createDirectories(root.resolve("a").resolve("sub"));
        Files.writeString(sub.resolve("big"), "inside");
        Files.writeString(root.resolve("top"), "top");
        final Path outside = Files.createDirectory(dir.resolve("outside"));
        Files.writeString(outside.resolve("big"), "a secret outside the tree");
        final List<SourceEntry> files = new ArrayList<>();
        try (SourceWalker walker = walker(root))
        {
            for (SourceEntry entry = walker.next(); entry != null; entry = walker.next())
            {
                if (entry.fileType() == FileEntryFlyweight.TYPE_FILE)
                {
                    files.add(entry);
                }
            }
            assertEquals(List.of("src/a/sub/big", "src/top"), files.stream().map(SourceEntry::relativePath).toList());
            // the walk is over: files sent as DATA are opened now
            assertEquals("inside", read(walker.openLater(files.get(0))));
            assertEquals("top", read(walker.openLater(files.get(1))));
            assertEquals(6, walker.attributesLater(files.get(0)).size());

            // a directory on the path is swapped for a symlink to elsewhere: nothing outside is opened or stat'ed
            Files.move(root.resolve("a"), dir.resolve("moved"));
            Files.createDirectory(root.resolve("a"));
            Files.createSymbolicLink(root.resolve("a").resolve("sub"), outside);
            walker.close(); // and what the walk held open is forgotten: every directory is found again
            final IOException refused = assertThrows(IOException.class, () -> walker.openLater(files.get(0)));
            assertTrue(refused.getMessage().contains(root.resolve("a").resolve("sub").toString()),
                "the whole path in: " + refused.getMessage());
            assertThrows(IOException.class, () -> walker.attributesLater(files.get(0)));
            assertEquals("top", read(walker.openLater(files.get(1))));
        }
        assertEquals(0, OpenDescriptors.under(root), "closed");
    }

    @Test
    void shouldReachAnAnchoredRootWithoutFollowingASymlinkSwappedInAboveIt() throws Exception
    {
        final Path module = Files.createDirectory(dir.resolve("module"));
        final Path pulled = Files.createDirectories(module.resolve("a").resolve("b"));
        Files.writeString(pulled.resolve("f"), "inside");
        final Path outside = Files.createDirectories(dir.resolve("outside").resolve("b"));
        Files.writeString(outside.resolve("f"), "a secret outside the module");

        // as checked when the pull started, the walk and a later open stay inside
        final List<String> seen = new ArrayList<>();
        try (SourceWalker walker = new SourceWalker(List.of(new SourceWalker.Root(pulled, "b", module)),
            (path, code, message) -> problems.add(path + " " + code + " " + message)))
        {
            for (SourceEntry entry = walker.next(); entry != null; entry = walker.next())
            {
                seen.add(entry.relativePath() + (entry.fileType() == FileEntryFlyweight.TYPE_FILE ?
                    " " + read(walker.openFile(entry)) + " " + read(walker.openLater(entry)) : ""));
            }
        }
        assertEquals(List.of("b", "b/f inside inside"), seen);

        // a directory between the module's root and the pulled one is swapped for a symlink after the check
        Files.move(module.resolve("a"), dir.resolve("moved"));
        Files.createSymbolicLink(module.resolve("a"), outside.getParent());
        for (final String name : List.of("b", ""))
        {
            try (SourceWalker walker = new SourceWalker(List.of(new SourceWalker.Root(pulled, name, module)),
                (path, code, message) -> problems.add(path + " " + code + " " + message)))
            {
                assertEquals(null, walker.next(), "nothing from outside the module");
            }
        }
        assertEquals(2, problems.size(), problems.toString());
        assertEquals(0, OpenDescriptors.under(module), "closed");
    }

    @Test
    void shouldOpenAFileGivenAsARootByItsPath() throws Exception
    {
        final Path file = Files.writeString(dir.resolve("single"), "one file");
        try (SourceWalker walker = new SourceWalker(List.of(new SourceWalker.Root(file, "single")),
            (path, code, message) -> problems.add(path + " " + code + " " + message)))
        {
            final SourceEntry entry = walker.next();
            assertEquals("single", entry.relativePath());
            assertEquals(null, walker.next());
            assertEquals("one file", read(walker.openLater(entry)));
        }
    }

    @Test
    void shouldReportAnEntryThatVanishedAfterTheListing() throws Exception
    {
        final Path root = Files.createDirectory(dir.resolve("src"));
        Files.writeString(root.resolve("a"), "a");
        Files.writeString(root.resolve("b"), "b");
        try (SourceWalker walker = walker(root))
        {
            assertEquals("src", walker.next().relativePath());
            assertEquals("src/a", walker.next().relativePath());
            Files.delete(root.resolve("b"));
            assertEquals(null, walker.next());
        }
        assertEquals(List.of("src/b " + ErrorCode.SOURCE_VANISHED + " vanished during the walk"), problems);
    }

    @Test
    void shouldHoldABoundedNumberOfDirectoriesOpenAndCloseThemWhenAbandoned() throws Exception
    {
        final Path root = Files.createDirectory(dir.resolve("src"));
        Path deep = root;
        for (int i = 0; i < SourceWalker.MAX_OPEN + 8; i++)
        {
            deep = Files.createDirectory(deep.resolve("d" + i));
        }
        Files.writeString(deep.resolve("leaf"), "leaf");
        try (SourceWalker walker = walker(root))
        {
            SourceEntry entry;
            do
            {
                entry = walker.next();
                assertNotNull(entry);
            }
            while (!entry.relativePath().endsWith("/leaf"));
            assertEquals("leaf", read(walker.openFile(entry)));
            final long held = OpenDescriptors.under(root);
            // the path held open, and the directories a file below that depth was reached through
            assertTrue(held > 0 && held <= 2 * (SourceWalker.MAX_OPEN + DirectoryHandles.MAX_OPEN), held + " descriptors");
            // abandoned here, at the deepest point
        }
        assertEquals(0, OpenDescriptors.under(root), "close() closes what the abandoned walk held");
    }

    private SourceWalker walker(final Path root)
    {
        return new SourceWalker(List.of(new SourceWalker.Root(root, "src")),
            (path, code, message) -> problems.add(path + " " + code + " " + message));
    }

    private static String read(final FileChannel channel) throws IOException
    {
        try (channel)
        {
            final ByteBuffer buffer = ByteBuffer.allocate((int)channel.size());
            while (buffer.hasRemaining() && channel.read(buffer) >= 0)
            {
                // until full
            }
            return new String(buffer.array(), 0, buffer.position(), StandardCharsets.UTF_8);
        }
    }
}
