package io.xfer.tools;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * An xfer-agent (or any main class of the project) as a real separate JVM, as systemd would run it: so a test can
 * kill it with SIGKILL.
 */
final class AgentProcess implements AutoCloseable
{
    private final Process process;
    private final Path log;

    private AgentProcess(final Process process, final Path log)
    {
        this.process = process;
        this.log = log;
    }

    /**
     * Start {@code xfer-agent --config CONFIG} and wait until it accepts connections on {@code port}.
     */
    static AgentProcess startAgent(final Path config, final int port, final Path log)
        throws IOException, InterruptedException
    {
        final AgentProcess agent = new AgentProcess(java(log, "io.xfer.agent.XferAgent", "--config",
            config.toString()), log);
        try
        {
            awaitListening(agent.process, port, log);
        }
        catch (final AssertionError | InterruptedException ex)
        {
            agent.kill();
            throw ex;
        }
        return agent;
    }

    /**
     * Wait, at most 30 s, until {@code process} (an agent, however started) accepts connections on {@code port}
     * of the loopback address; fail with its log if it exits or does not listen.
     */
    static void awaitListening(final Process process, final int port, final Path log)
        throws IOException, InterruptedException
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() - deadlineNs < 0)
        {
            if (!process.isAlive())
            {
                fail("agent exited with " + process.exitValue() + ": " + Files.readString(log));
            }
            try (Socket socket = new Socket())
            {
                socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 200);
                return;
            }
            catch (final IOException notYet)
            {
                Thread.sleep(50);
            }
        }
        fail("agent did not listen on " + port + ": " + Files.readString(log));
    }

    /** Start the xfer command line as a separate JVM. */
    static AgentProcess startCli(final Path log, final String... args) throws IOException
    {
        final String[] all = new String[args.length + 1];
        all[0] = "io.xfer.tools.XferCli";
        System.arraycopy(args, 0, all, 1, args.length);
        return new AgentProcess(java(log, all), log);
    }

    /** Start {@code mainClass} of the project as a separate JVM with {@code env} added to its environment. */
    static AgentProcess start(final Path log, final java.util.Map<String, String> env, final String mainClass,
        final String... args) throws IOException
    {
        final String[] all = new String[args.length + 1];
        all[0] = mainClass;
        System.arraycopy(args, 0, all, 1, args.length);
        return new AgentProcess(java(log, env, all), log);
    }

    private static Process java(final Path log, final String... mainAndArgs) throws IOException
    {
        return java(log, java.util.Map.of(), mainAndArgs);
    }

    private static Process java(final Path log, final java.util.Map<String, String> env,
        final String... mainAndArgs) throws IOException
    {
        final String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        final List<String> command = new java.util.ArrayList<>(List.of(java, "-Xmx256m",
            "-XX:MaxDirectMemorySize=256m", "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
            "-cp", System.getProperty("java.class.path")));
        command.addAll(List.of(mainAndArgs));
        final ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
            .redirectOutput(log.toFile());
        builder.environment().putAll(env);
        return builder.start();
    }

    /** Send signal {@code name} (INT, TERM, ...) with kill(1). */
    void signal(final String name) throws IOException, InterruptedException
    {
        final Process kill = new ProcessBuilder("kill", "-s", name, Long.toString(process.pid())).inheritIO().start();
        if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0)
        {
            fail("kill -s " + name + " " + process.pid() + " failed");
        }
    }

    boolean isAlive()
    {
        return process.isAlive();
    }

    /** SIGKILL, and wait for the process to be gone. */
    void kill() throws InterruptedException
    {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    int waitFor(final long seconds) throws InterruptedException
    {
        if (!process.waitFor(seconds, TimeUnit.SECONDS))
        {
            kill();
            return -1;
        }
        return process.exitValue();
    }

    String log() throws IOException
    {
        return Files.readString(log);
    }

    /**
     * A CA in {@code dir}, with an agent certificate for localhost and a client certificate for alice, made by the
     * command line's own {@code xfer pki}.
     */
    static void writePki(final Path dir)
    {
        assertEquals(ExitCode.OK, XferCli.run(new String[] {"pki", "init", dir.toString()}, System.out, System.err));
        assertEquals(ExitCode.OK, XferCli.run(new String[] {"pki", "issue", "--ca", dir.toString(), "--server",
            "localhost"}, System.out, System.err));
        assertEquals(ExitCode.OK, XferCli.run(new String[] {"pki", "issue", "--ca", dir.toString(), "--client",
            "alice"}, System.out, System.err));
    }

    static int freePort() throws IOException
    {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress()))
        {
            return socket.getLocalPort();
        }
    }

    /** Stop a process started elsewhere (a launcher script that execs the JVM): SIGTERM, then SIGKILL after 10 s. */
    static void stop(final Process process) throws InterruptedException
    {
        if (process != null)
        {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS))
            {
                process.destroyForcibly();
            }
        }
    }

    @Override
    public void close() throws InterruptedException
    {
        if (process.isAlive())
        {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS))
            {
                kill();
            }
        }
    }
}
