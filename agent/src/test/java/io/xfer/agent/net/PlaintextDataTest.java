package io.xfer.agent.net;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.xfer.agent.client.ClientOptions;
import io.xfer.agent.client.Endpoint;
import io.xfer.agent.client.XferClient;
import io.xfer.agent.engine.Compression;
import io.xfer.agent.engine.TransferException;
import io.xfer.agent.engine.TransferListener;
import io.xfer.agent.engine.TransferReport;
import io.xfer.agent.storage.TreeComparison;
import io.xfer.protocol.Capabilities;
import io.xfer.protocol.ErrorCode;
import io.xfer.protocol.ErrorFlyweight;
import io.xfer.protocol.FrameType;
import io.xfer.protocol.HelloFlyweight;
import io.xfer.protocol.ProtocolVersion;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Plaintext data connections over real sockets on loopback: negotiated only when both the agent's configuration
 * and the client ask for it, the control connection always TLS, raw chunks sent from their files with sendfile, and
 * a connection without TLS allowed nothing but joining a plaintext session with its session id.
 */
class PlaintextDataTest
{
    private static final String MODULE = "data";
    private static final int CHUNK = 256 * 1024;
    /** The first byte of a TLS record carrying a handshake. */
    private static final int TLS_HANDSHAKE = 0x16;
    /** The first byte of an xfer frame: the high byte of its length. */
    private static final int FRAME = 0x00;

    @TempDir
    Path work;

    private TestAgent agent;

    @AfterEach
    void stopAgent()
    {
        if (agent != null)
        {
            agent.close();
        }
    }

    @Test
    @Timeout(60)
    void shouldPushAndPullOverPlaintextDataConnectionsWhenBothSidesAskForIt() throws Exception
    {
        final TestPki pki = startAgent(true);
        final Path source = writeTree(work.resolve("src/tree"));

        try (CuttingProxy proxy = new CuttingProxy(agent.port(), 0, 0, false);
            XferClient client = new XferClient(options(pki).plaintextData(true).streams(3)
                .compression(Compression.AUTO)))
        {
            final TransferReport pushed = client.push(new Endpoint("localhost", proxy.port(), MODULE, "in"),
                List.of(source.toString()), TransferListener.NONE);
            assertTrue(pushed.complete(), pushed::toString);
            assertTrue(pushed.plaintextData(), "reported as plaintext");
            assertEquals(List.of(), TreeComparison.differences(source, agentRoot().resolve("in/tree"), 10));
            // the control connection, then three data connections: all streams are data connections
            assertEquals(4, proxy.acceptedConnections());
            assertEquals(TLS_HANDSHAKE, proxy.firstByte(1), "the control connection is TLS");
            for (int i = 2; i <= 4; i++)
            {
                assertEquals(FRAME, proxy.firstByte(i), "data connection " + i + " starts with a frame, no TLS");
            }

            final Path fetched = work.resolve("fetched");
            final TransferReport pulled = client.pull(new Endpoint("localhost", proxy.port(), MODULE, "in/tree"),
                fetched, TransferListener.NONE);
            assertTrue(pulled.complete(), pulled::toString);
            assertTrue(pulled.plaintextData(), "reported as plaintext");
            assertTrue(pulled.wireBytes() < pulled.bytes(), "text still compresses on plaintext: " + pulled);
            assertEquals(List.of(), TreeComparison.differences(source, fetched.resolve("tree"), 10));
            assertEquals(8, proxy.acceptedConnections());
            assertEquals(TLS_HANDSHAKE, proxy.firstByte(5), "the pull's control connection is TLS");
            for (int i = 6; i <= 8; i++)
            {
                assertEquals(FRAME, proxy.firstByte(i), "pull data connection " + i + " has no TLS");
            }
        }
    }

