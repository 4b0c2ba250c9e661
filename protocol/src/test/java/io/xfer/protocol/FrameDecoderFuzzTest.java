package io.xfer.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Seeded random input: random bytes, random bodies behind plausible headers, and mutated valid frames, each cut
 * into random pieces. The decoder must hand on only frames that validate, in order and without gaps, or throw a
 * {@link ProtocolException} and then stay silent; any other exception or a leak is a bug. Run with
 * {@code -Dxfer.fuzz.seed=N -Dxfer.fuzz.iterations=M} to explore further.
 */
class FrameDecoderFuzzTest
{
    private static final long SEED = Long.getLong("xfer.fuzz.seed", 0x5EED_F00DL);
    private static final int ITERATIONS = Integer.getInteger("xfer.fuzz.iterations", 2000);
    private static final int MAX_FRAME_LENGTH = 4096;

    private static final int[] BOUNDARY_INTS =
    {
        0, 1, -1, Flyweight.HEADER_LENGTH - 1, Flyweight.HEADER_LENGTH, MAX_FRAME_LENGTH, MAX_FRAME_LENGTH + 1,
        Short.MAX_VALUE, 0xFFFF, 0x10000, Integer.MAX_VALUE, Integer.MIN_VALUE
    };

    private static final byte[][] SAMPLES = new byte[FrameType.MAX_KNOWN][];

    static
    {
        for (int type = FrameType.HELLO; type <= FrameType.MAX_KNOWN; type++)
        {
            SAMPLES[type - 1] = Frames.sample(type);
        }
    }

    private final boolean[] typesEmitted = new boolean[256];
    private int framesEmitted;
    private int inputsRejected;

    @AfterAll
    static void afterAll()
    {
        LeakDetection.assertNoLeaks();
    }

    @Test
    void shouldEmitValidFramesOrThrowProtocolExceptionOnRandomInput()
    {
        final Random random = new Random(SEED);
        for (int i = 0; i < ITERATIONS; i++)
        {
            final byte[] input;
            switch (i % 4)
            {
                case 0:
                    input = randomBytes(random, random.nextInt(300));
                    break;
                case 1:
                    input = randomFrames(random);
                    break;
                default:
                    input = mutate(random, validFrames(random));
                    break;
            }
            feed(random, input, "seed=" + SEED + " iteration=" + i);
        }

        assertTrue(framesEmitted > ITERATIONS / 4, "fuzz reaches valid frames: " + framesEmitted);
        assertTrue(inputsRejected > ITERATIONS / 4, "fuzz reaches rejections: " + inputsRejected);
    }

    @Test
    void shouldDecodeValidStreamCutAtRandomPoints()
    {
        final Random random = new Random(SEED + 1);
        for (int i = 0; i < ITERATIONS / 10; i++)
        {
            final byte[] input = validFrames(random);
            final int count = framesEmitted;

            feed(random, input, "seed=" + SEED + " iteration=" + i);

            assertTrue(framesEmitted > count);
        }
        assertEquals(0, inputsRejected);
        for (int type = FrameType.HELLO; type <= FrameType.MAX_KNOWN; type++)
        {
            assertTrue(typesEmitted[type], "no " + FrameType.name(type) + " frame decoded");
        }
    }

