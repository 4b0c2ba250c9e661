package io.xfer.agent.engine;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOutboundBuffer;
import io.xfer.protocol.ChunkAckFlyweight;
import io.xfer.protocol.DataFlyweight;

import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * One connection of a sending transfer, as seen by the sender: confined to the connection's event loop, it pulls
 * chunks from the {@link ChunkScheduler} while it has credit (unacknowledged bytes below the window) and the socket
 * is writable, writes them, and on CHUNK_ACK frees the credit and records the round trip. When the connection dies
 * its unacknowledged chunks go back to the sender to be read and sent again on the streams that remain.
 */
final class DataStream implements FrameConnection.StreamListener
{
    private final FrameConnection connection;
    private final Channel channel;
    private final ChunkScheduler scheduler;
    private final long windowBytes;
    private final LatencyRecorder latency;
    private final Consumer<List<Chunk>> onLost;
    private final InFlightChunks inFlight = new InFlightChunks();
    private final ChannelDrain drain = new ChannelDrain();
    private final Runnable pumpTask = this::pump;
    private final Runnable drainTask = this::releaseWritten;
    private final AtomicBoolean starving = new AtomicBoolean(false);
    private long inFlightBytes;
    private boolean dead;

    DataStream(
        final FrameConnection connection,
        final ChunkScheduler scheduler,
        final long windowBytes,
        final LatencyRecorder latency,
        final Consumer<List<Chunk>> onLost)
    {
        this.connection = connection;
        this.channel = connection.channel();
        this.scheduler = scheduler;
        this.windowBytes = windowBytes;
        this.latency = latency;
        this.onLost = onLost;
        this.starving.set(true);
    }

    FrameConnection connection()
    {
        return connection;
    }

    /**
     * Any thread: schedule a pump if this stream is idle for want of chunks.
     *
     * @return true when this call woke the stream.
     */
    boolean wake()
    {
        if (starving.compareAndSet(true, false))
        {
            channel.eventLoop().execute(pumpTask);
            return true;
        }
        return false;
    }

    private void pump()
    {
        if (dead)
        {
            return;
        }
        releaseWritten();
        boolean wrote = false;
        while (inFlightBytes < windowBytes && channel.isWritable())
        {
            final Chunk chunk = scheduler.poll();
            if (chunk == null)
            {
                starving.set(true);
                // a chunk offered between the poll and the flag would otherwise wait for the next offer
                if (scheduler.isEmpty() || !starving.compareAndSet(true, false))
                {
                    break;
                }
                continue;
            }
            write(chunk);
            wrote = true;
        }
        if (wrote)
        {
            channel.flush();
        }
    }

    /**
     * Any thread: have the event loop return the budget of what the channel has written out since its last pump.
     * A pump returns it too, but one runs only on an acknowledgement, a wake-up or a change of writability: the
     * last bytes of a TLS output buffer that also held frames of the role's may leave after the last
     * acknowledgement, and a reader waiting for that budget would otherwise wait for good.
     */
    void nudge()
    {
        if (!dead)
        {
            channel.eventLoop().execute(drainTask);
        }
    }

    /** The budget of the chunks the channel has written out since the last call goes back to the reader. */
    private void releaseWritten()
    {
        final ChannelOutboundBuffer outbound = channel.unsafe().outboundBuffer();
        final long released = drain.drained(outbound != null ? outbound.totalPendingWriteBytes() : 0);
        if (released > 0)
        {
            scheduler.release(released);
        }
    }

    private void write(final Chunk chunk)
    {
        chunk.acksDue = 1;
        final Chunk displaced = inFlight.put(chunk);
        if (displaced != null)
        {
            // a copy sent again on this stream (RESEND) before the first copy's acknowledgement: its credit counts
            // once, and the entry stays until every copy's acknowledgement has arrived, whichever comes first
            chunk.acksDue += displaced.acksDue;
            inFlightBytes -= displaced.wireLength;
            displaced.acknowledged();
        }
        inFlightBytes += chunk.wireLength;
        chunk.sentNs = System.nanoTime();
        final ByteBuf payload = chunk.payload;
        final SharedFileRegion region = chunk.region;
        chunk.payload = null;
        chunk.region = null;
        final int headerIndex = payload != null ? payload.readerIndex() - DataFlyweight.HEADER_LENGTH : -1;
        if (headerIndex >= 0)
        {
            // header and payload in one buffer: one message, one TLS engine call
            DataFlyweight.writeHeader(payload, headerIndex, chunk.flags, chunk.file.fileId, chunk.offset,
                chunk.rawLength, chunk.checksum, chunk.wireLength);
            channel.write(payload.readerIndex(headerIndex), channel.voidPromise());
        }
        else
        {
            channel.write(DataFlyweight.encodeHeader(channel.alloc(), chunk.flags, chunk.file.fileId,
                chunk.offset, chunk.rawLength, chunk.checksum, chunk.wireLength), channel.voidPromise());
            channel.write(payload != null ? payload : region, channel.voidPromise());
        }
        // its budget goes back once the channel has written it out; a write that fails closes the channel,
        // which hands the chunk back as lost and its budget back at once. A region counts as its header only: the
        // outbound buffer counts a FileRegion as nothing (its bytes stay in the file, and hold no budget's memory)
        drain.handed(DataFlyweight.HEADER_LENGTH + (payload != null ? chunk.wireLength : 0), chunk.chargeBytes);
    }

    @Override
    public void onChunkAck(final ChunkAckFlyweight ack)
    {
        final Chunk chunk = inFlight.acknowledge(ack.fileId(), ack.fileOffset());
        if (chunk == null)
        {
            // unknown, or an earlier copy's acknowledgement while a later copy is still due
            return;
        }
        inFlightBytes -= chunk.wireLength;
        latency.record(LatencyRecorder.Metric.CHUNK_RTT, System.nanoTime() - chunk.sentNs);
        chunk.acknowledged();
        pump();
    }

    @Override
    public void onWritable()
    {
        pump();
    }

    @Override
    public void onClosed()
    {
        if (dead)
        {
            return;
        }
        dead = true;
        scheduler.removeStream(this);
        final long held = drain.drainAll();
        if (held > 0)
        {
            scheduler.release(held);
        }
        final List<Chunk> lost = inFlight.removeAll();
        for (final Chunk chunk : lost)
        {
            chunk.lost();
        }
        inFlightBytes = 0;
        if (!lost.isEmpty())
        {
            onLost.accept(lost);
        }
        // what this stream would have taken goes to the others
        scheduler.offerWakeAll();
    }
}
