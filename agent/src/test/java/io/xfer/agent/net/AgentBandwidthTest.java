package io.xfer.agent.net;

import io.xfer.agent.client.ClientOptions;
import io.xfer.agent.config.AgentConfig;
import io.xfer.agent.client.Endpoint;
import io.xfer.agent.client.XferClient;
import io.xfer.agent.engine.Compression;
import io.xfer.agent.engine.TransferListener;
import io.xfer.agent.engine.TransferReport;
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
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The agent's {@code bandwidth}: each transfer is sized from the round trip the kernel measured on its real control
 * connection, the sizing and what limits it are logged in the agent's words, and the data moves identical both
 * ways, also when the sizes needed are beyond what the kernel lets a process set.
 */
@Timeout(60)
class AgentBandwidthTest
{
    private static final String MODULE = "data";
    private static final int CHUNK = 256 * 1024;
    private static final long GBIT = 125_000_000L;

    @TempDir
    Path work;

    private final List<LogRecord> logged = new CopyOnWriteArrayList<>();
    private final Handler capture = new Handler()
    {
        @Override
        public void publish(final LogRecord record)
        {
            logged.add(record);
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
    private final Logger dispatcherLog = Logger.getLogger(TransferDispatcher.class.getName());

    private TestPki pki;
    private TestAgent agent;
    private Path moduleRoot;
    private TestPki.Credentials alice;

    @BeforeEach
    void capture() throws Exception
    {
        dispatcherLog.addHandler(capture);
        pki = TestPki.create(work.resolve("pki"));
        alice = pki.client("alice");
        moduleRoot = Files.createDirectories(work.resolve("module"));
    }

    @AfterEach
    void stop()
    {
        if (agent != null)
        {
            agent.close();
        }
        dispatcherLog.removeHandler(capture);
    }

    private void startAgent(final long bandwidth) throws Exception
    {
        startAgent(bandwidth, AgentConfig.STREAM_WINDOW_BYTES_DEFAULT);
    }

    private void startAgent(final long bandwidth, final long streamWindow) throws Exception
    {
        agent = TestAgent.with(pki).module(MODULE, moduleRoot, Set.of("alice"), Set.of("alice"))
            .configure(config -> config.chunkLength(CHUNK).bandwidthBytesPerSecond(bandwidth)
                .streamWindowBytes(streamWindow))
            .start();
    }

    @Test
    void aWindowTooSmallForTheProductIsRaisedInWhatTheAgentGrants() throws Exception
    {
        // stream_window of one chunk, the least there is: any round trip needs more at 80 Gbit/s, and loopback's
        // (microseconds; a busy machine's handshakes may make it a few ms) needs less than the 256 MiB cap
        startAgent(80 * GBIT, CHUNK);
        final Path file = writeRandom(work.resolve("src/w.bin"), 12 * CHUNK + 1, 3);
        try (XferClient client = new XferClient(options().streams(2).bandwidthBytesPerSecond(80 * GBIT)))
        {
            final TransferReport pushed = client.push(endpoint("w"), List.of(file.toString()),
                TransferListener.NONE);
            assertTrue(pushed.complete(), pushed::toString);
            final TransferReport pulled = client.pull(endpoint("w/w.bin"), work.resolve("back"),
                TransferListener.NONE);
            assertTrue(pulled.complete(), pulled::toString);
            // a pull runs at the agent's window, a push at most at what the agent granted
            assertTrue(pulled.link().windowBytes() > CHUNK, pulled.link()::toString);
            assertTrue(pulled.link().windowBytes() <= TransferDispatcher.MAX_SIZED_WINDOW_BYTES,
                pulled.link()::toString);
            assertTrue(pushed.link().windowBytes() > CHUNK, pushed.link()::toString);
        }
        assertEquals(-1L, Files.mismatch(file, moduleRoot.resolve("w/w.bin")));
        assertEquals(-1L, Files.mismatch(file, work.resolve("back/w.bin")));
        assertEquals(List.of(), messages(Level.WARNING, "stream_window"), "raised, the window limits nothing");
        assertEquals(2, messages(Level.INFO, "link 80.0 Gbit/s").size(), logged::toString);
    }

    @Test
    void aLinkThatLoopbackFillsIsLeftToAutotuningBothWays() throws Exception
    {
        startAgent(10 * GBIT);
        final Path file = writeRandom(work.resolve("src/a.bin"), 9 * CHUNK + 5, 1);
        try (XferClient client = new XferClient(options().streams(2)))
        {
            assertTrue(client.push(endpoint("in"), List.of(file.toString()), TransferListener.NONE).complete());
            assertTrue(client.pull(endpoint("in/a.bin"), work.resolve("back"), TransferListener.NONE).complete());
        }
        assertEquals(-1L, Files.mismatch(file, moduleRoot.resolve("in/a.bin")));
        assertEquals(-1L, Files.mismatch(file, work.resolve("back/a.bin")));

        final List<String> sizings = messages(Level.INFO, "link 10.0 Gbit/s x round trip");
        assertEquals(2, sizings.size(), "one sizing per transfer: " + sizings);
        for (final String sizing : sizings)
        {
            // loopback's round trip is microseconds: the product is far below what autotuning reaches
            assertTrue(sizing.contains("2 streams") && sizing.endsWith("socket buffers kernel autotuning"), sizing);
        }
        assertTrue(sizings.get(0).contains("push by alice") && sizings.get(1).contains("pull by alice"),
            sizings::toString);
        assertEquals(List.of(), messages(Level.WARNING, ""), "nothing limits a link loopback fills");
    }

    @Test
    void aRateBeyondWhatBuffersCanHoldIsReportedInTheAgentsWordsAndTheDataStillMoves() throws Exception
    {
        // 8 Pbit/s: at any round trip each stream would need more than the largest buffer that is ever set
        startAgent(1_000_000_000_000_000L);
        final Path file = writeRandom(work.resolve("src/b.bin"), 20 * CHUNK + 3, 2);
        try (XferClient client = new XferClient(options().streams(3)))
        {
            final TransferReport pushed = client.push(endpoint("big"), List.of(file.toString()),
                TransferListener.NONE);
            assertTrue(pushed.complete(), pushed::toString);
            final TransferReport pulled = client.pull(endpoint("big/b.bin"), work.resolve("back"),
                TransferListener.NONE);
            assertTrue(pulled.complete(), pulled::toString);
        }
        assertEquals(-1L, Files.mismatch(file, moduleRoot.resolve("big/b.bin")));
        assertEquals(-1L, Files.mismatch(file, work.resolve("back/b.bin")));

        final List<String> advice = messages(Level.WARNING, "3 streams cannot fill");
        assertEquals(2, advice.size(), "once per transfer: " + advice);
        for (final String line : advice)
        {
            assertTrue(line.contains("a client's --streams") && line.contains("stream_window"), line);
            assertTrue(!line.contains("--bandwidth"), "the agent's words, not the client's: " + line);
        }
        // buffers are capped at 256 MiB: set where the kernel lets a process set more than autotuning reaches in
        // that direction (a push: the agent receives; a pull: it sends), else left to autotuning; either way a
        // limit below 256 MiB is named with the sysctl setting to raise
        final long settable = SocketBuffers.settableMaxBytes();
        final long target = 256L << 20;
        int set = 0;
        int clamped = 0;
        for (final boolean sending : new boolean[] {false, true})
        {
            final long autotune = SocketBuffers.autotuneMaxBytes(sending) > 0 ?
                SocketBuffers.autotuneMaxBytes(sending) : 4L << 20;
            set += (settable > 0 ? 2 * Math.min(target, settable) : 2 * target) > autotune ? 1 : 0;
            clamped += settable > 0 && settable < target ? 1 : 0;
        }
        assertEquals(set, messages(Level.INFO, "socket buffers 256.0 MiB").size(), logged::toString);
        assertEquals(2 - set, messages(Level.INFO, "socket buffers kernel autotuning").size(), logged::toString);
        assertEquals(clamped, messages(Level.WARNING, "the kernel lets a process set at most").size(),
            logged::toString);
    }

    private List<String> messages(final Level level, final String containing)
    {
        return logged.stream().filter(r -> r.getLevel() == level).map(LogRecord::getMessage)
            .filter(m -> m.contains(containing)).toList();
    }

    private ClientOptions options()
    {
        return pki.options(alice).chunkLength(CHUNK).compression(Compression.NONE);
    }

    private Endpoint endpoint(final String path)
    {
        return new Endpoint("localhost", agent.port(), MODULE, path);
    }

    private static Path writeRandom(final Path file, final long size, final long seed) throws IOException
    {
        Files.createDirectories(file.getParent());
        final byte[] bytes = new byte[(int)size];
        new Random(seed).nextBytes(bytes);
        Files.write(file, bytes);
        return file;
    }
}
