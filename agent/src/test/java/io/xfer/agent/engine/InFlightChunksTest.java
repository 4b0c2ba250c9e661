package io.xfer.agent.engine;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

/**
 * The stream's table of unacknowledged chunks against a {@code HashMap} reference, under the key patterns a sender
 * produces (one big file's chunks at multiples of the chunk length, thousands of small files at offset 0, copies
 * sent again), and the recycling of chunk descriptors.
 */
class InFlightChunksTest
{
    private static final int CHUNK = 1 << 20;

    private final Map<Integer, OutgoingFile> files = new HashMap<>();
    private final Chunk.Pool pool = new Chunk.Pool();

    private OutgoingFile file(final int fileId)
    {
        return files.computeIfAbsent(fileId, id -> new OutgoingFile(id, null, null, 0));
    }

    private Chunk chunk(final int fileId, final long offset)
    {
        return pool.ofRegion(file(fileId), offset, CHUNK, 0, null);
    }

    private record Key(int fileId, long offset)
    {
    }

    @Test
    void randomOperationsAgreeWithAHashMap()
    {
        final Random random = new Random(20261122L);
        for (int round = 0; round < 20; round++)
        {
            final InFlightChunks table = new InFlightChunks();
            final Map<Key, Chunk> reference = new HashMap<>();
            final int files = 1 + random.nextInt(round % 2 == 0 ? 3 : 5000);
            final int offsets = 1 + random.nextInt(round % 2 == 0 ? 4096 : 3);
            for (int op = 0; op < 20_000; op++)
            {
                final Key key = new Key(random.nextInt(files), (long)random.nextInt(offsets) * CHUNK);
                final int choice = random.nextInt(10);
                if (choice < 5)
                {
                    final Chunk chunk = chunk(key.fileId(), key.offset());
                    assertSame(reference.put(key, chunk), table.put(chunk), "put " + key);
                }
                else
                {
                    assertSame(reference.remove(key), table.remove(key.fileId(), key.offset()), "remove " + key);
                }
                assertEquals(reference.size(), table.size());
            }
            // every entry left is still found, and found exactly once
            for (final Map.Entry<Key, Chunk> entry : new ArrayList<>(reference.entrySet()))
            {
                assertSame(entry.getValue(), table.remove(entry.getKey().fileId(), entry.getKey().offset()));
                assertNull(table.remove(entry.getKey().fileId(), entry.getKey().offset()));
            }
            assertEquals(0, table.size());
        }
    }

    @Test
    void aWholeWindowOfOneFileGoesInAndComesOutInAckOrder()
    {
        final InFlightChunks table = new InFlightChunks();
        final List<Chunk> sent = new ArrayList<>();
        for (int i = 0; i < 10_000; i++)
        {
            final Chunk chunk = chunk(7, (long)i * CHUNK);
            assertNull(table.put(chunk));
            sent.add(chunk);
        }
        assertNull(table.remove(7, 10_000L * CHUNK), "never sent");
        assertNull(table.remove(8, 0), "other file");
        assertNull(table.remove(7, CHUNK + 1), "not a chunk offset");
        for (final Chunk chunk : sent)
        {
            assertSame(chunk, table.remove(7, chunk.offset));
        }
        assertEquals(0, table.size());
    }

    @Test
    void aCopySentAgainKeepsTheEntryUntilEveryCopysAcknowledgementHasArrived()
    {
        // as DataStream does: each write counts one acknowledgement due, a copy takes over the first's count
        final InFlightChunks table = new InFlightChunks();
        final Chunk first = chunk(4, 2L * CHUNK);
        first.acksDue = 1;
        assertNull(table.put(first));
        final Chunk copy = chunk(4, 2L * CHUNK);
        copy.acksDue = 1;
        final Chunk displaced = table.put(copy);
        assertSame(first, displaced);
        copy.acksDue += displaced.acksDue;

        assertNull(table.acknowledge(4, 2L * CHUNK), "one acknowledgement is still due");
        assertEquals(1, table.size(), "the copy is still tracked: a stream that dies now hands it back");
        assertSame(copy, table.acknowledge(4, 2L * CHUNK));
        assertEquals(0, table.size());
        assertNull(table.acknowledge(4, 2L * CHUNK), "nothing left");
    }

    @Test
    void removeAllHandsBackEveryChunkOnceAndEmptiesTheTable()
    {
        final InFlightChunks table = new InFlightChunks();
        final Set<Chunk> sent = new HashSet<>();
        for (int id = 0; id < 3000; id++)
        {
            final Chunk chunk = chunk(id, 0);
            table.put(chunk);
            sent.add(chunk);
        }
        final List<Chunk> all = table.removeAll();
        assertEquals(3000, all.size());
        assertEquals(sent, new HashSet<>(all));
        assertEquals(0, table.size());
        assertNull(table.remove(5, 0));
    }

    @Test
    void anAcknowledgedDescriptorIsReusedAndALostOneNever()
    {
        final Chunk acknowledged = chunk(1, 0);
        final Chunk lost = chunk(1, CHUNK);
        final ByteBuf payload = Unpooled.directBuffer(64);
        final Chunk buffered = pool.ofBuffer(file(2), 0, 64, 0x1234, 0, payload.writerIndex(64));
        assertEquals(64, buffered.wireLength);

        lost.lost();
        lost.acknowledged();
        assertEquals(0, pool.size(), "a lost chunk stays with the sender");

        acknowledged.acknowledged();
        assertEquals(1, pool.size());
        assertNull(acknowledged.file, "a recycled descriptor holds on to nothing");
        final Chunk reused = chunk(3, 5L * CHUNK);
        assertSame(acknowledged, reused);
        assertEquals(3, reused.file.fileId);
        assertEquals(5L * CHUNK, reused.offset);
        assertNotSame(lost, chunk(3, 6L * CHUNK), "the pool was empty: a new descriptor");

        buffered.release();
        assertEquals(0, payload.refCnt());
    }
}
