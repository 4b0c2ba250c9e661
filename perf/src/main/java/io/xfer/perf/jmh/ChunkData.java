package io.xfer.perf.jmh;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * Deterministic chunk contents for the benchmarks, so that every fork and every run sees the same bytes.
 */
final class ChunkData
{
    /** Random bytes: what LZ4 meets in compressed archives, media and encrypted backups. */
    static final String INCOMPRESSIBLE = "incompressible";
    /** Text-like log lines: what LZ4 meets in the log and corpus transfers. */
    static final String COMPRESSIBLE = "compressible";

    private static final long SEED = 0x5EED_C0FFEEL;
    private static final String[] LEVELS = {"INFO ", "INFO ", "INFO ", "DEBUG", "WARN ", "ERROR"};
    private static final String[] LOGGERS =
    {
        "io.xfer.agent.engine.Sender", "io.xfer.agent.engine.Receiver", "io.xfer.agent.net.AgentServer",
        "io.xfer.agent.storage.ModuleRoot", "io.xfer.agent.net.ServerHandshakeHandler",
    };
    private static final String[] MESSAGES =
    {
        "chunk %d of file %d sent to 10.0.%d.17:7400 in %d us",
        "checkpoint %d written for transfer %d (%d chunks, %d bytes)",
        "session %d: stream %d credit %d, in flight %d",
        "file %d verified: sha256 chain of %d chunks, %d ms, rate %d MB/s",
        "peer CN=edge-%d.hk.corridor accepted on stream %d after %d ms (TLSv1.3, %d)",
    };

    private ChunkData()
    {
    }

    /**
     * @return a direct buffer of {@code length} bytes of the named kind, position 0, limit {@code length}.
     */
    static ByteBuffer directChunk(final String kind, final int length)
    {
        final byte[] bytes;
        switch (kind)
        {
            case INCOMPRESSIBLE: bytes = randomBytes(length); break;
            case COMPRESSIBLE: bytes = logLines(length); break;
            default: throw new IllegalArgumentException("unknown chunk data: " + kind);
        }
        final ByteBuffer buffer = ByteBuffer.allocateDirect(length);
        buffer.put(bytes).clear();
        return buffer;
    }

    static byte[] randomBytes(final int length)
    {
        final SplittableRandom random = new SplittableRandom(SEED);
        final byte[] bytes = new byte[length];
        for (int i = 0; i < length; i += Long.BYTES)
        {
            long value = random.nextLong();
            for (int j = i; j < Math.min(length, i + Long.BYTES); j++, value >>>= Byte.SIZE)
            {
                bytes[j] = (byte)value;
            }
        }
        return bytes;
    }

    static byte[] logLines(final int length)
    {
        final SplittableRandom random = new SplittableRandom(SEED);
        final StringBuilder text = new StringBuilder(length + 256);
        long timeMs = 1_750_000_000_000L;
        while (text.length() < length)
        {
            timeMs += random.nextInt(50);
            text.append(java.time.Instant.ofEpochMilli(timeMs)).append(' ')
                .append(LEVELS[random.nextInt(LEVELS.length)])
                .append(" [transfer-").append(random.nextInt(16)).append("] ")
                .append(LOGGERS[random.nextInt(LOGGERS.length)]).append(" - ")
                .append(String.format(MESSAGES[random.nextInt(MESSAGES.length)], random.nextInt(100_000),
                    random.nextInt(5_000), random.nextInt(256), random.nextInt(1 << 20)))
                .append('\n');
        }
        final byte[] bytes = new byte[length];
        System.arraycopy(text.toString().getBytes(StandardCharsets.US_ASCII), 0, bytes, 0, length);
        return bytes;
    }
}
