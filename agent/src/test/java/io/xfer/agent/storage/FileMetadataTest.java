package io.xfer.agent.storage;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Mode and mtime as the receiver sets them on real files: through a symlink, neither reaches the file it points
 * to, so a symlink swapped in for a received file cannot turn the agent's chmod against one of its own files.
 */
class FileMetadataTest
{
    @TempDir
    Path dir;

    @Test
    void setsModeAndMtimeOfAFile() throws IOException
    {
        final Path file = Files.writeString(dir.resolve("f"), "data");

        FileMetadata.writeMode(file, 0640);
        FileMetadata.writeMtime(file, 1_600_000_000_123_456_789L);

        assertEquals("rw-r-----", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        assertEquals(1_600_000_000_123_456L, Files.getLastModifiedTime(file).to(TimeUnit.MICROSECONDS));
        assertEquals(0640, FileMetadata.readMode(file));
    }

    @Test
    void neverChangesTheModeOfWhatASymlinkPointsTo() throws IOException
    {
        final Path secret = Files.writeString(dir.resolve("agent.key"), "private");
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
        final Path swapped = Files.createSymbolicLink(dir.resolve(".xfer-1-2.part"), secret);

        assertThrows(IOException.class, () -> FileMetadata.writeMode(swapped, 0644));

        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(secret)));
    }

    @Test
    void setsModeAndMtimeOfTheOpenFileWhateverItsNameNowPointsTo() throws IOException
    {
        assertTrue(FileMetadata.descriptorsReachable(), "the build opens sun.nio.ch, as the launchers do");
        assertTrue(FileMetadata.descriptorCallsAvailable(), "the build opens sun.nio.fs, as the launchers do");
        final Path secret = Files.writeString(dir.resolve("agent.key"), "private");
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
        final FileTime secretTime = Files.getLastModifiedTime(secret);
        final Path temp = dir.resolve(".xfer-1-2.part");
        try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE))
        {
            channel.write(java.nio.ByteBuffer.wrap(new byte[] {1, 2, 3}));
            // the written file moves away and a symlink to the agent's key takes its name
            Files.move(temp, dir.resolve("moved"));
            Files.createSymbolicLink(temp, secret);

            FileMetadata.writeModeAndMtime(channel, temp, 0644, 1_600_000_000_000_000_000L);
        }

        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(secret)));
        assertEquals(secretTime, Files.getLastModifiedTime(secret));
        assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("moved"))));
        assertEquals(1_600_000_000L, Files.getLastModifiedTime(dir.resolve("moved")).to(TimeUnit.SECONDS));
    }

    @Test
    void setsASymlinksOwnMtimeNotItsTargets() throws IOException
    {
        final Path target = Files.writeString(dir.resolve("target"), "t");
        final FileTime before = Files.getLastModifiedTime(target);
        final Path link = Files.createSymbolicLink(dir.resolve("link"), target);

        FileMetadata.writeMtime(link, 1_500_000_000_000_000_000L);

        assertEquals(1_500_000_000L,
            Files.getLastModifiedTime(link, LinkOption.NOFOLLOW_LINKS).to(TimeUnit.SECONDS));
        assertEquals(before, Files.getLastModifiedTime(target));
    }

    @Test
    void setsExactNanosecondMtimesAndOnlyTheNineRwxBitsThroughTheDescriptor() throws IOException
    {
        final Path file = dir.resolve("exact");
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE))
        {
            FileMetadata.writeModeAndMtime(channel, file, 04751, 1_600_000_000_123_456_789L);
        }

        assertEquals(0751, FileMetadata.readMode(file), "setuid from a peer is not restored");
        assertEquals(1_600_000_000_123_456_789L, Files.getLastModifiedTime(file).to(TimeUnit.NANOSECONDS));
    }

    @Test
    void setsAnMtimeBefore1970TheSlowerWay() throws IOException
    {
        final Path file = dir.resolve("old");
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE))
        {
            FileMetadata.writeModeAndMtime(channel, file, 0600, -86_400_000_000_000L);
        }

        assertEquals(0600, FileMetadata.readMode(file));
        assertEquals(-86_400L, Files.getLastModifiedTime(file).to(TimeUnit.SECONDS));
    }

    @Test
    void readsTheModeWithTheAttributesOfAWalk() throws IOException
    {
        assertTrue(FileMetadata.modeWithAttributesAvailable(), "the build opens sun.nio.fs, as the launchers do");
        final Path file = Files.writeString(dir.resolve("f"), "data");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-x---"));
        Files.setAttribute(file, "unix:mode", 02750);
        final Path sub = Files.createDirectory(dir.resolve("sub"));
        Files.setPosixFilePermissions(sub, PosixFilePermissions.fromString("rwx-----x"));
        final Path link = Files.createSymbolicLink(dir.resolve("link"), file);

        assertEquals(02750, FileMetadata.mode(attributes(file), file), "setgid is read, as unix:mode gives it");
        assertEquals(0701, FileMetadata.mode(attributes(sub), sub));
        assertEquals(FileMetadata.readMode(link), FileMetadata.mode(attributes(link), link),
            "a symlink's own mode, not its target's");
        // attributes of another kind: read from the path
        assertEquals(02750, FileMetadata.mode(new ForeignAttributes(), file));
    }

    @Test
    void deletesItsOwnFileAndSaysWhyWhenThereIsNone() throws IOException
    {
        assertTrue(FileMetadata.unlinkAvailable(), "the build opens sun.nio.fs, as the launchers do");
        final Path file = Files.writeString(dir.resolve(".xfer-1-2.part"), "x");
        final Path target = Files.writeString(dir.resolve("target"), "t");
        final Path link = Files.createSymbolicLink(dir.resolve("link"), target);

        FileMetadata.deleteOwnFile(file);
        FileMetadata.deleteOwnFile(link);

        assertFalse(Files.exists(file, LinkOption.NOFOLLOW_LINKS));
        assertFalse(Files.exists(link, LinkOption.NOFOLLOW_LINKS));
        assertTrue(Files.exists(target), "a symlink goes, not what it points to");
        assertThrows(NoSuchFileException.class, () -> FileMetadata.deleteOwnFile(file));
    }

    @Test
    void attributesOfAnOpenFileAreThoseOfWhatWasOpenedNotOfWhatNowHasItsName() throws IOException
    {
        assertTrue(FileMetadata.fstatAvailable(), "the build opens sun.nio.fs, as the launchers do");
        final Path file = Files.writeString(dir.resolve("source"), "twelve bytes");
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ))
        {
            Files.move(Files.writeString(dir.resolve("other"), "much longer than twelve"), file,
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            assertEquals(12, FileMetadata.attributes(channel, file).size());
            Files.delete(file);
            assertEquals(12, FileMetadata.attributes(channel, file).size(), "still open, still there");
            channel.close();
            assertThrows(NoSuchFileException.class, () -> FileMetadata.attributes(channel, file),
                "closed: by the name, which is gone");
        }
    }

    private static java.nio.file.attribute.BasicFileAttributes attributes(final Path path) throws IOException
    {
        return Files.readAttributes(path, java.nio.file.attribute.BasicFileAttributes.class,
            LinkOption.NOFOLLOW_LINKS);
    }

    /** Attributes that no JDK file system provider made. */
    private static final class ForeignAttributes implements java.nio.file.attribute.BasicFileAttributes
    {
        @Override public FileTime lastModifiedTime() { return FileTime.fromMillis(0); }
        @Override public FileTime lastAccessTime() { return FileTime.fromMillis(0); }
        @Override public FileTime creationTime() { return FileTime.fromMillis(0); }
        @Override public boolean isRegularFile() { return true; }
        @Override public boolean isDirectory() { return false; }
        @Override public boolean isSymbolicLink() { return false; }
        @Override public boolean isOther() { return false; }
        @Override public long size() { return 0; }
        @Override public Object fileKey() { return null; }
    }
}
