package io.xfer.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * HELLO: the first frame on every connection, sent by the connecting side. A control connection opens a new
 * session; a data connection joins the session named by its session id.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                    Frame Header (type 1)                      |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                     Magic 0x58464552 "XFER"                   |
 *  +---------------+---------------+---------------+---------------+
 *  |  Min Version  |  Max Version  |Connection Kind|   Reserved    |
 *  +---------------+---------------+---------------+---------------+
 *  |                        Capabilities                           |
 *  |                          (64 bits)                            |
 *  +---------------------------------------------------------------+
 *  |                  Session Id (128 bits, zero for               |
 *  |                  a control connection)                        |
 *  |                                                               |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                      Max Frame Length                         |
 *  +-------------------------------+-------------------------------+
 *  |   Software Length (16 bits)   |  Software (UTF-8) ...         |
 *  +-------------------------------+-------------------------------+
 * </pre>
 */
public final class HelloFlyweight extends Flyweight
{
    public static final int MAGIC_OFFSET = HEADER_LENGTH;
    public static final int MIN_VERSION_OFFSET = MAGIC_OFFSET + Integer.BYTES;
    public static final int MAX_VERSION_OFFSET = MIN_VERSION_OFFSET + Byte.BYTES;
    public static final int KIND_OFFSET = MAX_VERSION_OFFSET + Byte.BYTES;
    public static final int CAPABILITIES_OFFSET = KIND_OFFSET + 2 * Byte.BYTES;
    public static final int SESSION_ID_HIGH_OFFSET = CAPABILITIES_OFFSET + Long.BYTES;
    public static final int SESSION_ID_LOW_OFFSET = SESSION_ID_HIGH_OFFSET + Long.BYTES;
    public static final int MAX_FRAME_LENGTH_OFFSET = SESSION_ID_LOW_OFFSET + Long.BYTES;
    public static final int SOFTWARE_OFFSET = MAX_FRAME_LENGTH_OFFSET + Integer.BYTES;
    public static final int MIN_LENGTH = SOFTWARE_OFFSET + Short.BYTES;

    /** A control connection: opens a new session. */
    public static final int KIND_CONTROL = 0;
    /** A data connection: joins an existing session. */
    public static final int KIND_DATA = 1;

    public int magic()
    {
        return buffer.getInt(offset + MAGIC_OFFSET);
    }

    public int minVersion()
    {
        return buffer.getUnsignedByte(offset + MIN_VERSION_OFFSET);
    }

    public int maxVersion()
    {
        return buffer.getUnsignedByte(offset + MAX_VERSION_OFFSET);
    }

    public int connectionKind()
    {
        return buffer.getUnsignedByte(offset + KIND_OFFSET);
    }

    public long capabilities()
    {
        return buffer.getLong(offset + CAPABILITIES_OFFSET);
    }

    public long sessionIdHigh()
    {
        return buffer.getLong(offset + SESSION_ID_HIGH_OFFSET);
    }

    public long sessionIdLow()
    {
        return buffer.getLong(offset + SESSION_ID_LOW_OFFSET);
    }

    public int maxFrameLength()
    {
        return buffer.getInt(offset + MAX_FRAME_LENGTH_OFFSET);
    }

    public String software()
    {
        return string(SOFTWARE_OFFSET);
    }

    @Override
    public void validate()
    {
        if (magic() != ProtocolVersion.MAGIC)
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR,
                "HELLO: bad magic 0x" + Integer.toHexString(magic()));
        }
        final int kind = connectionKind();
        if (kind != KIND_CONTROL && kind != KIND_DATA)
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "HELLO: unknown connection kind " + kind);
        }
        checkEnd(checkString(SOFTWARE_OFFSET, "software"));
    }

    public static ByteBuf encode(
        final ByteBufAllocator allocator,
        final int connectionKind,
        final long capabilities,
        final long sessionIdHigh,
        final long sessionIdLow,
        final int maxFrameLength,
        final String software)
    {
        final byte[] softwareBytes = utf8(software);
        final int length = MIN_LENGTH + softwareBytes.length;
        final ByteBuf buf = allocator.buffer(length);
        final HelloFlyweight hello = new HelloFlyweight();
        hello.wrap(buf, 0);
        hello.header(length, FrameType.HELLO, 0);
        buf.setInt(MAGIC_OFFSET, ProtocolVersion.MAGIC);
        buf.setByte(MIN_VERSION_OFFSET, ProtocolVersion.MIN_SUPPORTED);
        buf.setByte(MAX_VERSION_OFFSET, ProtocolVersion.MAX_SUPPORTED);
        buf.setByte(KIND_OFFSET, connectionKind);
        buf.setByte(KIND_OFFSET + 1, 0);
        buf.setLong(CAPABILITIES_OFFSET, capabilities);
        buf.setLong(SESSION_ID_HIGH_OFFSET, sessionIdHigh);
        buf.setLong(SESSION_ID_LOW_OFFSET, sessionIdLow);
        buf.setInt(MAX_FRAME_LENGTH_OFFSET, maxFrameLength);
        hello.string(SOFTWARE_OFFSET, softwareBytes);
        return buf.writerIndex(length);
    }
}
