package io.xfer.agent.storage;

import org.agrona.collections.Long2LongHashMap;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.zip.CRC32C;

/**
 * The receiver's checkpoint journal: a durable record of which chunks of which files of one transfer (named by its
 * resume key) are written, so that a re-run of the same command resumes instead of starting over. It lives in
 * {@code ROOT/.xfer-state/KEY/journal}, beside the partial files it describes.
 *
 * <p>Format: an 8-byte magic "XFERJNL1", then records, each {@code type u8 | length u32 | payload | crc32c u32}
 * (big-endian; the CRC covers type, length and payload). A record cut short by a crash fails its length or CRC
 * check and ends the journal there: everything before it is trusted, nothing after.
 * <ul>
 *   <li>FILE (1): key i32, size i64, mtime ns i64, chunk length i32, root-relative path (u16 length + UTF-8).</li>
 *   <li>CHUNKS (2): key i32, count u16, then count x (chunk index i64, CRC32C i32).</li>
 *   <li>DONE (3): key i32 - the file was committed under its final name.</li>
 * </ul>
 *
 * <p>Ordering: the caller makes the partial files' data durable ({@code force}) before {@link #commit()} makes the
 * records that describe it durable; records are buffered between commits (group commit). So a chunk counts as done
 * only when both its data and its record survived.
 */
public final class CheckpointJournal implements AutoCloseable
{
    /** Directory under a receiver's root that holds journals; never sent, never accepted as an entry name. */
    public static final String STATE_DIRECTORY = ".xfer-state";

    /** Prefix of the directory an atomic transfer is staged in, beside its destination. */
    public static final String STAGE_PREFIX = ".xfer-stage-";

    private static final byte[] MAGIC = "XFERJNL1".getBytes(StandardCharsets.US_ASCII);
    private static final int FILE = 1;
    private static final int CHUNKS = 2;
    private static final int DONE = 3;
    /** The root-relative directory an atomic transfer stages in: removed with the journal when it expires. */
    private static final int STAGE = 4;
    private static final int RECORD_OVERHEAD = 1 + 4 + 4;
    /** A CHUNKS record's entry: the chunk's index and its CRC32C. */
    private static final int CHUNK_ENTRY = 8 + 4;
    private static final int INITIAL_PENDING_BYTES = 4096;
    private static final int KEPT_PENDING_BYTES = 1 << 20;
    /** No journaled chunk: CRC32C values are kept unsigned. */
    /** The most chunks of one file the arrays of its record hold (2^28 ints, 1 GiB). */
    static final long MAX_JOURNALED_CHUNKS = 1L << 28;
    /** How far past twice the chunks noted the arrays of a record may grow. */
    static final long DENSE_MARGIN_CHUNKS = 4096;
    private static final long NO_CHUNK = -1L;

    /** What the journal knows of one file. */
    public static final class FileState
    {
        final int key;
        final String path;
        final long size;
        final long mtimeNs;
        final int chunkLength;
        /**
         * Journaled CRC32C by chunk index, and a bit per chunk for whether it was journaled: allocated at the first
         * chunk, 4 bytes and a bit per chunk of the file (a hash map took about 40 bytes per chunk, and its growth
         * was most of the heap a pull allocates per GiB after the TLS reads).
         */
        private int[] checksums;
        private long[] journaled;
        /** Chunks far beyond the ones noted so far, by index: rare, see {@link #put}. */
        private Long2LongHashMap outliers;
        private long noted;
        boolean done;
        /** Chunks noted since the last commit, to be written in its CHUNKS records; the arrays are kept. */
        private long[] pendingIndexes;
        private int[] pendingChecksums;
        private int pendingCount;

        FileState(final int key, final String path, final long size, final long mtimeNs, final int chunkLength)
        {
            this.key = key;
            this.path = path;
            this.size = size;
            this.mtimeNs = mtimeNs;
            this.chunkLength = chunkLength;
        }

        public int key()
        {
            return key;
        }

        public boolean matches(final long size, final long mtimeNs, final int chunkLength)
        {
            return this.size == size && FileMetadata.sameMtime(this.mtimeNs, mtimeNs) &&
                this.chunkLength == chunkLength && !done;
        }

