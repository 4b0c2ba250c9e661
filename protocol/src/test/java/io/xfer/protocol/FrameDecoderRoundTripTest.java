package io.xfer.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import java.util.stream.IntStream;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

import static io.xfer.protocol.Frames.DIGEST;
import static io.xfer.protocol.Frames.RESUME_KEY;
import static io.xfer.protocol.Frames.UNICODE_PATH;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every frame type through encode, {@link FrameDecoder} and its flyweight, whole, byte by byte and batched.
 */
class FrameDecoderRoundTripTest
{
    private final EmbeddedChannel channel = Frames.channel(ProtocolVersion.MAX_FRAME_LENGTH);

    @AfterEach
    void after()
    {
        assertFalse(channel.finishAndReleaseAll(), "unread frames left in the channel");
    }

    @AfterAll
    static void afterAll()
    {
        LeakDetection.assertNoLeaks();
    }

    static Stream<ByteBufAllocator> allocators()
    {
        return Stream.of(ByteBufAllocator.DEFAULT, Frames.HEAP);
    }

    @ParameterizedTest
    @MethodSource("allocators")
    void shouldRoundTripHello(final ByteBufAllocator alloc)
    {
        final ByteBuf frame = HelloFlyweight.encode(alloc, HelloFlyweight.KIND_DATA,
            Capabilities.LZ4 | Capabilities.PARALLEL_STREAMS | (1L << 63), 0x8000000000000001L, -2L,
            ProtocolVersion.MAX_FRAME_LENGTH, "xfer/0.1 ✓ 😀");

        roundTrip(frame, FrameType.HELLO, new HelloFlyweight(), (hello) ->
        {
            assertEquals(ProtocolVersion.MAGIC, hello.magic());
            assertEquals(ProtocolVersion.MIN_SUPPORTED, hello.minVersion());
            assertEquals(ProtocolVersion.MAX_SUPPORTED, hello.maxVersion());
            assertEquals(HelloFlyweight.KIND_DATA, hello.connectionKind());
            assertEquals(Capabilities.LZ4 | Capabilities.PARALLEL_STREAMS | (1L << 63), hello.capabilities());
            assertEquals(0x8000000000000001L, hello.sessionIdHigh());
            assertEquals(-2L, hello.sessionIdLow());
            assertEquals(ProtocolVersion.MAX_FRAME_LENGTH, hello.maxFrameLength());
            assertEquals("xfer/0.1 ✓ 😀", hello.software());
            assertEquals(0, hello.flags());
        });
    }

    @ParameterizedTest
    @MethodSource("allocators")
    void shouldRoundTripWelcome(final ByteBufAllocator alloc)
    {
        final ByteBuf frame = WelcomeFlyweight.encode(alloc, 1, Capabilities.SHA256, 0x0123456789ABCDEFL,
            0xFEDCBA9876543210L, 1 << 20, "xfer-agent/0.1 ïñ");

        roundTrip(frame, FrameType.WELCOME, new WelcomeFlyweight(), (welcome) ->
        {
            assertEquals(1, welcome.protocolVersion());
            assertEquals(Capabilities.SHA256, welcome.capabilities());
            assertEquals(0x0123456789ABCDEFL, welcome.sessionIdHigh());
            assertEquals(0xFEDCBA9876543210L, welcome.sessionIdLow());
            assertEquals(1 << 20, welcome.maxFrameLength());
            assertEquals("xfer-agent/0.1 ïñ", welcome.software());
        });
    }

    @ParameterizedTest
    @MethodSource("allocators")
    void shouldRoundTripOpen(final ByteBufAllocator alloc)
    {
        final long options = OpenFlyweight.OPTION_OVERWRITE | OpenFlyweight.OPTION_CONTENTS;
        final ByteBuf frame = OpenFlyweight.encode(alloc, OpenFlyweight.DIRECTION_PULL, 8, options, 4 << 20,
            "корпус", UNICODE_PATH, RESUME_KEY);

        roundTrip(frame, FrameType.OPEN, new OpenFlyweight(), (open) ->
        {
            assertEquals(OpenFlyweight.DIRECTION_PULL, open.direction());
            assertEquals(8, open.streams());
            assertEquals(options, open.options());
            assertEquals(4 << 20, open.chunkLength());
            assertEquals("корпус", open.module());
            assertEquals(UNICODE_PATH, open.path());
            assertEquals(RESUME_KEY, open.resumeKey());
            assertEquals(OpenFlyweight.MIN_LENGTH + Frames.utf8("корпус").length + Frames.utf8(UNICODE_PATH).length +
                RESUME_KEY.length(), open.frameLength());
        });
    }

    @ParameterizedTest(name = "key \"{0}\"")
    @MethodSource("resumeKeys")
    void shouldRoundTripOpenResumeKey(final String resumeKey)
    {
        final ByteBuf frame = OpenFlyweight.encode(ByteBufAllocator.DEFAULT, OpenFlyweight.DIRECTION_PUSH, 2,
            OpenFlyweight.OPTION_RESTART, 1 << 20, "m", "dir/", resumeKey);

        roundTrip(frame, FrameType.OPEN, new OpenFlyweight(), (open) ->
        {
            assertEquals(resumeKey, open.resumeKey());
            assertEquals("m", open.module());
            assertEquals("dir/", open.path());
            assertEquals(OpenFlyweight.OPTION_RESTART, open.options());
            assertEquals(OpenFlyweight.MIN_LENGTH + 1 + 4 + resumeKey.length(), open.frameLength());
        });
    }

