package io.xfer.perf.jmh;

import org.agrona.BitUtil;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.ManyToManyConcurrentArrayQueue;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.OneToOneConcurrentArrayQueue;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.YieldingIdleStrategy;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RecordDescriptor;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Control;

import java.nio.ByteBuffer;
import java.util.Queue;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Hand-off of chunks from one producer thread (disk reader) to one consumer thread (network writer) through a
 * bounded structure, the decoupling the data path puts between disk I/O and the network:
 * <ul>
 *   <li>{@code oneToOneQueue}, {@code manyToManyQueue}, {@code arrayBlockingQueue}: a {@link ChunkDescriptor}
 *   (slab, offset, length, file id, file offset) over a fixed pool of off-heap slabs passes through Agrona's
 *   {@link OneToOneConcurrentArrayQueue}, {@link ManyToManyConcurrentArrayQueue} or the JDK's
 *   {@link ArrayBlockingQueue}; no payload byte moves, so chunkLength should not change the rate.</li>
 *   <li>{@code ringBufferDescriptor}: the same descriptor written as a 24-byte record into an off-heap Agrona
 *   {@link OneToOneRingBuffer}.</li>
 *   <li>{@code ringBufferSmallPayload} and {@code ringBufferChunkPayload}: the ring carries the bytes themselves,
 *   a 1 KiB record (a small file) or the whole chunk, so each transfer costs one memcpy of the payload into the
 *   ring. The consumer does not copy the bytes out again, which makes this the best case for a byte ring.</li>
 * </ul>
 * Every structure holds {@value #CAPACITY} chunks (rings round up to a power of two), so a full one pushes back on
 * the producer as the engine's rings do. Two ways to wait for room or for a chunk ({@code idle}): {@code spin}
 * busy-spins, which measures the structure rather than the scheduler but needs two free cores (on a host with
 * fewer, such as the 2-core development machine, its rate drops by orders of magnitude and varies from run to run);
 * {@code yield} gives the core up while waiting, which costs a little at full speed and keeps the figures far
 * steadier on a busy host.
 *
 * <p>Read the consumer's line ({@code :...Poll} or {@code :...Read}): chunks handed over per second. The group's
 * primary score adds the producer's and the consumer's calls, so it is twice that. Why it matters: this is the
 * per-chunk cost of decoupling disk from network, and the payload variants show what a byte ring costs against a
 * ring of descriptors (MB/s = transfers/s times the record length / 10^6).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 2, jvmArgsAppend = {
    AgentJvmOptions.ADD_EXPORTS, AgentJvmOptions.MAX_HEAP, AgentJvmOptions.MAX_DIRECT_MEMORY})
@State(Scope.Group)
public class ChunkHandoffBenchmark
{
    /** Chunks a hand-off structure holds before the producer must wait. */
    static final int CAPACITY = 32;
    /** Record length of the small-payload ring: a small file's bytes. */
    static final int SMALL_PAYLOAD_LENGTH = 1024;

    private static final int MSG_TYPE_ID = 1;
    private static final int SLAB_OFFSET = 0;
    private static final int SLAB_OFFSET_OFFSET = SLAB_OFFSET + Integer.BYTES;
    private static final int LENGTH_OFFSET = SLAB_OFFSET_OFFSET + Integer.BYTES;
    private static final int FILE_ID_OFFSET = LENGTH_OFFSET + Integer.BYTES;
    private static final int FILE_OFFSET_OFFSET = FILE_ID_OFFSET + Integer.BYTES;
    private static final int DESCRIPTOR_LENGTH = FILE_OFFSET_OFFSET + Long.BYTES;

    @Param({"1048576", "65536"})
    int chunkLength;

    /** How a side waits for room or for a chunk: busy "spin", or "yield" its core to other threads. */
    @Param({"spin", "yield"})
    String idle;

    private IdleStrategy idleStrategy;

    private ChunkDescriptor[] descriptors;
    private int nextDescriptor;

