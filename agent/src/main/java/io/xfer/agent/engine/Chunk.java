package io.xfer.agent.engine;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;

/**
 * Descriptor of one chunk between the sender's reader and the streams: the payload sits in a pooled direct buffer
 * (raw or LZ4), or, for plaintext data connections, stays in the file as a region sent with sendfile; the
 * descriptor carries what the DATA header needs and what a re-send must check.
 */
final class Chunk implements ChannelFutureListener
{
    /** Ring accounting unit: a chunk costs at least this many bytes of ring budget. */
    static final int MIN_CHARGE_BYTES = 4096;

    final OutgoingFile file;
    final long offset;
    final int rawLength;
    final int checksum;
    final int flags;
    final int wireLength;
    final int chargeBytes;
    ByteBuf payload;
    SharedFileRegion region;
    long sentNs;
    /** Where the chunk's budget goes back once its payload is written (set by the stream that writes it). */
    ChunkScheduler releaseTo;

    Chunk(final OutgoingFile file, final long offset, final int rawLength, final int checksum, final int flags,
        final ByteBuf payload)
    {
        this.file = file;
        this.offset = offset;
        this.rawLength = rawLength;
        this.checksum = checksum;
        this.flags = flags;
        this.payload = payload;
        this.wireLength = payload.readableBytes();
        this.chargeBytes = charge(rawLength);
    }

    /** A raw chunk sent from its file. */
    Chunk(final OutgoingFile file, final long offset, final int rawLength, final int checksum,
        final SharedFileRegion region)
    {
        this.file = file;
        this.offset = offset;
        this.rawLength = rawLength;
        this.checksum = checksum;
        this.flags = 0;
        this.region = region;
        this.wireLength = rawLength;
        this.chargeBytes = charge(rawLength);
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

    /** The payload's write completed (or failed): its budget goes back. Being the listener saves one per chunk. */
    @Override
    public void operationComplete(final ChannelFuture future)
    {
        releaseTo.release(chargeBytes);
    }

    static int charge(final int rawLength)
    {
        return Math.max(MIN_CHARGE_BYTES, rawLength);
    }

    /** Identity of a chunk on the wire: file id and offset. */
    record Key(int fileId, long offset)
    {
    }

    Key key()
    {
        return new Key(file.fileId, offset);
    }
}
