package io.xfer.agent.storage;

import io.xfer.agent.TestTmpfs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class CheckpointJournalTest
{
    private static final String KEY = "0123456789abcdef0123456789abcdef";

    @TempDir
    Path root;

    @Test
    void shouldRememberCommittedChunksAcrossReopen() throws IOException
    {
        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, false))
        {
            final CheckpointJournal.FileState state = journal.beginFile("a/b.bin", 3000, 42, 1024);
            journal.chunk(state, 0, 11);
            journal.chunk(state, 1, 22);
            journal.commit();
        }
        final Path file = root.resolve(CheckpointJournal.STATE_DIRECTORY).resolve(KEY).resolve("journal");
        assertTrue(Files.size(file) > 8);

        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, false))
        {
            final CheckpointJournal.FileState state = journal.find("a/b.bin");
            assertNotNull(state);
            assertTrue(state.matches(3000, 42, 1024));
            assertFalse(state.matches(3001, 42, 1024), "another size is another file");
            assertEquals(11, state.chunk(0));
            assertEquals(22, state.chunk(1));
        }
    }

    @Test
    void shouldKeepChunksNotedOverManyCommitsOfInterleavedFilesAndLongRecords() throws IOException
    {
        // 70,000 chunks of one file in one commit: more than one CHUNKS record holds (65,535), and more bytes than
        // the journal keeps its write buffer at; then commits of a few chunks of two files each, one file done
        final int many = 70_000;
        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, false))
        {
            final CheckpointJournal.FileState first = journal.beginFile("first.bin", 200_000L * 64, 1, 64);
            final CheckpointJournal.FileState second = journal.beginFile("second.bin", 1_000L * 64, 2, 64);
            for (int i = 0; i < many; i++)
            {
                journal.chunk(first, i, i * 31 + 7);
                if (i % 1_000 == 0)
                {
                    journal.chunk(second, i / 1_000, -i);
                }
            }
            assertTrue(journal.hasPending());
            journal.commit();
            assertFalse(journal.hasPending());
            for (int round = 0; round < 5; round++)
            {
                for (int i = 0; i < 3; i++)
                {
                    journal.chunk(second, 100 + round * 3 + i, round * 10 + i);
                    journal.chunk(first, many + round * 3 + i, round * 100 + i);
                }
                if (round == 2)
                {
                    journal.done(second);
                }
                journal.commit();
            }
            // noted after the last commit: lost with the close, as its data was never made durable
            journal.chunk(first, many + 100, 5);
        }
        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, false))
        {
            final CheckpointJournal.FileState first = journal.find("first.bin");
            for (int i = 0; i < many; i++)
            {
                assertEquals(i * 31 + 7, first.chunk(i), "chunk " + i);
            }
            for (int round = 0; round < 5; round++)
            {
                for (int i = 0; i < 3; i++)
                {
                    assertEquals(round * 100 + i, first.chunk(many + round * 3 + i));
                }
            }
            assertNull(first.chunk(many + 100), "not committed");
            assertNull(journal.find("second.bin"), "done, so forgotten");
        }
    }

    @Test
    void shouldWriteWhatACommitCouldNotOnceTheDiskHasRoomAgain() throws Exception
    {
        final Path small = Files.createDirectories(root.resolve("small"));
        assumeTrue(TestTmpfs.mount(small, "256k"), "cannot mount a tmpfs here (not root?)");
        try
        {
            final int chunks = 10_000;
            try (CheckpointJournal journal = CheckpointJournal.open(small, KEY, false))
            {
                final CheckpointJournal.FileState state = journal.beginFile("a.bin", 20_000L * 64, 1, 64);
                for (int i = 0; i < chunks; i++)
                {
                    journal.chunk(state, i, i * 7 + 1);
                }
                // fill the disk, then free 16 KiB: the commit's 120 KB of records go in only in part
                final Path filler = small.resolve("filler");
                try (FileChannel out = FileChannel.open(filler, StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE))
                {
                    final java.nio.ByteBuffer block = java.nio.ByteBuffer.allocate(4096);
                    for (int i = 0; i < 1024; i++)
                    {
                        try
                        {
                            out.write(block.clear());
                        }
                        catch (final IOException full)
                        {
                            break;
                        }
                    }
                    out.truncate(Math.max(0, out.size() - 16 * 1024));
                }
                final IOException failure = assertThrows(IOException.class, journal::commit);
                assertTrue(String.valueOf(failure.getMessage()).contains("No space"), failure::toString);
                assertTrue(journal.hasPending(), "the records are kept");
                Files.delete(filler);
                journal.commit();
                assertFalse(journal.hasPending());
            }
            try (CheckpointJournal journal = CheckpointJournal.open(small, KEY, false))
            {
                final CheckpointJournal.FileState state = journal.find("a.bin");
                assertNotNull(state, "the file's record survived the failed commit");
                for (int i = 0; i < chunks; i++)
                {
                    assertEquals(i * 7 + 1, state.chunk(i), "chunk " + i);
                }
            }
        }
        finally
        {
            TestTmpfs.unmount(small);
        }
    }

    @Test
    void shouldWriteItsRecordsAgainAfterAFailedForceInsteadOfTrustingTheEarlierWrite() throws IOException
    {
        // a flush that fails with EIO: the kernel drops the pages it could not write and the next force succeeds,
        // so a commit that only forced again would call records durable that are not in the file
        final int chunks = 3_000;
        final LosingWriteback[] channel = new LosingWriteback[1];
        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, false, inner ->
            channel[0] = new LosingWriteback(inner)))
        {
            final CheckpointJournal.FileState state = journal.beginFile("a.bin", 4_000L * 64, 1, 64);
            for (int i = 0; i < chunks / 2; i++)
            {
                journal.chunk(state, i, i * 3 + 1);
            }
            journal.commit();
            for (int i = chunks / 2; i < chunks; i++)
            {
                journal.chunk(state, i, i * 3 + 1);
            }
            channel[0].failNextForce = true;
            final IOException failure = assertThrows(IOException.class, journal::commit);
            assertEquals("Input/output error", failure.getMessage());
            assertTrue(journal.hasPending(), "the records are kept");
            journal.commit();
            assertFalse(journal.hasPending());
        }
        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, false))
        {
            final CheckpointJournal.FileState state = journal.find("a.bin");
            assertNotNull(state);
            for (int i = 0; i < chunks; i++)
            {
                assertEquals(i * 3 + 1, state.chunk(i), "chunk " + i);
            }
        }
    }

    @Test
    void shouldNotRecordTheChunksOfAFileWhoseDataCouldNotBeMadeDurable() throws IOException
    {
        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, false))
        {
            final CheckpointJournal.FileState a = journal.beginFile("a.bin", 64L * 40, 1, 64);
            final CheckpointJournal.FileState b = journal.beginFile("b.bin", 64L * 40, 1, 64);
            for (int i = 0; i < 10; i++)
            {
                journal.chunk(a, i, 100 + i);
            }
            journal.commit();
            for (int i = 10; i < 20; i++)
            {
                journal.chunk(a, i, 100 + i);
            }
            for (int i = 0; i < 5; i++)
            {
                journal.chunk(b, i, 200 + i);
            }
            // forcing a.bin's data failed: its chunks since the last commit go, b.bin's stay
            journal.forgetNotedChunks(a);
            journal.forgetNotedChunks(a);
            journal.commit();
            assertFalse(journal.hasPending());
        }
        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, false))
        {
            final CheckpointJournal.FileState a = journal.find("a.bin");
            final CheckpointJournal.FileState b = journal.find("b.bin");
            for (int i = 0; i < 20; i++)
            {
                assertEquals(i < 10 ? Integer.valueOf(100 + i) : null, a.chunk(i), "a.bin chunk " + i);
            }
            for (int i = 0; i < 5; i++)
            {
                assertEquals(200 + i, b.chunk(i), "b.bin chunk " + i);
            }
        }
    }

    /**
     * A journal file whose next force fails as a disk's writeback error does: what was written since the last good
     * force never reaches the file (zeroed here), and the error is reported once.
     */
    private static final class LosingWriteback extends FileChannel
    {
        private final FileChannel inner;
        private long durableSize;
        boolean failNextForce;

        /** Over a new, empty file. */
        LosingWriteback(final FileChannel inner)
        {
            this.inner = inner;
        }

        @Override
        public void force(final boolean metaData) throws IOException
        {
            if (failNextForce)
            {
                failNextForce = false;
                final long size = inner.size();
                if (size > durableSize)
                {
                    inner.write(java.nio.ByteBuffer.allocate((int)(size - durableSize)), durableSize);
                }
                inner.force(metaData);
                throw new IOException("Input/output error");
            }
            inner.force(metaData);
            durableSize = inner.size();
        }

        @Override
        public int read(final java.nio.ByteBuffer dst) throws IOException
        {
            return inner.read(dst);
        }

        @Override
        public long read(final java.nio.ByteBuffer[] dsts, final int offset, final int length) throws IOException
        {
            return inner.read(dsts, offset, length);
        }

        @Override
        public int write(final java.nio.ByteBuffer src) throws IOException
        {
            return inner.write(src);
        }

        @Override
        public long write(final java.nio.ByteBuffer[] srcs, final int offset, final int length) throws IOException
        {
            return inner.write(srcs, offset, length);
        }

        @Override
        public long position() throws IOException
        {
            return inner.position();
        }

        @Override
        public FileChannel position(final long newPosition) throws IOException
        {
            inner.position(newPosition);
            return this;
        }

        @Override
        public long size() throws IOException
        {
            return inner.size();
        }

        @Override
        public FileChannel truncate(final long size) throws IOException
        {
            inner.truncate(size);
            durableSize = Math.min(durableSize, size);
            return this;
        }

        @Override
        public long transferTo(final long position, final long count, final java.nio.channels.WritableByteChannel
            target) throws IOException
        {
            return inner.transferTo(position, count, target);
        }

        @Override
        public long transferFrom(final java.nio.channels.ReadableByteChannel src, final long position,
            final long count) throws IOException
        {
            return inner.transferFrom(src, position, count);
        }

        @Override
        public int read(final java.nio.ByteBuffer dst, final long position) throws IOException
        {
            return inner.read(dst, position);
        }

        @Override
        public int write(final java.nio.ByteBuffer src, final long position) throws IOException
        {
            return inner.write(src, position);
        }

        @Override
        public java.nio.MappedByteBuffer map(final MapMode mode, final long position, final long size)
            throws IOException
        {
            return inner.map(mode, position, size);
        }

        @Override
        public java.nio.channels.FileLock lock(final long position, final long size, final boolean shared)
            throws IOException
        {
            return inner.lock(position, size, shared);
        }

        @Override
        public java.nio.channels.FileLock tryLock(final long position, final long size, final boolean shared)
            throws IOException
        {
            return inner.tryLock(position, size, shared);
        }

        @Override
        protected void implCloseChannel() throws IOException
        {
            inner.close();
        }
    }

    @Test
    void shouldKeepEveryChunkOfAFileIncludingAZeroChecksumAndNothingItCannotHave() throws IOException
    {
        // 200 chunks of 1 KiB and a short last one: more than one word of the journaled bits
        final long size = 200L * 1024 + 5;
        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, false))
        {
            final CheckpointJournal.FileState state = journal.beginFile("big.bin", size, 7, 1024);
            for (int i = 0; i <= 200; i += 2)
            {
                journal.chunk(state, i, i == 64 ? 0 : i * 1_000_003);
            }
            journal.chunk(state, 201, 99);
            journal.chunk(state, -1, 99);
            journal.commit();
        }
        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, false))
        {
            final CheckpointJournal.FileState state = journal.find("big.bin");
            for (int i = 0; i <= 200; i++)
            {
                if (i % 2 == 0)
                {
                    assertEquals(i == 64 ? 0 : i * 1_000_003, state.chunk(i), "chunk " + i);
                }
                else
                {
                    assertNull(state.chunk(i), "chunk " + i + " was never journaled");
                }
            }
            assertNull(state.chunk(201), "past the file's last chunk");
            assertNull(state.chunk(-1));
            assertNull(state.chunk(Long.MAX_VALUE));
        }
    }

    @Test
    void shouldHoldMemoryForTheChunksThatCameNotForTheSizeAnnounced() throws IOException
    {
        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, false))
        {
            // a peer announces a file of 1 TiB in 4 KiB chunks: 2^28 of them
            final CheckpointJournal.FileState huge = journal.beginFile("huge.bin", 1L << 40, 1, 4096);
            journal.chunk(huge, 0, 1);
            assertTrue(huge.journaledCapacity() <= 64, "room for the first chunks only: " + huge.journaledCapacity());
            journal.chunk(huge, 5000, 2);
            assertTrue(huge.journaledCapacity() < 10_000, "grown to what came: " + huge.journaledCapacity());
            assertEquals(1, huge.chunk(0));
            assertEquals(2, huge.chunk(5000));
            assertNull(huge.chunk(4999));
            journal.chunk(huge, 1L << 28, 3);
            assertNull(huge.chunk(1L << 28), "past the file's last chunk");
            // a chunk near the end of the announced size: kept, without arrays for everything before it
            journal.chunk(huge, (1L << 28) - 1, 7);
            assertEquals(7, huge.chunk((1L << 28) - 1));
            assertTrue(huge.journaledCapacity() < 20_000, "still sized by what came: " + huge.journaledCapacity());

            // sizes a peer may announce that must not break the arithmetic
            final CheckpointJournal.FileState biggest = journal.beginFile("max.bin", Long.MAX_VALUE, 1, 4096);
            journal.chunk(biggest, 7, 4);
            journal.chunk(biggest, 1L << 40, 6);
            assertEquals(4, biggest.chunk(7));
            assertEquals(6, biggest.chunk(1L << 40));
            assertTrue(biggest.journaledCapacity() <= 64);
            final CheckpointJournal.FileState empty = journal.beginFile("empty.bin", 0, 1, 4096);
            journal.chunk(empty, 0, 5);
            assertNull(empty.chunk(0));
        }
    }

    @Test
    void shouldIgnoreATornRecordAtTheEnd() throws IOException
    {
        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, false))
        {
            final CheckpointJournal.FileState state = journal.beginFile("f", 2048, 1, 1024);
            journal.chunk(state, 0, 7);
            journal.commit();
        }
        final Path file = root.resolve(CheckpointJournal.STATE_DIRECTORY).resolve(KEY).resolve("journal");
        final long intact = Files.size(file);
        // a crash in the middle of appending: half a record of garbage
        Files.write(file, new byte[] {2, 0, 0, 0, 40, 1, 2, 3}, StandardOpenOption.APPEND);

        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, false))
        {
            assertEquals(7, journal.find("f").chunk(0));
            journal.chunk(journal.find("f"), 1, 8);
            journal.commit();
        }
        assertTrue(Files.size(file) > intact, "appends after the last intact record");
        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, false))
        {
            assertEquals(8, journal.find("f").chunk(1), "records after a torn one that was cut off survive");
        }
    }

    @Test
    void shouldRejectARecordWithABadChecksum() throws IOException
    {
        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, false))
        {
            final CheckpointJournal.FileState state = journal.beginFile("f", 2048, 1, 1024);
            journal.commit();
            journal.chunk(state, 0, 7);
            journal.commit();
        }
        final Path file = root.resolve(CheckpointJournal.STATE_DIRECTORY).resolve(KEY).resolve("journal");
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE))
        {
            // flip the CRC32C of the last (CHUNKS) record
            channel.write(java.nio.ByteBuffer.wrap(new byte[] {0x55}), channel.size() - 1);
        }
        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, false))
        {
            assertNotNull(journal.find("f"), "the FILE record before it is intact");
            assertNull(journal.find("f").chunk(0), "a record that fails its CRC is not trusted");
        }
    }

    @Test
    void shouldForgetCompletedFilesAndDiscardOnRestart() throws IOException
    {
        final Path target = Files.createDirectories(root.resolve("d")).resolve("x.bin");
        final Path partial = CheckpointJournal.partialPath(target, KEY, "d/x.bin");
        Files.write(partial, new byte[10]);
        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, false))
        {
            final CheckpointJournal.FileState done = journal.beginFile("done.bin", 1, 1, 1024);
            journal.done(done);
            journal.beginFile("d/x.bin", 10, 1, 1024);
            journal.commit();
        }
        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, false))
        {
            assertNull(journal.find("done.bin"), "a committed file is not resumed");
            assertNotNull(journal.find("d/x.bin"));
        }
        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, true))
        {
            assertNull(journal.find("d/x.bin"), "restart discards the journal");
        }
        assertFalse(Files.exists(partial), "and the partial files it described");
    }

    @Test
    void shouldRefuseASecondOpenOfTheSameKey() throws IOException
    {
        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, false))
        {
            assertThrows(CheckpointJournal.JournalBusyException.class,
                () -> CheckpointJournal.open(root, KEY, false));
        }
        try (CheckpointJournal again = CheckpointJournal.open(root, KEY, false))
        {
            assertNotNull(again, "free again once closed");
        }
    }

    @Test
    void shouldNotLetARestartWipeARunningTransfer() throws IOException
    {
        final Path partial = CheckpointJournal.partialPath(root.resolve("x.bin"), KEY, "x.bin");
        try (CheckpointJournal running = CheckpointJournal.open(root, KEY, false))
        {
            running.beginFile("x.bin", 10, 1, 1024);
            running.commit();
            Files.write(partial, new byte[10]);
            assertThrows(CheckpointJournal.JournalBusyException.class,
                () -> CheckpointJournal.open(root, KEY, true));
            assertTrue(Files.exists(partial), "the running transfer's partial file is untouched");
        }
        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, false))
        {
            assertNotNull(journal.find("x.bin"), "and so is its journal");
        }
    }

    @Test
    void shouldStartAFreshJournalOverOneWithoutMagic() throws IOException
    {
        final Path file = Files.createDirectories(root.resolve(CheckpointJournal.STATE_DIRECTORY).resolve(KEY))
            .resolve("journal");
        Files.write(file, new byte[] {'X', 'F'});
        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, false))
        {
            journal.chunk(journal.beginFile("f", 1024, 1, 1024), 0, 5);
            journal.commit();
        }
        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, false))
        {
            assertEquals(5, journal.find("f").chunk(0), "records after the rewritten magic are kept");
        }
    }

    @Test
    void shouldDeleteLeftoverPartialFilesWithTheJournal() throws IOException
    {
        final Path partial = CheckpointJournal.partialPath(root.resolve("gone.bin"), KEY, "gone.bin");
        Files.write(partial, new byte[10]);
        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, false))
        {
            journal.beginFile("gone.bin", 10, 1, 1024);
            journal.commit();
        }
        final CheckpointJournal journal = CheckpointJournal.open(root, KEY, false);
        journal.delete();
        assertFalse(Files.exists(partial), "a partial file no run will finish goes with the journal");
        assertFalse(Files.exists(root.resolve(CheckpointJournal.STATE_DIRECTORY).resolve(KEY)));
    }

    @Test
    void shouldExpireUnusedJournalsWithTheirPartialFiles() throws IOException
    {
        final Path target = root.resolve("old.bin");
        final Path partial = CheckpointJournal.partialPath(target, KEY, "old.bin");
        Files.write(partial, new byte[10]);
        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, false))
        {
            journal.beginFile("old.bin", 10, 1, 1024);
            journal.commit();
        }
        final Path directory = root.resolve(CheckpointJournal.STATE_DIRECTORY).resolve(KEY);
        assertEquals(0, CheckpointJournal.expire(root, 60_000), "fresh journals stay");
        Files.setLastModifiedTime(directory, FileTime.fromMillis(System.currentTimeMillis() - 3_600_000));
        assertEquals(1, CheckpointJournal.expire(root, 60_000));
        assertFalse(Files.exists(directory));
        assertFalse(Files.exists(partial));
    }

    @Test
    void shouldExpireAndRestartWithTheStagesTheJournalNamed() throws IOException
    {
        final String stagePath = "in/" + CheckpointJournal.STAGE_PREFIX + "0123456789abcdef";
        final Path stage = Files.createDirectories(root.resolve(stagePath).resolve("tree/sub"));
        Files.write(stage.resolve("staged.bin"), new byte[100]);
        Files.createSymbolicLink(stage.resolve("link"), root.resolve("keep.txt"));
        final Path keep = Files.writeString(root.resolve("keep.txt"), "outside the stage");
        final Path outside = Files.createDirectories(root.resolve("in/../../outside-" + root.getFileName() + "-" +
            CheckpointJournal.STAGE_PREFIX + "x").normalize());
        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, false))
        {
            journal.stage(stagePath);
            journal.stage(stagePath);
            // damaged or forged records: neither outside the root nor a directory that is not a stage goes
            journal.stage("in/../../" + outside.getFileName());
            journal.stage("in");
            journal.commit();
        }
        final Path directory = root.resolve(CheckpointJournal.STATE_DIRECTORY).resolve(KEY);
        assertEquals(0, CheckpointJournal.expire(root, 60_000), "fresh journals stay, with their stages");
        assertTrue(Files.exists(stage.resolve("staged.bin")));

        Files.setLastModifiedTime(directory, FileTime.fromMillis(System.currentTimeMillis() - 3_600_000));
        assertEquals(1, CheckpointJournal.expire(root, 60_000));
        assertFalse(Files.exists(root.resolve(stagePath)), "the stage went with its expired journal");
        assertTrue(Files.exists(root.resolve("in")), "the destination itself stays");
        assertEquals("outside the stage", Files.readString(keep), "a symlink in the stage is not followed");
        assertTrue(Files.exists(outside), "a record pointing outside the root is ignored");
        Files.delete(outside);

        Files.createDirectories(root.resolve(stagePath));
        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, false))
        {
            journal.stage(stagePath);
            journal.commit();
        }
        try (CheckpointJournal journal = CheckpointJournal.open(root, KEY, true))
        {
            assertFalse(Files.exists(root.resolve(stagePath)), "a restart discards the stage too");
        }
    }

    @Test
    void shouldReserveStateNames()
    {
        assertTrue(CheckpointJournal.isReservedName(".xfer-state"));
        assertTrue(CheckpointJournal.isReservedName(".xfer-0123-abcd.part"));
        assertFalse(CheckpointJournal.isReservedName("xfer-state"));
        assertFalse(CheckpointJournal.isReservedName(".xfer-notes.txt"));
    }
}