    static Stream<String> resumeKeys()
    {
        return Stream.of("", "0", "f", "0123456789abcdef", RESUME_KEY,
            "a".repeat(OpenFlyweight.MAX_RESUME_KEY_LENGTH - 1), "0123456789abcdef".repeat(4));
    }

    @ParameterizedTest
    @MethodSource("compressOptions")
    void shouldRoundTripOpenWithCompressionOptions(final long options)
    {
        final ByteBuf frame = OpenFlyweight.encode(ByteBufAllocator.DEFAULT, OpenFlyweight.DIRECTION_PUSH, 1, options,
            0, "m", "", "");

        roundTrip(frame, FrameType.OPEN, new OpenFlyweight(), (open) ->
        {
            assertEquals(options, open.options());
            assertEquals(1, open.streams());
            assertEquals(0, open.chunkLength());
            assertEquals("m", open.module());
            assertEquals("", open.path());
            assertEquals("", open.resumeKey());
        });
    }

    static LongStream compressOptions()
    {
        return LongStream.of(
            OpenFlyweight.OPTION_COMPRESS_AUTO,
            OpenFlyweight.OPTION_COMPRESS_ALWAYS,
            OpenFlyweight.OPTION_OVERWRITE | OpenFlyweight.OPTION_CONTENTS | OpenFlyweight.OPTION_COMPRESS_AUTO,
            OpenFlyweight.OPTION_COMPRESS_AUTO | OpenFlyweight.OPTION_RESTART,
            -1L);
    }

    @ParameterizedTest(name = "requested {0}, sent {1}")
    @CsvSource({"1, 1", "2, 2", "16, 16", "255, 255", "256, 255", "100000, 255", "0, 1", "-1, 1",
        "-2147483648, 1"})
    void shouldClampRequestedStreamsToOneByteWhenEncodingOpen(final int requested, final int sent)
    {
        final ByteBuf frame = OpenFlyweight.encode(ByteBufAllocator.DEFAULT, OpenFlyweight.DIRECTION_PUSH, requested,
            0L, 0, "m", "p", RESUME_KEY);

        roundTrip(frame, FrameType.OPEN, new OpenFlyweight(), (open) ->
        {
            assertEquals(sent, open.buffer().getUnsignedByte(open.buffer().readerIndex() +
                OpenFlyweight.STREAMS_OFFSET), "streams byte on the wire");
            assertEquals(sent, open.streams());
            assertEquals(OpenFlyweight.DIRECTION_PUSH, open.direction());
        });
    }

    @Test
    void shouldReadOpenStreamsByteZeroAsOne()
    {
        final ByteBuf frame = OpenFlyweight.encode(ByteBufAllocator.DEFAULT, OpenFlyweight.DIRECTION_PULL, 9,
            OpenFlyweight.OPTION_CONTENTS, 1 << 20, "m", "p", "");
        frame.setByte(OpenFlyweight.STREAMS_OFFSET, 0);

        roundTrip(frame, FrameType.OPEN, new OpenFlyweight(), (open) ->
        {
            assertEquals(1, open.streams());
            assertEquals(OpenFlyweight.DIRECTION_PULL, open.direction());
            assertEquals(OpenFlyweight.OPTION_CONTENTS, open.options());
            assertEquals(1 << 20, open.chunkLength());
        });
    }

    @ParameterizedTest
    @MethodSource("allocators")
    void shouldRoundTripOpenAck(final ByteBufAllocator alloc)
    {
        roundTrip(OpenAckFlyweight.encode(alloc, Long.MIN_VALUE + 3, 16 << 20, 7, 64L << 20), FrameType.OPEN_ACK,
            new OpenAckFlyweight(), (ack) ->
            {
                assertEquals(Long.MIN_VALUE + 3, ack.transferId());
                assertEquals(16 << 20, ack.chunkLength());
                assertEquals(7, ack.streams());
                assertEquals(64L << 20, ack.windowBytes());
                assertEquals(OpenAckFlyweight.LENGTH, ack.frameLength());
                assertEquals(32, ack.frameLength());
            });
    }

    @Test
    void shouldRoundTripOpenAckWithSmallestAndLargestGrants()
    {
        roundTrip(OpenAckFlyweight.encode(ByteBufAllocator.DEFAULT, 0L, 1, 1, 1L), FrameType.OPEN_ACK,
            new OpenAckFlyweight(), (ack) ->
            {
                assertEquals(0L, ack.transferId());
                assertEquals(1, ack.chunkLength());
                assertEquals(1, ack.streams());
                assertEquals(1L, ack.windowBytes());
            });
        roundTrip(OpenAckFlyweight.encode(ByteBufAllocator.DEFAULT, -1L, Integer.MAX_VALUE, Integer.MAX_VALUE,
            Long.MAX_VALUE), FrameType.OPEN_ACK, new OpenAckFlyweight(), (ack) ->
            {
                assertEquals(-1L, ack.transferId());
                assertEquals(Integer.MAX_VALUE, ack.chunkLength());
                assertEquals(Integer.MAX_VALUE, ack.streams());
                assertEquals(Long.MAX_VALUE, ack.windowBytes());
            });
    }

