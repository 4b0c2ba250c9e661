package io.xfer.perf.jmh;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.xfer.protocol.DataFlyweight;
import io.xfer.protocol.FileEntryFlyweight;
import io.xfer.protocol.FrameDecoder;
import io.xfer.protocol.ProtocolVersion;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * Frames per second through the protocol codec: encoding the 32-byte DATA header and a FILE_ENTRY frame the way
 * the sender does, and splitting and validating an inbound stream of them with {@link FrameDecoder} in an
 * {@link EmbeddedChannel} whose allocator is the agent's pooled one.
 *
 * <p>Why it matters: every chunk costs one DATA header on each side, and a tree of a million small files costs a
 * million FILE_ENTRY frames, so the per-frame cost bounds the small-file rate. Three decode cases:
 * <ul>
 *   <li>{@code decodeDataFrames}: the frames arrive as one contiguous buffer, so the decoder only frames,
 *   validates and slices (payload length should not matter).</li>
 *   <li>{@code decodeDataFramesFromTlsRecords}: the same frames arrive as 16 KiB decrypted TLS records, the last
 *   of each frame short, as SslHandler hands them on; the decoder's merge cumulator then copies the payload into
 *   a cumulation buffer that grows by doubling (so some bytes more than once) and comes from the pool. This is the
 *   receive path the agent runs today, and the gap to {@code decodeDataFrames} is its reassembly cost. Each frame
 *   is released before the next arrives, as by a receiver that keeps up.</li>
 *   <li>{@code decodeFileEntryFrames}: manifest entries, including the UTF-8 check of each path.</li>
 * </ul>
 * Scores are frames/s ({@link OperationsPerInvocation}); the encode scores are headers or entries per second.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 2, jvmArgsAppend = {
    AgentJvmOptions.ADD_EXPORTS, AgentJvmOptions.MAX_HEAP, AgentJvmOptions.MAX_DIRECT_MEMORY})
@State(Scope.Thread)
public class FrameCodecBenchmark
{
    /** DATA frames per decode invocation: enough to amortise the channel round trip, few enough to stay small. */
    static final int DATA_FRAMES = 16;
    /** FILE_ENTRY frames per decode invocation. */
    static final int FILE_ENTRY_FRAMES = 256;
    /** Bytes per write into the decoder in the TLS-record case: a full TLS record's plaintext. */
    static final int TLS_RECORD_LENGTH = 16 * 1024;

    private static final String PATH = "corpora/2025-06/shard-00042/part-00017.jsonl.zst";

    @Param({"1048576", "65536"})
    int chunkLength;

    private final ByteBufAllocator allocator = PooledByteBufAllocator.DEFAULT;
    private EmbeddedChannel channel;
    private ByteBuf dataFrames;
    private ByteBuf[] dataFrameRecords;
    private int recordsPerFrame;
    private ByteBuf fileEntryFrames;
    private long fileOffset;

    @Setup(Level.Trial)
    public void setUp()
    {
        channel = new EmbeddedChannel(new FrameDecoder(ProtocolVersion.MAX_FRAME_LENGTH));
        channel.config().setAllocator(allocator);

        final byte[] payload = ChunkData.randomBytes(chunkLength);
        dataFrames = allocator.directBuffer(DATA_FRAMES * (DataFlyweight.HEADER_LENGTH + chunkLength));
        for (int i = 0; i < DATA_FRAMES; i++)
        {
            final ByteBuf header = DataFlyweight.encodeHeader(
                allocator, 0, 7, (long)i * chunkLength, chunkLength, 0x5EED_0000 + i, chunkLength);
            dataFrames.writeBytes(header).writeBytes(payload);
            header.release();
        }

        // cut per frame, as the sender's SslHandler does when it flushes every DATA frame: the last record is short
        final int frameLength = DataFlyweight.HEADER_LENGTH + chunkLength;
        recordsPerFrame = (frameLength + TLS_RECORD_LENGTH - 1) / TLS_RECORD_LENGTH;
        dataFrameRecords = new ByteBuf[DATA_FRAMES * recordsPerFrame];
        for (int i = 0; i < dataFrameRecords.length; i++)
        {
            final int frameStart = (i / recordsPerFrame) * frameLength;
            final int recordStart = (i % recordsPerFrame) * TLS_RECORD_LENGTH;
            final int length = Math.min(TLS_RECORD_LENGTH, frameLength - recordStart);
            dataFrameRecords[i] = dataFrames.slice(frameStart + recordStart, length);
        }

        fileEntryFrames = allocator.directBuffer();
        for (int i = 0; i < FILE_ENTRY_FRAMES; i++)
        {
            final ByteBuf entry = FileEntryFlyweight.encode(allocator, i, FileEntryFlyweight.TYPE_FILE, 0644,
                4096, 1_750_000_000_000_000_000L + i, PATH, "");
            fileEntryFrames.writeBytes(entry);
            entry.release();
        }
    }

    @TearDown(Level.Trial)
    public void tearDown()
    {
        channel.finishAndReleaseAll();
        dataFrames.release();
        fileEntryFrames.release();
    }

    @Benchmark
    public int encodeDataHeader()
    {
        fileOffset += chunkLength;
        final ByteBuf header = DataFlyweight.encodeHeader(
            allocator, 0, 7, fileOffset, chunkLength, (int)fileOffset, chunkLength);
        final int length = header.readableBytes();
        header.release();
        return length;
    }

    @Benchmark
    public int encodeFileEntry()
    {
        fileOffset++;
        final ByteBuf entry = FileEntryFlyweight.encode(allocator, (int)fileOffset & Integer.MAX_VALUE,
            FileEntryFlyweight.TYPE_FILE, 0644, 4096, fileOffset, PATH, "");
        final int length = entry.readableBytes();
        entry.release();
        return length;
    }

    @Benchmark
    @OperationsPerInvocation(DATA_FRAMES)
    public int decodeDataFrames()
    {
        channel.writeInbound(dataFrames.retainedDuplicate());
        return drain(DATA_FRAMES);
    }

    @Benchmark
    @OperationsPerInvocation(DATA_FRAMES)
    public int decodeDataFramesFromTlsRecords()
    {
        // frame by frame, releasing each before the next arrives, as a receiver that keeps up with the link does
        int frames = 0;
        for (int i = 0; i < dataFrameRecords.length; i++)
        {
            channel.writeOneInbound(dataFrameRecords[i].retainedDuplicate());
            if ((i + 1) % recordsPerFrame == 0)
            {
                channel.flushInbound();
                frames += drain(1);
            }
        }
        return frames;
    }

    @Benchmark
    @OperationsPerInvocation(FILE_ENTRY_FRAMES)
    public int decodeFileEntryFrames()
    {
        channel.writeInbound(fileEntryFrames.retainedDuplicate());
        return drain(FILE_ENTRY_FRAMES);
    }

    private int drain(final int expectedFrames)
    {
        int frames = 0;
        ByteBuf frame;
        while ((frame = channel.readInbound()) != null)
        {
            frames++;
            frame.release();
        }
        if (frames != expectedFrames)
        {
            throw new IllegalStateException("decoded " + frames + " frames, expected " + expectedFrames);
        }
        return frames;
    }
}
