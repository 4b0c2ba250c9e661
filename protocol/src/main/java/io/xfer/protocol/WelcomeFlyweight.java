package io.xfer.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * WELCOME: the accepting side's answer to HELLO, fixing the version, the capability set (the intersection of
 * both), the session id and the frame length limit for the rest of the connection.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                    Frame Header (type 2)                      |
 *  |                                                               |
 *  +---------------+-----------------------------------------------+
 *  |   Version     |                  Reserved                     |
 *  +---------------+-----------------------------------------------+
 *  |                        Capabilities                           |
 *  |                          (64 bits)                            |
 *  +---------------------------------------------------------------+
 *  |                    Session Id (128 bits)                      |
 *  |                                                               |
 *  |                                                               |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                      Max Frame Length                         |
 *  +-------------------------------+-------------------------------+
 *  |   Software Length (16 bits)   |  Software (UTF-8) ...         |
 *  +-------------------------------+-------------------------------+
 * </pre>
 */
public final class WelcomeFlyweight extends Flyweight
{
    public static final int VERSION_FIELD_OFFSET = HEADER_LENGTH;
    public static final int CAPABILITIES_OFFSET = VERSION_FIELD_OFFSET + Integer.BYTES;
    public static final int SESSION_ID_HIGH_OFFSET = CAPABILITIES_OFFSET + Long.BYTES;
    public static final int SESSION_ID_LOW_OFFSET = SESSION_ID_HIGH_OFFSET + Long.BYTES;
    public static final int MAX_FRAME_LENGTH_OFFSET = SESSION_ID_LOW_OFFSET + Long.BYTES;
    public static final int SOFTWARE_OFFSET = MAX_FRAME_LENGTH_OFFSET + Integer.BYTES;
    public static final int MIN_LENGTH = SOFTWARE_OFFSET + Short.BYTES;

    public int protocolVersion()
    {
        return buffer.getUnsignedByte(offset + VERSION_FIELD_OFFSET);
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
        checkEnd(checkString(SOFTWARE_OFFSET, "software"));
    }

    public static ByteBuf encode(
        final ByteBufAllocator allocator,
        final int version,
        final long capabilities,
        final long sessionIdHigh,
        final long sessionIdLow,
        final int maxFrameLength,
        final String software)
    {
        final byte[] softwareBytes = utf8(software);
        final int length = MIN_LENGTH + softwareBytes.length;
        final ByteBuf buf = allocator.buffer(length);
        final WelcomeFlyweight welcome = new WelcomeFlyweight();
        welcome.wrap(buf, 0);
        welcome.header(length, FrameType.WELCOME, 0);
        buf.setInt(VERSION_FIELD_OFFSET, 0);
        buf.setByte(VERSION_FIELD_OFFSET, version);
        buf.setLong(CAPABILITIES_OFFSET, capabilities);
        buf.setLong(SESSION_ID_HIGH_OFFSET, sessionIdHigh);
        buf.setLong(SESSION_ID_LOW_OFFSET, sessionIdLow);
        buf.setInt(MAX_FRAME_LENGTH_OFFSET, maxFrameLength);
        welcome.string(SOFTWARE_OFFSET, softwareBytes);
        return buf.writerIndex(length);
    }
}