    @ParameterizedTest
    @MethodSource("allocators")
    void shouldRoundTripFileEntry(final ByteBufAllocator alloc)
    {
        final ByteBuf frame = FileEntryFlyweight.encode(alloc, Integer.MAX_VALUE, FileEntryFlyweight.TYPE_SYMLINK,
            07777, Long.MAX_VALUE, -1L, UNICODE_PATH, "../目标/😀");

        roundTrip(frame, FrameType.FILE_ENTRY, new FileEntryFlyweight(), (entry) ->
        {
            assertEquals(Integer.MAX_VALUE, entry.fileId());
            assertEquals(FileEntryFlyweight.TYPE_SYMLINK, entry.fileType());
            assertEquals(07777, entry.mode());
            assertEquals(Long.MAX_VALUE, entry.size());
            assertEquals(-1L, entry.mtimeNs());
            assertEquals(UNICODE_PATH, entry.path());
            assertEquals("../目标/😀", entry.linkTarget());
        });
    }

    @ParameterizedTest
    @MethodSource("allocators")
    void shouldRoundTripFileEntryWithEmptyStrings(final ByteBufAllocator alloc)
    {
        final ByteBuf frame = FileEntryFlyweight.encode(alloc, 0, FileEntryFlyweight.TYPE_DIRECTORY, 0755, 0L, 0L,
            "", "");

        roundTrip(frame, FrameType.FILE_ENTRY, new FileEntryFlyweight(), (entry) ->
        {
            assertEquals(FileEntryFlyweight.MIN_LENGTH, entry.frameLength());
            assertEquals(FileEntryFlyweight.TYPE_DIRECTORY, entry.fileType());
            assertEquals(0755, entry.mode());
            assertEquals("", entry.path());
            assertEquals("", entry.linkTarget());
        });
    }

    @ParameterizedTest
    @MethodSource("allocators")
    void shouldRoundTripFileEntryWithInlineContent(final ByteBufAllocator alloc)
    {
        final byte[] content = new byte[FileEntryFlyweight.INLINE_MAX_BYTES];
        new java.util.Random(5).nextBytes(content);
        final ByteBuf source = Unpooled.wrappedBuffer(new byte[] {9, 9}, content);
        final ByteBuf frame = FileEntryFlyweight.encodeInline(alloc, 7, 0640, content.length, 123L, UNICODE_PATH, 0,
            0xCAFEBABE, source, 2, content.length);

        roundTrip(frame, FrameType.FILE_ENTRY, new FileEntryFlyweight(), (entry) ->
        {
            assertTrue(entry.isInline());
            assertFalse(entry.isCompressed());
            assertEquals(7, entry.fileId());
            assertEquals(FileEntryFlyweight.TYPE_FILE, entry.fileType());
            assertEquals(0640, entry.mode());
            assertEquals(content.length, entry.size());
            assertEquals(123L, entry.mtimeNs());
            assertEquals(UNICODE_PATH, entry.path());
            assertEquals("", entry.linkTarget());
            assertEquals(0xCAFEBABE, entry.checksum());
            assertEquals(content.length, entry.contentLength());
            final byte[] carried = new byte[entry.contentLength()];
            entry.buffer().getBytes(entry.contentOffset(), carried);
            assertArrayEquals(content, carried);
        });
        source.release();
    }

    @Test
    void shouldRoundTripCompressedInlineContentAndAnEmptyFile()
    {
        final ByteBuf block = Unpooled.wrappedBuffer(new byte[] {0x10, 'a', 0, 0, 0, 0, 0});
        roundTrip(FileEntryFlyweight.encodeInline(ByteBufAllocator.DEFAULT, 1, 0644, 100, 0L, "a.txt",
            FileEntryFlyweight.FLAG_LZ4, 42, block, 0, 7), FrameType.FILE_ENTRY, new FileEntryFlyweight(), (entry) ->
        {
            assertTrue(entry.isInline());
            assertTrue(entry.isCompressed());
            assertEquals(100, entry.size());
            assertEquals(7, entry.contentLength());
            assertEquals(42, entry.checksum());
        });
        roundTrip(FileEntryFlyweight.encodeInline(ByteBufAllocator.DEFAULT, 2, 0600, 0, 0L, "empty", 0, 0,
            Unpooled.EMPTY_BUFFER, 0, 0), FrameType.FILE_ENTRY, new FileEntryFlyweight(), (entry) ->
        {
            assertTrue(entry.isInline());
            assertEquals(0, entry.contentLength());
            assertEquals("empty", entry.path());
        });
        block.release();
    }

