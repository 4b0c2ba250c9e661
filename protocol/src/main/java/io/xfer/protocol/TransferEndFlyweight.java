package io.xfer.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * TRANSFER_END: the sender has sent its last manifest entry and the data of every file the receiver asked for.
 * The counts let the receiver check that it saw the whole manifest.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                    Frame Header (type 9)                      |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                 Manifest Entry Count (64 bits)                |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                  Payload Bytes Sent (64 bits)                 |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 * </pre>
 */
public final class TransferEndFlyweight extends Flyweight
{
    public static final int ENTRY_COUNT_OFFSET = HEADER_LENGTH;
    public static final int BYTES_SENT_OFFSET = ENTRY_COUNT_OFFSET + Long.BYTES;
    public static final int LENGTH = BYTES_SENT_OFFSET + Long.BYTES;

    public long entryCount()
    {
        return buffer.getLong(offset + ENTRY_COUNT_OFFSET);
    }

    public long bytesSent()
    {
        return buffer.getLong(offset + BYTES_SENT_OFFSET);
    }

    @Override
    public void validate()
    {
        checkEnd(LENGTH);
    }

    public static ByteBuf encode(final ByteBufAllocator allocator, final long entryCount, final long bytesSent)
    {
        final ByteBuf buf = allocator.buffer(LENGTH);
        final TransferEndFlyweight end = new TransferEndFlyweight();
        end.wrap(buf, 0);
        end.header(LENGTH, FrameType.TRANSFER_END, 0);
        buf.setLong(ENTRY_COUNT_OFFSET, entryCount);
        buf.setLong(BYTES_SENT_OFFSET, bytesSent);
        return buf.writerIndex(LENGTH);
    }
}
