package io.xfer.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * TRANSFER_DONE: the receiver's final answer to TRANSFER_END, after every file is committed or failed and
 * directory metadata is applied. Status 0 means every entry is committed or skipped; otherwise it is the
 * {@link ErrorCode} of the first failure.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                    Frame Header (type 10)                     |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                           Status                              |
 *  +---------------------------------------------------------------+
 *  |                          Reserved                             |
 *  +---------------------------------------------------------------+
 *  |                   Entries Committed (64 bits)                 |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                   Entries Skipped (64 bits)                   |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |               Entries Failed or Refused (64 bits)             |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                   Bytes Written (64 bits)                     |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 * </pre>
 */
public final class TransferDoneFlyweight extends Flyweight
{
    public static final int STATUS_OFFSET = HEADER_LENGTH;
    public static final int RESERVED_OFFSET = STATUS_OFFSET + Integer.BYTES;
    public static final int COMMITTED_OFFSET = RESERVED_OFFSET + Integer.BYTES;
    public static final int SKIPPED_OFFSET = COMMITTED_OFFSET + Long.BYTES;
    public static final int FAILED_OFFSET = SKIPPED_OFFSET + Long.BYTES;
    public static final int BYTES_WRITTEN_OFFSET = FAILED_OFFSET + Long.BYTES;
    public static final int LENGTH = BYTES_WRITTEN_OFFSET + Long.BYTES;

    public int status()
    {
        return buffer.getInt(offset + STATUS_OFFSET);
    }

    public long committed()
    {
        return buffer.getLong(offset + COMMITTED_OFFSET);
    }

    public long skipped()
    {
        return buffer.getLong(offset + SKIPPED_OFFSET);
    }

    public long failed()
    {
        return buffer.getLong(offset + FAILED_OFFSET);
    }

    public long bytesWritten()
    {
        return buffer.getLong(offset + BYTES_WRITTEN_OFFSET);
    }

    @Override
    public void validate()
    {
        checkEnd(LENGTH);
    }

    public static ByteBuf encode(
        final ByteBufAllocator allocator,
        final int status,
        final long committed,
        final long skipped,
        final long failed,
        final long bytesWritten)
    {
        final ByteBuf buf = allocator.buffer(LENGTH);
        final TransferDoneFlyweight done = new TransferDoneFlyweight();
        done.wrap(buf, 0);
        done.header(LENGTH, FrameType.TRANSFER_DONE, 0);
        buf.setInt(STATUS_OFFSET, status);
        buf.setInt(RESERVED_OFFSET, 0);
        buf.setLong(COMMITTED_OFFSET, committed);
        buf.setLong(SKIPPED_OFFSET, skipped);
        buf.setLong(FAILED_OFFSET, failed);
        buf.setLong(BYTES_WRITTEN_OFFSET, bytesWritten);
        return buf.writerIndex(LENGTH);
    }
}
