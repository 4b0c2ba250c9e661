package io.xfer.agent.engine;

import io.netty.buffer.ByteBuf;
import io.xfer.protocol.DataFlyweight;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;

/**
 * Descriptor of one chunk between the sender's reader and the streams: the payload sits in a pooled direct buffer
 * (raw or LZ4), or, for plaintext data connections, stays in the file as a region sent with sendfile; the
 * descriptor carries what the DATA header needs and what a re-send must check.
 * <p>
 * A payload buffer whose pooled allocation has room keeps {@link #HEADROOM} bytes free before its readable bytes,
 * so the stream writes the DATA header there and sends header and payload as one message (one TLS engine call, no
 * header buffer); otherwise the header goes in a buffer of its own.
 * <p>
 * Descriptors are recycled through a {@link Pool}: the sender's thread takes them, and the stream that wrote one
 * gives it back when its acknowledgement arrives. A descriptor handed back to the sender because its stream died
 * is never recycled.
 */
final class Chunk
{
    /** Ring accounting unit: a chunk costs at least this many bytes of ring budget. */
    static final int MIN_CHARGE_BYTES = 4096;
    /** Free bytes before a payload buffer's readable bytes, for the DATA header. */
    static final int HEADROOM = DataFlyweight.HEADER_LENGTH;

    private final Pool pool;
    OutgoingFile file;
    long offset;
    int rawLength;
    int checksum;
    int flags;
    int wireLength;
    int chargeBytes;
    ByteBuf payload;
    SharedFileRegion region;
    long sentNs;
    /** Event loop: acknowledgements still to come for this chunk's entry in its stream's table (copies sent). */
    int acksDue;
    /** Handed back to the sender with a dead stream: the sender still reads it, so it is never recycled. */
    private boolean lost;

    private Chunk(final Pool pool)
    {
        this.pool = pool;
    }

    private Chunk set(
        final OutgoingFile file,
        final long offset,
        final int rawLength,
        final int checksum,
        final int flags,
        final int wireLength,
        final ByteBuf payload,
        final SharedFileRegion region)
    {
        this.file = file;
        this.offset = offset;
        this.rawLength = rawLength;
        this.checksum = checksum;
        this.flags = flags;
        this.wireLength = wireLength;
        this.chargeBytes = charge(rawLength);
        this.payload = payload;
        this.region = region;
        this.sentNs = 0;
        this.acksDue = 0;
        this.lost = false;
        return this;
    }

    /** Give up the payload of a chunk that will not be written. */
    void release()
    {
        if (payload != null)
        {
            payload.release();
            payload = null;
        }
        if (region != null)
        {
            region.release();
            region = null;
        }
    }

    /** Event loop: the stream died with this chunk unacknowledged; it goes back to the sender, not to the pool. */
    void lost()
    {
        lost = true;
    }

    /**
     * Event loop: the chunk's acknowledgement arrived, or a copy sent again took its place in the stream's table;
     * nothing refers to the descriptor any more, and it goes back to the pool.
     */
    void acknowledged()
    {
        if (!lost)
        {
            file = null;
            payload = null;
            region = null;
            pool.recycle(this);
        }
    }

    static int charge(final int rawLength)
    {
        return Math.max(MIN_CHARGE_BYTES, rawLength);
    }

    /**
     * Free descriptors of one sender: taken by its thread only, given back by any stream's event loop. Bounded:
     * beyond {@link #CAPACITY} free descriptors, one given back is left to the collector.
     */
    static final class Pool
    {
        static final int CAPACITY = 1024;

        private final ManyToOneConcurrentArrayQueue<Chunk> free = new ManyToOneConcurrentArrayQueue<>(CAPACITY);

        /** A chunk whose payload is a buffer's readable bytes, with {@link #HEADROOM} before them where it had room. */
        Chunk ofBuffer(
            final OutgoingFile file,
            final long offset,
            final int rawLength,
            final int checksum,
            final int flags,
            final ByteBuf payload)
        {
            return take().set(file, offset, rawLength, checksum, flags, payload.readableBytes(), payload, null);
        }

        /** A raw chunk sent from its file. */
        Chunk ofRegion(
            final OutgoingFile file,
            final long offset,
            final int rawLength,
            final int checksum,
            final SharedFileRegion region)
        {
            return take().set(file, offset, rawLength, checksum, 0, rawLength, null, region);
        }

        private Chunk take()
        {
            final Chunk chunk = free.poll();
            return chunk != null ? chunk : new Chunk(this);
        }

        private void recycle(final Chunk chunk)
        {
            free.offer(chunk);
        }

        /** Free descriptors held, for tests. */
        int size()
        {
            return free.size();
        }
    }
}