    @Test
    void shouldRoundTripStringOfMaxLength()
    {
        final char[] chars = new char[Flyweight.MAX_STRING_LENGTH / 3];
        Arrays.fill(chars, '語');
        final String path = new String(chars);
        assertEquals(Flyweight.MAX_STRING_LENGTH, Frames.utf8(path).length);

        final ByteBuf frame = FileEntryFlyweight.encode(ByteBufAllocator.DEFAULT, 1, FileEntryFlyweight.TYPE_FILE,
            0644, 1L, 2L, path, "");

        roundTrip(frame, FrameType.FILE_ENTRY, new FileEntryFlyweight(), (entry) ->
        {
            assertEquals(path, entry.path());
            assertEquals("", entry.linkTarget());
        });
    }

    @Test
    void shouldRejectStringLongerThanMaxWhenEncoding()
    {
        final char[] chars = new char[Flyweight.MAX_STRING_LENGTH + 1];
        Arrays.fill(chars, 'a');

        assertThrows(IllegalArgumentException.class, () -> Flyweight.utf8(new String(chars)));
        assertThrows(IllegalArgumentException.class, () -> FileEntryFlyweight.encode(ByteBufAllocator.DEFAULT, 1,
            FileEntryFlyweight.TYPE_FILE, 0644, 1L, 2L, new String(chars), ""));
    }

    @ParameterizedTest
    @MethodSource("fileStatuses")
    void shouldRoundTripFileStatus(final int status)
    {
        final ByteBuf frame = FileStatusFlyweight.encode(ByteBufAllocator.DEFAULT, 9, status, 1L << 40,
            ErrorCode.NO_SPACE.code(), "нет места ✗");

        roundTrip(frame, FrameType.FILE_STATUS, new FileStatusFlyweight(), (fileStatus) ->
        {
            assertEquals(9, fileStatus.fileId());
            assertEquals(status, fileStatus.status());
            assertEquals(1L << 40, fileStatus.fileOffset());
            assertEquals(ErrorCode.NO_SPACE.code(), fileStatus.errorCode());
            assertEquals("нет места ✗", fileStatus.message());
        });
    }

    static IntStream fileStatuses()
    {
        return IntStream.rangeClosed(FileStatusFlyweight.SEND, FileStatusFlyweight.FAILED);
    }

    @Test
    void shouldNameFileStatuses()
    {
        assertEquals("send", FileStatusFlyweight.statusName(FileStatusFlyweight.SEND));
        assertEquals("skipped", FileStatusFlyweight.statusName(FileStatusFlyweight.SKIPPED));
        assertEquals("refused", FileStatusFlyweight.statusName(FileStatusFlyweight.REFUSED));
        assertEquals("committed", FileStatusFlyweight.statusName(FileStatusFlyweight.COMMITTED));
        assertEquals("failed", FileStatusFlyweight.statusName(FileStatusFlyweight.FAILED));
        assertEquals("resend", FileStatusFlyweight.statusName(FileStatusFlyweight.RESEND));
        assertEquals("unknown(7)", FileStatusFlyweight.statusName(7));
    }

    @ParameterizedTest
    @MethodSource("allocators")
    void shouldRoundTripDataWithHeaderAndPayloadInTwoBuffers(final ByteBufAllocator alloc)
    {
        final byte[] payload = randomPayload(10_000);
        final int crc = crc32c(payload);
        final ByteBuf header = DataFlyweight.encodeHeader(alloc, 0, 3, 5L << 30, payload.length, crc, payload.length);
        final ByteBuf body = alloc.buffer(payload.length).writeBytes(payload);

        assertFalse(channel.writeInbound(header), "a header alone is not a frame");
        assertTrue(channel.writeInbound(body));

        final ByteBuf frame = channel.readInbound();
        try
        {
            assertEquals(FrameType.DATA, FrameDecoder.type(frame));
            final DataFlyweight data = new DataFlyweight();
            data.wrap(frame, frame.readerIndex());
            assertEquals(DataFlyweight.HEADER_LENGTH + payload.length, data.frameLength());
            assertEquals(3, data.fileId());
            assertEquals(5L << 30, data.fileOffset());
            assertEquals(payload.length, data.rawLength());
            assertEquals(payload.length, data.payloadLength());
            assertEquals(crc, data.checksum());
            assertFalse(data.isCompressed());

            final byte[] received = new byte[data.payloadLength()];
            frame.getBytes(data.payloadOffset(), received);
            assertArrayEquals(payload, received);
            assertEquals(crc, crc32c(received));
        }
        finally
        {
            ReferenceCountUtil.release(frame);
        }
        assertNull(channel.readInbound());
        assertEquals(0, header.refCnt());
        assertEquals(0, body.refCnt());
    }

