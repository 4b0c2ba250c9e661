package io.xfer.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sample frames and helpers shared by the protocol tests.
 */
final class Frames
{
    /** Two-, three- and four-byte UTF-8 sequences (the last a surrogate pair in Java). */
    static final String UNICODE_PATH = "données/日本語/файл 😀.bin";

    /** A resume key of 32 lowercase hex digits, as the client derives them. */
    static final String RESUME_KEY = "0123456789abcdef0f1e2d3c4b5a6978";

    /** A heap allocator, leak-tracked like the default one. */
    static final ByteBufAllocator HEAP = new UnpooledByteBufAllocator(false);

    static final byte[] DIGEST = new byte[FileEndFlyweight.MAX_DIGEST_LENGTH];

    static
    {
        for (int i = 0; i < DIGEST.length; i++)
        {
            DIGEST[i] = (byte)(0xA0 + i);
        }
    }

    private Frames()
    {
    }

    static EmbeddedChannel channel(final int maxFrameLength)
    {
        return new EmbeddedChannel(new FrameDecoder(maxFrameLength));
    }

    /**
     * @return a leak-tracked buffer (the default allocator, paranoid detection in tests) holding a copy of bytes.
     */
    static ByteBuf tracked(final byte[] bytes)
    {
        return ByteBufAllocator.DEFAULT.buffer(bytes.length).writeBytes(bytes);
    }

    static ByteBuf tracked(final byte[] bytes, final int index, final int length)
    {
        return ByteBufAllocator.DEFAULT.buffer(length).writeBytes(bytes, index, length);
    }

    /**
     * Copy the readable bytes of a buffer and release it.
     */
    static byte[] bytes(final ByteBuf buffer)
    {
        try
        {
            final byte[] bytes = new byte[buffer.readableBytes()];
            buffer.getBytes(buffer.readerIndex(), bytes);
            return bytes;
        }
        finally
        {
            buffer.release();
        }
    }

    static byte[] concat(final byte[]... parts)
    {
        int length = 0;
        for (final byte[] part : parts)
        {
            length += part.length;
        }
        final byte[] all = new byte[length];
        int index = 0;
        for (final byte[] part : parts)
        {
            System.arraycopy(part, 0, all, index, part.length);
            index += part.length;
        }
        return all;
    }

    static byte[] utf8(final String value)
    {
        return value.getBytes(StandardCharsets.UTF_8);
    }

    /**
     * One valid frame of the given type with Unicode in every string field.
     */
    static byte[] sample(final int type)
    {
        final ByteBufAllocator alloc = HEAP;
        switch (type)
        {
            case FrameType.HELLO:
                return bytes(HelloFlyweight.encode(alloc, HelloFlyweight.KIND_CONTROL,
                    Capabilities.LZ4 | Capabilities.SHA256, 0, 0, ProtocolVersion.MAX_FRAME_LENGTH, "xfer/0.1 ünï"));
            case FrameType.WELCOME:
                return bytes(WelcomeFlyweight.encode(alloc, 1, Capabilities.SHA256, 0x0123456789ABCDEFL,
                    0xFEDCBA9876543210L, 1 << 20, "xfer-agent/0.1 ✓"));
            case FrameType.OPEN:
                return bytes(OpenFlyweight.encode(alloc, OpenFlyweight.DIRECTION_PUSH, 4,
                    OpenFlyweight.OPTION_OVERWRITE | OpenFlyweight.OPTION_COMPRESS_AUTO | OpenFlyweight.OPTION_RESTART,
                    1 << 20, "corpus-α", UNICODE_PATH, RESUME_KEY));
            case FrameType.OPEN_ACK:
                return bytes(OpenAckFlyweight.encode(alloc, 42L, 1 << 20, 4, 8L << 20));
            case FrameType.FILE_ENTRY:
                return bytes(FileEntryFlyweight.encode(alloc, 7, FileEntryFlyweight.TYPE_SYMLINK, 0777, 0L,
                    1_700_000_000_123_456_789L, UNICODE_PATH, "../目标"));
            case FrameType.FILE_STATUS:
                return bytes(FileStatusFlyweight.encode(alloc, 7, FileStatusFlyweight.FAILED, 4096L,
                    ErrorCode.DIGEST_MISMATCH.code(), "digest mismatch: ✗"));
            case FrameType.DATA:
            {
                final byte[] payload = "chunk payload".getBytes(StandardCharsets.US_ASCII);
                return concat(bytes(DataFlyweight.encodeHeader(alloc, 0, 7, 1L << 20, payload.length,
                    0x12345678, payload.length)), payload);
            }
            case FrameType.FILE_END:
                return bytes(FileEndFlyweight.encode(alloc, 7, FileEndFlyweight.DIGEST_CHUNK_ROOT, 1L << 33,
                    1_700_000_000_000_000_000L, DIGEST));
            case FrameType.TRANSFER_END:
                return bytes(TransferEndFlyweight.encode(alloc, 1_000_000L, 1L << 40));
            case FrameType.TRANSFER_DONE:
                return bytes(TransferDoneFlyweight.encode(alloc, 0, 999_998L, 1L, 1L, 1L << 40));
            case FrameType.ERROR:
                return bytes(ErrorFlyweight.encode(alloc, ErrorCode.INVALID_PATH, 7, "invalid path: ../ü"));
            case FrameType.PING:
            case FrameType.PONG:
                return bytes(PingFlyweight.encode(alloc, type, 0xCAFEBABEL, 123_456_789L));
            case FrameType.CHUNK_ACK:
                return bytes(ChunkAckFlyweight.encode(alloc, 7, 1L << 20, 1 << 20));
            default:
                throw new IllegalArgumentException("unknown type " + type);
        }
    }

