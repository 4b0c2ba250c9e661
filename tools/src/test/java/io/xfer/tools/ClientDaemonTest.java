package io.xfer.tools;

import io.xfer.agent.config.AgentConfig;
import io.xfer.agent.net.AgentServer;
import io.xfer.agent.storage.TreeComparison;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The client daemon over a real Unix socket, running real commands against a real agent over mutual TLS on loopback:
 * a command runs as the invoking process would run it (its working directory, its {@code $XFER_HOME}, its output
 * and exit code), a signal to that process ends the command with the same report, and whatever the daemon does not
 * take (busy, another build, no daemon, a dead one) is left to the process, never lost.
 */
@Timeout(60)
class ClientDaemonTest
{
    private static final Duration VALIDITY = Duration.ofDays(1);

    @TempDir
    Path work;

    private AgentServer agent;
    private int port;
    private Path moduleRoot;
    private Path socket;
    private ClientDaemon daemon;
    private CompletableFuture<Object> serving;
    private final ByteArrayOutputStream daemonLog = new ByteArrayOutputStream();

    @BeforeEach
    void setUp() throws Exception
    {
        AgentProcess.writePki(work.resolve("pki"));
        final Path pki = work.resolve("pki");
        moduleRoot = Files.createDirectories(work.resolve("module"));
        agent = new AgentServer(new AgentConfig()
            .listen("127.0.0.1:0")
            .certificate(pki.resolve("localhost.crt"))
            .privateKey(pki.resolve("localhost.key"))
            .ca(pki.resolve("ca.crt"))
            .idleTimeoutNs(Duration.ofSeconds(20).toNanos())
            .addModule("mod", moduleRoot, "daemon tests", Set.of("alice"), Set.of("alice"))
            .conclude());
        port = agent.start().getPort();
        socket = work.resolve("run/client.sock");
    }

    @AfterEach
    void tearDown() throws Exception
    {
        if (daemon != null)
        {
            daemon.close();
            serving.get(10, TimeUnit.SECONDS);
        }
        agent.close();
    }

    private void startDaemon(final long idleNs) throws IOException
    {
        startDaemon(idleNs, daemonLog);
    }

    private void startDaemon(final long idleNs, final OutputStream log) throws IOException
    {
        daemon = new ClientDaemon(socket, idleNs, ClientDaemon.build(), new PrintStream(log, true,
            StandardCharsets.UTF_8));
        daemon.bind();
        serving = onThread(() ->
        {
            daemon.serve();
            return null;
        });
    }

    @Test
    void shouldRunACommandWithTheCallersWorkingDirectoryOutputAndExitCode() throws Exception
    {
        startDaemon(0);
        final Path tree = tree(work.resolve("caller/src"));
        Files.createDirectories(work.resolve("caller/pki"));
        for (final String name : List.of("alice.crt", "alice.key", "ca.crt"))
        {
            Files.copy(work.resolve("pki").resolve(name), work.resolve("caller/pki").resolve(name));
        }

        // every path relative: to the caller's directory, which is not the daemon's
        final Result send = run(work.resolve("caller"), null, "send", "--json", "--cert", "pki/alice.crt", "--key",
            "pki/alice.key", "--ca", "pki/ca.crt", "src", url("mod/in"));
        assertEquals(ExitCode.OK, send.exitCode, () -> send + "\n" + daemonLog);
        assertTrue(send.out.contains("\"event\":\"summary\"") && send.out.contains("\"failed\":0"), send::toString);
        assertEquals(List.of(), TreeComparison.differences(tree, moduleRoot.resolve("in/src"), 10));

        final Result get = run(work.resolve("caller"), null, "get", "--cert", "pki/alice.crt", "--key",
            "pki/alice.key", "--ca", "pki/ca.crt", url("mod/in/src"), "fetched");
        assertEquals(ExitCode.OK, get.exitCode, () -> get + "\n" + daemonLog);
        assertEquals(List.of(), TreeComparison.differences(tree, work.resolve("caller/fetched/src"), 10));

        // errors come back on stderr with their exit code
        final Result missing = run(work.resolve("caller"), null, "send", "--cert", "pki/alice.crt", "--key",
            "pki/alice.key", "--ca", "pki/ca.crt", "nothing-here", url("mod/in"));
        assertEquals(ExitCode.NOT_FOUND, missing.exitCode, missing::toString);
        assertTrue(missing.err.contains("no such file or directory: nothing-here"), missing::toString);

        // an empty destination is the caller's working directory too, as it is for a process of its own
        final Path other = Files.createDirectories(work.resolve("other"));
        final Result here = run(other, null, "get", "--cert", "../pki/alice.crt", "--key", "../pki/alice.key", "--ca",
            "../pki/ca.crt", url("mod/in/src"), "");
        assertEquals(ExitCode.OK, here.exitCode, () -> here + "\n" + daemonLog);
        assertEquals(List.of(), TreeComparison.differences(tree, other.resolve("src"), 10));
        assertTrue(logged("send for " + work.resolve("caller") +
            ": exit 0"), daemonLog::toString);
    }