    @ParameterizedTest
    @MethodSource("allocators")
    void shouldRoundTripDataWithTheHeaderWrittenInThePayloadsHeadroom(final ByteBufAllocator alloc)
    {
        final byte[] payload = randomPayload(70_000);
        final int crc = crc32c(payload);
        // a sender reads the chunk after room for the header and writes the header there once it is sent
        final int headroom = DataFlyweight.HEADER_LENGTH + 5;
        final ByteBuf chunk = alloc.buffer(headroom + payload.length);
        chunk.setIndex(headroom, headroom).writeBytes(payload);
        final int headerIndex = chunk.readerIndex() - DataFlyweight.HEADER_LENGTH;
        DataFlyweight.writeHeader(chunk, headerIndex, DataFlyweight.FLAG_LZ4, 9, 3L << 40, 123_456, crc,
            payload.length);
        assertEquals(headroom, chunk.readerIndex(), "writing the header moves no index");
        assertEquals(headroom + payload.length, chunk.writerIndex());
        final ByteBuf expected = DataFlyweight.encodeHeader(alloc, DataFlyweight.FLAG_LZ4, 9, 3L << 40, 123_456,
            crc, payload.length);
        assertEquals(expected, chunk.slice(headerIndex, DataFlyweight.HEADER_LENGTH),
            "the same bytes as a separate header");
        expected.release();

        assertTrue(channel.writeInbound(chunk.readerIndex(headerIndex)));
        final ByteBuf frame = channel.readInbound();
        try
        {
            final DataFlyweight data = new DataFlyweight();
            data.wrap(frame, frame.readerIndex());
            assertEquals(FrameType.DATA, data.type());
            assertEquals(9, data.fileId());
            assertEquals(3L << 40, data.fileOffset());
            assertEquals(123_456, data.rawLength());
            assertEquals(crc, data.checksum());
            assertTrue(data.isCompressed());
            final byte[] received = new byte[data.payloadLength()];
            frame.getBytes(data.payloadOffset(), received);
            assertArrayEquals(payload, received);
        }
        finally
        {
            ReferenceCountUtil.release(frame);
        }
        assertNull(channel.readInbound());
        assertEquals(0, chunk.refCnt());
    }

    @Test
    void shouldRoundTripDataHeaderAndPayloadInOneWrite()
    {
        final byte[] payload = randomPayload(100);
        final ByteBuf header = DataFlyweight.encodeHeader(
            ByteBufAllocator.DEFAULT, 0, 1, 0L, payload.length, crc32c(payload), payload.length);
        final ByteBuf body = ByteBufAllocator.DEFAULT.buffer().writeBytes(payload);

        assertTrue(channel.writeInbound(header, body));

        final ByteBuf frame = channel.readInbound();
        final DataFlyweight data = new DataFlyweight();
        data.wrap(frame, frame.readerIndex());
        assertEquals(payload.length, data.payloadLength());
        assertArrayEquals(payload, Frames.bytes(frame.slice(data.payloadOffset(), data.payloadLength()).retain()));
        frame.release();
        assertEquals(0, header.refCnt());
        assertEquals(0, body.refCnt());
    }

    @Test
    void shouldRoundTripCompressedDataWhoseRawLengthDiffersFromPayload()
    {
        final byte[] payload = randomPayload(64);
        final ByteBuf header = DataFlyweight.encodeHeader(
            ByteBufAllocator.DEFAULT, DataFlyweight.FLAG_LZ4, 2, 1L << 20, 1 << 20, 0xCAFEBABE, payload.length);

        assertFalse(channel.writeInbound(header));
        assertTrue(channel.writeInbound(Frames.tracked(payload)));

        final ByteBuf frame = channel.readInbound();
        final DataFlyweight data = new DataFlyweight();
        data.wrap(frame, frame.readerIndex());
        assertEquals(DataFlyweight.FLAG_LZ4, data.flags());
        assertTrue(data.isCompressed());
        assertEquals(1 << 20, data.rawLength());
        assertEquals(payload.length, data.payloadLength());
        assertEquals(0xCAFEBABE, data.checksum());
        frame.release();
    }

    @Test
    void shouldRoundTripEmptyData()
    {
        final ByteBuf header = DataFlyweight.encodeHeader(ByteBufAllocator.DEFAULT, 0, 0, 0L, 0, 0, 0);

        roundTrip(header, FrameType.DATA, new DataFlyweight(), (data) ->
        {
            assertEquals(DataFlyweight.HEADER_LENGTH, data.frameLength());
            assertEquals(0, data.payloadLength());
            assertEquals(0, data.rawLength());
        });
    }

    @Test
    void shouldAcceptDataFrameOfMaxFrameLength()
    {
        final int payloadLength = ProtocolVersion.MAX_FRAME_LENGTH - DataFlyweight.HEADER_LENGTH;
        final ByteBuf header = DataFlyweight.encodeHeader(
            ByteBufAllocator.DEFAULT, 0, 1, 0L, payloadLength, 0, payloadLength);
        final ByteBuf body = ByteBufAllocator.DEFAULT.buffer(payloadLength).writeZero(payloadLength);

        assertFalse(channel.writeInbound(header));
        assertTrue(channel.writeInbound(body));

        final ByteBuf frame = channel.readInbound();
        assertEquals(ProtocolVersion.MAX_FRAME_LENGTH, frame.readableBytes());
        frame.release();
        assertEquals(0, body.refCnt());
    }

