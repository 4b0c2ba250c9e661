package io.xfer.protocol;

import io.netty.buffer.ByteBuf;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Base of all frame flyweights: the common 8-byte frame header and helpers for the variable-length strings that
 * some frames end with. All multi-byte fields are big-endian (network order).
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                  Frame Length (header included)               |
 *  +---------------+---------------+-------------------------------+
 *  |   Version     |     Type      |             Flags             |
 *  +---------------+---------------+-------------------------------+
 *  |                         Body ...                              |
 * </pre>
 *
 * A string is an unsigned 16-bit byte count followed by that many bytes of UTF-8 (no terminator).
 */
public abstract class Flyweight
{
    public static final int LENGTH_OFFSET = 0;
    public static final int VERSION_OFFSET = LENGTH_OFFSET + Integer.BYTES;
    public static final int TYPE_OFFSET = VERSION_OFFSET + Byte.BYTES;
    public static final int FLAGS_OFFSET = TYPE_OFFSET + Byte.BYTES;
    public static final int HEADER_LENGTH = FLAGS_OFFSET + Short.BYTES;

    /** Version of the frame format; every frame of protocol v1 carries it. */
    public static final int FRAME_VERSION = 1;

    /** Longest string a frame may carry, in bytes of UTF-8. */
    public static final int MAX_STRING_LENGTH = 0xFFFF;

    private static final ThreadLocal<CharsetDecoder> UTF8_DECODER = ThreadLocal.withInitial(
        () -> StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT));

    protected ByteBuf buffer;
    protected int offset;

    /**
     * Point this flyweight at a frame.
     *
     * @param buffer holding the frame.
     * @param offset of the frame's first byte (its length field) in the buffer.
     */
    public void wrap(final ByteBuf buffer, final int offset)
    {
        this.buffer = buffer;
        this.offset = offset;
    }

    public ByteBuf buffer()
    {
        return buffer;
    }

    public int frameLength()
    {
        return buffer.getInt(offset + LENGTH_OFFSET);
    }

    public int version()
    {
        return buffer.getUnsignedByte(offset + VERSION_OFFSET);
    }

    public int type()
    {
        return buffer.getUnsignedByte(offset + TYPE_OFFSET);
    }

    public int flags()
    {
        return buffer.getUnsignedShort(offset + FLAGS_OFFSET);
    }

    /**
     * Write the common header.
     */
    protected void header(final int frameLength, final int type, final int flags)
    {
        writeHeader(buffer, offset, frameLength, type, flags);
    }

    /**
     * Write the common header at {@code index} of {@code buf}, without a flyweight.
     */
    protected static void writeHeader(
        final ByteBuf buf, final int index, final int frameLength, final int type, final int flags)
    {
        buf.setInt(index + LENGTH_OFFSET, frameLength);
        buf.setByte(index + VERSION_OFFSET, FRAME_VERSION);
        buf.setByte(index + TYPE_OFFSET, type);
        buf.setShort(index + FLAGS_OFFSET, flags);
    }

    /**
     * Check the variable-length part of a frame whose fixed part the decoder has already length-checked.
     *
     * @throws ProtocolException naming the bad field.
     */
    public void validate()
    {
    }

    /** Read the string at a frame-relative index. The frame must have passed {@link #validate()}. */
    protected String string(final int index)
    {
        final int length = buffer.getUnsignedShort(offset + index);
        return buffer.toString(offset + index + Short.BYTES, length, StandardCharsets.UTF_8);
    }

    /** @return the frame-relative index just after the string at {@code index}. */
    protected int stringEnd(final int index)
    {
        return index + Short.BYTES + buffer.getUnsignedShort(offset + index);
    }

    /**
     * Write a string at a frame-relative index.
     *
     * @return the frame-relative index just after it.
     */
    protected int string(final int index, final byte[] utf8)
    {
        buffer.setShort(offset + index, utf8.length);
        buffer.setBytes(offset + index + Short.BYTES, utf8);
        return index + Short.BYTES + utf8.length;
    }

    /**
     * Check that a string starting at a frame-relative index lies inside the frame and is valid UTF-8.
     *
     * @return the frame-relative index just after it.
     */
    protected int checkString(final int index, final String field)
    {
        final int frameLength = frameLength();
        if (index + Short.BYTES > frameLength)
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, FrameType.name(type()) + ": " + field +
                " length field at " + index + " lies beyond frame length " + frameLength);
        }
        final int length = buffer.getUnsignedShort(offset + index);
        final int end = index + Short.BYTES + length;
        if (end > frameLength)
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, FrameType.name(type()) + ": " + field +
                " of " + length + " bytes at " + index + " overruns frame length " + frameLength);
        }
        final ByteBuffer bytes = buffer.nioBuffer(offset + index + Short.BYTES, length);
        try
        {
            final CharBuffer ignored = UTF8_DECODER.get().reset().decode(bytes);
            assert ignored != null;
        }
        catch (final CharacterCodingException ex)
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, FrameType.name(type()) + ": " + field +
                " is not valid UTF-8");
        }
        return end;
    }

    /** Check that nothing follows the last field. */
    protected void checkEnd(final int end)
    {
        if (end != frameLength())
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, FrameType.name(type()) + ": " +
                (frameLength() - end) + " unexpected trailing bytes");
        }
    }

    /**
     * @return the UTF-8 bytes of a string field value, rejecting values longer than {@link #MAX_STRING_LENGTH}.
     */
    public static byte[] utf8(final String value)
    {
        final byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > MAX_STRING_LENGTH)
        {
            throw new IllegalArgumentException("string of " + bytes.length + " bytes exceeds " + MAX_STRING_LENGTH);
        }
        return bytes;
    }
}
