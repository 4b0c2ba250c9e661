package io.xfer.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link FrameDecoder} with an {@link InboundTransform}, as a TLS record layer uses it: the transform holds the input
 * and, told so by any message, has the decoder draw its output straight into the cumulation. The transform here
 * scrambles bytes with a mask and, like a TLS engine holding part of a record, keeps back the tail of its newest
 * input until more arrives, so that what it can give runs behind what it was given. Frames must come out whole and
 * in order whatever the input sizes, each large frame must land in a buffer of its own size (drawn up to its end,
 * never past it), a paused channel must get at most one pass and a closed one everything, and a failing transform
 * must surface as an exception without leaking or double-releasing a buffer.
 */
class FrameDecoderTransformTest
{
    private static final int MASK = 0x5A;

    @AfterAll
    static void afterAll()
    {
        LeakDetection.assertNoLeaks();
    }

    @Test
    void framesComeOutWholeAndInOrderWhateverTheInputSizes()
    {
        for (final long seed : new long[] {1, 2, 3, 4})
        {
            // with exact capacities, the test sees what the decoder asked for; with the pooled allocator, the frame
            // buffers' spare room takes the start of the next frames
            final boolean exact = seed % 2 == 1;
            final Random random = new Random(seed);
            final ByteArrayOutputStream stream = new ByteArrayOutputStream();
            final List<byte[]> frames = new ArrayList<>();
            for (int i = 0; i < 120; i++)
            {
                final byte[] frame = frame(random, i);
                frames.add(frame);
                stream.write(frame, 0, frame.length);
            }
            final byte[] plain = stream.toByteArray();

            final FrameDecoder decoder = new FrameDecoder(ProtocolVersion.MAX_FRAME_LENGTH);
            final HoldingBack transform = new HoldingBack(random);
            decoder.inboundTransform(transform);
            final EmbeddedChannel channel = new EmbeddedChannel(decoder);
            channel.config().setAllocator(exact ? UnpooledByteBufAllocator.DEFAULT : PooledByteBufAllocator.DEFAULT);
            int offset = 0;
            while (offset < plain.length)
            {
                // a burst of reads, then the transform says it holds input
                for (int reads = 1 + random.nextInt(4); reads > 0 && offset < plain.length; reads--)
                {
                    final int length = Math.min(plain.length - offset, 1 + random.nextInt(random.nextBoolean() ?
                        64 : 200_000));
                    transform.give(plain, offset, length);
                    offset += length;
                }
                channel.writeInbound(Unpooled.EMPTY_BUFFER);
            }
            // the tail held back comes out once the input is known to be complete
            transform.ended = true;
            channel.writeInbound(Unpooled.EMPTY_BUFFER);

            int large = 0;
            boolean spilled = false;
            for (int i = 0; i < frames.size(); i++)
            {
                final ByteBuf decoded = channel.readInbound();
                try
                {
                    final byte[] bytes = new byte[decoded.readableBytes()];
                    decoded.getBytes(decoded.readerIndex(), bytes);
                    assertArrayEquals(frames.get(i), bytes, "frame " + i + " (seed " + seed + ")");
                    if (bytes.length >= 2 * FrameDecoder.PIECE)
                    {
                        large++;
                        final ByteBuf root = root(decoded);
                        if (exact)
                        {
                            assertEquals(bytes.length, root.capacity(),
                                "frame " + i + " has a buffer of its own size (seed " + seed + ")");
                        }
                        else
                        {
                            // besides the frame, its buffer took no more than the spare room of the allocator's
                            // size class, which is under a quarter of the size asked for
                            assertTrue(root.writerIndex() <= bytes.length + bytes.length / 4,
                                "frame " + i + " has at most its size class's spare room written past it: " +
                                    root.writerIndex() + " (seed " + seed + ")");
                            spilled |= root.writerIndex() > bytes.length;
                        }
                    }
                }
                finally
                {
                    decoded.release();
                }
            }
            assertTrue(large > 0, "some frames were large");
            assertTrue(exact || spilled, "some frame buffer took the start of the next frames");
            assertFalse(channel.finishAndReleaseAll(), "no frame more than was sent");
            assertEquals(0, transform.held.readableBytes(), "the decoder drew everything");
            assertTrue(transform.limited > 0, "the decoder stopped the transform short at least once");
            transform.held.release();
        }
    }

