package io.xfer.agent.net;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.Future;
import io.xfer.agent.TestTmpfs;
import io.xfer.agent.client.Endpoint;
import io.xfer.agent.client.XferClient;
import io.xfer.agent.config.AgentConfig;
import io.xfer.agent.engine.TransferException;
import io.xfer.agent.engine.TransferListener;
import io.xfer.agent.engine.TransferReport;
import io.xfer.agent.storage.SourceEntry;
import io.xfer.agent.storage.SourceWalker;
import io.xfer.agent.tls.TlsContexts;
import io.xfer.protocol.ErrorCode;
import io.xfer.protocol.ErrorFlyweight;
import io.xfer.protocol.FileEntryFlyweight;
import io.xfer.protocol.Flyweight;
import io.xfer.protocol.FrameDecoder;
import io.xfer.protocol.FrameType;
import io.xfer.protocol.HelloFlyweight;
import io.xfer.protocol.OpenFlyweight;
import io.xfer.protocol.ProtocolVersion;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Bad input against a real agent over real TLS on loopback: untrusted or missing client certificates, missing
 * rights, unknown modules and paths, path traversal and symlink tricks, malformed frames on a raw TLS connection,
 * existing destinations, vanishing sources and a full disk. After each bad peer the agent must still serve a good
 * client, and nothing may ever appear outside the module's root.
 */
@Timeout(30)
class AgentBadInputTest
{
    private static final String MODULE = "mod";
    private static final long TIMEOUT_MS = 10_000;
    private static final String ABSOLUTE_EVIL = "/tmp/xfer-bad-input-test-evil";

    @TempDir
    Path work;

    private TestPki pki;
    private TestAgent agent;
    private Path moduleRoot;
    private Path outside;
    private Path mountPoint;
    private TestPki.Credentials alice;

    @BeforeEach
    void startAgent() throws Exception
    {
        pki = TestPki.create(work.resolve("pki"));
        alice = pki.client("alice");
        moduleRoot = Files.createDirectories(work.resolve("module"));
        outside = Files.createDirectories(work.resolve("outside"));
        agent = TestAgent.with(pki)
            .module(MODULE, moduleRoot, Set.of("alice", "reader"), Set.of("alice", "writer"))
            .start();
    }

