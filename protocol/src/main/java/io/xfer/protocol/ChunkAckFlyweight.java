package io.xfer.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * CHUNK_ACK: the receiver verified and wrote one chunk. Sent on the connection the DATA frame arrived on, so it
 * returns that stream's credit: a sender keeps at most the window granted in OPEN_ACK unacknowledged per stream.
 * Also lets the sender measure each chunk's round trip and re-send the unacknowledged chunks of a stream that died.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                    Frame Header (type 14)                     |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                          File Id                              |
 *  +---------------------------------------------------------------+
 *  |                         Raw Length                            |
 *  +---------------------------------------------------------------+
 *  |                    File Offset (64 bits)                      |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 * </pre>
 */
public final class ChunkAckFlyweight extends Flyweight
{
    public static final int FILE_ID_OFFSET = HEADER_LENGTH;
    public static final int RAW_LENGTH_OFFSET = FILE_ID_OFFSET + Integer.BYTES;
    public static final int FILE_OFFSET_OFFSET = RAW_LENGTH_OFFSET + Integer.BYTES;
    public static final int LENGTH = FILE_OFFSET_OFFSET + Long.BYTES;

    public int fileId()
    {
        return buffer.getInt(offset + FILE_ID_OFFSET);
    }

    public int rawLength()
    {
        return buffer.getInt(offset + RAW_LENGTH_OFFSET);
    }

    public long fileOffset()
    {
        return buffer.getLong(offset + FILE_OFFSET_OFFSET);
    }

    @Override
    public void validate()
    {
        checkEnd(LENGTH);
        if (fileId() < 0 || rawLength() < 0 || fileOffset() < 0)
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "CHUNK_ACK: negative field: fileId=" + fileId() +
                " rawLength=" + rawLength() + " offset=" + fileOffset());
        }
    }

    public static ByteBuf encode(
        final ByteBufAllocator allocator, final int fileId, final long fileOffset, final int rawLength)
    {
        final ByteBuf buf = allocator.buffer(LENGTH);
        writeHeader(buf, 0, LENGTH, FrameType.CHUNK_ACK, 0);
        buf.setInt(FILE_ID_OFFSET, fileId);
        buf.setInt(RAW_LENGTH_OFFSET, rawLength);
        buf.setLong(FILE_OFFSET_OFFSET, fileOffset);
        return buf.writerIndex(LENGTH);
    }
}
