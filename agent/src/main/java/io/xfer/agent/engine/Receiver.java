package io.xfer.agent.engine;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.xfer.agent.storage.FileMetadata;
import io.xfer.agent.storage.CheckpointJournal;
import io.xfer.agent.storage.DirectoryHandles;
import io.xfer.agent.storage.ModuleRoot;
import io.xfer.agent.storage.StorageErrors;
import io.xfer.protocol.ChunkAckFlyweight;
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
import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.RejectedExecutionException;
import java.util.zip.CRC32C;

/**
 * The receiving role, on its own thread (the event loop only queues frames for it): checks every manifest path
 * against the {@link ModuleRoot}, answers each entry at once, verifies each chunk's CRC32C before writing it with
 * positional I/O, writes files under a temporary name, verifies the whole-file digest, makes the file durable,
 * and only then puts it under its final name, never replacing an existing file unless overwrite was asked for.
 * Serves both pushes (in the agent) and {@code xfer get} (in the client).
 */
public final class Receiver extends TransferRole
{
    private static final String TEMP_PREFIX = ".xfer-";
    /** Chunks at least this long are acknowledged with a flush; smaller ones share flushes. */
    private static final int ACK_FLUSH_BYTES = 64 * 1024;

    /** How long the input must pause before the receiver checkpoints outside the interval. */
    private static final long IDLE_CHECKPOINT_NS = 20_000_000L;

    /** Damaged chunks of one file that are asked for again before the file fails. */
    static final int MAX_CHECKSUM_RETRIES = 3;
    private static final String TEMP_SUFFIX = ".part";
    /** A temporary file: a new name, or a journaled partial file reopened as it is; 0600 while it is written. */
    private static final Set<OpenOption> OPEN_NEW = Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
        StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
    private static final Set<OpenOption> OPEN_JOURNALED = Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
    private static final FileAttribute<Set<PosixFilePermission>> TEMP_MODE =
        PosixFilePermissions.asFileAttribute(FileMetadata.permissions(0600));

    private final ModuleRoot root;
    private final String basePath;
    private final boolean overwrite;
    private final long transferId;
    private final ByteBufAllocator allocator;
    private final Map<Integer, IncomingFile> files = new HashMap<>();
    private final Set<Integer> discarded = new HashSet<>();
    private final List<DirectoryMetadata> directories = new ArrayList<>();
    private final Set<Path> touchedDirectories = new LinkedHashSet<>();
    /** Directories inside the root known to be real directories (checked or created by this transfer). */
    private final Set<Path> verifiedDirectories = new HashSet<>();
    private final FileEntryFlyweight fileEntry = new FileEntryFlyweight();
    private final DataFlyweight data = new DataFlyweight();
    private final FileEndFlyweight fileEnd = new FileEndFlyweight();
    private final TransferEndFlyweight transferEnd = new TransferEndFlyweight();
    private final CRC32C crc = new CRC32C();
    /** A decompression buffer held by {@link #verified} until {@link #releaseInflated}. */
    private ByteBuf inflated;
    /** Why the last {@link #verified} content did not verify. */
    private String damage;
    private final Set<FrameConnection> ackedConnections = new HashSet<>();
    /** Files answered SEND: only their chunks are acceptable (one bit per file id). */
    private final BitSet sendRequested = new BitSet();
    private final LZ4SafeDecompressor decompressor;
    private final CheckpointJournal journal;
    private final Checkpoints checkpoints;
    private final List<IncomingFile> dirtyFiles = new ArrayList<>();
    private final Set<Path> renamedSinceCheckpoint = new LinkedHashSet<>();
    /**
     * The destination directories last written into, reached from the root without following a symlink and held
     * open: for the receiver's thread only.
     */
    private final DirectoryHandles openDirectories;
    /** The thread running {@link #run()}; commits may run on others, which take whole paths. */
    private Thread receiverThread;
    private long lastCheckpointNs;
    private long bytesSinceCheckpoint;
    private boolean sha256Allowed;
    private boolean inlineAllowed;
    private boolean sha256Expected;
    private String stage;
    private final Set<String> topLevelNames = new HashSet<>();
    private final Set<String> blockedTopLevelNames = new HashSet<>();
    /**
     * Files the sender dropped because their source changed, by path, with its reason: each is expected again as
     * a new entry; one that has not come again by TRANSFER_END was given up, and fails.
     */
    private final Map<String, String> restarting = new HashMap<>();
    /**
     * Directories this transfer created: a file entry in one of them cannot have anything at its name but what
     * another writer put there meanwhile, which the no-clobber link refuses anyway, so its lstat is skipped.
     */
    private final Set<Path> createdDirectories = new HashSet<>();
    private long entriesSeen;
    private int lastFileId = -1;
    private boolean transferEndSeen;
    private long transferEndCount;
    private boolean done;
    private boolean published;
    private CommitPool commitPool;
    private int commitsInFlight;
    /** The last commits, one bit each, set for a slow one ({@link CommitPool#record}). */
    private int recentCommits;

    private static final class IncomingFile
    {
        final int fileId;
        final String relativePath;
        final Path target;
        final Path temp;
        FileChannel channel;
        final long size;
        final int mode;
        final long mtimeNs;
        final ChunkDigest digest = new ChunkDigest();
        final boolean replace;
        /** Its content came with its entry and was verified by its CRC32C: there is no chunk root to check. */
        boolean inline;
        CheckpointJournal.FileState journalState;
        int checksumRetries;
        boolean dirty;
        long chunksWritten;
        boolean endSeen;
        long endSize;
        long endMtimeNs;
        int endDigestType;
        byte[] endDigest;

        IncomingFile(
            final int fileId, final String relativePath, final Path target, final Path temp,
            final long size, final int mode, final long mtimeNs, final boolean replace)
        {
            this.fileId = fileId;
            this.relativePath = relativePath;
            this.target = target;
            this.temp = temp;
            this.size = size;
            this.mode = mode;
            this.mtimeNs = mtimeNs;
            this.replace = replace;
        }
    }

    private record DirectoryMetadata(Path path, int mode, long mtimeNs)
    {
    }

    /**
     * A commit's outcome, posted back by the thread that ran it: put in place (with the SHA-256 when checked),
     * refused or failed for a reason to report, or a storage failure that fails the transfer.
     */
    private record Durable(
        IncomingFile file, String sha256Hex, ErrorCode refusal, String why, IOException failure, long elapsedNs)
    {
    }

