package io.xfer.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * FILE_STATUS: the receiver's word on one manifest entry. First in answer to FILE_ENTRY ({@link #SEND},
 * {@link #SKIPPED}, {@link #REFUSED}, or {@link #COMMITTED} for directories and symlinks it created), then for a
 * sent file in answer to FILE_END ({@link #COMMITTED} or {@link #FAILED}). The offset of a {@link #SEND} is where
 * the sender starts: what the receiver already holds and has verified (0 unless resuming). {@link #RESEND} asks
 * for one chunk again, at its offset, after it arrived with a bad checksum; a file whose chunks keep arriving
 * damaged fails.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                    Frame Header (type 6)                      |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                          File Id                              |
 *  +---------------+-----------------------------------------------+
 *  |    Status     |                  Reserved                     |
 *  +---------------+-----------------------------------------------+
 *  |                       Offset (64 bits)                        |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                  Error Code (0 when none)                     |
 *  +-------------------------------+-------------------------------+
 *  |   Message Length (16 bits)    |  Message (UTF-8) ...          |
 *  +-------------------------------+-------------------------------+
 * </pre>
 */
public final class FileStatusFlyweight extends Flyweight
{
    public static final int FILE_ID_OFFSET = HEADER_LENGTH;
    public static final int STATUS_OFFSET = FILE_ID_OFFSET + Integer.BYTES;
    public static final int FILE_OFFSET_OFFSET = STATUS_OFFSET + Integer.BYTES;
    public static final int ERROR_CODE_OFFSET = FILE_OFFSET_OFFSET + Long.BYTES;
    public static final int MESSAGE_OFFSET = ERROR_CODE_OFFSET + Integer.BYTES;
    public static final int MIN_LENGTH = MESSAGE_OFFSET + Short.BYTES;

    /** Send the file's data from the given offset. */
    public static final int SEND = 1;
    /** The destination already holds an identical file: nothing to send. */
    public static final int SKIPPED = 2;
    /** The destination exists and differs, and overwrite was not requested; or the entry is not allowed. */
    public static final int REFUSED = 3;
    /** The entry is complete, verified and in place under its final name. */
    public static final int COMMITTED = 4;
    /** The entry failed; the error code and message say why. Nothing was put under its final name. */
    public static final int FAILED = 5;
    /** The chunk at the offset arrived damaged (error code CHECKSUM_MISMATCH) and was dropped: send it again. */
    public static final int RESEND = 6;

    public int fileId()
    {
        return buffer.getInt(offset + FILE_ID_OFFSET);
    }

    public int status()
    {
        return buffer.getUnsignedByte(offset + STATUS_OFFSET);
    }

    public long fileOffset()
    {
        return buffer.getLong(offset + FILE_OFFSET_OFFSET);
    }

    public int errorCode()
    {
        return buffer.getInt(offset + ERROR_CODE_OFFSET);
    }

    public String message()
    {
        return string(MESSAGE_OFFSET);
    }

    @Override
    public void validate()
    {
        final int status = status();
        if (status < SEND || status > RESEND)
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "FILE_STATUS: unknown status " + status);
        }
        if (fileOffset() < 0)
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "FILE_STATUS: negative offset " + fileOffset());
        }
        checkEnd(checkString(MESSAGE_OFFSET, "message"));
    }

    public static String statusName(final int status)
    {
        switch (status)
        {
            case SEND: return "send";
            case SKIPPED: return "skipped";
            case REFUSED: return "refused";
            case COMMITTED: return "committed";
            case FAILED: return "failed";
            case RESEND: return "resend";
            default: return "unknown(" + status + ")";
        }
    }

    public static ByteBuf encode(
        final ByteBufAllocator allocator,
        final int fileId,
        final int status,
        final long fileOffset,
        final int errorCode,
        final String message)
    {
        final byte[] messageBytes = utf8(message);
        final int length = MIN_LENGTH + messageBytes.length;
        final ByteBuf buf = allocator.buffer(length);
        final FileStatusFlyweight fileStatus = new FileStatusFlyweight();
        fileStatus.wrap(buf, 0);
        fileStatus.header(length, FrameType.FILE_STATUS, 0);
        buf.setInt(FILE_ID_OFFSET, fileId);
        buf.setInt(STATUS_OFFSET, 0);
        buf.setByte(STATUS_OFFSET, status);
        buf.setLong(FILE_OFFSET_OFFSET, fileOffset);
        buf.setInt(ERROR_CODE_OFFSET, errorCode);
        fileStatus.string(MESSAGE_OFFSET, messageBytes);
        return buf.writerIndex(length);
    }
}
