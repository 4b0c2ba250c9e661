package io.xfer.agent.engine;

import org.junit.jupiter.api.Test;

import java.util.ArrayDeque;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A stream's budget comes back as its channel writes the chunks out, never before: against a simulated outbound
 * buffer that holds whole chunks, record overhead and other frames, in any drain pattern.
 */
class ChannelDrainTest
{
    @Test
    void aChunksChargeReturnsOnlyOnceTheChannelNoLongerHoldsIt()
    {
        final ChannelDrain drain = new ChannelDrain();
        drain.handed(1000, 4096);
        drain.handed(2000, 8192);
        drain.handed(500, 4096);
        assertEquals(0, drain.drained(3500), "all still held");
        assertEquals(0, drain.drained(2501), "one byte of the first chunk still held");
        assertEquals(4096, drain.drained(2500), "the first chunk is out");
        assertEquals(0, drain.drained(2400), "the second is partly out");
        assertEquals(8192 + 4096, drain.drained(0));
        assertEquals(0, drain.size());
        assertEquals(0, drain.drained(0), "nothing is returned twice");
    }

    @Test
    void overheadAndOtherFramesInTheChannelOnlyDelayTheReturn()
    {
        final ChannelDrain drain = new ChannelDrain();
        drain.handed(16_384, 16_384);
        // what the channel holds: the chunk as a TLS record with its overhead, and a frame of the role's
        assertEquals(0, drain.drained(16_384 + 22 + 40));
        assertEquals(0, drain.drained(40 + 1));
        assertEquals(16_384, drain.drained(0));
    }

    @Test
    void randomHandOffsAndDrainsNeverReturnMoreThanWasWrittenOrLoseAny()
    {
        final Random random = new Random(7);
        final ChannelDrain drain = new ChannelDrain();
        // the simulated channel: chunks in order, each with the bytes still unwritten
        final ArrayDeque<long[]> channel = new ArrayDeque<>();
        long charged = 0;
        long returned = 0;
        for (int step = 0; step < 200_000; step++)
        {
            if (random.nextInt(3) > 0 || channel.isEmpty())
            {
                final int bytes = 32 + random.nextInt(1 << 20);
                final int charge = Math.max(4096, bytes - 32);
                drain.handed(bytes, charge);
                channel.addLast(new long[] {bytes, charge});
                charged += charge;
            }
            else
            {
                // the socket takes some bytes off the front; a buffer counts whole until written out
                long take = 1 + random.nextInt(3 << 20);
                long stillHeldCharge = 0;
                while (take > 0 && !channel.isEmpty())
                {
                    final long[] head = channel.peekFirst();
                    final long written = Math.min(take, head[0]);
                    head[0] -= written;
                    take -= written;
                    if (head[0] == 0)
                    {
                        channel.removeFirst();
                    }
                }
                long pending = 0;
                for (final long[] chunk : channel)
                {
                    pending += chunk[0];
                    stillHeldCharge += chunk[1];
                }
                returned += drain.drained(pending);
                assertTrue(returned <= charged - stillHeldCharge, "returned the charge of a chunk still held");
                assertEquals(charged - stillHeldCharge, returned, "a chunk written out is returned at once");
            }
        }
        returned += drain.drainAll();
        assertEquals(charged, returned, "every charge comes back exactly once");
        assertEquals(0, drain.size());
    }
}