    /**
     * @param basePath    where entries go, relative to the root; already checked and created by the caller.
     * @param journal     the checkpoint journal of this transfer's resume key, or null for none: then partial files
     *                    are deleted when the transfer fails.
     * @param checkpoints how often partial data and its journal records are made durable.
     */
    public Receiver(
        final FrameConnection connection,
        final ModuleRoot root,
        final String basePath,
        final boolean overwrite,
        final long transferId,
        final TransferStats stats,
        final int chunkLength,
        final boolean lz4,
        final long idleTimeoutNs,
        final CheckpointJournal journal,
        final Checkpoints checkpoints)
    {
        super(connection, stats, chunkLength, idleTimeoutNs);
        this.journal = journal;
        this.checkpoints = checkpoints;
        this.lastCheckpointNs = System.nanoTime();
        this.root = root;
        this.openDirectories = new DirectoryHandles(root.path());
        this.basePath = basePath;
        this.overwrite = overwrite;
        this.transferId = transferId;
        this.allocator = connection.channel().alloc();
        this.decompressor = lz4 ? LZ4Factory.fastestInstance().safeDecompressor() : null;
    }

    /**
     * Accept SHA-256 content digests in FILE_END (negotiated SHA256 capability): the file as written is read back
     * and hashed before it is committed. Before {@link #run()}.
     */
    public Receiver acceptSha256(final boolean allowed)
    {
        this.sha256Allowed = allowed;
        return this;
    }

    /**
     * SHA-256 digests were asked for (OPEN option DIGEST_SHA256): an entry with content is then a protocol error.
     * Before {@link #run()}.
     */
    public Receiver expectSha256(final boolean expected)
    {
        this.sha256Expected = expected;
        return this;
    }

    /**
     * Accept entries that carry a small file's content (negotiated INLINE_DATA capability). Before {@link #run()}.
     */
    public Receiver acceptInline(final boolean allowed)
    {
        this.inlineAllowed = allowed;
        return this;
    }

    /**
     * Stage the whole transfer in a hidden directory beside the destination and publish it at the end, by renaming
     * each top-level entry into place, only if every entry made it: readers never see half a dataset (with one
     * top-level directory, the common case, the tree appears in one rename). Top-level names that already exist at
     * the destination are refused. Before {@link #run()}.
     *
     * @param stageName the staging directory's name, stable across re-runs so that a resumed transfer finds it.
     */
    public Receiver atomic(final String stageName)
    {
        this.stage = stageName;
        return this;
    }

    /**
     * Commit files (fsync, metadata, final name) on these threads, several at once, while this role's thread
     * goes on verifying and writing, whenever commits are slow (see {@link CommitPool#worthHandingOff}); without
     * a pool each file is committed in turn on the role's thread. Before {@link #run()}.
     */
    public Receiver commitPool(final CommitPool pool)
    {
        this.commitPool = pool;
        return this;
    }

    /**
     * Add a data connection; its DATA frames join the same inbox. Any thread.
     */
    public void addStream(final FrameConnection data)
    {
        data.inbox(connection.inbox());
    }

    /**
     * Run the transfer to its end.
     *
     * @return the outcome; file-level failures are in the report.
     * @throws TransferException when the transfer as a whole failed.
     */
    public TransferReport run() throws InterruptedException
    {
        receiverThread = Thread.currentThread();
        try
        {
            if (stage != null && journal != null)
            {
                // durable before anything is staged: the stage goes with the journal if it expires unfinished
                journal.stage(writeBase());
                checkpoint();
            }
            while (!done)
            {
                stats.latency().sample(System.nanoTime());
                Object message = connection.inbox().poll(0);
                if (message == null)
                {
                    flushAll();
                    message = connection.inbox().poll(IDLE_CHECKPOINT_NS);
                }
                if (message == null)
                {
                    // input paused: a good moment to make what was written durable
                    checkpoint();
                    message = connection.inbox().poll(idleTimeoutNs);
                    if (message == null)
                    {
                        throw new TransferException(ErrorCode.TIMEOUT, "no word from the peer for " +
                            idleTimeoutNs / 1_000_000_000L + " s");
                    }
                }
                if (message instanceof Inbox.Inbound inbound)
                {
                    onFrame(inbound.source(), inbound.frame());
                }
                else if (message instanceof Durable durable)
                {
                    onDurable(durable);
                }
                else if (message instanceof Inbox.Closed closed && closed.source() == connection)
                {
                    throw closedException(closed.cause());
                }
            }
            flushAll();
            connection.closeAfterFlush();
            finishJournal();
            return stats.report();
        }
        catch (final TransferException ex)
        {
            abort(ex);
            throw ex;
        }
        finally
        {
            awaitCommits();
            discardAll();
            discardStage();
            openDirectories.close();
            connection.dispose();
        }
    }

    private void flushAll()
    {
        connection.flush();
        for (final FrameConnection acked : ackedConnections)
        {
            acked.flush();
        }
        ackedConnections.clear();
    }

    private void onFrame(final FrameConnection source, final ByteBuf frame)
    {
        try
        {
            final int type = FrameDecoder.type(frame);
            if (source != connection && type != FrameType.DATA)
            {
                if (type == FrameType.ERROR)
                {
                    return;
                }
                throw unexpected(type, "on a data connection");
            }
            switch (type)
            {
                case FrameType.FILE_ENTRY:
                    fileEntry.wrap(frame, frame.readerIndex());
                    onFileEntry();
                    break;
                case FrameType.DATA:
                    data.wrap(frame, frame.readerIndex());
                    onData(source, frame);
                    break;
                case FrameType.FILE_END:
                    fileEnd.wrap(frame, frame.readerIndex());
                    onFileEnd();
                    break;
                case FrameType.ERROR:
                    final int fileId = errorFileId(frame);
                    final TransferException error = remoteError(frame);
                    if (fileId == ErrorFlyweight.CONNECTION)
                    {
                        throw error;
                    }
                    onSenderFileError(fileId, error);
                    break;
                case FrameType.TRANSFER_END:
                    transferEnd.wrap(frame, frame.readerIndex());
                    onTransferEnd();
                    break;
                case FrameType.PONG:
                    break;
                default:
                    throw unexpected(type, "at the receiver");
            }
        }
        finally
        {
            frame.release();
        }
    }

