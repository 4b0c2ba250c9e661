package io.xfer.agent.storage;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;

/**
 * Run by {@link FileMetadataNonRootTest} as an unprivileged user, with nothing on its class path but this class and
 * {@link FileMetadata}: writes a file the way the receiver does (created 0600, written, then its mtime and final
 * mode through the still open channel) for each mode given, and prints what the file ended with, one line each:
 * {@code MODE_OCTAL MTIME_NS}, or {@code FAILED reason}.
 */
public final class NonRootMetadataProbe
{
    private NonRootMetadataProbe()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        final Path dir = Path.of(args[0]);
        final long mtimeNs = Long.parseLong(args[1]);
        System.out.println("descriptors " + FileMetadata.descriptorsReachable());
        System.out.println("calls " + FileMetadata.descriptorCallsAvailable());
        for (int i = 2; i < args.length; i++)
        {
            final int mode = Integer.parseInt(args[i], 8);
            final Path file = dir.resolve("file-" + args[i]);
            try (FileChannel channel = FileChannel.open(file, java.util.Set.of(StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS),
                java.nio.file.attribute.PosixFilePermissions.asFileAttribute(FileMetadata.permissions(0600))))
            {
                channel.write(ByteBuffer.wrap("payload".getBytes(StandardCharsets.US_ASCII)), 0);
                channel.force(true);
                FileMetadata.writeModeAndMtime(channel, file, mode, mtimeNs);
            }
            catch (final Exception ex)
            {
                System.out.println("FAILED " + args[i] + " " + ex);
                continue;
            }
            System.out.println(Integer.toOctalString(FileMetadata.readMode(file)) + " " +
                Files.getLastModifiedTime(file, LinkOption.NOFOLLOW_LINKS).to(TimeUnit.NANOSECONDS));
        }
    }
}
