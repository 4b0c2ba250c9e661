package io.xfer.tools;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The command line stopped by a signal in the middle of a transfer (Ctrl-C, systemctl stop, a closed terminal):
 * a real CLI process, stuck in its TLS handshake with a listener that accepts and never answers, gets SIGINT or
 * SIGTERM. It must end at once with the signal's exit status and say so, on stderr or as a JSON event, instead of
 * ending without a word.
 */
@Timeout(60)
class CliSignalTest
{
    @TempDir
    Path work;

    private Path pki;
    private ServerSocket listener;
    private final List<Socket> accepted = new java.util.concurrent.CopyOnWriteArrayList<>();
    private AgentProcess cli;

    @BeforeEach
    void setUp() throws Exception
    {
        pki = work.resolve("pki");
        AgentProcess.writePki(pki);
        listener = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
        CompletableFuture.runAsync(() ->
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
        });
    }

    @AfterEach
    void tearDown() throws Exception
    {
        if (cli != null)
        {
            cli.kill();
        }
        listener.close();
        for (final Socket socket : accepted)
        {
            socket.close();
        }
    }

    @Test
    void shouldSayWhenCtrlCStopsATransfer() throws Exception
    {
        final String log = interrupt("INT", false);
        assertTrue(log.contains("xfer: interrupted by a signal during the transfer; what arrived is checkpointed: " +
            "run the same command again to resume"), log);
    }

    @Test
    void shouldReportATerminationAsAJsonEvent() throws Exception
    {
        final String log = interrupt("TERM", true);
        assertTrue(log.contains("{\"event\":\"error\",\"error\":\"INTERRUPTED\",\"message\":\"interrupted by a " +
            "signal during the transfer; what arrived is checkpointed: run the same command again to resume\"}"),
            log);
    }

    /**
     * The same through the client daemon: the signal stops the {@code xfer} process, whose command runs in the
     * daemon's JVM; the report is the same, the exit status is the signal's, and the daemon stays to serve the next.
     */
    @Test
    void shouldSayWhenCtrlCStopsATransferThatTheDaemonRuns() throws Exception
    {
        final Path socket = work.resolve("run/client.sock");
        try (AgentProcess daemon = startDaemon(socket))
        {

            final String log = interrupt("INT", false, Map.of("XFER_DAEMON_SOCKET", socket.toString()));

            assertTrue(log.contains("xfer: interrupted by a signal during the transfer; what arrived is checkpointed: " +
                "run the same command again to resume"), log);
            // the daemon logs the command once it has unwound, after the caller is gone
            final long unwoundNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (!read(work.resolve("daemon.log")).contains("(interrupted)") && System.nanoTime() - unwoundNs < 0)
            {
                Thread.sleep(20);
            }
            final String daemonLog = read(work.resolve("daemon.log"));
            assertTrue(daemonLog.contains("send for " + Path.of("").toAbsolutePath() + ": exit "), daemonLog);
            assertTrue(daemonLog.contains("(interrupted)"), daemonLog);
            assertTrue(daemon.isAlive(), daemonLog);
        }
    }

    /**
     * SIGTERM to the daemon (systemd stopping it) ends the command that runs there as the same signal would end the
     * {@code xfer} process: the report, and that process ends with the signal's status.
     */
    @Test
    void shouldReportTheDaemonsTerminationToItsCaller() throws Exception
    {
        final Path socket = work.resolve("run/client.sock");
        try (AgentProcess daemon = startDaemon(socket))
        {

            final String log = interrupt("TERM", true, Map.of("XFER_DAEMON_SOCKET", socket.toString()), daemon);

            assertTrue(log.contains("{\"event\":\"error\",\"error\":\"INTERRUPTED\",\"message\":\"interrupted by " +
                "a signal during the transfer; what arrived is checkpointed: run the same command again to resume\"}"),
                log);
            assertEquals(143, daemon.waitFor(20), () -> read(work.resolve("daemon.log")));
            assertFalse(Files.exists(socket), "the socket goes with the daemon");
        }
    }

    /** A client daemon as a separate JVM, listening on {@code socket}; its log is daemon.log. */
    private AgentProcess startDaemon(final Path socket) throws Exception
    {
        final AgentProcess daemon = AgentProcess.start(work.resolve("daemon.log"), Map.of(), "io.xfer.tools.XferCli",
            "daemon", "--socket", socket.toString());
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!ClientDaemon.listening(socket) && System.nanoTime() - deadlineNs < 0 && daemon.isAlive())
        {
            Thread.sleep(20);
        }
        if (!ClientDaemon.listening(socket))
        {
            daemon.kill();
            fail("no daemon: " + read(work.resolve("daemon.log")));
        }
        return daemon;
    }

    /** @return what the CLI printed, stdout and stderr */
    private String interrupt(final String signal, final boolean json) throws Exception
    {
        return interrupt(signal, json, null, null);
    }

    private String interrupt(final String signal, final boolean json, final Map<String, String> daemon)
        throws Exception
    {
        return interrupt(signal, json, daemon, null);
    }

    /**
     * @param daemon the environment of an {@code xfer} that hands its command to a client daemon; null for one that
     * runs it itself
     * @param signalled the process the signal goes to; null for the {@code xfer} process
     */
    private String interrupt(final String signal, final boolean json, final Map<String, String> daemon,
        final AgentProcess signalled) throws Exception
    {
        final Path source = Files.writeString(work.resolve("one.txt"), "one\n");
        final List<String> args = new java.util.ArrayList<>(List.of("send", "--cert",
            pki.resolve("alice.crt").toString(), "--key", pki.resolve("alice.key").toString(), "--ca",
            pki.resolve("ca.crt").toString(), "--connect-timeout", "50s"));
        if (json)
        {
            args.add("--json");
        }
        args.addAll(List.of(source.toString(), "xfer://127.0.0.1:" + listener.getLocalPort() + "/mod/in"));
        final Path logFile = work.resolve("cli.log");
        cli = daemon == null ? AgentProcess.startCli(logFile, args.toArray(new String[0])) :
            AgentProcess.start(logFile, daemon, "io.xfer.tools.Main", args.toArray(new String[0]));
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (accepted.isEmpty() && System.nanoTime() - deadlineNs < 0 && cli.isAlive())
        {
            Thread.sleep(20);
        }
        assertFalse(accepted.isEmpty(), () -> "the CLI never connected: " + read(logFile));
        // in its handshake now, waiting for the listener's answer
        (signalled != null ? signalled : cli).signal(signal);
        final int status = cli.waitFor(20);
        final String log = read(logFile);
        assertEquals(signal.equals("INT") ? 130 : 143, status, log);
        return log;
    }

    private static String read(final Path log)
    {
        try
        {
            return Files.readString(log);
        }
        catch (final IOException ex)
        {
            return ex.toString();
        }
    }
}
