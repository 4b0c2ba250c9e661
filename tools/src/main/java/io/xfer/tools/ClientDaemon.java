package io.xfer.tools;

import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The client daemon: one long-lived JVM that runs this user's {@code xfer send}, {@code get} and {@code ping} command
 * lines for the {@code xfer} processes that ask it to, over a Unix socket only this user can reach. A short-lived
 * {@code xfer} process pays the JVM's start and, above all, its warm-up on every run: the code of a transfer runs
 * interpreted and is compiled while it runs (measured, 20,000 files of 4 KiB: 0.52 to 0.59 s of transfer time in a
 * new JVM against 0.40 to 0.46 s in a warm one). Through the daemon, each run is the warm one.
 *
 * <p>A command runs as it would in the invoking process: its relative paths are that process's, its
 * {@code $XFER_HOME} is that process's, its output and exit code go back to it, and a signal that stops it (Ctrl-C)
 * ends the transfer as it would end a process of its own, with the same report. One command runs at a time; while
 * one runs, another {@code xfer} is told so and runs in its own JVM instead, as it does when there is no daemon, the
 * daemon is of another build, or anything about the socket is wrong. Nothing is ever lost by going without it.
 *
 * <p>The connection, per command: the client writes {@link #MAGIC}, a request kind, the client's build
 * ({@link #build()}) and, for {@link #RUN}, its process's context ({@link #context()}), its working directory,
 * {@code $XFER_HOME}, whether it has a console, and its arguments (strings as a 4-byte length and UTF-8). A daemon of
 * another build or context refuses ({@link #REFUSED} and a reason); otherwise it answers {@link #ACCEPTED}, and runs
 * the command once the client confirms with {@link #GO}: a client that gave up waiting for the answer, and runs the
 * command itself, never sends it, so a command never runs twice. Then come stdout and stderr bytes ({@link #OUT},
 * {@link #ERR}: a 4-byte length and the bytes) and the exit code ({@link #EXIT}). A client stopped by a signal writes
 * {@link #CANCEL}; the daemon reports the interruption as the command would and ends with {@link #INTERRUPTED}. A
 * client that goes away without a word (killed) ends its command the same way, with nobody to read the report.
 *
 * <p>Only the daemon's own user is served: the peer's credentials (SO_PEERCRED) must name that user, and the socket's
 * directory must be this user's and closed to others, so that nobody else can replace the socket either. Stopping
 * ({@link #STOP}, idle) removes the socket at once and lets a running command go on to its end; SIGTERM to the daemon
 * interrupts it as a signal to its {@code xfer} would.
 */
final class ClientDaemon implements AutoCloseable
{
    static final int MAGIC = 0x58464431; // "XFD1"

    /** Request kinds. */
    static final byte RUN = 1;
    static final byte STATUS = 2;
    static final byte STOP = 3;
    /**
     * A command from the native client ({@code xfer-daemon-client}), which has no JVM to name its build by: it sends
     * the JVM and class path that its command line would run, and the codeset of its locale (see {@link NativeClient}).
     */
    static final byte RUN_NATIVE = 4;

    /** From the client: run the command it was accepted for. */
    static final byte GO = 1;
    /** From the client while its command runs: it was stopped by a signal. */
    static final byte CANCEL = 2;

    /** Replies. */
    static final byte ACCEPTED = 1;
    static final byte REFUSED = 2;
    static final byte OUT = 3;
    static final byte ERR = 4;
    static final byte EXIT = 5;
    static final byte INTERRUPTED = 6;

    /** The longest string a request may carry, and the most arguments. */
    static final int MAX_STRING_BYTES = 1 << 20;
    static final int MAX_ARGUMENTS = 65_536;
    /** Exit status of a command interrupted by SIGTERM to the daemon: a process's own on that signal. */
    static final int TERMINATED = 128 + 15;
    /** A connection that has not sent its whole request (or its {@link #GO}) by then is closed. */
    static final long REQUEST_TIMEOUT_MS = 10_000;
    /** How often the listener looks at the idle clock. */
    private static final long TICK_MS = 200;

    private final Path socket;
    private final long idleNs;
    private final String build;
    private final PrintStream log;
    private final UserPrincipal self = self();
    private final String context = context();
    private final AtomicBoolean busy = new AtomicBoolean();
    /** Commands accepted whose connection is not closed yet: the last of them may still be sending its exit code. */
    private final AtomicInteger unanswered = new AtomicInteger();
    private final AtomicBoolean stopping = new AtomicBoolean();
    private final AtomicLong lastActivityNs = new AtomicLong(System.nanoTime());
    private final AtomicLong served = new AtomicLong();
    private final long startedMs = System.currentTimeMillis();
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(task ->
    {
        final Thread thread = new Thread(task, "xfer-daemon-timer");
        thread.setDaemon(true);
        return thread;
    });
    private ServerSocketChannel server;
    private Selector selector;
    private FileChannel lock;
    /** The command that runs, for {@link #terminate()}; null when none. */
    private volatile Running running;

    /**
     * @param idleNs end after this long without a command (0: never)
     * @param log where the daemon says what it does (its stderr)
     */
    ClientDaemon(final Path socket, final long idleNs, final String build, final PrintStream log)
    {
        this.socket = socket.toAbsolutePath();
        this.idleNs = idleNs;
        this.build = build;
        this.log = log;
    }

    /**
     * @return what identifies this build of the client: a daemon serves only clients of its own build, so that an
     * upgrade never runs a new command line in an old JVM. Every class path entry's name, size and modification time,
     * and the JVM's home.
     */
    static String build()
    {
        final StringBuilder build = new StringBuilder(System.getProperty("java.home", ""));
        for (final String entry : System.getProperty("java.class.path", "").split(java.io.File.pathSeparator))
        {
            build.append('|').append(entry);
            try
            {
                final Path path = Path.of(entry);
                build.append(':').append(Files.size(path)).append(':')
                    .append(Files.getLastModifiedTime(path).toMillis());
            }
            catch (final IOException | RuntimeException ex)
            {
                build.append(":-");
            }
        }
        return Integer.toHexString(build.toString().hashCode()) + "-" + build.length();
    }

    /**
     * @return what of a process, beyond its user, a command run on its behalf must share: a daemon runs the commands
     * only of processes that match it. The umask and groups (which files and directories a command creates, and may
     * open), the mount namespace and root (which files a path names), the encodings (how names and output are
     * coded) and {@code XFER_JAVA_OPTS}.
     */
    static String context()
    {
        return context(System.getProperty("sun.jnu.encoding") + "/" + System.getProperty("file.encoding"));
    }

    /** @return {@link #context()} with {@code encoding} for the names and output encodings */
    static String context(final String encoding)
    {
        final StringBuilder context = new StringBuilder();
        try
        {
            for (final String line : Files.readAllLines(Path.of("/proc/self/status")))
            {
                if (line.startsWith("Umask:") || line.startsWith("Gid:") || line.startsWith("Groups:"))
                {
                    context.append(line.replaceAll("\\s+", " ")).append("; ");
                }
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            context.append("status ?; ");
        }
        for (final String link : List.of("/proc/self/ns/mnt", "/proc/self/root"))
        {
            try
            {
                context.append(Files.readSymbolicLink(Path.of(link))).append("; ");
            }
            catch (final IOException | RuntimeException ex)
            {
                context.append(link).append(" ?; ");
            }
        }
        final String options = System.getenv("XFER_JAVA_OPTS");
        return context.append("encoding ").append(encoding).append("; XFER_JAVA_OPTS ")
            .append(options == null ? "unset" : "'" + options + "'").toString();
    }

    /** @return the user this process runs as (the owner of its /proc entry) */
    static UserPrincipal self()
    {
        try
        {
            return Files.getOwner(Path.of("/proc/self"));
        }
        catch (final IOException ex)
        {
            throw new java.io.UncheckedIOException("cannot tell which user this process runs as", ex);
        }
    }

    /**
     * @return the socket the daemon listens on and clients look for: {@code $XFER_DAEMON_SOCKET}, else
     * {@code $XDG_RUNTIME_DIR/xfer/client.sock}, else {@code $XFER_HOME/run/client.sock} (~/.xfer/run)
     */
    static Path defaultSocket()
    {
        final String explicit = System.getenv("XFER_DAEMON_SOCKET");
        if (explicit != null && !explicit.isEmpty())
        {
            return Path.of(explicit);
        }
        final String runtime = System.getenv("XDG_RUNTIME_DIR");
        if (runtime != null && !runtime.isEmpty())
        {
            return Path.of(runtime, "xfer", "client.sock");
        }
        final String home = System.getenv("XFER_HOME");
        final Path dir = home != null && !home.isEmpty() ? Path.of(home) : Path.of(System.getProperty("user.home"),
            ".xfer");
        return dir.resolve("run").resolve("client.sock");
    }

    /**
     * Bind the socket: its directory is created (mode 0700) where missing, and must be this user's and closed to
     * others; a socket file that nobody listens on (a daemon that was killed) is replaced.
     *
     * @throws IOException with a message for the user when the daemon cannot listen there
     */
    void bind() throws IOException
    {
        final Path dir = socket.getParent();
        if (!Files.isDirectory(dir))
        {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        }
        final UserPrincipal owner = Files.getOwner(dir, LinkOption.NOFOLLOW_LINKS);
        if (!owner.equals(self) || Files.isSymbolicLink(dir))
        {
            throw new IOException("the socket's directory " + dir + " belongs to " + owner.getName() + ", not to " +
                self.getName());
        }
        final Set<PosixFilePermission> modes = Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS);
        if (modes.contains(PosixFilePermission.GROUP_WRITE) || modes.contains(PosixFilePermission.OTHERS_WRITE))
        {
            throw new IOException("others may write into the socket's directory " + dir + " (mode " +
                PosixFilePermissions.toString(modes) + "): give it mode 0700, or choose another --socket");
        }
        // one daemon per socket: two started at once would each remove the other's socket
        final FileChannel held = FileChannel.open(dir.resolve(socket.getFileName() + ".lock"),
            StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        try
        {
            if (!locked(held) || Files.exists(socket, LinkOption.NOFOLLOW_LINKS) && listening(socket))
            {
                throw new IOException("a daemon already listens on " + socket + " ('xfer daemon --stop' stops it)");
            }
            // a socket file nobody listens on was left by a daemon that was killed
            Files.deleteIfExists(socket);
            server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(socket));
            Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
            selector = Selector.open();
            server.configureBlocking(false);
            server.register(selector, SelectionKey.OP_ACCEPT);
            lock = held;
        }
        finally
        {
            if (lock == null)
            {
                held.close();
                if (server != null)
                {
                    server.close();
                    server = null;
                }
            }
        }
    }

    private static boolean locked(final FileChannel file) throws IOException
    {
        try
        {
            return file.tryLock() != null;
        }
        catch (final java.nio.channels.OverlappingFileLockException heldHere)
        {
            return false; // by another daemon in this JVM
        }
    }

    /** @return whether something accepts connections on {@code socket} */
    static boolean listening(final Path socket)
    {
        try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(socket)))
        {
            return probe.isConnected();
        }
        catch (final IOException ex)
        {
            return false;
        }
    }

    /**
     * Serve until stopped ({@link #STOP}, {@link #terminate}) or idle for the idle time; the socket is removed at
     * once, and a command that runs goes on to its end before this returns.
     */
    void serve() throws IOException
    {
        log.println("xfer daemon: listening on " + socket + (idleNs > 0 ? ", ending after " + idleNs / 1_000_000_000L +
            " s without a command" : ""));
        boolean claimed = false;
        try
        {
            while (!stopping.get())
            {
                selector.select(TICK_MS);
                selector.selectedKeys().clear();
                SocketChannel channel;
                while ((channel = server.accept()) != null)
                {
                    lastActivityNs.set(System.nanoTime());
                    final SocketChannel accepted = channel;
                    final Thread handler = new Thread(() -> handle(accepted), "xfer-daemon-client");
                    handler.setDaemon(true);
                    handler.start();
                }
                // claimed as a command would be: one accepted meanwhile is refused, and its xfer runs it itself
                if (idleNs > 0 && System.nanoTime() - lastActivityNs.get() > idleNs &&
                    (claimed = busy.compareAndSet(false, true)))
                {
                    log.println("xfer daemon: idle for " + idleNs / 1_000_000_000L + " s, ending");
                    break;
                }
            }
        }
        catch (final ClosedChannelException | java.nio.channels.ClosedSelectorException closed)
        {
            // terminate() from another thread
        }
        finally
        {
            stopping.set(true);
            unbind();
        }
        // the command that runs goes on to its end
        while (!claimed && !busy.compareAndSet(false, true))
        {
            if (!pause(TICK_MS))
            {
                break;
            }
        }
        // and its exit code reaches its client: bounded, as a client that stopped reading cannot hold the daemon
        final long answerDeadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (unanswered.get() > 0 && System.nanoTime() - answerDeadlineNs < 0)
        {
            if (!pause(10))
            {
                break;
            }
        }
        timer.shutdownNow();
    }

    /**
     * The daemon is ending on a signal (SIGTERM): the command that runs is interrupted as a signal to its
     * {@code xfer} would interrupt it, which hears of it and ends with {@link #TERMINATED}.
     */
    void terminate()
    {
        stopping.set(true);
        unbind();
        final Running command = running;
        if (command != null && !command.replies.done())
        {
            command.caller.interrupt();
            try
            {
                command.replies.exit(TERMINATED);
            }
            catch (final IOException ex)
            {
                // the client is gone
            }
        }
    }

    /** Stop listening: the socket goes first, so that a newer daemon's is never removed, and no client waits. */
    @Override
    public void close()
    {
        stopping.set(true);
        unbind();
        timer.shutdownNow();
    }

    private synchronized void unbind()
    {
        try
        {
            if (server != null && server.isOpen())
            {
                Files.deleteIfExists(socket);
                server.close();
            }
            if (selector != null)
            {
                selector.close();
            }
            if (lock != null)
            {
                lock.close();
                lock = null;
            }
        }
        catch (final IOException ex)
        {
            log.println("xfer daemon: cannot remove " + socket + ": " + ex.getMessage());
        }
    }

    private void handle(final SocketChannel channel)
    {
        try (channel)
        {
            final UnixDomainPrincipal peer = channel.getOption(ExtendedSocketOptions.SO_PEERCRED);
            if (!peer.user().equals(self))
            {
                log.println("xfer daemon: refused a connection from user " + peer.user().getName());
                return;
            }
            final ScheduledFuture<?> deadline = timer.schedule(() -> closeQuietly(channel), REQUEST_TIMEOUT_MS,
                TimeUnit.MILLISECONDS);
            final DataInputStream in = new DataInputStream(Channels.newInputStream(channel));
            final Replies replies = new Replies(channel);
            final Request request = Request.read(in);
            switch (request.kind)
            {
                case STATUS -> status(replies);
                case STOP ->
                {
                    replies.accept();
                    replies.out(("stopping the daemon on " + socket + (busy.get() ? " once the command that runs " +
                        "has ended" : "") + "\n").getBytes(StandardCharsets.UTF_8));
                    replies.exit(ExitCode.OK);
                    log.println("xfer daemon: stopped by a client");
                    stopping.set(true);
                    selector.wakeup();
                }
                case RUN, RUN_NATIVE -> run(request, in, replies, channel, deadline);
                default -> replies.refuse("unknown request " + request.kind);
            }
        }
        catch (final EOFException ex)
        {
            // a probe (listening()), or a client that gave up
        }
        catch (final IOException | RuntimeException ex)
        {
            if (!stopping.get())
            {
                log.println("xfer daemon: a client connection failed: " + ex);
            }
        }
    }

    private void status(final Replies replies) throws IOException
    {
        replies.accept();
        replies.out(String.format(Locale.ROOT, "xfer daemon on %s: pid %d, up %d s, %d commands served, %s%n",
            socket, ProcessHandle.current().pid(), (System.currentTimeMillis() - startedMs) / 1000, served.get(),
            busy.get() ? "running one now" : "idle").getBytes(StandardCharsets.UTF_8));
        replies.exit(ExitCode.OK);
    }

    private void run(final Request request, final DataInputStream in, final Replies replies,
        final SocketChannel channel, final ScheduledFuture<?> deadline) throws IOException
    {
        // status and stop are answered whatever the client's build; a command runs only in its own
        final NativeClient client = request.nativeClient;
        final String refusal = refusal(request);
        if (refusal != null)
        {
            log.println("xfer daemon: refused a command: " + refusal + "; the client's: " + (client == null ?
                request.build : client) + ", " + request.context);
            replies.refuse(refusal);
            return;
        }
        if (!busy.compareAndSet(false, true))
        {
            replies.refuse(stopping.get() ? "the daemon is ending" : "busy with another command");
            return;
        }
        unanswered.incrementAndGet();
        boolean freed = false;
        final long startNs = System.nanoTime();
        try
        {
            if (stopping.get())
            {
                replies.refuse("the daemon is ending");
                return;
            }
            final Invocation.Remote caller = Invocation.remote(Path.of(request.workingDirectory), request.xferHome,
                request.console);
            replies.accept();
            if (in.read() != GO)
            {
                return; // the client gave up waiting for the answer, and runs the command itself
            }
            deadline.cancel(false);
            final Thread command = Thread.currentThread();
            running = new Running(caller, replies);
            final Thread watcher = new Thread(() -> watch(in, caller, replies, command), "xfer-daemon-watch");
            watcher.setDaemon(true);
            watcher.start();
            final Charset charset = Charset.defaultCharset();
            final PrintStream out = new PrintStream(replies.stream(OUT), true, charset);
            final PrintStream err = new PrintStream(replies.stream(ERR), true, charset);
            final int exitCode;
            try
            {
                exitCode = XferCli.run(request.arguments.toArray(new String[0]), out, err, caller);
                out.flush();
                err.flush();
            }
            finally
            {
                // free before the exit code goes: a script's next command comes the moment it has it
                free();
                freed = true;
            }
            replies.exit(exitCode);
            served.incrementAndGet();
            log.println(String.format(Locale.ROOT, "xfer daemon: %s for %s%s: exit %d%s in %.3f s",
                request.arguments.isEmpty() ? "" : request.arguments.get(0), request.workingDirectory,
                client == null ? "" : " (native client)", exitCode,
                replies.interrupted() ? " (interrupted)" : "", (System.nanoTime() - startNs) / 1e9));
        }
        finally
        {
            if (!freed)
            {
                free();
            }
            Thread.interrupted(); // a cancel that came as the command ended
            closeQuietly(channel);
            unanswered.decrementAndGet();
        }
    }

    /** @return why this daemon does not run the command of the client that sent {@code request}; null if it does */
    private String refusal(final Request request)
    {
        final NativeClient client = request.nativeClient;
        if (client == null ? !request.build.equals(build) : !client.installationOf(build))
        {
            return "the daemon runs another build of xfer";
        }
        final String expected = client == null ? context :
            client.sameEncoding() ? context(client.codeset + "/" + client.codeset) : null;
        return request.context.equals(expected) ? null : "the daemon runs in another context (" + context + ")";
    }

    /** The command this thread claimed has ended: the next one may start. */
    private void free()
    {
        running = null;
        lastActivityNs.set(System.nanoTime());
        busy.set(false);
    }

    /** The command that runs: for whom, and its replies. */
    private record Running(Invocation.Remote caller, Replies replies)
    {
    }

    /**
     * Read what the client says while its command runs: {@link #CANCEL} (it was stopped by a signal) or nothing
     * before its end (it was killed). Either way the command is interrupted as a signal would interrupt it.
     */
    private static void watch(
        final DataInputStream in, final Invocation.Remote caller, final Replies replies, final Thread command)
    {
        try
        {
            in.read();
        }
        catch (final IOException ex)
        {
            // the connection ended
        }
        if (replies.done())
        {
            return;
        }
        caller.interrupt();
        replies.interrupt();
        command.interrupt();
    }

    /** @return false if interrupted, with the interrupt kept */
    private static boolean pause(final long ms)
    {
        try
        {
            Thread.sleep(ms);
            return true;
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static void closeQuietly(final SocketChannel channel)
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

    /** What a client asks for. */
    record Request(byte kind, String build, String context, String workingDirectory, String xferHome,
        boolean console, List<String> arguments, NativeClient nativeClient)
    {
        Request(final byte kind, final String build, final String context, final String workingDirectory,
            final String xferHome, final boolean console, final List<String> arguments)
        {
            this(kind, build, context, workingDirectory, xferHome, console, arguments, null);
        }

        static Request read(final DataInputStream in) throws IOException
        {
            if (in.readInt() != MAGIC)
            {
                throw new IOException("not an xfer client");
            }
            final byte kind = in.readByte();
            final String build = readString(in);
            if (kind != RUN && kind != RUN_NATIVE)
            {
                return new Request(kind, build, "", "", "", false, List.of());
            }
            final NativeClient nativeClient = kind == RUN_NATIVE ? new NativeClient(readString(in), readString(in),
                readString(in)) : null;
            final String context = readString(in);
            final String workingDirectory = readString(in);
            final String xferHome = readString(in);
            final boolean console = in.readBoolean();
            final int count = in.readInt();
            if (count < 0 || count > MAX_ARGUMENTS)
            {
                throw new IOException("bad argument count " + count);
            }
            final List<String> arguments = new ArrayList<>(count);
            for (int i = 0; i < count; i++)
            {
                arguments.add(readString(in));
            }
            return new Request(kind, build, context, workingDirectory, xferHome, console, arguments, nativeClient);
        }

        void write(final DataOutputStream out) throws IOException
        {
            out.writeInt(MAGIC);
            out.writeByte(kind);
            writeString(out, build);
            if (kind == RUN_NATIVE)
            {
                writeString(out, nativeClient.java);
                writeString(out, nativeClient.classPath);
                writeString(out, nativeClient.codeset);
            }
            if (kind == RUN || kind == RUN_NATIVE)
            {
                writeString(out, context);
                writeString(out, workingDirectory);
                writeString(out, xferHome);
                out.writeBoolean(console);
                out.writeInt(arguments.size());
                for (final String argument : arguments)
                {
                    writeString(out, argument);
                }
            }
            out.flush();
        }
    }

    /**
     * What the native client says of the installation it comes from, for want of a JVM that could name its build.
     *
     * @param java the real path of the {@code java} its command line runs
     * @param classPath the class path its command line gives that JVM ({@code lib/*} of the distribution)
     * @param codeset its locale's codeset ({@code nl_langinfo(CODESET)}), from which that JVM would take its encodings
     */
    record NativeClient(String java, String classPath, String codeset)
    {
        /**
         * @return whether the client's command line would run this JVM on the jars that this one runs, with none of
         * them changed since {@code build} was taken of them: the test a client's own {@link #build()} makes
         */
        boolean installationOf(final String build)
        {
            try
            {
                return Path.of(java).toRealPath().equals(Path.of(System.getProperty("java.home"), "bin", "java")
                    .toRealPath()) && entries(classPath).equals(entries(System.getProperty("java.class.path"))) &&
                    build().equals(build);
            }
            catch (final IOException | RuntimeException ex)
            {
                return false;
            }
        }

        /** @return whether the codeset names the charset of this JVM's names and of its output */
        boolean sameEncoding()
        {
            try
            {
                final Charset charset = Charset.forName(codeset);
                return charset.equals(Charset.forName(System.getProperty("sun.jnu.encoding"))) &&
                    charset.equals(Charset.forName(System.getProperty("file.encoding")));
            }
            catch (final RuntimeException unknown)
            {
                return false;
            }
        }

        /** @return the real paths a class path names, a directory's {@code *} as the java launcher expands it */
        static Set<Path> entries(final String classPath) throws IOException
        {
            final Set<Path> entries = new HashSet<>();
            for (final String entry : classPath.split(File.pathSeparator))
            {
                if (entry.equals("*") || entry.endsWith("/*"))
                {
                    try (DirectoryStream<Path> jars = Files.newDirectoryStream(Path.of(entry.substring(0,
                        entry.length() - 1)), name -> name.getFileName().toString().endsWith(".jar") ||
                        name.getFileName().toString().endsWith(".JAR")))
                    {
                        for (final Path jar : jars)
                        {
                            entries.add(jar.toRealPath());
                        }
                    }
                }
                else if (!entry.isEmpty())
                {
                    entries.add(Path.of(entry).toRealPath());
                }
            }
            return entries;
        }
    }

    static String readString(final DataInputStream in) throws IOException
    {
        final int length = in.readInt();
        if (length < 0 || length > MAX_STRING_BYTES)
        {
            throw new IOException("bad string length " + length);
        }
        final byte[] bytes = new byte[length];
        in.readFully(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    static void writeString(final DataOutputStream out, final String value) throws IOException
    {
        final byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
        out.writeInt(bytes.length);
        out.write(bytes);
    }

    /**
     * The daemon's side of one connection: every reply is written whole under one lock, since the command's output
     * comes from several threads. After the last reply ({@link #EXIT}, {@link #INTERRUPTED}) more output is dropped.
     */
    static final class Replies
    {
        private final SocketChannel channel;
        private boolean done;
        private boolean interrupted;

        Replies(final SocketChannel channel)
        {
            this.channel = channel;
        }

        void accept() throws IOException
        {
            send(ACCEPTED, null, 0, 0, false);
        }

        void refuse(final String reason) throws IOException
        {
            final byte[] bytes = reason.getBytes(StandardCharsets.UTF_8);
            send(REFUSED, bytes, 0, bytes.length, true);
        }

        void out(final byte[] bytes) throws IOException
        {
            send(OUT, bytes, 0, bytes.length, false);
        }

        void exit(final int code) throws IOException
        {
            final ByteBuffer value = ByteBuffer.allocate(4).putInt(0, code);
            send(EXIT, value.array(), 0, 4, true);
        }

        /** The client was stopped by a signal, and the command's report of that has been sent: nothing more. */
        void interrupt()
        {
            synchronized (this)
            {
                if (done)
                {
                    return;
                }
                interrupted = true;
            }
            try
            {
                send(INTERRUPTED, null, 0, 0, true);
            }
            catch (final IOException ex)
            {
                // the client is gone
            }
        }

        synchronized boolean done()
        {
            return done;
        }

        synchronized boolean interrupted()
        {
            return interrupted;
        }

        OutputStream stream(final byte type)
        {
            return new OutputStream()
            {
                @Override
                public void write(final int b) throws IOException
                {
                    write(new byte[] {(byte)b}, 0, 1);
                }

                @Override
                public void write(final byte[] bytes, final int offset, final int length) throws IOException
                {
                    if (length > 0)
                    {
                        send(type, bytes, offset, length, false);
                    }
                }
            };
        }

        private synchronized void send(final byte type, final byte[] bytes, final int offset, final int length,
            final boolean last) throws IOException
        {
            if (done)
            {
                return;
            }
            final boolean sized = type != ACCEPTED && type != INTERRUPTED && type != EXIT;
            final ByteBuffer buffer = ByteBuffer.allocate(1 + (sized ? 4 : 0) + length);
            buffer.put(type);
            if (sized)
            {
                buffer.putInt(length);
            }
            if (bytes != null)
            {
                buffer.put(bytes, offset, length);
            }
            buffer.flip();
            done |= last;
            // The channel is interruptible: a write by a thread whose interrupt is pending would close it, and the
            // command's exit code would never arrive. Such threads write here: the command's own, cancelled, and the
            // engine's, stopped as the transfer ends (XferClient.close) while one of them logs a warning. Their
            // interrupt waits until the reply is written. (One that comes while a write blocks, the client having
            // stopped reading, still closes the channel.)
            final boolean interrupted = Thread.interrupted();
            try
            {
                while (buffer.hasRemaining())
                {
                    channel.write(buffer);
                }
            }
            finally
            {
                if (interrupted)
                {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /** Read a reply's payload: see {@link Replies}. */
    static byte[] readPayload(final DataInputStream in) throws IOException
    {
        final int length = in.readInt();
        if (length < 0 || length > MAX_STRING_BYTES * 16)
        {
            throw new IOException("bad reply length " + length);
        }
        final byte[] bytes = new byte[length];
        in.readFully(bytes);
        return bytes;
    }
}
