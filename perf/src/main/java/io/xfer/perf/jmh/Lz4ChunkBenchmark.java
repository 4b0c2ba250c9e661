package io.xfer.perf.jmh;

import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;
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

/**
 * LZ4 block compression and safe decompression of one chunk, direct buffer to direct buffer, with
 * {@link LZ4Factory#fastestInstance()} (the JNI implementation here), as the adaptive per-chunk compression of
 * the data path will run it.
 *
 * <p>Why it matters: LZ4 sits on the sender's and receiver's critical path for every chunk. On compressible data
 * it must beat the link (about 2.2 GB/s of TLS here, 10-100 Gbit/s in the corridor) or it slows the transfer
 * down; on incompressible data every compress call is wasted work before the chunk goes raw, so its cost is the
 * price of trying. The score is chunks/s; the secondary {@code :megabytes} result is MB/s of uncompressed bytes
 * (equal to chunks/s times chunkLength / 10^6).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 2, jvmArgsAppend = {
    AgentJvmOptions.ADD_EXPORTS, AgentJvmOptions.MAX_HEAP, AgentJvmOptions.MAX_DIRECT_MEMORY})
@State(Scope.Thread)
public class Lz4ChunkBenchmark
{
    @Param({"1048576", "65536"})
    int chunkLength;

    @Param({ChunkData.INCOMPRESSIBLE, ChunkData.COMPRESSIBLE})
    String data;

    private final LZ4Compressor compressor = LZ4Factory.fastestInstance().fastCompressor();
    private final LZ4SafeDecompressor decompressor = LZ4Factory.fastestInstance().safeDecompressor();
    private ByteBuffer raw;
    private ByteBuffer compressed;
    private int compressedLength;
    private ByteBuffer scratch;

    @Setup(Level.Trial)
    public void setUp()
    {
        raw = ChunkData.directChunk(data, chunkLength);
        final int maxCompressedLength = compressor.maxCompressedLength(chunkLength);
        compressed = ByteBuffer.allocateDirect(maxCompressedLength);
        compressedLength = compressor.compress(raw, 0, chunkLength, compressed, 0, maxCompressedLength);
        scratch = ByteBuffer.allocateDirect(maxCompressedLength);

        final int decompressedLength =
            decompressor.decompress(compressed, 0, compressedLength, scratch, 0, chunkLength);
        if (decompressedLength != chunkLength || !scratch.slice(0, chunkLength).equals(raw))
        {
            throw new IllegalStateException("LZ4 round trip of " + chunkLength + " bytes of " + data + " failed");
        }
    }

    @Benchmark
    public int compress(final MegabytesCounter counter)
    {
        counter.add(chunkLength);
        return compressor.compress(raw, 0, chunkLength, scratch, 0, scratch.capacity());
    }

    @Benchmark
    public int decompress(final MegabytesCounter counter)
    {
        counter.add(chunkLength);
        return decompressor.decompress(compressed, 0, compressedLength, scratch, 0, chunkLength);
    }
}
