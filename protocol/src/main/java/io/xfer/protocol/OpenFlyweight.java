package io.xfer.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * OPEN: the client asks to open a transfer on a module path. With {@link #DIRECTION_PUSH} the client sends and the
 * agent receives into the path; with {@link #DIRECTION_PULL} the agent sends the path and the client receives.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                    Frame Header (type 3)                      |
 *  |                                                               |
 *  +---------------+---------------+-------------------------------+
 *  |  Direction    |    Streams    |           Reserved            |
 *  +---------------+---------------+-------------------------------+
 *  |                       Options (64 bits)                       |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                  Chunk Length (requested)                     |
 *  +-------------------------------+-------------------------------+
 *  |    Module Length (16 bits)    |  Module (UTF-8) ...           |
 *  +-------------------------------+-------------------------------+
 *  |     Path Length (16 bits)     |  Path (UTF-8, relative) ...   |
 *  +-------------------------------+-------------------------------+
 *  |  Resume Key Length (16 bits)  |  Resume Key (UTF-8) ...       |
 *  +-------------------------------+-------------------------------+
 * </pre>
 *
 * The resume key names the transfer across re-runs of the same command (the client derives it from the source and
 * the destination): the receiver keeps its checkpoint journal under it, and a re-run with the same key resumes.
 * Empty: no checkpoints. At most {@link #MAX_RESUME_KEY_LENGTH} characters of [0-9a-f].
 */
public final class OpenFlyweight extends Flyweight
{
    public static final int DIRECTION_OFFSET = HEADER_LENGTH;
    public static final int STREAMS_OFFSET = DIRECTION_OFFSET + Byte.BYTES;
    public static final int OPTIONS_OFFSET = DIRECTION_OFFSET + Integer.BYTES;
    public static final int CHUNK_LENGTH_OFFSET = OPTIONS_OFFSET + Long.BYTES;
    public static final int MODULE_OFFSET = CHUNK_LENGTH_OFFSET + Integer.BYTES;
    public static final int MIN_LENGTH = MODULE_OFFSET + 3 * Short.BYTES;

    /** The client sends, the agent receives. */
    public static final int DIRECTION_PUSH = 1;
    /** The agent sends, the client receives. */
    public static final int DIRECTION_PULL = 2;

    /** Replace existing destination files that differ from the source. */
    public static final long OPTION_OVERWRITE = 1L;
    /** The path names the contents of a directory rather than the directory itself (a trailing slash). */
    public static final long OPTION_CONTENTS = 1L << 1;
    /** The sender compresses chunks with LZ4 where they shrink enough, backing off on data that does not. */
    public static final long OPTION_COMPRESS_AUTO = 1L << 2;
    /** The sender tries LZ4 on every chunk (still sending a chunk raw when it does not shrink). */
    public static final long OPTION_COMPRESS_ALWAYS = 1L << 3;
    /** The sender puts a SHA-256 of each file's content in FILE_END (digest type 2), for audit. */
    public static final long OPTION_DIGEST_SHA256 = 1L << 5;
    /** Stage the transfer at the receiver and publish it only when every entry made it. */
    public static final long OPTION_ATOMIC = 1L << 6;
    /** Discard the receiver's checkpoints for this resume key and start from nothing. */
    public static final long OPTION_RESTART = 1L << 4;

    /** Longest resume key accepted. */
    public static final int MAX_RESUME_KEY_LENGTH = 64;

    public int direction()
    {
        return buffer.getUnsignedByte(offset + DIRECTION_OFFSET);
    }

    /** @return the number of parallel streams (connections) the client asks for, at least 1. */
    public int streams()
    {
        return Math.max(1, buffer.getUnsignedByte(offset + STREAMS_OFFSET));
    }

    public long options()
    {
        return buffer.getLong(offset + OPTIONS_OFFSET);
    }

    public int chunkLength()
    {
        return buffer.getInt(offset + CHUNK_LENGTH_OFFSET);
    }

    public String module()
    {
        return string(MODULE_OFFSET);
    }

    public String path()
    {
        return string(stringEnd(MODULE_OFFSET));
    }

    public String resumeKey()
    {
        return string(stringEnd(stringEnd(MODULE_OFFSET)));
    }

    @Override
    public void validate()
    {
        final int direction = direction();
        if (direction != DIRECTION_PUSH && direction != DIRECTION_PULL)
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "OPEN: unknown direction " + direction);
        }
        final int keyOffset = checkString(checkString(MODULE_OFFSET, "module"), "path");
        checkEnd(checkString(keyOffset, "resume key"));
        final String key = resumeKey();
        if (key.length() > MAX_RESUME_KEY_LENGTH || !key.chars().allMatch(c -> c >= '0' && c <= '9' ||
            c >= 'a' && c <= 'f'))
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "OPEN: resume key must be at most " +
                MAX_RESUME_KEY_LENGTH + " lowercase hex digits");
        }
    }

    public static ByteBuf encode(
        final ByteBufAllocator allocator,
        final int direction,
        final int streams,
        final long options,
        final int chunkLength,
        final String module,
        final String path,
        final String resumeKey)
    {
        final byte[] moduleBytes = utf8(module);
        final byte[] pathBytes = utf8(path);
        final byte[] keyBytes = utf8(resumeKey);
        final int length = MIN_LENGTH + moduleBytes.length + pathBytes.length + keyBytes.length;
        final ByteBuf buf = allocator.buffer(length);
        final OpenFlyweight open = new OpenFlyweight();
        open.wrap(buf, 0);
        open.header(length, FrameType.OPEN, 0);
        buf.setInt(DIRECTION_OFFSET, 0);
        buf.setByte(DIRECTION_OFFSET, direction);
        buf.setByte(STREAMS_OFFSET, Math.max(1, Math.min(255, streams)));
        buf.setLong(OPTIONS_OFFSET, options);
        buf.setInt(CHUNK_LENGTH_OFFSET, chunkLength);
        open.string(open.string(open.string(MODULE_OFFSET, moduleBytes), pathBytes), keyBytes);
        return buf.writerIndex(length);
    }
}
