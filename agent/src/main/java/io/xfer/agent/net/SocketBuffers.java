package io.xfer.agent.net;

import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.socket.SocketChannel;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Logger;

/**
 * Fixed socket buffer sizes (socket_buffer, --socket-buffer) for links whose bandwidth-delay product the kernel's
 * autotuning does not reach. The kernel caps what a process may set at net.core.wmem_max and net.core.rmem_max
 * (212,992 bytes by default on Linux, far below a long fat link's product), silently: the size actually granted is
 * read back, and a clamp is reported once per process with the sysctl settings that lift it.
 */
public final class SocketBuffers
{
    private static final Logger LOG = Logger.getLogger(SocketBuffers.class.getName());
    private static final AtomicBoolean WARNED = new AtomicBoolean();
    private static final AtomicBoolean WARNED_DIRECTION = new AtomicBoolean();

    /** The most one socket read takes in; see {@link #readSizes()}. */
    public static final int READ_MAX_BYTES = io.xfer.agent.engine.Inbox.MAX_READ_BYTES;

    private SocketBuffers()
    {
    }

    /**
     * How much each socket read asks for: adapted to what the last reads brought, from 64 bytes up to
     * {@link #READ_MAX_BYTES} (Netty's default stops at 64 KiB). Over TLS each read is decrypted in one engine call,
     * and each call allocates an {@code SSLEngineResult} and two NIO buffer views on the heap: at 64 KiB a read,
     * that was most of a pull's heap per GiB.
     */
    public static RecvByteBufAllocator readSizes()
    {
        return new AdaptiveRecvByteBufAllocator(64, 2048, READ_MAX_BYTES);
    }

    /**
     * The largest buffer Linux's autotuning gives a connection on its own: the third field of
     * {@code net.ipv4.tcp_wmem} (sending) or {@code tcp_rmem} (receiving).
     *
     * @return bytes, or -1 where that cannot be read (not Linux, no /proc).
     */
    public static long autotuneMaxBytes(final boolean sending)
    {
        return autotuneMaxBytes(Path.of("/proc/sys/net/ipv4", sending ? "tcp_wmem" : "tcp_rmem"));
    }

    /**
     * The most a process may set with SO_SNDBUF and SO_RCVBUF: the smaller of {@code net.core.wmem_max} and
     * {@code rmem_max}, or -1 where they cannot be read.
     */
    public static long settableMaxBytes()
    {
        final long send = singleValue(Path.of("/proc/sys/net/core/wmem_max"));
        final long receive = singleValue(Path.of("/proc/sys/net/core/rmem_max"));
        return send > 0 && receive > 0 ? Math.min(send, receive) : -1;
    }

    static long singleValue(final Path sysctl)
    {
        try
        {
            return Long.parseLong(readSysctl(sysctl));
        }
        catch (final IOException | NumberFormatException | SecurityException ex)
        {
            return -1;
        }
    }

    /**
     * A sysctl file's text, read in one read: /proc/sys files report size 0 and end the file at any offset past 0,
     * so a reader that takes a first byte alone (as {@code Files.readString} does on an empty-looking file) would
     * see one character.
     */
    static String readSysctl(final Path sysctl) throws IOException
    {
        try (InputStream in = Files.newInputStream(sysctl))
        {
            return new String(in.readNBytes(4096), StandardCharsets.US_ASCII).trim();
        }
    }

    static long autotuneMaxBytes(final Path sysctl)
    {
        try
        {
            final String[] fields = readSysctl(sysctl).split("\\s+");
            return fields.length == 3 ? Long.parseLong(fields[2]) : -1;
        }
        catch (final IOException | NumberFormatException | SecurityException ex)
        {
            return -1;
        }
    }

    /**
     * Set SO_SNDBUF and SO_RCVBUF of a new channel; 0 leaves both to the kernel's autotuning.
     *
     * @return whether the kernel granted the size asked for (Linux reports twice the size set, for its bookkeeping).
     */
    public static boolean apply(final SocketChannel channel, final int bytes)
    {
        if (bytes <= 0)
        {
            return true;
        }
        channel.config().setSendBufferSize(bytes);
        channel.config().setReceiveBufferSize(bytes);
        final int sent = channel.config().getSendBufferSize();
        final int received = channel.config().getReceiveBufferSize();
        final boolean granted = sent >= bytes && received >= bytes;
        if (!granted && WARNED.compareAndSet(false, true))
        {
            LOG.warning(() -> "socket buffers of " + bytes + " bytes were asked for, the kernel granted " +
                Math.min(sent, received) + ": raise its limits, for example sysctl -w net.core.wmem_max=" + bytes +
                " net.core.rmem_max=" + bytes + " (and in /etc/sysctl.d/ to keep them), or use a smaller size");
        }
        return granted;
    }

    /**
     * Set the buffer of one direction of a connection that is already open, for a transfer sized for its link:
     * SO_SNDBUF when this side sends, SO_RCVBUF when it receives. A size set switches the kernel's autotuning of
     * that buffer off; the window scale, chosen at the handshake from the largest buffer the kernel allows, leaves
     * room for it to grow. Logged like {@link #apply} when the kernel grants less.
     *
     * @return whether the kernel granted the size asked for.
     */
    public static boolean applyDirection(final Channel channel, final int bytes, final boolean sending)
    {
        if (bytes <= 0 || !(channel instanceof SocketChannel socket))
        {
            return true;
        }
        final int granted;
        if (sending)
        {
            socket.config().setSendBufferSize(bytes);
            granted = socket.config().getSendBufferSize();
        }
        else
        {
            socket.config().setReceiveBufferSize(bytes);
            granted = socket.config().getReceiveBufferSize();
        }
        if (granted < bytes && WARNED_DIRECTION.compareAndSet(false, true))
        {
            LOG.warning(() -> (sending ? "send" : "receive") + " buffers of " + bytes + " bytes were asked for, " +
                "the kernel granted " + granted + ": raise its limit, for example sysctl -w net.core." +
                (sending ? "wmem_max=" : "rmem_max=") + bytes + " (and in /etc/sysctl.d/ to keep it)");
        }
        return granted >= bytes;
    }
}