    @Test
    @Timeout(60)
    void shouldSendRawChunksFromFilesWithoutCompressionAndCheckTheirSha256() throws Exception
    {
        final TestPki pki = startAgent(true);
        final Path file = work.resolve("src/random.bin");
        Files.createDirectories(file.getParent());
        final byte[] content = new byte[37 * CHUNK + 1001];
        new Random(5).nextBytes(content);
        Files.write(file, content);

        // with SHA-256 digests, as PROTOCOL.md advises for plaintext: checked over the TLS control connection
        try (XferClient client = new XferClient(options(pki).plaintextData(true).streams(4)
            .compression(Compression.NONE).sha256Digests(true)))
        {
            final java.util.List<String> digests = new java.util.concurrent.CopyOnWriteArrayList<>();
            final TransferReport pushed = client.push(endpoint(""), List.of(file.toString()),
                event ->
                {
                    if (event.sha256() != null)
                    {
                        digests.add(event.sha256());
                    }
                });
            assertTrue(pushed.complete(), pushed::toString);
            assertEquals(-1L, Files.mismatch(file, agentRoot().resolve("random.bin")));
            assertEquals(List.of(java.util.HexFormat.of().formatHex(
                java.security.MessageDigest.getInstance("SHA-256").digest(content))), digests);

            // the agent sends from its file too
            final Path fetched = work.resolve("fetched");
            final TransferReport pulled = client.pull(endpoint("random.bin"), fetched, TransferListener.NONE);
            assertTrue(pulled.complete(), pulled::toString);
            assertEquals(-1L, Files.mismatch(file, fetched.resolve("random.bin")));
        }
    }

    @Test
    @Timeout(60)
    void shouldWaitForAReplacementWhenItsOnlyDataConnectionIsCut() throws Exception
    {
        final TestPki pki = startAgent(true);
        final Path file = work.resolve("src/cut.bin");
        Files.createDirectories(file.getParent());
        final byte[] content = new byte[48 * CHUNK + 5];
        new Random(6).nextBytes(content);
        Files.write(file, content);

        // connection 1 is the control connection, 2 the only data connection: the control carries no DATA, so the
        // transfer has no stream at all until the client's replacement joins
        try (CuttingProxy proxy = new CuttingProxy(agent.port(), 2, 8L * CHUNK, false);
            XferClient client = new XferClient(options(pki).plaintextData(true).streams(1)
                .compression(Compression.NONE).reconnectDelayNs(50_000_000L)))
        {
            final TransferReport pushed = client.push(new Endpoint("localhost", proxy.port(), MODULE, ""),
                List.of(file.toString()), TransferListener.NONE);
            assertTrue(proxy.didCut(), "the proxy cut the data connection");
            assertTrue(pushed.complete(), pushed::toString);
            assertTrue(pushed.resentBytes() > 0, "what was in flight went again: " + pushed);
            assertTrue(proxy.acceptedConnections() >= 3, "a replacement joined: " + proxy.acceptedConnections());
        }
        assertEquals(-1L, Files.mismatch(file, agentRoot().resolve("cut.bin")));
    }

    @Test
    @Timeout(60)
    void shouldTakeADataConnectionThatJoinsAfterItsTransferEndedAsRoutine() throws Exception
    {
        final TestPki pki = startAgent(true);
        final Path source = work.resolve("src/few");
        Files.createDirectories(source);
        for (int i = 0; i < 5; i++)
        {
            Files.writeString(source.resolve("note" + i + ".txt"), "note " + i + "\n");
        }

        // the control connection goes through at once; the data connections' HELLOs are held until the transfer
        // (small files that all go with their entries, on the control connection) has ended on the agent
        try (LogCapture agentLog = new LogCapture(ServerHandshakeHandler.class);
            LogCapture dispatcherLog = new LogCapture(TransferDispatcher.class);
            LogCapture clientLog = new LogCapture(XferClient.class);
            CuttingProxy proxy = new CuttingProxy(agent.port(), 0, 0, false).holdUpstreamAfter(1);
            XferClient client = new XferClient(options(pki).plaintextData(true).streams(2)))
        {
            final TransferReport pushed;
            try
            {
                pushed = client.push(new Endpoint("localhost", proxy.port(), MODULE, "in"),
                    List.of(source.toString()), TransferListener.NONE);
                assertTrue(pushed.complete(), pushed::toString);
                // the agent logs the outcome just before it notes the session as ended
                dispatcherLog.await(line -> line.contains("path 'in': completed"));
                Thread.sleep(250);
            }
            finally
            {
                proxy.releaseHeld();
            }
            assertEquals(List.of(), TreeComparison.differences(source, agentRoot().resolve("in/few"), 10));

            // both data connections refused as late, then nothing worse from either side
            agentLog.await(line -> line.startsWith("refused ") && line.endsWith(AgentServer.TRANSFER_ENDED), 2);
            assertEquals(3, proxy.acceptedConnections(), "the control connection and two data connections");
            assertEquals(List.of(), agentLog.warnings(), "a late join is nothing an operator has to act on");
            assertEquals(List.of(), dispatcherLog.warnings());
            assertEquals(List.of(), clientLog.warnings());
        }
    }

