package io.xfer.agent.engine;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The whole-file digest is SHA-256 over the chunks' CRC32C values in offset order, whatever order the chunks
 * arrive in over several streams, and a chunk added twice counts once.
 */
class ChunkDigestTest
{
    @Test
    void chunksInAnyOrderGiveTheDigestOfTheirCrcsInOffsetOrder() throws Exception
    {
        final Random random = new Random(42);
        final int chunks = 5000;
        final int[] crcs = new int[chunks];
        final MessageDigest expected = MessageDigest.getInstance("SHA-256");
        for (int i = 0; i < chunks; i++)
        {
            // every bit pattern, the all-ones value (-1) included
            crcs[i] = i % 97 == 0 ? -1 : random.nextInt();
            expected.update(ByteBuffer.allocate(4).putInt(crcs[i]).array());
        }
        // the arrival order of several streams: shuffled within windows of 64 chunks, and a few chunks very late
        final List<Integer> order = new ArrayList<>();
        for (int from = 0; from < chunks; from += 64)
        {
            final List<Integer> window = new ArrayList<>();
            for (int i = from; i < Math.min(chunks, from + 64); i++)
            {
                window.add(i);
            }
            Collections.shuffle(window, random);
            order.addAll(window);
        }
        for (int late = 0; late < 5; late++)
        {
            order.add(order.remove(random.nextInt(chunks / 2)));
        }

        final ChunkDigest digest = new ChunkDigest();
        for (final int index : order)
        {
            assertTrue(digest.add(index, crcs[index]), "first time for chunk " + index);
            assertFalse(digest.add(index, crcs[index]), "again for chunk " + index);
        }
        assertEquals(chunks, digest.contiguousChunks());
        assertArrayEquals(expected.digest(), digest.finish());
    }

    @Test
    void theContiguousPrefixWaitsForTheGap()
    {
        final ChunkDigest digest = new ChunkDigest();
        assertTrue(digest.add(1, 0x11));
        assertTrue(digest.add(2, -1));
        assertEquals(0, digest.contiguousChunks(), "chunk 0 is missing");
        assertTrue(digest.add(0, 0));
        assertEquals(3, digest.contiguousChunks());
        assertFalse(digest.add(2, -1), "already in the digest");
    }
}
