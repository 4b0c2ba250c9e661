package io.xfer.tools;

import io.xfer.agent.storage.TreeComparison;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The distribution's launchers, run as a user runs them: the built distribution's scripts, a real agent from
 * {@code bin/xfer-agent}, certificates from {@code xfer pki}, transfers over mutual TLS on loopback.
 * <ul>
 * <li>Native libraries load from {@code lib/native}, in the client and the agent, with no temporary directory.</li>
 * <li>{@code bin/xfer}'s class-sharing archive: the first send records the classes it loads, the second builds the
 * archive in the background, later runs map it; a damaged archive, a failed transfer's list and an unusable cache
 * directory cost nothing but the speed-up.</li>
 * </ul>
 * stdout stays pure JSON throughout, and stderr empty.
 */
class LauncherIT
{
    private static final long STEP_TIMEOUT_S = 60;

    @TempDir
    Path work;

    private Path dist;
    private Process agent;
    private int port;
    private Path moduleRoot;
    private Path source;
    private String[] tls;
    private int runs;
    /** Where {@link #run} starts the command; null: the test's own directory. */
    private Path runDirectory;

    @BeforeEach
    void startAgent() throws Exception
    {
        dist = Path.of(System.getProperty("xfer.dist", "target/xfer-0.1.0-SNAPSHOT/xfer-0.1.0-SNAPSHOT"));
        assertTrue(Files.isExecutable(dist.resolve("bin/xfer")), "no distribution at " + dist.toAbsolutePath());
        final Path pki = work.resolve("pki");
        final Map<String, String> noCds = Map.of("XFER_CDS_DIR", "");
        assertEquals(0, run(noCds, "pki", "init", pki.toString()).exitCode);
        assertEquals(0, run(noCds, "pki", "issue", "--ca", pki.toString(), "--server", "localhost").exitCode);
        assertEquals(0, run(noCds, "pki", "issue", "--ca", pki.toString(), "--client", "alice").exitCode);
        tls = new String[] {"--cert", pki.resolve("alice.crt").toString(), "--key",
            pki.resolve("alice.key").toString(), "--ca", pki.resolve("ca.crt").toString()};

        moduleRoot = Files.createDirectories(work.resolve("srv/in"));
        port = AgentProcess.freePort();
        final Path config = work.resolve("xfer-agent.conf");
        Files.writeString(config, String.join("\n", "[agent]", "listen = 127.0.0.1:" + port,
            "certificate = " + pki.resolve("localhost.crt"), "private_key = " + pki.resolve("localhost.key"),
            "ca = " + pki.resolve("ca.crt"), "", "[module in]", "path = " + moduleRoot, "read = alice",
            "write = alice", ""));
        final Path log = work.resolve("agent.log");
        agent = new ProcessBuilder("sh", dist.resolve("bin/xfer-agent").toString(), "--config", config.toString())
            .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        AgentProcess.awaitListening(agent, port, log);

        source = work.resolve("src/tree");
        final Random random = new Random(11);
        for (int i = 0; i < 40; i++)
        {
            final Path file = source.resolve("d" + i % 4).resolve("f" + i);
            Files.createDirectories(file.getParent());
            final byte[] bytes = new byte[random.nextInt(64 * 1024)];
            random.nextBytes(bytes);
            Files.write(file, bytes);
        }
    }

    @AfterEach
    void stopAgent() throws InterruptedException
    {
        AgentProcess.stop(agent);
    }