    @Test
    void shouldFindTheDefaultTlsFilesInTheCallersXferHome() throws Exception
    {
        startDaemon(0);
        final Path home = Files.createDirectories(work.resolve("caller/home"));
        Files.copy(work.resolve("pki/alice.crt"), home.resolve("client.crt"));
        Files.copy(work.resolve("pki/alice.key"), home.resolve("client.key"));
        Files.copy(work.resolve("pki/ca.crt"), home.resolve("ca.crt"));
        final Path file = Files.writeString(work.resolve("caller/one.txt"), "one\n");

        final Result send = run(work.resolve("caller"), "home", "send", "one.txt", url("mod/home"));

        assertEquals(ExitCode.OK, send.exitCode, () -> send + "\n" + daemonLog);
        assertEquals("one\n", Files.readString(moduleRoot.resolve("home/one.txt")));
        assertTrue(Files.exists(file));
    }

    @Test
    void shouldTakeAScriptsNextCommandTheMomentTheLastOneGaveItsExitCode() throws Exception
    {
        // the daemon's log line for the first command is held until the second has been answered: whatever the
        // daemon still does after a command's exit code, the next command must find it free
        final CountDownLatch secondAnswered = new CountDownLatch(1);
        final AtomicBoolean held = new AtomicBoolean();
        startDaemon(0, new OutputStream()
        {
            @Override
            public void write(final int b)
            {
                daemonLog.write(b);
            }

            @Override
            public void write(final byte[] bytes, final int offset, final int length)
            {
                if (new String(bytes, offset, length, StandardCharsets.UTF_8).contains(": exit ") &&
                    held.compareAndSet(false, true))
                {
                    try
                    {
                        secondAnswered.await(10, TimeUnit.SECONDS);
                    }
                    catch (final InterruptedException ex)
                    {
                        Thread.currentThread().interrupt();
                    }
                }
                daemonLog.write(bytes, offset, length);
            }
        });
        Files.writeString(work.resolve("one.txt"), "one\n");
        try
        {
            for (int i = 0; i < 2; i++)
            {
                final Result send = run(work, null, "send", "--cert", "pki/alice.crt", "--key", "pki/alice.key",
                    "--ca", "pki/ca.crt", "one.txt", url("mod/in"));
                assertEquals(ExitCode.OK, send.exitCode, () -> "command " + send + "\n" + daemonLog);
            }
        }
        finally
        {
            secondAnswered.countDown();
        }
        assertTrue(held.get(), daemonLog::toString);
    }

