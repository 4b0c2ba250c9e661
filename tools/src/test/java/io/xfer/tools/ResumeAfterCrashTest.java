package io.xfer.tools;

import io.xfer.agent.client.ClientOptions;
import io.xfer.agent.client.Endpoint;
import io.xfer.agent.client.XferClient;
import io.xfer.agent.engine.Compression;
import io.xfer.agent.engine.TransferException;
import io.xfer.agent.engine.TransferListener;
import io.xfer.agent.engine.TransferReport;
import io.xfer.agent.storage.CheckpointJournal;
import io.xfer.protocol.ErrorCode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Fault injection with real processes: the receiving agent or the sending client is killed with SIGKILL in the
 * middle of a multi-stream transfer of 1 GiB; running the same command again resumes from the receiver's checkpoint
 * journal, re-sends little, and the result is byte-identical. No partial file is ever visible under its final name;
 * a chunk damaged on disk in between is caught on resume; a full disk stops the transfer with a clear error, keeps
 * the checkpoints, and the transfer resumes once there is space.
 */
class ResumeAfterCrashTest
{
    private static final long FILE_SIZE = 1L << 30;
    private static final int CHUNK = 1 << 20;

    @TempDir
    Path work;

    private Path pki;
    private Path moduleRoot;
    private Path config;
    private int port;
    private AgentProcess agent;
    private Path mountPoint;

    @BeforeEach
    void setUp() throws Exception
    {
        pki = work.resolve("pki");
        AgentProcess.writePki(pki);
        moduleRoot = Files.createDirectories(work.resolve("module"));
        port = AgentProcess.freePort();
    }