    private void onFileEntry()
    {
        final int fileId = fileEntry.fileId();
        if (fileId <= lastFileId)
        {
            throw new TransferException(ErrorCode.PROTOCOL_ERROR, "FILE_ENTRY ids must increase: " + fileId +
                " after " + lastFileId);
        }
        lastFileId = fileId;
        entriesSeen++;
        if (fileEntry.isInline())
        {
            checkInline(fileId);
        }

        final String entryPath = fileEntry.path();
        if (entryPath.isEmpty())
        {
            throw new TransferException(ErrorCode.INVALID_PATH, "FILE_ENTRY " + fileId + " has an empty path");
        }
        // Syntax errors are protocol violations: a correct sender never produces them.
        final String relative = ModuleRoot.checkRelativePath(entryPath);
        if (!restarting.isEmpty())
        {
            restarting.remove(relative);
        }
        final int fileType = fileEntry.fileType();
        for (final String segment : relative.split("/"))
        {
            if (CheckpointJournal.isReservedName(segment))
            {
                final String why = "'" + segment + "' is a name the receiver reserves for its own state";
                reply(fileId, FileStatusFlyweight.FAILED, ErrorCode.INVALID_PATH, why);
                stats.record(new TransferEvent(TransferEvent.Kind.FAILED, relative, fileType, 0,
                    ErrorCode.INVALID_PATH, why));
                return;
            }
        }
        if (stage != null && !admitToStage(fileId, relative, fileType))
        {
            return;
        }
        final Path target;
        try
        {
            target = root.resolveForWrite(writeBase().isEmpty() ? relative : writeBase() + "/" + relative,
                verifiedDirectories);
        }
        catch (final TransferException ex)
        {
            if (ex.errorCode() == ErrorCode.INVALID_PATH)
            {
                reply(fileId, FileStatusFlyweight.FAILED, ex.errorCode(), ex.getMessage());
                stats.record(new TransferEvent(TransferEvent.Kind.FAILED, relative, fileType, 0, ex.errorCode(),
                    ex.getMessage()));
                return;
            }
            throw ex;
        }

        switch (fileType)
        {
            case FileEntryFlyweight.TYPE_DIRECTORY:
                onDirectory(fileId, relative, target);
                break;
            case FileEntryFlyweight.TYPE_SYMLINK:
                onSymlink(fileId, relative, target, fileEntry.linkTarget());
                break;
            default:
                onFile(fileId, relative, target);
                break;
        }
    }

    private void onDirectory(final int fileId, final String relative, final Path target)
    {
        final BasicFileAttributes existing = attributes(target);
        try
        {
            if (existing == null)
            {
                openDirectories.createDirectory(target);
                touchedDirectories.add(target.getParent());
                createdDirectories.add(target);
            }
            else if (!existing.isDirectory())
            {
                if (!overwrite)
                {
                    refuse(fileId, relative, FileEntryFlyweight.TYPE_DIRECTORY, "exists and is not a directory");
                    return;
                }
                openDirectories.deleteEntry(target);
                openDirectories.createDirectory(target);
                touchedDirectories.add(target.getParent());
            }
        }
        catch (final IOException ex)
        {
            throw storageFailure("cannot create directory " + relative, ex);
        }
        // an existing directory counts as skipped; its mode and mtime are still applied at the end
        directories.add(new DirectoryMetadata(target, fileEntry.mode(), fileEntry.mtimeNs()));
        final boolean created = existing == null || !existing.isDirectory();
        reply(fileId, created ? FileStatusFlyweight.COMMITTED : FileStatusFlyweight.SKIPPED, null, "");
        stats.record(new TransferEvent(created ? TransferEvent.Kind.COMMITTED : TransferEvent.Kind.SKIPPED, relative,
            FileEntryFlyweight.TYPE_DIRECTORY, 0, null, ""));
    }

    private void onSymlink(final int fileId, final String relative, final Path target, final String linkTarget)
    {
        if (linkTarget.isEmpty() || linkTarget.indexOf('\0') >= 0)
        {
            throw new TransferException(ErrorCode.PROTOCOL_ERROR, "symlink " + relative + " has an invalid target");
        }
        final BasicFileAttributes existing = attributes(target);
        try
        {
            if (existing != null)
            {
                if (existing.isSymbolicLink() &&
                    openDirectories.readSymbolicLink(target).toString().equals(linkTarget))
                {
                    reply(fileId, FileStatusFlyweight.SKIPPED, null, "");
                    stats.record(new TransferEvent(TransferEvent.Kind.SKIPPED, relative,
                        FileEntryFlyweight.TYPE_SYMLINK, 0, null, ""));
                    return;
                }
                if (!overwrite || existing.isDirectory())
                {
                    refuse(fileId, relative, FileEntryFlyweight.TYPE_SYMLINK, existing.isDirectory() ?
                        "exists and is a directory" : "exists and differs");
                    return;
                }
                // replace atomically: a new link under a temporary name, renamed over the old entry
                final Path temp = tempPath(target, fileId);
                openDirectories.createSymbolicLink(temp, Path.of(linkTarget));
                openDirectories.renameInDirectory(temp, target);
            }
            else
            {
                openDirectories.createSymbolicLink(target, Path.of(linkTarget));
            }
            openDirectories.writeMtime(target, fileEntry.mtimeNs());
            touchedDirectories.add(target.getParent());
        }
        catch (final IOException ex)
        {
            throw storageFailure("cannot create symlink " + relative, ex);
        }
        reply(fileId, FileStatusFlyweight.COMMITTED, null, "");
        stats.record(new TransferEvent(TransferEvent.Kind.COMMITTED, relative, FileEntryFlyweight.TYPE_SYMLINK, 0,
            null, ""));
    }

    private void onFile(final int fileId, final String relative, final Path target)
    {
        final long size = fileEntry.size();
        final long mtimeNs = fileEntry.mtimeNs();
        final BasicFileAttributes existing = createdDirectories.contains(target.getParent()) ? null :
            attributes(target);
        boolean replace = false;
        if (existing != null)
        {
            if (existing.isRegularFile() && existing.size() == size &&
                FileMetadata.sameMtime(FileMetadata.toNanos(existing.lastModifiedTime()), mtimeNs))
            {
                reply(fileId, FileStatusFlyweight.SKIPPED, null, "");
                stats.record(new TransferEvent(TransferEvent.Kind.SKIPPED, relative, FileEntryFlyweight.TYPE_FILE, 0,
                    null, ""));
                return;
            }
            if (!overwrite || existing.isDirectory())
            {
                refuse(fileId, relative, FileEntryFlyweight.TYPE_FILE, existing.isDirectory() ?
                    "exists and is a directory" : "exists and differs (use --overwrite to replace it)");
                return;
            }
            replace = true;
        }

        // the temporary file is created when its data starts, so a long window of pending entries holds no
        // file descriptors
        final String rootRelative = writeBase().isEmpty() ? relative : writeBase() + "/" + relative;
        // a file of one chunk has nothing to resume: it is journaled only when it can be resumed part-way
        final boolean journaled = journal != null && size > chunkLength;
        final Path temp = journaled ? CheckpointJournal.partialPath(target, journal.resumeKey(), rootRelative) :
            tempPath(target, fileId);
        final IncomingFile file = new IncomingFile(fileId, relative, target, temp, size, fileEntry.mode(), mtimeNs,
            replace);
        final long offset = journaled ? resume(file, rootRelative) : 0;
        files.put(fileId, file);
        if (fileEntry.isInline())
        {
            if (placeInline(file))
            {
                return;
            }
            // the content did not verify: it is dropped, and the file asked for the usual way
        }
        sendRequested.set(fileId);
        reply(fileId, FileStatusFlyweight.SEND, offset, null, "");
    }