    /**
     * Replace the frame length field of a frame.
     */
    static byte[] withLength(final byte[] frame, final int length)
    {
        final byte[] copy = frame.clone();
        Unpooled.wrappedBuffer(copy).setInt(Flyweight.LENGTH_OFFSET, length);
        return copy;
    }

    /**
     * Append bytes to a frame and fix its length field.
     */
    static byte[] withTrailing(final byte[] frame, final byte[] extra)
    {
        final byte[] longer = concat(frame, extra);
        return withLength(longer, longer.length);
    }

    /**
     * @return the decoded frames (each checked and released) after writing every buffer.
     */
    static List<byte[]> readAll(final EmbeddedChannel channel)
    {
        final List<byte[]> frames = new ArrayList<>();
        ByteBuf frame;
        while ((frame = channel.readInbound()) != null)
        {
            try
            {
                checkFrame(frame);
            }
            catch (final RuntimeException | AssertionError ex)
            {
                ReferenceCountUtil.release(frame);
                throw ex;
            }
            frames.add(bytes(frame));
        }
        return frames;
    }

    /**
     * Check that a frame handed on by the decoder is whole, validates, and that every field reads without error.
     *
     * @return a description of the frame naming every field.
     */
    static String checkFrame(final ByteBuf frame)
    {
        final int index = frame.readerIndex();
        final int type = FrameDecoder.type(frame);
        assertTrue(FrameType.isKnown(type), "type " + type);
        final Flyweight flyweight = flyweight(type);
        flyweight.wrap(frame, index);
        assertEquals(frame.readableBytes(), flyweight.frameLength(), "frame length");
        assertEquals(Flyweight.FRAME_VERSION, flyweight.version(), "version");
        assertTrue(flyweight.frameLength() >= FrameType.minLength(type), "min length");
        flyweight.validate();
        if (flyweight instanceof OpenFlyweight)
        {
            // independent of OpenFlyweight.validate(): what passes must be a well-formed resume key
            final String key = ((OpenFlyweight)flyweight).resumeKey();
            assertTrue(isResumeKey(key), "resume key accepted: '" + key + "'");
        }
        return describe(flyweight);
    }

    /** @return whether a string is a valid OPEN resume key: at most 64 lowercase hex digits, empty allowed. */
    static boolean isResumeKey(final String key)
    {
        return key.matches("[0-9a-f]{0,64}");
    }

    static Flyweight flyweight(final int type)
    {
        switch (type)
        {
            case FrameType.HELLO: return new HelloFlyweight();
            case FrameType.WELCOME: return new WelcomeFlyweight();
            case FrameType.OPEN: return new OpenFlyweight();
            case FrameType.OPEN_ACK: return new OpenAckFlyweight();
            case FrameType.FILE_ENTRY: return new FileEntryFlyweight();
            case FrameType.FILE_STATUS: return new FileStatusFlyweight();
            case FrameType.DATA: return new DataFlyweight();
            case FrameType.FILE_END: return new FileEndFlyweight();
            case FrameType.TRANSFER_END: return new TransferEndFlyweight();
            case FrameType.TRANSFER_DONE: return new TransferDoneFlyweight();
            case FrameType.ERROR: return new ErrorFlyweight();
            case FrameType.PING:
            case FrameType.PONG: return new PingFlyweight();
            case FrameType.CHUNK_ACK: return new ChunkAckFlyweight();
            default: throw new IllegalArgumentException("unknown type " + type);
        }
    }