    @ParameterizedTest
    @MethodSource("allocators")
    void shouldRoundTripFileEnd(final ByteBufAllocator alloc)
    {
        final byte[] digest = Arrays.copyOf(DIGEST, 20);
        final ByteBuf frame = FileEndFlyweight.encode(alloc, 11, FileEndFlyweight.DIGEST_CHUNK_ROOT, 1L << 33,
            1_700_000_000_000_000_007L, digest);

        roundTrip(frame, FrameType.FILE_END, new FileEndFlyweight(), (end) ->
        {
            assertEquals(11, end.fileId());
            assertEquals(FileEndFlyweight.DIGEST_CHUNK_ROOT, end.digestType());
            assertEquals(20, end.digestLength());
            assertEquals(1L << 33, end.size());
            assertEquals(1_700_000_000_000_000_007L, end.mtimeNs());
            assertArrayEquals(digest, end.digest());
            for (int i = 20; i < FileEndFlyweight.MAX_DIGEST_LENGTH; i++)
            {
                assertEquals(0, end.buffer().getByte(FileEndFlyweight.DIGEST_OFFSET + i), "padding at " + i);
            }
        });
    }

    @Test
    void shouldRejectDigestLongerThanMaxWhenEncoding()
    {
        assertThrows(IllegalArgumentException.class, () -> FileEndFlyweight.encode(ByteBufAllocator.DEFAULT, 1,
            FileEndFlyweight.DIGEST_CHUNK_ROOT, 0L, 0L, new byte[FileEndFlyweight.MAX_DIGEST_LENGTH + 1]));
    }

    @ParameterizedTest
    @MethodSource("allocators")
    void shouldRoundTripTransferEnd(final ByteBufAllocator alloc)
    {
        roundTrip(TransferEndFlyweight.encode(alloc, 1_000_000L, Long.MAX_VALUE), FrameType.TRANSFER_END,
            new TransferEndFlyweight(), (end) ->
            {
                assertEquals(1_000_000L, end.entryCount());
                assertEquals(Long.MAX_VALUE, end.bytesSent());
            });
    }

    @ParameterizedTest
    @MethodSource("allocators")
    void shouldRoundTripTransferDone(final ByteBufAllocator alloc)
    {
        final ByteBuf frame = TransferDoneFlyweight.encode(alloc, ErrorCode.DIGEST_MISMATCH.code(), 10L, 20L, 30L,
            40L << 30);

        roundTrip(frame, FrameType.TRANSFER_DONE, new TransferDoneFlyweight(), (done) ->
        {
            assertEquals(ErrorCode.DIGEST_MISMATCH.code(), done.status());
            assertEquals(10L, done.committed());
            assertEquals(20L, done.skipped());
            assertEquals(30L, done.failed());
            assertEquals(40L << 30, done.bytesWritten());
        });
    }

    @ParameterizedTest
    @MethodSource("allocators")
    void shouldRoundTripConnectionError(final ByteBufAllocator alloc)
    {
        final ByteBuf frame = ErrorFlyweight.encode(alloc, ErrorCode.INVALID_PATH, ErrorFlyweight.CONNECTION,
            "invalid path '../é'");

        roundTrip(frame, FrameType.ERROR, new ErrorFlyweight(), (error) ->
        {
            assertEquals(ErrorCode.INVALID_PATH.code(), error.code());
            assertEquals(ErrorCode.INVALID_PATH, ErrorCode.get(error.code()));
            assertEquals(-1, error.fileId());
            assertEquals("invalid path '../é'", error.message());
        });
    }

    @Test
    void shouldRoundTripErrorWithUnknownCodeAndTruncateLongMessage()
    {
        final char[] chars = new char[10_000];
        Arrays.fill(chars, 'é');
        final ByteBuf frame = ErrorFlyweight.encode(ByteBufAllocator.DEFAULT, 999, 5, new String(chars));

        roundTrip(frame, FrameType.ERROR, new ErrorFlyweight(), (error) ->
        {
            assertEquals(999, error.code());
            assertNull(ErrorCode.get(error.code()));
            assertEquals(5, error.fileId());
            assertEquals(new String(chars, 0, 4096), error.message());
        });
    }

    @ParameterizedTest
    @MethodSource("pingTypes")
    void shouldRoundTripPingAndPong(final int type)
    {
        roundTrip(PingFlyweight.encode(ByteBufAllocator.DEFAULT, type, -7L, 123_456_789_012L), type,
            new PingFlyweight(), (ping) ->
            {
                assertEquals(type, ping.type());
                assertEquals(-7L, ping.nonce());
                assertEquals(123_456_789_012L, ping.timestampNs());
            });
    }

    static IntStream pingTypes()
    {
        return IntStream.of(FrameType.PING, FrameType.PONG);
    }

    @ParameterizedTest
    @MethodSource("allocators")
    void shouldRoundTripChunkAck(final ByteBufAllocator alloc)
    {
        roundTrip(ChunkAckFlyweight.encode(alloc, 17, 5L << 30, 1 << 20), FrameType.CHUNK_ACK,
            new ChunkAckFlyweight(), (ack) ->
            {
                assertEquals(17, ack.fileId());
                assertEquals(5L << 30, ack.fileOffset());
                assertEquals(1 << 20, ack.rawLength());
                assertEquals(0, ack.flags());
                assertEquals(ChunkAckFlyweight.LENGTH, ack.frameLength());
                assertEquals(24, ack.frameLength());
            });
    }