    @Test
    void shouldLeaveACommandToTheCallerWhileAnotherRunsAndEndTheFirstOnItsSignal() throws Exception
    {
        startDaemon(0);
        try (HangingPeer peer = new HangingPeer())
        {
            final DaemonClient first = DaemonClient.connect(socket);
            final ByteArrayOutputStream out = new ByteArrayOutputStream();
            final ByteArrayOutputStream err = new ByteArrayOutputStream();
            final Path one = Files.writeString(work.resolve("one.txt"), "one\n");
            final CompletableFuture<Integer> running = onThread(() -> first.run(
                ClientDaemon.RUN, work.toString(), null, List.of("send", "--cert", "pki/alice.crt", "--key",
                    "pki/alice.key", "--ca", "pki/ca.crt", "--connect-timeout", "50s", one.toString(),
                    "xfer://127.0.0.1:" + peer.port() + "/mod/in"), out, err));
            peer.awaitConnection();

            // the daemon is busy with the first: the second is not taken, and the caller runs it itself
            final Result second = run(work, null, "send", "--cert", "pki/alice.crt", "--key", "pki/alice.key",
                "--ca", "pki/ca.crt", "one.txt", url("mod/in"));
            assertEquals(DaemonClient.NOT_SERVED, second.exitCode, second::toString);

            // Ctrl-C on the first caller: the same report as a process of its own would give
            final long startNs = System.nanoTime();
            first.cancel();
            assertEquals(DaemonClient.CANCELLED, running.get(10, TimeUnit.SECONDS), () -> out + " / " + err);
            assertTrue(System.nanoTime() - startNs < TimeUnit.SECONDS.toNanos(5), "cancelled at once");
            assertTrue(err.toString(StandardCharsets.UTF_8).contains("xfer: interrupted by a signal during the " +
                "transfer; what arrived is checkpointed: run the same command again to resume"), err::toString);
            first.close();
        }

        // the daemon is free again: the next command runs in it
        final Result next = await(() -> run(work, null, "send", "--cert", "pki/alice.crt", "--key",
            "pki/alice.key", "--ca", "pki/ca.crt", "one.txt", url("mod/in")));
        assertEquals(ExitCode.OK, next.exitCode, () -> next + "\n" + daemonLog);
        assertEquals("one\n", Files.readString(moduleRoot.resolve("in/one.txt")));
    }

    @Test
    void shouldEndTheCommandOfACallerThatWasKilled() throws Exception
    {
        startDaemon(0);
        try (HangingPeer peer = new HangingPeer())
        {
            final SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket));
            request(ClientDaemon.RUN, ClientDaemon.build(), ClientDaemon.context(), List.of("ping", "--cert",
                "pki/alice.crt", "--key", "pki/alice.key", "--ca", "pki/ca.crt", "--connect-timeout", "50s",
                "127.0.0.1:" + peer.port())).write(new DataOutputStream(Channels.newOutputStream(channel)));
            assertEquals(ClientDaemon.ACCEPTED, Channels.newInputStream(channel).read());
            Channels.newOutputStream(channel).write(ClientDaemon.GO);
            peer.awaitConnection();
            channel.close(); // what SIGKILL of the caller leaves

