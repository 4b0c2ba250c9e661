package io.xfer.agent.net;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy on loopback for fault injection: forwards each accepted connection to a target port, and cuts one
 * chosen connection (by accept order, 1 = the first; 0 cuts none) with a reset once it has carried a given number
 * of bytes in one direction. TLS passes through untouched. It notes the first byte each client sent (0x16 opens a
 * TLS handshake).
 */
final class CuttingProxy implements AutoCloseable
{
    private final ServerSocket listener;
    private final int targetPort;
    private final int connectionToCut;
    private final long cutAfterBytes;
    private final boolean downstream;
    private volatile boolean stallInsteadOfCut;
    private final java.util.concurrent.atomic.AtomicBoolean stalled = new java.util.concurrent.atomic.AtomicBoolean();
    private final AtomicInteger accepted = new AtomicInteger();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final CountDownLatch cut = new CountDownLatch(1);
    private final java.util.Map<Integer, Integer> firstBytes = new java.util.concurrent.ConcurrentHashMap<>();
    private final Thread acceptor;

    /**
     * @param downstream count bytes from target to client (true) or from client to target (false).
     */
    CuttingProxy(final int targetPort, final int connectionToCut, final long cutAfterBytes, final boolean downstream)
        throws IOException
    {
        this.downstream = downstream;
        this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.targetPort = targetPort;
        this.connectionToCut = connectionToCut;
        this.cutAfterBytes = cutAfterBytes;
        this.acceptor = new Thread(this::acceptLoop, "cutting-proxy");
        this.acceptor.setDaemon(true);
        this.acceptor.start();
    }

    /**
     * Hold what each connection's client sends for {@code millis} before passing it on: a link with that much more
     * round trip (and, since each read waits, a slow one).
     */
    CuttingProxy delayUpstream(final long millis)
    {
        this.upstreamDelayMs = millis;
        return this;
    }

    private volatile long upstreamDelayMs;
    private volatile int holdAfter = -1;
    private final CountDownLatch released = new CountDownLatch(1);

    /**
     * Hold what the connections after the first {@code connections} send, until {@link #releaseHeld()} (at most 30
     * s): with 1, the control connection goes through at once and every data connection's first bytes wait.
     */
    CuttingProxy holdUpstreamAfter(final int connections)
    {
        this.holdAfter = connections;
        return this;
    }

    /** Let the held connections' bytes through. */
    void releaseHeld()
    {
        released.countDown();
    }

    /** Reset every connection after the first {@code connections} as soon as it is accepted. */
    CuttingProxy refuseAfter(final int connections)
    {
        this.refuseAfter = connections;
        return this;
    }

    private volatile int refuseAfter;

    /** Freeze the chosen connection (stop forwarding both ways, keep it open) instead of resetting it. */
    CuttingProxy stall()
    {
        this.stallInsteadOfCut = true;
        return this;
    }

    int port()
    {
        return listener.getLocalPort();
    }

    /** @return true once the chosen connection was cut. */
    boolean didCut()
    {
        return cut.getCount() == 0;
    }

    int acceptedConnections()
    {
        return accepted.get();
    }

    /** @return the first byte the client sent on connection {@code index} (1 = the first), or -1. */
    int firstByte(final int index)
    {
        return firstBytes.getOrDefault(index, -1);
    }

    private void acceptLoop()
    {
        while (!listener.isClosed())
        {
            try
            {
                final Socket client = listener.accept();
                final int index = accepted.incrementAndGet();
                if (refuseAfter > 0 && index > refuseAfter)
                {
                    client.setSoLinger(true, 0);
                    client.close();
                    continue;
                }
                final Socket target = new Socket();
                target.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort), 5000);
                sockets.add(client);
                sockets.add(target);
                final AtomicLong forwarded = new AtomicLong();
                final boolean victim = index == connectionToCut;
                start(() -> pump(client, target, forwarded, victim && !downstream, client, target, index),
                    "proxy-up-" + index);
                start(() -> pump(target, client, forwarded, victim && downstream, client, target, 0),
                    "proxy-down-" + index);
            }
            catch (final IOException ex)
            {
                return;
            }
        }
    }

    private void pump(
        final Socket from, final Socket to, final AtomicLong forwarded, final boolean victim, final Socket client,
        final Socket target, final int noteFirstByteOf)
    {
        final byte[] buffer = new byte[64 * 1024];
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream())
        {
            int n;
            while ((n = in.read(buffer)) >= 0)
            {
                if (stalled.get() && isVictimSocket(client))
                {
                    // frozen: what arrives is swallowed, nothing goes on; a close still ends the connection
                    continue;
                }
                if (noteFirstByteOf > 0 && upstreamDelayMs > 0)
                {
                    Thread.sleep(upstreamDelayMs);
                }
                if (holdAfter >= 0 && noteFirstByteOf > holdAfter)
                {
                    released.await(30, java.util.concurrent.TimeUnit.SECONDS);
                }
                if (noteFirstByteOf > 0 && n > 0)
                {
                    firstBytes.putIfAbsent(noteFirstByteOf, buffer[0] & 0xFF);
                }
                out.write(buffer, 0, n);
                if (victim && forwarded.addAndGet(n) >= cutAfterBytes)
                {
                    cut.countDown();
                    if (stallInsteadOfCut)
                    {
                        stalledClient = client;
                        stalled.set(true);
                        continue;
                    }
                    reset(client);
                    reset(target);
                    return;
                }
            }
        }
        catch (final IOException ex)
        {
            // the other direction closed or was cut
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }

        finally
        {
            closeQuietly(from);
            closeQuietly(to);
        }
    }

    private volatile Socket stalledClient;

    private boolean isVictimSocket(final Socket client)
    {
        return client == stalledClient;
    }

    private static void reset(final Socket socket)
    {
        try
        {
            socket.setSoLinger(true, 0);
            socket.close();
        }
        catch (final IOException ignore)
        {
            // already gone
        }
    }

    private static void closeQuietly(final Socket socket)
    {
        try
        {
            socket.close();
        }
        catch (final IOException ignore)
        {
            // already gone
        }
    }

    private static void start(final Runnable body, final String name)
    {
        final Thread thread = new Thread(body, name);
        thread.setDaemon(true);
        thread.start();
    }

    @Override
    public void close() throws IOException
    {
        listener.close();
        for (final Socket socket : sockets)
        {
            closeQuietly(socket);
        }
    }
}
