package io.xfer.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;

import static io.xfer.protocol.Frames.HEAP;
import static io.xfer.protocol.Frames.utf8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Pins the wire format to docs/PROTOCOL.md: each expected frame is built field by field from the specification
 * with literal codes and sizes, independently of the flyweights' offset constants.
 */
class WireFormatTest
{
    @Test
    void shouldKeepFrameTypeCodesAndMinimumLengths()
    {
        final String[] names =
        {
            "HELLO", "WELCOME", "OPEN", "OPEN_ACK", "FILE_ENTRY", "FILE_STATUS", "DATA", "FILE_END", "TRANSFER_END",
            "TRANSFER_DONE", "ERROR", "PING", "PONG", "CHUNK_ACK"
        };
        final int[] minLengths = {46, 42, 30, 32, 36, 30, 32, 64, 24, 48, 18, 24, 24, 24};

        assertEquals(14, FrameType.MAX_KNOWN);
        assertEquals(14, FrameType.CHUNK_ACK);
        for (int type = 1; type <= 14; type++)
        {
            assertTrue(FrameType.isKnown(type));
            assertEquals(names[type - 1], FrameType.name(type));
            assertEquals(minLengths[type - 1], FrameType.minLength(type), names[type - 1]);
        }
        assertFalse(FrameType.isKnown(0));
        assertFalse(FrameType.isKnown(15));
        assertEquals("UNKNOWN(15)", FrameType.name(15));
        assertEquals(8, Flyweight.HEADER_LENGTH);
        assertEquals(24, ChunkAckFlyweight.LENGTH);
        assertEquals(32, OpenAckFlyweight.LENGTH);
    }

    @Test
    void shouldKeepCapabilityBits()
    {
        assertEquals(1L, Capabilities.LZ4);
        assertEquals(2L, Capabilities.PARALLEL_STREAMS);
        assertEquals(4L, Capabilities.RESUME);
        assertEquals(8L, Capabilities.SHA256);
        assertEquals(16L, Capabilities.PLAINTEXT_DATA);
        assertTrue(Capabilities.has(Capabilities.LZ4 | Capabilities.RESUME, Capabilities.RESUME));
        assertFalse(Capabilities.has(Capabilities.LZ4, Capabilities.RESUME));
        assertFalse(Capabilities.has(Capabilities.LZ4, Capabilities.LZ4 | Capabilities.RESUME));
        assertTrue(Capabilities.has(0L, 0L));
    }

    @Test
    void shouldEncodeHelloAsSpecified()
    {
        final byte[] software = utf8("xfer/0.1 ü");
        final ByteBuffer expected = header(46 + software.length, 1, 0)
            .putInt(0x58464552).put((byte)1).put((byte)1).put((byte)1).put((byte)0)
            .putLong(0x0102030405060708L).putLong(-1L).putLong(2L).putInt(1 << 20)
            .putShort((short)software.length).put(software);

        assertEncoded(expected, HelloFlyweight.encode(HEAP, HelloFlyweight.KIND_DATA, 0x0102030405060708L, -1L, 2L,
            1 << 20, "xfer/0.1 ü"));
    }

    @Test
    void shouldEncodeWelcomeAsSpecified()
    {
        final byte[] software = utf8("agent");
        final ByteBuffer expected = header(42 + software.length, 2, 0)
            .put((byte)1).put(new byte[3]).putLong(8L).putLong(3L).putLong(4L).putInt(65_568)
            .putShort((short)software.length).put(software);

        assertEncoded(expected, WelcomeFlyweight.encode(HEAP, 1, 8L, 3L, 4L, 65_568, "agent"));
    }