    @AfterEach
    void tearDown() throws Exception
    {
        if (agent != null)
        {
            agent.close();
        }
        if (mountPoint != null)
        {
            new ProcessBuilder("umount", "-l", mountPoint.toString()).inheritIO().start().waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    @Timeout(180)
    void shouldResumeAfterReceivingAgentIsKilledMidTransfer() throws Exception
    {
        final Path source = bigFile(work.resolve("src/big.bin"), FILE_SIZE);
        startAgent(moduleRoot);

        final CompletableFuture<TransferReport> first = CompletableFuture.supplyAsync(() -> push(source, false));
        // a random point between 20% and 80%, printed so a failure can be replayed; -Dxfer.test.killFraction=0.5
        // fixes it
        final long seed = System.nanoTime();
        final double fraction = Double.parseDouble(System.getProperty("xfer.test.killFraction",
            Double.toString(0.2 + 0.6 * new Random(seed).nextDouble())));
        final long killAt = (long)(FILE_SIZE * fraction);
        System.out.println("killing the agent once the receiver holds " + killAt + " bytes (seed " + seed + ")");
        final long heldAtKill = killWhenPartialReaches(moduleRoot, killAt, () -> agent.kill());
        final Throwable failure = assertThrows(Exception.class, () -> first.get(60, TimeUnit.SECONDS));
        assertTrue(failure.getCause() instanceof TransferException, () -> "the client reports the loss: " + failure);
        assertFalse(Files.exists(moduleRoot.resolve("big.bin")), "no partial file under its final name");

        startAgent(moduleRoot);
        final TransferReport second = push(source, false);
        assertTrue(second.complete(), second::toString);
        assertEquals(-1L, Files.mismatch(source, moduleRoot.resolve("big.bin")), "byte-identical");
        assertTrue(second.resumedBytes() > 0, "resumed from the journal: " + second);
        assertTrue(second.bytes() < FILE_SIZE, "did not start over: " + second);
        report("agent killed", heldAtKill, second);
        assertJournalRemoved(moduleRoot);
    }

    @Test
    @Timeout(180)
    void shouldResumeAPullAfterTheSendingAgentIsKilled() throws Exception
    {
        final Path source = bigFile(moduleRoot.resolve("out/big.bin"), FILE_SIZE / 2);
        startAgent(moduleRoot);
        final Path destination = work.resolve("pulled");
        final CompletableFuture<TransferReport> first = CompletableFuture.supplyAsync(() -> pull(destination));
        final long heldAtKill = killWhenPartialReaches(destination, FILE_SIZE / 4, () -> agent.kill());
        assertThrows(Exception.class, () -> first.get(60, TimeUnit.SECONDS));
        assertFalse(Files.exists(destination.resolve("big.bin")), "no partial file under its final name");

        startAgent(moduleRoot);
        final TransferReport second = pull(destination);
        assertTrue(second.complete(), second::toString);
        assertTrue(second.resumedBytes() > 0, "the client's journal resumed the pull: " + second);
        assertEquals(-1L, Files.mismatch(source, destination.resolve("big.bin")));
        report("agent killed during a pull", heldAtKill, second);
        assertJournalRemoved(destination);
    }

    private TransferReport pull(final Path destination)
    {
        try (XferClient client = new XferClient(options(false)))
        {
            return client.pull(new Endpoint("localhost", port, "data", "out/big.bin"), destination,
                TransferListener.NONE);
        }
        catch (final InterruptedException | IOException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    @Test
    @Timeout(180)
    void shouldResumeAfterSendingClientIsKilledAndCatchADamagedChunk() throws Exception
    {
        final Path source = bigFile(work.resolve("src/big.bin"), FILE_SIZE);
        startAgent(moduleRoot);

        final AgentProcess client = AgentProcess.startCli(work.resolve("client.log"), cli(source, false));
        final long heldAtKill = killWhenPartialReaches(moduleRoot, FILE_SIZE / 2, client::kill);
        assertFalse(Files.exists(moduleRoot.resolve("big.bin")), "no partial file under its final name");

        // damage a journaled chunk of the partial file on disk: resume must notice and send it again
        final Path partial = partialFile(moduleRoot).orElseThrow();
        waitUntilJournaled(3);
        try (RandomAccessFile file = new RandomAccessFile(partial.toFile(), "rw"))
        {
            file.seek(2L * CHUNK + 12345);
            final int b = file.read();
            file.seek(2L * CHUNK + 12345);
            file.write(b ^ 0x40);
        }

        final TransferReport second = pushWhenFree(source, false);
        assertTrue(second.complete(), second::toString);
        assertEquals(-1L, Files.mismatch(source, moduleRoot.resolve("big.bin")), "byte-identical");
        assertEquals(2L * CHUNK, second.resumedBytes(), "resumed up to the damaged chunk: " + second);
        // the receiver found it: its audit line counts the damaged chunk
        awaitAgentLog("1 damaged chunks");
        report("client killed, chunk 2 damaged", heldAtKill, second);
        assertJournalRemoved(moduleRoot);
    }

    @Test
    @Timeout(180)
    void shouldRetryAndResumeByItselfWhenTheAgentComesBack() throws Exception
    {
        final Path source = bigFile(work.resolve("src/big.bin"), FILE_SIZE / 2);
        startAgent(moduleRoot);
        final String[] command = cli(source, false);
        final String[] withRetries = new String[command.length + 4];
        withRetries[0] = "send";
        withRetries[1] = "--json";
        withRetries[2] = "--retries=5";
        withRetries[3] = "--retry-delay=500ms";
        withRetries[4] = "--idle-timeout=10s";
        System.arraycopy(command, 1, withRetries, 5, command.length - 1);
        final Path clientLog = work.resolve("client-retry.log");
        final AgentProcess client = AgentProcess.startCli(clientLog, withRetries);

        killWhenPartialReaches(moduleRoot, FILE_SIZE / 4, () -> agent.kill());
        // the service manager restarts the agent; the client's retry finds it and resumes
        startAgent(moduleRoot);
        final int exitCode = client.waitFor(120);
        final String output = client.log();
        assertEquals(ExitCode.OK, exitCode, output);
        assertTrue(output.contains("\"event\":\"retry\""), output);
        final String summary = output.lines().filter(l -> l.contains("\"event\":\"summary\"")).findFirst()
            .orElseThrow();
        assertFalse(summary.contains("\"resumed_bytes\":0,"), "the retry resumed: " + summary);
        assertEquals(-1L, Files.mismatch(source, moduleRoot.resolve("big.bin")));
        assertJournalRemoved(moduleRoot);
    }

    @Test
    @Timeout(180)
    void shouldPublishAnAtomicTransferOnlyWhenAllOfItArrived() throws Exception
    {
        final Path dataset = work.resolve("src/dataset");
        bigFile(dataset.resolve("part-0.bin"), FILE_SIZE / 4);
        for (int i = 0; i < 20; i++)
        {
            Files.writeString(Files.createDirectories(dataset.resolve("meta")).resolve("m" + i + ".json"),
                "{\"shard\":" + i + "}\n");
        }
        bigFile(dataset.resolve("part-1.bin"), FILE_SIZE / 4);
        startAgent(moduleRoot);

        final CompletableFuture<TransferReport> first =
            CompletableFuture.supplyAsync(() -> pushAtomic(dataset));
        killWhenStagedReaches(moduleRoot, FILE_SIZE / 8, () -> agent.kill());
        assertThrows(Exception.class, () -> first.get(60, TimeUnit.SECONDS));
        assertFalse(Files.exists(moduleRoot.resolve("dataset")), "nothing of the dataset is visible yet");

        startAgent(moduleRoot);
        final TransferReport second = pushAtomic(dataset);
        assertTrue(second.complete(), second::toString);
        assertTrue(second.resumedBytes() > 0, "the staged part was resumed: " + second);
        assertEquals(List.of(), io.xfer.agent.storage.TreeComparison.differences(dataset,
            moduleRoot.resolve("dataset"), 10));
        try (Stream<Path> left = Files.list(moduleRoot))
        {
            assertEquals(List.of("dataset"), left.map(p -> p.getFileName().toString())
                .filter(n -> !n.equals(CheckpointJournal.STATE_DIRECTORY)).toList(), "no staging left");
        }
    }

    private TransferReport pushAtomic(final Path dataset)
    {
        try (XferClient client = new XferClient(options(false).atomic(true)))
        {
            return client.push(new Endpoint("localhost", port, "data", ""), List.of(dataset.toString()),
                TransferListener.NONE);
        }
        catch (final InterruptedException | IOException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    /** Wait (bounded) until the staging directory holds {@code bytes}, then kill. */
    private static void killWhenStagedReaches(final Path root, final long bytes, final Killer killer)
        throws Exception
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (System.nanoTime() - deadlineNs < 0)
        {
            long staged = 0;
            try (Stream<Path> files = Files.walk(root))
            {
                staged = files.filter(p -> p.toString().contains(CheckpointJournal.STAGE_PREFIX))
                    .mapToLong(ResumeAfterCrashTest::sizeOrZero).sum();
            }
            catch (final IOException | java.io.UncheckedIOException ex)
            {
                // files come and go while the agent works: look again
            }
            if (staged >= bytes)
            {
                killer.kill();
                return;
            }
            Thread.sleep(5);
        }
        killer.kill();
        throw new AssertionError("the staging directory never reached " + bytes + " bytes");
    }

    @Test
    @Timeout(180)
    void shouldStartOverWithRestart() throws Exception
    {
        final Path source = bigFile(work.resolve("src/big.bin"), FILE_SIZE / 4);
        startAgent(moduleRoot);
        final AgentProcess client = AgentProcess.startCli(work.resolve("client.log"), cli(source, false));
        killWhenPartialReaches(moduleRoot, FILE_SIZE / 8, client::kill);

        final TransferReport again = pushWhenFree(source, true);
        assertTrue(again.complete(), again::toString);
        assertEquals(0, again.resumedBytes(), "--restart discards the checkpoints");
        assertEquals(FILE_SIZE / 4, again.bytes());
        assertEquals(-1L, Files.mismatch(source, moduleRoot.resolve("big.bin")));
        assertJournalRemoved(moduleRoot);
    }

    @Test
    @Timeout(120)
    void shouldStopOnFullDiskKeepCheckpointsAndResumeWhenSpaceIsFreed() throws Exception
    {
        final Path small = Files.createDirectories(work.resolve("small"));
        final int mounted = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", small.toString())
            .inheritIO().start().waitFor();
        assumeTrue(mounted == 0, "cannot mount a tmpfs here (not root?)");
        mountPoint = small;
        final Path source = bigFile(work.resolve("src/data.bin"), 24L << 20);
        startAgent(small);

        final ExecutionFailure full = new ExecutionFailure(assertThrows(TransferException.class,
            () -> pushOrThrow(source, false)));
        assertEquals(ErrorCode.NO_SPACE, full.failure.errorCode(), full.failure::getMessage);
        assertEquals(ExitCode.IO, ExitCodes.of(full.failure));
        assertFalse(Files.exists(small.resolve("data.bin")));
        assertTrue(partialFile(small).isPresent(), "the partial file is kept for the next run");

        assertEquals(0, new ProcessBuilder("mount", "-o", "remount,size=64m", small.toString()).inheritIO().start()
            .waitFor());
        final TransferReport resumed = push(source, false);
        assertTrue(resumed.complete(), resumed::toString);
        assertTrue(resumed.resumedBytes() > 0, "resumed after space was freed: " + resumed);
        assertEquals(-1L, Files.mismatch(source, small.resolve("data.bin")));
        assertJournalRemoved(small);
    }

    @Test
    @Timeout(120)
    void shouldReportAReadOnlyDestinationClearlyAndSucceedOnceItIsWritable() throws Exception
    {
        final Path volume = Files.createDirectories(work.resolve("volume"));
        final int mounted = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", volume.toString())
            .inheritIO().start().waitFor();
        assumeTrue(mounted == 0, "cannot mount a tmpfs here (not root?)");
        mountPoint = volume;
        final Path source = bigFile(work.resolve("src/data.bin"), 8L << 20);
        startAgent(volume);
        assertEquals(0, new ProcessBuilder("mount", "-o", "remount,ro", volume.toString()).inheritIO().start()
            .waitFor());

        final TransferException refused = assertThrows(TransferException.class,
            () -> pushIntoOrThrow(source, "incoming"));
        assertEquals(ErrorCode.PERMISSION_DENIED, refused.errorCode(), refused::getMessage);
        assertEquals(ExitCode.IO, ExitCodes.of(refused));

        assertEquals(0, new ProcessBuilder("mount", "-o", "remount,rw", volume.toString()).inheritIO().start()
            .waitFor());
        assertTrue(pushIntoOrThrow(source, "incoming").complete());
        assertEquals(-1L, Files.mismatch(source, volume.resolve("incoming/data.bin")));
    }

    private TransferReport pushIntoOrThrow(final Path source, final String path)
        throws InterruptedException, IOException
    {
        try (XferClient client = new XferClient(options(false)))
        {
            return client.push(new Endpoint("localhost", port, "data", path), List.of(source.toString()),
                TransferListener.NONE);
        }
    }

    private record ExecutionFailure(TransferException failure)
    {
    }

    private void startAgent(final Path root) throws IOException, InterruptedException
    {
        config = work.resolve("agent.conf");
        Files.writeString(config, String.join("\n",
            "[agent]",
            "listen = 127.0.0.1:" + port,
            "certificate = pki/localhost.crt",
            "private_key = pki/localhost.key",
            "ca = pki/ca.crt",
            "checkpoint_interval = 100ms",
            "checkpoint_bytes = 16m",
            "",
            "[module data]",
            "path = " + root,
            "read = alice",
            "write = alice",
            ""));
        agent = AgentProcess.startAgent(config, port, work.resolve("agent-" + System.nanoTime() + ".log"));
    }

    private ClientOptions options(final boolean restart)
    {
        return new ClientOptions()
            .certificate(pki.resolve("alice.crt"))
            .privateKey(pki.resolve("alice.key"))
            .ca(pki.resolve("ca.crt"))
            .streams(4)
            .compression(Compression.NONE)
            .chunkLength(CHUNK)
            .idleTimeoutNs(TimeUnit.SECONDS.toNanos(20))
            .restart(restart);
    }

    private TransferReport push(final Path source, final boolean restart)
    {
        try
        {
            return pushOrThrow(source, restart);
        }
        catch (final InterruptedException | IOException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    /**
     * Push again right after a client was killed: until the agent has noticed the dead connection and closed the
     * interrupted attempt's journal, an OPEN with the same key is refused as busy (the CLI's --retries wait this
     * out). Try again, a bounded number of times.
     */
    private TransferReport pushWhenFree(final Path source, final boolean restart) throws Exception
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return pushOrThrow(source, restart);
            }
            catch (final TransferException ex)
            {
                if (ex.errorCode() != ErrorCode.LIMIT_EXCEEDED || attempt >= 50)
                {
                    throw ex;
                }
                Thread.sleep(100);
            }
        }
    }

    private TransferReport pushOrThrow(final Path source, final boolean restart)
        throws InterruptedException, IOException
    {
        try (XferClient client = new XferClient(options(restart)))
        {
            return client.push(new Endpoint("localhost", port, "data", ""), List.of(source.toString()),
                TransferListener.NONE);
        }
    }

    private String[] cli(final Path source, final boolean restart)
    {
        return new String[] {"send", "--quiet", "--streams", "4", "--compress", "none", "--cert",
            pki.resolve("alice.crt").toString(), "--key", pki.resolve("alice.key").toString(), "--ca",
            pki.resolve("ca.crt").toString(), source.toString(), "xfer://localhost:" + port + "/data/"};
    }

    /** A thing to kill. */
    @FunctionalInterface
    private interface Killer
    {
        void kill() throws InterruptedException;
    }

    /**
     * Wait (bounded) until the receiver's partial file holds {@code bytes}, then kill.
     *
     * @return the partial file's size at the kill.
     */
    private static long killWhenPartialReaches(final Path root, final long bytes, final Killer killer)
        throws Exception
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (System.nanoTime() - deadlineNs < 0)
        {
            final Optional<Path> partial = partialFile(root);
            if (partial.isPresent())
            {
                final long size = sizeOrZero(partial.get());
                if (size >= bytes)
                {
                    killer.kill();
                    return size;
                }
            }
            Thread.sleep(5);
        }
        killer.kill();
        throw new AssertionError("the partial file never reached " + bytes + " bytes");
    }

    private void waitUntilJournaled(final long chunks) throws Exception
    {
        // the agent checkpoints when the sender's connection drops; give it a moment to write the journal
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() - deadlineNs < 0)
        {
            try (Stream<Path> states = Files.walk(moduleRoot.resolve(CheckpointJournal.STATE_DIRECTORY)))
            {
                final long journaled = states.filter(p -> p.getFileName().toString().equals("journal"))
                    .mapToLong(ResumeAfterCrashTest::sizeOrZero).sum();
                if (journaled > 64 + chunks * 12)
                {
                    Thread.sleep(300);
                    return;
                }
            }
            Thread.sleep(20);
        }
    }

    private void awaitAgentLog(final String text) throws Exception
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!agent.log().contains(text))
        {
            if (System.nanoTime() - deadlineNs > 0)
            {
                throw new AssertionError("agent log lacks '" + text + "':\n" + agent.log());
            }
            Thread.sleep(20);
        }
    }

