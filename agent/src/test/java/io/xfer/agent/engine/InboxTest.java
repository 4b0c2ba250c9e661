package io.xfer.agent.engine;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.xfer.protocol.DataFlyweight;
import io.xfer.protocol.ErrorCode;
import io.xfer.protocol.ErrorFlyweight;
import io.xfer.protocol.FrameType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The inbox's bound, from the producers' side: reading pauses at the mark, every connection may still deliver the
 * rest of a read of the smallest DATA frames a correct peer sends, the role's own posts always find room, and only
 * beyond all that is the offering connection failed.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class InboxTest
{
    @Test
    void shouldTakeTheRestOfAReadFromEveryConnectionAfterThePauseAndKeepRoomForPosts() throws Exception
    {
        final int connections = 5;
        final Inbox inbox = new Inbox(Long.MAX_VALUE, connections);
        final List<EmbeddedChannel> channels = new ArrayList<>();
        final List<FrameConnection> sources = new ArrayList<>();
        for (int i = 0; i < connections; i++)
        {
            final EmbeddedChannel channel = new EmbeddedChannel();
            channels.add(channel);
            sources.add(new FrameConnection(channel, inbox, i == 0));
        }

        // up to the mark: nothing paused
        for (int i = 0; i <= Inbox.COUNT_HIGH_MARK; i++)
        {
            inbox.offer(sources.get(0), smallestData());
        }
        assertTrue(channels.get(1).config().isAutoRead());
        // past it each connection pauses at its first frame and delivers the rest of its read
        for (final FrameConnection source : sources)
        {
            for (int i = 0; i < Inbox.FRAMES_PER_READ; i++)
            {
                inbox.offer(source, smallestData());
            }
            assertFalse(source.channel().config().isAutoRead(), "paused");
        }
        for (final EmbeddedChannel channel : channels)
        {
            assertNull(channel.readOutbound(), "no connection failed");
            assertTrue(channel.isOpen());
        }
        // the role's own posts (commit results, lost chunks, closes) still go in, without waiting
        for (int i = 0; i < Inbox.POST_RESERVE / 2; i++)
        {
            inbox.post("posted " + i);
        }

        // a peer that goes on sending after the pause (or floods smaller frames) fills what is left, and is failed
        final FrameConnection flooding = sources.get(connections - 1);
        final EmbeddedChannel flooded = channels.get(connections - 1);
        for (int i = 0; i < inbox.capacity() && flooded.outboundMessages().isEmpty(); i++)
        {
            inbox.offer(flooding, smallestData());
        }
        final ByteBuf error = flooded.readOutbound();
        assertEquals(FrameType.ERROR, error.getUnsignedByte(5));
        final ErrorFlyweight flyweight = new ErrorFlyweight();
        flyweight.wrap(error, 0);
        assertEquals(ErrorCode.LIMIT_EXCEEDED, ErrorCode.get(flyweight.code()));
        error.release();
        // posts still find room
        for (int i = 0; i < Inbox.POST_RESERVE / 4; i++)
        {
            inbox.post("after " + i);
        }

        inbox.drain();
        for (final EmbeddedChannel channel : channels)
        {
            channel.finishAndReleaseAll();
        }
    }

    @Test
    void shouldHandEachFrameWithItsSourceAndReuseTheHolderOnceTheNextPollCame() throws Exception
    {
        final Inbox inbox = new Inbox(Long.MAX_VALUE, 2);
        final EmbeddedChannel first = new EmbeddedChannel();
        final EmbeddedChannel second = new EmbeddedChannel();
        final FrameConnection a = new FrameConnection(first, inbox, true);
        final FrameConnection b = new FrameConnection(second, inbox, false);
        final ByteBuf one = smallestData();
        final ByteBuf two = smallestData();
        inbox.offer(a, one);
        inbox.offer(b, two);

        final Inbox.Inbound firstPolled = (Inbox.Inbound)inbox.poll(0);
        assertSame(a, firstPolled.source());
        assertSame(one, firstPolled.frame());
        // the holder stays as it is until the next poll
        inbox.post("posted");
        assertSame(one, firstPolled.frame());
        final Inbox.Inbound secondPolled = (Inbox.Inbound)inbox.poll(0);
        assertNotSame(firstPolled, secondPolled);
        assertSame(b, secondPolled.source());
        assertSame(two, secondPolled.frame());
        // that poll let the first holder go (no frame kept alive by it), and an offer takes it again
        assertNull(firstPolled.frame());
        assertNull(firstPolled.source());
        final ByteBuf three = smallestData();
        inbox.offer(b, three);
        assertEquals("posted", inbox.poll(0));
        final Inbox.Inbound thirdPolled = (Inbox.Inbound)inbox.poll(0);
        assertSame(firstPolled, thirdPolled);
        assertSame(b, thirdPolled.source());
        assertSame(three, thirdPolled.frame());
        assertNull(inbox.poll(0));

        one.release();
        two.release();
        three.release();
        first.finishAndReleaseAll();
        second.finishAndReleaseAll();
    }

    @Test
    void shouldStayPausedWhenPausedAgainBeforeTheResumeRuns() throws Exception
    {
        // the role drains below the low mark and queues a resume on the channel's event loop; before that runs,
        // the event loop offers enough to pass the mark again and pauses the channel: the late resume must not
        // undo that pause, or the channel reads on while listed as paused and cannot be paused again
        final Inbox inbox = new Inbox(Long.MAX_VALUE, 1);
        final EmbeddedChannel channel = new EmbeddedChannel();
        final FrameConnection source = new FrameConnection(channel, inbox, true);
        for (int i = 0; i <= Inbox.COUNT_HIGH_MARK; i++)
        {
            inbox.offer(source, smallestData());
        }
        assertFalse(channel.config().isAutoRead(), "paused above the mark");
        while (inbox.size() >= Inbox.COUNT_HIGH_MARK / 2)
        {
            ((Inbox.Inbound)inbox.poll(0)).frame().release();
        }
        // the resume is queued on the event loop, not run yet
        assertFalse(channel.config().isAutoRead());
        for (int i = 0; i <= Inbox.COUNT_HIGH_MARK; i++)
        {
            inbox.offer(source, smallestData());
        }
        channel.runPendingTasks();
        assertFalse(channel.config().isAutoRead(), "still paused: the queue is above the mark");

        // draining below the low mark resumes it
        Object message;
        while ((message = inbox.poll(0)) != null)
        {
            ((Inbox.Inbound)message).frame().release();
        }
        channel.runPendingTasks();
        assertTrue(channel.config().isAutoRead(), "resumed below the low mark");
        inbox.drain();
        channel.finishAndReleaseAll();
    }

    @Test
    void shouldSizeItsQueueByConnections()
    {
        assertEquals(1 << 15, new Inbox(1 << 20, 2).capacity());
        assertTrue(new Inbox(1 << 20, 17).capacity() >= Inbox.COUNT_HIGH_MARK + 17 * Inbox.FRAMES_PER_READ +
            Inbox.POST_RESERVE);
    }

    /** A DATA frame whose 4 KiB chunk compressed to 16 bytes: the smallest a correct peer sends in bulk. */
    private static ByteBuf smallestData()
    {
        return Unpooled.buffer(DataFlyweight.HEADER_LENGTH + 16).writeZero(DataFlyweight.HEADER_LENGTH + 16);
    }
}