    /**
     * Content with an entry is a connection error, whatever the entry's verdict would be, where it may not come:
     * INLINE_DATA not negotiated, more than one chunk, LZ4 not negotiated, or SHA-256 digests asked for (its
     * CRC32C stands for the digest, and the report would have no SHA-256 to show). Its bytes crossed the wire.
     */
    private void checkInline(final int fileId)
    {
        final String why = !inlineAllowed ? "although INLINE_DATA was not negotiated" :
            fileEntry.size() > chunkLength ? "of " + fileEntry.size() + " bytes, more than one chunk of " +
                chunkLength :
            fileEntry.isCompressed() && decompressor == null ? "compressed although LZ4 was not negotiated" :
            sha256Expected ? "although SHA-256 digests were asked for" : null;
        if (why != null)
        {
            throw new TransferException(ErrorCode.PROTOCOL_ERROR, "FILE_ENTRY " + fileId + " carries content " + why);
        }
        stats.addWireBytes(fileEntry.contentLength());
    }

    /**
     * Write the content an entry carried (decompressed with bounds checked, its CRC32C verified) and commit the
     * file: its verdict is the only answer. False, with nothing written, when the content does not verify; the
     * caller then answers SEND, as for an entry without content.
     */
    private boolean placeInline(final IncomingFile file)
    {
        final int size = (int)file.size;
        final int contentLength = fileEntry.contentLength();
        try
        {
            final ByteBuffer content = verified(fileEntry.buffer(), fileEntry.contentOffset(), contentLength,
                fileEntry.isCompressed(), size, fileEntry.checksum(), 0, true);
            if (content == null)
            {
                // asked for again as DATA, which has its own re-sends
                stats.recordChecksumRetry();
                return false;
            }
            if (size > 0)
            {
                write(file, content, 0);
            }
            else
            {
                // created here, on the receiver's thread, where its directory is reached without following a symlink
                createEmpty(file);
            }
        }
        finally
        {
            releaseInflated();
        }
        file.inline = true;
        file.chunksWritten = ChunkDigest.chunkCount(size, chunkLength);
        file.endSeen = true;
        file.endSize = file.size;
        file.endMtimeNs = file.mtimeNs;
        file.endDigestType = FileEndFlyweight.DIGEST_CHUNK_ROOT;
        commitFile(file);
        return true;
    }

    private void onData(final FrameConnection source, final ByteBuf frame)
    {
        final int fileId = data.fileId();
        final long offset = data.fileOffset();
        final int length = data.rawLength();
        final IncomingFile file = files.get(fileId);
        if (file == null)
        {
            if (discarded.contains(fileId))
            {
                // the file failed; its chunks are dropped but still acknowledged, or the stream's credit would leak
                acknowledge(source, fileId, offset, length);
                return;
            }
            if (sendRequested.get(fileId))
            {
                // a re-sent chunk of a file that is already complete: acknowledge it again
                acknowledge(source, fileId, offset, length);
                return;
            }
            throw new TransferException(ErrorCode.UNEXPECTED_FRAME, "DATA for file id " + fileId +
                " that was not asked for");
        }
        if (offset % chunkLength != 0 || offset >= file.size ||
            length != (int)Math.min(chunkLength, file.size - offset))
        {
            throw new TransferException(ErrorCode.PROTOCOL_ERROR, "DATA for " + file.relativePath + " at offset " +
                offset + " length " + length + " does not match chunk length " + chunkLength + " and size " +
                file.size);
        }

        try
        {
            final ByteBuffer payload = verified(frame, data.payloadOffset(), data.payloadLength(),
                data.isCompressed(), length, data.checksum(), offset, false);
            if (payload == null)
            {
                damagedChunk(source, file, offset, length, damage);
                return;
            }
            final int checksum = data.checksum();
            if (!file.digest.add(offset / chunkLength, checksum))
            {
                // already written: a re-send after a stream died before its acknowledgement arrived
                acknowledge(source, fileId, offset, length);
                return;
            }
            write(file, payload, offset);
            if (file.journalState != null)
            {
                journal.chunk(file.journalState, offset / chunkLength, checksum);
                if (!file.dirty)
                {
                    file.dirty = true;
                    dirtyFiles.add(file);
                }
                bytesSinceCheckpoint += length;
            }
            stats.addBytes(length);
            stats.addWireBytes(data.payloadLength());
            file.chunksWritten++;
            acknowledge(source, fileId, offset, length);
            if (file.endSeen && file.chunksWritten == ChunkDigest.chunkCount(file.size, chunkLength))
            {
                commitFile(file);
            }
            else if (journal != null)
            {
                maybeCheckpoint();
            }
        }
        finally
        {
            releaseInflated();
        }
    }

    /**
     * The raw bytes of a chunk, or of content that came with its entry: {@code stored} bytes at {@code index} of
     * {@code frame}, decompressed where {@code compressed} to exactly {@code length} bytes (the length was checked
     * against the chunk length first: the peer's sizes are never trusted), then checked against {@code checksum}.
     * Null, with {@link #damage} saying why, when they do not verify. A decompression buffer stays held until
     * {@link #releaseInflated}.
     */
    private ByteBuffer verified(
        final ByteBuf frame, final int index, final int stored, final boolean compressed, final int length,
        final int checksum, final long offset, final boolean inline)
    {
        final ByteBuffer payload;
        if (compressed)
        {
            if (decompressor == null)
            {
                throw new TransferException(ErrorCode.PROTOCOL_ERROR, (inline ? "FILE_ENTRY content" : "DATA") +
                    " compressed although LZ4 was not negotiated");
            }
            inflated = allocator.directBuffer(Math.max(length, 1));
            final int produced;
            try
            {
                // the buffers' own NIO views, positioned at their bytes: the decompressor takes absolute offsets
                // and writes at most length bytes
                final ByteBuffer packed = view(frame, index, stored);
                final ByteBuffer target = inflated.internalNioBuffer(0, length);
                produced = decompressor.decompress(packed, packed.position(), stored, target, target.position(),
                    length);
            }
            catch (final LZ4Exception ex)
            {
                damage = "corrupt compressed " + what(offset, inline);
                return null;
            }
            if (produced != length)
            {
                damage = "compressed " + what(offset, inline) + " decompressed to " + produced + " bytes, expected " +
                    length;
                return null;
            }
            payload = inflated.internalNioBuffer(0, length);
        }
        else
        {
            payload = view(frame, index, length);
        }
        crc.reset();
        final int start = payload.position();
        crc.update(payload);
        payload.position(start);
        final int actual = (int)crc.getValue();
        if (actual != checksum)
        {
            damage = what(offset, inline) + ": CRC32C 0x" + Integer.toHexString(actual) + " expected 0x" +
                Integer.toHexString(checksum);
            return null;
        }
        return payload;
    }

    private static String what(final long offset, final boolean inline)
    {
        return inline ? "content with its entry" : "chunk at offset " + offset;
    }

    private void releaseInflated()
    {
        if (inflated != null)
        {
            inflated.release();
            inflated = null;
        }
    }

