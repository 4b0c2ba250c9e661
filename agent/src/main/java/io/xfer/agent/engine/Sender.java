package io.xfer.agent.engine;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.xfer.agent.storage.FileMetadata;
import io.xfer.agent.storage.SourceEntry;
import io.xfer.agent.storage.SourceWalker;
import io.xfer.agent.storage.StorageErrors;
import io.xfer.protocol.DataFlyweight;
import io.xfer.protocol.ErrorCode;
import io.xfer.protocol.ErrorFlyweight;
import io.xfer.protocol.FileEndFlyweight;
import io.xfer.protocol.FileEntryFlyweight;
import io.xfer.protocol.FileStatusFlyweight;
import io.xfer.protocol.FrameDecoder;
import io.xfer.protocol.FrameType;
import io.xfer.protocol.TransferDoneFlyweight;
import io.xfer.protocol.TransferEndFlyweight;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashMap;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * The sending role, on its own thread: walks the source, streams FILE_ENTRY frames without waiting for answers
 * (up to {@link #MAX_PENDING_ENTRIES} unresolved), sends the data of each file the receiver asks for as CRC32C
 * checked chunks read with positional I/O into pooled direct buffers, and collects the receiver's verdicts.
 * Serves both {@code xfer send} (in the client) and pulls (in the agent).
 */
public final class Sender extends TransferRole
{
    /** Manifest entries sent but not yet resolved; bounds memory whatever the tree size. */
    public static final int MAX_PENDING_ENTRIES = 4096;

    private final SourceWalker walker;
    private final ByteBufAllocator allocator;
    private final Map<Integer, SourceEntry> pending = new HashMap<>();
    private final FileStatusFlyweight fileStatus = new FileStatusFlyweight();
    private final TransferDoneFlyweight transferDone = new TransferDoneFlyweight();
    private final CRC32C crc = new CRC32C();
    private long entriesSent;
    private boolean done;
    private int remoteStatus;

    public Sender(
        final FrameConnection connection,
        final SourceWalker walker,
        final TransferStats stats,
        final int chunkLength,
        final long idleTimeoutNs)
    {
        super(connection, stats, chunkLength, idleTimeoutNs);
        this.walker = walker;
        this.allocator = connection.channel().alloc();
    }

    /**
     * Run the transfer to its end.
     *
     * @return the outcome; file-level failures are in the report.
     * @throws TransferException when the transfer as a whole failed.
     */
    public TransferReport run() throws InterruptedException
    {
        try
        {
            int nextFileId = 0;
            SourceEntry entry;
            while ((entry = walker.next()) != null)
            {
                final int fileId = nextFileId++;
                pending.put(fileId, entry);
                entriesSent++;
                connection.send(FileEntryFlyweight.encode(allocator, fileId, entry.fileType(), entry.mode(),
                    entry.size(), entry.mtimeNs(), entry.relativePath(), entry.linkTarget()));
                ByteBuf frame;
                while ((frame = nextFrame(false)) != null)
                {
                    onFrame(frame);
                }
                while (pending.size() >= MAX_PENDING_ENTRIES)
                {
                    onFrame(nextFrame(true));
                }
            }
            while (!pending.isEmpty())
            {
                onFrame(nextFrame(true));
            }
            connection.send(TransferEndFlyweight.encode(allocator, entriesSent, stats.bytesMoved()));
            while (!done)
            {
                onFrame(nextFrame(true));
            }
            connection.channel().close();
            return stats.report();
        }
        catch (final TransferException ex)
        {
            abort(ex);
            throw ex;
        }
        finally
        {
            connection.dispose();
        }
    }

    /** @return the receiver's TRANSFER_DONE status: 0, or the code of its first failure. */
    public int remoteStatus()
    {
        return remoteStatus;
    }

    private void onFrame(final ByteBuf frame) throws InterruptedException
    {
        try
        {
            final int type = FrameDecoder.type(frame);
            switch (type)
            {
                case FrameType.FILE_STATUS:
                    fileStatus.wrap(frame, frame.readerIndex());
                    onFileStatus(fileStatus.fileId(), fileStatus.status(), fileStatus.fileOffset(),
                        fileStatus.errorCode(), fileStatus.message());
                    break;
                case FrameType.TRANSFER_DONE:
                    if (!pending.isEmpty())
                    {
                        throw unexpected(type, "while " + pending.size() + " entries are unresolved");
                    }
                    transferDone.wrap(frame, frame.readerIndex());
                    remoteStatus = transferDone.status();
                    done = true;
                    break;
                case FrameType.ERROR:
                    final int fileId = errorFileId(frame);
                    final TransferException error = remoteError(frame);
                    final SourceEntry entry = fileId == ErrorFlyweight.CONNECTION ? null : pending.remove(fileId);
                    if (entry == null)
                    {
                        throw error;
                    }
                    stats.record(new TransferEvent(TransferEvent.Kind.FAILED, entry.relativePath(),
                        entry.fileType(), 0, error.errorCode(), error.getMessage()));
                    break;
                case FrameType.PONG:
                    break;
                default:
                    throw unexpected(type, "at the sender");
            }
        }
        finally
        {
            frame.release();
        }
    }

    private void onFileStatus(
        final int fileId, final int status, final long offset, final int errorCode, final String message)
        throws InterruptedException
    {
        final SourceEntry entry = pending.get(fileId);
        if (entry == null)
        {
            throw new TransferException(ErrorCode.UNEXPECTED_FRAME, "FILE_STATUS for unknown file id " + fileId);
        }
        switch (status)
        {
            case FileStatusFlyweight.SEND:
                if (entry.fileType() != FileEntryFlyweight.TYPE_FILE || offset > entry.size())
                {
                    throw new TransferException(ErrorCode.UNEXPECTED_FRAME, "FILE_STATUS send of " +
                        entry.relativePath() + " at offset " + offset + " is not possible");
                }
                sendFile(fileId, entry, offset);
                break;
            case FileStatusFlyweight.SKIPPED:
                resolve(fileId, entry, TransferEvent.Kind.SKIPPED, 0, null, "");
                break;
            case FileStatusFlyweight.COMMITTED:
                resolve(fileId, entry, TransferEvent.Kind.COMMITTED, entry.size(), null, "");
                break;
            case FileStatusFlyweight.REFUSED:
                resolve(fileId, entry, TransferEvent.Kind.REFUSED, 0, code(errorCode), message);
                break;
            default:
                resolve(fileId, entry, TransferEvent.Kind.FAILED, 0, code(errorCode), message);
                break;
        }
    }

    private static ErrorCode code(final int errorCode)
    {
        final ErrorCode code = ErrorCode.get(errorCode);
        return code == null ? ErrorCode.INTERNAL : code;
    }

    private void resolve(
        final int fileId,
        final SourceEntry entry,
        final TransferEvent.Kind kind,
        final long bytes,
        final ErrorCode code,
        final String message)
    {
        pending.remove(fileId);
        stats.record(new TransferEvent(kind, entry.relativePath(), entry.fileType(), bytes, code, message));
    }

    private void sendFile(final int fileId, final SourceEntry entry, final long startOffset)
        throws InterruptedException
    {
        final long size = entry.size();
        try (FileChannel file = FileChannel.open(entry.path(), StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))
        {
            final ChunkDigest digest = new ChunkDigest();
            long position = startOffset;
            while (position < size)
            {
                final int length = (int)Math.min(chunkLength, size - position);
                connection.awaitWritable(idleTimeoutNs);
                final ByteBuf payload = allocator.directBuffer(length);
                final int checksum;
                try
                {
                    while (payload.writerIndex() < length)
                    {
                        final int read = payload.writeBytes(file, position + payload.writerIndex(),
                            length - payload.writerIndex());
                        if (read < 0)
                        {
                            sourceChanged(fileId, entry, "shrank while being read");
                            return;
                        }
                    }
                    crc.reset();
                    crc.update(payload.nioBuffer(0, length));
                    checksum = (int)crc.getValue();
                }
                catch (final IOException | RuntimeException ex)
                {
                    payload.release();
                    throw ex;
                }
                if (!digest.add(position / chunkLength, checksum))
                {
                    payload.release();
                    throw new IllegalStateException("chunk added twice");
                }
                connection.send(
                    DataFlyweight.encodeHeader(allocator, 0, fileId, position, length, checksum, length), payload);
                position += length;
                stats.addBytes(length);
            }

            final BasicFileAttributes after =
                Files.readAttributes(entry.path(), BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            final long mtimeNs = FileMetadata.toNanos(after.lastModifiedTime());
            if (after.size() != size || !FileMetadata.sameMtime(mtimeNs, entry.mtimeNs()))
            {
                sourceChanged(fileId, entry, "changed while being sent (size " + size + " -> " + after.size() +
                    ", mtime changed: " + !FileMetadata.sameMtime(mtimeNs, entry.mtimeNs()) + ")");
                return;
            }
            connection.send(FileEndFlyweight.encode(allocator, fileId, FileEndFlyweight.DIGEST_CHUNK_ROOT, size,
                entry.mtimeNs(), digest.finish()));
        }
        catch (final NoSuchFileException ex)
        {
            failFile(fileId, entry, TransferEvent.Kind.VANISHED, ErrorCode.SOURCE_VANISHED,
                "vanished before it could be sent");
        }
        catch (final IOException ex)
        {
            failFile(fileId, entry, TransferEvent.Kind.FAILED, StorageErrors.classify(ex),
                "cannot read: " + StorageErrors.describe(ex));
        }
    }

    private void sourceChanged(final int fileId, final SourceEntry entry, final String why)
    {
        failFile(fileId, entry, TransferEvent.Kind.FAILED, ErrorCode.SOURCE_CHANGED, why);
    }

    private void failFile(
        final int fileId, final SourceEntry entry, final TransferEvent.Kind kind, final ErrorCode code,
        final String message)
    {
        connection.send(ErrorFlyweight.encode(allocator, code, fileId, message));
        resolve(fileId, entry, kind, 0, code, message);
    }
}