    /**
     * OPEN frames with random resume keys (hex and not, up to and beyond the longest allowed) and random other
     * fields, alone or between valid frames: the decoder must accept exactly those whose key is at most 64
     * lowercase hex digits.
     */
    @Test
    void shouldAcceptOpenOnlyWithValidResumeKey()
    {
        final Random random = new Random(SEED + 2);
        int accepted = 0;
        int rejected = 0;
        for (int i = 0; i < ITERATIONS / 4; i++)
        {
            final String key = randomResumeKey(random);
            final boolean valid = Frames.isResumeKey(key);
            final byte[] open = Frames.bytes(OpenFlyweight.encode(Frames.HEAP,
                random.nextBoolean() ? OpenFlyweight.DIRECTION_PUSH : OpenFlyweight.DIRECTION_PULL,
                random.nextInt(300), random.nextLong(), random.nextInt(), random.nextBoolean() ? "m" : "корпус",
                random.nextBoolean() ? "" : Frames.UNICODE_PATH, key));
            final byte[] before = random.nextBoolean() ? SAMPLES[FrameType.PING - 1] : new byte[0];
            final byte[] after = validFrames(random);
            final int emitted = framesEmitted;
            final int rejections = inputsRejected;

            feed(random, Frames.concat(before, open, after), "seed=" + SEED + " iteration=" + i + " key=" + key);

            final int beforeFrames = before.length == 0 ? 0 : 1;
            if (valid)
            {
                assertEquals(rejections, inputsRejected, "valid key rejected: '" + key + "'");
                assertTrue(framesEmitted > emitted + beforeFrames, "OPEN and the frames after it decoded");
                accepted++;
            }
            else
            {
                assertEquals(rejections + 1, inputsRejected, "invalid key accepted: '" + key + "'");
                assertEquals(emitted + beforeFrames, framesEmitted, "only the frames before the bad OPEN decoded");
                rejected++;
            }
        }

        assertTrue(accepted > ITERATIONS / 20, "valid keys: " + accepted);
        assertTrue(rejected > ITERATIONS / 20, "invalid keys: " + rejected);
        assertTrue(typesEmitted[FrameType.OPEN], "no OPEN frame decoded");
    }

    /**
     * Half lowercase hex of a length around the limit; otherwise hex with a stray character (uppercase hex, a
     * letter past f, punctuation, a non-ASCII digit or letter, a surrogate pair).
     */
    private static String randomResumeKey(final Random random)
    {
        final String hex = "0123456789abcdef";
        final String[] strays = {"A", "F", "g", "z", "x", " ", "-", "/", ".", "\0", "é", "٣", "１", "😀"};
        final int length = random.nextInt(4) == 0 ? OpenFlyweight.MAX_RESUME_KEY_LENGTH - 2 + random.nextInt(5) :
            random.nextInt(OpenFlyweight.MAX_RESUME_KEY_LENGTH + 1);
        final StringBuilder key = new StringBuilder(length + 2);
        for (int i = 0; i < length; i++)
        {
            key.append(hex.charAt(random.nextInt(hex.length())));
        }
        if (random.nextBoolean())
        {
            key.insert(random.nextInt(key.length() + 1), strays[random.nextInt(strays.length)]);
        }
        return key.toString();
    }

    private void feed(final Random random, final byte[] input, final String context)
    {
        final EmbeddedChannel channel = Frames.channel(MAX_FRAME_LENGTH);
        final List<ByteBuf> chunks = new ArrayList<>();
        final List<byte[]> frames = new ArrayList<>();
        boolean failed = false;
        try
        {
            int index = 0;
            while (index < input.length)
            {
                final int length = random.nextInt(8) == 0 ?
                    input.length - index : 1 + random.nextInt(Math.min(input.length - index, 64));
                final ByteBuf chunk = Frames.tracked(input, index, length);
                chunks.add(chunk);
                index += length;

                final boolean failedBefore = failed;
                try
                {
                    channel.writeInbound(chunk);
                }
                catch (final ProtocolException ex)
                {
                    assertFalse(failed, "a second exception after the first failure");
                    assertNotNull(ex.errorCode(), "error code");
                    failed = true;
                }

                final List<byte[]> decoded = Frames.readAll(channel);
                assertTrue(decoded.isEmpty() || !failedBefore, "frames emitted after a failure");
                frames.addAll(decoded);
            }
            channel.finish();
            assertTrue(Frames.readAll(channel).isEmpty(), "frames emitted at close");

            final byte[] emitted = Frames.concat(frames.toArray(new byte[0][]));
            assertTrue(emitted.length <= input.length);
            assertArrayEquals(Arrays.copyOf(input, emitted.length), emitted, "frames are the input, in order");
            for (final ByteBuf chunk : chunks)
            {
                assertEquals(0, chunk.refCnt(), "input chunk released");
            }
        }
        catch (final Throwable ex)
        {
            channel.finishAndReleaseAll();
            fail(context + " input=" + ByteBufUtil.hexDump(input), ex);
        }
        framesEmitted += frames.size();
        for (final byte[] frame : frames)
        {
            typesEmitted[frame[Flyweight.TYPE_OFFSET] & 0xFF] = true;
        }
        inputsRejected += failed ? 1 : 0;
    }

