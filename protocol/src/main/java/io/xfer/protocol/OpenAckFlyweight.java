package io.xfer.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * OPEN_ACK: the agent accepted an OPEN. A refused OPEN is answered with an ERROR frame instead.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                    Frame Header (type 4)                      |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                    Transfer Id (64 bits)                      |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                  Chunk Length (granted)                       |
 *  +---------------------------------------------------------------+
 *  |                         Reserved                              |
 *  +---------------------------------------------------------------+
 * </pre>
 */
public final class OpenAckFlyweight extends Flyweight
{
    public static final int TRANSFER_ID_OFFSET = HEADER_LENGTH;
    public static final int CHUNK_LENGTH_OFFSET = TRANSFER_ID_OFFSET + Long.BYTES;
    public static final int RESERVED_OFFSET = CHUNK_LENGTH_OFFSET + Integer.BYTES;
    public static final int LENGTH = RESERVED_OFFSET + Integer.BYTES;

    public long transferId()
    {
        return buffer.getLong(offset + TRANSFER_ID_OFFSET);
    }

    public int chunkLength()
    {
        return buffer.getInt(offset + CHUNK_LENGTH_OFFSET);
    }

    @Override
    public void validate()
    {
        checkEnd(LENGTH);
    }

    public static ByteBuf encode(final ByteBufAllocator allocator, final long transferId, final int chunkLength)
    {
        final ByteBuf buf = allocator.buffer(LENGTH);
        final OpenAckFlyweight ack = new OpenAckFlyweight();
        ack.wrap(buf, 0);
        ack.header(LENGTH, FrameType.OPEN_ACK, 0);
        buf.setLong(TRANSFER_ID_OFFSET, transferId);
        buf.setInt(CHUNK_LENGTH_OFFSET, chunkLength);
        buf.setInt(RESERVED_OFFSET, 0);
        return buf.writerIndex(LENGTH);
    }
}