    private static long sizeOrZero(final Path path)
    {
        try
        {
            return Files.size(path);
        }
        catch (final IOException ex)
        {
            return 0;
        }
    }

    private static Optional<Path> partialFile(final Path root) throws IOException
    {
        if (!Files.isDirectory(root))
        {
            return Optional.empty();
        }
        try (Stream<Path> files = Files.list(root))
        {
            return files.filter(p -> CheckpointJournal.isReservedName(p.getFileName().toString()) &&
                p.getFileName().toString().endsWith(".part")).findFirst();
        }
    }

    private static void assertJournalRemoved(final Path root) throws IOException
    {
        final Path states = root.resolve(CheckpointJournal.STATE_DIRECTORY);
        if (Files.exists(states))
        {
            try (Stream<Path> left = Files.list(states))
            {
                assertEquals(List.of(), left.toList(), "the journal of a finished transfer is removed");
            }
        }
        assertEquals(Optional.empty(), partialFile(root), "no partial file left");
    }

    private static void report(final String what, final long heldAtKill, final TransferReport resumed)
    {
        // for the record: the partial file's size at the kill is the furthest the receiver had written, so
        // (held - resumed) approximates what had arrived once and was sent again
        System.out.println(String.format(Locale.ROOT,
            "%s: partial file %d bytes at the kill; re-run resumed %d bytes, sent %d bytes; re-sent about %d " +
            "bytes", what, heldAtKill, resumed.resumedBytes(), resumed.bytes(),
            Math.max(0, heldAtKill - resumed.resumedBytes())));
    }

    /** A large file that is quick to write: a random block, varied per MiB so no two chunks are equal. */
    private static Path bigFile(final Path file, final long size) throws IOException
    {
        Files.createDirectories(file.getParent());
        final byte[] block = new byte[1 << 20];
        new Random(99).nextBytes(block);
        try (OutputStream out = Files.newOutputStream(file))
        {
            for (long written = 0, n = 0; written < size; written += block.length, n++)
            {
                for (int i = 0; i < 8; i++)
                {
                    block[i] = (byte)(n >>> (8 * i));
                }
                out.write(block, 0, (int)Math.min(block.length, size - written));
            }
        }
        return file;
    }
}
