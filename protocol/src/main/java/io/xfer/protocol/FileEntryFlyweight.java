package io.xfer.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * FILE_ENTRY: one manifest entry, sent by the sender as it walks the source. Paths are relative to the transfer's
 * destination, '/'-separated, never absolute and never containing "." or ".." segments; receivers check this.
 * Entries flow while data flows: the sender does not wait for the walk to finish.
 *
 * <p>With capability {@link Capabilities#INLINE_DATA} in effect, the entry of a regular file of at most
 * {@link #INLINE_MAX_BYTES} may carry the file's whole content ({@link #FLAG_INLINE} in the header flags): after the
 * link target, the CRC32C of the content, then the content itself, or with {@link #FLAG_LZ4} one LZ4 block of it.
 * The receiver then answers with its verdict alone, and a tree of small files costs one frame each way per file.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                    Frame Header (type 5)                      |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                          File Id                              |
 *  +---------------+---------------+-------------------------------+
 *  |  File Type    |   Reserved    |         Mode (07777)          |
 *  +---------------+---------------+-------------------------------+
 *  |                        Size (64 bits)                         |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |              Modification Time (ns since epoch)               |
 *  |                                                               |
 *  +-------------------------------+-------------------------------+
 *  |     Path Length (16 bits)     |  Path (UTF-8) ...             |
 *  +-------------------------------+-------------------------------+
 *  |    Target Length (16 bits)    |  Symlink Target (UTF-8) ...   |
 *  +-------------------------------+-------------------------------+
 *  |         Checksum (CRC32C of the content; INLINE only)         |
 *  +---------------------------------------------------------------+
 *  |                Content ... (INLINE only)                      |
 *  +---------------------------------------------------------------+
 * </pre>
 */
public final class FileEntryFlyweight extends Flyweight
{
    public static final int FILE_ID_OFFSET = HEADER_LENGTH;
    public static final int FILE_TYPE_OFFSET = FILE_ID_OFFSET + Integer.BYTES;
    public static final int MODE_OFFSET = FILE_TYPE_OFFSET + 2 * Byte.BYTES;
    public static final int SIZE_OFFSET = MODE_OFFSET + Short.BYTES;
    public static final int MTIME_OFFSET = SIZE_OFFSET + Long.BYTES;
    public static final int PATH_OFFSET = MTIME_OFFSET + Long.BYTES;
    public static final int MIN_LENGTH = PATH_OFFSET + 2 * Short.BYTES;

    /** Header flag: the content that follows is one LZ4 block (only with {@link #FLAG_INLINE} and LZ4 in effect). */
    public static final int FLAG_LZ4 = 1;
    /** Header flag: the entry carries the file's content. */
    public static final int FLAG_INLINE = 1 << 1;
    /** The largest file whose content an entry may carry. */
    public static final int INLINE_MAX_BYTES = 16 * 1024;

    public static final int TYPE_FILE = 1;
    public static final int TYPE_DIRECTORY = 2;
    public static final int TYPE_SYMLINK = 3;

    public int fileId()
    {
        return buffer.getInt(offset + FILE_ID_OFFSET);
    }

    public int fileType()
    {
        return buffer.getUnsignedByte(offset + FILE_TYPE_OFFSET);
    }

    public int mode()
    {
        return buffer.getUnsignedShort(offset + MODE_OFFSET);
    }

    public long size()
    {
        return buffer.getLong(offset + SIZE_OFFSET);
    }

    public long mtimeNs()
    {
        return buffer.getLong(offset + MTIME_OFFSET);
    }

    public String path()
    {
        return string(PATH_OFFSET);
    }

    public String linkTarget()
    {
        return string(stringEnd(PATH_OFFSET));
    }

    public boolean isInline()
    {
        return (flags() & FLAG_INLINE) != 0;
    }

    public boolean isCompressed()
    {
        return (flags() & FLAG_LZ4) != 0;
    }

    /** @return frame-relative index of the inline checksum (valid only for an inline entry) */
    private int checksumIndex()
    {
        return stringEnd(stringEnd(PATH_OFFSET));
    }

    /** CRC32C of the inline content, uncompressed. */
    public int checksum()
    {
        return buffer.getInt(offset + checksumIndex());
    }

    /** @return index in the buffer (not frame-relative) of the inline content */
    public int contentOffset()
    {
        return offset + checksumIndex() + Integer.BYTES;
    }

    /** @return bytes of inline content in the frame (an LZ4 block's length when compressed) */
    public int contentLength()
    {
        return frameLength() - checksumIndex() - Integer.BYTES;
    }

    @Override
    public void validate()
    {
        final int flags = flags();
        if ((flags & ~(FLAG_LZ4 | FLAG_INLINE)) != 0)
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "FILE_ENTRY: unknown flags 0x" +
                Integer.toHexString(flags));
        }
        final int fileType = fileType();
        if (fileType < TYPE_FILE || fileType > TYPE_SYMLINK)
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "FILE_ENTRY: unknown file type " + fileType);
        }
        if (fileId() < 0)
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "FILE_ENTRY: negative file id " + fileId());
        }
        if (size() < 0)
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "FILE_ENTRY: negative size " + size());
        }
        if ((mode() & ~07777) != 0)
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR,
                "FILE_ENTRY: mode 0" + Integer.toOctalString(mode()) + " has bits outside 07777");
        }
        final int end = checkString(checkString(PATH_OFFSET, "path"), "link target");
        if ((flags & FLAG_INLINE) == 0)
        {
            if ((flags & FLAG_LZ4) != 0)
            {
                throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "FILE_ENTRY: LZ4 without inline content");
            }
            checkEnd(end);
            return;
        }
        if (fileType != TYPE_FILE || size() > INLINE_MAX_BYTES)
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "FILE_ENTRY: inline content for " +
                (fileType != TYPE_FILE ? "file type " + fileType : "a size of " + size() + " bytes, above " +
                INLINE_MAX_BYTES));
        }
        if (end + Integer.BYTES > frameLength())
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "FILE_ENTRY: inline checksum at " + end +
                " lies beyond frame length " + frameLength());
        }
        final int contentLength = frameLength() - end - Integer.BYTES;
        if ((flags & FLAG_LZ4) == 0 ? contentLength != size() : contentLength < 1)
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "FILE_ENTRY: " + contentLength +
                " bytes of inline content for a size of " + size() + ((flags & FLAG_LZ4) != 0 ? " (LZ4)" : ""));
        }
    }

    public static ByteBuf encode(
        final ByteBufAllocator allocator,
        final int fileId,
        final int fileType,
        final int mode,
        final long size,
        final long mtimeNs,
        final String path,
        final String linkTarget)
    {
        final byte[] pathBytes = utf8(path);
        final byte[] targetBytes = utf8(linkTarget);
        final int length = MIN_LENGTH + pathBytes.length + targetBytes.length;
        final ByteBuf buf = allocator.buffer(length);
        fields(buf, length, 0, fileId, fileType, mode, size, mtimeNs, pathBytes, targetBytes);
        return buf.writerIndex(length);
    }

    /** Header and fields up to the end of the link target, at the start of {@code buf}. */
    private static void fields(
        final ByteBuf buf, final int length, final int flags, final int fileId, final int fileType, final int mode,
        final long size, final long mtimeNs, final byte[] pathBytes, final byte[] targetBytes)
    {
        final FileEntryFlyweight entry = new FileEntryFlyweight();
        entry.wrap(buf, 0);
        entry.header(length, FrameType.FILE_ENTRY, flags);
        buf.setInt(FILE_ID_OFFSET, fileId);
        buf.setByte(FILE_TYPE_OFFSET, fileType);
        buf.setByte(FILE_TYPE_OFFSET + 1, 0);
        buf.setShort(MODE_OFFSET, mode);
        buf.setLong(SIZE_OFFSET, size);
        buf.setLong(MTIME_OFFSET, mtimeNs);
        entry.string(entry.string(PATH_OFFSET, pathBytes), targetBytes);
    }

    /**
     * An entry of a regular file that carries its content: {@code contentLength} bytes of {@code content} from
     * {@code contentIndex}, the file's bytes or with {@link #FLAG_LZ4} in {@code flags} one LZ4 block of them.
     *
     * @param checksum CRC32C of the file's bytes, uncompressed
     */
    public static ByteBuf encodeInline(
        final ByteBufAllocator allocator,
        final int fileId,
        final int mode,
        final long size,
        final long mtimeNs,
        final String path,
        final int flags,
        final int checksum,
        final ByteBuf content,
        final int contentIndex,
        final int contentLength)
    {
        final byte[] pathBytes = utf8(path);
        final int end = PATH_OFFSET + Short.BYTES + pathBytes.length + Short.BYTES;
        final int length = end + Integer.BYTES + contentLength;
        final ByteBuf buf = allocator.buffer(length);
        fields(buf, length, FLAG_INLINE | (flags & FLAG_LZ4), fileId, TYPE_FILE, mode, size, mtimeNs, pathBytes,
            EMPTY);
        buf.setInt(end, checksum);
        buf.setBytes(end + Integer.BYTES, content, contentIndex, contentLength);
        return buf.writerIndex(length);
    }

    private static final byte[] EMPTY = new byte[0];
}