    private OneToOneConcurrentArrayQueue<ChunkDescriptor> oneToOneQueue;
    private ManyToManyConcurrentArrayQueue<ChunkDescriptor> manyToManyQueue;
    private ArrayBlockingQueue<ChunkDescriptor> arrayBlockingQueue;

    private OneToOneRingBuffer descriptorRing;
    private UnsafeBuffer descriptorRecord;
    private OneToOneRingBuffer smallPayloadRing;
    private OneToOneRingBuffer chunkPayloadRing;
    private UnsafeBuffer payload;

    private final MessageHandler recordHandler = this::onRecord;
    private int receivedWord;

    /**
     * What the producer hands over when the bytes stay in their slab. Immutable and pooled, so the benchmark
     * allocates nothing per transfer, as the engine must not.
     */
    static final class ChunkDescriptor
    {
        final int slab;
        final int slabOffset;
        final int length;
        final int fileId;
        final long fileOffset;

        ChunkDescriptor(
            final int slab, final int slabOffset, final int length, final int fileId, final long fileOffset)
        {
            this.slab = slab;
            this.slabOffset = slabOffset;
            this.length = length;
            this.fileId = fileId;
            this.fileOffset = fileOffset;
        }
    }

    @Setup(Level.Trial)
    public void setUp()
    {
        switch (idle)
        {
            case "spin": idleStrategy = BusySpinIdleStrategy.INSTANCE; break;
            case "yield": idleStrategy = YieldingIdleStrategy.INSTANCE; break;
            default: throw new IllegalArgumentException("idle: " + idle + ", expected spin or yield");
        }

        // twice the capacity: a descriptor is never handed out again while the consumer may still hold it
        descriptors = new ChunkDescriptor[2 * CAPACITY];
        for (int i = 0; i < descriptors.length; i++)
        {
            descriptors[i] = new ChunkDescriptor(i % CAPACITY, 0, chunkLength, 7, (long)i * chunkLength);
        }

        oneToOneQueue = new OneToOneConcurrentArrayQueue<>(CAPACITY);
        manyToManyQueue = new ManyToManyConcurrentArrayQueue<>(CAPACITY);
        arrayBlockingQueue = new ArrayBlockingQueue<>(CAPACITY);

        descriptorRing = newRing(DESCRIPTOR_LENGTH);
        descriptorRecord = new UnsafeBuffer(ByteBuffer.allocateDirect(DESCRIPTOR_LENGTH));
        smallPayloadRing = newRing(SMALL_PAYLOAD_LENGTH);
        chunkPayloadRing = newRing(chunkLength);
        payload = new UnsafeBuffer(ChunkData.directChunk(ChunkData.INCOMPRESSIBLE, chunkLength));
    }

    private static OneToOneRingBuffer newRing(final int messageLength)
    {
        final int recordLength =
            BitUtil.align(messageLength + RecordDescriptor.HEADER_LENGTH, RecordDescriptor.ALIGNMENT);
        // a ring accepts messages of at most an eighth of its capacity
        final int capacity = BitUtil.findNextPositivePowerOfTwo(Math.max(CAPACITY * recordLength, 8 * recordLength));
        return new OneToOneRingBuffer(
            new UnsafeBuffer(ByteBuffer.allocateDirect(capacity + RingBufferDescriptor.TRAILER_LENGTH)));
    }

    @Benchmark
    @Group("oneToOneQueue")
    @GroupThreads(1)
    public void oneToOneQueueOffer(final Control control)
    {
        offer(oneToOneQueue, control);
    }

    @Benchmark
    @Group("oneToOneQueue")
    @GroupThreads(1)
    public int oneToOneQueuePoll(final Control control)
    {
        return poll(oneToOneQueue, control);
    }

    @Benchmark
    @Group("manyToManyQueue")
    @GroupThreads(1)
    public void manyToManyQueueOffer(final Control control)
    {
        offer(manyToManyQueue, control);
    }

    @Benchmark
    @Group("manyToManyQueue")
    @GroupThreads(1)
    public int manyToManyQueuePoll(final Control control)
    {
        return poll(manyToManyQueue, control);
    }