    @Test
    void shouldRoundTripChunkAckAtFieldLimits()
    {
        roundTrip(ChunkAckFlyweight.encode(ByteBufAllocator.DEFAULT, 0, 0L, 0), FrameType.CHUNK_ACK,
            new ChunkAckFlyweight(), (ack) ->
            {
                assertEquals(0, ack.fileId());
                assertEquals(0L, ack.fileOffset());
                assertEquals(0, ack.rawLength());
            });
        roundTrip(ChunkAckFlyweight.encode(ByteBufAllocator.DEFAULT, Integer.MAX_VALUE, Long.MAX_VALUE,
            Integer.MAX_VALUE), FrameType.CHUNK_ACK, new ChunkAckFlyweight(), (ack) ->
            {
                assertEquals(Integer.MAX_VALUE, ack.fileId());
                assertEquals(Long.MAX_VALUE, ack.fileOffset());
                assertEquals(Integer.MAX_VALUE, ack.rawLength());
            });
    }

    @Test
    void shouldAcknowledgeDataChunkWithItsOwnFields()
    {
        final byte[] payload = randomPayload(333);
        final ByteBuf header = DataFlyweight.encodeHeader(
            ByteBufAllocator.DEFAULT, 0, 4, 3L << 20, payload.length, crc32c(payload), payload.length);
        assertTrue(channel.writeInbound(header, Frames.tracked(payload)));
        final ByteBuf dataFrame = channel.readInbound();
        final DataFlyweight data = new DataFlyweight();
        data.wrap(dataFrame, dataFrame.readerIndex());
        final ByteBuf ackFrame = ChunkAckFlyweight.encode(
            ByteBufAllocator.DEFAULT, data.fileId(), data.fileOffset(), data.rawLength());
        dataFrame.release();

        roundTrip(ackFrame, FrameType.CHUNK_ACK, new ChunkAckFlyweight(), (ack) ->
        {
            assertEquals(4, ack.fileId());
            assertEquals(3L << 20, ack.fileOffset());
            assertEquals(333, ack.rawLength());
        });
    }

    @Test
    void shouldRejectPingEncodingOfOtherType()
    {
        assertThrows(IllegalArgumentException.class,
            () -> PingFlyweight.encode(ByteBufAllocator.DEFAULT, FrameType.DATA, 0L, 0L));
    }

    @ParameterizedTest
    @MethodSource("frameTypes")
    void shouldDecodeFrameDeliveredByteByByte(final int type)
    {
        final byte[] frame = Frames.sample(type);
        final List<ByteBuf> inputs = new ArrayList<>();
        for (int i = 0; i < frame.length; i++)
        {
            final ByteBuf input = Frames.tracked(frame, i, 1);
            inputs.add(input);
            final boolean produced = channel.writeInbound(input);
            assertEquals(i == frame.length - 1, produced, "output after byte " + i);
        }

        final List<byte[]> frames = Frames.readAll(channel);
        assertEquals(1, frames.size());
        assertArrayEquals(frame, frames.get(0));
        inputs.forEach((input) -> assertEquals(0, input.refCnt()));
    }

    @Test
    void shouldDecodeEveryFrameTypeFromOneBuffer()
    {
        final byte[][] samples = frameTypes().mapToObj(Frames::sample).toArray(byte[][]::new);
        final ByteBuf input = Frames.tracked(Frames.concat(samples));

        assertTrue(channel.writeInbound(input));

        final List<byte[]> frames = Frames.readAll(channel);
        assertEquals(samples.length, frames.size());
        for (int i = 0; i < samples.length; i++)
        {
            assertArrayEquals(samples[i], frames.get(i), "frame " + i);
        }
        assertEquals(0, input.refCnt());
    }

    @Test
    void shouldDecodeFramesSplitAcrossBufferBoundaries()
    {
        final byte[] all = Frames.concat(frameTypes().mapToObj(Frames::sample).toArray(byte[][]::new));
        final List<ByteBuf> inputs = new ArrayList<>();
        int index = 0;
        int step = 1;
        while (index < all.length)
        {
            final int length = Math.min(step, all.length - index);
            final ByteBuf input = Frames.tracked(all, index, length);
            inputs.add(input);
            channel.writeInbound(input);
            index += length;
            step = step * 3 % 37 + 1;
        }

        final List<byte[]> frames = Frames.readAll(channel);
        assertEquals(FrameType.MAX_KNOWN, frames.size());
        assertArrayEquals(all, Frames.concat(frames.toArray(new byte[0][])));
        inputs.forEach((input) -> assertEquals(0, input.refCnt()));
    }

    @Test
    void shouldKeepHeldFrameIntactWhileMoreInputArrives()
    {
        final byte[] first = Frames.sample(FrameType.FILE_ENTRY);
        final byte[] second = Frames.sample(FrameType.DATA);
        assertTrue(channel.writeInbound(Frames.tracked(first)));
        final ByteBuf held = channel.readInbound();

        // Enough small reads to make the decoder discard read bytes and grow its cumulation several times.
        for (int round = 0; round < 20; round++)
        {
            for (int i = 0; i < second.length; i++)
            {
                channel.writeInbound(Frames.tracked(second, i, 1));
            }
        }

        assertEquals(20, Frames.readAll(channel).size());
        assertArrayEquals(first, Frames.bytes(held));
    }

