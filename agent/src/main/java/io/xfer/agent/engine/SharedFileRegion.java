package io.xfer.agent.engine;

import io.netty.channel.DefaultFileRegion;

/**
 * A chunk's bytes as a region of its file, written to a plaintext data connection with sendfile: the payload goes
 * from the page cache to the socket without passing through this process. It uses the sender's own channel to the
 * file (opened without following links), which stays open until the region has been written or dropped; the
 * default region would close that channel, or open the file again by name.
 */
final class SharedFileRegion extends DefaultFileRegion
{
    private final OutgoingFile file;

    SharedFileRegion(final OutgoingFile file, final long offset, final int length)
    {
        super(file.channel, offset, length);
        this.file = file;
        file.holdChannel();
    }

    @Override
    protected void deallocate()
    {
        file.releaseChannel();
    }
}