    /** Write verified bytes at their place in the file's temporary file. */
    private void write(final IncomingFile file, final ByteBuffer payload, final long offset)
    {
        final long startNs = System.nanoTime();
        try
        {
            final FileChannel channel = open(file);
            long position = offset;
            while (payload.hasRemaining())
            {
                position += channel.write(payload, position);
            }
        }
        catch (final IOException ex)
        {
            throw storageFailure("cannot write " + file.relativePath, ex);
        }
        stats.latency().record(LatencyRecorder.Metric.DISK_WRITE, System.nanoTime() - startNs);
    }

    /**
     * The bytes {@code [index, index + length)} of {@code buf} as an NIO buffer positioned at them, to be used
     * before the next view of the same buffer. A frame is a slice of the decoder's cumulation, whose own
     * {@code internalNioBuffer} would be a new slice of a new duplicate each time: the view is taken from the
     * cumulation itself instead, which keeps one duplicate for its life (one object per frame instead of two: 64
     * bytes of heap per chunk). That shared view is safe because the decoder never writes into a cumulation that
     * a frame handed on still shares ({@code FrameDecoder} grows a new one when {@code refCnt() > 1}), so nothing
     * else moves its position while the frame is being checked and written. A composite gets a copy.
     */
    static ByteBuffer view(final ByteBuf buf, final int index, final int length)
    {
        final ByteBuf root = buf.unwrap();
        // within the frame's own bounds only: the cumulation may hold the next frame's bytes after it
        if (root != null && index >= 0 && length >= 0 && (long)index + length <= buf.capacity() &&
            buf.hasMemoryAddress() && root.hasMemoryAddress() && root.nioBufferCount() == 1)
        {
            final long offset = buf.memoryAddress() - root.memoryAddress();
            if (offset >= 0 && offset + index + (long)length <= root.capacity())
            {
                return root.internalNioBuffer((int)offset + index, length);
            }
        }
        return buf.nioBufferCount() == 1 ? buf.internalNioBuffer(index, length) : buf.nioBuffer(index, length);
    }

    /**
     * A chunk arrived damaged: it is dropped (never written) and asked for again, up to
     * {@link #MAX_CHECKSUM_RETRIES} times per file; then the file fails.
     */
    private void damagedChunk(
        final FrameConnection source, final IncomingFile file, final long offset, final int length, final String why)
    {
        acknowledge(source, file.fileId, offset, length);
        if (++file.checksumRetries <= MAX_CHECKSUM_RETRIES)
        {
            stats.recordChecksumRetry();
            reply(file.fileId, FileStatusFlyweight.RESEND, offset, ErrorCode.CHECKSUM_MISMATCH, why);
            return;
        }
        failFile(file, ErrorCode.CHECKSUM_MISMATCH, why + " (after " + MAX_CHECKSUM_RETRIES + " re-sends)");
    }

    private void acknowledge(final FrameConnection source, final int fileId, final long offset, final int length)
    {
        source.send(ChunkAckFlyweight.encode(allocator, fileId, offset, length));
        if (length >= ACK_FLUSH_BYTES)
        {
            // a big chunk's credit goes back at once, or a receiver slower than the link would run the sender's
            // window dry before its acknowledgements left
            source.flush();
        }
        else if (source != connection)
        {
            ackedConnections.add(source);
        }
    }

    private void onFileEnd()
    {
        final int fileId = fileEnd.fileId();
        final IncomingFile file = files.get(fileId);
        if (file == null)
        {
            if (discarded.remove(fileId))
            {
                return;
            }
            throw new TransferException(ErrorCode.UNEXPECTED_FRAME, "FILE_END for file id " + fileId +
                " that was not asked for");
        }
        if (file.endSeen)
        {
            throw new TransferException(ErrorCode.UNEXPECTED_FRAME, "second FILE_END for " + file.relativePath);
        }
        file.endSeen = true;
        file.endSize = fileEnd.size();
        file.endMtimeNs = fileEnd.mtimeNs();
        file.endDigestType = fileEnd.digestType();
        file.endDigest = fileEnd.digest();
        // chunks still in flight on other streams may arrive after FILE_END
        if (file.chunksWritten == ChunkDigest.chunkCount(file.size, chunkLength))
        {
            commitFile(file);
        }
    }

    private void commitFile(final IncomingFile file)
    {
        final int fileId = file.fileId;
        files.remove(fileId);
        if (file.endSize != file.size || !FileMetadata.sameMtime(file.endMtimeNs, file.mtimeNs))
        {
            failFile(file, ErrorCode.SOURCE_CHANGED, "source changed while being sent");
            discarded.remove(fileId);
            return;
        }
        final boolean chunkRootOk = file.inline || file.endDigestType == FileEndFlyweight.DIGEST_CHUNK_ROOT &&
            Arrays.equals(file.digest.finish(), file.endDigest);
        final boolean sha256 = file.endDigestType == FileEndFlyweight.DIGEST_SHA256 && sha256Allowed;
        if (!chunkRootOk && !sha256)
        {
            failFile(file, ErrorCode.DIGEST_MISMATCH, "whole-file digest does not verify");
            discarded.remove(fileId);
            return;
        }
        if (file.dirty)
        {
            // the commit forces the whole file, on a thread that then closes it: checkpoints leave it alone
            dirtyFiles.remove(file);
            file.dirty = false;
        }
        if (file.journalState != null)
        {
            // nor do they record its last chunks, which are not durable until that force: the commit ends in a
            // DONE record either way
            journal.forgetNotedChunks(file.journalState);
        }
        commitsInFlight++;
        if (commitPool != null && commitPool.worthHandingOff(recentCommits))
        {
            try
            {
                commitPool.execute(() -> connection.inbox().post(makeDurable(file, sha256)));
                return;
            }
            catch (final RejectedExecutionException ex)
            {
                // no commit threads (or shutting down): commit here
            }
        }
        onDurable(makeDurable(file, sha256));
    }

    /**
     * Check the SHA-256 of the file as written (when that is the digest), make the file durable, give it its mode
     * and mtime, and put it under its final name. Runs on a commit thread, or on the receiver's; touches nothing
     * but the file.
     */
    private Durable makeDurable(final IncomingFile file, final boolean sha256)
    {
        final long startNs = System.nanoTime();
        try
        {
            String sha256Hex = null;
            if (sha256)
            {
                final byte[] written = sha256Of(file);
                if (!Arrays.equals(written, file.endDigest))
                {
                    closeChannelQuietly(file);
                    deleteQuietly(file.temp);
                    return new Durable(file, null, ErrorCode.DIGEST_MISMATCH,
                        "SHA-256 of the file as written does not verify", null, 0);
                }
                sha256Hex = java.util.HexFormat.of().formatHex(written);
            }
            final FileChannel channel = open(file);
            channel.force(true);
            // through the open descriptor: whatever the temporary name points to by now is never touched
            FileMetadata.writeModeAndMtime(channel, file.temp, file.mode, file.mtimeNs);
            channel.close();
            commit(file, Thread.currentThread() == receiverThread ? openDirectories : null);
            return new Durable(file, sha256Hex, null, null, null, System.nanoTime() - startNs);
        }
        catch (final FileAlreadyExistsException ex)
        {
            deleteQuietly(file.temp);
            return new Durable(file, null, ErrorCode.EXISTS, "appeared at the destination meanwhile", null, 0);
        }
        catch (final IOException ex)
        {
            closeChannelQuietly(file);
            deleteQuietly(file.temp);
            return new Durable(file, null, null, null, ex, 0);
        }
    }

