package io.xfer.tools;

import io.xfer.agent.LogFormat;
import io.xfer.agent.client.ClientOptions;
import io.xfer.agent.client.Endpoint;
import io.xfer.agent.client.PingReport;
import io.xfer.agent.client.XferClient;
import io.xfer.agent.config.ConfigurationException;
import io.xfer.agent.config.Units;
import io.xfer.agent.engine.Compression;
import io.xfer.agent.engine.TransferException;
import io.xfer.agent.engine.TransferReport;
import io.xfer.agent.net.Version;
import io.xfer.agent.tls.TlsContexts;
import io.xfer.protocol.ErrorCode;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.logging.Level;

/**
 * The {@code xfer} command: send, get, ping, pki, demo. Never prompts; exit codes are {@link ExitCode}.
 */
@Command(
    name = "xfer",
    mixinStandardHelpOptions = true,
    versionProvider = XferCli.VersionProvider.class,
    description = "Fast, verified, mutually authenticated bulk transfers to and from xfer-agent.")
public final class XferCli implements Callable<Integer>
{
    /**
     * The subcommands, in the order help lists them. picocli builds a command's model by reflection over its
     * annotated fields; for a command line that names one of them only that one is built (measured on a send: 13 ms
     * of wall time, 30 ms of CPU).
     */
    private static final Map<String, Supplier<Object>> SUBCOMMANDS = subcommands();

    /**
     * Where the command line being run writes, and for whom it runs. Set by {@link #run}: one command line at a time
     * per JVM (the client daemon runs one at a time).
     */
    private static PrintStream stdout = System.out;
    private static PrintStream stderr = System.err;
    private static Invocation invocation = Invocation.process();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    static PrintStream stdout()
    {
        return stdout;
    }

    static PrintStream stderr()
    {
        return stderr;
    }

    public static void main(final String[] args)
    {
        System.exit(run(args, System.out, System.err));
    }

    /**
     * Run a command line; returns the exit code. Used by main and by tests.
     */
    public static int run(final String[] args, final PrintStream out, final PrintStream err)
    {
        return run(args, out, err, Invocation.process());
    }

    /**
     * Run a command line for {@code caller}: relative paths are its working directory's, a signal that stops it
     * ends the transfer as it would end this process.
     */
    static int run(final String[] args, final PrintStream out, final PrintStream err, final Invocation caller)
    {
        stdout = out;
        stderr = err;
        invocation = caller;
        // what the transfer engine logs is the command's: on its stderr
        LogFormat.install(Level.WARNING, err);
        final CommandLine commandLine = new CommandLine(new XferCli());
        final String named = Arrays.stream(args).filter(arg -> !arg.startsWith("-")).findFirst().orElse("");
        SUBCOMMANDS.forEach((name, command) ->
        {
            if (!SUBCOMMANDS.containsKey(named) || named.equals("help") || named.equals(name))
            {
                commandLine.addSubcommand(name, command.get());
            }
        });
        // every Path option and parameter is the invoking process's, relative to its working directory
        commandLine.registerConverter(Path.class, caller::path);
        if (caller.console() != null)
        {
            commandLine.setColorScheme(CommandLine.Help.defaultColorScheme(caller.console() ?
                CommandLine.Help.Ansi.ON : CommandLine.Help.Ansi.OFF));
        }
        commandLine.setOut(new java.io.PrintWriter(out, true));
        commandLine.setErr(new java.io.PrintWriter(err, true));
        commandLine.setExitCodeExceptionMapper(ex -> ExitCode.INTERNAL);
        commandLine.setParameterExceptionHandler((ex, arguments) ->
        {
            err.println("xfer: " + ex.getMessage());
            err.println("Run 'xfer " + (ex.getCommandLine().getCommandName().equals("xfer") ? "" :
                ex.getCommandLine().getCommandName() + " ") + "--help' for usage.");
            return ExitCode.USAGE;
        });
        commandLine.setExecutionExceptionHandler((ex, cl, parseResult) ->
        {
            err.println("xfer: internal error: " + ex);
            return ExitCode.INTERNAL;
        });
        return commandLine.execute(args);
    }

