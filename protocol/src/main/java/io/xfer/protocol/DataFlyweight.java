package io.xfer.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * DATA: one chunk of a file. The payload follows the 32-byte header up to the frame length. The checksum is the
 * CRC32C of the uncompressed bytes; the receiver verifies it before writing anything. With
 * {@link #FLAG_LZ4} set in the frame header flags the payload is an LZ4 block that decompresses to exactly
 * Raw Length bytes; otherwise the payload length equals Raw Length.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                  Frame Header (type 7, flags)                 |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                          File Id                              |
 *  +---------------------------------------------------------------+
 *  |                         Raw Length                            |
 *  +---------------------------------------------------------------+
 *  |                    File Offset (64 bits)                      |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                   Checksum (CRC32C of raw)                    |
 *  +---------------------------------------------------------------+
 *  |                         Reserved                              |
 *  +---------------------------------------------------------------+
 *  |                        Payload ...                            |
 *  +---------------------------------------------------------------+
 * </pre>
 */
public final class DataFlyweight extends Flyweight
{
    public static final int FILE_ID_OFFSET = Flyweight.HEADER_LENGTH;
    public static final int RAW_LENGTH_OFFSET = FILE_ID_OFFSET + Integer.BYTES;
    public static final int FILE_OFFSET_OFFSET = RAW_LENGTH_OFFSET + Integer.BYTES;
    public static final int CHECKSUM_OFFSET = FILE_OFFSET_OFFSET + Long.BYTES;
    public static final int RESERVED_OFFSET = CHECKSUM_OFFSET + Integer.BYTES;
    /** Length of a DATA frame's header: the payload starts here. */
    public static final int HEADER_LENGTH = RESERVED_OFFSET + Integer.BYTES;

    /** The payload is an LZ4 block. */
    public static final int FLAG_LZ4 = 0x1;

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

    public int checksum()
    {
        return buffer.getInt(offset + CHECKSUM_OFFSET);
    }

    public int payloadLength()
    {
        return frameLength() - HEADER_LENGTH;
    }

    public int payloadOffset()
    {
        return offset + HEADER_LENGTH;
    }

    public boolean isCompressed()
    {
        return (flags() & FLAG_LZ4) != 0;
    }

    @Override
    public void validate()
    {
        if ((flags() & ~FLAG_LZ4) != 0)
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "DATA: unknown flags 0x" +
                Integer.toHexString(flags()));
        }
        if (fileId() < 0 || fileOffset() < 0 || rawLength() < 0)
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "DATA: negative field: fileId=" + fileId() +
                " offset=" + fileOffset() + " rawLength=" + rawLength());
        }
        if (!isCompressed() && rawLength() != payloadLength())
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "DATA: raw length " + rawLength() +
                " differs from payload length " + payloadLength() + " of an uncompressed chunk");
        }
        if (fileOffset() + rawLength() < 0)
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "DATA: offset " + fileOffset() + " + length " +
                rawLength() + " overflows");
        }
    }

    /**
     * Encode the 32-byte header of a DATA frame; the caller writes the payload buffer right after it.
     */
    public static ByteBuf encodeHeader(
        final ByteBufAllocator allocator,
        final int flags,
        final int fileId,
        final long fileOffset,
        final int rawLength,
        final int checksum,
        final int payloadLength)
    {
        final ByteBuf buf = allocator.buffer(HEADER_LENGTH);
        writeHeader(buf, 0, flags, fileId, fileOffset, rawLength, checksum, payloadLength);
        return buf.writerIndex(HEADER_LENGTH);
    }

    /**
     * Write the 32-byte header of a DATA frame at {@code index} of {@code buf}, for a payload that follows it
     * there: a sender that reads a chunk {@link #HEADER_LENGTH} bytes into its buffer sends header and payload as
     * one buffer. Neither index of {@code buf} moves.
     */
    public static void writeHeader(
        final ByteBuf buf,
        final int index,
        final int flags,
        final int fileId,
        final long fileOffset,
        final int rawLength,
        final int checksum,
        final int payloadLength)
    {
        Flyweight.writeHeader(buf, index, HEADER_LENGTH + payloadLength, FrameType.DATA, flags);
        buf.setInt(index + FILE_ID_OFFSET, fileId);
        buf.setInt(index + RAW_LENGTH_OFFSET, rawLength);
        buf.setLong(index + FILE_OFFSET_OFFSET, fileOffset);
        buf.setInt(index + CHECKSUM_OFFSET, checksum);
        buf.setInt(index + RESERVED_OFFSET, 0);
    }
}
