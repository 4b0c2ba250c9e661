package io.xfer.agent.net;

import io.xfer.agent.client.ClientOptions;
import io.xfer.agent.client.Endpoint;
import io.xfer.agent.client.XferClient;
import io.xfer.agent.engine.Compression;
import io.xfer.agent.engine.LinkSizing;
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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --bandwidth}: the round trip is measured on the real control connection (through a proxy that adds
 * delay), the window and buffers follow from it, and the data still arrives identical, also when the sizes asked
 * for are beyond what the kernel grants.
 */
@Timeout(60)
class BandwidthSizingTest
{
    private static final String MODULE = "data";
    private static final int CHUNK = 256 * 1024;
    private static final long GBIT = 125_000_000L;

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
            .configure(config -> config.chunkLength(CHUNK).streamWindowBytes(4L * CHUNK))
            .start();
    }

    @AfterEach
    void stopAgent()
    {
        agent.close();
    }

    @Test
    void measuresTheRoundTripThroughADelayingLinkAndSizesForIt() throws Exception
    {
        final Path file = writeRandom(work.resolve("src/a.bin"), 3 * CHUNK + 11, 3);
        try (CuttingProxy proxy = new CuttingProxy(agent.port(), 0, 0, false).delayUpstream(25);
            XferClient client = new XferClient(options().streams(2).bandwidthBytesPerSecond(GBIT)))
        {
            final TransferReport report = client.push(new Endpoint("localhost", proxy.port(), MODULE, "slow"),
                List.of(file.toString()), TransferListener.NONE);
            assertTrue(report.complete(), report::toString);
            final LinkSizing link = report.link();
            assertTrue(link.rttNs() >= 25_000_000L, "the proxy holds each request 25 ms: " + link);
            assertTrue(link.rttNs() < 10_000_000_000L, link::toString);
            assertEquals((long)Math.ceil(GBIT * (link.rttNs() / 1e9)), link.bdpBytes());
            assertEquals(2, link.streams());
            // the agent grants 4 chunks per stream: at least 1.5 MB per stream is needed, so that is the limit
            assertEquals(4L * CHUNK, link.windowBytes());
            assertEquals(1, link.advice().size(), link.advice()::toString);
            assertTrue(link.advice().get(0).contains("stream_window"), link.advice().get(0));
        }
        assertEquals(-1L, Files.mismatch(file, moduleRoot.resolve("slow/a.bin")));
    }

    @Test
    void buffersBeyondTheKernelsLimitsStillMoveTheDataBothWays() throws Exception
    {
        final Path file = writeRandom(work.resolve("src/b.bin"), 40 * CHUNK + 7, 5);
        // a rate no loopback has: the buffers asked for are far above net.core.wmem_max, which the kernel clamps
        final long rate = 1_000_000L * GBIT;
        try (XferClient client = new XferClient(options().streams(4).bandwidthBytesPerSecond(rate)))
        {
            final TransferReport pushed = client.push(endpoint("big"), List.of(file.toString()),
                TransferListener.NONE);
            assertTrue(pushed.complete(), pushed::toString);
            // set explicitly where the kernel lets a process set more than autotuning reaches; otherwise left to
            // autotuning, with advice naming the limits to raise
            final long settable = SocketBuffers.settableMaxBytes();
            final long autotune = SocketBuffers.autotuneMaxBytes(true);
            if (settable > 0 && autotune > 0 && 2 * settable <= autotune)
            {
                assertEquals(0, pushed.link().socketBufferBytes(), pushed.link()::toString);
                assertTrue(pushed.link().advice().stream().anyMatch(a -> a.contains("net.core.wmem_max")),
                    pushed.link()::toString);
            }
            else
            {
                assertTrue(pushed.link().socketBufferBytes() > 0, "sized explicitly: " + pushed.link());
            }
            assertTrue(pushed.link().rttNs() > 0, pushed.link()::toString);

            final TransferReport pulled = client.pull(endpoint("big/b.bin"), work.resolve("back"),
                TransferListener.NONE);
            assertTrue(pulled.complete(), pulled::toString);
            assertEquals(4L * CHUNK, pulled.link().windowBytes(), "a pull runs at the agent's window");
        }
        assertEquals(-1L, Files.mismatch(file, moduleRoot.resolve("big/b.bin")));
        assertEquals(-1L, Files.mismatch(file, work.resolve("back/b.bin")));
    }

    @Test
    void withoutABandwidthNothingIsMeasured() throws Exception
    {
        final Path file = writeRandom(work.resolve("src/c.bin"), CHUNK, 9);
        try (XferClient client = new XferClient(options().streams(2)))
        {
            final TransferReport report = client.push(endpoint("plain"), List.of(file.toString()),
                TransferListener.NONE);
            assertTrue(report.complete(), report::toString);
            assertNull(report.link());
        }
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