            // the peer still hangs: only the daemon's noticing the caller is gone can end the command
            final Result next = await(() -> run(work, null, "ping", "--cert", "pki/alice.crt", "--key",
                "pki/alice.key", "--ca", "pki/ca.crt", "--count", "1", "127.0.0.1:" + port));
            assertEquals(ExitCode.OK, next.exitCode, () -> next + "\n" + daemonLog);
            assertTrue(logged("ping for " + work + ": exit 1 " +
                "(interrupted)"), daemonLog::toString);
        }
    }

    /**
     * A {@code get} runs its receiver in the daemon: interrupted by the caller's signal, it keeps what arrived
     * (the partial file and its checkpoint journal) as a process of its own would, and the same command resumes it.
     */
    @Test
    void shouldKeepWhatAnInterruptedGetReceivedSoThatTheSameCommandResumesIt() throws Exception
    {
        startDaemon(0);
        final Path source = bigFile(moduleRoot.resolve("big/big.bin"), 512L << 20);
        final Path destination = work.resolve("pulled");
        final List<String> get = List.of("get", "--json", "--streams", "1", "--cert", "pki/alice.crt", "--key",
            "pki/alice.key", "--ca", "pki/ca.crt", url("mod/big/big.bin"), "pulled");
        final DaemonClient first = DaemonClient.connect(socket);
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final CompletableFuture<Integer> running = onThread(() -> first.run(ClientDaemon.RUN, work.toString(), null,
            get, out, new ByteArrayOutputStream()));

        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        long held = 0;
        // past two checkpoints (one per 64 MiB): what was journaled by then is what a resume may count on
        while (held < (160L << 20) && !running.isDone() && System.nanoTime() - deadlineNs < 0)
        {
            Thread.sleep(5);
            held = partialBytes(destination);
        }
        assertTrue(held >= 160L << 20 && !running.isDone(), "caught the get midway: " + held + " bytes, " + out);
        first.cancel();
        assertEquals(DaemonClient.CANCELLED, running.get(10, TimeUnit.SECONDS), out::toString);
        first.close();
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("\"error\":\"INTERRUPTED\""), out::toString);

        final Result again = await(() -> run(work, null, get.toArray(new String[0])));
        assertEquals(ExitCode.OK, again.exitCode, () -> again + "\n" + daemonLog);
        final java.util.regex.Matcher resumed = java.util.regex.Pattern.compile("\"resumed_bytes\":(\\d+)")
            .matcher(again.out);
        assertTrue(resumed.find() && Long.parseLong(resumed.group(1)) >= 64L << 20,
            () -> "resumed from the checkpoint: " + again + "\n" + daemonLog);
        assertEquals(-1L, Files.mismatch(source, destination.resolve("big.bin")));
        assertTrue(logged("get for " + work + ": exit 1 (interrupted)"), daemonLog::toString);
    }

    private static long partialBytes(final Path root) throws IOException
    {
        if (!Files.isDirectory(root))
        {
            return 0;
        }
        try (java.util.stream.Stream<Path> files = Files.list(root))
        {
            return files.filter(p -> p.getFileName().toString().endsWith(".part")).mapToLong(p ->
            {
                try
                {
                    return Files.size(p);
                }
                catch (final IOException gone)
                {
                    return 0;
                }
            }).sum();
        }
    }

    private static Path bigFile(final Path file, final long size) throws IOException
    {
        Files.createDirectories(file.getParent());
        final byte[] block = new byte[1 << 20];
        new Random(17).nextBytes(block);
        try (java.io.OutputStream out = Files.newOutputStream(file))
        {
            for (long written = 0, n = 0; written < size; written += block.length, n++)
            {
                block[0] = (byte)n;
                block[1] = (byte)(n >>> 8);
                out.write(block, 0, (int)Math.min(block.length, size - written));
            }
        }
        return file;
    }

    @Test
    void shouldRunNothingForACallerThatGaveUpBeforeItsGo() throws Exception
    {
        startDaemon(0);
        final Path one = Files.writeString(work.resolve("one.txt"), "one\n");
        try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket)))
        {
            request(ClientDaemon.RUN, ClientDaemon.build(), ClientDaemon.context(), List.of("send", "--cert",
                "pki/alice.crt", "--key", "pki/alice.key", "--ca", "pki/ca.crt", one.toString(), url("mod/never")))
                .write(new DataOutputStream(Channels.newOutputStream(channel)));
            assertEquals(ClientDaemon.ACCEPTED, Channels.newInputStream(channel).read());
        }
        final Result next = await(() -> run(work, null, "send", "--cert", "pki/alice.crt", "--key",
            "pki/alice.key", "--ca", "pki/ca.crt", one.toString(), url("mod/after")));
        assertEquals(ExitCode.OK, next.exitCode, () -> next + "\n" + daemonLog);
        assertFalse(Files.exists(moduleRoot.resolve("never")), "the command without its GO never ran");
        assertTrue(Files.exists(moduleRoot.resolve("after/one.txt")));
    }

    @Test
    void shouldLeaveTheCommandToTheCallerWhenTheDaemonDoesNotAnswer() throws Exception
    {
        Files.createDirectories(socket.getParent());
        try (ServerSocketChannel stuck = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            stuck.bind(UnixDomainSocketAddress.of(socket)); // listens, never accepts: a daemon stopped with Ctrl-Z
            final long startNs = System.nanoTime();
            final Result result = run(work, null, "ping", "127.0.0.1:" + port);
            final long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs);
            assertEquals(DaemonClient.NOT_SERVED, result.exitCode, result::toString);
            assertTrue(tookMs >= DaemonClient.ANSWER_TIMEOUT_MS - 100 &&
                tookMs < DaemonClient.ANSWER_TIMEOUT_MS + 5_000, "gave up after " + tookMs + " ms");
        }
    }

    @Test
    void shouldRefuseACommandFromAProcessOfAnotherContext() throws Exception
    {
        startDaemon(0);
        try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket)))
        {
            request(ClientDaemon.RUN, ClientDaemon.build(), ClientDaemon.context().replace("Umask:", "Umask: 7"),
                List.of("ping", "127.0.0.1:" + port)).write(new DataOutputStream(Channels.newOutputStream(channel)));
            final DataInputStream in = new DataInputStream(Channels.newInputStream(channel));
            assertEquals(ClientDaemon.REFUSED, in.read());
            assertTrue(new String(ClientDaemon.readPayload(in), StandardCharsets.UTF_8).contains("another context"));
        }
        assertTrue(ClientDaemon.context().contains("Umask:"), ClientDaemon.context());
    }

    @Test
    void shouldDeliverTheExitCodeAfterOutputWrittenByAnInterruptedThread() throws Exception
    {
        // a warning logged by one of the engine's threads as the transfer's end stops it, with an interrupt
        Files.createDirectories(socket.getParent());
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            server.bind(UnixDomainSocketAddress.of(socket));
            try (SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(socket));
                SocketChannel daemonSide = server.accept())
            {
                final ClientDaemon.Replies replies = new ClientDaemon.Replies(daemonSide);
                final CompletableFuture<Boolean> stillInterrupted = onThread(() ->
                {
                    Thread.currentThread().interrupt();
                    replies.stream(ClientDaemon.ERR).write("WARNING late\n".getBytes(StandardCharsets.UTF_8));
                    return Thread.currentThread().isInterrupted();
                });
                assertTrue(stillInterrupted.get(10, TimeUnit.SECONDS), "the writer's interrupt is kept");
                replies.exit(ExitCode.OK);

                final DataInputStream in = new DataInputStream(Channels.newInputStream(client));
                assertEquals(ClientDaemon.ERR, in.read());
                assertEquals("WARNING late\n", new String(ClientDaemon.readPayload(in), StandardCharsets.UTF_8));
                assertEquals(ClientDaemon.EXIT, in.read(), "the exit code arrives: the channel was not closed");
                assertEquals(ExitCode.OK, in.readInt());
            }
        }
    }

    @Test
    void shouldRunANativeClientsCommandOnlyFromItsOwnInstallationAndContext() throws Exception
    {
        startDaemon(0);
        final Path one = Files.writeString(work.resolve("one.txt"), "one\n");
        final String java = Path.of(System.getProperty("java.home"), "bin", "java").toRealPath().toString();
        final String classPath = System.getProperty("java.class.path");
        final String codeset = System.getProperty("sun.jnu.encoding");
        final String other = Charset.forName(codeset).equals(StandardCharsets.ISO_8859_1) ?
            "UTF-8" : "ISO-8859-1";
        final String firstEntry = classPath.split(File.pathSeparator)[0];
        final String withoutFirst = classPath.substring(firstEntry.length() + 1);

        // what the daemon's own installation and process would send: run, and logged as the native client's
        final Result taken = runNative(new ClientDaemon.NativeClient(java, classPath, codeset),
            ClientDaemon.context(codeset + "/" + codeset), one, "native");
        assertEquals(ExitCode.OK, taken.exitCode, () -> taken + "\n" + daemonLog);
        assertEquals("one\n", Files.readString(moduleRoot.resolve("native/one.txt")));
        assertTrue(logged("send for " + work + " (native client): " +
            "exit 0"), daemonLog::toString);

        // another JVM, one jar fewer, another codeset, another umask: refused, and none of them runs
        final List<Result> refused = List.of(
            runNative(new ClientDaemon.NativeClient(Path.of("/bin/sh").toRealPath().toString(), classPath, codeset),
                ClientDaemon.context(codeset + "/" + codeset), one, "jvm"),
            runNative(new ClientDaemon.NativeClient(java, withoutFirst, codeset),
                ClientDaemon.context(codeset + "/" + codeset), one, "jars"),
            runNative(new ClientDaemon.NativeClient(java, classPath, other),
                ClientDaemon.context(other + "/" + other), one, "codeset"),
            runNative(new ClientDaemon.NativeClient(java, classPath, codeset),
                ClientDaemon.context(codeset + "/" + codeset).replace("Umask:", "Umask: 7"), one, "umask"));
        for (final Result result : refused)
        {
            assertEquals(DaemonClient.NOT_SERVED, result.exitCode, result::toString);
        }
        for (final String name : List.of("jvm", "jars", "codeset", "umask"))
        {
            assertFalse(Files.exists(moduleRoot.resolve(name)), name);
        }
        final String log = daemonLog.toString(StandardCharsets.UTF_8);
        assertEquals(2, log.lines().filter(line -> line.contains("another build of xfer")).count(), log);
        assertEquals(2, log.lines().filter(line -> line.contains("another context")).count(), log);
    }

    @Test
    void shouldExpandAClassPathAsTheJavaLauncherDoes() throws Exception
    {
        final Path lib = Files.createDirectories(work.resolve("dist/lib"));
        final Path a = Files.createFile(lib.resolve("a.jar"));
        final Path b = Files.createFile(lib.resolve("b.JAR"));
        Files.createFile(lib.resolve("notes.txt"));
        Files.createDirectories(lib.resolve("native"));
        final Path classes = Files.createDirectories(work.resolve("classes"));
        final Path link = Files.createSymbolicLink(work.resolve("lib-link"), lib);

        assertEquals(Set.of(a.toRealPath(), b.toRealPath()), ClientDaemon.NativeClient.entries(lib + "/*"));
        assertEquals(Set.of(a.toRealPath(), b.toRealPath(), classes.toRealPath()),
            ClientDaemon.NativeClient.entries(link + "/*" + File.pathSeparator + classes));
        assertThrows(IOException.class, () -> ClientDaemon.NativeClient.entries(work.resolve("none/*").toString()));
    }

    /** @return whether the daemon's log has {@code part}, waiting (bounded): a command's line comes after its exit */
    private boolean logged(final String part) throws InterruptedException
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!daemonLog.toString(StandardCharsets.UTF_8).contains(part) && System.nanoTime() - deadlineNs < 0)
        {
            Thread.sleep(10);
        }
        return daemonLog.toString(StandardCharsets.UTF_8).contains(part);
    }

    private Result runNative(final ClientDaemon.NativeClient client, final String context, final Path file,
        final String target)
    {
        final DaemonClient connection = DaemonClient.connect(socket);
        if (connection == null)
        {
            return new Result(DaemonClient.NOT_SERVED, "", "no daemon");
        }
        try (connection)
        {
            final ByteArrayOutputStream out = new ByteArrayOutputStream();
            final ByteArrayOutputStream err = new ByteArrayOutputStream();
            final int exitCode = connection.run(new ClientDaemon.Request(ClientDaemon.RUN_NATIVE, "", context,
                work.toString(), "", false, List.of("send", "--cert", "pki/alice.crt", "--key", "pki/alice.key",
                "--ca", "pki/ca.crt", file.toString(), url("mod/" + target)), client), out, err);
            return new Result(exitCode, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        }
    }

    @Test
    void shouldLetTheRunningCommandEndWhenStoppedAndTakeNoOther() throws Exception
    {
        startDaemon(0);
        try (HangingPeer peer = new HangingPeer())
        {
            final DaemonClient first = DaemonClient.connect(socket);
            final ByteArrayOutputStream out = new ByteArrayOutputStream();
            final ByteArrayOutputStream err = new ByteArrayOutputStream();
            final CompletableFuture<Integer> running = onThread(() -> first.run(ClientDaemon.RUN, work.toString(),
                null, List.of("ping", "--cert", "pki/alice.crt", "--key", "pki/alice.key", "--ca", "pki/ca.crt",
                    "--connect-timeout", "2s", "127.0.0.1:" + peer.port()), out, err));
            peer.awaitConnection();

            assertEquals(ExitCode.OK, XferCli.run(new String[] {"daemon", "--stop", "--socket", socket.toString()},
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), System.err));
            final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (Files.exists(socket) && System.nanoTime() - deadlineNs < 0)
            {
                Thread.sleep(20);
            }
            assertFalse(Files.exists(socket), "no new command is taken");
            assertNull(DaemonClient.connect(socket));
            assertFalse(serving.isDone(), "the daemon waits for the command that runs");

            // the command goes on to its own end (its handshake times out), and its caller hears of it
            final int exitCode = running.get(20, TimeUnit.SECONDS);
            assertEquals(ExitCode.TLS, exitCode, () -> out + " / " + err);
            assertTrue(err.toString(StandardCharsets.UTF_8).contains("handshake"), err::toString);
            first.close();
            serving.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void shouldPassTheEngineWarningsToTheCaller() throws Exception
    {
        startDaemon(0);
        final Path one = Files.writeString(work.resolve("one.txt"), "one\n");
        // the agent does not allow plaintext data connections: the engine warns, and the data goes over TLS. The
        // build's tests log through a configuration file, which the command line leaves alone: not for this one.
        final String configuration = System.clearProperty("java.util.logging.config.file");
        final Result send;
        try
        {
            send = run(work, null, "send", "--plaintext", "--cert", "pki/alice.crt", "--key", "pki/alice.key",
                "--ca", "pki/ca.crt", "--no-inline", one.toString(), url("mod/plain"));
        }
        finally
        {
            if (configuration != null)
            {
                System.setProperty("java.util.logging.config.file", configuration);
                if (Files.exists(Path.of(configuration)))
                {
                    java.util.logging.LogManager.getLogManager().readConfiguration();
                }
                else
                {
                    java.util.logging.LogManager.getLogManager().reset();
                }
            }
        }
        assertEquals(ExitCode.OK, send.exitCode, () -> send + "\n" + daemonLog);
        assertTrue(send.err.contains("does not allow plaintext data connections"), send::toString);
        assertFalse(daemonLog.toString(StandardCharsets.UTF_8).contains("plaintext"), daemonLog::toString);
    }

    @Test
    void shouldRefuseACommandOfAnotherBuildButAnswerItsStatusAndStop() throws Exception
    {
        startDaemon(0);
        try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket)))
        {
            request(ClientDaemon.RUN, "another build", ClientDaemon.context(), List.of("ping", "127.0.0.1:" + port))
                .write(new DataOutputStream(Channels.newOutputStream(channel)));
            final DataInputStream in = new DataInputStream(Channels.newInputStream(channel));
            assertEquals(ClientDaemon.REFUSED, in.read());
            assertTrue(new String(ClientDaemon.readPayload(in), StandardCharsets.UTF_8).contains("another build"));
        }
        try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket)))
        {
            request(ClientDaemon.STATUS, "another build", "", List.of())
                .write(new DataOutputStream(Channels.newOutputStream(channel)));
            final DataInputStream in = new DataInputStream(Channels.newInputStream(channel));
            assertEquals(ClientDaemon.ACCEPTED, in.read());
            assertEquals(ClientDaemon.OUT, in.read());
            assertTrue(new String(ClientDaemon.readPayload(in), StandardCharsets.UTF_8).contains("0 commands served"));
        }

        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(ExitCode.OK, XferCli.run(new String[] {"daemon", "--stop", "--socket", socket.toString()},
            new PrintStream(out, true, StandardCharsets.UTF_8), System.err));
        serving.get(10, TimeUnit.SECONDS);
        assertFalse(Files.exists(socket), "the socket goes with the daemon");
        assertEquals(ExitCode.CONNECTION, XferCli.run(new String[] {"daemon", "--status", "--socket",
            socket.toString()}, new PrintStream(out, true, StandardCharsets.UTF_8), System.err));
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("no xfer daemon listens on " + socket), out::toString);
    }

    @Test
    void shouldSurviveARequestThatIsNotOne() throws Exception
    {
        startDaemon(0);
        for (final byte[] garbage : List.of("GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII),
            new byte[] {0x58, 0x46, 0x44, 0x31, ClientDaemon.RUN, 0x7f, 0x7f, 0x7f, 0x7f}))
        {
            try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket)))
            {
                Channels.newOutputStream(channel).write(garbage);
                int answer;
                try
                {
                    answer = Channels.newInputStream(channel).read();
                }
                catch (final IOException reset)
                {
                    answer = -1; // closed with the rest of the garbage unread
                }
                assertEquals(-1, answer, "closed without an answer");
            }
        }
        final Result next = run(work, null, "ping", "--cert", "pki/alice.crt", "--key", "pki/alice.key", "--ca",
            "pki/ca.crt", "--count", "1", "127.0.0.1:" + port);
        assertEquals(ExitCode.OK, next.exitCode, () -> next + "\n" + daemonLog);
    }

    @Test
    void shouldReplaceASocketNobodyListensOnAndRefuseADirectoryOthersMayWriteTo() throws Exception
    {
        Files.createDirectories(socket.getParent());
        try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            dead.bind(UnixDomainSocketAddress.of(socket)); // a daemon killed with SIGKILL leaves its socket file
        }
        assertTrue(Files.exists(socket));
        assertNull(DaemonClient.connect(socket), "nobody listens: the caller runs the command itself");

        Files.setPosixFilePermissions(socket.getParent(), PosixFilePermissions.fromString("rwxrwxrwx"));
        final ClientDaemon open = new ClientDaemon(socket, 0, ClientDaemon.build(), System.err);
        final IOException refused = assertThrows(IOException.class, open::bind);
        assertTrue(refused.getMessage().contains("others may write into the socket's directory"),
            refused::getMessage);

        Files.setPosixFilePermissions(socket.getParent(), PosixFilePermissions.fromString("rwx------"));
        startDaemon(0);
        final Result next = run(work, null, "ping", "--cert", "pki/alice.crt", "--key", "pki/alice.key", "--ca",
            "pki/ca.crt", "--count", "1", "127.0.0.1:" + port);
        assertEquals(ExitCode.OK, next.exitCode, () -> next + "\n" + daemonLog);
        final IOException twice = assertThrows(IOException.class,
            new ClientDaemon(socket, 0, ClientDaemon.build(), System.err)::bind);
        assertTrue(twice.getMessage().contains("a daemon already listens"), twice::getMessage);
    }

    @Test
    void shouldEndWhenIdleAndTakeItsSocketAlong() throws Exception
    {
        startDaemon(TimeUnit.MILLISECONDS.toNanos(300));
        serving.get(10, TimeUnit.SECONDS);
        assertFalse(Files.exists(socket));
        assertNull(DaemonClient.connect(socket));
        assertTrue(logged("ending"), daemonLog::toString);
    }

    private ClientDaemon.Request request(final byte kind, final String build, final String context,
        final List<String> arguments)
    {
        return new ClientDaemon.Request(kind, build, context, work.toString(), "", false, arguments);
    }

    private String url(final String path)
    {
        return "xfer://127.0.0.1:" + port + "/" + path;
    }

    private Result run(final Path workingDirectory, final String xferHome, final String... args)
    {
        final DaemonClient client = DaemonClient.connect(socket);
        if (client == null)
        {
            return new Result(DaemonClient.NOT_SERVED, "", "no daemon");
        }
        try (client)
        {
            final ByteArrayOutputStream out = new ByteArrayOutputStream();
            final ByteArrayOutputStream err = new ByteArrayOutputStream();
            final int exitCode = client.run(ClientDaemon.RUN, workingDirectory.toString(), xferHome, List.of(args),
                out, err);
            return new Result(exitCode, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        }
    }

    /** Retry while the daemon is still busy ending a cancelled command (bounded). */
    private static Result await(final java.util.function.Supplier<Result> command) throws InterruptedException
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        Result result = command.get();
        while (result.exitCode == DaemonClient.NOT_SERVED && System.nanoTime() - deadlineNs < 0)
        {
            Thread.sleep(50);
            result = command.get();
        }
        return result;
    }

    private static Path tree(final Path root) throws IOException
    {
        final Random random = new Random(5);
        Files.createDirectories(root.resolve("sub/deeper"));
        for (final String name : List.of("a.bin", "b.txt", "sub/c.bin", "sub/deeper/d.bin", "sub/deeper/e.txt"))
        {
            final byte[] bytes = new byte[name.endsWith(".bin") ? 300_000 + random.nextInt(100_000) : 100];
            random.nextBytes(bytes);
            Files.write(root.resolve(name), bytes);
        }
        return root;
    }

    /** On a thread of its own: the common pool may have a single thread on a small machine. */
    static <T> CompletableFuture<T> onThread(final java.util.concurrent.Callable<T> task)
    {
        final CompletableFuture<T> result = new CompletableFuture<>();
        final Thread thread = new Thread(() ->
        {
            try
            {
                result.complete(task.call());
            }
            catch (final Throwable ex)
            {
                result.completeExceptionally(ex);
            }
        }, "daemon-test");
        thread.setDaemon(true);
        thread.start();
        return result;
    }

    record Result(int exitCode, String out, String err)
    {
    }

    /** A TCP listener on loopback that accepts and never answers: a command to it waits in its handshake. */
    static final class HangingPeer implements AutoCloseable
    {
        private final ServerSocket listener = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
        private final List<Socket> accepted = new CopyOnWriteArrayList<>();

        HangingPeer() throws IOException
        {
            onThread(() ->
            {
                try
                {
                    while (!listener.isClosed())
                    {
                        accepted.add(listener.accept());
                    }
                }
                catch (final IOException closed)
                {
                    // the test ended
                }
                return null;
            });
        }

        int port()
        {
            return listener.getLocalPort();
        }

        void awaitConnection() throws InterruptedException
        {
            final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (accepted.isEmpty() && System.nanoTime() - deadlineNs < 0)
            {
                Thread.sleep(20);
            }
            assertFalse(accepted.isEmpty(), "the command never connected");
        }

        @Override
        public void close() throws IOException
        {
            listener.close();
            for (final Socket socket : new ArrayList<>(accepted))
            {
                socket.close();
            }
        }
    }
}
