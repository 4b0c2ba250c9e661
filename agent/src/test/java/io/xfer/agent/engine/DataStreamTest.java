package io.xfer.agent.engine;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.embedded.EmbeddedChannel;
import io.xfer.protocol.ChunkAckFlyweight;
import io.xfer.protocol.DataFlyweight;
import io.xfer.protocol.FrameType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One stream of a sending transfer on a channel of its own: what it writes (header and payload as one buffer where
 * the payload has headroom), its window, the budget it returns as the channel writes chunks out, acknowledgements
 * (a copy sent again needs its own), recycling, and what it hands back when the channel closes.
 */
class DataStreamTest
{
    private static final int CHUNK = 64 * 1024;

    private final EmbeddedChannel channel = withWriteBuffer(new EmbeddedChannel());
    private final ChunkScheduler scheduler = new ChunkScheduler(8L * CHUNK);
    private final Chunk.Pool pool = new Chunk.Pool();
    private final List<Chunk> lost = new ArrayList<>();
    private final OutgoingFile file = new OutgoingFile(7, null, null, 0);
    private final DataStream stream = new DataStream(new FrameConnection(channel, null, false), scheduler,
        2L * CHUNK, new LatencyRecorder(), lost::addAll);

    /** The agent's and the client's write buffer, not Netty's 64 KiB default: one chunk must not fill it. */
    private static EmbeddedChannel withWriteBuffer(final EmbeddedChannel channel)
    {
        channel.config().setWriteBufferWaterMark(new WriteBufferWaterMark(4 << 20, 8 << 20));
        return channel;
    }

    @AfterEach
    void close()
    {
        channel.finishAndReleaseAll();
    }

    /** What the reader does: take budget, read the chunk into a buffer with headroom, offer it. */
    private Chunk offer(final long offset) throws InterruptedException
    {
        assertTrue(scheduler.acquire(Chunk.charge(CHUNK), 0), "budget for the chunk at " + offset);
        final ByteBuf payload = ByteBufAllocator.DEFAULT.directBuffer(Chunk.HEADROOM + CHUNK);
        payload.setIndex(Chunk.HEADROOM, Chunk.HEADROOM);
        for (int i = 0; i < CHUNK; i++)
        {
            payload.writeByte((int)(offset / CHUNK + i));
        }
        final Chunk chunk = pool.ofBuffer(file, offset, CHUNK, (int)offset, 0, payload);
        scheduler.offer(chunk);
        return chunk;
    }

    private void ack(final long offset)
    {
        final ByteBuf frame = ChunkAckFlyweight.encode(ByteBufAllocator.DEFAULT, file.fileId, offset, CHUNK);
        final ChunkAckFlyweight flyweight = new ChunkAckFlyweight();
        flyweight.wrap(frame, 0);
        stream.onChunkAck(flyweight);
        frame.release();
        channel.runPendingTasks();
    }

    /** The DATA frames written so far, as file offsets; each was one buffer, header first. */
    private List<Long> written()
    {
        final List<Long> offsets = new ArrayList<>();
        ByteBuf frame;
        while ((frame = channel.readOutbound()) != null)
        {
            final DataFlyweight data = new DataFlyweight();
            data.wrap(frame, frame.readerIndex());
            assertEquals(FrameType.DATA, data.type());
            assertEquals(DataFlyweight.HEADER_LENGTH + CHUNK, frame.readableBytes(), "header and payload together");
            assertEquals(file.fileId, data.fileId());
            assertEquals(CHUNK, data.rawLength());
            assertEquals((int)data.fileOffset(), data.checksum());
            assertEquals((byte)(data.fileOffset() / CHUNK + 5), frame.getByte(data.payloadOffset() + 5));
            offsets.add(data.fileOffset());
            frame.release();
        }
        return offsets;
    }

    private boolean budgetAllFree() throws InterruptedException
    {
        if (scheduler.acquire(8 * CHUNK, 0))
        {
            scheduler.release(8L * CHUNK);
            return true;
        }
        return false;
    }

    @Test
    void writesUpToItsWindowAndMoreAsAcknowledgementsArrive() throws Exception
    {
        scheduler.addStream(stream);
        for (int i = 0; i < 5; i++)
        {
            offer((long)i * CHUNK);
        }
        channel.runPendingTasks();
        assertEquals(List.of(0L, (long)CHUNK), written(), "a window of two chunks");

        ack(0);
        assertEquals(List.of(2L * CHUNK), written());
        ack(CHUNK);
        ack(2L * CHUNK);
        assertEquals(List.of(3L * CHUNK, 4L * CHUNK), written());
        ack(3L * CHUNK);
        ack(4L * CHUNK);
        assertTrue(budgetAllFree(), "every chunk written out and acknowledged: all budget is back");
        assertEquals(5, pool.size(), "every descriptor was recycled");
        assertTrue(lost.isEmpty());
    }

    @Test
    void theBudgetOfChunksTheChannelWroteOutComesBackWithoutAnAcknowledgement() throws Exception
    {
        scheduler.addStream(stream);
        offer(0);
        offer(CHUNK);
        channel.runPendingTasks();
        assertEquals(2, written().size());
        assertFalse(budgetAllFree(), "held until a pump sees the channel empty");

        // no acknowledgement comes: the reader, short of budget, asks the streams to drain
        scheduler.nudgeStreams();
        channel.runPendingTasks();
        assertTrue(budgetAllFree());
        assertEquals(0, pool.size(), "still unacknowledged: not recycled");
    }

    @Test
    void aCopySentAgainIsHandedBackIfTheStreamDiesAfterTheFirstCopysAcknowledgement() throws Exception
    {
        scheduler.addStream(stream);
        final Chunk first = offer(0);
        channel.runPendingTasks();
        assertEquals(List.of(0L), written());
        // RESEND: the same chunk again on this stream, before the first copy's acknowledgement
        final Chunk copy = offer(0);
        channel.runPendingTasks();
        assertEquals(List.of(0L), written());
        assertNotSame(first, copy);
        assertEquals(1, pool.size(), "the copy took the first's place in the table: the first was recycled");

        ack(0);
        assertEquals(1, pool.size(), "one acknowledgement of two: the copy stays in the table");
        stream.onClosed();
        assertEquals(1, lost.size(), "the copy's acknowledgement was still due: it is handed back");
        assertSame(copy, lost.get(0));
        assertTrue(budgetAllFree(), "a closed stream returns the budget it held");
        ack(0);
        assertEquals(1, pool.size(), "a lost descriptor is never recycled");
        assertNull(lost.get(0).payload, "its payload was written");
    }
}
