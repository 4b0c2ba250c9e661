package io.xfer.perf.jmh;

import net.jpountz.xxhash.XXHash64;
import net.jpountz.xxhash.XXHashFactory;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;
import java.util.zip.CRC32C;

/**
 * Checksum of one chunk in a direct buffer: {@link CRC32C} (what DATA frames carry), {@link CRC32} for
 * comparison, and XXHash64 from lz4-java ({@code XXHashFactory.fastestInstance().hash64()}) as the candidate
 * non-cryptographic alternative.
 *
 * <p>Why it matters: the sender checksums every chunk before it leaves and the receiver again before it writes,
 * so at full rate the checksum runs over every byte twice per transfer; it has to run many times faster than the
 * link so that it stays a small share of a core. The score is chunks/s; the secondary {@code :megabytes} result
 * is MB/s (chunks/s times chunkLength / 10^6).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 2, jvmArgsAppend = {
    AgentJvmOptions.ADD_EXPORTS, AgentJvmOptions.MAX_HEAP, AgentJvmOptions.MAX_DIRECT_MEMORY})
@State(Scope.Thread)
public class ChecksumBenchmark
{
    private static final long XXHASH_SEED = 0;

    @Param({"1048576", "65536"})
    int chunkLength;

    private final CRC32C crc32c = new CRC32C();
    private final CRC32 crc32 = new CRC32();
    private final XXHash64 xxHash64 = XXHashFactory.fastestInstance().hash64();
    private ByteBuffer chunk;

    @Setup(Level.Trial)
    public void setUp()
    {
        chunk = ChunkData.directChunk(ChunkData.INCOMPRESSIBLE, chunkLength);
    }

    @Benchmark
    public long crc32c(final MegabytesCounter counter)
    {
        counter.add(chunkLength);
        crc32c.reset();
        crc32c.update(chunk.clear());
        return crc32c.getValue();
    }

    @Benchmark
    public long crc32(final MegabytesCounter counter)
    {
        counter.add(chunkLength);
        crc32.reset();
        crc32.update(chunk.clear());
        return crc32.getValue();
    }

    @Benchmark
    public long xxHash64(final MegabytesCounter counter)
    {
        counter.add(chunkLength);
        return xxHash64.hash(chunk, 0, chunkLength, XXHASH_SEED);
    }
}
