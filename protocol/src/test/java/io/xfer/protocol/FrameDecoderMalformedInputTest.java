package io.xfer.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/**
 * Bad input: each must fail with a {@link ProtocolException} carrying the right {@link ErrorCode}, release what it
 * was given, and make the decoder discard everything that follows.
 */
class FrameDecoderMalformedInputTest
{
    private static final int MAX_FRAME_LENGTH = ProtocolVersion.HANDSHAKE_FRAME_LENGTH;

    private final EmbeddedChannel channel = Frames.channel(MAX_FRAME_LENGTH);

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

    @Test
    void shouldRejectFrameWhenLengthExceedsMax()
    {
        final ProtocolException ex = assertRejected(
            Frames.withLength(Frames.sample(FrameType.PING), MAX_FRAME_LENGTH + 1), ErrorCode.FRAME_TOO_LONG);

        assertTrue(ex.getMessage().contains(Integer.toString(MAX_FRAME_LENGTH + 1)), ex.getMessage());
    }

    @Test
    void shouldRejectOversizeFrameFromHeaderAloneWithoutBufferingBody()
    {
        final byte[] header = Arrays.copyOf(Frames.withLength(Frames.sample(FrameType.DATA), Integer.MAX_VALUE),
            Flyweight.HEADER_LENGTH);

        assertRejected(header, ErrorCode.FRAME_TOO_LONG);
    }

    @Test
    void shouldAcceptFrameOfExactlyMaxLength()
    {
        final int payloadLength = MAX_FRAME_LENGTH - DataFlyweight.HEADER_LENGTH;
        final ByteBuf header = DataFlyweight.encodeHeader(
            ByteBufAllocator.DEFAULT, 0, 1, 0L, payloadLength, 0, payloadLength);

        channel.writeInbound(header, ByteBufAllocator.DEFAULT.buffer(payloadLength).writeZero(payloadLength));

        final List<byte[]> frames = Frames.readAll(channel);
        assertEquals(1, frames.size());
        assertEquals(MAX_FRAME_LENGTH, frames.get(0).length);
    }

    @ParameterizedTest
    @ValueSource(ints = {Integer.MIN_VALUE, -1, 0, 1, Flyweight.HEADER_LENGTH - 1})
    void shouldRejectFrameWhenLengthIsShorterThanHeader(final int length)
    {
        assertRejected(Frames.withLength(Frames.sample(FrameType.PING), length), ErrorCode.PROTOCOL_ERROR);
    }

    @ParameterizedTest
    @MethodSource("frameTypes")
    void shouldRejectFrameWhenLengthIsBelowTypeMinimum(final int type)
    {
        final int length = FrameType.minLength(type) - 1;
        final byte[] frame = Arrays.copyOf(Frames.sample(type), length);

        final ProtocolException ex = assertRejected(Frames.withLength(frame, length), ErrorCode.PROTOCOL_ERROR);

        assertTrue(ex.getMessage().startsWith(FrameType.name(type)), ex.getMessage());
    }

