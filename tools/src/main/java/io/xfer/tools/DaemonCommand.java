package io.xfer.tools;

import io.xfer.agent.config.Units;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code xfer daemon}: run, query or stop the client daemon. */
@Command(name = "daemon", mixinStandardHelpOptions = true,
    description = {
        "Run this user's send, get and ping commands in one warm JVM: every xfer started while it runs hands its " +
            "command line to it, and starts no transfer code of its own. Transfers of many small files and short " +
            "commands gain most (the JVM's start and warm-up are paid once).",
        "Runs in the foreground until stopped or idle; start it in the background with 'setsid -f xfer daemon' or " +
            "as a systemd user service. Commands run one at a time: while one runs, others run in their own JVM, " +
            "as they do without a daemon; so do those of another build of xfer, or of a process with another umask, " +
            "groups, mount namespace, encoding or XFER_JAVA_OPTS. XFER_DAEMON=off makes an xfer go without it."})
final class DaemonCommand implements Callable<Integer>
{
    @Option(names = "--socket", paramLabel = "PATH",
        description = "Unix socket (default: $XFER_DAEMON_SOCKET, else $XDG_RUNTIME_DIR/xfer/client.sock, else " +
            "$XFER_HOME/run/client.sock). Its directory must be this user's and not writable by others.")
    Path socket;

    @Option(names = "--idle", paramLabel = "DURATION", defaultValue = "30m",
        description = "End after this long without a command; 0 never (default: ${DEFAULT-VALUE}).")
    String idle;

    @Option(names = "--stop", description = "Stop the daemon that listens on the socket.")
    boolean stop;

    @Option(names = "--status", description = "Say whether a daemon listens on the socket, and what it does.")
    boolean status;

    @Override
    public Integer call()
    {
        // this command's own streams: while the daemon runs, the command line's streams are those of the command
        // it runs for another process
        final PrintStream out = XferCli.stdout();
        final PrintStream err = XferCli.stderr();
        final Path path = socket != null ? socket : ClientDaemon.defaultSocket();
        if (stop || status)
        {
            return ask(path, stop ? ClientDaemon.STOP : ClientDaemon.STATUS, out, err);
        }
        final long idleNs;
        try
        {
            idleNs = Units.parseDurationNs("--idle", idle);
        }
        catch (final IllegalArgumentException ex)
        {
            err.println("xfer: " + ex.getMessage());
            return ExitCode.USAGE;
        }
        final ClientDaemon daemon = new ClientDaemon(path, idleNs, ClientDaemon.build(), err);
        try
        {
            daemon.bind();
        }
        catch (final IOException ex)
        {
            err.println("xfer: cannot listen on " + path + ": " + ex.getMessage());
            return ExitCode.CONFIG;
        }
        final Thread onSignal = new Thread(daemon::terminate, "xfer-daemon-stop");
        Runtime.getRuntime().addShutdownHook(onSignal);
        try
        {
            daemon.serve();
        }
        catch (final IOException ex)
        {
            err.println("xfer: the daemon failed: " + ex.getMessage());
            return ExitCode.INTERNAL;
        }
        try
        {
            Runtime.getRuntime().removeShutdownHook(onSignal);
        }
        catch (final IllegalStateException shuttingDown)
        {
            // stopped by a signal
        }
        return ExitCode.OK;
    }

    private static int ask(final Path path, final byte kind, final PrintStream out, final PrintStream err)
    {
        final DaemonClient client = DaemonClient.connect(path);
        if (client == null)
        {
            out.println("no xfer daemon listens on " + path);
            return ExitCode.CONNECTION;
        }
        try (client)
        {
            final ByteArrayOutputStream answer = new ByteArrayOutputStream();
            final ByteArrayOutputStream problems = new ByteArrayOutputStream();
            final int exitCode = client.run(kind, "", null, List.of(), answer, problems);
            if (exitCode == DaemonClient.NOT_SERVED)
            {
                err.println("xfer: the daemon on " + path + " did not answer");
                return ExitCode.CONNECTION;
            }
            out.print(answer.toString(StandardCharsets.UTF_8));
            err.print(problems.toString(StandardCharsets.UTF_8));
            return exitCode;
        }
    }
}