    @Test
    void shouldEmitNothingForFrameCutShortAtClose()
    {
        final byte[] frame = Frames.sample(FrameType.HELLO);
        final ByteBuf input = Frames.tracked(frame, 0, frame.length - 1);

        assertFalse(channel.writeInbound(input));
        assertNull(channel.readInbound());
        assertFalse(channel.finish());
        assertNull(channel.readInbound());
        assertEquals(0, input.refCnt());
    }

    @Test
    void shouldEmitNothingForHeaderCutShortAtClose()
    {
        final ByteBuf input = Frames.tracked(Frames.sample(FrameType.PING), 0, Flyweight.HEADER_LENGTH - 1);

        assertFalse(channel.writeInbound(input));
        assertFalse(channel.finish());
        assertEquals(0, input.refCnt());
    }

    @Test
    void shouldDecodeWholeFramesAndDropTheTruncatedOneAtClose()
    {
        final byte[] ping = Frames.sample(FrameType.PING);
        final byte[] entry = Frames.sample(FrameType.FILE_ENTRY);
        final ByteBuf input = Frames.tracked(Frames.concat(ping, Arrays.copyOf(entry, entry.length - 5)));

        assertTrue(channel.writeInbound(input));
        assertTrue(channel.finish(), "the whole frame is still unread");

        final List<byte[]> frames = Frames.readAll(channel);
        assertEquals(1, frames.size());
        assertArrayEquals(ping, frames.get(0));
        assertEquals(0, input.refCnt());
    }

    @Test
    void shouldApplyNewMaxFrameLengthToLaterFrames()
    {
        final EmbeddedChannel handshake = Frames.channel(ProtocolVersion.HANDSHAKE_FRAME_LENGTH);
        final FrameDecoder decoder = handshake.pipeline().get(FrameDecoder.class);
        assertEquals(ProtocolVersion.HANDSHAKE_FRAME_LENGTH, decoder.maxFrameLength());

        final int payloadLength = ProtocolVersion.HANDSHAKE_FRAME_LENGTH;
        decoder.maxFrameLength(1 << 20);
        final ByteBuf header = DataFlyweight.encodeHeader(
            ByteBufAllocator.DEFAULT, 0, 1, 0L, payloadLength, 0, payloadLength);
        assertFalse(handshake.writeInbound(header));
        assertTrue(handshake.writeInbound(ByteBufAllocator.DEFAULT.buffer().writeZero(payloadLength)));

        final ByteBuf frame = handshake.readInbound();
        assertNotNull(frame);
        assertEquals(DataFlyweight.HEADER_LENGTH + payloadLength, frame.readableBytes());
        frame.release();
        assertFalse(handshake.finishAndReleaseAll());
    }

    @Test
    void shouldRejectMaxFrameLengthOutsideLimits()
    {
        assertThrows(IllegalArgumentException.class, () -> new FrameDecoder(Flyweight.HEADER_LENGTH - 1));
        assertThrows(IllegalArgumentException.class, () -> new FrameDecoder(ProtocolVersion.MAX_FRAME_LENGTH + 1));
        final FrameDecoder decoder = new FrameDecoder(Flyweight.HEADER_LENGTH);
        assertThrows(IllegalArgumentException.class, () -> decoder.maxFrameLength(-1));
        decoder.maxFrameLength(ProtocolVersion.MAX_FRAME_LENGTH);
        assertEquals(ProtocolVersion.MAX_FRAME_LENGTH, decoder.maxFrameLength());
    }

    static IntStream frameTypes()
    {
        return IntStream.rangeClosed(FrameType.HELLO, FrameType.MAX_KNOWN);
    }

    private <F extends Flyweight> void roundTrip(
        final ByteBuf encoded, final int type, final F flyweight, final Consumer<F> assertions)
    {
        final int length = encoded.readableBytes();
        assertEquals(length, encoded.getInt(encoded.readerIndex() + Flyweight.LENGTH_OFFSET), "length field");

        assertTrue(channel.writeInbound(encoded));

        final ByteBuf frame = channel.readInbound();
        try
        {
            assertNotNull(frame);
            assertNull(channel.readInbound(), "exactly one frame");
            assertEquals(length, frame.readableBytes());
            assertEquals(type, FrameDecoder.type(frame));
            Frames.checkFrame(frame);

            flyweight.wrap(frame, frame.readerIndex());
            assertEquals(length, flyweight.frameLength());
            assertEquals(Flyweight.FRAME_VERSION, flyweight.version());
            assertEquals(type, flyweight.type());
            assertions.accept(flyweight);
        }
        finally
        {
            ReferenceCountUtil.release(frame);
        }
        assertEquals(0, encoded.refCnt(), "input buffer released once the frame is");
    }

    private static byte[] randomPayload(final int length)
    {
        final byte[] payload = new byte[length];
        new Random(length).nextBytes(payload);
        return payload;
    }

    private static int crc32c(final byte[] bytes)
    {
        final CRC32C crc = new CRC32C();
        crc.update(bytes);
        return (int)crc.getValue();
    }
}