    @Test
    void aPausedChannelGetsOnePassAtMostAndAClosedOneEverything()
    {
        // 40 frames of up to 70 KB, DATA and PINGs, all held by the transform
        final Random random = new Random(8);
        final ByteArrayOutputStream stream = new ByteArrayOutputStream();
        final List<byte[]> frames = new ArrayList<>();
        for (int i = 0; i < 40; i++)
        {
            final byte[] frame = frame(random, i % 10 == 9 ? 8 : i);
            frames.add(frame);
            stream.write(frame, 0, frame.length);
        }
        final byte[] plain = stream.toByteArray();
        final FrameDecoder decoder = new FrameDecoder(ProtocolVersion.MAX_FRAME_LENGTH);
        final HoldingBack transform = new HoldingBack(random);
        transform.ended = true;
        decoder.inboundTransform(transform);
        final List<Integer> sizesWhilePaused = new ArrayList<>();
        final EmbeddedChannel channel = new EmbeddedChannel(new io.netty.channel.ChannelInboundHandlerAdapter()
        {
            @Override
            public void channelInactive(final io.netty.channel.ChannelHandlerContext ctx)
            {
                // as the record layer does at a close: the decoder is told there is input
                ctx.fireChannelRead(Unpooled.EMPTY_BUFFER);
                ctx.fireChannelInactive();
            }
        }, decoder, new io.netty.channel.ChannelInboundHandlerAdapter()
        {
            @Override
            public void channelRead(final io.netty.channel.ChannelHandlerContext ctx, final Object msg)
            {
                if (!ctx.channel().config().isAutoRead())
                {
                    sizesWhilePaused.add(((ByteBuf)msg).readableBytes());
                }
                // the first frame pauses reading, as the inbox does above its mark
                ctx.channel().config().setAutoRead(false);
                ctx.fireChannelRead(msg);
            }
        });
        transform.give(plain, 0, plain.length);
        channel.writeInbound(Unpooled.EMPTY_BUFFER);
        final int afterFirst = channel.inboundMessages().size();
        assertTrue(afterFirst > 0 && afterFirst < frames.size(), afterFirst + " frames in the first pass");
        assertTrue(sizesWhilePaused.stream().mapToInt(Integer::intValue).sum() <= FrameDecoder.PIECE);
        assertTrue(transform.held.isReadable(), "the rest stays with the transform");

        // told again while still paused: nothing more
        channel.writeInbound(Unpooled.EMPTY_BUFFER);
        assertEquals(afterFirst, channel.inboundMessages().size());

        // the connection closes: everything held is drawn, paused or not
        channel.close();
        assertEquals(frames.size(), channel.inboundMessages().size(), "every frame once closed");
        for (int i = 0; i < frames.size(); i++)
        {
            assertNextFrame(channel, frames.get(i), "frame " + i);
        }
        assertFalse(channel.finishAndReleaseAll());
        transform.held.release();
    }

    @Test
    void aLargeFrameIsDrawnOnceTheTransformCanCompleteIt()
    {
        // two 1 MiB frames given to the transform 32 KiB at a time, the decoder told after each piece: it draws the
        // first piece (the header), then nothing until the transform can complete the frame
        final Random random = new Random(13);
        final byte[] first = frame(random, 9);
        final byte[] second = frame(random, 29);
        final byte[] plain = new byte[first.length + second.length];
        System.arraycopy(first, 0, plain, 0, first.length);
        System.arraycopy(second, 0, plain, first.length, second.length);
        final FrameDecoder decoder = new FrameDecoder(ProtocolVersion.MAX_FRAME_LENGTH);
        final HoldingBack transform = new HoldingBack(random);
        transform.answersCanComplete = true;
        decoder.inboundTransform(transform);
        final EmbeddedChannel channel = new EmbeddedChannel(decoder);
        final int piece = 32 * 1024;
        int pieces = 0;
        for (int offset = 0; offset < plain.length; offset += piece)
        {
            transform.give(plain, offset, Math.min(piece, plain.length - offset));
            if (offset + piece >= plain.length)
            {
                transform.ended = true;
            }
            channel.writeInbound(Unpooled.EMPTY_BUFFER);
            pieces++;
        }
        assertEquals(2, channel.inboundMessages().size());
        assertNextFrame(channel, first, "first frame");
        assertNextFrame(channel, second, "second frame");
        // per frame: the piece with its header, the rest, and a call that finds the input ended or held back
        assertTrue(transform.transfers <= 6, transform.transfers + " transfers for " + pieces + " pieces");
        assertFalse(channel.finishAndReleaseAll());
        transform.held.release();
    }

    @Test
    void bytesThatBypassTheTransformAreRefused()
    {
        final FrameDecoder decoder = new FrameDecoder(ProtocolVersion.MAX_FRAME_LENGTH);
        final HoldingBack transform = new HoldingBack(new Random(6));
        decoder.inboundTransform(transform);
        final EmbeddedChannel channel = new EmbeddedChannel(decoder);
        final ByteBuf stray = ByteBufAllocator.DEFAULT.directBuffer(8).writeLong(1);
        final DecoderException failure = assertThrows(DecoderException.class, () -> channel.writeInbound(stray));
        assertInstanceOf(IllegalStateException.class, failure.getCause());
        assertEquals(0, stray.refCnt(), "the message was released");
        assertFalse(channel.finishAndReleaseAll());
        transform.held.release();
    }