    @Test
    @Timeout(300)
    void shouldRecordBuildAndMapTheArchiveWithStdoutPureJson() throws Exception
    {
        final Path cache = work.resolve("cache");
        final Map<String, String> env = Map.of("XFER_CDS_DIR", cache.toString());

        // 1. the first send records the classes it loads, and nothing else happens
        final Result first = send(env);
        assertEquals(List.of(), matching(cache, ".jsa"));
        final List<Path> recorded = matching(cache, ".classlist." + first.pid);
        assertEquals(1, recorded.size(), () -> "one list named after the run's process: " + names(cache));
        assertTrue(Files.readAllLines(recorded.get(0)).contains("io/xfer/agent/engine/LatencyRecorder$Summary"),
            "the list holds the classes of a whole transfer");

        // 2. the next run keeps the list and builds the archive in the background; it finishes on its own, and
        // what a build killed midway left behind is removed
        final String base = recorded.get(0).getFileName().toString().replaceAll("\\.classlist\\.\\d+$", "");
        final Path leftover = Files.write(cache.resolve(base + ".jsa.99999"), new byte[4096]);
        send(env);
        final List<Path> lists = matching(cache, ".classlist");
        assertEquals(1, lists.size(), () -> "the recorded list kept under its final name: " + names(cache));
        final Path archive = Path.of(lists.get(0).toString().replace(".classlist", ".jsa"));
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(STEP_TIMEOUT_S * 2);
        while (!Files.exists(archive) || Files.exists(Path.of(archive.toString().replace(".jsa", ".lock"))))
        {
            assertTrue(System.nanoTime() - deadlineNs < 0, () -> "no archive built: " + names(cache));
            Thread.sleep(200);
        }
        assertEquals(List.of(), matching(cache, ".classlist."), "no recording left behind");
        assertTrue(matching(cache, ".jsa.").isEmpty(), "no partial archive left behind");
        assertFalse(Files.exists(leftover));

        // 3. later runs map the archive: the transfer's classes come from it
        final Path classLog = work.resolve("class-load.log");
        final Map<String, String> logging = new HashMap<>(env);
        logging.put("XFER_JAVA_OPTS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xlog:class+load=info:file=" +
            classLog);
        send(logging);
        final String loads = Files.readString(classLog);
        assertTrue(loads.contains("io.xfer.agent.engine.Sender source: shared objects file"),
            "the sender's classes are mapped from the archive");
        assertTrue(loads.contains("io.xfer.agent.client.XferClient source: shared objects file"));

        // 4. a damaged archive is ignored without a word: the run is as it was without one
        final byte[] garbage = new byte[8192];
        new Random(3).nextBytes(garbage);
        archive.toFile().setWritable(true);
        Files.write(archive, garbage);
        send(env);
    }

    @Test
    @Timeout(300)
    void shouldKeepNoListOfAFailedTransferAndRunWithoutAUsableCache() throws Exception
    {
        final Path cache = work.resolve("cache");
        final Map<String, String> env = Map.of("XFER_CDS_DIR", cache.toString());

        // a send that cannot connect records a list, but the next run throws it away instead of building from it
        final Result refused = run(env, concat(new String[] {"send", "--json"}, tls,
            new String[] {source.toString(), "xfer://127.0.0.1:" + AgentProcess.freePort() + "/in/x"}));
        assertNotEquals(0, refused.exitCode);
        assertEquals(1, matching(cache, ".classlist.").size(), () -> names(cache));
        assertEquals(0, run(env, "--version").exitCode);
        assertEquals(List.of(), matching(cache, ".classlist"), () -> "nothing kept: " + names(cache));
        assertEquals(List.of(), matching(cache, ".lock"));

        // an empty XFER_CDS_DIR turns it off; a directory that cannot be made, or has blanks, is passed by
        send(Map.of("XFER_CDS_DIR", ""));
        final Path file = Files.writeString(work.resolve("not-a-directory"), "x");
        send(Map.of("XFER_CDS_DIR", file.resolve("cache").toString()));
        final Path blanks = work.resolve("with blanks");
        send(Map.of("XFER_CDS_DIR", blanks.toString()));
        assertFalse(Files.exists(blanks));
        // the default is the user's cache directory
        final Path home = Files.createDirectories(work.resolve("home"));
        send(Map.of("HOME", home.toString(), "XFER_CDS_DIR_UNSET", "1"));
        assertEquals(1, matching(home.resolve(".cache/xfer"), ".classlist.").size(), () -> names(home));
    }

