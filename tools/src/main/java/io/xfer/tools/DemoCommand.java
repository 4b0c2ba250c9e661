package io.xfer.tools;

import io.xfer.agent.client.ClientOptions;
import io.xfer.agent.client.Endpoint;
import io.xfer.agent.client.XferClient;
import io.xfer.agent.config.AgentConfig;
import io.xfer.agent.engine.TransferException;
import io.xfer.agent.engine.TransferListener;
import io.xfer.agent.engine.TransferReport;
import io.xfer.agent.net.AgentServer;
import io.xfer.agent.storage.FileMetadata;
import io.xfer.agent.storage.TreeComparison;
import io.xfer.agent.tls.CertificateAuthority;
import io.xfer.agent.tls.IssuedCertificate;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/**
 * {@code xfer demo}: a throwaway CA, an agent on loopback in this process, a generated mixed dataset sent to it
 * and fetched back over mutual TLS, and a byte-for-byte comparison of the round trip.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "Run an agent on loopback with a throwaway CA, send a generated dataset, fetch it back, verify.")
public final class DemoCommand implements Callable<Integer>
{
    @Option(names = "--dir", paramLabel = "DIR", description = "Work directory (default: a new temporary one).")
    Path dir;

    @Option(names = "--keep", description = "Keep the work directory afterwards.")
    boolean keep;

    @Option(names = "--files", defaultValue = "2000", description = "Small files to generate (default: ${DEFAULT-VALUE}).")
    int smallFiles;

    @Option(names = "--large-size", defaultValue = "256m", paramLabel = "SIZE",
        description = "Size of the large file (default: ${DEFAULT-VALUE}).")
    String largeSize;

    @Override
    public Integer call() throws Exception
    {
        final PrintStream out = XferCli.stdout();
        final boolean temporary = dir == null;
        final Path work = temporary ? Files.createTempDirectory("xfer-demo-") : Files.createDirectories(dir);
        try
        {
            return run(work, out);
        }
        finally
        {
            if (temporary && !keep)
            {
                deleteTree(work);
            }
            else
            {
                out.println("work directory kept: " + work);
            }
        }
    }

    private int run(final Path work, final PrintStream out) throws Exception
    {
        out.println("xfer demo in " + work);
        final Path pki = work.resolve("pki");
        final CertificateAuthority ca = CertificateAuthority.create("xfer demo CA", Duration.ofDays(1));
        ca.writeTo(pki);
        final IssuedCertificate agentCert = ca.issue("localhost", List.of("localhost"), List.of("127.0.0.1"),
            CertificateAuthority.Usage.SERVER, Duration.ofDays(1));
        agentCert.writeTo(pki.resolve("agent.crt"), pki.resolve("agent.key"));
        final IssuedCertificate clientCert = ca.issue("demo-client", List.of(), List.of(),
            CertificateAuthority.Usage.CLIENT, Duration.ofDays(1));
        clientCert.writeTo(pki.resolve("client.crt"), pki.resolve("client.key"));
        out.println("1. CA, agent and client certificates in " + pki);

        final Path moduleRoot = Files.createDirectories(work.resolve("agent-root"));
        final AgentConfig config = new AgentConfig()
            .listen("127.0.0.1:0")
            .certificate(pki.resolve("agent.crt"))
            .privateKey(pki.resolve("agent.key"))
            .ca(pki.resolve("ca.crt"))
            .addModule("demo", moduleRoot, "demo module", Set.of("demo-client"), Set.of("demo-client"))
            .conclude();

        final Path source = work.resolve("source/dataset");
        final long[] generated = generateDataset(source, smallFiles,
            io.xfer.agent.config.Units.parseSize("--large-size", largeSize));
        out.println(String.format(Locale.ROOT, "2. dataset %s: %d entries, %s", source, generated[0],
            Output.bytes(generated[1])));

        try (AgentServer server = new AgentServer(config))
        {
            final InetSocketAddress address = server.start();
            final String base = "xfer://localhost:" + address.getPort() + "/demo";
            out.println("3. agent listening on " + address + ", module demo -> " + moduleRoot);

            final ClientOptions options = new ClientOptions()
                .certificate(pki.resolve("client.crt"))
                .privateKey(pki.resolve("client.key"))
                .ca(pki.resolve("ca.crt"));
            try (XferClient client = new XferClient(options))
            {
                final TransferReport sent = client.push(Endpoint.parse(base + "/incoming"),
                    List.of(source.toString()), TransferListener.NONE);
                out.println("4. send  " + describe(sent));
                final Path fetched = work.resolve("fetched");
                final TransferReport got = client.pull(Endpoint.parse(base + "/incoming/dataset"), fetched,
                    TransferListener.NONE);
                out.println("5. get   " + describe(got));
                final TransferReport again = client.push(Endpoint.parse(base + "/incoming"),
                    List.of(source.toString()), TransferListener.NONE);
                out.println("6. send again (idempotent re-run) " + describe(again));

                final List<String> differences = TreeComparison.differences(source, fetched.resolve("dataset"), 10);
                if (!differences.isEmpty() || !sent.complete() || !got.complete() || again.committed() != 0)
                {
                    out.println("7. VERIFY FAILED: send complete=" + sent.complete() + ", get complete=" +
                        got.complete() + ", re-run committed " + again.committed());
                    differences.forEach(d -> out.println("   " + d));
                    return ExitCode.VERIFICATION;
                }
                out.println("7. verified: the fetched tree is identical to the source " +
                    "(contents, modes, mtimes, symlink targets)");
                return ExitCode.OK;
            }
            catch (final TransferException ex)
            {
                out.println("demo failed: " + ex.getMessage());
                return ExitCodes.of(ex);
            }
        }
    }

    private static String describe(final TransferReport report)
    {
        return String.format(Locale.ROOT, "%d committed, %d skipped, %s in %.2f s = %.1f MB/s",
            report.committed(), report.skipped(), Output.bytes(report.bytes()), report.durationNs() / 1e9,
            report.bytesPerSecond() / 1e6);
    }

    /**
     * @return {entries, bytes}.
     */
    static long[] generateDataset(final Path root, final int smallFiles, final long largeSize) throws IOException
    {
        final Random random = new Random(42);
        long entries = 0;
        long bytes = 0;
        Files.createDirectories(root);
        final byte[] small = new byte[4096];
        for (int i = 0; i < smallFiles; i++)
        {
            final Path directory = root.resolve(String.format(Locale.ROOT, "small/d%02d/e%d", i % 20, i % 3));
            Files.createDirectories(directory);
            random.nextBytes(small);
            Files.write(directory.resolve("f" + i + ".bin"), small);
            entries++;
            bytes += small.length;
        }
        final Path unicode = Files.createDirectories(root.resolve("ünïcødé/日本語"));
        Files.writeString(unicode.resolve("données-€.txt"), "Grüße aus Hongkong 香港 → Fujian 福建\n",
            StandardCharsets.UTF_8);
        Files.createFile(root.resolve("empty.dat"));
        Files.createDirectories(root.resolve("empty-dir"));
        final Path script = root.resolve("run.sh");
        Files.writeString(script, "#!/bin/sh\necho hello\n");
        FileMetadata.writeMode(script, 0750);
        final Path readOnly = root.resolve("read-only.txt");
        Files.writeString(readOnly, "do not change\n");
        FileMetadata.writeMode(readOnly, 0444);
        Files.createSymbolicLink(root.resolve("link-to-unicode"), Path.of("ünïcødé/日本語/données-€.txt"));
        Files.createSymbolicLink(root.resolve("dangling-link"), Path.of("does/not/exist"));
        entries += 7;

        final Path large = root.resolve("large.bin");
        try (OutputStream stream = Files.newOutputStream(large))
        {
            final byte[] block = new byte[1 << 20];
            long written = 0;
            while (written < largeSize)
            {
                random.nextBytes(block);
                final int n = (int)Math.min(block.length, largeSize - written);
                stream.write(block, 0, n);
                written += n;
            }
        }
        entries++;
        bytes += largeSize;
        FileMetadata.writeMtime(large, 1_600_000_000_123_456_789L);
        return new long[] {entries, bytes};
    }

    static void deleteTree(final Path root) throws IOException
    {
        if (!Files.exists(root))
        {
            return;
        }
        try (Stream<Path> walk = Files.walk(root))
        {
            for (final Path path : walk.sorted(Comparator.reverseOrder()).toList())
            {
                Files.deleteIfExists(path);
            }
        }
    }
}
