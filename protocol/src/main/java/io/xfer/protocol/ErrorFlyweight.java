package io.xfer.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * ERROR: a failure report. With File Id -1 the error concerns the whole connection and the sender closes it right
 * after this frame. With a file id it concerns that file only (for example a source file that vanished before it
 * could be read) and the transfer goes on.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                    Frame Header (type 11)                     |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                         Error Code                            |
 *  +---------------------------------------------------------------+
 *  |                   File Id (-1: connection)                    |
 *  +-------------------------------+-------------------------------+
 *  |   Message Length (16 bits)    |  Message (UTF-8) ...          |
 *  +-------------------------------+-------------------------------+
 * </pre>
 */
public final class ErrorFlyweight extends Flyweight
{
    public static final int CODE_OFFSET = HEADER_LENGTH;
    public static final int FILE_ID_OFFSET = CODE_OFFSET + Integer.BYTES;
    public static final int MESSAGE_OFFSET = FILE_ID_OFFSET + Integer.BYTES;
    public static final int MIN_LENGTH = MESSAGE_OFFSET + Short.BYTES;

    /** File id of an error that concerns the whole connection. */
    public static final int CONNECTION = -1;

    public int code()
    {
        return buffer.getInt(offset + CODE_OFFSET);
    }

    public int fileId()
    {
        return buffer.getInt(offset + FILE_ID_OFFSET);
    }

    public String message()
    {
        return string(MESSAGE_OFFSET);
    }

    @Override
    public void validate()
    {
        checkEnd(checkString(MESSAGE_OFFSET, "message"));
    }

    public static ByteBuf encode(
        final ByteBufAllocator allocator, final int code, final int fileId, final String message)
    {
        byte[] messageBytes = utf8(message.length() > 4096 ? message.substring(0, 4096) : message);
        final int length = MIN_LENGTH + messageBytes.length;
        final ByteBuf buf = allocator.buffer(length);
        final ErrorFlyweight error = new ErrorFlyweight();
        error.wrap(buf, 0);
        error.header(length, FrameType.ERROR, 0);
        buf.setInt(CODE_OFFSET, code);
        buf.setInt(FILE_ID_OFFSET, fileId);
        error.string(MESSAGE_OFFSET, messageBytes);
        return buf.writerIndex(length);
    }

    public static ByteBuf encode(
        final ByteBufAllocator allocator, final ErrorCode code, final int fileId, final String message)
    {
        return encode(allocator, code.code(), fileId, message);
    }
}
