package io.xfer.agent.storage;

import java.nio.file.Path;

/**
 * One entry of a source tree as the sender found it during the walk.
 *
 * @param relativePath the path the receiver will use, '/'-separated.
 * @param path         where the entry is on the sender's file system.
 * @param fileType     {@code FileEntryFlyweight.TYPE_*}.
 * @param mode         permission bits.
 * @param size         bytes, for regular files; 0 otherwise.
 * @param mtimeNs      modification time.
 * @param linkTarget   symlink target, "" for other types.
 */
public record SourceEntry(
    String relativePath, Path path, int fileType, int mode, long size, long mtimeNs, String linkTarget)
{
}
