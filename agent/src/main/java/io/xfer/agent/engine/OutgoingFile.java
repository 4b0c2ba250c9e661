package io.xfer.agent.engine;

import io.xfer.agent.storage.SourceEntry;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.security.MessageDigest;

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
    boolean failed;
    /** SHA-256 of the content read so far, in order, when SHA-256 digests were asked for. */
    MessageDigest contentDigest;
    String contentDigestHex;

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

    void close()
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