    @Override
    public Integer call()
    {
        spec.commandLine().usage(spec.commandLine().getErr());
        return ExitCode.USAGE;
    }

    private static Map<String, Supplier<Object>> subcommands()
    {
        final Map<String, Supplier<Object>> commands = new LinkedHashMap<>();
        commands.put("send", Send::new);
        commands.put("get", Get::new);
        commands.put("ping", Ping::new);
        commands.put("pki", PkiCommand::new);
        commands.put("daemon", DaemonCommand::new);
        commands.put("demo", DemoCommand::new);
        commands.put("help", CommandLine.HelpCommand::new);
        return commands;
    }

    /** Prints the software version. */
    static final class VersionProvider implements CommandLine.IVersionProvider
    {
        @Override
        public String[] getVersion()
        {
            return new String[] {"xfer " + Version.VERSION};
        }
    }

    /** Options shared by the commands that talk to an agent. */
    static final class ConnectionOptions
    {
        @Option(names = "--cert", paramLabel = "FILE",
            description = "Client certificate (PEM). Default: $XFER_HOME/client.crt or ~/.xfer/client.crt.")
        Path certificate;

        @Option(names = "--key", paramLabel = "FILE",
            description = "Private key of the client certificate. Default: beside the certificate, client.key.")
        Path privateKey;

        @Option(names = "--ca", paramLabel = "FILE",
            description = "CA certificate that signed the agent's certificate. Default: ~/.xfer/ca.crt.")
        Path ca;

        @Option(names = "--connect-timeout", paramLabel = "DURATION", defaultValue = "10s",
            description = "Connect and handshake timeout (default: ${DEFAULT-VALUE}).")
        String connectTimeout;

        @Option(names = "--idle-timeout", paramLabel = "DURATION", defaultValue = "120s",
            description = "Give up when the peer is silent this long (default: ${DEFAULT-VALUE}).")
        String idleTimeout;

        @Option(names = "--json", description = "One JSON object per line per event, then a summary object.")
        boolean json;

        @Option(names = {"-q", "--quiet"}, description = "Print nothing but errors.")
        boolean quiet;

        @Option(names = {"-v", "--verbose"}, description = "Print every entry as it completes.")
        boolean verbose;

        ClientOptions clientOptions()
        {
            final ClientOptions options = new ClientOptions()
                .home(invocation.home())
                .workingDirectory(invocation.workingDirectory())
                .connectTimeoutNs(Units.parseDurationNs("--connect-timeout", connectTimeout))
                .idleTimeoutNs(Units.parseDurationNs("--idle-timeout", idleTimeout));
            if (certificate != null)
            {
                options.certificate(certificate);
                options.privateKey(privateKey != null ? privateKey :
                    certificate.resolveSibling(certificate.getFileName().toString().replaceAll("\\.(crt|pem)$", "") +
                    ".key"));
            }
            else if (privateKey != null)
            {
                options.privateKey(privateKey);
            }
            if (ca != null)
            {
                options.ca(ca);
            }
            return options;
        }

        Output output(final CommandLine.Model.CommandSpec spec)
        {
            return new Output(stdout, stderr, json, quiet, verbose);
        }
    }

    /** Shared body of send and get: connect, run, report, map the exit code. */
    abstract static class TransferCommand implements Callable<Integer>
    {
        private static final long MAX_RETRY_DELAY_NS = 30_000_000_000L;

        @Mixin
        ConnectionOptions connection;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Option(names = "--overwrite", description = "Replace destination files that differ from the source.")
        boolean overwrite;

        @Option(names = "--chunk-size", paramLabel = "SIZE", defaultValue = "1m",
            description = "Chunk size to ask for; the agent may grant less (default: ${DEFAULT-VALUE}).")
        String chunkSize;

