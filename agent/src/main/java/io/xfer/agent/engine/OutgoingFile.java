package io.xfer.agent.engine;

import io.xfer.agent.storage.SourceEntry;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.security.MessageDigest;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A file the receiver asked for, while the sender reads it and until the receiver's verdict: the channel stays
 * open so that chunks lost with a dead stream can be read again.
 */
final class OutgoingFile
{
    final int fileId;
    final SourceEntry entry;
    final FileChannel channel;
    final ChunkDigest digest = new ChunkDigest();
    long nextOffset;
    /** Bytes the receiver already holds from an earlier run: read for the digest, not sent. */
    long resumeOffset;
    int compressionSkip;
    int compressionBackoff;
    /** Whether auto compression asked its {@link CompressionHistory} about this file yet. */
    boolean historyConsulted;
    /** The {@link CompressionHistory} slot that the outcome of this file's first LZ4 try goes to, or -1. */
    int historySlot = -1;
    boolean failed;
    /** On the sender's read queue. */
    boolean queued;
    /** SHA-256 of the content read so far, in order, when SHA-256 digests were asked for. */
    MessageDigest contentDigest;
    String contentDigestHex;
    /** The sender's own hold on the channel plus one per region still queued on a connection. */
    private final AtomicInteger channelHolds = new AtomicInteger(1);
    private boolean closed;

    OutgoingFile(final int fileId, final SourceEntry entry, final FileChannel channel, final long startOffset)
    {
        this.fileId = fileId;
        this.entry = entry;
        this.channel = channel;
        this.nextOffset = startOffset;
    }

    boolean fullyRead()
    {
        return nextOffset >= entry.size();
    }

    /** A region of this file was queued on a connection: the channel stays open until it was written. */
    void holdChannel()
    {
        channelHolds.incrementAndGet();
    }

    /** A queued region was written or dropped; the last hold closes the channel. Any thread. */
    void releaseChannel()
    {
        if (channelHolds.decrementAndGet() == 0)
        {
            try
            {
                channel.close();
            }
            catch (final IOException ignore)
            {
                // read-only channel: nothing was buffered
            }
        }
    }

    /** The sender is done with the file; the channel closes once no queued region needs it. Sender thread. */
    void close()
    {
        if (!closed)
        {
            closed = true;
            releaseChannel();
        }
    }
}
