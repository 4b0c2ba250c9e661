package io.xfer.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
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
 * {@link FrameDecoder} with an {@link InboundTransform}, as a TLS record layer uses it: each inbound message is
 * transformed straight into the cumulation. The transform here scrambles bytes with a mask and, like a TLS engine
 * holding part of a record, keeps the tail of each message back until the next one, so that its output runs ahead
 * of or behind its input and sometimes needs more room than the decoder left. Frames must come out whole and in
 * order whatever the message sizes, the decoder must grow its cumulation only when it has to, and a failing
 * transform must surface as an exception without leaking or double-releasing a buffer.
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
    void framesComeOutWholeAndInOrderWhateverTheMessageSizes()
    {
        for (final long seed : new long[] {1, 2, 3})
        {
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
            int offset = 0;
            while (offset < plain.length)
            {
                final int length = Math.min(plain.length - offset, 1 + random.nextInt(random.nextBoolean() ?
                    64 : 200_000));
                channel.writeInbound(scrambled(plain, offset, length));
                offset += length;
            }
            // the last held-back bytes come with one more (empty) message
            channel.writeInbound(ByteBufAllocator.DEFAULT.directBuffer(0));

            for (int i = 0; i < frames.size(); i++)
            {
                final ByteBuf decoded = channel.readInbound();
                try
                {
                    final byte[] bytes = new byte[decoded.readableBytes()];
                    decoded.readBytes(bytes);
                    assertArrayEquals(frames.get(i), bytes, "frame " + i + " (seed " + seed + ")");
                }
                finally
                {
                    decoded.release();
                }
            }
            assertFalse(channel.finishAndReleaseAll(), "no frame more than was sent");
            assertTrue(transform.askedForRoom > 0, "the transform needed more room at least once");
        }
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
        channel.writeInbound(scrambled(frame, 0, 100));
        channel.writeInbound(scrambled(frame, 100, 2_000));
        transform.failNext = true;
        final ByteBuf rest = scrambled(frame, 2_100, 100);
        final DecoderException failure = assertThrows(DecoderException.class, () -> channel.writeInbound(rest));
        assertInstanceOf(IllegalStateException.class, failure.getCause());
        assertEquals(0, rest.refCnt(), "the message was released");
        // the decoder still owns its cumulation (the frame's first part) and releases it, once, at the end
        assertFalse(channel.finishAndReleaseAll());
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

    private static ByteBuf scrambled(final byte[] plain, final int offset, final int length)
    {
        final byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            bytes[i] = (byte)(plain[offset + i] ^ MASK);
        }
        return ByteBufAllocator.DEFAULT.directBuffer(length).writeBytes(bytes);
    }

    /**
     * Unmasks, keeping back up to {@link #HELD} bytes of each message for the next, and now and then up to twice
     * that; gives out only what fits and asks for more room when it holds more than {@link #HELD}.
     */
    private static final class HoldingBack implements InboundTransform
    {
        static final int HELD = 1000;

        final Random random;
        final ByteBuf held = Unpooled.buffer(HELD * 4);
        int askedForRoom;
        boolean failNext;

        HoldingBack(final Random random)
        {
            this.random = random;
        }

        /** Bulk, not byte by byte: the paranoid leak detector records every single access. */
        private static byte[] unmasked(final ByteBuf in, final int length)
        {
            final byte[] bytes = new byte[length];
            in.readBytes(bytes);
            for (int i = 0; i < length; i++)
            {
                bytes[i] ^= MASK;
            }
            return bytes;
        }

        @Override
        public int maxExpansion()
        {
            return HELD;
        }

        @Override
        public boolean transfer(final ByteBuf in, final ByteBuf out)
        {
            if (failNext)
            {
                in.skipBytes(in.readableBytes());
                throw new IllegalStateException("damaged input");
            }
            // what was held comes first
            final int fromHeld = Math.min(held.readableBytes(), out.writableBytes());
            out.writeBytes(held, fromHeld);
            held.discardReadBytes();
            // then the input, less a tail kept back; now and then more than the room the decoder left for it
            int keep = held.isReadable() ? 0 : Math.min(in.readableBytes(), random.nextInt(HELD + 1));
            if (random.nextInt(8) == 0)
            {
                keep = Math.min(in.readableBytes(), keep + random.nextInt(HELD + 1));
            }
            final int give = Math.min(in.readableBytes() - keep, out.writableBytes());
            out.writeBytes(unmasked(in, give));
            held.writeBytes(unmasked(in, in.readableBytes()));
            if (held.readableBytes() > HELD || held.isReadable() && !out.isWritable())
            {
                askedForRoom++;
                return true;
            }
            return false;
        }
    }
}