    @AfterEach
    void stopAgent() throws Exception
    {
        if (agent != null)
        {
            agent.close();
        }
        if (mountPoint != null)
        {
            TestTmpfs.unmount(mountPoint);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // TLS: certificates the agent must refuse

    @Test
    void shouldRefuseClientWithoutCertificateAndKeepServing() throws Exception
    {
        assertRefusedByTls(TlsContexts.client(null, null, pki.caCertificate()));
        assertGoodClientStillServed();
    }

    @Test
    void shouldRefuseClientCertificateFromAnotherCa() throws Exception
    {
        final TestPki.Credentials foreign = pki.foreignClient("alice");
        assertRefusedByTls(TlsContexts.client(foreign.certificate(), foreign.privateKey(), pki.caCertificate()));
        assertGoodClientStillServed();
    }

    @Test
    void shouldRefuseExpiredClientCertificate() throws Exception
    {
        // named like a client with every right: only the expiry may keep it out
        final TestPki.Credentials expired = pki.expiredClient("alice");
        assertRefusedByTls(TlsContexts.client(expired.certificate(), expired.privateKey(), pki.caCertificate()));
        assertGoodClientStillServed();
    }

    @Test
    void shouldTakeAPeerThatLeavesDuringTheTlsHandshakeAsRoutine() throws Exception
    {
        try (LogCapture log = new LogCapture(ServerHandshakeHandler.class))
        {
            // the header of a TLS record and no more, then a reset: a port probe, or a client that abandoned a data
            // connection its transfer no longer needed
            try (Socket socket = new Socket())
            {
                socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), agent.port()), 5000);
                socket.getOutputStream().write(new byte[] {0x16, 0x03, 0x01, 0x00, 0x40});
                socket.getOutputStream().flush();
                socket.setSoLinger(true, 0);
            }
            log.await(line -> line.contains("ended: the peer closed the connection"));
            assertEquals(List.of(), log.warnings(), "nothing an operator has to act on");
        }
        // a client certificate the agent refuses stays a warning
        try (LogCapture log = new LogCapture(ServerHandshakeHandler.class))
        {
            final TestPki.Credentials foreign = pki.foreignClient("alice");
            assertRefusedByTls(TlsContexts.client(foreign.certificate(), foreign.privateKey(), pki.caCertificate()));
            assertTrue(log.warnings().stream().anyMatch(line -> line.startsWith("TLS handshake with ") &&
                line.contains(" failed")), log.warnings()::toString);
        }
        assertGoodClientStillServed();
    }

    /**
     * With TLS 1.3 the client's side of the handshake completes before the agent has checked the client's
     * certificate, so the refusal comes as an alert after the client sent its HELLO. The agent must refuse the
     * handshake, answer no frame and close.
     */
    private void assertRefusedByTls(final SslContext sslContext) throws Exception
    {
        final byte[] hello = bytes(HelloFlyweight.encode(UnpooledByteBufAllocator.DEFAULT,
            HelloFlyweight.KIND_CONTROL, 0, 0, 0, ProtocolVersion.MAX_FRAME_LENGTH, "raw-test"));

        final RawSession session;
        try (LogCapture agentLog = new LogCapture(ServerHandshakeHandler.class))
        {
            session = rawSession(sslContext, List.of(hello));
            agentLog.await(line -> line.startsWith("TLS handshake with ") && line.contains(" failed"));
        }

        assertEquals(List.of(), session.frames(), () -> "a refused client must not get any frame: " + session);
        assertEquals(Set.of(), tree(moduleRoot));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // rights, modules, paths

    @Test
    void shouldDenyPushWithoutWriteRight() throws Exception
    {
        final Path source = writeFile(work.resolve("src/one.txt"), "one");
        try (XferClient client = new XferClient(pki.options(pki.client("reader"))))
        {
            final TransferException ex = assertThrows(TransferException.class,
                () -> client.push(endpoint("in"), List.of(source.toString()), TransferListener.NONE));
            assertEquals(ErrorCode.ACCESS_DENIED, ex.errorCode(), ex::getMessage);
            assertTrue(ex.isRemote());
        }
        assertEquals(Set.of(), tree(moduleRoot));
    }

    @Test
    void shouldDenyPullWithoutReadRight() throws Exception
    {
        writeFile(moduleRoot.resolve("secret.txt"), "secret");
        final Path destination = work.resolve("fetched");
        try (XferClient client = new XferClient(pki.options(pki.client("writer"))))
        {
            final TransferException ex = assertThrows(TransferException.class,
                () -> client.pull(endpoint("secret.txt"), destination, TransferListener.NONE));
            assertEquals(ErrorCode.ACCESS_DENIED, ex.errorCode(), ex::getMessage);
        }
        assertFalse(Files.exists(destination.resolve("secret.txt")));
    }

    @Test
    void shouldReportUnknownModule() throws Exception
    {
        final Path source = writeFile(work.resolve("src/one.txt"), "one");
        try (XferClient client = new XferClient(pki.options(alice)))
        {
            final TransferException push = assertThrows(TransferException.class, () -> client.push(
                new Endpoint("localhost", agent.port(), "nosuchmodule", ""), List.of(source.toString()),
                TransferListener.NONE));
            assertEquals(ErrorCode.NO_SUCH_MODULE, push.errorCode(), push::getMessage);

            final TransferException pull = assertThrows(TransferException.class, () -> client.pull(
                new Endpoint("localhost", agent.port(), "nosuchmodule", "x"), work.resolve("fetched"),
                TransferListener.NONE));
            assertEquals(ErrorCode.NO_SUCH_MODULE, pull.errorCode(), pull::getMessage);
        }
    }

    @Test
    void shouldReportPullOfMissingPath() throws Exception
    {
        try (XferClient client = new XferClient(pki.options(alice)))
        {
            final TransferException ex = assertThrows(TransferException.class,
                () -> client.pull(endpoint("does/not/exist"), work.resolve("fetched"), TransferListener.NONE));
            assertEquals(ErrorCode.NOT_FOUND, ex.errorCode(), ex::getMessage);
        }
    }

    @Test
    void shouldRefuseTraversalInOpenPath() throws Exception
    {
        final Path source = writeFile(work.resolve("src/x"), "payload");
        final Set<String> before = tree(work);
        try (XferClient client = new XferClient(pki.options(alice)))
        {
            for (final String path : List.of("../x", "/etc", "a/../../x", "..", "a/./b", "a//b"))
            {
                final TransferException ex = assertThrows(TransferException.class,
                    () -> client.push(endpoint(path), List.of(source.toString()), TransferListener.NONE), path);
                assertEquals(ErrorCode.INVALID_PATH, ex.errorCode(), () -> path + ": " + ex.getMessage());
            }
        }
        assertEquals(before, tree(work), "nothing may be created anywhere, inside the module or outside");
        assertGoodClientStillServed();
    }

    @Test
    void shouldNeverWriteThroughSymlinkInModuleRoot() throws Exception
    {
        Files.createSymbolicLink(moduleRoot.resolve("escape"), outside);
        final Path source = writeFile(work.resolve("src/tree/escape/inside.txt"), "must stay out");
        writeFile(work.resolve("src/tree/plain.txt"), "plain");

        try (XferClient client = new XferClient(pki.options(alice)))
        {
            final TransferException ex = assertThrows(TransferException.class,
                () -> client.push(endpoint("escape/sub"), List.of(source.toString()), TransferListener.NONE));
            assertEquals(ErrorCode.INVALID_PATH, ex.errorCode(), ex::getMessage);

            // the tree's directory "escape" meets the symlink of the same name at the destination
            final TransferReport report = client.push(endpoint(""), List.of(work.resolve("src/tree") + "/"),
                TransferListener.NONE);
            assertTrue(report.failed() > 0, report::toString);
            assertEquals("plain", Files.readString(moduleRoot.resolve("plain.txt")));
            assertTrue(Files.isSymbolicLink(moduleRoot.resolve("escape")));
        }
        assertEquals(Set.of(), tree(outside), "nothing may be written outside the module root");

        // overwrite may replace the link itself with a real directory, but still never writes through it
        try (XferClient client = new XferClient(pki.options(alice).overwrite(true)))
        {
            final TransferReport report = client.push(endpoint(""), List.of(work.resolve("src/tree") + "/"),
                TransferListener.NONE);
            assertTrue(report.complete(), report::toString);
        }
        assertEquals(Set.of(), tree(outside), "nothing may be written outside the module root");
        assertFalse(Files.isSymbolicLink(moduleRoot.resolve("escape")));
        assertEquals("must stay out", Files.readString(moduleRoot.resolve("escape/inside.txt")));
        assertGoodClientStillServed();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // malformed frames on a raw TLS connection

    static Stream<Arguments> malformedSessions()
    {
        final ByteBufAllocator alloc = UnpooledByteBufAllocator.DEFAULT;
        final byte[] hello = bytes(HelloFlyweight.encode(alloc, HelloFlyweight.KIND_CONTROL, 0, 0, 0,
            ProtocolVersion.MAX_FRAME_LENGTH, "raw-test"));
        final byte[] openPush = bytes(OpenFlyweight.encode(alloc, OpenFlyweight.DIRECTION_PUSH, 1, 0, 0, MODULE, "", ""));
        return Stream.of(
            Arguments.of("http request", List.of("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
                .getBytes(StandardCharsets.US_ASCII)), List.of(), ErrorCode.FRAME_TOO_LONG),
            Arguments.of("zeros", List.of(new byte[64]), List.of(), ErrorCode.PROTOCOL_ERROR),
            Arguments.of("oversize length", List.of(header(0x7fffffff, Flyweight.FRAME_VERSION, FrameType.HELLO)),
                List.of(), ErrorCode.FRAME_TOO_LONG),
            Arguments.of("unknown type", List.of(header(8, Flyweight.FRAME_VERSION, 99)), List.of(),
                ErrorCode.UNKNOWN_FRAME_TYPE),
            Arguments.of("unknown frame version", List.of(header(8, 7, FrameType.PING)), List.of(),
                ErrorCode.UNSUPPORTED_VERSION),
            Arguments.of("FILE_ENTRY before OPEN", List.of(hello, fileEntry("a.txt")), List.of(FrameType.WELCOME),
                ErrorCode.UNEXPECTED_FRAME),
            Arguments.of("OPEN before HELLO", List.of(openPush), List.of(), ErrorCode.UNEXPECTED_FRAME),
            Arguments.of("second HELLO", List.of(hello, hello), List.of(FrameType.WELCOME),
                ErrorCode.UNEXPECTED_FRAME),
            Arguments.of("FILE_ENTRY ../evil", List.of(hello, openPush, fileEntry("../evil")),
                List.of(FrameType.WELCOME, FrameType.OPEN_ACK), ErrorCode.INVALID_PATH),
            Arguments.of("FILE_ENTRY a/../../evil", List.of(hello, openPush, fileEntry("a/../../evil")),
                List.of(FrameType.WELCOME, FrameType.OPEN_ACK), ErrorCode.INVALID_PATH),
            Arguments.of("FILE_ENTRY absolute", List.of(hello, openPush, fileEntry(ABSOLUTE_EVIL)),
                List.of(FrameType.WELCOME, FrameType.OPEN_ACK), ErrorCode.INVALID_PATH));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("malformedSessions")
    void shouldAnswerMalformedInputWithErrorAndClose(
        final String name, final List<byte[]> sent, final List<Integer> expectedBefore, final ErrorCode expected)
        throws Exception
    {
        final Set<String> before = tree(work);

        final RawSession session = rawSession(TlsContexts.client(alice.certificate(), alice.privateKey(),
            pki.caCertificate()), sent);
        assertTrue(session.handshakeSucceeded(), () -> "TLS with a trusted certificate failed: " + session);
        final List<ReceivedFrame> frames = session.frames();

        assertEquals(expectedBefore.size() + 1, frames.size(), () -> name + ": " + frames);
        for (int i = 0; i < expectedBefore.size(); i++)
        {
            assertEquals(expectedBefore.get(i), frames.get(i).type(), () -> name + ": " + frames);
        }
        final ReceivedFrame error = frames.get(frames.size() - 1);
        assertEquals(FrameType.ERROR, error.type(), () -> name + ": " + frames);
        assertEquals(expected.code(), error.code(), () -> name + ": " + error);
        assertEquals(ErrorFlyweight.CONNECTION, error.fileId(), () -> name + ": " + error);
        assertFalse(error.message().isEmpty());

        assertEquals(before, tree(work), "nothing may be created anywhere");
        assertTrue(Files.notExists(work.resolve("evil")));
        assertTrue(Files.notExists(Path.of(ABSOLUTE_EVIL)));
        assertGoodClientStillServed();
    }

    private static byte[] header(final int length, final int version, final int type)
    {
        final ByteBuf buf = Unpooled.buffer(8);
        buf.writeInt(length).writeByte(version).writeByte(type).writeShort(0);
        return bytes(buf);
    }

    private static byte[] fileEntry(final String path)
    {
        return bytes(FileEntryFlyweight.encode(UnpooledByteBufAllocator.DEFAULT, 0, FileEntryFlyweight.TYPE_FILE,
            0644, 5, System.currentTimeMillis() * 1_000_000L, path, ""));
    }

    private static byte[] bytes(final ByteBuf buf)
    {
        try
        {
            final byte[] bytes = new byte[buf.readableBytes()];
            buf.readBytes(bytes);
            return bytes;
        }
        finally
        {
            buf.release();
        }
    }

    /** One frame the agent sent, decoded. */
    record ReceivedFrame(int type, int code, int fileId, String message)
    {
        @Override
        public String toString()
        {
            return FrameType.name(type) + (type == FrameType.ERROR ?
                "(" + ErrorCode.get(code) + ", file " + fileId + ", '" + message + "')" : "");
        }
    }

    /** What a raw TLS connection received before the agent closed it. */
    record RawSession(boolean handshakeSucceeded, List<ReceivedFrame> frames, List<Throwable> failures)
    {
    }

    /**
     * Connect over TLS, send the chunks as they are once the handshake completed, and collect what the agent sends
     * until it closes the connection.
     */
    private RawSession rawSession(final SslContext sslContext, final List<byte[]> chunks) throws Exception
    {
        final Transports transports = Transports.select(AgentConfig.Transport.AUTO);
        final EventLoopGroup group = transports.newGroup(1, new DefaultThreadFactory("raw-tls-client", true));
        final ByteArrayOutputStream received = new ByteArrayOutputStream();
        final List<Throwable> failures = new CopyOnWriteArrayList<>();
        final boolean handshakeSucceeded;
        try
        {
            final Bootstrap bootstrap = new Bootstrap()
                .group(group)
                .channel(transports.clientChannel())
                .handler(new ChannelInitializer<Channel>()
                {
                    @Override
                    protected void initChannel(final Channel channel)
                    {
                        channel.pipeline()
                            .addLast("tls", sslContext.newHandler(channel.alloc(), "localhost", agent.port()))
                            .addLast("collect", new ChannelInboundHandlerAdapter()
                            {
                                @Override
                                public void channelRead(final ChannelHandlerContext ctx, final Object msg)
                                {
                                    final ByteBuf buf = (ByteBuf)msg;
                                    try
                                    {
                                        synchronized (received)
                                        {
                                            buf.readBytes(received, buf.readableBytes());
                                        }
                                    }
                                    catch (final IOException ex)
                                    {
                                        throw new IllegalStateException(ex);
                                    }
                                    finally
                                    {
                                        buf.release();
                                    }
                                }

                                @Override
                                public void exceptionCaught(final ChannelHandlerContext ctx, final Throwable cause)
                                {
                                    failures.add(cause);
                                    ctx.close();
                                }
                            });
                    }
                });
            final Channel channel = bootstrap.connect(new InetSocketAddress("127.0.0.1", agent.port())).sync()
                .channel();
            final Future<Channel> handshake = channel.pipeline().get(SslHandler.class).handshakeFuture();
            assertTrue(handshake.await(TIMEOUT_MS, TimeUnit.MILLISECONDS), "TLS handshake did not end");
            handshakeSucceeded = handshake.isSuccess();
            if (handshakeSucceeded)
            {
                for (final byte[] chunk : chunks)
                {
                    final ChannelFuture write = channel.writeAndFlush(Unpooled.wrappedBuffer(chunk));
                    write.await(TIMEOUT_MS, TimeUnit.MILLISECONDS);
                    if (write.cause() != null)
                    {
                        failures.add(write.cause());
                    }
                }
            }
            else
            {
                failures.add(handshake.cause());
            }
            assertTrue(channel.closeFuture().await(TIMEOUT_MS, TimeUnit.MILLISECONDS),
                "the agent must close the connection");
        }
        finally
        {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }

        final byte[] bytes;
        synchronized (received)
        {
            bytes = received.toByteArray();
        }
        return new RawSession(handshakeSucceeded, decode(bytes), List.copyOf(failures));
    }

    private static List<ReceivedFrame> decode(final byte[] bytes)
    {
        final EmbeddedChannel decoder = new EmbeddedChannel(new FrameDecoder(ProtocolVersion.MAX_FRAME_LENGTH));
        final List<ReceivedFrame> frames = new ArrayList<>();
        try
        {
            decoder.writeInbound(Unpooled.wrappedBuffer(bytes));
            ByteBuf frame;
            while ((frame = decoder.readInbound()) != null)
            {
                try
                {
                    final int type = FrameDecoder.type(frame);
                    if (type == FrameType.ERROR)
                    {
                        final ErrorFlyweight error = new ErrorFlyweight();
                        error.wrap(frame, frame.readerIndex());
                        frames.add(new ReceivedFrame(type, error.code(), error.fileId(), error.message()));
                    }
                    else
                    {
                        frames.add(new ReceivedFrame(type, 0, 0, ""));
                    }
                }
                finally
                {
                    frame.release();
                }
            }
        }
        finally
        {
            decoder.finishAndReleaseAll();
        }
        return frames;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // existing destinations

    @Test
    void shouldRefuseDifferingDestinationUnlessOverwriteAndSkipIdenticalFiles() throws Exception
    {
        final Path tree = work.resolve("src/tree");
        writeFile(tree.resolve("a.txt"), "alpha");
        writeFile(tree.resolve("b.txt"), "bravo");
        writeFile(tree.resolve("sub/c.txt"), "charlie");
        final Path destination = moduleRoot.resolve("dest/tree");

        try (XferClient client = new XferClient(pki.options(alice)))
        {
            final TransferReport first = client.push(endpoint("dest"), List.of(tree.toString()), TransferListener.NONE);
            assertEquals(5, first.committed(), first::toString);
            assertTrue(first.complete(), first::toString);

            final byte[] changed = "changed at the destination, longer".getBytes(StandardCharsets.UTF_8);
            Files.write(destination.resolve("a.txt"), changed);

            final TransferReport second = client.push(endpoint("dest"), List.of(tree.toString()),
                TransferListener.NONE);
            assertEquals(1, second.refused(), second::toString);
            assertEquals(ErrorCode.EXISTS, second.firstError(), second::toString);
            assertEquals(4, second.skipped(), "two identical files and two existing directories: " + second);
            assertEquals(0, second.committed(), second::toString);
            assertArrayEquals(changed, Files.readAllBytes(destination.resolve("a.txt")));
        }

        try (XferClient client = new XferClient(pki.options(alice).overwrite(true)))
        {
            final TransferReport third = client.push(endpoint("dest"), List.of(tree.toString()), TransferListener.NONE);
            assertEquals(1, third.committed(), third::toString);
            assertEquals(4, third.skipped(), third::toString);
            assertTrue(third.complete(), third::toString);
            assertEquals("alpha", Files.readString(destination.resolve("a.txt")));
        }
        assertNoTemporaryFiles(moduleRoot);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // vanishing sources

    @Test
    void shouldReportFileThatVanishesDuringWalkAndGoOn() throws Exception
    {
        final Path tree = work.resolve("src/tree");
        writeFile(tree.resolve("a.txt"), "a");
        writeFile(tree.resolve("b.txt"), "b");
        writeFile(tree.resolve("c.txt"), "c");
        writeFile(tree.resolve("d/e.txt"), "e");
        final List<String> problems = new ArrayList<>();
        final SourceWalker walker = new SourceWalker(List.of(new SourceWalker.Root(tree, "")),
            (path, code, message) -> problems.add(path + " " + code));

        final SourceEntry first = walker.next();
        assertNotNull(first);
        assertEquals("a.txt", first.relativePath());
        Files.delete(tree.resolve("b.txt"));

        final List<String> rest = new ArrayList<>();
        SourceEntry entry;
        for (int i = 0; i < 100 && (entry = walker.next()) != null; i++)
        {
            rest.add(entry.relativePath());
        }
        assertEquals(List.of("c.txt", "d", "d/e.txt"), rest);
        assertEquals(List.of("b.txt " + ErrorCode.SOURCE_VANISHED), problems);
    }

    @Test
    void shouldRefuseMissingSourceBeforeConnecting() throws Exception
    {
        final Path existing = writeFile(work.resolve("src/tree/a.txt"), "a").getParent();
        final String missing = work.resolve("src/missing").toString();
        final int closedPort;
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress()))
        {
            closedPort = socket.getLocalPort();
        }
        try (XferClient client = new XferClient(pki.options(alice)))
        {
            // against a port where nothing listens: NOT_FOUND, not a connection error, proves no connect was tried
            final TransferException offline = assertThrows(TransferException.class, () -> client.push(
                new Endpoint("localhost", closedPort, MODULE, "in"), List.of(existing.toString(), missing),
                TransferListener.NONE));
            assertEquals(ErrorCode.NOT_FOUND, offline.errorCode(), offline::getMessage);

            final TransferException online = assertThrows(TransferException.class,
                () -> client.push(endpoint("in"), List.of(existing.toString(), missing), TransferListener.NONE));
            assertEquals(ErrorCode.NOT_FOUND, online.errorCode(), online::getMessage);
        }
        assertEquals(Set.of(), tree(moduleRoot), "nothing of the existing source may have been sent");
    }

    // ---------------------------------------------------------------------------------------------------------------
    // full disk

    @Test
    void shouldReportNoSpaceAndLeaveNothingBehind() throws Exception
    {
        final Path small = Files.createDirectories(work.resolve("small"));
        assumeTrue(TestTmpfs.mount(small, "16m"), "cannot mount a tmpfs here (not root?)");
        mountPoint = small;

        final Path big = work.resolve("src/big.bin");
        Files.createDirectories(big.getParent());
        final Random random = new Random(7);
        final byte[] block = new byte[1 << 20];
        try (OutputStream out = Files.newOutputStream(big))
        {
            for (int i = 0; i < 32; i++)
            {
                random.nextBytes(block);
                out.write(block);
            }
        }

        agent.close();
        agent = TestAgent.with(pki).module("small", small, Set.of("alice"), Set.of("alice")).start();
        // without resume the partial file goes; with it (the default) it stays for the next run, which
        // ResumeAfterCrashTest covers
        try (LogCapture audit = new LogCapture(TransferDispatcher.class);
            XferClient client = new XferClient(pki.options(alice).resume(false)))
        {
            final TransferException ex = assertThrows(TransferException.class, () -> client.push(
                new Endpoint("localhost", agent.port(), "small", "in"), List.of(big.toString()),
                TransferListener.NONE));
            assertEquals(ErrorCode.NO_SPACE, ex.errorCode(), ex::getMessage);
            // the agent's verdict, from its audit line
            audit.await(line -> line.contains("failed: NO_SPACE"));
        }

        assertFalse(Files.exists(small.resolve("in/big.bin")), "no file under the final name");
        final long deadlineMs = System.currentTimeMillis() + TIMEOUT_MS;
        while (!temporaryFiles(small).isEmpty() && System.currentTimeMillis() < deadlineMs)
        {
            Thread.sleep(20);
        }
        assertNoTemporaryFiles(small);
        assertGoodClientStillServedOn("small", small);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // helpers

    private Endpoint endpoint(final String path)
    {
        return new Endpoint("localhost", agent.port(), MODULE, path);
    }

    private void assertGoodClientStillServed() throws Exception
    {
        assertGoodClientStillServedOn(MODULE, moduleRoot);
    }

    private void assertGoodClientStillServedOn(final String module, final Path root) throws Exception
    {
        final String name = "good-" + System.nanoTime() + ".txt";
        final Path source = writeFile(work.resolve("good/" + name), "still serving");
        try (XferClient client = new XferClient(pki.options(alice)))
        {
            assertEquals(1, client.ping(new Endpoint("localhost", agent.port(), "", ""), 1, 0)
                .roundTripsNs().length);
            final TransferReport report = client.push(new Endpoint("localhost", agent.port(), module, "good"),
                List.of(source.toString()), TransferListener.NONE);
            assertTrue(report.complete(), report::toString);
            assertEquals(1, report.committed(), report::toString);
        }
        assertEquals("still serving", Files.readString(root.resolve("good/" + name)));
    }

    private static Path writeFile(final Path file, final String content) throws IOException
    {
        Files.createDirectories(file.getParent());
        Files.writeString(file, content);
        return file;
    }

    /** Every path under {@code root}, relative, without following symlinks. */
    private static Set<String> tree(final Path root) throws IOException
    {
        final Set<String> paths = new TreeSet<>();
        try (Stream<Path> walk = Files.walk(root))
        {
            walk.filter(path -> !path.equals(root)).forEach(path -> paths.add(root.relativize(path).toString()));
        }
        return paths;
    }

    private static List<Path> temporaryFiles(final Path root) throws IOException
    {
        try (Stream<Path> walk = Files.walk(root))
        {
            return walk.filter(path -> path.getFileName().toString().endsWith(".part")).toList();
        }
    }

    private static void assertNoTemporaryFiles(final Path root) throws IOException
    {
        assertEquals(List.of(), temporaryFiles(root), "temporary files left behind");
    }
}