    @Benchmark
    @Group("arrayBlockingQueue")
    @GroupThreads(1)
    public void arrayBlockingQueueOffer(final Control control)
    {
        offer(arrayBlockingQueue, control);
    }

    @Benchmark
    @Group("arrayBlockingQueue")
    @GroupThreads(1)
    public int arrayBlockingQueuePoll(final Control control)
    {
        return poll(arrayBlockingQueue, control);
    }

    @Benchmark
    @Group("ringBufferDescriptor")
    @GroupThreads(1)
    public void ringBufferDescriptorWrite(final Control control)
    {
        final ChunkDescriptor descriptor = nextDescriptor();
        descriptorRecord.putInt(SLAB_OFFSET, descriptor.slab);
        descriptorRecord.putInt(SLAB_OFFSET_OFFSET, descriptor.slabOffset);
        descriptorRecord.putInt(LENGTH_OFFSET, descriptor.length);
        descriptorRecord.putInt(FILE_ID_OFFSET, descriptor.fileId);
        descriptorRecord.putLong(FILE_OFFSET_OFFSET, descriptor.fileOffset);
        write(descriptorRing, descriptorRecord, DESCRIPTOR_LENGTH, control);
    }

    @Benchmark
    @Group("ringBufferDescriptor")
    @GroupThreads(1)
    public int ringBufferDescriptorRead(final Control control)
    {
        return read(descriptorRing, control);
    }

    @Benchmark
    @Group("ringBufferSmallPayload")
    @GroupThreads(1)
    public void ringBufferSmallPayloadWrite(final Control control)
    {
        write(smallPayloadRing, payload, SMALL_PAYLOAD_LENGTH, control);
    }

    @Benchmark
    @Group("ringBufferSmallPayload")
    @GroupThreads(1)
    public int ringBufferSmallPayloadRead(final Control control)
    {
        return read(smallPayloadRing, control);
    }

    @Benchmark
    @Group("ringBufferChunkPayload")
    @GroupThreads(1)
    public void ringBufferChunkPayloadWrite(final Control control)
    {
        write(chunkPayloadRing, payload, chunkLength, control);
    }

    @Benchmark
    @Group("ringBufferChunkPayload")
    @GroupThreads(1)
    public int ringBufferChunkPayloadRead(final Control control)
    {
        return read(chunkPayloadRing, control);
    }

    private ChunkDescriptor nextDescriptor()
    {
        final ChunkDescriptor descriptor = descriptors[nextDescriptor];
        nextDescriptor = (nextDescriptor + 1) % descriptors.length;
        return descriptor;
    }

    private void offer(final Queue<ChunkDescriptor> queue, final Control control)
    {
        final ChunkDescriptor descriptor = nextDescriptor();
        while (!queue.offer(descriptor))
        {
            // the consumer may already have stopped at the end of an iteration
            if (control.stopMeasurement)
            {
                return;
            }
            idleStrategy.idle();
        }
    }

    private int poll(final Queue<ChunkDescriptor> queue, final Control control)
    {
        ChunkDescriptor descriptor;
        while ((descriptor = queue.poll()) == null)
        {
            if (control.stopMeasurement)
            {
                return 0;
            }
            idleStrategy.idle();
        }
        return descriptor.length;
    }

    private void write(
        final OneToOneRingBuffer ring, final UnsafeBuffer source, final int length, final Control control)
    {
        while (!ring.write(MSG_TYPE_ID, source, 0, length))
        {
            if (control.stopMeasurement)
            {
                return;
            }
            idleStrategy.idle();
        }
    }

    private int read(final OneToOneRingBuffer ring, final Control control)
    {
        while (ring.read(recordHandler, 1) == 0)
        {
            if (control.stopMeasurement)
            {
                return 0;
            }
            idleStrategy.idle();
        }
        return receivedWord;
    }

    private void onRecord(final int msgTypeId, final MutableDirectBuffer buffer, final int index, final int length)
    {
        // read the record's first word, as a consumer reads a descriptor field or a payload header
        receivedWord = buffer.getInt(index);
    }
}
