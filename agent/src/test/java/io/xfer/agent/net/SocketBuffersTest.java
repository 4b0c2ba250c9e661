package io.xfer.agent.net;

import io.netty.channel.socket.nio.NioSocketChannel;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Socket buffer sizes on real sockets: what the kernel grants is read back, and a size above its limits is
 * reported once, naming the sysctl settings to raise.
 */
class SocketBuffersTest
{
    @Test
    void shouldReadTheAutotuningLimitFromTheSysctl(@org.junit.jupiter.api.io.TempDir final java.nio.file.Path dir)
        throws Exception
    {
        final java.nio.file.Path sysctl = dir.resolve("tcp_wmem");
        java.nio.file.Files.writeString(sysctl, "4096\t16384\t4194304\n");
        assertEquals(4194304, SocketBuffers.autotuneMaxBytes(sysctl));
        java.nio.file.Files.writeString(sysctl, "garbage\n");
        assertEquals(-1, SocketBuffers.autotuneMaxBytes(sysctl));
        assertEquals(-1, SocketBuffers.autotuneMaxBytes(dir.resolve("missing")));
        // this machine's own, where there is one
        final long own = SocketBuffers.autotuneMaxBytes(true);
        final long settable = SocketBuffers.settableMaxBytes();
        if (java.nio.file.Files.isReadable(java.nio.file.Path.of("/proc/sys/net/ipv4/tcp_wmem")))
        {
            // read whole: a reader taking one byte first would see "4" of "4194304"
            final String[] fields = java.nio.file.Files.newBufferedReader(
                java.nio.file.Path.of("/proc/sys/net/ipv4/tcp_wmem")).readLine().trim().split("\\s+");
            assertEquals(Long.parseLong(fields[2]), own);
            assertTrue(settable >= 4096, "net.core.wmem_max / rmem_max: " + settable);
        }
        else
        {
            assertEquals(-1, own);
        }
    }

    @Test
    void shouldGrantASizeWithinTheKernelLimitsAndReportOneAbove() throws Exception
    {
        final List<String> warnings = new CopyOnWriteArrayList<>();
        final Logger logger = Logger.getLogger(SocketBuffers.class.getName());
        final Handler capture = new Handler()
        {
            @Override
            public void publish(final LogRecord record)
            {
                warnings.add(record.getMessage());
            }

            @Override
            public void flush()
            {
            }

            @Override
            public void close()
            {
            }
        };
        logger.addHandler(capture);
        final NioSocketChannel small = new NioSocketChannel();
        final NioSocketChannel huge = new NioSocketChannel();
        final NioSocketChannel again = new NioSocketChannel();
        try
        {
            assertTrue(SocketBuffers.apply(small, 0), "0 leaves the sizes to the kernel");
            assertTrue(SocketBuffers.apply(small, 64 * 1024), "64 KiB is within every kernel's limits");
            assertTrue(small.config().getReceiveBufferSize() >= 64 * 1024);

            // 1 GiB is above net.core.rmem_max on any machine that runs this suite
            assertFalse(SocketBuffers.apply(huge, 1 << 30));
            assertFalse(SocketBuffers.apply(again, 1 << 30));
            assertEquals(1, warnings.size(), "reported once: " + warnings);
            assertTrue(warnings.get(0).contains("net.core.rmem_max=1073741824"), warnings.get(0));
        }
        finally
        {
            logger.removeHandler(capture);
            small.unsafe().closeForcibly();
            huge.unsafe().closeForcibly();
            again.unsafe().closeForcibly();
        }
    }

    @Test
    void shouldSetOnlyTheBufferOfTheDirectionAsked() throws Exception
    {
        final NioSocketChannel sending = new NioSocketChannel();
        final NioSocketChannel receiving = new NioSocketChannel();
        try
        {
            final int receiveBefore = sending.config().getReceiveBufferSize();
            final int sendBefore = receiving.config().getSendBufferSize();
            assertTrue(SocketBuffers.applyDirection(sending, 96 * 1024, true));
            assertTrue(sending.config().getSendBufferSize() >= 96 * 1024);
            assertEquals(receiveBefore, sending.config().getReceiveBufferSize(), "the receive buffer is left alone");

            assertTrue(SocketBuffers.applyDirection(receiving, 96 * 1024, false));
            assertTrue(receiving.config().getReceiveBufferSize() >= 96 * 1024);
            assertEquals(sendBefore, receiving.config().getSendBufferSize(), "the send buffer is left alone");

            assertTrue(SocketBuffers.applyDirection(receiving, 0, true), "0 sets nothing");
            assertFalse(SocketBuffers.applyDirection(receiving, 1 << 30, false), "above net.core.rmem_max");
        }
        finally
        {
            sending.unsafe().closeForcibly();
            receiving.unsafe().closeForcibly();
        }
    }
}
