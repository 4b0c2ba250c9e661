package io.xfer.tools;

import io.xfer.agent.storage.FileMetadata;
import io.xfer.agent.storage.TreeComparison;
import io.xfer.agent.tls.CertificateAuthority;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The whole product as a user runs it: xfer-agent as a separate JVM with a configuration file and certificates made
 * by {@code xfer pki}, and the {@code xfer} command sending a real tree to it over mutual TLS on loopback and
 * fetching it back; the round trip must be byte-identical, with modes, mtimes and symlink targets.
 */
class AgentProcessEndToEndTest
{
    private static final long LARGE_FILE_BYTES = 256L << 20;

    @TempDir
    Path work;

    private Process agent;

    @AfterEach
    void stopAgent() throws InterruptedException
    {
        AgentProcess.stop(agent);
    }

    @Test
    @Timeout(180)
    void shouldSendTreeToAgentProcessAndGetItBackIdentical() throws Exception
    {
        final Path pki = work.resolve("pki");
        assertEquals(ExitCode.OK, xfer("pki", "init", pki.toString()));
        assertEquals(ExitCode.OK, xfer("pki", "issue", "--ca", pki.toString(), "--server", "localhost"));
        assertEquals(ExitCode.OK, xfer("pki", "issue", "--ca", pki.toString(), "--client", "alice"));
        assertTrue(Files.exists(pki.resolve(CertificateAuthority.CERTIFICATE_FILE_NAME)));

        final Path moduleRoot = Files.createDirectories(work.resolve("srv/ingest"));
        final int port = AgentProcess.freePort();
        final Path config = work.resolve("xfer-agent.conf");
        Files.writeString(config, String.join("\n",
            "[agent]",
            "listen = 127.0.0.1:" + port,
            "certificate = pki/localhost.crt",
            "private_key = pki/localhost.key",
            "ca = pki/ca.crt",
            "",
            "[module ingest]",
            "path = " + moduleRoot,
            "read = alice",
            "write = alice",
            ""));
        startAgent(config, port);

        final Path source = work.resolve("src/dataset");
        buildTree(source);

        final String[] tls = {"--cert", pki.resolve("alice.crt").toString(), "--key",
            pki.resolve("alice.key").toString(), "--ca", pki.resolve("ca.crt").toString()};
        final String base = "xfer://localhost:" + port + "/ingest";

        final ByteArrayOutputStream sendOut = new ByteArrayOutputStream();
        assertEquals(ExitCode.OK, xfer(sendOut, concat(new String[] {"send", "--json"}, tls,
            new String[] {source.toString(), base + "/incoming"})), sendOut::toString);
        final List<String> lines = sendOut.toString(StandardCharsets.UTF_8).lines().toList();
        final String summary = lines.get(lines.size() - 1);
        assertTrue(summary.contains("\"event\":\"summary\"") && summary.contains("\"exit_code\":0"), summary);

        assertEquals(List.of(), TreeComparison.differences(source, moduleRoot.resolve("incoming/dataset"), 20));
        assertNoTemporaryFiles(moduleRoot);

        final Path fetched = work.resolve("fetched");
        assertEquals(ExitCode.OK, xfer(concat(new String[] {"get", "--quiet"}, tls,
            new String[] {base + "/incoming/dataset", fetched.toString()})));
        assertEquals(List.of(), TreeComparison.differences(source, fetched.resolve("dataset"), 20));

        // the same command again: everything is skipped, nothing is rewritten
        final ByteArrayOutputStream again = new ByteArrayOutputStream();
        assertEquals(ExitCode.OK, xfer(again, concat(new String[] {"send", "--json"}, tls,
            new String[] {source.toString(), base + "/incoming"})));
        final String againSummary = again.toString(StandardCharsets.UTF_8).lines().reduce((a, b) -> b).orElse("");
        assertTrue(againSummary.contains("\"committed\":0") && againSummary.contains("\"bytes\":0"), againSummary);

        assertTrue(agent.isAlive(), "agent still running");
    }

