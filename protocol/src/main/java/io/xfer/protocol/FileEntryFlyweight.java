package io.xfer.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * FILE_ENTRY: one manifest entry, sent by the sender as it walks the source. Paths are relative to the transfer's
 * destination, '/'-separated, never absolute and never containing "." or ".." segments; receivers check this.
 * Entries flow while data flows: the sender does not wait for the walk to finish.
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

    @Override
    public void validate()
    {
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
        checkEnd(checkString(checkString(PATH_OFFSET, "path"), "link target"));
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
        final FileEntryFlyweight entry = new FileEntryFlyweight();
        entry.wrap(buf, 0);
        entry.header(length, FrameType.FILE_ENTRY, 0);
        buf.setInt(FILE_ID_OFFSET, fileId);
        buf.setByte(FILE_TYPE_OFFSET, fileType);
        buf.setByte(FILE_TYPE_OFFSET + 1, 0);
        buf.setShort(MODE_OFFSET, mode);
        buf.setLong(SIZE_OFFSET, size);
        buf.setLong(MTIME_OFFSET, mtimeNs);
        entry.string(entry.string(PATH_OFFSET, pathBytes), targetBytes);
        return buf.writerIndex(length);
    }
}
