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
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;
import org.agrona.collections.Int2IntHashMap;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * The sending role. Its thread walks the source and streams FILE_ENTRY frames without waiting for answers (up to
 * {@link #MAX_PENDING_ENTRIES} unresolved), reads the files the receiver asks for in chunks with positional I/O into
 * pooled direct buffers, checksums (CRC32C) and optionally LZ4-compresses them, and hands them to the
 * {@link ChunkScheduler}; the connections' event loops ({@link DataStream}s) send them on whichever stream has
 * credit. Chunks lost with a dead stream are read again and re-sent. Serves {@code xfer send} in the client and
 * pulls in the agent.
 */
public final class Sender extends TransferRole
{
    /** Manifest entries sent but not yet resolved; bounds memory whatever the tree size. */
    public static final int MAX_PENDING_ENTRIES = 4096;

    private static final long BUDGET_POLL_NS = 5_000_000L;
    private static final int MAX_COMPRESSION_BACKOFF = 64;
    /** Times a file that changes while it is sent is started again before it fails. */
    static final int MAX_CHANGE_RETRIES = 3;

    /** Chunks that a dead stream left unacknowledged, posted by its event loop. */
    private record Lost(List<Chunk> chunks)
    {
    }

    /**
     * A chunk to read and send again: lost with a dead stream (its CRC is known and must match, or the source
     * changed) or asked for by the receiver after it arrived damaged.
     */
    private record Resend(OutgoingFile file, long offset, int rawLength, int checksum, boolean checksumKnown)
    {
    }

    private final SourceWalker walker;
    private final ByteBufAllocator allocator;
    private final ChunkScheduler scheduler;
    private final Chunk.Pool chunks = new Chunk.Pool();
    private final long windowBytes;
    private final Compression compression;
    private final LZ4Compressor compressor;
    private final CompressionHistory compressionHistory = new CompressionHistory();
    private final Map<Integer, SourceEntry> pending = new HashMap<>();
    private final Map<Integer, OutgoingFile> open = new HashMap<>();
    private final ArrayDeque<OutgoingFile> toRead = new ArrayDeque<>();
    private final ArrayDeque<Resend> toResend = new ArrayDeque<>();
    private final List<DataStream> streams = new ArrayList<>();
    private final Map<String, Integer> changeRetries = new HashMap<>();
    /** Files this side ended with an ERROR for their id: late statuses for them are ignored. */
    private final java.util.BitSet abandoned = new java.util.BitSet();
    private final FileStatusFlyweight fileStatus = new FileStatusFlyweight();
    private final TransferDoneFlyweight transferDone = new TransferDoneFlyweight();
    private final CRC32C crc = new CRC32C();
    private long entriesSent;
    private boolean walkDone;
    private boolean endSent;
    private boolean done;
    private int remoteStatus;
    private int nextFileId;
    private long budgetWaitStartNs;
    private boolean sha256Digests;
    private boolean fromFile;
    private boolean inlineData;
    /** Entries sent with their content and not answered yet: file id to the policy epoch they were sent in. */
    private final Int2IntHashMap inlineSent = new Int2IntHashMap(-1);
    /** Bytes of content in entries not answered yet, at most {@link #inlineWindowBytes}. */
    private long inlineBytesOutstanding;
    private final long inlineWindowBytes;
    /** The largest file that goes with its entry: the protocol's limit, and one chunk. */
    private final int inlineMaxBytes;
    /** The walk waits for the window to drain to half ({@link #inlineWindowFull}). */
    private boolean inlineWalkHeld;
    private final InlinePolicy inlinePolicy = new InlinePolicy();
    /** Since when no stream is left (plaintext: the control connection carries none), or 0. */
    private long streamlessSinceNs;
    private Runnable firstChunk;

    /**
     * @param control     the control connection.
     * @param controlData whether the control connection carries DATA as well, as the first stream (not when the
     *                    data connections are plaintext: TLS cannot carry a region sent with sendfile).
     * @param windowBytes unacknowledged payload bytes allowed per stream.
     * @param budgetBytes payload bytes the sender may hold in buffers at once (read but not yet written).
     */
    public Sender(
        final FrameConnection control,
        final boolean controlData,
        final SourceWalker walker,
        final TransferStats stats,
        final int chunkLength,
        final long windowBytes,
        final long budgetBytes,
        final Compression compression,
        final long idleTimeoutNs)
    {
        super(control, stats, chunkLength, idleTimeoutNs);
        this.walker = walker;
        this.allocator = control.channel().alloc();
        this.windowBytes = windowBytes;
        // content waits on the control connection like read chunks in buffers: half the budget at most
        this.inlineWindowBytes = Math.max(FileEntryFlyweight.INLINE_MAX_BYTES, Math.min(windowBytes, budgetBytes / 2));
        this.inlineMaxBytes = Math.min(FileEntryFlyweight.INLINE_MAX_BYTES, chunkLength);
        this.compression = compression;
        this.compressor = compression == Compression.NONE ? null : LZ4Factory.fastestInstance().fastCompressor();
        this.scheduler = new ChunkScheduler(Math.max(budgetBytes, 2L * Chunk.charge(chunkLength)));
        if (controlData)
        {
            addStream(control);
        }
    }

    /**
     * Send raw chunks as regions of their files (sendfile), for plaintext data connections: each chunk is still
     * read once, to checksum it, but its bytes are not written to the socket from this process. Compressed
     * chunks and re-sent ones go from buffers as usual. Before {@link #run()}.
     */
    public Sender sendFromFile(final boolean enabled)
    {
        this.fromFile = enabled;
        return this;
    }

    /**
     * Send the content of small files with their entries (negotiated INLINE_DATA capability): files of at most
     * {@link FileEntryFlyweight#INLINE_MAX_BYTES} and one chunk, while the content of unanswered ones stays within
     * one stream's window. Before {@link #run()}.
     */
    public Sender inlineData(final boolean enabled)
    {
        this.inlineData = enabled;
        return this;
    }

    /**
     * Put a SHA-256 of each file's content in FILE_END instead of the chunk root (negotiated SHA256 capability),
     * and report it with each committed file. Before {@link #run()}.
     */
    public Sender sha256Digests(final boolean enabled)
    {
        this.sha256Digests = enabled;
        return this;
    }

    /**
     * Run {@code hook} once, on the transfer thread, before the first chunk is read to go as DATA: a client opens
     * its data connections then, so a transfer whose files all go with their entries (or are skipped, or empty)
     * opens none. Before {@link #run()}.
     */
    public Sender onFirstChunk(final Runnable hook)
    {
        this.firstChunk = hook;
        return this;
    }

    /**
     * Add a connection that carries chunks; any thread, at any time before the transfer ends.
     */
    public void addStream(final FrameConnection connection)
    {
        final DataStream stream = new DataStream(connection, scheduler, windowBytes, stats.latency(),
            lost -> connection.inbox().post(new Lost(lost)));
        connection.inbox(this.connection.inbox());
        connection.streamListener(stream);
        synchronized (streams)
        {
            streams.add(stream);
        }
        scheduler.addStream(stream);
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
            while (!done)
            {
                stats.latency().sample(System.nanoTime());
                checkStreams();
                Object message;
                while ((message = nextMessage(false)) != null)
                {
                    onMessage(message);
                }
                if (!toResend.isEmpty())
                {
                    resend(toResend.peek());
                }
                else if (!toRead.isEmpty())
                {
                    readNextChunk(toRead.peek());
                }
                else if (!walkDone && pending.size() < MAX_PENDING_ENTRIES && !inlineWindowFull())
                {
                    walkOne();
                }
                else if (walkDone && pending.isEmpty() && !endSent)
                {
                    connection.send(TransferEndFlyweight.encode(allocator, entriesSent, stats.bytesMoved()));
                    endSent = true;
                }
                else
                {
                    onMessage(nextMessage(true));
                }
            }
            closeStreams();
            return stats.report();
        }
        catch (final TransferException ex)
        {
            // the control connection lingers in abort() so the peer reads the ERROR; data connections just close
            abort(ex);
            closeDataStreams();
            throw ex;
        }
        finally
        {
            scheduler.drain();
            for (final OutgoingFile file : open.values())
            {
                file.close();
            }
            open.clear();
            walker.close();
            connection.dispose();
        }
    }

    private void checkStreams()
    {
        if (streamlessSinceNs == 0)
        {
            return;
        }
        if (scheduler.liveStreams() > 0)
        {
            streamlessSinceNs = 0;
        }
        else if (System.nanoTime() - streamlessSinceNs > idleTimeoutNs)
        {
            throw new TransferException(ErrorCode.TIMEOUT, "no data connection for " +
                idleTimeoutNs / 1_000_000_000L + " s");
        }
    }

    /** @return the receiver's TRANSFER_DONE status: 0, or the code of its first failure. */
    public int remoteStatus()
    {
        return remoteStatus;
    }

    private void closeStreams()
    {
        closeDataStreams();
        connection.closeAfterFlush();
    }

    private void closeDataStreams()
    {
        synchronized (streams)
        {
            for (final DataStream stream : streams)
            {
                if (stream.connection() != connection)
                {
                    stream.connection().channel().close();
                }
            }
        }
    }

    private Object nextMessage(final boolean block) throws InterruptedException
    {
        if (block)
        {
            connection.flush();
        }
        final Object message = connection.inbox().poll(block ? idleTimeoutNs : 0);
        if (message == null && block)
        {
            throw new TransferException(ErrorCode.TIMEOUT, "no word from the peer for " +
                idleTimeoutNs / 1_000_000_000L + " s");
        }
        return message;
    }

    private void onMessage(final Object message) throws InterruptedException
    {
        if (message instanceof Inbox.Inbound inbound)
        {
            if (inbound.source() != connection)
            {
                // data connections carry nothing but CHUNK_ACK, which their streams take on the event loop, and
                // perhaps an ERROR just before they close, which the close then reports
                final int type = FrameDecoder.type(inbound.frame());
                inbound.frame().release();
                if (type != FrameType.ERROR)
                {
                    throw new TransferException(ErrorCode.UNEXPECTED_FRAME, FrameType.name(type) +
                        " on a data connection");
                }
                return;
            }
            onFrame(inbound.frame());
        }
        else if (message instanceof Inbox.Closed closed)
        {
            if (closed.source() == connection)
            {
                throw closedException(closed.cause());
            }
            // a data connection died: its stream hands back its chunks (Lost), the others carry on; with none left
            // (plaintext data, where the control connection carries no DATA) the transfer waits for the client's
            // replacement, at most the idle timeout
            if (scheduler.liveStreams() == 0 && streamlessSinceNs == 0)
            {
                streamlessSinceNs = System.nanoTime();
            }
        }
        else if (message instanceof Lost lost)
        {
            for (final Chunk chunk : lost.chunks())
            {
                toResend.add(new Resend(chunk.file, chunk.offset, chunk.rawLength, chunk.checksum, true));
            }
        }
    }

    private void walkOne()
    {
        final SourceEntry entry = walker.next();
        if (entry == null)
        {
            walkDone = true;
            return;
        }
        announce(entry);
    }

    /**
     * While small files go with their content (every eligible one: learning or trusted, not probing), the walk waits
     * for answers when the next one could not go with it: past the learning phase's limit of unanswered entries, or
     * when it might not fit the window, and then until the window is half empty (one file at a time would cost a
     * wake-up each). Sent without its content a file would cost the round of SEND, DATA and FILE_END that the
     * content saves, and while learning, a walk that went on would send most of a small tree so.
     */
    private boolean inlineWindowFull()
    {
        if (!inlineData || sha256Digests || inlinePolicy.interval() > 1)
        {
            inlineWalkHeld = false;
            return false;
        }
        if (!inlinePolicy.trusted() && inlineSent.size() >= InlinePolicy.LEARNING_OUTSTANDING)
        {
            return true;
        }
        if (inlineWalkHeld)
        {
            inlineWalkHeld = inlineBytesOutstanding > inlineWindowBytes / 2;
        }
        else
        {
            inlineWalkHeld = inlineBytesOutstanding + inlineMaxBytes > inlineWindowBytes;
        }
        return inlineWalkHeld;
    }

    /** Send a manifest entry under the next file id. */
    private void announce(final SourceEntry entry)
    {
        final int fileId = nextFileId++;
        pending.put(fileId, entry);
        entriesSent++;
        if (inlineData && !sha256Digests && entry.fileType() == FileEntryFlyweight.TYPE_FILE &&
            entry.size() <= inlineMaxBytes &&
            inlineBytesOutstanding + entry.size() <= inlineWindowBytes && inlinePolicy.inline(inlineSent.size()) &&
            announceInline(fileId, entry))
        {
            return;
        }
        connection.send(FileEntryFlyweight.encode(allocator, fileId, entry.fileType(), entry.mode(),
            entry.size(), entry.mtimeNs(), entry.relativePath(), entry.linkTarget()));
    }

    /**
     * Read a small file whole, now, and send its entry with its content (LZ4-compressed where that pays, as for a
     * chunk). False when it could not be read as the walk saw it (an error, another size or mtime): then the plain
     * entry goes, and the usual path (SEND, read, FILE_END) reports or resends it.
     */
    private boolean announceInline(final int fileId, final SourceEntry entry)
    {
        final int size = (int)entry.size();
        final ByteBuf raw = allocator.directBuffer(Math.max(size, 1));
        ByteBuf packed = null;
        try
        {
            final long startNs = System.nanoTime();
            try (FileChannel channel = walker.openFile(entry))
            {
                while (raw.writerIndex() < size)
                {
                    if (raw.writeBytes(channel, raw.writerIndex(), size - raw.writerIndex()) < 0)
                    {
                        return false;
                    }
                }
                // the file as opened, read whole: no other size or mtime than the walk saw
                final BasicFileAttributes after = FileMetadata.attributes(channel, entry.path());
                if (after.size() != size ||
                    !FileMetadata.sameMtime(FileMetadata.toNanos(after.lastModifiedTime()), entry.mtimeNs()))
                {
                    return false;
                }
            }
            catch (final IOException ex)
            {
                return false;
            }
            stats.latency().record(LatencyRecorder.Metric.DISK_READ, System.nanoTime() - startNs);
            final int checksum = checksum(raw, size);
            int flags = 0;
            ByteBuf content = raw;
            if (size > 0 && compressor != null)
            {
                final int slot = CompressionHistory.slot(entry.relativePath());
                if (compression != Compression.AUTO || !compressionHistory.skipFirstChunk(slot))
                {
                    packed = allocator.directBuffer(compressor.maxCompressedLength(size));
                    final int packedLength = lz4(raw, size, packed);
                    final boolean shrank = worthSending(packedLength, size);
                    compressionHistory.tried(slot, shrank);
                    if (shrank)
                    {
                        packed.writerIndex(packedLength);
                        content = packed;
                        flags = FileEntryFlyweight.FLAG_LZ4;
                    }
                }
            }
            connection.send(FileEntryFlyweight.encodeInline(allocator, fileId, entry.mode(), size, entry.mtimeNs(),
                entry.relativePath(), flags, checksum, content, 0, content.writerIndex()));
            inlineSent.put(fileId, inlinePolicy.epoch());
            inlineBytesOutstanding += size;
            // its bytes count as moved once the receiver used them (COMMITTED); on the wire they are now
            stats.addWireBytes(content.writerIndex());
            return true;
        }
        finally
        {
            raw.release();
            if (packed != null)
            {
                packed.release();
            }
        }
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
                    if (!pending.isEmpty() || !endSent)
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
                    final SourceEntry entry = fileId == ErrorFlyweight.CONNECTION ? null : pending.get(fileId);
                    if (entry == null)
                    {
                        throw error;
                    }
                    resolve(fileId, entry, TransferEvent.Kind.FAILED, 0, error.errorCode(), error.getMessage());
                    break;
                case FrameType.PONG:
                case FrameType.CHUNK_ACK:
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
    {
        final SourceEntry entry = pending.get(fileId);
        if (entry == null)
        {
            if (abandoned.get(fileId))
            {
                // this side gave the file up (ERROR for its id) while the receiver's word was on its way
                return;
            }
            throw new TransferException(ErrorCode.UNEXPECTED_FRAME, "FILE_STATUS for unknown file id " + fileId);
        }
        final boolean wasInline = inlineAnswered(fileId, entry,
            status != FileStatusFlyweight.SKIPPED && status != FileStatusFlyweight.REFUSED);
        if (wasInline && status == FileStatusFlyweight.COMMITTED)
        {
            stats.addBytes(entry.size());
        }
        switch (status)
        {
            case FileStatusFlyweight.SEND:
                if (entry.fileType() != FileEntryFlyweight.TYPE_FILE || offset > entry.size() ||
                    offset % chunkLength != 0 && offset != entry.size() || open.containsKey(fileId))
                {
                    throw new TransferException(ErrorCode.UNEXPECTED_FRAME, "FILE_STATUS send of " +
                        entry.relativePath() + " at offset " + offset + " is not possible");
                }
                openFile(fileId, entry, offset);
                if (wasInline)
                {
                    // the receiver could not use the content it carried (damaged): the file goes again as DATA
                    stats.recordChecksumRetry();
                    stats.addResentBytes(entry.size());
                }
                break;
            case FileStatusFlyweight.SKIPPED:
                resolve(fileId, entry, TransferEvent.Kind.SKIPPED, 0, null, "");
                break;
            case FileStatusFlyweight.RESEND:
                final OutgoingFile damaged = open.get(fileId);
                if (damaged == null || offset % chunkLength != 0 || offset >= entry.size())
                {
                    throw new TransferException(ErrorCode.UNEXPECTED_FRAME, "FILE_STATUS resend of " +
                        entry.relativePath() + " at offset " + offset + " is not possible");
                }
                stats.recordChecksumRetry();
                toResend.add(new Resend(damaged, offset, (int)Math.min(chunkLength, entry.size() - offset), 0, false));
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

    /**
     * An entry's first answer (or a receiver's ERROR for it): if it went with its content, that content no longer
     * counts against the window, and the policy learns whether it was used.
     *
     * @return whether the entry went with its content
     */
    private boolean inlineAnswered(final int fileId, final SourceEntry entry, final boolean used)
    {
        final int epoch = inlineSent.remove(fileId);
        if (epoch == inlineSent.missingValue())
        {
            return false;
        }
        inlineBytesOutstanding -= entry.size();
        inlinePolicy.answered(used, epoch);
        return true;
    }

    private void resolve(
        final int fileId,
        final SourceEntry entry,
        final TransferEvent.Kind kind,
        final long bytes,
        final ErrorCode code,
        final String message)
    {
        inlineAnswered(fileId, entry, true);
        pending.remove(fileId);
        final OutgoingFile file = open.remove(fileId);
        String sha256 = null;
        if (file != null)
        {
            file.failed = true;
            unqueue(file);
            file.close();
            sha256 = kind == TransferEvent.Kind.COMMITTED ? file.contentDigestHex : null;
        }
        stats.record(new TransferEvent(kind, entry.relativePath(), entry.fileType(), bytes, code, message, sha256));
    }

    /**
     * Take a file off the read queue if it is still on it (one that failed or was resolved early); resolving
     * thousands of small files that were read long ago then costs no scan of the queue.
     */
    private void unqueue(final OutgoingFile file)
    {
        if (file != null && file.queued)
        {
            file.queued = false;
            if (toRead.peek() == file)
            {
                toRead.poll();
            }
            else
            {
                toRead.remove(file);
            }
        }
    }

    /** Take the head of the read queue off it. */
    private void dequeueHead()
    {
        final OutgoingFile head = toRead.poll();
        if (head != null)
        {
            head.queued = false;
        }
    }

    private void openFile(final int fileId, final SourceEntry entry, final long resumeOffset)
    {
        try
        {
            // from its root, a directory at a time: a directory swapped for a symlink since the walk leads nowhere
            final FileChannel channel = walker.openLater(entry);
            final OutgoingFile file = new OutgoingFile(fileId, entry, channel, 0);
            file.resumeOffset = resumeOffset;
            if (sha256Digests)
            {
                file.contentDigest = ChunkDigest.sha256();
            }
            stats.addResumedBytes(resumeOffset);
            open.put(fileId, file);
            toRead.add(file);
            file.queued = true;
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

    /**
     * Read, checksum, compress and queue the next chunk of a file; send FILE_END after its last chunk. Returns
     * without reading when the ring budget stays full for a few milliseconds, so messages keep being handled.
     */
    private void readNextChunk(final OutgoingFile file) throws InterruptedException
    {
        final long size = file.entry.size();
        if (file.fullyRead())
        {
            dequeueHead();
            finishFile(file);
            return;
        }
        final long offset = file.nextOffset;
        final int length = (int)Math.min(chunkLength, size - offset);
        if (offset < file.resumeOffset)
        {
            verifyHeldChunk(file, offset, length);
            return;
        }
        if (firstChunk != null)
        {
            final Runnable hook = firstChunk;
            firstChunk = null;
            hook.run();
        }
        if (!takeBudget(Chunk.charge(length)))
        {
            return;
        }
        final ByteBuf raw;
        try
        {
            raw = read(file, offset, length);
        }
        catch (final IOException ex)
        {
            scheduler.release(Chunk.charge(length));
            dequeueHead();
            failOpenFile(file, ex instanceof NoSuchFileException ? TransferEvent.Kind.VANISHED :
                TransferEvent.Kind.FAILED, StorageErrors.classify(ex), "cannot read: " + StorageErrors.describe(ex));
            return;
        }
        if (raw == null)
        {
            scheduler.release(Chunk.charge(length));
            dequeueHead();
            sourceChanged(file, "shrank while being read");
            return;
        }
        final int checksum = checksum(raw, length);
        file.digest.add(offset / chunkLength, checksum);
        if (file.contentDigest != null)
        {
            file.contentDigest.update(raw.internalNioBuffer(raw.readerIndex(), length));
        }
        file.nextOffset = offset + length;
        stats.addBytes(length);
        scheduler.offer(fromFile && skipsLz4(file) ?
            fromFile(file, offset, length, checksum, raw) : compress(file, offset, length, checksum, raw));
    }

    /** A raw chunk to send from its file: the buffer it was read into for its checksum goes back to the pool. */
    private Chunk fromFile(
        final OutgoingFile file, final long offset, final int length, final int checksum, final ByteBuf raw)
    {
        raw.release();
        file.compressionSkip = Math.max(0, file.compressionSkip - 1);
        stats.addWireBytes(length);
        return chunks.ofRegion(file, offset, length, checksum, new SharedFileRegion(file, offset, length));
    }

    /**
     * The receiver already holds this chunk from an earlier run: read it only for its CRC32C, which goes into the
     * whole-file digest, so the digest still proves the receiver's copy equals the source as it is now.
     */
    private void verifyHeldChunk(final OutgoingFile file, final long offset, final int length)
    {
        final ByteBuf raw;
        try
        {
            raw = read(file, offset, length);
        }
        catch (final IOException ex)
        {
            dequeueHead();
            failOpenFile(file, ex instanceof NoSuchFileException ? TransferEvent.Kind.VANISHED :
                TransferEvent.Kind.FAILED, StorageErrors.classify(ex), "cannot read: " + StorageErrors.describe(ex));
            return;
        }
        if (raw == null)
        {
            dequeueHead();
            sourceChanged(file, "shrank while being read");
            return;
        }
        try
        {
            file.digest.add(offset / chunkLength, checksum(raw, length));
            if (file.contentDigest != null)
            {
                file.contentDigest.update(raw.internalNioBuffer(raw.readerIndex(), length));
            }
        }
        finally
        {
            raw.release();
        }
        file.nextOffset = offset + length;
    }

    private boolean takeBudget(final int bytes) throws InterruptedException
    {
        final long startNs = System.nanoTime();
        if (budgetWaitStartNs == 0)
        {
            budgetWaitStartNs = startNs;
        }
        if (!scheduler.acquire(bytes, BUDGET_POLL_NS))
        {
            // what the channels wrote out since their last pump comes back too, without waiting for one
            scheduler.nudgeStreams();
            return false;
        }
        stats.latency().record(LatencyRecorder.Metric.RING_WAIT, System.nanoTime() - budgetWaitStartNs);
        budgetWaitStartNs = 0;
        return true;
    }

    /**
     * A pooled direct buffer for {@code length} bytes. Where its allocation has {@link Chunk#HEADROOM} bytes to
     * spare (pooled sizes come in classes: 4,000 bytes take 4 KiB, an LZ4 bound past 1 MiB takes 1.25 MiB), they
     * are left free before its readable bytes, for the DATA header; a buffer sized exactly to its class (a 1 MiB
     * chunk) gets none, rather than the next class up, and its header goes in a buffer of its own.
     */
    private ByteBuf chunkBuffer(final int length)
    {
        final ByteBuf buffer = allocator.directBuffer(length);
        if (buffer.maxFastWritableBytes() >= Chunk.HEADROOM + length)
        {
            buffer.capacity(Chunk.HEADROOM + length).setIndex(Chunk.HEADROOM, Chunk.HEADROOM);
        }
        return buffer;
    }

    /**
     * @return the chunk in a direct buffer ({@link #chunkBuffer}), or null when the file ended early.
     */
    private ByteBuf read(final OutgoingFile file, final long offset, final int length) throws IOException
    {
        final ByteBuf payload = chunkBuffer(length);
        final int end = payload.writerIndex() + length;
        final long startNs = System.nanoTime();
        try
        {
            while (payload.writerIndex() < end)
            {
                final int read = payload.writeBytes(file.channel, offset + payload.readableBytes(),
                    end - payload.writerIndex());
                if (read < 0)
                {
                    payload.release();
                    return null;
                }
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            payload.release();
            throw ex;
        }
        stats.latency().record(LatencyRecorder.Metric.DISK_READ, System.nanoTime() - startNs);
        return payload;
    }

    private int checksum(final ByteBuf raw, final int length)
    {
        crc.reset();
        crc.update(raw.internalNioBuffer(raw.readerIndex(), length));
        return (int)crc.getValue();
    }

    /**
     * Whether the file's next chunk goes without trying LZ4: no compression, or auto backing off. The first time
     * for a file, auto asks what it learned from earlier files of the same extension.
     */
    private boolean skipsLz4(final OutgoingFile file)
    {
        if (compressor == null)
        {
            return true;
        }
        if (compression == Compression.AUTO && !file.historyConsulted)
        {
            file.historyConsulted = true;
            final int slot = CompressionHistory.slot(file.entry.relativePath());
            if (compressionHistory.skipFirstChunk(slot))
            {
                file.compressionSkip = Math.max(1, file.compressionSkip);
            }
            else
            {
                file.historySlot = slot;
            }
        }
        return file.compressionSkip > 0;
    }

    private Chunk compress(
        final OutgoingFile file, final long offset, final int length, final int checksum, final ByteBuf raw)
    {
        if (skipsLz4(file))
        {
            file.compressionSkip = Math.max(0, file.compressionSkip - 1);
            stats.addWireBytes(length);
            return chunks.ofBuffer(file, offset, length, checksum, 0, raw);
        }
        final ByteBuf packed = chunkBuffer(compressor.maxCompressedLength(length));
        final int packedLength = lz4(raw, length, packed);
        final boolean shrank = worthSending(packedLength, length);
        if (file.historySlot >= 0)
        {
            compressionHistory.tried(file.historySlot, shrank);
            file.historySlot = -1;
        }
        if (shrank)
        {
            raw.release();
            packed.writerIndex(packed.writerIndex() + packedLength);
            file.compressionBackoff = 0;
            stats.addWireBytes(packedLength);
            return chunks.ofBuffer(file, offset, length, checksum, DataFlyweight.FLAG_LZ4, packed);
        }
        packed.release();
        if (compression == Compression.AUTO)
        {
            file.compressionBackoff = Math.min(MAX_COMPRESSION_BACKOFF, Math.max(1, file.compressionBackoff * 2));
            file.compressionSkip = file.compressionBackoff;
        }
        stats.addWireBytes(length);
        return chunks.ofBuffer(file, offset, length, checksum, 0, raw);
    }

    /**
     * LZ4-compress {@code length} readable bytes of {@code raw} after the writer index of {@code packed}, which has
     * room for the compressor's bound; the indexes are left as they are.
     *
     * @return the compressed length
     */
    private int lz4(final ByteBuf raw, final int length, final ByteBuf packed)
    {
        final int bound = compressor.maxCompressedLength(length);
        // the buffers' own NIO views, positioned at their bytes: the compressor takes absolute offsets
        final ByteBuffer source = raw.internalNioBuffer(raw.readerIndex(), length);
        final ByteBuffer target = packed.internalNioBuffer(packed.writerIndex(), bound);
        return compressor.compress(source, source.position(), length, target, target.position(), bound);
    }

    /** Compressed data is worth sending only when it saves at least a tenth: decompressing costs the receiver too. */
    private static boolean worthSending(final int packedLength, final int length)
    {
        return packedLength <= length - length / 10;
    }

    private void finishFile(final OutgoingFile file)
    {
        try
        {
            // the file as opened: what was read is what it holds now, whatever its name points to meanwhile
            final BasicFileAttributes after = FileMetadata.attributes(file.channel, file.entry.path());
            final long mtimeNs = FileMetadata.toNanos(after.lastModifiedTime());
            if (after.size() != file.entry.size() || !FileMetadata.sameMtime(mtimeNs, file.entry.mtimeNs()))
            {
                sourceChanged(file, "changed while being sent");
                return;
            }
        }
        catch (final IOException ex)
        {
            failOpenFile(file, ex instanceof NoSuchFileException ? TransferEvent.Kind.VANISHED :
                TransferEvent.Kind.FAILED, StorageErrors.classify(ex), "cannot read: " + StorageErrors.describe(ex));
            return;
        }
        if (file.contentDigest != null)
        {
            final byte[] sha256 = file.contentDigest.digest();
            file.contentDigestHex = java.util.HexFormat.of().formatHex(sha256);
            connection.send(FileEndFlyweight.encode(allocator, file.fileId, FileEndFlyweight.DIGEST_SHA256,
                file.entry.size(), file.entry.mtimeNs(), sha256));
            return;
        }
        connection.send(FileEndFlyweight.encode(allocator, file.fileId, FileEndFlyweight.DIGEST_CHUNK_ROOT,
            file.entry.size(), file.entry.mtimeNs(), file.digest.finish()));
    }

    /**
     * Read a chunk again for a stream that died before it was acknowledged. The data must be what was read the
     * first time (same CRC32C), or the file changed and fails.
     */
    private void resend(final Resend lost) throws InterruptedException
    {
        final OutgoingFile file = lost.file();
        if (file.failed || !open.containsKey(file.fileId))
        {
            toResend.poll();
            return;
        }
        final int charge = Chunk.charge(lost.rawLength());
        if (!takeBudget(charge))
        {
            return;
        }
        toResend.poll();
        final ByteBuf raw;
        try
        {
            raw = read(file, lost.offset(), lost.rawLength());
        }
        catch (final IOException ex)
        {
            scheduler.release(charge);
            failOpenFile(file, TransferEvent.Kind.FAILED, StorageErrors.classify(ex), "cannot read again: " +
                StorageErrors.describe(ex));
            return;
        }
        final int checksum = raw == null ? 0 : checksum(raw, lost.rawLength());
        if (raw == null || lost.checksumKnown() && checksum != lost.checksum())
        {
            if (raw != null)
            {
                raw.release();
            }
            scheduler.release(charge);
            sourceChanged(file, "changed while being sent (a chunk read again differs)");
            return;
        }
        stats.addResentBytes(lost.rawLength());
        scheduler.offer(compress(file, lost.offset(), lost.rawLength(), checksum, raw));
    }

    /**
     * The source changed under the sender: the receiver drops what it has of this version (ERROR for the file id),
     * and the file is sent again from the start as a new manifest entry with its new size and time, never spliced
     * from two versions. A file that keeps changing fails after {@link #MAX_CHANGE_RETRIES} attempts.
     */
    private void sourceChanged(final OutgoingFile file, final String why)
    {
        unqueue(file);
        final SourceEntry entry = file.entry;
        final int attempts = changeRetries.merge(entry.relativePath(), 1, Integer::sum);
        if (attempts > MAX_CHANGE_RETRIES)
        {
            failFile(file.fileId, entry, TransferEvent.Kind.FAILED, ErrorCode.SOURCE_CHANGED,
                why + "; gave up after " + MAX_CHANGE_RETRIES + " attempts");
            return;
        }
        connection.send(ErrorFlyweight.encode(allocator, ErrorCode.SOURCE_CHANGED, file.fileId,
            why + "; sending it again from the start"));
        abandoned.set(file.fileId);
        pending.remove(file.fileId);
        open.remove(file.fileId);
        file.failed = true;
        file.close();
        try
        {
            final BasicFileAttributes now = walker.attributesLater(entry);
            if (!now.isRegularFile())
            {
                stats.record(new TransferEvent(TransferEvent.Kind.FAILED, entry.relativePath(), entry.fileType(), 0,
                    ErrorCode.SOURCE_CHANGED, "is no longer a regular file"));
                return;
            }
            stats.recordSourceChange();
            announce(new SourceEntry(entry.relativePath(), entry.path(), entry.fileType(),
                FileMetadata.mode(now, entry.path()), now.size(), FileMetadata.toNanos(now.lastModifiedTime()), ""));
        }
        catch (final NoSuchFileException ex)
        {
            stats.record(new TransferEvent(TransferEvent.Kind.VANISHED, entry.relativePath(), entry.fileType(), 0,
                ErrorCode.SOURCE_VANISHED, "vanished while being sent"));
        }
        catch (final IOException ex)
        {
            stats.record(new TransferEvent(TransferEvent.Kind.FAILED, entry.relativePath(), entry.fileType(), 0,
                StorageErrors.classify(ex), "cannot read: " + StorageErrors.describe(ex)));
        }
    }

    private void failOpenFile(
        final OutgoingFile file, final TransferEvent.Kind kind, final ErrorCode code, final String message)
    {
        unqueue(file);
        failFile(file.fileId, file.entry, kind, code, message);
    }

    private void failFile(
        final int fileId, final SourceEntry entry, final TransferEvent.Kind kind, final ErrorCode code,
        final String message)
    {
        connection.send(ErrorFlyweight.encode(allocator, code, fileId, message));
        abandoned.set(fileId);
        resolve(fileId, entry, kind, 0, code, message);
    }
}