        /** @return the CRC32C journaled for a chunk, or null. */
        public Integer chunk(final long index)
        {
            if (checksums != null && index >= 0 && index < checksums.length &&
                (journaled[(int)(index >>> 6)] & (1L << index)) != 0)
            {
                return checksums[(int)index];
            }
            if (outliers != null)
            {
                final long checksum = outliers.get(index);
                return checksum == NO_CHUNK ? null : (int)checksum;
            }
            return null;
        }

        /** @return how many chunks the arrays hold now (for tests). */
        int journaledCapacity()
        {
            return checksums == null ? 0 : checksums.length;
        }

        /**
         * Note a chunk's CRC32C; an index the file cannot have (a damaged record) is ignored. Chunks arrive nearly
         * in order, so the arrays grow (doubling) to the highest index noted, but only while that stays within
         * twice the chunks noted so far and a margin: an index far beyond (a peer announcing a huge file and
         * sending a chunk near its end) goes to a small map instead. Memory thus follows the chunks that came, not
         * the size or the offsets a peer announced.
         */
        void put(final long index, final int checksum)
        {
            final long count = chunkLength <= 0 || size < 0 ? 0 :
                size / chunkLength + (size % chunkLength != 0 ? 1 : 0);
            if (index < 0 || index >= count)
            {
                return;
            }
            noted++;
            final long dense = Math.min(MAX_JOURNALED_CHUNKS, Math.min(count, 2L * noted + DENSE_MARGIN_CHUNKS));
            if (checksums != null && index < checksums.length || index < dense)
            {
                if (checksums == null || index >= checksums.length)
                {
                    final long wanted = Math.min(dense, Math.max(Math.max(64, index + 1),
                        checksums == null ? 0 : 2L * checksums.length));
                    checksums = checksums == null ? new int[(int)wanted] : Arrays.copyOf(checksums, (int)wanted);
                    final int words = (int)((wanted + 63) >>> 6);
                    journaled = journaled == null ? new long[words] : Arrays.copyOf(journaled, words);
                }
                checksums[(int)index] = checksum;
                journaled[(int)(index >>> 6)] |= 1L << index;
                return;
            }
            if (outliers == null)
            {
                outliers = new Long2LongHashMap(NO_CHUNK);
            }
            outliers.put(index, checksum & 0xFFFF_FFFFL);
        }
    }

    /** The journal is in use by another run of the same transfer. */
    public static final class JournalBusyException extends IOException
    {
        private static final long serialVersionUID = 1L;

        JournalBusyException(final String message)
        {
            super(message);
        }
    }

    private final Path directory;
    private final Path file;
    private final String resumeKey;
    private final FileChannel channel;
    private final Map<String, FileState> byPath = new HashMap<>();
    private final Map<Integer, FileState> byKey = new HashMap<>();
    private final Set<String> stages = new HashSet<>();
    /** Files with chunks noted since the last commit, in the order of their first. */
    private final List<FileState> dirty = new ArrayList<>();
    /**
     * Records written since the last commit, one after the other, ready for one write: kept from commit to commit
     * (unless it grew past {@link #KEPT_PENDING_BYTES}), so that noting a chunk allocates nothing.
     */
    private ByteBuffer pending = ByteBuffer.allocate(INITIAL_PENDING_BYTES);
    /** How many bytes of {@link #pending} are already in the file (a commit that failed after writing some). */
    private int written;
    /** Where the records of {@link #pending} go in the file: set by the first try of a commit, -1 between commits. */
    private long commitStart = -1;
    private final CRC32C crc = new CRC32C();
    private int nextKey;
    /** Bytes of CHUNKS entries noted since the last commit, not yet in {@link #pending}. */
    private long notedChunkBytes;

    private CheckpointJournal(final Path directory, final String resumeKey, final FileChannel channel)
    {
        this.directory = directory;
        this.file = directory.resolve("journal");
        this.resumeKey = resumeKey;
        this.channel = channel;
    }

    /**
     * Open (creating when missing) the journal of a resume key under a receiver's root, and load what it holds.
     *
     * @param restart discard whatever the journal and its partial files held.
     */
    public static CheckpointJournal open(final Path root, final String resumeKey, final boolean restart)
        throws IOException
    {
        return open(root, resumeKey, restart, UnaryOperator.identity());
    }

