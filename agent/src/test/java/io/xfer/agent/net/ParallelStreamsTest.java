package io.xfer.agent.net;

import io.xfer.agent.client.ClientOptions;
import io.xfer.agent.client.Endpoint;
import io.xfer.agent.client.XferClient;
import io.xfer.agent.engine.Compression;
import io.xfer.agent.engine.LatencyRecorder;
import io.xfer.agent.engine.TransferException;
import io.xfer.agent.engine.TransferListener;
import io.xfer.agent.engine.TransferReport;
import io.xfer.agent.storage.TreeComparison;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Parallel streams, work stealing, LZ4 and stream failure over real TLS on loopback: data must arrive identical
 * whatever the number of streams, whether chunks are compressed, and when a data connection dies mid-transfer.
 */
class ParallelStreamsTest
{
    private static final String MODULE = "data";
    private static final int CHUNK = 256 * 1024;

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
            .configure(config -> config.streamWindowBytes(2L * CHUNK).chunkLength(CHUNK))
            .start();
    }

    @AfterEach
    void stopAgent()
    {
        agent.close();
    }

    @Test
    @Timeout(60)
    void shouldPushAndPullIdenticalTreeOverEightStreamsWithLz4() throws Exception
    {
        final Path source = work.resolve("src/tree");
        writeRandom(source.resolve("random.bin"), 6 * CHUNK + 17, 1);
        writeText(source.resolve("logs/app.log"), 8 * CHUNK);
        for (int i = 0; i < 50; i++)
        {
            writeRandom(source.resolve("small/f" + i), i * 97, 100 + i);
        }

        try (XferClient client = new XferClient(options().streams(8).compression(Compression.LZ4)))
        {
            final TransferReport pushed = client.push(endpoint(MODULE, "in"), List.of(source.toString()),
                TransferListener.NONE);
            assertTrue(pushed.complete(), pushed::toString);
            assertTrue(pushed.wireBytes() < pushed.bytes(), "text compresses: " + pushed);
            assertEquals(List.of(), TreeComparison.differences(source, moduleRoot.resolve("in/tree"), 10));

            final Path fetched = work.resolve("fetched");
            final TransferReport pulled = client.pull(endpoint(MODULE, "in/tree"), fetched, TransferListener.NONE);
            assertTrue(pulled.complete(), pulled::toString);
            assertTrue(pulled.wireBytes() < pulled.bytes(), "the agent compressed too: " + pulled);
            assertEquals(List.of(), TreeComparison.differences(source, fetched.resolve("tree"), 10));
        }
    }

    @Test
    @Timeout(60)
    void shouldSendIncompressibleDataWithCompressionOn() throws Exception
    {
        final Path file = writeRandom(work.resolve("src/random.bin"), 24 * CHUNK + 5, 7);
        try (XferClient client = new XferClient(options().streams(4).compression(Compression.AUTO)))
        {
            final TransferReport report = client.push(endpoint(MODULE, ""), List.of(file.toString()),
                TransferListener.NONE);
            assertTrue(report.complete(), report::toString);
            // auto backs off: random data goes raw
            assertEquals(report.bytes(), report.wireBytes(), report::toString);
        }
        assertEquals(-1L, Files.mismatch(file, moduleRoot.resolve("random.bin")));
    }

    @Test
    @Timeout(60)
    void autoKeepsCompressingSmallTextFilesBetweenIncompressibleOnes() throws Exception
    {
        // photos and logs side by side, one chunk each: what auto learns from the photos must not stop the logs
        final Path source = work.resolve("src/mixed");
        final long[] sizes = writePhotosAndLogs(source);
        final long randomBytes = sizes[0];
        final long textBytes = sizes[1];
        // as DATA: the per-file history of first chunks (inline content has its own, tested below)
        try (XferClient client = new XferClient(options().streams(2).compression(Compression.AUTO)
            .inlineData(false)))
        {
            final TransferReport report = client.push(endpoint(MODULE, "in"), List.of(source.toString()),
                TransferListener.NONE);
            assertTrue(report.complete(), report::toString);
            assertEquals(300, report.latency().get(LatencyRecorder.Metric.CHUNK_RTT).count(),
                "every file as one DATA chunk: " + report);
            assertEquals(randomBytes + textBytes, report.bytes(), report::toString);
            // every log goes compressed (to about a quarter); a log that went raw would add three quarters of it
            assertTrue(report.wireBytes() < randomBytes + textBytes / 2, report::toString);
        }
        assertEquals(List.of(), TreeComparison.differences(source, moduleRoot.resolve("in/mixed"), 10));
    }

    @Test
    @Timeout(60)
    void smallFilesGoWithTheirEntriesAndASecondRunOverTheUnchangedTreeSendsAlmostNone() throws Exception
    {
        final Path source = work.resolve("src/small");
        final int files = 600;
        for (int i = 0; i < files; i++)
        {
            writeRandom(source.resolve(String.format(Locale.ROOT, "d%02d/f%04d.bin", i % 6, i)), 1 + i * 23, i);
        }
        try (XferClient client = new XferClient(options().streams(2).compression(Compression.AUTO)))
        {
            final TransferReport first = client.push(endpoint(MODULE, "in"), List.of(source.toString()),
                TransferListener.NONE);
            assertTrue(first.complete(), first::toString);
            assertEquals(0, first.checksumRetries(), "every file's content verified as it came: " + first);
            assertEquals(first.bytes(), first.wireBytes(), first::toString);
            final LatencyRecorder.Summary chunks = first.latency().get(LatencyRecorder.Metric.CHUNK_RTT);
            assertTrue(chunks == null || chunks.count() == 0, "no file needed DATA: " + first);
            assertEquals(List.of(), TreeComparison.differences(source, moduleRoot.resolve("in/small"), 10));

            final TransferReport again = client.push(endpoint(MODULE, "in"), List.of(source.toString()),
                TransferListener.NONE);
            assertTrue(again.complete(), again::toString);
            assertEquals(files + 7, again.skipped(), again::toString);
            assertEquals(0, again.bytes(), "nothing was used: " + again);
            // content goes ahead only while the sender learns that the receiver skips: a fraction of the tree
            assertTrue(again.wireBytes() < first.wireBytes() / 4, again + " after " + first);
        }
    }

    @Test
    @Timeout(60)
    void autoCompressesSmallTextFilesThatGoWithTheirEntriesAndLeavesPhotosRaw() throws Exception
    {
        final Path source = work.resolve("src/inline-mixed");
        final long[] sizes = writePhotosAndLogs(source);
        final long randomBytes = sizes[0];
        final long textBytes = sizes[1];
        try (XferClient client = new XferClient(options().streams(2).compression(Compression.AUTO)))
        {
            final TransferReport report = client.push(endpoint(MODULE, "in"), List.of(source.toString()),
                TransferListener.NONE);
            assertTrue(report.complete(), report::toString);
            assertEquals(randomBytes + textBytes, report.bytes(), report::toString);
            final LatencyRecorder.Summary chunks = report.latency().get(LatencyRecorder.Metric.CHUNK_RTT);
            assertTrue(chunks == null || chunks.count() == 0, "every file went with its entry: " + report);
            assertTrue(report.wireBytes() < randomBytes + textBytes / 2, report::toString);
        }
        assertEquals(List.of(), TreeComparison.differences(source, moduleRoot.resolve("in/inline-mixed"), 10));
    }

    @Test
    @Timeout(60)
    void shouldOpenDataConnectionsOnlyWhenAFileNeedsData() throws Exception
    {
        final Path small = work.resolve("src/lazy-small");
        for (int i = 0; i < 40; i++)
        {
            writeRandom(small.resolve("f" + i), 100 + i * 50, 300 + i);
        }
        final Path big = writeRandom(work.resolve("src/lazy-big/big.bin"), 24 * CHUNK + 5, 12);
        try (CuttingProxy proxy = new CuttingProxy(agent.port(), 0, 0, false);
            XferClient client = new XferClient(options().streams(4).compression(Compression.NONE)))
        {
            // every file goes with its entry: the control connection is all it takes
            final TransferReport smallOnly = client.push(new Endpoint("localhost", proxy.port(), MODULE, "lazy"),
                List.of(small.toString()), TransferListener.NONE);
            assertTrue(smallOnly.complete(), smallOnly::toString);
            assertEquals(1, proxy.acceptedConnections(), "no data connection for files that went with entries");

            // a file of several chunks: the three data connections open at its first chunk and carry it
            final TransferReport withData = client.push(new Endpoint("localhost", proxy.port(), MODULE, "lazy"),
                List.of(big.toString()), TransferListener.NONE);
            assertTrue(withData.complete(), withData::toString);
            assertEquals(1 + 4, proxy.acceptedConnections(), "a control connection and three data connections");
        }
        assertEquals(List.of(), TreeComparison.differences(small, moduleRoot.resolve("lazy/lazy-small"), 10));
        assertEquals(-1L, Files.mismatch(big, moduleRoot.resolve("lazy/big.bin")));
    }

    @Test
    @Timeout(60)
    void shouldCloseAtOnceWhileDataConnectionsAreStillJoining() throws Exception
    {
        // a file of several chunks opens the data connections at its first chunk; the proxy holds their TLS
        // handshakes and slows the control connection, so the push is still running, on the control connection
        // alone, when the client is closed
        final Path file = writeRandom(work.resolve("src/joining.bin"), 16 * CHUNK + 1, 21);
        try (CuttingProxy proxy = new CuttingProxy(agent.port(), 0, 0, false).holdUpstreamAfter(1)
            .delayUpstream(20))
        {
            final XferClient client = new XferClient(options().streams(4).compression(Compression.NONE));
            final CompletableFuture<TransferReport> push = CompletableFuture.supplyAsync(() ->
            {
                try
                {
                    return client.push(new Endpoint("localhost", proxy.port(), MODULE, "joining"),
                        List.of(file.toString()), TransferListener.NONE);
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(ex);
                }
            });
            final long closeNs;
            try
            {
                final long deadlineNs = System.nanoTime() + 10_000_000_000L;
                while (proxy.acceptedConnections() < 2 && !push.isDone() && System.nanoTime() - deadlineNs < 0)
                {
                    Thread.sleep(5);
                }
                assertTrue(proxy.acceptedConnections() >= 2 && !push.isDone(),
                    "data connections are joining while the push runs");
            }
            finally
            {
                final long startNs = System.nanoTime();
                client.close();
                closeNs = System.nanoTime() - startNs;
                proxy.releaseHeld();
            }
            // a join waits for its handshake up to the connect timeout (10 s): close must not wait for it
            assertTrue(closeNs < 5_000_000_000L, "close waited " + closeNs / 1_000_000 + " ms for the joins");
            // and the push ends, failed, instead of waiting for connections that are gone
            final ExecutionException ended = assertThrows(ExecutionException.class, () -> push.get(10,
                TimeUnit.SECONDS));
            assertTrue(ended.getCause() instanceof TransferException, ended::toString);
        }
    }

    @Test
    @Timeout(60)
    void shouldCompleteWhenADataConnectionIsCutMidTransfer() throws Exception
    {
        final Path file = writeRandom(work.resolve("src/big.bin"), 512 * CHUNK + 3, 11);
        // connection 1 is the control connection; 2 is the first data connection
        try (CuttingProxy proxy = new CuttingProxy(agent.port(), 2, 3L * CHUNK, false);
            XferClient client = new XferClient(options().streams(4).compression(Compression.NONE)
                .reconnectDelayNs(10_000_000L)))
        {
            final TransferReport report = client.push(new Endpoint("localhost", proxy.port(), MODULE, "cut"),
                List.of(file.toString()), TransferListener.NONE);
            assertTrue(proxy.didCut(), "the proxy cut a data connection");
            assertTrue(report.complete(), report::toString);
            assertTrue(report.resentBytes() > 0, "chunks in flight on the cut stream were sent again: " + report);
            assertTrue(proxy.acceptedConnections() >= 5, "a replacement data connection joined: " +
                proxy.acceptedConnections() + " connections");
        }
        assertEquals(-1L, Files.mismatch(file, moduleRoot.resolve("cut/big.bin")));
    }

    @Test
    @Timeout(60)
    void shouldTimeOutOnAStalledControlConnectionAndResumeOnTheNextRun() throws Exception
    {
        final Path file = writeRandom(work.resolve("src/stalled.bin"), 128 * CHUNK, 19);
        try (CuttingProxy proxy = new CuttingProxy(agent.port(), 1, 8L * CHUNK, false).stall();
            XferClient client = new XferClient(options().streams(1).compression(Compression.NONE)
                .idleTimeoutNs(1_000_000_000L)))
        {
            final io.xfer.agent.engine.TransferException stalled = org.junit.jupiter.api.Assertions.assertThrows(
                io.xfer.agent.engine.TransferException.class, () -> client.push(
                    new Endpoint("localhost", proxy.port(), MODULE, "stall"), List.of(file.toString()),
                    TransferListener.NONE));
            assertTrue(proxy.didCut(), "the proxy froze the connection");
            assertEquals(io.xfer.protocol.ErrorCode.TIMEOUT, stalled.errorCode(), stalled::getMessage);
            assertFalse(Files.exists(moduleRoot.resolve("stall/stalled.bin")), "nothing under the final name");
            // the same command again, this time to the agent's own port: a push's resume key leaves the address
            // out, so it finds the journal the run through the proxy left
            try (XferClient again = new XferClient(options().streams(4)))
            {
                final TransferReport resumed = TestAgent.pushWhenFree(again, new Endpoint("127.0.0.1", agent.port(),
                    MODULE, "stall"), file);
                assertTrue(resumed.complete(), resumed::toString);
                assertTrue(resumed.resumedBytes() > 0, "the next run resumed: " + resumed);
            }
        }
        assertEquals(-1L, Files.mismatch(file, moduleRoot.resolve("stall/stalled.bin")));
    }

    @Test
    @Timeout(60)
    void shouldRemoveTheStageOfAnAtomicTransferWithoutCheckpointsThatFailed() throws Exception
    {
        final Path source = work.resolve("src/atomic");
        writeRandom(source.resolve("a.bin"), 40L * CHUNK, 21);
        writeRandom(source.resolve("b.bin"), 40L * CHUNK, 22);
        // the control connection carries everything with one stream; reset it part-way
        try (CuttingProxy proxy = new CuttingProxy(agent.port(), 1, 16L * CHUNK, false);
            XferClient client = new XferClient(options().streams(1).compression(Compression.NONE).resume(false)
                .atomic(true)))
        {
            org.junit.jupiter.api.Assertions.assertThrows(io.xfer.agent.engine.TransferException.class,
                () -> client.push(new Endpoint("localhost", proxy.port(), MODULE, "dest"),
                    List.of(source.toString()), TransferListener.NONE));
            assertTrue(proxy.didCut(), "the proxy cut the control connection");
        }
        // nothing can resume a stage without checkpoints: the agent removes it once it notices the failure
        final Path destination = moduleRoot.resolve("dest");
        for (int i = 0; i < 100 && !stages(destination).isEmpty(); i++)
        {
            Thread.sleep(100);
        }
        assertEquals(List.of(), stages(destination));
        assertFalse(Files.exists(destination.resolve("atomic")), "nothing was published");
    }

    private static List<Path> stages(final Path directory) throws IOException
    {
        if (!Files.isDirectory(directory))
        {
            return List.of();
        }
        try (java.util.stream.Stream<Path> entries = Files.list(directory))
        {
            return entries.filter(p -> p.getFileName().toString().startsWith(
                io.xfer.agent.storage.CheckpointJournal.STAGE_PREFIX)).collect(java.util.stream.Collectors.toList());
        }
    }

    @Test
    @Timeout(60)
    void shouldCompletePullWhenADataConnectionIsCutMidTransfer() throws Exception
    {
        final Path file = writeRandom(moduleRoot.resolve("out/big.bin"), 64 * CHUNK + 3, 13);
        // on a pull the data flows from the agent to the client
        try (CuttingProxy proxy = new CuttingProxy(agent.port(), 3, 3L * CHUNK, true);
            XferClient client = new XferClient(options().streams(4).compression(Compression.NONE)))
        {
            final Path destination = work.resolve("pulled");
            final TransferReport report = client.pull(new Endpoint("localhost", proxy.port(), MODULE, "out/big.bin"),
                destination, TransferListener.NONE);
            assertTrue(proxy.didCut(), "the proxy cut a data connection");
            assertTrue(report.complete(), report::toString);
            assertEquals(-1L, Files.mismatch(file, destination.resolve("big.bin")));
        }
    }

    @Test
    @Timeout(60)
    void shouldFailAFileWhoseSourceKeepsChangingOnBothSides() throws Exception
    {
        final Path source = work.resolve("src/restless");
        final Path file = writeRandom(source.resolve("restless.bin"), 64L * CHUNK, 23);
        writeRandom(source.resolve("calm.bin"), 3L * CHUNK, 24);
        final java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        final Thread changer = new Thread(() ->
        {
            // a new mtime every 2 ms, for at most 30 s: every attempt to send the file sees it change
            final long deadlineNs = System.nanoTime() + 30_000_000_000L;
            for (long tick = 1; !stop.get() && System.nanoTime() - deadlineNs < 0; tick++)
            {
                try
                {
                    Files.setLastModifiedTime(file, java.nio.file.attribute.FileTime.fromMillis(
                        1_700_000_000_000L + tick * 1000));
                    Thread.sleep(2);
                }
                catch (final IOException ex)
                {
                    return;
                }
                catch (final InterruptedException ex)
                {
                    return;
                }
            }
        });
        final java.util.List<String> audit = new java.util.concurrent.CopyOnWriteArrayList<>();
        final java.util.logging.Logger dispatcherLog = java.util.logging.Logger.getLogger(
            TransferDispatcher.class.getName());
        final java.util.logging.Handler capture = new java.util.logging.Handler()
        {
            @Override
            public void publish(final java.util.logging.LogRecord record)
            {
                audit.add(record.getMessage());
            }

            @Override
            public void flush()
            {
            }

            @Override
            public void close()
            {
            }
        };
        dispatcherLog.addHandler(capture);
        changer.start();
        try (XferClient client = new XferClient(options().streams(2).compression(Compression.NONE)
            .windowBytes(CHUNK).sendBudgetBytes(4L * CHUNK)))
        {
            final TransferReport report = client.push(endpoint(MODULE, "restless"), List.of(source.toString()),
                TransferListener.NONE);
            assertEquals(1, report.failed(), report::toString);
            assertEquals(io.xfer.protocol.ErrorCode.SOURCE_CHANGED, report.firstError(), report::toString);
            assertTrue(report.sourceChanges() >= 1, report::toString);
        }
        finally
        {
            stop.set(true);
            changer.join(10_000);
        }
        assertFalse(Files.exists(moduleRoot.resolve("restless/restless/restless.bin")), "never under its name");
        assertEquals(-1L, Files.mismatch(source.resolve("calm.bin"), moduleRoot.resolve("restless/restless/calm.bin")));
        // the agent's audit line counts the file the sender gave up on as failed too
        for (int i = 0; i < 50 && audit.stream().noneMatch(line -> line.contains("ended with problems")); i++)
        {
            Thread.sleep(100);
        }
        dispatcherLog.removeHandler(capture);
        assertTrue(audit.stream().anyMatch(line -> line.contains("ended with problems") &&
            line.contains(" 1 failed")), audit::toString);
    }

    @Test
    @Timeout(60)
    void shouldSendAFileThatChangesWhileBeingSentAgainFromTheStart() throws Exception
    {
        final long size = 256L * CHUNK;
        final Path file = writeRandom(work.resolve("src/changing.bin"), size, 17);
        final java.util.concurrent.atomic.AtomicBoolean changed = new java.util.concurrent.atomic.AtomicBoolean();
        final Thread changer = new Thread(() ->
        {
            // once the receiver has a quarter, change bytes near the end (the sender has not read them yet)
            final long deadlineNs = System.nanoTime() + 30_000_000_000L;
            while (System.nanoTime() - deadlineNs < 0)
            {
                try (java.util.stream.Stream<Path> parts = Files.walk(moduleRoot))
                {
                    final long received = parts.filter(p -> p.getFileName().toString().endsWith(".part"))
                        .mapToLong(p -> p.toFile().length()).sum();
                    if (received >= size / 4)
                    {
                        try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(file.toFile(), "rw"))
                        {
                            raf.seek(size - 1000);
                            raf.write(new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
                        }
                        Files.setLastModifiedTime(file, java.nio.file.attribute.FileTime.fromMillis(
                            System.currentTimeMillis() + 5000));
                        changed.set(true);
                        return;
                    }
                    Thread.sleep(1);
                }
                catch (final IOException | java.io.UncheckedIOException ex)
                {
                    // a partial file came or went during the walk: look again
                }
                catch (final InterruptedException ex)
                {
                    return;
                }
            }
        });
        changer.start();
        try (XferClient client = new XferClient(options().streams(2).compression(Compression.NONE)
            .windowBytes(CHUNK).sendBudgetBytes(4L * CHUNK)))
        {
            final TransferReport report = client.push(endpoint(MODULE, "changing"), List.of(file.toString()),
                TransferListener.NONE);
            changer.join();
            assertTrue(changed.get(), "the source was changed during the transfer");
            assertTrue(report.complete(), report::toString);
            assertEquals(1, report.sourceChanges(), "the change was noticed and the file sent again: " + report);
        }
        assertEquals(-1L, Files.mismatch(file, moduleRoot.resolve("changing/changing.bin")),
            "the destination holds the new version, not a splice of two");
    }

    @Test
    @Timeout(60)
    void shouldCheckAndReportSha256OfEveryFileBothWays() throws Exception
    {
        final Path source = work.resolve("src/audit");
        final Path big = writeRandom(source.resolve("big.bin"), 10L * CHUNK + 99, 21);
        final Path small = writeRandom(source.resolve("small.bin"), 1234, 22);
        Files.createFile(source.resolve("empty.bin"));
        final java.util.Map<String, String> pushed = new java.util.concurrent.ConcurrentHashMap<>();
        final java.util.Map<String, String> pulled = new java.util.concurrent.ConcurrentHashMap<>();
        try (XferClient client = new XferClient(options().streams(4).sha256Digests(true)))
        {
            final TransferReport up = client.push(endpoint(MODULE, "audit"), List.of(source.toString() + "/"),
                event -> record(event, pushed));
            assertTrue(up.complete(), up::toString);
            final TransferReport down = client.pull(endpoint(MODULE, "audit/"), work.resolve("back"),
                event -> record(event, pulled));
            assertTrue(down.complete(), down::toString);
        }
        for (final String name : List.of("big.bin", "small.bin", "empty.bin"))
        {
            final String expected = java.util.HexFormat.of().formatHex(java.security.MessageDigest
                .getInstance("SHA-256").digest(Files.readAllBytes(source.resolve(name))));
            assertEquals(expected, pushed.get(name), "sender's digest of " + name);
            assertEquals(expected, pulled.get(name), "receiver's digest of " + name + " as written");
        }
        assertEquals(-1L, Files.mismatch(big, work.resolve("back/big.bin")));
        assertEquals(-1L, Files.mismatch(small, work.resolve("back/small.bin")));
    }

    private static void record(final io.xfer.agent.engine.TransferEvent event, final java.util.Map<String, String> into)
    {
        if (event.sha256() != null)
        {
            into.put(event.path(), event.sha256());
        }
    }

    private ClientOptions options()
    {
        return pki.options(alice).chunkLength(CHUNK).windowBytes(2L * CHUNK);
    }

    private Endpoint endpoint(final String module, final String path)
    {
        return new Endpoint("localhost", agent.port(), module, path);
    }

    /**
     * 150 incompressible {@code .JPG} files and 150 logs side by side, one chunk each.
     *
     * @return the bytes of the photos and of the logs
     */
    private static long[] writePhotosAndLogs(final Path source) throws IOException
    {
        long randomBytes = 0;
        long textBytes = 0;
        for (int i = 0; i < 150; i++)
        {
            randomBytes += Files.size(writeRandom(source.resolve(String.format(Locale.ROOT, "f%03d.JPG", i)),
                3000 + i, i));
            final Path log = source.resolve(String.format(Locale.ROOT, "f%03d.log", i));
            writeText(log, 6000 + i);
            textBytes += Files.size(log);
        }
        return new long[] {randomBytes, textBytes};
    }

    private static Path writeRandom(final Path file, final long size, final long seed) throws IOException
    {
        Files.createDirectories(file.getParent());
        final Random random = new Random(seed);
        final byte[] block = new byte[64 * 1024];
        try (OutputStream out = Files.newOutputStream(file))
        {
            for (long written = 0; written < size; written += block.length)
            {
                random.nextBytes(block);
                out.write(block, 0, (int)Math.min(block.length, size - written));
            }
        }
        return file;
    }

    private static void writeText(final Path file, final long size) throws IOException
    {
        Files.createDirectories(file.getParent());
        final Random random = new Random(3);
        final StringBuilder text = new StringBuilder();
        long line = 0;
        while (text.length() < size)
        {
            text.append(String.format(Locale.ROOT, "2026-11-22T08:%02d:%02d.%03d INFO request %d from worker-%d " +
                "took %d ms status 200%n", line / 60 % 60, line % 60, line % 1000, line, random.nextInt(64),
                random.nextInt(500)));
            line++;
        }
        Files.writeString(file, text, StandardCharsets.US_ASCII);
    }
}