    @Test
    @Timeout(60)
    void shouldFailAtOnceWhenNoPlaintextDataConnectionCanJoin() throws Exception
    {
        final TestPki pki = startAgent(true);
        final Path file = work.resolve("src/stuck.bin");
        Files.createDirectories(file.getParent());
        Files.write(file, new byte[4 * CHUNK]);

        // the control connection gets through, every data connection is reset: with plaintext data the control
        // connection carries no DATA, so the transfer ends as soon as the joins have failed, not at the idle timeout
        try (CuttingProxy proxy = new CuttingProxy(agent.port(), 0, 0, false).refuseAfter(1);
            XferClient client = new XferClient(options(pki).plaintextData(true).streams(2)
                .compression(Compression.NONE).idleTimeoutNs(java.util.concurrent.TimeUnit.SECONDS.toNanos(40))))
        {
            final long startNs = System.nanoTime();
            final TransferException failure = assertThrows(TransferException.class, () -> client.push(
                new Endpoint("localhost", proxy.port(), MODULE, ""), List.of(file.toString()), TransferListener.NONE));
            assertTrue(failure.getMessage().contains("no plaintext data connection could join"), failure::toString);
            assertEquals(null, failure.errorCode(), "a lost connection, not a protocol error");
            assertTrue(System.nanoTime() - startNs < java.util.concurrent.TimeUnit.SECONDS.toNanos(20),
                "failed without waiting for the idle timeout");
            assertTrue(proxy.acceptedConnections() >= 3, "two data connections were tried");
        }
        assertFalse(Files.exists(agentRoot().resolve("stuck.bin")), "nothing committed");
    }

    @Test
    @Timeout(60)
    void shouldKeepTlsOnEveryConnectionWhenTheAgentDoesNotAllowPlaintext() throws Exception
    {
        final TestPki pki = startAgent(false);
        final Path source = writeTree(work.resolve("src/tree"));

        try (CuttingProxy proxy = new CuttingProxy(agent.port(), 0, 0, false);
            XferClient client = new XferClient(options(pki).plaintextData(true).streams(3)))
        {
            final TransferReport pushed = client.push(new Endpoint("localhost", proxy.port(), MODULE, "in"),
                List.of(source.toString()), TransferListener.NONE);
            assertTrue(pushed.complete(), pushed::toString);
            assertFalse(pushed.plaintextData(), "reported as TLS");
            // the control connection is the first stream: two data connections join it
            assertEquals(3, proxy.acceptedConnections());
            for (int i = 1; i <= 3; i++)
            {
                assertEquals(TLS_HANDSHAKE, proxy.firstByte(i), "connection " + i + " is TLS");
            }
        }
        assertEquals(List.of(), TreeComparison.differences(source, agentRoot().resolve("in/tree"), 10));
    }

    @Test
    @Timeout(30)
    void shouldAllowAConnectionWithoutTlsNothingButJoiningAPlaintextSession() throws Exception
    {
        startAgent(true);

        final byte[] control = plainExchange(HelloFlyweight.KIND_CONTROL, 0, 0);
        assertEquals(ErrorCode.ACCESS_DENIED, errorCode(control), "a control connection needs TLS");

        final byte[] unknown = plainExchange(HelloFlyweight.KIND_DATA, 0x1234_5678_9abc_def0L, 42L);
        assertEquals(ErrorCode.UNKNOWN_SESSION, errorCode(unknown), "a made-up session id joins nothing");
    }

