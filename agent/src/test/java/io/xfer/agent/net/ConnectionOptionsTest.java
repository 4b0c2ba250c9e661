package io.xfer.agent.net;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.ChannelOption;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.xfer.agent.config.AgentConfig;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The agent's accepted connections read as much per socket read as the client's do: each read over TLS is one
 * engine call with an allocation of its own, so reads capped at Netty's default 64 KiB made a push allocate twice
 * the heap in the agent.
 */
class ConnectionOptionsTest
{
    @Test
    void shouldLetEveryAcceptedConnectionReadUpToTheReadSize()
    {
        final ServerBootstrap bootstrap = AgentServer.connectionOptions(new ServerBootstrap(), new AgentConfig());
        final Object option = bootstrap.config().childOptions().get(ChannelOption.RCVBUF_ALLOCATOR);
        assertNotNull(option, "accepted connections keep Netty's default read sizes");
        assertEquals(SocketBuffers.READ_MAX_BYTES, largestRead((RecvByteBufAllocator)option));
        assertEquals(largestRead(SocketBuffers.readSizes()), largestRead((RecvByteBufAllocator)option),
            "the agent reads as the client does");
        assertEquals(Boolean.TRUE, bootstrap.config().childOptions().get(ChannelOption.TCP_NODELAY));
    }

    /** Where the read size settles when every read fills the buffer it was given. */
    private static int largestRead(final RecvByteBufAllocator allocator)
    {
        final EmbeddedChannel channel = new EmbeddedChannel();
        try
        {
            final RecvByteBufAllocator.Handle handle = allocator.newHandle();
            int guess = 0;
            for (int read = 0; read < 200; read++)
            {
                handle.reset(channel.config());
                guess = handle.guess();
                handle.attemptedBytesRead(guess);
                handle.lastBytesRead(guess);
                handle.incMessagesRead(1);
                handle.readComplete();
            }
            assertTrue(guess > 64 * 1024, () -> "reads stop growing at " + allocator);
            return guess;
        }
        finally
        {
            channel.finishAndReleaseAll();
        }
    }
}