    private static byte[] validFrames(final Random random)
    {
        final int count = 1 + random.nextInt(4);
        final byte[][] frames = new byte[count][];
        for (int i = 0; i < count; i++)
        {
            frames[i] = SAMPLES[random.nextInt(SAMPLES.length)];
        }
        return Frames.concat(frames);
    }

    /**
     * Plausible headers (mostly version 1, a known type, a length near the type's minimum) over random bodies, so
     * that the body checks are reached and fixed-length frames sometimes pass.
     */
    private static byte[] randomFrames(final Random random)
    {
        final int count = 1 + random.nextInt(3);
        final byte[][] frames = new byte[count][];
        for (int i = 0; i < count; i++)
        {
            final int type = random.nextInt(10) == 0 ? random.nextInt(256) : 1 + random.nextInt(FrameType.MAX_KNOWN);
            final int base = FrameType.isKnown(type) ? FrameType.minLength(type) : Flyweight.HEADER_LENGTH;
            final int spread = random.nextBoolean() ? 4 : 64;
            final int length = Math.max(Flyweight.HEADER_LENGTH, base - 2 + random.nextInt(spread));
            final ByteBuf frame = Unpooled.wrappedBuffer(randomBytes(random, length));
            frame.setInt(Flyweight.LENGTH_OFFSET, length);
            frame.setByte(Flyweight.VERSION_OFFSET, random.nextInt(20) == 0 ? random.nextInt(256) : 1);
            frame.setByte(Flyweight.TYPE_OFFSET, type);
            frame.setShort(Flyweight.FLAGS_OFFSET, random.nextInt(4) == 0 ? random.nextInt(4) : 0);
            if (length >= Flyweight.HEADER_LENGTH + 4 && random.nextBoolean())
            {
                // Small values in the first body fields make string lengths and enumerations plausible.
                for (int index = Flyweight.HEADER_LENGTH; index < length; index++)
                {
                    frame.setByte(index, random.nextInt(4) == 0 ? random.nextInt(256) : random.nextInt(3));
                }
            }
            frames[i] = frame.array();
        }
        return Frames.concat(frames);
    }

    private static byte[] mutate(final Random random, final byte[] frames)
    {
        byte[] mutated = frames.clone();
        final int mutations = 1 + random.nextInt(3);
        for (int m = 0; m < mutations && mutated.length > 0; m++)
        {
            final ByteBuf buf = Unpooled.wrappedBuffer(mutated);
            final int index = random.nextInt(mutated.length);
            switch (random.nextInt(6))
            {
                case 0:
                    mutated[index] = (byte)random.nextInt(256);
                    break;
                case 1:
                    mutated[index] ^= (byte)(1 << random.nextInt(8));
                    break;
                case 2:
                    if (index + Integer.BYTES <= mutated.length)
                    {
                        buf.setInt(index, BOUNDARY_INTS[random.nextInt(BOUNDARY_INTS.length)]);
                    }
                    break;
                case 3:
                    if (index + Short.BYTES <= mutated.length)
                    {
                        buf.setShort(index, random.nextBoolean() ? random.nextInt(0x10000) : random.nextInt(16));
                    }
                    break;
                case 4:
                    mutated = Arrays.copyOf(mutated, index);
                    break;
                default:
                    mutated = Frames.concat(Arrays.copyOf(mutated, index), new byte[]{(byte)random.nextInt(256)},
                        Arrays.copyOfRange(mutated, index, mutated.length));
                    break;
            }
        }
        return mutated;
    }

    private static byte[] randomBytes(final Random random, final int length)
    {
        final byte[] bytes = new byte[length];
        random.nextBytes(bytes);
        return bytes;
    }
}
