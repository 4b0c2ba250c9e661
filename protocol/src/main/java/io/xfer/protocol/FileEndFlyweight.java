package io.xfer.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * FILE_END: the sender has sent every chunk of a file. Carries the file's size and modification time as read when
 * the sender finished (so the receiver can tell a file that changed while it was read) and the whole-file digest
 * that the receiver verifies before it renames the file into place.
 *
 * <p>Digest type {@link #DIGEST_CHUNK_ROOT}: SHA-256 over the big-endian 32-bit CRC32C values of the file's
 * chunks in offset order, the chunks being the consecutive {@code chunkLength}-sized pieces of the file agreed in
 * OPEN_ACK (the last one shorter). An empty file has the SHA-256 of no bytes.
 *
 * <p>Digest type {@link #DIGEST_SHA256}: SHA-256 of the file's bytes, for audit; each chunk's CRC32C is still
 * checked on arrival.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                    Frame Header (type 8)                      |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                          File Id                              |
 *  +---------------+---------------+-------------------------------+
 *  |  Digest Type  | Digest Length |           Reserved            |
 *  +---------------+---------------+-------------------------------+
 *  |                        Size (64 bits)                         |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |              Modification Time (ns since epoch)               |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                 Digest (32 bytes, zero padded)                |
 *  ~                                                               ~
 *  +---------------------------------------------------------------+
 * </pre>
 */
public final class FileEndFlyweight extends Flyweight
{
    public static final int FILE_ID_OFFSET = HEADER_LENGTH;
    public static final int DIGEST_TYPE_OFFSET = FILE_ID_OFFSET + Integer.BYTES;
    public static final int DIGEST_LENGTH_OFFSET = DIGEST_TYPE_OFFSET + Byte.BYTES;
    public static final int SIZE_OFFSET = DIGEST_TYPE_OFFSET + Integer.BYTES;
    public static final int MTIME_OFFSET = SIZE_OFFSET + Long.BYTES;
    public static final int DIGEST_OFFSET = MTIME_OFFSET + Long.BYTES;
    public static final int MAX_DIGEST_LENGTH = 32;
    public static final int LENGTH = DIGEST_OFFSET + MAX_DIGEST_LENGTH;

    /** SHA-256 over the chunk CRC32C values. */
    public static final int DIGEST_CHUNK_ROOT = 1;
    /** SHA-256 of the file's content; the receiver checks it against the file as written on its disk. Only with
     * the SHA256 capability. */
    public static final int DIGEST_SHA256 = 2;

    public int fileId()
    {
        return buffer.getInt(offset + FILE_ID_OFFSET);
    }

    public int digestType()
    {
        return buffer.getUnsignedByte(offset + DIGEST_TYPE_OFFSET);
    }

    public int digestLength()
    {
        return buffer.getUnsignedByte(offset + DIGEST_LENGTH_OFFSET);
    }

    public long size()
    {
        return buffer.getLong(offset + SIZE_OFFSET);
    }

    public long mtimeNs()
    {
        return buffer.getLong(offset + MTIME_OFFSET);
    }

    public byte[] digest()
    {
        final byte[] digest = new byte[digestLength()];
        buffer.getBytes(offset + DIGEST_OFFSET, digest);
        return digest;
    }

    @Override
    public void validate()
    {
        checkEnd(LENGTH);
        if (digestLength() > MAX_DIGEST_LENGTH)
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "FILE_END: digest length " + digestLength() +
                " exceeds " + MAX_DIGEST_LENGTH);
        }
        if (size() < 0)
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "FILE_END: negative size " + size());
        }
    }

    public static ByteBuf encode(
        final ByteBufAllocator allocator,
        final int fileId,
        final int digestType,
        final long size,
        final long mtimeNs,
        final byte[] digest)
    {
        if (digest.length > MAX_DIGEST_LENGTH)
        {
            throw new IllegalArgumentException("digest of " + digest.length + " bytes exceeds " + MAX_DIGEST_LENGTH);
        }
        final ByteBuf buf = allocator.buffer(LENGTH);
        final FileEndFlyweight end = new FileEndFlyweight();
        end.wrap(buf, 0);
        end.header(LENGTH, FrameType.FILE_END, 0);
        buf.setInt(FILE_ID_OFFSET, fileId);
        buf.setInt(DIGEST_TYPE_OFFSET, 0);
        buf.setByte(DIGEST_TYPE_OFFSET, digestType);
        buf.setByte(DIGEST_LENGTH_OFFSET, digest.length);
        buf.setLong(SIZE_OFFSET, size);
        buf.setLong(MTIME_OFFSET, mtimeNs);
        buf.setZero(DIGEST_OFFSET, MAX_DIGEST_LENGTH);
        buf.setBytes(DIGEST_OFFSET, digest);
        return buf.writerIndex(LENGTH);
    }
}