    private static String describe(final Flyweight flyweight)
    {
        final String header = FrameType.name(flyweight.type()) + " length=" + flyweight.frameLength() +
            " flags=" + flyweight.flags();
        if (flyweight instanceof HelloFlyweight)
        {
            final HelloFlyweight f = (HelloFlyweight)flyweight;
            return header + " magic=" + f.magic() + " versions=" + f.minVersion() + ".." + f.maxVersion() +
                " kind=" + f.connectionKind() + " caps=" + f.capabilities() + " session=" + f.sessionIdHigh() +
                ":" + f.sessionIdLow() + " max=" + f.maxFrameLength() + " software=" + f.software();
        }
        if (flyweight instanceof WelcomeFlyweight)
        {
            final WelcomeFlyweight f = (WelcomeFlyweight)flyweight;
            return header + " version=" + f.protocolVersion() + " caps=" + f.capabilities() + " session=" +
                f.sessionIdHigh() + ":" + f.sessionIdLow() + " max=" + f.maxFrameLength() +
                " software=" + f.software();
        }
        if (flyweight instanceof OpenFlyweight)
        {
            final OpenFlyweight f = (OpenFlyweight)flyweight;
            return header + " direction=" + f.direction() + " streams=" + f.streams() + " options=" + f.options() +
                " chunk=" + f.chunkLength() + " module=" + f.module() + " path=" + f.path() + " resumeKey=" +
                f.resumeKey();
        }
        if (flyweight instanceof OpenAckFlyweight)
        {
            final OpenAckFlyweight f = (OpenAckFlyweight)flyweight;
            return header + " transfer=" + f.transferId() + " chunk=" + f.chunkLength() + " streams=" +
                f.streams() + " window=" + f.windowBytes();
        }
        if (flyweight instanceof FileEntryFlyweight)
        {
            final FileEntryFlyweight f = (FileEntryFlyweight)flyweight;
            return header + " file=" + f.fileId() + " type=" + f.fileType() + " mode=" + f.mode() + " size=" +
                f.size() + " mtime=" + f.mtimeNs() + " path=" + f.path() + " target=" + f.linkTarget();
        }
        if (flyweight instanceof FileStatusFlyweight)
        {
            final FileStatusFlyweight f = (FileStatusFlyweight)flyweight;
            return header + " file=" + f.fileId() + " status=" + FileStatusFlyweight.statusName(f.status()) +
                " offset=" + f.fileOffset() + " error=" + f.errorCode() + " message=" + f.message();
        }
        if (flyweight instanceof DataFlyweight)
        {
            final DataFlyweight f = (DataFlyweight)flyweight;
            final ByteBuf payload = f.buffer().slice(f.payloadOffset(), f.payloadLength());
            return header + " file=" + f.fileId() + " raw=" + f.rawLength() + " offset=" + f.fileOffset() +
                " crc=" + f.checksum() + " lz4=" + f.isCompressed() + " payload=" + payload.readableBytes();
        }
        if (flyweight instanceof FileEndFlyweight)
        {
            final FileEndFlyweight f = (FileEndFlyweight)flyweight;
            return header + " file=" + f.fileId() + " digestType=" + f.digestType() + " size=" + f.size() +
                " mtime=" + f.mtimeNs() + " digest=" + f.digest().length;
        }
        if (flyweight instanceof TransferEndFlyweight)
        {
            final TransferEndFlyweight f = (TransferEndFlyweight)flyweight;
            return header + " entries=" + f.entryCount() + " bytes=" + f.bytesSent();
        }
        if (flyweight instanceof TransferDoneFlyweight)
        {
            final TransferDoneFlyweight f = (TransferDoneFlyweight)flyweight;
            return header + " status=" + f.status() + " committed=" + f.committed() + " skipped=" + f.skipped() +
                " failed=" + f.failed() + " bytes=" + f.bytesWritten();
        }
        if (flyweight instanceof ErrorFlyweight)
        {
            final ErrorFlyweight f = (ErrorFlyweight)flyweight;
            return header + " code=" + f.code() + " file=" + f.fileId() + " message=" + f.message();
        }
        if (flyweight instanceof ChunkAckFlyweight)
        {
            final ChunkAckFlyweight f = (ChunkAckFlyweight)flyweight;
            return header + " file=" + f.fileId() + " raw=" + f.rawLength() + " offset=" + f.fileOffset();
        }
        final PingFlyweight f = (PingFlyweight)flyweight;
        return header + " nonce=" + f.nonce() + " timestamp=" + f.timestampNs();
    }
}