    @Test
    @Timeout(120)
    void shouldLoadTheNativeLibrariesFromTheDistributionWithoutUnpackingThem() throws Exception
    {
        final String arch = System.getProperty("os.arch");
        assumeTrue(System.getProperty("os.name").equals("Linux") && (arch.equals("amd64") || arch.equals("x86_64")),
            "the build unpacks the epoll library for linux-x86_64");
        final Path natives = dist.resolve("lib/native/linux-x86_64").toRealPath();

        final Path text = work.resolve("src/text/app.log");
        Files.createDirectories(text.getParent());
        final StringBuilder log = new StringBuilder();
        for (int line = 0; log.length() < 2 * 1024 * 1024; line++)
        {
            log.append("2026-11-22 INFO request ").append(line).append(" served in ").append(line % 97).append(" ms\n");
        }
        Files.writeString(text, log);
        // the JVM logs the file each library was loaded from (the option goes through the launcher unquoted: the
        // test's temporary directory has no blanks)
        final Path loaded = work.resolve("libraries.log");
        final Result result = run(Map.of("XFER_CDS_DIR", "", "XFER_JAVA_OPTS", "-XX:TieredStopAtLevel=1 " +
            "-XX:+UseSerialGC -Xlog:library=info:file=" + loaded),
            concat(new String[] {"send", "--json", "--compress", "lz4"}, tls,
                new String[] {text.getParent().toString(), "xfer://127.0.0.1:" + port + "/in/natives"}));
        assertEquals(0, result.exitCode, result::toString);
        assertEquals("", result.stderr, "nothing on stderr");
        final String summary = result.stdout.lines().reduce((first, second) -> second).orElse("");
        assertTrue(summary.contains("\"transport\":\"epoll\""), summary);
        assertTrue(summary.contains("\"tls_provider\":\"BoringSSL\""), summary);
        final String libraries = Files.readString(loaded);
        assertEquals(Files.readString(text), Files.readString(moduleRoot.resolve("natives/text/app.log")));

        // the agent, started by bin/xfer-agent, mapped them from there too: LZ4 at the latest when it decompressed
        final String maps = Files.readString(Path.of("/proc/" + agent.pid() + "/maps"));
        for (final String library : List.of("libnetty_tcnative_linux_x86_64.so",
            "libnetty_transport_native_epoll_x86_64.so", "liblz4-java.so"))
        {
            final String path = natives.resolve(library).toString();
            assertTrue(libraries.contains("Loaded library " + path + ","),
                () -> "the client did not load " + library + " from " + natives + ":\n" + libraries);
            assertTrue(maps.contains(path), () -> library + " not mapped from " + natives + ":\n" + maps);
        }
    }

    @Test
    @Timeout(300)
    void shouldHandSendsToTheClientDaemonAndRunThemItselfOnceItStopped() throws Exception
    {
        final Path socket = work.resolve("run/client.sock");
        final Map<String, String> env = daemonEnvironment();
        final Path log = work.resolve("daemon.log");
        final Process daemon = startDaemon(env, log);
        try
        {
            // through the daemon, by its native client: stdout pure JSON, stderr empty, the tree identical, each
            // logged by the daemon
            send(env);
            // from another directory, every path relative to it: the daemon's own directory is not the caller's
            final Path pki = work.resolve("pki");
            runDirectory = work;
            final Result relative = run(env, "send", "--json", "--cert", "pki/alice.crt", "--key", "pki/alice.key",
                "--ca", "pki/ca.crt", work.relativize(source).toString(), "xfer://127.0.0.1:" + port + "/in/relative");
            runDirectory = null;
            assertEquals(0, relative.exitCode, relative::toString);
            assertEquals("", relative.stderr, relative::toString);
            assertEquals(List.of(), TreeComparison.differences(source, moduleRoot.resolve("relative/tree"), 10));
            assertTrue(Files.isRegularFile(pki.resolve("alice.crt")));
            assertLogged(log, "send for " + Path.of("").toAbsolutePath() + " (native client): exit 0", 1);
            assertLogged(log, "send for " + work + " (native client): exit 0", 1);
            final Result status = run(env, "daemon", "--status");
            assertTrue(status.stdout.contains("2 commands served"), status::toString);

            final Result stop = run(env, "daemon", "--stop");
            assertEquals(0, stop.exitCode, stop::toString);
            assertTrue(daemon.waitFor(STEP_TIMEOUT_S, TimeUnit.SECONDS), () -> read(log));
            assertEquals(0, daemon.exitValue(), () -> read(log));
            assertFalse(Files.exists(socket), "the socket goes with the daemon");

            // without it, the same command runs in its own JVM
            send(env);
            assertLogged(log, "send for ", 2);
        }
        finally
        {
            AgentProcess.stop(daemon);
        }
    }