    /** As {@link #open(Path, String, boolean)}, with the journal file's channel passed through {@code wrap}. */
    static CheckpointJournal open(
        final Path root, final String resumeKey, final boolean restart, final UnaryOperator<FileChannel> wrap)
        throws IOException
    {
        final Path directory = root.resolve(STATE_DIRECTORY).resolve(resumeKey);
        Files.createDirectories(directory);
        final Path file = directory.resolve("journal");
        final FileChannel channel = wrap.apply(FileChannel.open(file, StandardOpenOption.CREATE,
            StandardOpenOption.READ, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS));
        // one run at a time per resume key: two would write the same partial files
        boolean locked;
        try
        {
            locked = channel.tryLock() != null;
        }
        catch (final OverlappingFileLockException ex)
        {
            locked = false;
        }
        if (!locked)
        {
            channel.close();
            throw new JournalBusyException("another run of the same transfer is in progress (resume key " +
                resumeKey + ")");
        }
        if (restart)
        {
            // only under the lock: a restart never pulls the ground from under a running transfer
            deleteLeftovers(root, resumeKey, readRecorded(file));
            channel.truncate(0);
        }
        final CheckpointJournal journal = new CheckpointJournal(directory, resumeKey, channel);
        journal.load();
        // touched on every use, so expiry counts from the last run
        Files.setLastModifiedTime(directory, FileTime.fromMillis(System.currentTimeMillis()));
        return journal;
    }

    public String resumeKey()
    {
        return resumeKey;
    }

    /** @return the journal's record of a root-relative path, or null. */
    public FileState find(final String path)
    {
        return byPath.get(path);
    }

    /** Start a new record of a file (buffered until the next commit). */
    /**
     * Note the root-relative directory an atomic transfer stages in, so that it goes with this journal when the
     * journal expires or a run restarts; once per directory.
     */
    public void stage(final String path)
    {
        if (stages.add(path))
        {
            final byte[] pathBytes = path.getBytes(StandardCharsets.UTF_8);
            append(STAGE, ByteBuffer.allocate(2 + pathBytes.length).putShort((short)pathBytes.length)
                .put(pathBytes).flip());
        }
    }

    public FileState beginFile(final String path, final long size, final long mtimeNs, final int chunkLength)
    {
        final FileState state = new FileState(nextKey++, path, size, mtimeNs, chunkLength);
        byPath.put(path, state);
        byKey.put(state.key, state);
        final byte[] pathBytes = path.getBytes(StandardCharsets.UTF_8);
        final ByteBuffer payload = ByteBuffer.allocate(4 + 8 + 8 + 4 + 2 + pathBytes.length);
        payload.putInt(state.key).putLong(size).putLong(mtimeNs).putInt(chunkLength)
            .putShort((short)pathBytes.length).put(pathBytes).flip();
        append(FILE, payload);
        return state;
    }

    /** Note a written chunk (buffered). Its data must be made durable before {@link #commit()}. */
    public void chunk(final FileState state, final long index, final int checksum)
    {
        state.put(index, checksum);
        if (state.pendingCount == 0)
        {
            dirty.add(state);
        }
        if (state.pendingIndexes == null || state.pendingCount == state.pendingIndexes.length)
        {
            final int length = state.pendingIndexes == null ? 16 : 2 * state.pendingIndexes.length;
            state.pendingIndexes = state.pendingIndexes == null ? new long[length] :
                Arrays.copyOf(state.pendingIndexes, length);
            state.pendingChecksums = state.pendingChecksums == null ? new int[length] :
                Arrays.copyOf(state.pendingChecksums, length);
        }
        state.pendingIndexes[state.pendingCount] = index;
        state.pendingChecksums[state.pendingCount] = checksum;
        state.pendingCount++;
        notedChunkBytes += CHUNK_ENTRY;
    }

    /**
     * Drop the chunks noted for a file since the last commit, before they are written: its data could not be made
     * durable (a failed force may have lost it, and a later force would report success), so the next run must send
     * them again. What a journal already holds for the file stays. The file's state in memory keeps them: only the
     * next {@link #open} trusts the journal.
     */
    public void forgetNotedChunks(final FileState state)
    {
        if (state.pendingCount > 0)
        {
            notedChunkBytes -= (long)state.pendingCount * CHUNK_ENTRY;
            state.pendingCount = 0;
            dirty.remove(state);
        }
    }

    /** Note a file committed under its final name (buffered). */
    public void done(final FileState state)
    {
        state.done = true;
        final ByteBuffer payload = ByteBuffer.allocate(4).putInt(state.key).flip();
        append(DONE, payload);
    }