    @ParameterizedTest
    @ValueSource(ints = {0, FrameType.MAX_KNOWN + 1, 0x7F, 0xFF})
    void shouldRejectUnknownFrameType(final int type)
    {
        final byte[] frame = Frames.sample(FrameType.PING);
        frame[Flyweight.TYPE_OFFSET] = (byte)type;

        assertRejected(frame, ErrorCode.UNKNOWN_FRAME_TYPE);
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 2, 0xFF})
    void shouldRejectWrongHeaderVersion(final int version)
    {
        final byte[] frame = Frames.sample(FrameType.HELLO);
        frame[Flyweight.VERSION_OFFSET] = (byte)version;

        assertRejected(frame, ErrorCode.UNSUPPORTED_VERSION);
    }

    @Test
    void shouldRejectBadHelloMagic()
    {
        final ProtocolException ex = assertRejected(
            patch(FrameType.HELLO, (buf) -> buf.setInt(HelloFlyweight.MAGIC_OFFSET, 0x58464553)),
            ErrorCode.PROTOCOL_ERROR);

        assertTrue(ex.getMessage().contains("magic"), ex.getMessage());
    }

    @Test
    void shouldRejectUnknownFileStatus()
    {
        assertRejected(patch(FrameType.FILE_STATUS, (buf) -> buf.setByte(FileStatusFlyweight.STATUS_OFFSET, 7)),
            ErrorCode.PROTOCOL_ERROR);
    }

    @Test
    void shouldRejectChunkAckShorterThanItsLengthNamingTheType()
    {
        final ProtocolException ex = assertRejected(
            Frames.withLength(Arrays.copyOf(Frames.sample(FrameType.CHUNK_ACK), 16), 16), ErrorCode.PROTOCOL_ERROR);

        assertTrue(ex.getMessage().startsWith("CHUNK_ACK"), ex.getMessage());
        assertTrue(ex.getMessage().contains("24"), ex.getMessage());
    }

    @ParameterizedTest
    @ValueSource(ints = {ChunkAckFlyweight.FILE_ID_OFFSET, ChunkAckFlyweight.RAW_LENGTH_OFFSET,
        ChunkAckFlyweight.FILE_OFFSET_OFFSET})
    void shouldRejectChunkAckWithNegativeField(final int fieldOffset)
    {
        final ProtocolException ex = assertRejected(
            patch(FrameType.CHUNK_ACK, (buf) -> buf.setByte(fieldOffset, 0x80)), ErrorCode.PROTOCOL_ERROR);

        assertTrue(ex.getMessage().startsWith("CHUNK_ACK"), ex.getMessage());
        assertTrue(ex.getMessage().contains("negative"), ex.getMessage());
    }

    @Test
    void shouldRejectChunkAckWithTrailingBytes()
    {
        final ProtocolException ex = assertRejected(
            Frames.withTrailing(Frames.sample(FrameType.CHUNK_ACK), new byte[3]), ErrorCode.PROTOCOL_ERROR);

        assertTrue(ex.getMessage().startsWith("CHUNK_ACK"), ex.getMessage());
        assertTrue(ex.getMessage().contains("3 unexpected trailing bytes"), ex.getMessage());
    }

    @ParameterizedTest
    @ValueSource(ints = {OpenAckFlyweight.CHUNK_LENGTH_OFFSET, OpenAckFlyweight.STREAMS_OFFSET,
        OpenAckFlyweight.WINDOW_OFFSET})
    void shouldRejectOpenAckWithNonPositiveGrant(final int fieldOffset)
    {
        final ProtocolException ex = assertRejected(patch(FrameType.OPEN_ACK, (buf) ->
        {
            if (fieldOffset == OpenAckFlyweight.WINDOW_OFFSET)
            {
                buf.setLong(fieldOffset, 0L);
            }
            else
            {
                buf.setInt(fieldOffset, 0);
            }
        }), ErrorCode.PROTOCOL_ERROR);

        assertTrue(ex.getMessage().startsWith("OPEN_ACK"), ex.getMessage());
        assertTrue(ex.getMessage().contains("must be positive"), ex.getMessage());
    }

    @Test
    void shouldAcceptOpenWithStreamsByteZero()
    {
        final byte[] frame = patch(FrameType.OPEN, (buf) -> buf.setByte(OpenFlyweight.STREAMS_OFFSET, 0));

        assertTrue(channel.writeInbound(Frames.tracked(frame)));

        final List<byte[]> frames = Frames.readAll(channel);
        assertEquals(1, frames.size());
        assertArrayEquals(frame, frames.get(0));
    }

    @ParameterizedTest(name = "key \"{0}\"")
    @ValueSource(strings = {"", "0", "0123456789abcdef",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"})
    void shouldAcceptOpenWithValidResumeKey(final String key)
    {
        final byte[] frame = openWithResumeKey(key);

        assertTrue(channel.writeInbound(Frames.tracked(frame)));

        final List<byte[]> frames = Frames.readAll(channel);
        assertEquals(1, frames.size());
        assertArrayEquals(frame, frames.get(0));
    }

    @ParameterizedTest(name = "key \"{0}\"")
    @ValueSource(strings = {"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0",
        "A", "0123456789abcdeF", "g", "0x12", " 12", "12 ", "-1", "12/34", "../ab", "é", "１２", "\0"})
    void shouldRejectOpenWithBadResumeKey(final String key)
    {
        final ProtocolException ex = assertRejected(openWithResumeKey(key), ErrorCode.PROTOCOL_ERROR);

        assertTrue(ex.getMessage().startsWith("OPEN"), ex.getMessage());
        assertTrue(ex.getMessage().contains("resume key"), ex.getMessage());
    }

    @Test
    void shouldRejectOpenWhoseResumeKeyOverrunsFrameNamingTheField()
    {
        final ProtocolException ex = assertRejected(patch(FrameType.OPEN,
            (buf) -> buf.setShort(openResumeKeyOffset(), Frames.RESUME_KEY.length() + 1)), ErrorCode.PROTOCOL_ERROR);

        assertTrue(ex.getMessage().startsWith("OPEN"), ex.getMessage());
        assertTrue(ex.getMessage().contains("resume key"), ex.getMessage());
        assertTrue(ex.getMessage().contains("overruns"), ex.getMessage());
    }

    @Test
    void shouldRejectOpenWithTrailingBytesAfterResumeKey()
    {
        final ProtocolException ex = assertRejected(
            Frames.withTrailing(Frames.sample(FrameType.OPEN), new byte[]{'a', 'b', 'c'}), ErrorCode.PROTOCOL_ERROR);

        assertTrue(ex.getMessage().startsWith("OPEN"), ex.getMessage());
        assertTrue(ex.getMessage().contains("3 unexpected trailing bytes"), ex.getMessage());
    }

    @Test
    void shouldRejectTruncatedFrameOnlyWhenComplete()
    {
        final byte[] frame = Frames.sample(FrameType.FILE_STATUS);
        Unpooled.wrappedBuffer(frame).setByte(FileStatusFlyweight.STATUS_OFFSET, 0);

        assertFalse(channel.writeInbound(Frames.tracked(frame, 0, frame.length - 1)), "incomplete: nothing yet");
        final ProtocolException ex = assertThrows(ProtocolException.class,
            () -> channel.writeInbound(Frames.tracked(frame, frame.length - 1, 1)));

        assertEquals(ErrorCode.PROTOCOL_ERROR, ex.errorCode());
        assertDiscardsFurtherInput();
    }

    @Test
    void shouldDeliverFramesBeforeBadFrameAndDiscardAfter()
    {
        final byte[] ping = Frames.sample(FrameType.PING);
        final byte[] bad = Frames.withLength(Frames.sample(FrameType.PONG), 7);
        final ByteBuf input = Frames.tracked(Frames.concat(ping, ping, bad, ping));

        final ProtocolException ex = assertThrows(ProtocolException.class, () -> channel.writeInbound(input));

        assertEquals(ErrorCode.PROTOCOL_ERROR, ex.errorCode());
        final List<byte[]> frames = Frames.readAll(channel);
        assertEquals(2, frames.size());
        assertArrayEquals(ping, frames.get(0));
        assertArrayEquals(ping, frames.get(1));
        assertEquals(0, input.refCnt(), "input released with the frames sliced from it");
        assertDiscardsFurtherInput();
    }

    @Test
    void shouldDiscardInputAtCloseAfterFailure()
    {
        assertRejected(Frames.withLength(Frames.sample(FrameType.PING), 3), ErrorCode.PROTOCOL_ERROR);
        final ByteBuf partial = Frames.tracked(Frames.sample(FrameType.HELLO), 0, 20);

        assertFalse(channel.writeInbound(partial));
        assertFalse(channel.finish());
        assertEquals(0, partial.refCnt());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("malformedFrames")
    void shouldRejectMalformedFrame(final String description, final byte[] frame, final ErrorCode errorCode)
    {
        assertRejected(frame, errorCode);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("malformedFrames")
    void shouldRejectMalformedFrameDeliveredByteByByte(
        final String description, final byte[] frame, final ErrorCode errorCode)
    {
        for (int i = 0; i < frame.length - 1; i++)
        {
            final ByteBuf input = Frames.tracked(frame, i, 1);
            if (i < Flyweight.HEADER_LENGTH - 1 || !headerIsBad(frame))
            {
                assertFalse(channel.writeInbound(input), "nothing before the frame is complete, byte " + i);
            }
            else
            {
                final ProtocolException ex = assertThrows(ProtocolException.class, () -> channel.writeInbound(input));
                assertEquals(errorCode, ex.errorCode());
                assertDiscardsFurtherInput();
                return;
            }
        }
        final ProtocolException ex = assertThrows(ProtocolException.class,
            () -> channel.writeInbound(Frames.tracked(frame, frame.length - 1, 1)));
        assertEquals(errorCode, ex.errorCode());
        assertDiscardsFurtherInput();
    }

    static Stream<Arguments> malformedFrames()
    {
        final byte[] invalidUtf8Hello = Frames.sample(FrameType.HELLO);
        invalidUtf8Hello[invalidUtf8Hello.length - 1] = (byte)0xFF;

        return Stream.of(
            arguments("HELLO software overruns frame", patch(FrameType.HELLO,
                (buf) -> buf.setShort(HelloFlyweight.SOFTWARE_OFFSET, buf.readableBytes())), ErrorCode.PROTOCOL_ERROR),
            arguments("HELLO software invalid UTF-8", invalidUtf8Hello, ErrorCode.PROTOCOL_ERROR),
            arguments("HELLO trailing byte", trailing(FrameType.HELLO), ErrorCode.PROTOCOL_ERROR),
            arguments("HELLO unknown connection kind", patch(FrameType.HELLO,
                (buf) -> buf.setByte(HelloFlyweight.KIND_OFFSET, 2)), ErrorCode.PROTOCOL_ERROR),
            arguments("WELCOME software overruns frame", patch(FrameType.WELCOME,
                (buf) -> buf.setShort(WelcomeFlyweight.SOFTWARE_OFFSET, 0xFFFF)), ErrorCode.PROTOCOL_ERROR),
            arguments("WELCOME trailing byte", trailing(FrameType.WELCOME), ErrorCode.PROTOCOL_ERROR),
            arguments("OPEN unknown direction 0", patch(FrameType.OPEN,
                (buf) -> buf.setByte(OpenFlyweight.DIRECTION_OFFSET, 0)), ErrorCode.PROTOCOL_ERROR),
            arguments("OPEN unknown direction 3", patch(FrameType.OPEN,
                (buf) -> buf.setByte(OpenFlyweight.DIRECTION_OFFSET, 3)), ErrorCode.PROTOCOL_ERROR),
            arguments("OPEN module overruns frame", patch(FrameType.OPEN,
                (buf) -> buf.setShort(OpenFlyweight.MODULE_OFFSET, buf.readableBytes())), ErrorCode.PROTOCOL_ERROR),
            arguments("OPEN path length field beyond frame", openWithoutPathLength(), ErrorCode.PROTOCOL_ERROR),
            arguments("OPEN path overruns frame", patch(FrameType.OPEN, (buf) -> buf.setShort(openPathOffset(),
                buf.readableBytes())), ErrorCode.PROTOCOL_ERROR),
            arguments("OPEN resume key length field beyond frame", openWithoutResumeKeyLength(),
                ErrorCode.PROTOCOL_ERROR),
            arguments("OPEN resume key overruns frame by one byte", patch(FrameType.OPEN, (buf) -> buf.setShort(
                openResumeKeyOffset(), Frames.RESUME_KEY.length() + 1)), ErrorCode.PROTOCOL_ERROR),
            arguments("OPEN resume key overruns frame", patch(FrameType.OPEN, (buf) -> buf.setShort(
                openResumeKeyOffset(), 0xFFFF)), ErrorCode.PROTOCOL_ERROR),
            arguments("OPEN resume key shorter than the frame (trailing bytes)", patch(FrameType.OPEN,
                (buf) -> buf.setShort(openResumeKeyOffset(), Frames.RESUME_KEY.length() - 1)),
                ErrorCode.PROTOCOL_ERROR),
            arguments("OPEN resume key too long", openWithResumeKey("a".repeat(65)), ErrorCode.PROTOCOL_ERROR),
            arguments("OPEN resume key uppercase", openWithResumeKey("0123456789ABCDEF"), ErrorCode.PROTOCOL_ERROR),
            arguments("OPEN resume key non-hex", openWithResumeKey("0123456789abcdeg"), ErrorCode.PROTOCOL_ERROR),
            arguments("OPEN resume key invalid UTF-8", openWithResumeKeyBytes(new byte[]{'a', (byte)0xC3, '('}),
                ErrorCode.PROTOCOL_ERROR),
            arguments("OPEN trailing byte", trailing(FrameType.OPEN), ErrorCode.PROTOCOL_ERROR),
            arguments("OPEN trailing bytes after an empty resume key", Frames.withTrailing(openWithResumeKey(""),
                new byte[]{'0', '1'}), ErrorCode.PROTOCOL_ERROR),
            arguments("OPEN of the old layout without resume key", openOfOldLayout("m", "p"),
                ErrorCode.PROTOCOL_ERROR),
            arguments("OPEN of the old 28-byte layout", openOfOldLayout("", ""), ErrorCode.PROTOCOL_ERROR),
            arguments("OPEN_ACK trailing byte", trailing(FrameType.OPEN_ACK), ErrorCode.PROTOCOL_ERROR),
            arguments("OPEN_ACK of the old 24-byte layout", Frames.withLength(
                Arrays.copyOf(Frames.sample(FrameType.OPEN_ACK), 24), 24), ErrorCode.PROTOCOL_ERROR),
            arguments("OPEN_ACK streams 0", patch(FrameType.OPEN_ACK,
                (buf) -> buf.setInt(OpenAckFlyweight.STREAMS_OFFSET, 0)), ErrorCode.PROTOCOL_ERROR),
            arguments("OPEN_ACK negative streams", patch(FrameType.OPEN_ACK,
                (buf) -> buf.setInt(OpenAckFlyweight.STREAMS_OFFSET, Integer.MIN_VALUE)), ErrorCode.PROTOCOL_ERROR),
            arguments("OPEN_ACK window 0", patch(FrameType.OPEN_ACK,
                (buf) -> buf.setLong(OpenAckFlyweight.WINDOW_OFFSET, 0L)), ErrorCode.PROTOCOL_ERROR),
            arguments("OPEN_ACK negative window", patch(FrameType.OPEN_ACK,
                (buf) -> buf.setLong(OpenAckFlyweight.WINDOW_OFFSET, -1L)), ErrorCode.PROTOCOL_ERROR),
            arguments("OPEN_ACK chunk length 0", patch(FrameType.OPEN_ACK,
                (buf) -> buf.setInt(OpenAckFlyweight.CHUNK_LENGTH_OFFSET, 0)), ErrorCode.PROTOCOL_ERROR),
            arguments("OPEN_ACK negative chunk length", patch(FrameType.OPEN_ACK,
                (buf) -> buf.setInt(OpenAckFlyweight.CHUNK_LENGTH_OFFSET, -4096)), ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_ENTRY path invalid UTF-8", fileEntryWithPath(new byte[]{'a', (byte)0xC3, '(' }),
                ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_ENTRY path overlong '/'", fileEntryWithPath(new byte[]{(byte)0xC0, (byte)0xAF}),
                ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_ENTRY path encoded surrogate", fileEntryWithPath(
                new byte[]{(byte)0xED, (byte)0xA0, (byte)0x80}), ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_ENTRY path truncated sequence", fileEntryWithPath(
                new byte[]{'x', (byte)0xF0, (byte)0x9F, (byte)0x98}), ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_ENTRY path beyond U+10FFFF", fileEntryWithPath(
                new byte[]{(byte)0xF4, (byte)0x90, (byte)0x80, (byte)0x80}), ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_ENTRY link target overruns frame", patch(FrameType.FILE_ENTRY,
                (buf) -> buf.setShort(buf.readableBytes() - 2 - Frames.utf8("../目标").length,
                    Frames.utf8("../目标").length + 1)), ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_ENTRY trailing byte", trailing(FrameType.FILE_ENTRY), ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_ENTRY unknown flag", patch(FrameType.FILE_ENTRY,
                (buf) -> buf.setShort(Flyweight.FLAGS_OFFSET, 4)), ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_ENTRY LZ4 without inline content", patch(FrameType.FILE_ENTRY,
                (buf) -> buf.setShort(Flyweight.FLAGS_OFFSET, FileEntryFlyweight.FLAG_LZ4)), ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_ENTRY inline flag without checksum", patch(FileEntryFlyweight.encode(Frames.HEAP, 1,
                FileEntryFlyweight.TYPE_FILE, 0644, 0, 0L, "f", ""),
                (buf) -> buf.setShort(Flyweight.FLAGS_OFFSET, FileEntryFlyweight.FLAG_INLINE)),
                ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_ENTRY inline content for a symlink", patch(FrameType.FILE_ENTRY,
                (buf) -> buf.setShort(Flyweight.FLAGS_OFFSET, FileEntryFlyweight.FLAG_INLINE)),
                ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_ENTRY inline content shorter than the size", inlineEntry(10, 9, 0), ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_ENTRY inline content longer than the size", inlineEntry(10, 11, 0), ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_ENTRY inline content above the limit", inlineEntry(FileEntryFlyweight.INLINE_MAX_BYTES + 1,
                FileEntryFlyweight.INLINE_MAX_BYTES + 1, 0), ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_ENTRY inline LZ4 content that is empty", inlineEntry(10, 0, FileEntryFlyweight.FLAG_LZ4),
                ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_ENTRY inline content for a directory", patch(inlineEntry(3, 3, 0),
                (buf) -> buf.setByte(FileEntryFlyweight.FILE_TYPE_OFFSET, FileEntryFlyweight.TYPE_DIRECTORY)),
                ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_ENTRY negative size", patch(FrameType.FILE_ENTRY,
                (buf) -> buf.setLong(FileEntryFlyweight.SIZE_OFFSET, -1L)), ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_ENTRY negative file id", patch(FrameType.FILE_ENTRY,
                (buf) -> buf.setInt(FileEntryFlyweight.FILE_ID_OFFSET, -1)), ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_ENTRY unknown file type 0", patch(FrameType.FILE_ENTRY,
                (buf) -> buf.setByte(FileEntryFlyweight.FILE_TYPE_OFFSET, 0)), ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_ENTRY unknown file type 4", patch(FrameType.FILE_ENTRY,
                (buf) -> buf.setByte(FileEntryFlyweight.FILE_TYPE_OFFSET, 4)), ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_ENTRY mode outside 07777", patch(FrameType.FILE_ENTRY,
                (buf) -> buf.setShort(FileEntryFlyweight.MODE_OFFSET, 010644)), ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_STATUS status 0", patch(FrameType.FILE_STATUS,
                (buf) -> buf.setByte(FileStatusFlyweight.STATUS_OFFSET, 0)), ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_STATUS status 7", patch(FrameType.FILE_STATUS,
                (buf) -> buf.setByte(FileStatusFlyweight.STATUS_OFFSET, 7)), ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_STATUS negative offset", patch(FrameType.FILE_STATUS,
                (buf) -> buf.setLong(FileStatusFlyweight.FILE_OFFSET_OFFSET, Long.MIN_VALUE)),
                ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_STATUS message overruns frame", patch(FrameType.FILE_STATUS,
                (buf) -> buf.setShort(FileStatusFlyweight.MESSAGE_OFFSET, buf.readableBytes())),
                ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_STATUS trailing byte", trailing(FrameType.FILE_STATUS), ErrorCode.PROTOCOL_ERROR),
            arguments("DATA unknown flag 0x2", patch(FrameType.DATA,
                (buf) -> buf.setShort(Flyweight.FLAGS_OFFSET, 0x2)), ErrorCode.PROTOCOL_ERROR),
            arguments("DATA unknown flag 0x8000 with LZ4", patch(FrameType.DATA,
                (buf) -> buf.setShort(Flyweight.FLAGS_OFFSET, 0x8001)), ErrorCode.PROTOCOL_ERROR),
            arguments("DATA raw length above payload", patch(FrameType.DATA,
                (buf) -> buf.setInt(DataFlyweight.RAW_LENGTH_OFFSET, buf.getInt(DataFlyweight.RAW_LENGTH_OFFSET) + 1)),
                ErrorCode.PROTOCOL_ERROR),
            arguments("DATA raw length below payload", trailing(FrameType.DATA), ErrorCode.PROTOCOL_ERROR),
            arguments("DATA negative file id", patch(FrameType.DATA,
                (buf) -> buf.setInt(DataFlyweight.FILE_ID_OFFSET, -1)), ErrorCode.PROTOCOL_ERROR),
            arguments("DATA negative offset", patch(FrameType.DATA,
                (buf) -> buf.setLong(DataFlyweight.FILE_OFFSET_OFFSET, -1L)), ErrorCode.PROTOCOL_ERROR),
            arguments("DATA negative raw length (LZ4)", patch(FrameType.DATA, (buf) ->
            {
                buf.setShort(Flyweight.FLAGS_OFFSET, DataFlyweight.FLAG_LZ4);
                buf.setInt(DataFlyweight.RAW_LENGTH_OFFSET, Integer.MIN_VALUE);
            }), ErrorCode.PROTOCOL_ERROR),
            arguments("DATA offset + length overflows", patch(FrameType.DATA,
                (buf) -> buf.setLong(DataFlyweight.FILE_OFFSET_OFFSET, Long.MAX_VALUE - 1)), ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_END trailing byte", trailing(FrameType.FILE_END), ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_END digest length 33", patch(FrameType.FILE_END,
                (buf) -> buf.setByte(FileEndFlyweight.DIGEST_LENGTH_OFFSET, 33)), ErrorCode.PROTOCOL_ERROR),
            arguments("FILE_END negative size", patch(FrameType.FILE_END,
                (buf) -> buf.setLong(FileEndFlyweight.SIZE_OFFSET, -1L)), ErrorCode.PROTOCOL_ERROR),
            arguments("TRANSFER_END trailing byte", trailing(FrameType.TRANSFER_END), ErrorCode.PROTOCOL_ERROR),
            arguments("TRANSFER_DONE trailing byte", trailing(FrameType.TRANSFER_DONE), ErrorCode.PROTOCOL_ERROR),
            arguments("ERROR message overruns frame", patch(FrameType.ERROR,
                (buf) -> buf.setShort(ErrorFlyweight.MESSAGE_OFFSET, buf.readableBytes())), ErrorCode.PROTOCOL_ERROR),
            arguments("ERROR message invalid UTF-8", patch(FrameType.ERROR,
                (buf) -> buf.setByte(buf.readableBytes() - 1, 0xFF)), ErrorCode.PROTOCOL_ERROR),
            arguments("ERROR trailing byte", trailing(FrameType.ERROR), ErrorCode.PROTOCOL_ERROR),
            arguments("PING trailing byte", trailing(FrameType.PING), ErrorCode.PROTOCOL_ERROR),
            arguments("PONG trailing byte", trailing(FrameType.PONG), ErrorCode.PROTOCOL_ERROR),
            arguments("CHUNK_ACK trailing byte", trailing(FrameType.CHUNK_ACK), ErrorCode.PROTOCOL_ERROR),
            arguments("CHUNK_ACK trailing long", Frames.withTrailing(Frames.sample(FrameType.CHUNK_ACK),
                new byte[Long.BYTES]), ErrorCode.PROTOCOL_ERROR),
            arguments("CHUNK_ACK negative file id", patch(FrameType.CHUNK_ACK,
                (buf) -> buf.setInt(ChunkAckFlyweight.FILE_ID_OFFSET, -1)), ErrorCode.PROTOCOL_ERROR),
            arguments("CHUNK_ACK negative raw length", patch(FrameType.CHUNK_ACK,
                (buf) -> buf.setInt(ChunkAckFlyweight.RAW_LENGTH_OFFSET, Integer.MIN_VALUE)), ErrorCode.PROTOCOL_ERROR),
            arguments("CHUNK_ACK negative offset", patch(FrameType.CHUNK_ACK,
                (buf) -> buf.setLong(ChunkAckFlyweight.FILE_OFFSET_OFFSET, -1L)), ErrorCode.PROTOCOL_ERROR),
            arguments("CHUNK_ACK length 23", Frames.withLength(
                Arrays.copyOf(Frames.sample(FrameType.CHUNK_ACK), 23), 23), ErrorCode.PROTOCOL_ERROR),
            arguments("CHUNK_ACK header only", Frames.withLength(
                Arrays.copyOf(Frames.sample(FrameType.CHUNK_ACK), Flyweight.HEADER_LENGTH), Flyweight.HEADER_LENGTH),
                ErrorCode.PROTOCOL_ERROR),
            arguments("length below type minimum", Frames.withLength(Frames.sample(FrameType.FILE_END), 63),
                ErrorCode.PROTOCOL_ERROR),
            arguments("length above max", Frames.withLength(Frames.sample(FrameType.PING), MAX_FRAME_LENGTH + 1),
                ErrorCode.FRAME_TOO_LONG),
            arguments("unknown type", patch(FrameType.PING, (buf) -> buf.setByte(Flyweight.TYPE_OFFSET, 15)),
                ErrorCode.UNKNOWN_FRAME_TYPE),
            arguments("wrong version", patch(FrameType.PING, (buf) -> buf.setByte(Flyweight.VERSION_OFFSET, 2)),
                ErrorCode.UNSUPPORTED_VERSION));
    }

    static IntStream frameTypes()
    {
        return IntStream.rangeClosed(FrameType.HELLO, FrameType.MAX_KNOWN);
    }

    private ProtocolException assertRejected(final byte[] frame, final ErrorCode errorCode)
    {
        final ByteBuf input = Frames.tracked(frame);

        final ProtocolException ex = assertThrows(ProtocolException.class, () -> channel.writeInbound(input));

        assertEquals(errorCode, ex.errorCode(), ex.getMessage());
        assertEquals(0, input.refCnt(), "input released");
        assertNull(channel.readInbound());
        assertDiscardsFurtherInput();
        return ex;
    }

    private void assertDiscardsFurtherInput()
    {
        final ByteBuf valid = Frames.tracked(Frames.sample(FrameType.PING));
        final ByteBuf header = Frames.tracked(Frames.sample(FrameType.OPEN), 0, Flyweight.HEADER_LENGTH);
        final ByteBuf invalid = Frames.tracked(Frames.withLength(Frames.sample(FrameType.PING), -1));

        assertFalse(channel.writeInbound(valid), "a valid frame after a failure is discarded");
        assertFalse(channel.writeInbound(header), "a partial frame after a failure is discarded");
        assertFalse(channel.writeInbound(invalid), "a bad frame after a failure raises nothing more");

        assertNull(channel.readInbound());
        assertEquals(0, valid.refCnt());
        assertEquals(0, header.refCnt());
        assertEquals(0, invalid.refCnt());
    }

    private static boolean headerIsBad(final byte[] frame)
    {
        final ByteBuf buf = Unpooled.wrappedBuffer(frame);
        final int length = buf.getInt(Flyweight.LENGTH_OFFSET);
        final int type = buf.getUnsignedByte(Flyweight.TYPE_OFFSET);
        return length < Flyweight.HEADER_LENGTH || length > MAX_FRAME_LENGTH ||
            buf.getUnsignedByte(Flyweight.VERSION_OFFSET) != Flyweight.FRAME_VERSION || !FrameType.isKnown(type) ||
            length < FrameType.minLength(type);
    }

    private static byte[] patch(final int type, final Consumer<ByteBuf> mutator)
    {
        final byte[] frame = Frames.sample(type);
        mutator.accept(Unpooled.wrappedBuffer(frame));
        return frame;
    }

    private static byte[] patch(final ByteBuf encoded, final Consumer<ByteBuf> mutator)
    {
        final byte[] frame = new byte[encoded.readableBytes()];
        encoded.readBytes(frame);
        encoded.release();
        return patch(frame, mutator);
    }

    private static byte[] patch(final byte[] frame, final Consumer<ByteBuf> mutator)
    {
        mutator.accept(Unpooled.wrappedBuffer(frame));
        return frame;
    }

    private static byte[] trailing(final int type)
    {
        return Frames.withTrailing(Frames.sample(type), new byte[]{0});
    }

    /** An inline FILE_ENTRY for a file of {@code size} bytes that carries {@code carried} bytes of content. */
    private static byte[] inlineEntry(final int size, final int carried, final int flags)
    {
        final ByteBuf content = Unpooled.wrappedBuffer(new byte[carried]);
        final ByteBuf frame = FileEntryFlyweight.encodeInline(Frames.HEAP, 1, 0644, size, 0L, "f", flags, 0, content, 0,
            carried);
        final byte[] bytes = new byte[frame.readableBytes()];
        frame.readBytes(bytes);
        frame.release();
        return bytes;
    }

    private static byte[] fileEntryWithPath(final byte[] path)
    {
        final ByteBuf buf = FileEntryFlyweight.encode(Frames.HEAP, 1, FileEntryFlyweight.TYPE_FILE, 0644, 1L, 0L,
            "x".repeat(path.length), "");
        buf.setBytes(FileEntryFlyweight.PATH_OFFSET + Short.BYTES, path);
        return Frames.bytes(buf);
    }

    /** @return the frame-relative index of the sample OPEN's path length field. */
    private static int openPathOffset()
    {
        return OpenFlyweight.MODULE_OFFSET + Short.BYTES + Frames.utf8("corpus-α").length;
    }

    /** @return the frame-relative index of the sample OPEN's resume key length field. */
    private static int openResumeKeyOffset()
    {
        return openPathOffset() + Short.BYTES + Frames.utf8(Frames.UNICODE_PATH).length;
    }

    /** A valid OPEN but for its resume key, which encode writes without checking. */
    private static byte[] openWithResumeKey(final String key)
    {
        return Frames.bytes(OpenFlyweight.encode(Frames.HEAP, OpenFlyweight.DIRECTION_PUSH, 1, 0L, 1 << 20, "m",
            "p", key));
    }

    /** An OPEN whose resume key holds the given bytes. */
    private static byte[] openWithResumeKeyBytes(final byte[] key)
    {
        final byte[] frame = openWithResumeKey("0".repeat(key.length));
        System.arraycopy(key, 0, frame, frame.length - key.length, key.length);
        return frame;
    }

    /** An OPEN as built before the resume key was added: it ends with the path. */
    private static byte[] openOfOldLayout(final String module, final String path)
    {
        final byte[] moduleBytes = Frames.utf8(module);
        final byte[] pathBytes = Frames.utf8(path);
        final int length = 28 + moduleBytes.length + pathBytes.length;
        return ByteBuffer.allocate(length).putInt(length).put((byte)1).put((byte)FrameType.OPEN).putShort((short)0)
            .put((byte)OpenFlyweight.DIRECTION_PUSH).put((byte)1).putShort((short)0).putLong(0L).putInt(1 << 20)
            .putShort((short)moduleBytes.length).put(moduleBytes).putShort((short)pathBytes.length).put(pathBytes)
            .array();
    }

    /** An OPEN whose path string reaches the frame end, leaving no room for the resume key's length field. */
    private static byte[] openWithoutResumeKeyLength()
    {
        final byte[] frame = Frames.sample(FrameType.OPEN);
        Unpooled.wrappedBuffer(frame).setShort(openPathOffset(), frame.length - openPathOffset() - Short.BYTES);
        return frame;
    }

    /** An OPEN whose module string reaches the frame end, leaving no room for the path's length field. */
    private static byte[] openWithoutPathLength()
    {
        final byte[] frame = Frames.sample(FrameType.OPEN);
        final ByteBuf buf = Unpooled.wrappedBuffer(frame);
        buf.setShort(OpenFlyweight.MODULE_OFFSET, frame.length - OpenFlyweight.MODULE_OFFSET - Short.BYTES);
        return frame;
    }
}