    @Test
    @Timeout(30)
    void shouldCloseAConnectionWithoutTlsWhenPlaintextIsNotAllowed() throws Exception
    {
        startAgent(false);

        final byte[] answer = plainExchange(HelloFlyweight.KIND_DATA, 1, 2);
        assertEquals(0, answer.length, "no frame goes back in the clear");
    }

    private TestPki startAgent(final boolean plaintextData) throws Exception
    {
        final TestPki pki = TestPki.create(work.resolve("pki"));
        final Path root = Files.createDirectories(work.resolve("module"));
        agent = TestAgent.with(pki).module(MODULE, root, Set.of("alice"), Set.of("alice"))
            .configure(config -> config.chunkLength(CHUNK).plaintextData(plaintextData))
            .start();
        return pki;
    }

    private Path agentRoot()
    {
        return work.resolve("module");
    }

    private ClientOptions options(final TestPki pki) throws Exception
    {
        return pki.options(pki.client("alice")).chunkLength(CHUNK);
    }

    private Endpoint endpoint(final String path)
    {
        return new Endpoint("localhost", agent.port(), MODULE, path);
    }

    /**
     * Send a HELLO over a plain socket and read what comes back until the agent closes the connection.
     */
    private byte[] plainExchange(final int kind, final long sessionIdHigh, final long sessionIdLow) throws IOException
    {
        final ByteBuf hello = HelloFlyweight.encode(ByteBufAllocator.DEFAULT, kind,
            Capabilities.PARALLEL_STREAMS | Capabilities.PLAINTEXT_DATA, sessionIdHigh, sessionIdLow,
            ProtocolVersion.HANDSHAKE_FRAME_LENGTH, "test");
        final byte[] bytes = new byte[hello.readableBytes()];
        hello.readBytes(bytes);
        hello.release();
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), agent.port()))
        {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(bytes);
            socket.getOutputStream().flush();
            final ByteArrayOutputStream received = new ByteArrayOutputStream();
            final InputStream in = socket.getInputStream();
            final byte[] buffer = new byte[4096];
            try
            {
                int n;
                while ((n = in.read(buffer)) >= 0)
                {
                    received.write(buffer, 0, n);
                }
            }
            catch (final SocketException reset)
            {
                // a reset ends the exchange as well as a close
            }
            return received.toByteArray();
        }
    }

    private static ErrorCode errorCode(final byte[] frame)
    {
        final ByteBuf buf = Unpooled.wrappedBuffer(frame);
        assertTrue(frame.length > 8, "an ERROR frame came back");
        assertEquals(FrameType.ERROR, buf.getUnsignedByte(5), "frame type");
        final ErrorFlyweight error = new ErrorFlyweight();
        error.wrap(buf, 0);
        return ErrorCode.get(error.code());
    }

    /** A tree with a file of many chunks, a compressible log and small files. */
    private static Path writeTree(final Path root) throws IOException
    {
        final Random random = new Random(9);
        final byte[] big = new byte[9 * CHUNK + 77];
        random.nextBytes(big);
        Files.createDirectories(root.resolve("small"));
        Files.write(root.resolve("big.bin"), big);
        final StringBuilder log = new StringBuilder();
        for (int line = 0; log.length() < 3 * CHUNK; line++)
        {
            log.append("2026-11-22 INFO request ").append(line).append(" from worker-").append(line % 17)
                .append(" took ").append(line % 300).append(" ms\n");
        }
        Files.writeString(root.resolve("app.log"), log, StandardCharsets.UTF_8);
        for (int i = 0; i < 40; i++)
        {
            final byte[] small = new byte[i * 131];
            random.nextBytes(small);
            Files.write(root.resolve("small/f" + i), small);
        }
        return root;
    }
}
