package io.xfer.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * OPEN_ACK: the agent accepted an OPEN. It grants the chunk length, the number of streams (the control connection
 * plus Streams - 1 data connections that join with HELLO kind DATA and the session id), and the window: the most
 * unacknowledged DATA payload bytes a sender may have outstanding on one stream. A refused OPEN is answered with an
 * ERROR frame instead.
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
 *  |                    Streams (granted)                          |
 *  +---------------------------------------------------------------+
 *  |               Window per Stream (bytes, 64 bits)              |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 * </pre>
 */
public final class OpenAckFlyweight extends Flyweight
{
    public static final int TRANSFER_ID_OFFSET = HEADER_LENGTH;
    public static final int CHUNK_LENGTH_OFFSET = TRANSFER_ID_OFFSET + Long.BYTES;
    public static final int STREAMS_OFFSET = CHUNK_LENGTH_OFFSET + Integer.BYTES;
    public static final int WINDOW_OFFSET = STREAMS_OFFSET + Integer.BYTES;
    public static final int LENGTH = WINDOW_OFFSET + Long.BYTES;

    public long transferId()
    {
        return buffer.getLong(offset + TRANSFER_ID_OFFSET);
    }

    public int chunkLength()
    {
        return buffer.getInt(offset + CHUNK_LENGTH_OFFSET);
    }

    public int streams()
    {
        return buffer.getInt(offset + STREAMS_OFFSET);
    }

    public long windowBytes()
    {
        return buffer.getLong(offset + WINDOW_OFFSET);
    }

    @Override
    public void validate()
    {
        checkEnd(LENGTH);
        if (streams() < 1 || windowBytes() < 1 || chunkLength() < 1)
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "OPEN_ACK: streams " + streams() + ", window " +
                windowBytes() + " and chunk length " + chunkLength() + " must be positive");
        }
    }

    public static ByteBuf encode(
        final ByteBufAllocator allocator,
        final long transferId,
        final int chunkLength,
        final int streams,
        final long windowBytes)
    {
        final ByteBuf buf = allocator.buffer(LENGTH);
        final OpenAckFlyweight ack = new OpenAckFlyweight();
        ack.wrap(buf, 0);
        ack.header(LENGTH, FrameType.OPEN_ACK, 0);
        buf.setLong(TRANSFER_ID_OFFSET, transferId);
        buf.setInt(CHUNK_LENGTH_OFFSET, chunkLength);
        buf.setInt(STREAMS_OFFSET, streams);
        buf.setLong(WINDOW_OFFSET, windowBytes);
        return buf.writerIndex(LENGTH);
    }
}