    /** Receiver thread: answer for a file whose commit finished. */
    private void onDurable(final Durable durable)
    {
        commitsInFlight--;
        final IncomingFile file = durable.file();
        if (durable.failure() != null)
        {
            forgetJournal(file);
            throw storageFailure("cannot commit " + file.relativePath, durable.failure());
        }
        if (durable.refusal() != null)
        {
            forgetJournal(file);
            final boolean exists = durable.refusal() == ErrorCode.EXISTS;
            reply(file.fileId, exists ? FileStatusFlyweight.REFUSED : FileStatusFlyweight.FAILED, durable.refusal(),
                durable.why());
            stats.record(new TransferEvent(exists ? TransferEvent.Kind.REFUSED : TransferEvent.Kind.FAILED,
                file.relativePath, FileEntryFlyweight.TYPE_FILE, 0, durable.refusal(), durable.why()));
            maybeFinishTransfer();
            return;
        }
        if (commitPool != null)
        {
            recentCommits = commitPool.record(recentCommits, durable.elapsedNs());
        }
        placed(file);
        if (file.inline)
        {
            // content that came with its entry counts as moved once it is in place, as on the sending side
            stats.addBytes(file.size);
        }
        reply(file.fileId, FileStatusFlyweight.COMMITTED, null, "");
        stats.record(new TransferEvent(TransferEvent.Kind.COMMITTED, file.relativePath, FileEntryFlyweight.TYPE_FILE,
            file.size, null, "", durable.sha256Hex()));
        if (journal != null)
        {
            maybeCheckpoint();
        }
        maybeFinishTransfer();
    }

    /** A file is under its final name: its directory needs syncing, its journal record a DONE. */
    private void placed(final IncomingFile file)
    {
        touchedDirectories.add(file.target.getParent());
        if (file.journalState != null)
        {
            // the DONE record reaches the journal only after the rename is made durable (next checkpoint)
            renamedSinceCheckpoint.add(file.target.getParent());
            journal.done(file.journalState);
        }
    }

    /**
     * The transfer failed: wait (at most the idle timeout) for the commits under way, so that no other thread
     * still uses a file when the partial files are discarded; a file they put in place is journaled as done.
     */
    private void awaitCommits()
    {
        final long deadlineNs = System.nanoTime() + idleTimeoutNs;
        while (commitsInFlight > 0)
        {
            final long remainingNs = deadlineNs - System.nanoTime();
            final Object message;
            try
            {
                message = remainingNs > 0 ? connection.inbox().poll(remainingNs) : null;
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                return;
            }
            if (message == null)
            {
                return;
            }
            if (message instanceof Durable durable)
            {
                commitsInFlight--;
                if (durable.failure() == null && durable.refusal() == null)
                {
                    placed(durable.file());
                }
                else
                {
                    forgetJournal(durable.file());
                }
            }
            else if (message instanceof Inbox.Inbound inbound)
            {
                inbound.frame().release();
            }
        }
    }

    /** SHA-256 of the temporary file as it is on disk, read back in chunk-sized direct buffers. */
    private byte[] sha256Of(final IncomingFile file) throws IOException
    {
        final java.security.MessageDigest digest = ChunkDigest.sha256();
        final FileChannel channel = open(file);
        final ByteBuf buffer = allocator.directBuffer(chunkLength);
        try
        {
            for (long position = 0; position < file.size; )
            {
                final int length = (int)Math.min(chunkLength, file.size - position);
                buffer.clear();
                final int read = buffer.writeBytes(channel, position, length);
                if (read <= 0)
                {
                    throw new IOException("temporary file shorter than " + file.size + " bytes");
                }
                digest.update(buffer.nioBuffer(0, read));
                position += read;
            }
        }
        finally
        {
            buffer.release();
        }
        return digest.digest();
    }

    private void createEmpty(final IncomingFile file)
    {
        try
        {
            open(file);
        }
        catch (final IOException ex)
        {
            throw storageFailure("cannot write " + file.relativePath, ex);
        }
    }

    private FileChannel open(final IncomingFile file) throws IOException
    {
        if (file.channel == null)
        {
            // a journaled partial file is reopened as it is; otherwise the name must be new
            final Set<OpenOption> options = file.journalState != null ? OPEN_JOURNALED : OPEN_NEW;
            file.channel = Thread.currentThread() == receiverThread ?
                openDirectories.openFile(file.temp, options, TEMP_MODE) :
                FileChannel.open(file.temp, options, TEMP_MODE);
        }
        return file.channel;
    }

    /**
     * Put a verified, durable temporary file under its final name. Without overwrite a hard link is used, which
     * fails if the name exists, so a file that appeared meanwhile is never clobbered.
     */
    private static void commit(final IncomingFile file, final DirectoryHandles directories) throws IOException
    {
        if (file.replace)
        {
            if (directories != null)
            {
                directories.renameInDirectory(file.temp, file.target);
            }
            else
            {
                Files.move(file.temp, file.target, StandardCopyOption.ATOMIC_MOVE);
            }
            return;
        }
        try
        {
            // by whole paths: through /proc/self/fd (two lookups through a descriptor's link per file) the agent
            // took more CPU per tree of small files (437, 398, 470 -> 448, 492, 483 ticks per 8 pushes, interleaved).
            // Both names are reached through the same directories: a directory swapped for a symlink leads both
            // outside, where the temporary file is not, so the link fails, or (a name planted there) makes a new
            // name there, never replacing one
            Files.createLink(file.target, file.temp);
            if (directories != null)
            {
                directories.deleteFile(file.temp);
            }
            else
            {
                FileMetadata.deleteOwnFile(file.temp);
            }
        }
        catch (final UnsupportedOperationException ex)
        {
            if (Files.exists(file.target, LinkOption.NOFOLLOW_LINKS))
            {
                throw new FileAlreadyExistsException(file.target.toString());
            }
            Files.move(file.temp, file.target, StandardCopyOption.ATOMIC_MOVE);
        }
    }

    private void onSenderFileError(final int fileId, final TransferException error)
    {
        final IncomingFile file = files.remove(fileId);
        if (file == null)
        {
            discarded.remove(fileId);
            return;
        }
        closeAndDelete(file);
        if (error.errorCode() == ErrorCode.SOURCE_CHANGED)
        {
            // the sender starts this file again as a new entry, unless it gave up (counted at TRANSFER_END)
            restarting.put(file.relativePath, error.getMessage());
            return;
        }
        stats.record(new TransferEvent(
            error.errorCode() == ErrorCode.SOURCE_VANISHED ? TransferEvent.Kind.VANISHED : TransferEvent.Kind.FAILED,
            file.relativePath, FileEntryFlyweight.TYPE_FILE, 0, error.errorCode(), error.getMessage()));
    }

