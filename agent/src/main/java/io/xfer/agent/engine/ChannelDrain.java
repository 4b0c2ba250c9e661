package io.xfer.agent.engine;

/**
 * The send budget of the chunks a stream handed to its channel, given back as the channel's outbound buffer
 * drains past them: a chunk's charge returns once the bytes written to the channel since it, minus what the
 * channel still holds, cover it. So the budget bounds the payload a transfer holds until it is on the wire, as a
 * write promise per chunk would, without the promise and its listener.
 * <p>
 * What the channel holds ({@code ChannelOutboundBuffer.totalPendingWriteBytes}) counts whole buffers until they
 * are written out, TLS records with their overhead, and the connection's other frames; each only delays a return,
 * never brings one forward. It counts a {@code FileRegion} (sendfile) as nothing, so a chunk sent as a region is
 * handed as its header alone. A return that waits for bytes other than chunks may outlast the stream's last
 * acknowledgement, after which no pump comes: the reader, short of budget, asks for a drain
 * ({@link DataStream#nudge}). Confined to the stream's event loop; a ring of primitives, no object per chunk.
 */
final class ChannelDrain
{
    private long[] ends = new long[64];
    private int[] charges = new int[64];
    private int head;
    private int size;
    private long handedBytes;

    /** A chunk of {@code bytes} on the wire (header included) was written to the channel. */
    void handed(final long bytes, final int charge)
    {
        handedBytes += bytes;
        if (size == ends.length)
        {
            grow();
        }
        final int tail = (head + size) & (ends.length - 1);
        ends[tail] = handedBytes;
        charges[tail] = charge;
        size++;
    }

    /**
     * @param pendingBytes what the channel still holds.
     * @return the charges of the chunks now written out, taken off the ring.
     */
    long drained(final long pendingBytes)
    {
        final long written = handedBytes - pendingBytes;
        final int mask = ends.length - 1;
        long released = 0;
        while (size > 0 && ends[head] <= written)
        {
            released += charges[head];
            head = (head + 1) & mask;
            size--;
        }
        return released;
    }

    /** @return every charge still held (the channel is gone), taken off the ring. */
    long drainAll()
    {
        final int mask = ends.length - 1;
        long released = 0;
        while (size > 0)
        {
            released += charges[head];
            head = (head + 1) & mask;
            size--;
        }
        return released;
    }

    int size()
    {
        return size;
    }

    private void grow()
    {
        final int capacity = ends.length;
        final long[] newEnds = new long[capacity << 1];
        final int[] newCharges = new int[capacity << 1];
        for (int i = 0; i < size; i++)
        {
            newEnds[i] = ends[(head + i) & (capacity - 1)];
            newCharges[i] = charges[(head + i) & (capacity - 1)];
        }
        ends = newEnds;
        charges = newCharges;
        head = 0;
    }

    @Override
    public String toString()
    {
        return "ChannelDrain{handed=" + handedBytes + ", held=" + size + ", next=" + (size > 0 ? ends[head] : -1) +
            "}";
    }
}