    @Test
    @Timeout(300)
    void shouldRunTheJvmWhereTheDaemonDoesNotTakeTheNativeClientsCommandAndPassASignalOn() throws Exception
    {
        final String platform = switch (System.getProperty("os.arch"))
        {
            case "amd64", "x86_64" -> "linux-x86_64";
            case "aarch64" -> "linux-aarch_64";
            default -> "unknown";
        };
        assertTrue(Files.isExecutable(dist.resolve("lib/native").resolve(platform).resolve("xfer-daemon-client")),
            "the distribution has its native client");
        final Map<String, String> env = daemonEnvironment();
        final Path log = work.resolve("daemon.log");
        final Process daemon = startDaemon(env, log);
        try
        {
            send(env);
            assertLogged(log, "(native client): exit 0", 1);
            // an error comes back on stderr, with its exit code
            final Result missing = run(env, concat(new String[] {"send"}, tls, new String[] {
                work.resolve("nothing-here").toString(), "xfer://127.0.0.1:" + port + "/in/missing"}));
            assertEquals(ExitCode.NOT_FOUND, missing.exitCode, missing::toString);
            assertTrue(missing.stderr.contains("no such file or directory"), missing::toString);
            assertEquals("", missing.stdout, missing::toString);
            assertLogged(log, "(native client): exit " + ExitCode.NOT_FOUND, 1);

            // a process of another context (its JVM options): refused, and its own JVM runs the command
            final Map<String, String> otherOptions = new HashMap<>(env);
            otherOptions.put("XFER_JAVA_OPTS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dxfer.test.context=1");
            send(otherOptions);
            assertLogged(log, "refused a command: the daemon runs in another context", 1);
            // the daemon turned off: its own JVM, without a word to the daemon
            final Map<String, String> off = new HashMap<>(env);
            off.put("XFER_DAEMON", "off");
            send(off);
            assertLogged(log, "send for ", 2);
            assertLogged(log, "refused", 1);

            // Ctrl-C while the command waits on a peer that never answers: the command's own report of the
            // signal, and the native client ends on that signal
            try (ClientDaemonTest.HangingPeer peer = new ClientDaemonTest.HangingPeer())
            {
                final Path out = work.resolve("hanging.out");
                final Path err = work.resolve("hanging.err");
                final ProcessBuilder builder = new ProcessBuilder(concat(new String[] {"sh",
                    dist.toAbsolutePath().resolve("bin/xfer").toString(), "send", "--connect-timeout", "50s"}, tls,
                    new String[] {source.toString(), "xfer://127.0.0.1:" + peer.port() + "/in/never"}))
                    .redirectOutput(out.toFile()).redirectError(err.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
                builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
                builder.environment().remove("XFER_JAVA_OPTS");
                builder.environment().putAll(env);
                final Process hanging = builder.start();
                peer.awaitConnection();
                final Process kill = new ProcessBuilder("kill", "-INT", Long.toString(hanging.pid())).start();
                assertEquals(0, kill.waitFor());
                assertTrue(hanging.waitFor(STEP_TIMEOUT_S, TimeUnit.SECONDS), "ended on its signal");
                assertEquals(128 + 2, hanging.exitValue(), () -> read(err));
                assertTrue(read(err).contains("xfer: interrupted by a signal"), () -> read(err));
            }
            assertLogged(log, " (interrupted) in ", 1);
            // and the daemon takes the next command
            send(env);
            assertLogged(log, "(native client): exit 0", 2);
        }
        finally
        {
            AgentProcess.stop(daemon);
        }

        // a daemon that does not answer (stopped with Ctrl-Z: it listens, and never accepts) is asked once, by the
        // native client; the JVM that runs the command after its wait does not wait for it again
        final Path stuckSocket = Files.createDirectories(work.resolve("stuck")).resolve("client.sock");
        try (ServerSocketChannel stuck = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            stuck.bind(UnixDomainSocketAddress.of(stuckSocket), 8);
            send(Map.of("XFER_CDS_DIR", "", "XFER_DAEMON_SOCKET", stuckSocket.toString()));
            stuck.configureBlocking(false);
            int connections = 0;
            for (SocketChannel waiting = stuck.accept(); waiting != null; waiting = stuck.accept())
            {
                connections++;
                waiting.close();
            }
            assertEquals(1, connections, "connections to the daemon that does not answer");
        }
    }

    /** The environment of a command that goes to the test's own client daemon, at run/client.sock. */
    private Map<String, String> daemonEnvironment()
    {
        return Map.of("XFER_CDS_DIR", "", "XFER_DAEMON_SOCKET", work.resolve("run/client.sock").toString());
    }

    /** {@code bin/xfer daemon} with {@code env}, its output to {@code log}, listening when this returns. */
    private Process startDaemon(final Map<String, String> env, final Path log) throws Exception
    {
        final List<String> command = List.of("sh", dist.resolve("bin/xfer").toString(), "daemon");
        final ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
            .redirectOutput(log.toFile());
        builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
        builder.environment().remove("XFER_JAVA_OPTS");
        builder.environment().putAll(env);
        final Process daemon = builder.start();
        final Path socket = Path.of(env.get("XFER_DAEMON_SOCKET"));
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(STEP_TIMEOUT_S);
        while (!ClientDaemon.listening(socket))
        {
            if (!daemon.isAlive() || System.nanoTime() - deadlineNs > 0)
            {
                AgentProcess.stop(daemon);
                fail("no daemon: " + read(log));
            }
            Thread.sleep(50);
        }
        return daemon;
    }

    /** The daemon logs a command after its exit code: wait (bounded) for the count to come to {@code expected}. */
    private static void assertLogged(final Path log, final String part, final long expected)
        throws InterruptedException
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (count(log, part) != expected && System.nanoTime() - deadlineNs < 0)
        {
            Thread.sleep(10);
        }
        assertEquals(expected, count(log, part), () -> "lines with '" + part + "':\n" + read(log));
    }