        @Option(names = "--streams", paramLabel = "N", defaultValue = "4",
            description = "Parallel TLS connections to the agent's port (default: ${DEFAULT-VALUE}).")
        int streams;

        @Option(names = "--compress", paramLabel = "MODE", defaultValue = "auto",
            description = "LZ4 per chunk: auto (compress what shrinks, back off on what does not), lz4 (try every " +
                "chunk), none (default: ${DEFAULT-VALUE}).")
        String compress;

        @Option(names = "--window", paramLabel = "SIZE", defaultValue = "16m",
            description = "Unacknowledged bytes per stream when sending; size it for the bandwidth-delay " +
                "product divided by --streams (default: ${DEFAULT-VALUE}).")
        String window;

        @Option(names = "--bandwidth", paramLabel = "RATE",
            description = "The link's rate (200mbit, 10gbit, or 100m for 100 MiB/s): the round trip is measured " +
                "at the handshake and the window and socket buffers are sized for the bandwidth-delay product; " +
                "what still limits the transfer is reported.")
        String bandwidth;

        @Option(names = "--socket-buffer", paramLabel = "SIZE", defaultValue = "0",
            description = "SO_SNDBUF/SO_RCVBUF per connection; 0 leaves them to the kernel (default: " +
                "${DEFAULT-VALUE}).")
        String socketBuffer;

        @Option(names = "--restart",
            description = "Discard what an earlier, interrupted run of this same command left (checkpoints and " +
                "partial files) and start over.")
        boolean restart;

        @Option(names = "--atomic",
            description = "Stage the transfer at the receiver and publish it only once every entry arrived: " +
                "readers never see half a dataset. Top-level names must not exist at the destination yet.")
        boolean atomic;

        @Option(names = "--plaintext",
            description = "Data connections without TLS, sent from files with sendfile, where the agent allows it " +
                "(plaintext_data); the control connection stays TLS. The data can be read on the network: for " +
                "trusted networks only, best with --digest sha256.")
        boolean plaintext;

        @Option(names = "--no-inline",
            description = "Never send a small file's content with its entry ahead of the receiver's verdict; by " +
                "default files of up to 16 KiB go that way, and the sender holds back while the receiver skips them.")
        boolean noInline;

        @Option(names = "--digest", paramLabel = "MODE", defaultValue = "chunk",
            description = "Whole-file check: chunk (SHA-256 over the chunk checksums) or sha256 (SHA-256 of the " +
                "content, checked against the file as written and reported per file, for audit) (default: " +
                "${DEFAULT-VALUE}).")
        String digest;

        @Option(names = "--retries", paramLabel = "N", defaultValue = "3",
            description = "When the connection is lost or times out, run the transfer again up to N times; each " +
                "attempt resumes from the receiver's checkpoints (default: ${DEFAULT-VALUE}).")
        int retries;

        @Option(names = "--retry-delay", paramLabel = "DURATION", defaultValue = "1s",
            description = "Wait before the first retry; doubles per attempt, at most 30s (default: ${DEFAULT-VALUE}).")
        String retryDelay;

        @Option(names = "--reconnects", paramLabel = "N", defaultValue = "5",
            description = "Open a lost data connection again up to N times within the transfer (default: " +
                "${DEFAULT-VALUE}).")
        int reconnects;

        @Option(names = "--reconnect-delay", paramLabel = "DURATION", defaultValue = "1s",
            description = "Wait before opening a lost data connection again; doubles per attempt, at most 30s " +
                "(default: ${DEFAULT-VALUE}).")
        String reconnectDelay;

        @Option(names = "--no-resume",
            description = "Keep no checkpoints: an interrupted transfer starts over next time.")
        boolean noResume;

        @Option(names = "--histogram-dir", paramLabel = "DIR",
            description = "Write HdrHistogram .hgrm and .hlog files of the latencies measured into DIR.")
        Path histogramDir;