    /** Forget a file (its partial data proved bad): a later run starts it from nothing. */
    public void forget(final FileState state)
    {
        byPath.remove(state.path);
        state.done = true;
        append(DONE, ByteBuffer.allocate(4).putInt(state.key).flip());
    }

    public boolean hasPending()
    {
        return pending.position() > 0 || !dirty.isEmpty();
    }

    /**
     * Write the buffered records and make them durable.
     */
    public void commit() throws IOException
    {
        for (final FileState state : dirty)
        {
            for (int from = 0; from < state.pendingCount; from += 0xFFFF)
            {
                final int count = Math.min(0xFFFF, state.pendingCount - from);
                final int start = beginRecord(CHUNKS, 4 + 2 + count * CHUNK_ENTRY);
                pending.putInt(state.key).putShort((short)count);
                for (int i = from; i < from + count; i++)
                {
                    pending.putLong(state.pendingIndexes[i]).putInt(state.pendingChecksums[i]);
                }
                endRecord(start);
            }
            state.pendingCount = 0;
        }
        dirty.clear();
        notedChunkBytes = 0;
        if (pending.position() == 0)
        {
            return;
        }
        // a failed write or force leaves the records in place: a later commit writes what the file lacks and forces
        if (commitStart < 0)
        {
            commitStart = channel.size();
        }
        final ByteBuffer unwritten = pending.duplicate().limit(pending.position()).position(written);
        long position = commitStart + written;
        while (unwritten.hasRemaining())
        {
            position += channel.write(unwritten, position);
            written = unwritten.position();
        }
        try
        {
            channel.force(false);
        }
        catch (final IOException ex)
        {
            // after a failed flush the kernel may have dropped the pages it could not write, marked clean, and a
            // later force reports success: the next commit writes every record again, at the same place, first
            written = 0;
            throw ex;
        }
        pending = pending.capacity() > KEPT_PENDING_BYTES ? ByteBuffer.allocate(INITIAL_PENDING_BYTES) :
            pending.clear();
        written = 0;
        commitStart = -1;
        // in use: expiry counts from the last checkpoint, not from the open
        Files.setLastModifiedTime(directory, FileTime.fromMillis(System.currentTimeMillis()));
    }

    /**
     * Remove the journal (the transfer finished), with the partial files of any file it still lists as unfinished
     * (an entry that a later run skipped, refused or no longer had in its source).
     */
    public void delete() throws IOException
    {
        final Path root = directory.getParent().getParent();
        // a stage is left alone: an atomic transfer that ended with failures keeps it for the next run
        deleteLeftovers(root, resumeKey, new Recorded(byPath, Set.of()));
        channel.close();
        Files.deleteIfExists(file);
        Files.deleteIfExists(directory);
    }

    /**
     * Close without writing what is buffered: records reach the journal only through {@link #commit()}, after the
     * data they describe was made durable.
     */
    @Override
    public void close() throws IOException
    {
        pending.clear();
        written = 0;
        commitStart = -1;
        for (final FileState state : dirty)
        {
            state.pendingCount = 0;
        }
        dirty.clear();
        notedChunkBytes = 0;
        if (channel.isOpen())
        {
            channel.close();
        }
    }

    /**
     * The stable name of a file's partial data: beside its target, named by the resume key and the path, so a
     * re-run finds it again.
     */
    public static Path partialPath(final Path target, final String resumeKey, final String rootRelativePath)
    {
        return target.resolveSibling(".xfer-" + resumeKey.substring(0, Math.min(16, resumeKey.length())) + "-" +
            hash16(rootRelativePath) + ".part");
    }

    /** @return true for names the receiver reserves: the state directory and partial files. */
    public static boolean isReservedName(final String name)
    {
        return name.equals(STATE_DIRECTORY) || name.startsWith(".xfer-") && name.endsWith(".part") ||
            name.startsWith(STAGE_PREFIX);
    }