    private static long count(final Path log, final String part)
    {
        return read(log).lines().filter(line -> line.contains(part)).count();
    }

    private static String read(final Path file)
    {
        try
        {
            return Files.readString(file);
        }
        catch (final IOException ex)
        {
            return ex.toString();
        }
    }

    /** A send of the tree that must succeed with stdout all JSON and stderr empty, and arrive identical. */
    private Result send(final Map<String, String> env) throws Exception
    {
        final String target = "run" + ++runs;
        final Result result = run(env, concat(new String[] {"send", "--json"}, tls,
            new String[] {source.toString(), "xfer://127.0.0.1:" + port + "/in/" + target}));
        assertEquals(0, result.exitCode, result::toString);
        assertEquals("", result.stderr, "nothing on stderr");
        final List<String> lines = result.stdout.lines().toList();
        assertFalse(lines.isEmpty());
        for (final String line : lines)
        {
            assertTrue(line.startsWith("{\"event\":") && line.endsWith("}"), () -> "not a JSON event: " + line);
        }
        assertTrue(lines.get(lines.size() - 1).contains("\"exit_code\":0"));
        assertEquals(List.of(), TreeComparison.differences(source, moduleRoot.resolve(target).resolve("tree"), 10));
        return result;
    }

    private Result run(final Map<String, String> env, final String... args) throws Exception
    {
        final List<String> command = new ArrayList<>(List.of("sh",
            dist.toAbsolutePath().resolve("bin/xfer").toString()));
        command.addAll(List.of(args));
        final Path out = Files.createTempFile(work, "stdout", ".txt");
        final Path err = Files.createTempFile(work, "stderr", ".txt");
        final ProcessBuilder builder = new ProcessBuilder(command).redirectOutput(out.toFile())
            .redirectError(err.toFile()).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        if (runDirectory != null)
        {
            builder.directory(runDirectory.toFile());
        }
        builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
        builder.environment().remove("XFER_JAVA_OPTS");
        builder.environment().remove("XDG_CACHE_HOME");
        // no daemon but the test's own
        builder.environment().put("XFER_DAEMON_SOCKET", work.resolve("no-daemon/client.sock").toString());
        builder.environment().putAll(env);
        if (env.containsKey("XFER_CDS_DIR_UNSET"))
        {
            builder.environment().remove("XFER_CDS_DIR");
        }
        final Process process = builder.start();
        if (!process.waitFor(STEP_TIMEOUT_S, TimeUnit.SECONDS))
        {
            process.destroyForcibly();
            fail("xfer " + String.join(" ", args) + " did not finish in " + STEP_TIMEOUT_S + " s");
        }
        return new Result(process.pid(), process.exitValue(), Files.readString(out), Files.readString(err));
    }

    private static List<Path> matching(final Path dir, final String part) throws IOException
    {
        if (!Files.isDirectory(dir))
        {
            return List.of();
        }
        try (Stream<Path> files = Files.list(dir))
        {
            return files.filter(p -> p.getFileName().toString().startsWith("client-"))
                .filter(p -> part.endsWith(".") ? p.getFileName().toString().contains(part) :
                    p.getFileName().toString().endsWith(part))
                .toList();
        }
    }

    private static String names(final Path dir)
    {
        try (Stream<Path> files = Files.walk(dir))
        {
            return files.map(Path::toString).toList().toString();
        }
        catch (final IOException ex)
        {
            return ex.toString();
        }
    }

    private static String[] concat(final String[]... parts)
    {
        return Stream.of(parts).flatMap(Stream::of).toArray(String[]::new);
    }

    private record Result(long pid, int exitCode, String stdout, String stderr)
    {
    }
}
