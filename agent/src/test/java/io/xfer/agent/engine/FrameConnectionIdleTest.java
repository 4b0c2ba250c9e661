package io.xfer.agent.engine;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.timeout.IdleStateEvent;
import io.xfer.protocol.ErrorCode;
import io.xfer.protocol.ErrorFlyweight;
import io.xfer.protocol.Flyweight;
import io.xfer.protocol.FrameType;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The idle timeout watches reads. A connection this side has paused (its inbox full while its role thread is busy,
 * for example committing a large file) must not be failed for the silence that pause causes; an unpaused one that
 * hears nothing is failed with TIMEOUT.
 */
class FrameConnectionIdleTest
{
    @Test
    void aPausedConnectionOutlivesItsIdleEventsAndAnUnpausedOneTimesOut()
    {
        final EmbeddedChannel channel = new EmbeddedChannel();
        final FrameConnection connection = new FrameConnection(channel, new Inbox(1 << 20, 2), true);
        channel.pipeline().addLast(connection);

        channel.config().setAutoRead(false);
        channel.pipeline().fireUserEventTriggered(IdleStateEvent.READER_IDLE_STATE_EVENT);
        channel.pipeline().fireUserEventTriggered(IdleStateEvent.READER_IDLE_STATE_EVENT);
        assertNull(channel.readOutbound(), "nothing sent while this side is the one not reading");
        assertTrue(channel.isOpen());

        channel.config().setAutoRead(true);
        channel.pipeline().fireUserEventTriggered(IdleStateEvent.READER_IDLE_STATE_EVENT);
        final ByteBuf frame = channel.readOutbound();
        assertNotNull(frame, "an ERROR frame");
        try
        {
            assertEquals(FrameType.ERROR, frame.getUnsignedByte(Flyweight.TYPE_OFFSET));
            assertEquals(ErrorCode.TIMEOUT.code(), frame.getInt(ErrorFlyweight.CODE_OFFSET));
        }
        finally
        {
            frame.release();
        }
        channel.finishAndReleaseAll();
    }
}