    @Test
    void shouldKeepOpenOptionBits()
    {
        assertEquals(1L, OpenFlyweight.OPTION_OVERWRITE);
        assertEquals(2L, OpenFlyweight.OPTION_CONTENTS);
        assertEquals(4L, OpenFlyweight.OPTION_COMPRESS_AUTO);
        assertEquals(8L, OpenFlyweight.OPTION_COMPRESS_ALWAYS);
        assertEquals(16L, OpenFlyweight.OPTION_RESTART);
        assertEquals(64, OpenFlyweight.MAX_RESUME_KEY_LENGTH);
        assertEquals(1, OpenFlyweight.DIRECTION_PUSH);
        assertEquals(2, OpenFlyweight.DIRECTION_PULL);
    }

    @Test
    void shouldEncodeOpenAsSpecified()
    {
        final byte[] module = utf8("data");
        final byte[] path = utf8("a/b");
        final byte[] key = utf8("00ff");
        final ByteBuffer expected = header(30 + module.length + path.length + key.length, 3, 0)
            .put((byte)2).put((byte)6).put(new byte[2]).putLong(0x1FL).putInt(1 << 20)
            .putShort((short)module.length).put(module).putShort((short)path.length).put(path)
            .putShort((short)key.length).put(key);

        assertEncoded(expected, OpenFlyweight.encode(HEAP, OpenFlyweight.DIRECTION_PULL, 6,
            OpenFlyweight.OPTION_OVERWRITE | OpenFlyweight.OPTION_CONTENTS | OpenFlyweight.OPTION_COMPRESS_AUTO |
            OpenFlyweight.OPTION_COMPRESS_ALWAYS | OpenFlyweight.OPTION_RESTART, 1 << 20, "data", "a/b", "00ff"));
    }

    @Test
    void shouldEncodeOpenResumeKeyAsLastString()
    {
        final String key = "0123456789abcdef".repeat(4);
        final ByteBuffer expected = header(30 + 1 + 64, 3, 0)
            .put((byte)1).put((byte)1).put(new byte[2]).putLong(0L).putInt(4096)
            .putShort((short)1).put((byte)'m').putShort((short)0).putShort((short)64).put(utf8(key));

        assertEncoded(expected, OpenFlyweight.encode(HEAP, OpenFlyweight.DIRECTION_PUSH, 1, 0L, 4096, "m", "", key));
    }

    @Test
    void shouldEncodeOpenStreamsAsOneUnsignedByte()
    {
        final ByteBuffer expected = header(30, 3, 0)
            .put((byte)1).put((byte)0xFF).put(new byte[2]).putLong(0L).putInt(0).putShort((short)0).putShort((short)0)
            .putShort((short)0);

        assertEncoded(expected, OpenFlyweight.encode(HEAP, OpenFlyweight.DIRECTION_PUSH, 255, 0L, 0, "", "", ""));
    }

    @Test
    void shouldDecodeOpenBuiltFromSpecification()
    {
        final byte[] module = utf8("m");
        final byte[] path = utf8("p/q");
        final byte[] key = utf8("9e107d9d372bb6826bd81d3542a419d6");
        final ByteBuffer frame = header(30 + module.length + path.length + key.length, 3, 0)
            .put((byte)1).put((byte)200).put(new byte[2]).putLong(4L | 16L).putInt(65_536)
            .putShort((short)module.length).put(module).putShort((short)path.length).put(path)
            .putShort((short)key.length).put(key);

        final OpenFlyweight open = decode(frame, new OpenFlyweight());

        assertEquals(OpenFlyweight.DIRECTION_PUSH, open.direction());
        assertEquals(200, open.streams());
        assertEquals(OpenFlyweight.OPTION_COMPRESS_AUTO | OpenFlyweight.OPTION_RESTART, open.options());
        assertEquals(65_536, open.chunkLength());
        assertEquals("m", open.module());
        assertEquals("p/q", open.path());
        assertEquals("9e107d9d372bb6826bd81d3542a419d6", open.resumeKey());
    }