    private void onTransferEnd()
    {
        if (transferEndSeen)
        {
            throw new TransferException(ErrorCode.UNEXPECTED_FRAME, "second TRANSFER_END");
        }
        transferEndSeen = true;
        transferEndCount = transferEnd.entryCount();
        maybeFinishTransfer();
    }

    /** After TRANSFER_END, once the last file is committed or failed: apply directory metadata and answer. */
    private void maybeFinishTransfer()
    {
        if (!transferEndSeen || done)
        {
            return;
        }
        for (final IncomingFile file : files.values())
        {
            if (!file.endSeen)
            {
                throw new TransferException(ErrorCode.UNEXPECTED_FRAME, "TRANSFER_END before FILE_END of " +
                    file.relativePath);
            }
        }
        if (!files.isEmpty() || commitsInFlight > 0)
        {
            return;
        }
        if (transferEndCount != entriesSeen)
        {
            throw new TransferException(ErrorCode.PROTOCOL_ERROR, "TRANSFER_END counts " + transferEndCount +
                " entries, received " + entriesSeen);
        }

        // deepest first, so setting a parent's mtime comes after every change inside it
        directories.sort(Comparator.comparingInt((DirectoryMetadata d) -> d.path().getNameCount()).reversed());
        try
        {
            for (final DirectoryMetadata directory : directories)
            {
                // the mtime first (it opens the directory for reading, which the final mode may not allow); if
                // the directory cannot be read now (a mode left by an earlier run), its mode first
                if (openDirectories.writeDirectoryMetadata(directory.path(), directory.mode(), directory.mtimeNs()))
                {
                    // through the directory's own descriptor, reached from the root without following a symlink
                    continue;
                }
                try
                {
                    FileMetadata.writeMtime(directory.path(), directory.mtimeNs());
                    FileMetadata.writeMode(directory.path(), directory.mode());
                }
                catch (final AccessDeniedException ex)
                {
                    FileMetadata.writeMode(directory.path(), directory.mode());
                    FileMetadata.writeMtime(directory.path(), directory.mtimeNs());
                }
            }
            for (final Path directory : touchedDirectories)
            {
                syncDirectory(directory);
            }
        }
        catch (final IOException ex)
        {
            throw storageFailure("cannot finish directories", ex);
        }
        for (final Map.Entry<String, String> givenUp : restarting.entrySet())
        {
            stats.record(new TransferEvent(TransferEvent.Kind.FAILED, givenUp.getKey(), FileEntryFlyweight.TYPE_FILE,
                0, ErrorCode.SOURCE_CHANGED, givenUp.getValue()));
        }
        restarting.clear();
        if (stage != null && stats.firstError() == null)
        {
            publishStage();
        }
        final ErrorCode firstError = stats.firstError();
        connection.send(TransferDoneFlyweight.encode(allocator, firstError == null ? 0 : firstError.code(),
            stats.committed(), stats.skipped(), stats.failedOrRefused(), stats.bytesMoved()));
        done = true;
    }

    private static void syncDirectory(final Path directory) throws IOException
    {
        try (FileChannel channel = FileChannel.open(directory, StandardOpenOption.READ))
        {
            channel.force(true);
        }
    }

    private void failFile(final IncomingFile file, final ErrorCode code, final String message)
    {
        files.remove(file.fileId);
        discarded.add(file.fileId);
        closeAndDelete(file);
        reply(file.fileId, FileStatusFlyweight.FAILED, code, message);
        stats.record(new TransferEvent(TransferEvent.Kind.FAILED, file.relativePath, FileEntryFlyweight.TYPE_FILE, 0,
            code, message));
    }

    private void refuse(final int fileId, final String relative, final int fileType, final String why)
    {
        reply(fileId, FileStatusFlyweight.REFUSED, ErrorCode.EXISTS, why);
        stats.record(new TransferEvent(TransferEvent.Kind.REFUSED, relative, fileType, 0, ErrorCode.EXISTS, why));
    }

    private void reply(final int fileId, final int status, final ErrorCode code, final String message)
    {
        reply(fileId, status, 0, code, message);
    }

    private void reply(
        final int fileId, final int status, final long offset, final ErrorCode code, final String message)
    {
        connection.send(FileStatusFlyweight.encode(allocator, fileId, status, offset, code == null ? 0 : code.code(),
            message));
    }

    /**
     * Pick up a file where an earlier run of the same transfer left it: the journal says which chunks were
     * durable; each is read back and checked against its journaled CRC32C (a partial file damaged on disk is
     * caught here), and the sender starts after the intact prefix.
     *
     * @return the offset the sender starts from.
     */
    private long resume(final IncomingFile file, final String rootRelative)
    {
        final CheckpointJournal.FileState known = journal.find(rootRelative);
        if (known == null || !known.matches(file.size, file.mtimeNs, chunkLength) ||
            !Files.isRegularFile(file.temp, LinkOption.NOFOLLOW_LINKS))
        {
            deleteQuietly(file.temp);
            file.journalState = journal.beginFile(rootRelative, file.size, file.mtimeNs, chunkLength);
            return 0;
        }
        file.journalState = known;
        long index = 0;
        try (FileChannel partial = FileChannel.open(file.temp, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))
        {
            final long chunks = ChunkDigest.chunkCount(file.size, chunkLength);
            while (index < chunks)
            {
                final Integer journaled = known.chunk(index);
                if (journaled == null)
                {
                    break;
                }
                final long offset = index * chunkLength;
                final int length = (int)Math.min(chunkLength, file.size - offset);
                final ByteBuf buffer = allocator.directBuffer(length);
                try
                {
                    while (buffer.writerIndex() < length)
                    {
                        if (buffer.writeBytes(partial, offset + buffer.writerIndex(),
                            length - buffer.writerIndex()) < 0)
                        {
                            break;
                        }
                    }
                    if (buffer.writerIndex() < length)
                    {
                        break;
                    }
                    crc.reset();
                    crc.update(buffer.nioBuffer(0, length));
                    if ((int)crc.getValue() != journaled)
                    {
                        stats.recordCorruptChunk();
                        break;
                    }
                }
                finally
                {
                    buffer.release();
                }
                file.digest.add(index, journaled);
                index++;
            }
        }
        catch (final IOException ex)
        {
            index = 0;
        }
        if (index == 0)
        {
            deleteQuietly(file.temp);
            file.journalState = journal.beginFile(rootRelative, file.size, file.mtimeNs, chunkLength);
            return 0;
        }
        file.chunksWritten = index;
        final long offset = Math.min(file.size, index * chunkLength);
        stats.addResumedBytes(offset);
        return offset;
    }

