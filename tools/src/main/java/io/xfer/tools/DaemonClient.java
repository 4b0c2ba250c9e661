package io.xfer.tools;

import jdk.net.ExtendedSocketOptions;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The {@code xfer} process's side of the {@link ClientDaemon}: hands a command line to the daemon, writes what the
 * command prints to this process's stdout and stderr, and returns its exit code. Whenever the daemon does not take
 * the command (there is none, it is busy, of another build, not this user's), the caller runs it itself.
 */
final class DaemonClient implements AutoCloseable
{
    /** The daemon did not take the command: run it in this process. */
    static final int NOT_SERVED = -1;
    /** The command was interrupted on {@link #cancel}: this process ends on its signal. */
    static final int CANCELLED = -2;

    /** The commands the daemon runs; the others (pki, demo, daemon, help) always run in the process. */
    private static final Set<String> SERVED = Set.of("send", "get", "ping");
    /** Longest a signal's report may take to come back. */
    private static final long CANCEL_WAIT_MS = 2_000;
    /** Longest the daemon may take to take or refuse a command; then this process runs it itself. */
    static final long ANSWER_TIMEOUT_MS = 3_000;
    private static final int WAITING = 0;
    private static final int ACCEPTED = 1;
    private static final int GAVE_UP = 2;

    private final SocketChannel channel;
    private final DataInputStream in;
    private final DataOutputStream requests;
    private final CountDownLatch ended = new CountDownLatch(1);
    /** The daemon answered, or will not: the wait for its answer is over. */
    private final CountDownLatch answered = new CountDownLatch(1);
    private final java.util.concurrent.atomic.AtomicInteger state = new java.util.concurrent.atomic.AtomicInteger();
    /** GO was sent, or a signal came before it: guarded by this. */
    private boolean started;
    private boolean cancelled;

    private DaemonClient(final SocketChannel channel)
    {
        this.channel = channel;
        this.in = new DataInputStream(Channels.newInputStream(channel));
        this.requests = new DataOutputStream(Channels.newOutputStream(channel));
    }

    /**
     * Run {@code args} in the daemon if there is one for this user and it takes them, with this process's working
     * directory, {@code $XFER_HOME}, stdout and stderr; a signal that stops this process interrupts the command.
     * {@code XFER_DAEMON=off} goes without.
     *
     * @return the command's exit code, or {@link #NOT_SERVED}
     */
    static int serve(final String[] args)
    {
        final String setting = System.getenv("XFER_DAEMON");
        if (setting != null && List.of("off", "no", "0", "false").contains(setting.toLowerCase(Locale.ROOT)) ||
            !served(args))
        {
            return NOT_SERVED;
        }
        final Path socket;
        try
        {
            socket = ClientDaemon.defaultSocket();
        }
        catch (final RuntimeException unusable)
        {
            return NOT_SERVED; // XFER_DAEMON_SOCKET or the directories it derives from name no usable path
        }
        final DaemonClient client = connect(socket);
        if (client == null)
        {
            return NOT_SERVED;
        }
        try (client)
        {
            final Thread onSignal = new Thread(new Runnable()
            {
                @Override
                public void run()
                {
                    client.cancel();
                }
            }, "xfer-daemon-cancel");
            try
            {
                Runtime.getRuntime().addShutdownHook(onSignal);
            }
            catch (final IllegalStateException shuttingDown)
            {
                return NOT_SERVED; // a signal came first: nothing was asked yet
            }
            final int exitCode = client.run(ClientDaemon.RUN, Path.of("").toAbsolutePath().toString(),
                System.getenv("XFER_HOME"), List.of(args), new FileOutputStream(FileDescriptor.out),
                new FileOutputStream(FileDescriptor.err));
            try
            {
                Runtime.getRuntime().removeShutdownHook(onSignal);
            }
            catch (final IllegalStateException shuttingDown)
            {
                // a signal came as the command ended: the process ends on it
            }
            return exitCode;
        }
    }

    /** @return whether {@code args} names a command the daemon runs */
    static boolean served(final String[] args)
    {
        for (final String arg : args)
        {
            if (!arg.startsWith("-"))
            {
                return SERVED.contains(arg);
            }
        }
        return false;
    }

    /**
     * @return a connection to the daemon on {@code socket}, or null when there is none this user's, or it cannot be
     * reached
     */
    static DaemonClient connect(final Path socket)
    {
        if (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS))
        {
            return null;
        }
        SocketChannel channel = null;
        try
        {
            channel = SocketChannel.open(UnixDomainSocketAddress.of(socket));
            if (!channel.getOption(ExtendedSocketOptions.SO_PEERCRED).user().equals(ClientDaemon.self()))
            {
                channel.close();
                return null;
            }
            return new DaemonClient(channel);
        }
        catch (final IOException | RuntimeException ex)
        {
            if (channel != null)
            {
                try
                {
                    channel.close();
                }
                catch (final IOException ignore)
                {
                    // not connected
                }
            }
            return null;
        }
    }

    /**
     * Send a request and copy the replies to {@code out} and {@code err} until the command ends. Writes to them that
     * fail (a closed pipe) are dropped, as the process's own streams would drop them.
     *
     * @return the exit code, {@link #NOT_SERVED} if the daemon refused, did not answer within
     * {@link #ANSWER_TIMEOUT_MS} or ended before it took the command, or {@link #CANCELLED}
     */
    int run(final byte kind, final String workingDirectory, final String xferHome, final List<String> arguments,
        final OutputStream out, final OutputStream err)
    {
        return run(new ClientDaemon.Request(kind, ClientDaemon.build(), kind == ClientDaemon.RUN ?
            ClientDaemon.context() : "", workingDirectory, xferHome == null ? "" : xferHome, System.console() != null,
            arguments), out, err);
    }

    int run(final ClientDaemon.Request request, final OutputStream out, final OutputStream err)
    {
        // a daemon that cannot answer (stopped, hung) leaves the command to this process: the connection is closed
        // unless the answer came first, and without GO the daemon never runs the command
        final Thread timer = new Thread(new Runnable()
        {
            @Override
            public void run()
            {
                try
                {
                    if (!answered.await(ANSWER_TIMEOUT_MS, TimeUnit.MILLISECONDS) &&
                        state.compareAndSet(WAITING, GAVE_UP))
                    {
                        close();
                    }
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                }
            }
        }, "xfer-daemon-answer");
        timer.setDaemon(true);
        timer.start();
        try
        {
            request.write(requests);
            final int first = in.read();
            if (first != ClientDaemon.ACCEPTED || !state.compareAndSet(WAITING, ACCEPTED))
            {
                return NOT_SERVED;
            }
            answered.countDown();
            if ((request.kind() == ClientDaemon.RUN || request.kind() == ClientDaemon.RUN_NATIVE) && !go())
            {
                return CANCELLED; // a signal came before the command started: it never will
            }
            final boolean[] failed = new boolean[2];
            while (true)
            {
                final int type = in.read();
                switch (type)
                {
                    case ClientDaemon.OUT -> copy(ClientDaemon.readPayload(in), out, failed, 0);
                    case ClientDaemon.ERR -> copy(ClientDaemon.readPayload(in), err, failed, 1);
                    case ClientDaemon.EXIT ->
                    {
                        return in.readInt();
                    }
                    case ClientDaemon.INTERRUPTED ->
                    {
                        return CANCELLED;
                    }
                    default -> throw new IOException(type < 0 ? "the daemon ended during the command" :
                        "unknown reply " + type);
                }
            }
        }
        catch (final IOException ex)
        {
            if (state.get() != ACCEPTED)
            {
                return NOT_SERVED;
            }
            copy(("xfer: the client daemon was lost during the command: " + ex.getMessage() + "\n")
                .getBytes(StandardCharsets.UTF_8), err, new boolean[2], 1);
            return ExitCode.INTERNAL;
        }
        finally
        {
            answered.countDown();
            ended.countDown();
        }
    }

    /**
     * This process is being stopped by a signal: tell the daemon, which interrupts the command, and wait (bounded)
     * until the command's report of it has been copied out.
     */
    void cancel()
    {
        if (state.get() != ACCEPTED || ended.getCount() == 0)
        {
            return;
        }
        try
        {
            synchronized (this)
            {
                if (!started)
                {
                    cancelled = true;
                    return;
                }
                write(ClientDaemon.CANCEL);
            }
            ended.await(CANCEL_WAIT_MS, TimeUnit.MILLISECONDS);
        }
        catch (final IOException ex)
        {
            // the daemon is gone: nothing more will come
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }

    /** Tell the daemon to run the command, unless a signal came first; @return whether it was told */
    private synchronized boolean go() throws IOException
    {
        if (cancelled)
        {
            return false;
        }
        write(ClientDaemon.GO);
        started = true;
        return true;
    }

    /**
     * On the channel itself: its stream adapters hold one lock while they block, and the reply reader is blocked on
     * it.
     */
    private void write(final byte message) throws IOException
    {
        final java.nio.ByteBuffer buffer = java.nio.ByteBuffer.wrap(new byte[] {message});
        while (buffer.hasRemaining())
        {
            channel.write(buffer);
        }
    }

    private static void copy(final byte[] bytes, final OutputStream to, final boolean[] failed, final int which)
    {
        if (failed[which])
        {
            return;
        }
        try
        {
            to.write(bytes);
            to.flush();
        }
        catch (final IOException ex)
        {
            failed[which] = true;
        }
    }

    @Override
    public void close()
    {
        try
        {
            channel.close();
        }
        catch (final IOException ignore)
        {
            // closing
        }
    }
}