        abstract String operation();

        abstract String endpointText();

        abstract TransferReport transfer(XferClient client, Output output) throws InterruptedException;

        /** Longest a signal's report may take before the process ends anyway. */
        private static final long SIGNAL_REPORT_MS = 1_000;

        /**
         * Run the transfer; when the connection is lost or times out, wait and run it again (resuming), with a
         * doubling delay, at most {@code --retries} times.
         */
        private TransferReport transferWithRetries(
            final XferClient client, final ClientOptions options, final Output output) throws InterruptedException
        {
            if (retries < 0)
            {
                throw new IllegalArgumentException("--retries must not be negative");
            }
            long delayNs = Units.parseDurationNs("--retry-delay", retryDelay);
            for (int attempt = 1; ; attempt++)
            {
                try
                {
                    return transfer(client, output);
                }
                catch (final TransferException ex)
                {
                    if (attempt > retries || !retriable(ex))
                    {
                        throw ex;
                    }
                    output.retry(attempt, retries, delayNs, ex.getMessage());
                    // --restart applies to the first attempt; a retry resumes what the attempts before it saved
                    options.restart(false);
                    TimeUnit.NANOSECONDS.sleep(delayNs);
                    delayNs = Math.min(MAX_RETRY_DELAY_NS, delayNs * 2);
                }
            }
        }

        /**
         * Say so when a signal ends the invoking process in the middle of a transfer, which would otherwise end
         * without a word (exit status 130 on Ctrl-C), and whether the same command resumes. The transfer's threads
         * are not stopped first: what a peer and the checkpoints see is the same as for a killed process, which both
         * sides are built to resume from (in the client daemon, the command's thread is interrupted once the report
         * is out). Bounded, so that a report blocked on a full output pipe cannot keep the process from ending.
         */
        private static Object onSignal(final Output output, final boolean resume)
        {
            final String message = "interrupted by a signal during the transfer; " + (resume ?
                "what arrived is checkpointed: run the same command again to resume" :
                "with --no-resume nothing was kept: the next run starts over");
            return invocation.onInterrupt(() ->
            {
                final Thread report = new Thread(() -> output.interrupted(message), "xfer-interrupted-report");
                report.setDaemon(true);
                report.start();
                try
                {
                    report.join(SIGNAL_REPORT_MS);
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                }
            });
        }

        private static boolean parseDigest(final String mode)
        {
            switch (mode.toLowerCase(Locale.ROOT))
            {
                case "chunk": return false;
                case "sha256": return true;
                default: throw new IllegalArgumentException("--digest must be chunk or sha256, was '" + mode + "'");
            }
        }

        private static boolean retriable(final TransferException ex)
        {
            if (ex.errorCode() == null)
            {
                return !ExitCodes.isTls(ex);
            }
            // LIMIT_EXCEEDED: the agent is full, or still holds the journal of the attempt that just died
            return ex.errorCode() == ErrorCode.TIMEOUT || ex.errorCode() == ErrorCode.SHUTTING_DOWN ||
                ex.errorCode() == ErrorCode.LIMIT_EXCEEDED;
        }

        @Override
        public Integer call()
        {
            try (Output output = connection.output(spec))
            {
                return call(output);
            }
        }