    @Test
    void shouldDecodeOpenWithEmptyResumeKeyBuiltFromSpecification()
    {
        final byte[] module = utf8("m");
        final ByteBuffer frame = header(30 + module.length, 3, 0)
            .put((byte)2).put((byte)1).put(new byte[2]).putLong(0L).putInt(0)
            .putShort((short)module.length).put(module).putShort((short)0).putShort((short)0);

        final OpenFlyweight open = decode(frame, new OpenFlyweight());

        assertEquals("m", open.module());
        assertEquals("", open.path());
        assertEquals("", open.resumeKey());
    }

    @Test
    void shouldReadOpenStreamsZeroAsOne()
    {
        final ByteBuffer frame = header(30, 3, 0)
            .put((byte)2).put((byte)0).put(new byte[2]).putLong(0L).putInt(0).putShort((short)0).putShort((short)0)
            .putShort((short)0);

        final OpenFlyweight open = decode(frame, new OpenFlyweight());

        assertEquals(1, open.streams());
        assertEquals(OpenFlyweight.DIRECTION_PULL, open.direction());
    }

    @Test
    void shouldEncodeOpenAckAsSpecified()
    {
        final ByteBuffer expected = header(32, 4, 0).putLong(77L).putInt(4096).putInt(3).putLong(1L << 24);

        assertEncoded(expected, OpenAckFlyweight.encode(HEAP, 77L, 4096, 3, 1L << 24));
    }

    @Test
    void shouldDecodeOpenAckBuiltFromSpecification()
    {
        final ByteBuffer frame = header(32, 4, 0).putLong(-5L).putInt(1 << 20).putInt(8).putLong(0x1_0000_0001L);

        final OpenAckFlyweight ack = decode(frame, new OpenAckFlyweight());

        assertEquals(-5L, ack.transferId());
        assertEquals(1 << 20, ack.chunkLength());
        assertEquals(8, ack.streams());
        assertEquals(0x1_0000_0001L, ack.windowBytes());
    }

    @Test
    void shouldEncodeFileEntryAsSpecified()
    {
        final byte[] path = utf8("dir/link");
        final byte[] target = utf8("../x");
        final ByteBuffer expected = header(36 + path.length + target.length, 5, 0)
            .putInt(12).put((byte)3).put((byte)0).putShort((short)0755).putLong(5L).putLong(1_000L)
            .putShort((short)path.length).put(path).putShort((short)target.length).put(target);

        assertEncoded(expected, FileEntryFlyweight.encode(HEAP, 12, FileEntryFlyweight.TYPE_SYMLINK, 0755, 5L, 1_000L,
            "dir/link", "../x"));
    }

    @Test
    void shouldEncodeFileStatusAsSpecified()
    {
        final byte[] message = utf8("ok");
        final ByteBuffer expected = header(30 + message.length, 6, 0)
            .putInt(12).put((byte)1).put(new byte[3]).putLong(1L << 32).putInt(0)
            .putShort((short)message.length).put(message);

        assertEncoded(expected, FileStatusFlyweight.encode(HEAP, 12, FileStatusFlyweight.SEND, 1L << 32, 0, "ok"));
    }

    @Test
    void shouldEncodeDataHeaderAsSpecified()
    {
        final ByteBuffer expected = header(32, 7, 1)
            .putInt(12).putInt(1 << 20).putLong(3L << 20).putInt(0xDEADBEEF).putInt(0);
        final ByteBuf actual = DataFlyweight.encodeHeader(HEAP, DataFlyweight.FLAG_LZ4, 12, 3L << 20, 1 << 20,
            0xDEADBEEF, 0);

        assertEncoded(expected, actual);
    }

    @Test
    void shouldEncodeFileEndAsSpecified()
    {
        final byte[] digest = new byte[32];
        digest[0] = 1;
        digest[31] = 2;
        final ByteBuffer expected = header(64, 8, 0)
            .putInt(12).put((byte)1).put((byte)32).putShort((short)0).putLong(100L).putLong(200L).put(digest);

        assertEncoded(expected, FileEndFlyweight.encode(HEAP, 12, FileEndFlyweight.DIGEST_CHUNK_ROOT, 100L, 200L,
            digest));
    }