    /**
     * Delete journals (and their partial files) not used for longer than {@code maxAgeMs}.
     *
     * @return how many were removed.
     */
    public static int expire(final Path root, final long maxAgeMs) throws IOException
    {
        final Path states = root.resolve(STATE_DIRECTORY);
        if (!Files.isDirectory(states, LinkOption.NOFOLLOW_LINKS))
        {
            return 0;
        }
        int removed = 0;
        final long cutoff = System.currentTimeMillis() - maxAgeMs;
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(states))
        {
            for (final Path directory : stream)
            {
                if (Files.getLastModifiedTime(directory, LinkOption.NOFOLLOW_LINKS).toMillis() >= cutoff)
                {
                    continue;
                }
                final Path journal = directory.resolve("journal");
                if (Files.exists(journal))
                {
                    // never one that a running transfer holds
                    try (FileChannel channel = FileChannel.open(journal, StandardOpenOption.WRITE))
                    {
                        final java.nio.channels.FileLock lock;
                        try
                        {
                            lock = channel.tryLock();
                        }
                        catch (final OverlappingFileLockException ex)
                        {
                            continue;
                        }
                        if (lock == null)
                        {
                            continue;
                        }
                        deleteLeftovers(root, directory.getFileName().toString(), readRecorded(journal));
                        Files.delete(journal);
                    }
                }
                Files.deleteIfExists(directory);
                removed++;
            }
        }
        return removed;
    }

    /** Partial files, and staging directories with all they hold, of a journal being discarded. */
    private static void deleteLeftovers(final Path root, final String resumeKey, final Recorded recorded)
        throws IOException
    {
        for (final FileState state : recorded.states().values())
        {
            Files.deleteIfExists(partialPath(root.resolve(state.path), resumeKey, state.path));
        }
        for (final String stage : recorded.stages())
        {
            final Path directory = root.resolve(stage).normalize();
            // a damaged or forged record must never point anywhere but at a staging directory inside the root
            if (directory.startsWith(root) && !directory.equals(root) &&
                directory.getFileName().toString().startsWith(STAGE_PREFIX))
            {
                deleteTree(directory);
            }
        }
    }

    /** Delete a directory and everything in it; symlinks are removed, never followed. */
    public static void deleteTree(final Path directory) throws IOException
    {
        if (!Files.exists(directory, LinkOption.NOFOLLOW_LINKS))
        {
            return;
        }
        Files.walkFileTree(directory, new SimpleFileVisitor<>()
        {
            @Override
            public FileVisitResult visitFile(final Path file, final BasicFileAttributes attributes)
                throws IOException
            {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(final Path dir, final IOException failure) throws IOException
            {
                if (failure != null)
                {
                    throw failure;
                }
                Files.deleteIfExists(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    private void append(final int type, final ByteBuffer payload)
    {
        final int start = beginRecord(type, payload.remaining());
        pending.put(payload);
        endRecord(start);
    }

    /**
     * Start a record of {@code length} payload bytes in {@link #pending}, which the caller puts next.
     *
     * @return where the record starts, for {@link #endRecord}.
     */
    private int beginRecord(final int type, final int length)
    {
        if (pending.remaining() < RECORD_OVERHEAD + length)
        {
            final int needed = pending.position() + RECORD_OVERHEAD + length;
            final ByteBuffer grown = ByteBuffer.allocate(Math.max(needed, 2 * pending.capacity()));
            grown.put(pending.flip());
            pending = grown;
        }
        final int start = pending.position();
        pending.put((byte)type).putInt(length);
        return start;
    }

    /** End the record begun at {@code start}: its CRC32C over type, length and payload. */
    private void endRecord(final int start)
    {
        final int end = pending.position();
        crc.reset();
        crc.update(pending.array(), start, end - start);
        pending.putInt((int)crc.getValue());
    }

    /** @return bytes of records waiting for the next commit. */
    public long pendingBytes()
    {
        return pending.position() - written + notedChunkBytes;
    }

    private void load() throws IOException
    {
        final long size = channel.size();
        if (size == 0)
        {
            final ByteBuffer magic = ByteBuffer.wrap(MAGIC);
            while (magic.hasRemaining())
            {
                channel.write(magic, MAGIC.length - magic.remaining());
            }
            channel.force(false);
            return;
        }
        final long validEnd = parse(readAll(channel), byPath, byKey, stages);
        for (final FileState state : byKey.values())
        {
            nextKey = Math.max(nextKey, state.key + 1);
        }
        if (validEnd < MAGIC.length)
        {
            // not a journal (or its magic was torn): start a fresh one
            channel.truncate(0);
            final ByteBuffer magic = ByteBuffer.wrap(MAGIC);
            while (magic.hasRemaining())
            {
                channel.write(magic, MAGIC.length - magic.remaining());
            }
            channel.force(false);
        }
        else if (validEnd < size)
        {
            // a torn record from a crash: drop it so new records follow the last good one
            channel.truncate(validEnd);
            channel.force(false);
        }
    }

    /** What a journal on disk names: its files' states and the directories its transfer staged in. */
    private record Recorded(Map<String, FileState> states, Set<String> stages)
    {
    }

    private static Recorded readRecorded(final Path file) throws IOException
    {
        final Recorded recorded = new Recorded(new HashMap<>(), new HashSet<>());
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ))
        {
            parse(readAll(channel), recorded.states(), new HashMap<>(), recorded.stages());
        }
        catch (final NoSuchFileException ex)
        {
            return recorded;
        }
        return recorded;
    }

    private static ByteBuffer readAll(final FileChannel channel) throws IOException
    {
        final long size = channel.size();
        if (size > Integer.MAX_VALUE - 16)
        {
            throw new IOException("checkpoint journal of " + size + " bytes is too large");
        }
        final ByteBuffer all = ByteBuffer.allocate((int)size);
        while (all.hasRemaining() && channel.read(all, all.position()) >= 0)
        {
            // positional reads until full
        }
        return all.flip();
    }

    /**
     * @return the offset after the last intact record.
     */
    private static long parse(final ByteBuffer all, final Map<String, FileState> byPath,
        final Map<Integer, FileState> byKey, final Set<String> stages)
    {
        if (all.remaining() < MAGIC.length)
        {
            return 0;
        }
        final byte[] magic = new byte[MAGIC.length];
        all.get(magic);
        if (!java.util.Arrays.equals(magic, MAGIC))
        {
            return 0;
        }
        final CRC32C crc = new CRC32C();
        while (all.remaining() >= RECORD_OVERHEAD)
        {
            final int start = all.position();
            final int type = all.get() & 0xFF;
            final int length = all.getInt();
            if (length < 0 || length > all.remaining() - 4)
            {
                return start;
            }
            crc.reset();
            crc.update(all.array(), start, 1 + 4 + length);
            final ByteBuffer payload = all.slice(all.position(), length);
            all.position(all.position() + length);
            if (all.getInt() != (int)crc.getValue())
            {
                return start;
            }
            try
            {
                apply(type, payload, byPath, byKey, stages);
            }
            catch (final RuntimeException ex)
            {
                return start;
            }
        }
        return all.position();
    }

    private static void apply(final int type, final ByteBuffer payload, final Map<String, FileState> byPath,
        final Map<Integer, FileState> byKey, final Set<String> stages)
    {
        switch (type)
        {
            case STAGE:
            {
                final byte[] path = new byte[payload.getShort() & 0xFFFF];
                payload.get(path);
                stages.add(new String(path, StandardCharsets.UTF_8));
                break;
            }
            case FILE:
            {
                final int key = payload.getInt();
                final long size = payload.getLong();
                final long mtimeNs = payload.getLong();
                final int chunkLength = payload.getInt();
                final byte[] path = new byte[payload.getShort() & 0xFFFF];
                payload.get(path);
                final FileState state = new FileState(key, new String(path, StandardCharsets.UTF_8), size, mtimeNs,
                    chunkLength);
                byKey.put(key, state);
                byPath.put(state.path, state);
                break;
            }
            case CHUNKS:
            {
                final FileState state = byKey.get(payload.getInt());
                final int count = payload.getShort() & 0xFFFF;
                for (int i = 0; i < count; i++)
                {
                    final long index = payload.getLong();
                    final int checksum = payload.getInt();
                    if (state != null)
                    {
                        state.put(index, checksum);
                    }
                }
                break;
            }
            case DONE:
            {
                final FileState state = byKey.get(payload.getInt());
                if (state != null)
                {
                    state.done = true;
                    if (byPath.get(state.path) == state)
                    {
                        byPath.remove(state.path);
                    }
                }
                break;
            }
            default:
                throw new IllegalArgumentException("unknown record type " + type);
        }
    }

    private static String hash16(final String path)
    {
        try
        {
            final byte[] digest = MessageDigest.getInstance("SHA-256").digest(path.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest, 0, 8);
        }
        catch (final NoSuchAlgorithmException ex)
        {
            throw new IllegalStateException("SHA-256 is missing from this JVM", ex);
        }
    }
}