        private Integer call(final Output output)
        {
            final ClientOptions options;
            try
            {
                if (histogramDir != null && histogramDir.toString().isEmpty())
                {
                    throw new IllegalArgumentException("--histogram-dir: give a directory (an empty one would be " +
                        "the current directory)");
                }
                options = connection.clientOptions()
                    .overwrite(overwrite)
                    .chunkLength((int)Math.min(Integer.MAX_VALUE, Units.parseSize("--chunk-size", chunkSize)))
                    .streams(streams)
                    .resume(!noResume)
                    .maxReconnects(Math.max(0, reconnects))
                    .reconnectDelayNs(Units.parseDurationNs("--reconnect-delay", reconnectDelay))
                    .atomic(atomic)
                    .plaintextData(plaintext)
                    .inlineData(!noInline)
                    .intervalLog(histogramDir != null)
                    .sha256Digests(parseDigest(digest))
                    .restart(restart)
                    .compression(Compression.parse(compress))
                    .windowBytes(Math.max(1, Units.parseSize("--window", window)))
                    .socketBufferBytes((int)Math.min(Integer.MAX_VALUE, Units.parseSize("--socket-buffer",
                        socketBuffer)))
                    .bandwidthBytesPerSecond(bandwidth == null ? 0 : Units.parseRate("--bandwidth", bandwidth));
            }
            catch (final ConfigurationException | IllegalArgumentException ex)
            {
                output.error(ex.getMessage(), "USAGE", ExitCode.USAGE);
                return ExitCode.USAGE;
            }
            try (XferClient client = new XferClient(options))
            {
                final HeapAllocation heap = HeapAllocation.start();
                final TransferReport report;
                final Object onSignal = onSignal(output, options.resume());
                try
                {
                    report = transferWithRetries(client, options, output);
                }
                finally
                {
                    invocation.forget(onSignal);
                }
                final long heapBytes = heap.allocatedBytes();
                final int exitCode = ExitCodes.of(report);
                if (histogramDir != null)
                {
                    try
                    {
                        report.writeHistograms(histogramDir, operation() + "-");
                    }
                    catch (final IOException ex)
                    {
                        output.error("cannot write histograms to " + histogramDir + ": " + ex.getMessage(), "IO",
                            ExitCode.IO);
                    }
                }
                output.summary(operation(), endpointText(), report, exitCode, heapBytes,
                    new Output.Engine(client.transportName(), TlsContexts.providerName()));
                return exitCode;
            }
            catch (final IllegalArgumentException ex)
            {
                output.error(ex.getMessage(), "USAGE", ExitCode.USAGE);
                return ExitCode.USAGE;
            }
            catch (final IOException ex)
            {
                output.error("cannot use TLS files: " + ex.getMessage() + " (see 'xfer pki --help')", "CONFIG",
                    ExitCode.CONFIG);
                return ExitCode.CONFIG;
            }
            catch (final TransferException ex)
            {
                return output.failure(ex);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                output.error("interrupted", "INTERRUPTED", ExitCode.INTERNAL);
                return ExitCode.INTERNAL;
            }
        }
    }

    @Command(name = "send", mixinStandardHelpOptions = true,
        description = {
            "Send files and directory trees to an agent's module.",
            "SRC/ (trailing slash) sends the directory's contents; SRC sends the entry under its own name.",
            "Existing identical files (same size and mtime) are skipped, so re-running resumes."})
    static final class Send extends TransferCommand
    {
        @Parameters(arity = "2..*", paramLabel = "SRC... DEST",
            description = "Sources, then the destination xfer://HOST[:PORT]/MODULE/PATH or HOST:/MODULE/PATH.")
        List<String> arguments = new ArrayList<>();

        @Override
        String operation()
        {
            return "send";
        }

        @Override
        String endpointText()
        {
            return arguments.get(arguments.size() - 1);
        }

        @Override
        TransferReport transfer(final XferClient client, final Output output) throws InterruptedException
        {
            final Endpoint endpoint = Endpoint.parse(endpointText());
            return client.push(endpoint, arguments.subList(0, arguments.size() - 1), output);
        }
    }

    @Command(name = "get", mixinStandardHelpOptions = true,
        description = {
            "Fetch a file or tree from an agent's module into a local directory.",
            "PATH/ (trailing slash) or the module root fetches the contents; PATH fetches the entry itself."})
    static final class Get extends TransferCommand
    {
        @Parameters(index = "0", paramLabel = "SOURCE", description = "xfer://HOST[:PORT]/MODULE/PATH")
        String source;