    /** Where entries are written: the base path, or its staging directory for an atomic transfer. */
    private String writeBase()
    {
        if (stage == null)
        {
            return basePath;
        }
        return basePath.isEmpty() ? stage : basePath + "/" + stage;
    }

    /**
     * An atomic transfer refuses an entry whose top-level name already exists at the destination (publishing it
     * would have to replace what is there).
     *
     * @return true when the entry may be staged.
     */
    private boolean admitToStage(final int fileId, final String relative, final int fileType)
    {
        final String top = relative.split("/", 2)[0];
        if (topLevelNames.add(top))
        {
            final Path destination = root.resolveForWrite(basePath.isEmpty() ? top : basePath + "/" + top,
                verifiedDirectories);
            if (Files.exists(destination, LinkOption.NOFOLLOW_LINKS))
            {
                blockedTopLevelNames.add(top);
            }
        }
        if (blockedTopLevelNames.contains(top))
        {
            refuse(fileId, relative, fileType, "'" + top + "' exists at the destination; an atomic transfer " +
                "publishes only new names");
            return false;
        }
        return true;
    }

    /**
     * Rename each staged top-level entry into the destination (each rename atomic), make the directory durable,
     * and remove the empty staging directory.
     */
    private void publishStage()
    {
        final Path destination = root.ensureDirectory(basePath);
        final Path staged = destination.resolve(stage);
        try
        {
            for (final String top : topLevelNames)
            {
                final Path from = staged.resolve(top);
                if (Files.exists(from, LinkOption.NOFOLLOW_LINKS))
                {
                    // a rename on one file system; without REPLACE_EXISTING a name that appeared meanwhile is
                    // never replaced
                    Files.move(from, destination.resolve(top));
                }
            }
            syncDirectory(destination);
            Files.deleteIfExists(staged);
            published = true;
        }
        catch (final IOException ex)
        {
            throw storageFailure("cannot publish the staged transfer", ex);
        }
    }

    /**
     * Make written chunks durable and then journal them, when the checkpoint interval or size is reached (or,
     * with {@code force}, now).
     */
    private void maybeCheckpoint()
    {
        if (System.nanoTime() - lastCheckpointNs >= checkpoints.intervalNs() ||
            bytesSinceCheckpoint >= checkpoints.bytes())
        {
            checkpoint();
        }
    }

    private void checkpoint()
    {
        if (journal == null || !journal.hasPending() && dirtyFiles.isEmpty() && renamedSinceCheckpoint.isEmpty())
        {
            return;
        }
        try
        {
            // order: partial data, then the directories holding renamed files, then the records that describe both
            for (final IncomingFile file : dirtyFiles)
            {
                if (file.channel != null && file.channel.isOpen())
                {
                    try
                    {
                        file.channel.force(false);
                    }
                    catch (final IOException ex)
                    {
                        // what was written since the last flush may be lost, and a later force (the checkpoint
                        // after the failure) would report success: those chunks never reach the journal
                        if (file.journalState != null)
                        {
                            journal.forgetNotedChunks(file.journalState);
                        }
                        throw ex;
                    }
                }
                file.dirty = false;
            }
            dirtyFiles.clear();
            for (final Path directory : renamedSinceCheckpoint)
            {
                syncDirectory(directory);
            }
            renamedSinceCheckpoint.clear();
            journal.commit();
        }
        catch (final IOException ex)
        {
            throw storageFailure("cannot write checkpoint", ex);
        }
        lastCheckpointNs = System.nanoTime();
        bytesSinceCheckpoint = 0;
    }

    private void finishJournal()
    {
        if (journal == null)
        {
            return;
        }
        try
        {
            if (stage != null && !published)
            {
                // some entries failed, so nothing was published: the journal stays with its stage, which the next
                // run of the same command fills and publishes, or which expires with it
                try
                {
                    checkpoint();
                }
                finally
                {
                    journal.close();
                }
                return;
            }
            journal.delete();
        }
        catch (final IOException | TransferException ex)
        {
            // a leftover journal of a finished transfer only costs disk space until it expires
        }
    }

    /**
     * An atomic transfer without a journal that did not publish: nothing can ever resume its stage (its name comes
     * from this transfer's id), so it goes.
     */
    private void discardStage()
    {
        if (stage == null || journal != null || published)
        {
            return;
        }
        try
        {
            CheckpointJournal.deleteTree(root.ensureDirectory(basePath).resolve(stage));
        }
        catch (final IOException | RuntimeException ex)
        {
            // best effort: a leftover stage never carries a final name
        }
    }

    private TransferException storageFailure(final String what, final IOException ex)
    {
        return new TransferException(StorageErrors.classify(ex), what + ": " + StorageErrors.describe(ex), ex);
    }

    private Path tempPath(final Path target, final int fileId)
    {
        return target.resolveSibling(TEMP_PREFIX + Long.toHexString(transferId) + "-" + fileId + TEMP_SUFFIX);
    }

    /**
     * The transfer ended early. With a journal the partial files stay for the next run, their durable state
     * checkpointed; without one they are deleted.
     */
    private void discardAll()
    {
        if (journal != null)
        {
            try
            {
                checkpoint();
            }
            catch (final TransferException ex)
            {
                // the disk may be full: what is already journaled stays valid
            }
            for (final IncomingFile file : files.values())
            {
                if (file.journalState != null)
                {
                    closeChannelQuietly(file);
                }
                else
                {
                    closeAndDelete(file);
                }
            }
            try
            {
                journal.close();
            }
            catch (final IOException ignore)
            {
                // the next run trusts only what reached the journal
            }
        }
        else
        {
            for (final IncomingFile file : files.values())
            {
                closeAndDelete(file);
            }
        }
        files.clear();
    }

    private void closeAndDelete(final IncomingFile file)
    {
        forgetJournal(file);
        closeChannelQuietly(file);
        deleteQuietly(file.temp);
    }

    /** The partial data is not wanted any more: a later run starts this file from nothing. */
    private void forgetJournal(final IncomingFile file)
    {
        if (file.journalState != null)
        {
            journal.forget(file.journalState);
            file.journalState = null;
        }
    }

    private static void closeChannelQuietly(final IncomingFile file)
    {
        if (file.channel != null)
        {
            try
            {
                file.channel.close();
            }
            catch (final IOException ignore)
            {
                // either deleted next, or journaled: the last checkpoint forced what the journal describes
            }
        }
    }

    private static void deleteQuietly(final Path path)
    {
        try
        {
            Files.deleteIfExists(path);
        }
        catch (final IOException ignore)
        {
            // best effort: a leftover temporary file never carries a final name
        }
    }

    /** On the receiver's thread: what is under {@code path} now, reached as its files are; null if nothing. */
    private BasicFileAttributes attributes(final Path path)
    {
        try
        {
            return openDirectories.attributes(path);
        }
        catch (final IOException ex)
        {
            return null;
        }
    }
}
