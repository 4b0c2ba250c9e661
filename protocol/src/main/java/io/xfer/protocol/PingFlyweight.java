package io.xfer.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * PING and PONG share one layout: a PONG echoes the nonce and timestamp of the PING it answers, so the pinging
 * side measures the round trip on its own clock. Either side may ping at any time after the handshake.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                 Frame Header (type 12 or 13)                  |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                        Nonce (64 bits)                        |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |              Sender Timestamp (ns, 64 bits)                   |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 * </pre>
 */
public final class PingFlyweight extends Flyweight
{
    public static final int NONCE_OFFSET = HEADER_LENGTH;
    public static final int TIMESTAMP_OFFSET = NONCE_OFFSET + Long.BYTES;
    public static final int LENGTH = TIMESTAMP_OFFSET + Long.BYTES;

    public long nonce()
    {
        return buffer.getLong(offset + NONCE_OFFSET);
    }

    public long timestampNs()
    {
        return buffer.getLong(offset + TIMESTAMP_OFFSET);
    }

    @Override
    public void validate()
    {
        checkEnd(LENGTH);
    }

    public static ByteBuf encode(
        final ByteBufAllocator allocator, final int type, final long nonce, final long timestampNs)
    {
        if (type != FrameType.PING && type != FrameType.PONG)
        {
            throw new IllegalArgumentException("not PING or PONG: " + type);
        }
        final ByteBuf buf = allocator.buffer(LENGTH);
        final PingFlyweight ping = new PingFlyweight();
        ping.wrap(buf, 0);
        ping.header(LENGTH, type, 0);
        buf.setLong(NONCE_OFFSET, nonce);
        buf.setLong(TIMESTAMP_OFFSET, timestampNs);
        return buf.writerIndex(LENGTH);
    }
}