    private void startAgent(final Path config, final int port) throws IOException, InterruptedException
    {
        final String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        final ProcessBuilder builder = new ProcessBuilder(java, "-Xmx256m", "-XX:MaxDirectMemorySize=256m",
            "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
            "-cp", System.getProperty("java.class.path"), "io.xfer.agent.XferAgent", "--config", config.toString())
            .redirectErrorStream(true)
            .redirectOutput(work.resolve("agent.log").toFile());
        agent = builder.start();
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() - deadlineNs < 0)
        {
            if (!agent.isAlive())
            {
                fail("agent exited with " + agent.exitValue() + ": " + Files.readString(work.resolve("agent.log")));
            }
            try (Socket socket = new Socket())
            {
                socket.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return;
            }
            catch (final IOException notYet)
            {
                Thread.sleep(100);
            }
        }
        fail("agent did not listen on " + port + ": " + Files.readString(work.resolve("agent.log")));
    }

    private static void buildTree(final Path root) throws IOException
    {
        final Random random = new Random(7);
        Files.createDirectories(root.resolve("a/b/c/d"));
        Files.createDirectories(root.resolve("empty-dir"));
        for (int i = 0; i < 300; i++)
        {
            final byte[] bytes = new byte[random.nextInt(20_000)];
            random.nextBytes(bytes);
            Files.write(root.resolve(i % 2 == 0 ? "a/b" : "a/b/c/d").resolve("file-" + i), bytes);
        }
        Files.createFile(root.resolve("empty.txt"));
        Files.createFile(root.resolve("a/b/c/empty-too"));
        final Path unicode = Files.createDirectories(root.resolve("香港/福建 données"));
        Files.writeString(unicode.resolve("ñandú ☃ 🚀.txt"), "unicode content ✓\n");
        Files.createSymbolicLink(root.resolve("relative-link"), Path.of("a/b/file-0"));
        Files.createSymbolicLink(root.resolve("absolute-link"), Path.of("/etc/hostname"));
        Files.createSymbolicLink(root.resolve("a/dangling"), Path.of("../nowhere"));
        final Path executable = root.resolve("a/run.sh");
        Files.writeString(executable, "#!/bin/sh\nexit 0\n");
        FileMetadata.writeMode(executable, 0755);
        FileMetadata.writeMode(root.resolve("a/b/c"), 0700);
        final Path readOnly = root.resolve("a/readonly.txt");
        Files.writeString(readOnly, "read only\n");
        FileMetadata.writeMode(readOnly, 0400);

        final Path large = root.resolve("large.bin");
        try (OutputStream out = Files.newOutputStream(large))
        {
            final byte[] block = new byte[1 << 20];
            for (long written = 0; written < LARGE_FILE_BYTES; written += block.length)
            {
                random.nextBytes(block);
                out.write(block);
            }
        }
        // one byte more than a whole number of chunks, so the last chunk is short
        Files.write(large, new byte[] {42}, java.nio.file.StandardOpenOption.APPEND);
        FileMetadata.writeMtime(large, 1_500_000_000_987_654_321L);
        FileMetadata.writeMtime(root.resolve("a/b"), 1_400_000_000_000_000_000L);
    }

    private static void assertNoTemporaryFiles(final Path root) throws IOException
    {
        try (Stream<Path> walk = Files.walk(root))
        {
            final List<Path> temps = walk.filter(p -> p.getFileName().toString().endsWith(".part")).toList();
            assertFalse(!temps.isEmpty(), "temporary files left: " + temps);
        }
    }

    private static int xfer(final String... args)
    {
        return xfer(new ByteArrayOutputStream(), args);
    }

    private static int xfer(final ByteArrayOutputStream out, final String... args)
    {
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final int exitCode = XferCli.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
        if (exitCode != 0)
        {
            System.err.println("xfer " + String.join(" ", args) + " -> " + exitCode + "\n" + out + err);
        }
        return exitCode;
    }

    private static String[] concat(final String[]... parts)
    {
        final List<String> all = new ArrayList<>();
        for (final String[] part : parts)
        {
            all.addAll(List.of(part));
        }
        return all.toArray(new String[0]);
    }
}
