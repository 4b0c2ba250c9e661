package io.xfer.agent.net;

import io.xfer.agent.client.ClientOptions;
import io.xfer.agent.client.Endpoint;
import io.xfer.agent.client.XferClient;
import io.xfer.agent.engine.Compression;
import io.xfer.agent.engine.TransferException;
import io.xfer.agent.engine.TransferListener;
import io.xfer.agent.engine.TransferReport;
import io.xfer.agent.storage.TreeComparison;
import io.xfer.protocol.ErrorCode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Files committed (fsync, metadata, final name) on the agent's commit threads while the receiver goes on: every
 * commit is handed off here, whatever the disk's speed, so that the hand-off, the answers coming back out of order
 * and a failure with commits under way are all exercised over real TLS on loopback.
 */
class CommitThreadsTest
{
    private static final String MODULE = "data";
    private static final int CHUNK = 64 * 1024;
    private static final int SMALL_FILES = 3_000;

    @TempDir
    Path work;

    private TestPki pki;
    private TestAgent agent;
    private Path moduleRoot;
    private TestPki.Credentials alice;

    @BeforeEach
    void startAgent() throws Exception
    {
        pki = TestPki.create(work.resolve("pki"));
        alice = pki.client("alice");
        moduleRoot = Files.createDirectories(work.resolve("module"));
        agent = TestAgent.with(pki).module(MODULE, moduleRoot, Set.of("alice"), Set.of("alice"))
            .configure(config -> config.chunkLength(CHUNK).commitThreads(4).slowCommitNs(0))
            .start();
    }

    @AfterEach
    void stopAgent()
    {
        agent.close();
    }

    @Test
    @Timeout(120)
    void shouldCommitATreeOfSmallAndLargeFilesOnCommitThreads() throws Exception
    {
        final Path source = work.resolve("src/tree");
        writeTree(source);

        try (XferClient client = new XferClient(options().streams(4)))
        {
            final TransferReport report = client.push(endpoint(), List.of(source.toString()), TransferListener.NONE);
            assertTrue(report.complete(), report::toString);
            assertEquals(SMALL_FILES + 2, report.committed() - directories(source), report::toString);
        }
        assertEquals(List.of(), TreeComparison.differences(source, moduleRoot.resolve("tree"), 10));
        assertEquals(List.of(), leftovers(moduleRoot), "no temporary or partial file is left");
        assertTrue(Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().startsWith("xfer-commit-")),
            "the agent committed on its commit threads");
    }

    @Test
    @Timeout(120)
    void shouldLeaveOnlyWholeFilesWhenTheControlConnectionDiesWithCommitsUnderWay() throws Exception
    {
        final Path source = work.resolve("src/tree");
        writeTree(source);

        // connection 1 is the control connection: with one stream it carries everything; reset it part-way
        try (CuttingProxy proxy = new CuttingProxy(agent.port(), 1, 4L << 20, false))
        {
            final Endpoint viaProxy = new Endpoint("localhost", proxy.port(), MODULE, "");
            try (XferClient client = new XferClient(options().streams(1).compression(Compression.NONE)))
            {
                final TransferException cut = assertThrows(TransferException.class, () -> client.push(viaProxy,
                    List.of(source.toString()), TransferListener.NONE));
                assertTrue(proxy.didCut(), "the proxy cut the control connection");
                assertTrue(cut.errorCode() == null, "the connection was lost: " + cut.getMessage());
            }

            // whatever is under a final name is whole and identical to its source
            final Path received = moduleRoot.resolve("tree");
            final List<Path> placed = regularFiles(received);
            assertFalse(placed.isEmpty(), "some files were committed before the cut");
            for (final Path file : placed)
            {
                assertEquals(-1L, Files.mismatch(file, source.resolve(received.relativize(file).toString())),
                    file::toString);
            }

            // the next run (same resume key: it waits until the agent has finished with the first, which goes on
            // with what it had received) completes the tree
            try (XferClient client = new XferClient(options().streams(4)))
            {
                final TransferReport report = TestAgent.pushWhenFree(client, viaProxy, source);
                assertTrue(report.complete(), report::toString);
                assertTrue(report.skipped() >= placed.size(), "files committed before the cut are skipped: " +
                    report);
            }
            assertEquals(List.of(), TreeComparison.differences(source, received, 10));
            assertEquals(List.of(), leftovers(moduleRoot), "no temporary or partial file is left");
        }
    }

    /** Small files of 0 to 8 KiB in 30 directories, and two files of several chunks (journaled, resumable). */
    private static void writeTree(final Path source) throws IOException
    {
        final Random random = new Random(42);
        for (int i = 0; i < SMALL_FILES; i++)
        {
            final byte[] content = new byte[random.nextInt(8 * 1024 + 1)];
            random.nextBytes(content);
            final Path file = source.resolve(String.format("d%02d/f%05d", i % 30, i));
            Files.createDirectories(file.getParent());
            Files.write(file, content);
        }
        for (int i = 0; i < 2; i++)
        {
            final byte[] content = new byte[5 * CHUNK + 123 * i];
            random.nextBytes(content);
            Files.write(source.resolve("large" + i + ".bin"), content);
        }
    }

    private static long directories(final Path root) throws IOException
    {
        try (Stream<Path> paths = Files.walk(root))
        {
            return paths.filter(Files::isDirectory).count();
        }
    }

    /**
     * Files under their final names. The agent may still be finishing the failed transfer, deleting temporary
     * files as the walk passes them: walk again then, a bounded number of times.
     */
    private static List<Path> regularFiles(final Path root) throws Exception
    {
        for (int attempt = 0; ; attempt++)
        {
            try (Stream<Path> paths = Files.walk(root))
            {
                return paths.filter(p -> !p.getFileName().toString().startsWith(".xfer-"))
                    .filter(Files::isRegularFile).collect(Collectors.toList());
            }
            catch (final java.io.UncheckedIOException | java.nio.file.NoSuchFileException ex)
            {
                if (attempt >= 20)
                {
                    throw ex;
                }
                Thread.sleep(100);
            }
        }
    }

    /** Temporary and partial files (.xfer-*) anywhere under the module, its state directory aside. */
    private static List<Path> leftovers(final Path root) throws IOException
    {
        try (Stream<Path> paths = Files.walk(root))
        {
            return paths.filter(p -> !root.relativize(p).toString().startsWith(".xfer-state"))
                .filter(p -> p.getFileName().toString().startsWith(".xfer-"))
                .collect(Collectors.toList());
        }
    }

    private ClientOptions options()
    {
        return pki.options(alice).chunkLength(CHUNK);
    }

    private Endpoint endpoint()
    {
        return new Endpoint("localhost", agent.port(), MODULE, "");
    }
}