    @Test
    void shouldEncodeTransferEndAsSpecified()
    {
        final ByteBuffer expected = header(24, 9, 0).putLong(3L).putLong(4L);

        assertEncoded(expected, TransferEndFlyweight.encode(HEAP, 3L, 4L));
    }

    @Test
    void shouldEncodeTransferDoneAsSpecified()
    {
        final ByteBuffer expected = header(48, 10, 0).putInt(203).putInt(0).putLong(1L).putLong(2L).putLong(3L)
            .putLong(4L);

        assertEncoded(expected, TransferDoneFlyweight.encode(HEAP, 203, 1L, 2L, 3L, 4L));
    }

    @Test
    void shouldEncodeErrorAsSpecified()
    {
        final byte[] message = utf8("bad");
        final ByteBuffer expected = header(18 + message.length, 11, 0)
            .putInt(1).putInt(-1).putShort((short)message.length).put(message);

        assertEncoded(expected, ErrorFlyweight.encode(HEAP, ErrorCode.PROTOCOL_ERROR, ErrorFlyweight.CONNECTION,
            "bad"));
    }

    @Test
    void shouldEncodePingAndPongAsSpecified()
    {
        assertEncoded(header(24, 12, 0).putLong(5L).putLong(6L), PingFlyweight.encode(HEAP, FrameType.PING, 5L, 6L));
        assertEncoded(header(24, 13, 0).putLong(5L).putLong(6L), PingFlyweight.encode(HEAP, FrameType.PONG, 5L, 6L));
    }

    @Test
    void shouldEncodeChunkAckAsSpecified()
    {
        final ByteBuffer expected = header(24, 14, 0).putInt(12).putInt(4096).putLong(3L << 20);

        assertEncoded(expected, ChunkAckFlyweight.encode(HEAP, 12, 3L << 20, 4096));
    }

    @Test
    void shouldDecodeChunkAckBuiltFromSpecification()
    {
        final ByteBuffer frame = header(24, 14, 0).putInt(0x01020304).putInt(0x00050607).putLong(0x08090A0B0C0D0E0FL);

        final ChunkAckFlyweight ack = decode(frame, new ChunkAckFlyweight());

        assertEquals(0x01020304, ack.fileId());
        assertEquals(0x00050607, ack.rawLength());
        assertEquals(0x08090A0B0C0D0E0FL, ack.fileOffset());
    }

    private static ByteBuffer header(final int length, final int type, final int flags)
    {
        // ByteBuffer is big-endian by default, as is the wire.
        return ByteBuffer.allocate(length).putInt(length).put((byte)1).put((byte)type).putShort((short)flags);
    }

    /**
     * Pass a frame built from the specification through {@link FrameDecoder} (all checks) and read it.
     */
    private static <F extends Flyweight> F decode(final ByteBuffer frame, final F flyweight)
    {
        assertEquals(frame.capacity(), frame.position(), "frame fully specified");
        final EmbeddedChannel channel = Frames.channel(ProtocolVersion.HANDSHAKE_FRAME_LENGTH);
        assertTrue(channel.writeInbound(Unpooled.wrappedBuffer(frame.array())));
        final ByteBuf decoded = channel.readInbound();
        try
        {
            assertFalse(channel.finish(), "exactly one frame");
            assertEquals(frame.capacity(), decoded.readableBytes());
            Frames.checkFrame(decoded);
        }
        finally
        {
            decoded.release();
        }
        flyweight.wrap(Unpooled.wrappedBuffer(frame.array()), 0);
        return flyweight;
    }

    private static void assertEncoded(final ByteBuffer expected, final ByteBuf actual)
    {
        assertEquals(expected.capacity(), expected.position(), "expected frame fully specified");
        assertArrayEquals(expected.array(), Frames.bytes(actual));
    }
}