    @Test
    void aFailingTransformSurfacesAndLeaksNothing()
    {
        final FrameDecoder decoder = new FrameDecoder(ProtocolVersion.MAX_FRAME_LENGTH);
        final HoldingBack transform = new HoldingBack(new Random(4));
        decoder.inboundTransform(transform);
        final EmbeddedChannel channel = new EmbeddedChannel(decoder);
        // a DATA frame of some KiB; when the transform fails, its first part is in a cumulation sized for the
        // whole frame, with room for the failing message
        final byte[] frame = frame(new Random(5), 1);
        assertTrue(frame.length > 5_000);
        transform.give(frame, 0, 2_100);
        channel.writeInbound(Unpooled.EMPTY_BUFFER);
        transform.failNext = true;
        transform.give(frame, 2_100, 100);
        final DecoderException failure = assertThrows(DecoderException.class,
            () -> channel.writeInbound(Unpooled.EMPTY_BUFFER));
        assertInstanceOf(IllegalStateException.class, failure.getCause());
        // the decoder still owns its cumulation (the frame's first part) and releases it, once, at the end
        assertFalse(channel.finishAndReleaseAll());
        transform.held.release();
    }

    /** Take the next frame the decoder handed on, check it is {@code expected} and release it. */
    private static void assertNextFrame(final EmbeddedChannel channel, final byte[] expected, final String what)
    {
        final ByteBuf decoded = (ByteBuf)channel.inboundMessages().poll();
        try
        {
            final byte[] bytes = new byte[decoded.readableBytes()];
            decoded.getBytes(decoded.readerIndex(), bytes);
            assertArrayEquals(expected, bytes, what);
        }
        finally
        {
            decoded.release();
        }
    }

    /** The buffer under a slice and the leak detector's wrappers. */
    private static ByteBuf root(final ByteBuf buffer)
    {
        ByteBuf root = buffer;
        for (int depth = 0; root.unwrap() != null && depth < 8; depth++)
        {
            root = root.unwrap();
        }
        return root;
    }

    /** A DATA frame with a random payload (one of 1 MiB every tenth), or a PING. */
    private static byte[] frame(final Random random, final int index)
    {
        final ByteBuf frame;
        if (index % 4 == 3)
        {
            frame = PingFlyweight.encode(Frames.HEAP, FrameType.PING, index, index);
        }
        else
        {
            final int length = index % 10 == 9 ? 1 << 20 : random.nextInt(70_000);
            frame = DataFlyweight.encodeHeader(Frames.HEAP, 0, 1, index, length, 0, length);
            final byte[] payload = new byte[length];
            random.nextBytes(payload);
            frame.writeBytes(payload);
        }
        final byte[] bytes = new byte[frame.readableBytes()];
        frame.readBytes(bytes);
        frame.release();
        return bytes;
    }

    /**
     * Holds what it is given masked, as ciphertext, and gives it out unmasked, keeping back a random tail of up to
     * {@link #HELD} bytes of its newest input until more arrives (or the input has {@link #ended}).
     */
    private static final class HoldingBack implements InboundTransform
    {
        static final int HELD = 1000;

        final Random random;
        final ByteBuf held = Unpooled.buffer();
        /** Bytes at the end of {@link #held} not to be given out yet. */
        int keptBack;
        int limited;
        boolean failNext;
        boolean ended;
        /** Whether {@link #canComplete} says what it can give, instead of always yes. */
        boolean answersCanComplete;
        int transfers;

        HoldingBack(final Random random)
        {
            this.random = random;
        }

        void give(final byte[] plain, final int offset, final int length)
        {
            final byte[] bytes = new byte[length];
            for (int i = 0; i < length; i++)
            {
                bytes[i] = (byte)(plain[offset + i] ^ MASK);
            }
            held.writeBytes(bytes);
            keptBack = Math.min(held.readableBytes(), random.nextInt(HELD + 1));
        }

        @Override
        public boolean canComplete(final int bytes)
        {
            return !answersCanComplete || held.readableBytes() - (ended ? 0 : keptBack) >= bytes;
        }

        @Override
        public boolean transfer(final ByteBuf out, final int limit)
        {
            transfers++;
            if (failNext)
            {
                throw new IllegalStateException("damaged input");
            }
            assertTrue(limit > 0 && limit <= out.writableBytes(), "limit " + limit + " fits the buffer");
            final int available = held.readableBytes() - (ended ? 0 : keptBack);
            final int give = Math.min(available, limit);
            // bulk, not byte by byte: the paranoid leak detector records every single access
            final byte[] bytes = new byte[give];
            held.readBytes(bytes);
            held.discardReadBytes();
            for (int i = 0; i < give; i++)
            {
                bytes[i] ^= MASK;
            }
            out.writeBytes(bytes);
            if (give < available)
            {
                limited++;
                return true;
            }
            return false;
        }
    }
}