        @Parameters(index = "1", paramLabel = "DEST", description = "Local directory (created when missing).")
        String destination;

        @Override
        String operation()
        {
            return "get";
        }

        @Override
        String endpointText()
        {
            return source;
        }

        @Override
        TransferReport transfer(final XferClient client, final Output output) throws InterruptedException
        {
            return client.pull(Endpoint.parse(source), Path.of(destination), output);
        }
    }

    @Command(name = "ping", mixinStandardHelpOptions = true,
        description = "Check the TLS handshake with an agent and measure round-trip times.")
    static final class Ping implements Callable<Integer>
    {
        @Mixin
        ConnectionOptions connection;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(index = "0", paramLabel = "HOST[:PORT]", description = "The agent.")
        String target;

        @Option(names = {"-c", "--count"}, defaultValue = "4", description = "Round trips (default: ${DEFAULT-VALUE}).")
        int count;

        @Option(names = {"-i", "--interval"}, defaultValue = "200ms",
            description = "Time between round trips (default: ${DEFAULT-VALUE}).")
        String interval;

        @Override
        public Integer call()
        {
            final Output output = connection.output(spec);
            try (XferClient client = new XferClient(connection.clientOptions()))
            {
                if (count < 1)
                {
                    throw new IllegalArgumentException("--count must be at least 1");
                }
                final Endpoint endpoint = Endpoint.parseHost(target);
                final PingReport report = client.ping(endpoint, count, Units.parseDurationNs("--interval", interval));
                printPing(endpoint, report, output);
                return ExitCode.OK;
            }
            catch (final IllegalArgumentException | ConfigurationException ex)
            {
                output.error(ex.getMessage(), "USAGE", ExitCode.USAGE);
                return ExitCode.USAGE;
            }
            catch (final IOException ex)
            {
                output.error("cannot use TLS files: " + ex.getMessage(), "CONFIG", ExitCode.CONFIG);
                return ExitCode.CONFIG;
            }
            catch (final TransferException ex)
            {
                return output.failure(ex);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                return ExitCode.INTERNAL;
            }
        }

        private void printPing(final Endpoint endpoint, final PingReport report, final Output output)
        {
            final long[] rtts = report.roundTripsNs().clone();
            java.util.Arrays.sort(rtts);
            long sum = 0;
            for (final long rtt : rtts)
            {
                sum += rtt;
            }
            final double avgUs = sum / 1e3 / rtts.length;
            if (output.json())
            {
                final StringBuilder array = new StringBuilder("[");
                for (int i = 0; i < report.roundTripsNs().length; i++)
                {
                    array.append(i == 0 ? "" : ",").append(String.format(Locale.ROOT, "%.1f",
                        report.roundTripsNs()[i] / 1e3));
                }
                output.raw(new Json().field("event", "ping").field("endpoint", endpoint.host() + ":" +
                    endpoint.port()).field("software", report.software()).field("protocol", report.version())
                    .field("connect_ms", report.connectNs() / 1e6).raw("rtt_us", array.append(']').toString())
                    .field("min_us", rtts[0] / 1e3).field("avg_us", avgUs).field("max_us", rtts[rtts.length - 1] / 1e3)
                    .field("exit_code", ExitCode.OK).toString());
                return;
            }
            output.info(String.format(Locale.ROOT, "%s:%d: %s, protocol %d, connect+TLS+handshake %.1f ms",
                endpoint.host(), endpoint.port(), report.software(), report.version(), report.connectNs() / 1e6));
            for (int i = 0; i < report.roundTripsNs().length; i++)
            {
                output.info(String.format(Locale.ROOT, "pong %d: %.1f us", i, report.roundTripsNs()[i] / 1e3));
            }
            output.info(String.format(Locale.ROOT, "rtt min/avg/max = %.1f/%.1f/%.1f us", rtts[0] / 1e3, avgUs,
                rtts[rtts.length - 1] / 1e3));
        }
    }
}
