package io.xfer.agent.tls;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslCloseCompletionEvent;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.xfer.agent.config.AgentConfig;
import io.xfer.agent.net.Transports;
import io.xfer.protocol.DataFlyweight;
import io.xfer.protocol.FrameDecoder;
import io.xfer.protocol.FrameType;
import io.xfer.protocol.PingFlyweight;
import io.xfer.protocol.ProtocolVersion;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The record layer over real TLS 1.3 (BoringSSL) on loopback sockets: it takes over from SslHandler after the
 * handshake, carries messages of every size and shape intact both ways, completes write promises in order once
 * their bytes are written, sends close_notify on close, refuses damaged records without passing on a byte of them,
 * and steps aside for the JDK provider.
 */
class TlsRecordLayerTest
{
    private static final long WAIT_S = 30;

    @TempDir
    static Path dir;

    private static IssuedCertificate server;
    private static IssuedCertificate client;
    private static X509Certificate caCertificate;

    private final EventLoopGroup group =
        Transports.select(AgentConfig.Transport.AUTO).newGroup(2, task ->
        {
            final Thread thread = new Thread(task, "record-layer-test");
            thread.setDaemon(true);
            return thread;
        });
    private final Transports transports = Transports.select(AgentConfig.Transport.AUTO);
    private final List<Channel> channels = new ArrayList<>();

    @BeforeAll
    static void certificates()
    {
        final CertificateAuthority ca = CertificateAuthority.create("record layer test CA", Duration.ofDays(1));
        caCertificate = ca.certificate();
        server = ca.issue("localhost", List.of("localhost"), List.of("127.0.0.1"), CertificateAuthority.Usage.SERVER,
            Duration.ofDays(1));
        client = ca.issue("alice", List.of(), List.of(), CertificateAuthority.Usage.CLIENT, Duration.ofDays(1));
    }

    @AfterEach
    void close()
    {
        for (final Channel channel : channels)
        {
            channel.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Test
    void bothDirectionsCarryEveryMessageShapeIntact() throws Exception
    {
        final Pair pair = connect(SslProvider.OPENSSL);
        assertTookOver(pair.client);
        assertTookOver(pair.server);
        final long sent = exchangeAndVerify(pair, 1, 2);
        assertTrue(sent > 8 << 20, "a few MiB each way: " + sent);
    }

    @Test
    void applicationDataGoesThroughBoringSslsOwnCallsWithoutTheEnginesApi() throws Exception
    {
        assertTrue(DirectRecords.available(), "this JVM and Netty allow the direct calls");
        final Pair pair = connect(SslProvider.OPENSSL);
        assertTookOver(pair.client);
        assertTookOver(pair.server);
        final TlsRecordLayer clientLayer = pair.client.pipeline().get(TlsRecordLayer.class);
        final TlsRecordLayer serverLayer = pair.server.pipeline().get(TlsRecordLayer.class);
        assertTrue(pair.client.eventLoop().submit(clientLayer::isDirect).get());
        assertTrue(pair.server.eventLoop().submit(serverLayer::isDirect).get());

        exchangeAndVerify(pair, 3, 4);
        // the server's session tickets went out ahead of its first records; nothing needed the engine's API
        assertEquals(0L, pair.client.eventLoop().submit(clientLayer::engineCalls).get(), "client engine calls");
        assertEquals(0L, pair.server.eventLoop().submit(serverLayer::engineCalls).get(), "server engine calls");
    }

    @Test
    void withTheDirectCallsSwitchedOffTheEnginesApiCarriesTheData() throws Exception
    {
        final Pair pair = connectTakenOver(true);
        final TlsRecordLayer serverLayer = pair.server.pipeline().get(TlsRecordLayer.class);
        assertFalse(pair.server.eventLoop().submit(serverLayer::isDirect).get());
        exchangeAndVerify(pair, 3, 4);
        assertTrue(pair.server.eventLoop().submit(serverLayer::engineCalls).get() > 0);
    }

    @Test
    void aKeyUpdateFromThePeerIsAnsweredInOrderAndDataGoesOnIntactBothWays() throws Exception
    {
        // the JDK's engine sends a KeyUpdate asking for one back when beginHandshake() is called on an established
        // TLS 1.3 connection; BoringSSL reads it within the server's direct reads and queues its answer, which must
        // go out before any record under the server's new keys, or the client cannot decrypt them
        final Pair pair = connect(SslProvider.OPENSSL, SslProvider.JDK, channel ->
        {
        }, false);
        assertTookOver(pair.server);
        final TlsRecordLayer serverLayer = pair.server.pipeline().get(TlsRecordLayer.class);
        assertTrue(pair.server.eventLoop().submit(serverLayer::isDirect).get());
        final Random random = new Random(33);
        final MessageDigest toServer = MessageDigest.getInstance("SHA-256");
        final MessageDigest toClient = MessageDigest.getInstance("SHA-256");
        long toServerBytes = 0;
        long toClientBytes = 0;
        // one exchange first, which takes the server's session tickets out of the way of the record counts
        final byte[] first = bytes(random, 1000);
        toServer.update(first);
        toServerBytes += first.length;
        toClient.update(first);
        toClientBytes += first.length;
        pair.client.writeAndFlush(Unpooled.wrappedBuffer(first)).sync();
        pair.serverSink.awaitBytes(toServerBytes);
        pair.server.writeAndFlush(pair.server.alloc().directBuffer(first.length).writeBytes(first)).sync();
        pair.clientSink.awaitBytes(toClientBytes);
        final RecordCounter serverRecords = new RecordCounter();
        pair.server.pipeline().addFirst("record-counter", serverRecords);
        for (int round = 0; round < 3; round++)
        {
            final byte[] up = bytes(random, (1 << 20) + round);
            toServer.update(up);
            toServerBytes += up.length;
            pair.client.eventLoop().submit(() ->
            {
                pair.client.pipeline().get(SslHandler.class).engine().beginHandshake();
                return pair.client.writeAndFlush(Unpooled.wrappedBuffer(up));
            }).get().sync();
            pair.serverSink.awaitBytes(toServerBytes);

            final byte[] down = bytes(random, (1 << 20) + 3 * round);
            toClient.update(down);
            toClientBytes += down.length;
            final long recordsBefore = serverRecords.records();
            pair.server.writeAndFlush(pair.server.alloc().directBuffer(down.length).writeBytes(down)).sync();
            pair.clientSink.awaitBytes(toClientBytes);
            assertEquals((down.length + TlsRecordLayer.MAX_PLAINTEXT - 1) / TlsRecordLayer.MAX_PLAINTEXT + 1,
                serverRecords.records() - recordsBefore, "the data's records and the key update's answer");
        }
        assertArrayEquals(toServer.digest(), pair.serverSink.digest(), "client to server");
        assertArrayEquals(toClient.digest(), pair.clientSink.digest(), "server to client");
        assertNull(pair.serverSink.failure.get());
        assertNull(pair.clientSink.failure.get());
        assertTrue(pair.server.eventLoop().submit(serverLayer::isDirect).get());
    }

    /** Counts the TLS records written to the socket, from their headers. */
    private static final class RecordCounter extends io.netty.channel.ChannelOutboundHandlerAdapter
    {
        private final byte[] header = new byte[5];
        private int headerBytes;
        private int bodyLeft;
        private long records;

        @Override
        public void write(final ChannelHandlerContext ctx, final Object msg, final ChannelPromise promise)
        {
            if (msg instanceof ByteBuf buffer)
            {
                for (int i = buffer.readerIndex(); i < buffer.writerIndex(); )
                {
                    if (bodyLeft > 0)
                    {
                        final int skip = Math.min(bodyLeft, buffer.writerIndex() - i);
                        bodyLeft -= skip;
                        i += skip;
                        continue;
                    }
                    header[headerBytes++] = buffer.getByte(i++);
                    if (headerBytes == header.length)
                    {
                        headerBytes = 0;
                        bodyLeft = (header[3] & 0xff) << 8 | header[4] & 0xff;
                        synchronized (this)
                        {
                            records++;
                        }
                    }
                }
            }
            ctx.write(msg, promise);
        }

        synchronized long records()
        {
            return records;
        }
    }

    /**
     * The seeded mix of messages both ways at once, which must arrive intact.
     *
     * @return the bytes the client sent.
     */
    private static long exchangeAndVerify(final Pair pair, final long clientSeed, final long serverSeed)
        throws Exception
    {
        final Writer fromClient = new Writer(pair.client, clientSeed);
        final Writer fromServer = new Writer(pair.server, serverSeed);
        final Thread clientThread = new Thread(fromClient, "client writes");
        final Thread serverThread = new Thread(fromServer, "server writes");
        clientThread.start();
        serverThread.start();
        clientThread.join(TimeUnit.SECONDS.toMillis(WAIT_S));
        serverThread.join(TimeUnit.SECONDS.toMillis(WAIT_S));
        assertNull(fromClient.failure.get(), "client writes");
        assertNull(fromServer.failure.get(), "server writes");
        pair.serverSink.awaitBytes(fromClient.bytes);
        pair.clientSink.awaitBytes(fromServer.bytes);
        assertArrayEquals(fromClient.digest.digest(), pair.serverSink.digest(), "client to server");
        assertArrayEquals(fromServer.digest.digest(), pair.clientSink.digest(), "server to client");
        assertNull(pair.serverSink.failure.get());
        assertNull(pair.clientSink.failure.get());
        return fromClient.bytes;
    }

    @Test
    void framesDecryptedStraightIntoTheDecoderArriveIntact() throws Exception
    {
        // frames from empty to the largest allowed, starting at any record boundary; the first ones are written
        // the moment the handshake completes, before either side's takeover
        final MessageDigest sent = MessageDigest.getInstance("SHA-256");
        final long[] bytes = new long[1];
        final int[] frames = new int[1];
        final Random random = new Random(9);
        final List<Integer> payloads = new ArrayList<>(Arrays.asList(0, 1, 16_351, 16_352, 16_353, 1 << 20,
            (1 << 20) + 5, ProtocolVersion.MAX_FRAME_LENGTH - DataFlyweight.HEADER_LENGTH));
        for (int i = 0; i < 300; i++)
        {
            payloads.add(i % 60 == 59 ? (1 << 20) : random.nextInt(40_000));
        }
        final Pair pair = connect(SslProvider.OPENSSL, channel ->
        {
            for (int i = 0; i < payloads.size(); i++)
            {
                final int length = payloads.get(i);
                final ByteBuf frame = i % 5 == 4 ?
                    PingFlyweight.encode(channel.alloc(), FrameType.PING, i, i) :
                    DataFlyweight.encodeHeader(channel.alloc(), 0, 1, i, length, 0, length);
                final byte[] header = new byte[frame.readableBytes()];
                frame.getBytes(frame.readerIndex(), header);
                sent.update(header);
                bytes[0] += header.length;
                channel.write(frame);
                if (i % 5 != 4)
                {
                    final byte[] content = bytes(random, length);
                    sent.update(content);
                    bytes[0] += length;
                    channel.write(channel.alloc().directBuffer(length).writeBytes(content));
                }
                frames[0]++;
                if (random.nextInt(6) == 0)
                {
                    channel.flush();
                }
            }
            channel.flush();
        }, true);
        assertTookOver(pair.client);
        assertTookOver(pair.server);
        final long expected = pair.client.eventLoop().submit(() -> bytes[0]).get();
        pair.serverSink.awaitBytes(expected);
        assertArrayEquals(pair.client.eventLoop().submit(() -> sent.digest()).get(), pair.serverSink.digest());
        assertEquals(frames[0], pair.serverSink.messages(), "one message per frame");
        assertNull(pair.serverSink.failure.get());

        // then a damaged record: refused, and nothing after the last good frame is passed on
        pair.client.pipeline().firstContext().writeAndFlush(Unpooled.wrappedBuffer(damagedRecord()));
        assertTrue(pair.serverSink.inactive.await(WAIT_S, TimeUnit.SECONDS), "the server closes");
        assertInstanceOf(DecoderException.class, pair.serverSink.failure.get());
        assertInstanceOf(SSLException.class, pair.serverSink.failure.get().getCause());
        assertEquals(expected, pair.serverSink.bytes());
        assertEquals(frames[0], pair.serverSink.messages());
    }

    @Test
    void aLargeFrameThatArrivesInManyBurstsIsDecryptedOnceItCanBeCompleted() throws Exception
    {
        // 1 MiB frames written in 32 KiB pieces, each flushed on its own and a moment apart, so that the server
        // reads most pieces in a burst of their own: the decoder waits until a frame's rest can be completed instead
        // of having each burst decrypted into it (32 engine calls a frame)
        final int frameCount = 6;
        final int piece = 32 * 1024;
        final Pair pair = connect(SslProvider.OPENSSL, channel ->
        {
        }, true);
        assertTookOver(pair.client);
        assertTookOver(pair.server);
        final TlsRecordLayer serverLayer = pair.server.pipeline().get(TlsRecordLayer.class);
        final long unwrapsBefore = pair.server.eventLoop().submit(serverLayer::unwraps).get();
        final MessageDigest sent = MessageDigest.getInstance("SHA-256");
        final Random random = new Random(21);
        long expected = 0;
        for (int i = 0; i < frameCount; i++)
        {
            final int length = (1 << 20) - random.nextInt(1000);
            final ByteBuf frame = DataFlyweight.encodeHeader(io.netty.buffer.UnpooledByteBufAllocator.DEFAULT, 0, 1, i, length, 0,
                length);
            frame.writeBytes(bytes(random, length));
            final byte[] all = new byte[frame.readableBytes()];
            frame.readBytes(all);
            frame.release();
            sent.update(all);
            expected += all.length;
            for (int offset = 0; offset < all.length; offset += piece)
            {
                final ByteBuf part = Unpooled.wrappedBuffer(all, offset, Math.min(piece, all.length - offset));
                pair.client.eventLoop().submit(() -> pair.client.writeAndFlush(part)).get().sync();
                Thread.sleep(1);
            }
        }
        pair.serverSink.awaitBytes(expected);
        assertEquals(frameCount, pair.serverSink.messages());
        assertArrayEquals(sent.digest(), pair.serverSink.digest());
        assertNull(pair.serverSink.failure.get());
        final long unwraps = pair.server.eventLoop().submit(serverLayer::unwraps).get() - unwrapsBefore;
        // a frame's header comes in one call, its rest in one, sometimes two when a record is cut short
        assertTrue(unwraps <= 3L * frameCount, unwraps + " engine calls for " + frameCount + " frames");
    }

    @Test
    void aReaderThatPausesGetsAtMostOnePassUntilItResumesAndThenEverythingHeld() throws Exception
    {
        pauseWithFramesHeld(false);
    }

    @Test
    void whatAReaderThatPausedHeldIsStillDeliveredWhenThePeerCloses() throws Exception
    {
        pauseWithFramesHeld(true);
    }

    /**
     * Small frames, written at once while the server does not read, then read in one go: the server's reader pauses
     * at the first frame, so the rest is held in the record layer, with nothing more to come from the socket. It
     * must get at most one pass while paused, then every frame intact: when it resumes 200 ms later, or, with
     * {@code close}, when the client closes the connection and it never resumed.
     */
    private void pauseWithFramesHeld(final boolean close) throws Exception
    {
        final int frameCount = 25;
        final Pair pair = connect(SslProvider.OPENSSL, channel ->
        {
        }, true);
        assertTookOver(pair.client);
        assertTookOver(pair.server);
        pair.server.eventLoop().submit(() -> pair.server.config().setAutoRead(false)).get();
        final AtomicLong bytesWhilePaused = new AtomicLong();
        final AtomicInteger frames = new AtomicInteger();
        pair.server.eventLoop().submit(() -> pair.server.pipeline().addBefore("sink", "pauser",
            new ChannelInboundHandlerAdapter()
            {
                @Override
                public void channelRead(final ChannelHandlerContext ctx, final Object msg)
                {
                    if (!ctx.channel().config().isAutoRead() && ctx.channel().isActive())
                    {
                        bytesWhilePaused.addAndGet(((ByteBuf)msg).readableBytes());
                    }
                    if (frames.incrementAndGet() == 1)
                    {
                        ctx.channel().config().setAutoRead(false);
                        if (!close)
                        {
                            ctx.executor().schedule(() -> ctx.channel().config().setAutoRead(true), 200,
                                TimeUnit.MILLISECONDS);
                        }
                    }
                    ctx.fireChannelRead(msg);
                }
            })).get();

        final MessageDigest sent = MessageDigest.getInstance("SHA-256");
        final Random random = new Random(12);
        final long expected = pair.client.eventLoop().submit(() ->
        {
            long bytes = 0;
            // about 100 KB: more than one pass draws, less than loopback's socket buffers hold
            for (int i = 0; i < frameCount; i++)
            {
                final int length = 2_000 + random.nextInt(4_000);
                final ByteBuf frame = DataFlyweight.encodeHeader(pair.client.alloc(), 0, 1, i, length, 0, length);
                frame.writeBytes(bytes(random, length));
                final byte[] all = new byte[frame.readableBytes()];
                frame.getBytes(frame.readerIndex(), all);
                sent.update(all);
                bytes += all.length;
                pair.client.write(frame);
            }
            pair.client.flush();
            return bytes;
        }).get();
        Thread.sleep(200);
        pair.server.eventLoop().execute(() -> pair.server.config().setAutoRead(true));
        if (close)
        {
            // the server reads its burst and pauses; then the client closes, and the server sees the close (a
            // closed connection is read whatever auto-read says)
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
            while (frames.get() == 0 && System.nanoTime() < deadline)
            {
                Thread.sleep(5);
            }
            assertTrue(frames.get() > 0, "the server read the burst");
            pair.client.close().sync();
            assertTrue(pair.serverSink.inactive.await(WAIT_S, TimeUnit.SECONDS), "the server sees the close");
        }

        pair.serverSink.awaitBytes(expected);
        // the pass under way when the reader paused still completes its frames, and no further pass is made
        assertTrue(bytesWhilePaused.get() <= FrameDecoder.PIECE, bytesWhilePaused + " bytes while paused");
        assertEquals(frameCount, pair.serverSink.messages());
        assertArrayEquals(pair.client.eventLoop().submit(() -> sent.digest()).get(), pair.serverSink.digest());
        assertNull(pair.serverSink.failure.get());
    }

    @Test
    void whatIsWrittenAroundTheTakeoverArrivesIntactAndInOrder() throws Exception
    {
        // written the moment the client's handshake completes: the first of it goes through SslHandler, the
        // agent side may read it before its own takeover, and the rest goes through the layer
        final MessageDigest sent = MessageDigest.getInstance("SHA-256");
        final long[] bytes = new long[1];
        final Random random = new Random(5);
        final Pair pair = connect(SslProvider.OPENSSL, channel ->
        {
            for (int i = 0; i < 200; i++)
            {
                final int length = i % 50 == 49 ? (1 << 20) + i : random.nextInt(5000);
                final byte[] content = bytes(random, length);
                sent.update(content);
                bytes[0] += length;
                channel.write(channel.alloc().directBuffer(length).writeBytes(content));
                if (i % 20 == 0)
                {
                    channel.flush();
                }
            }
            channel.flush();
            // and more from another thread while the takeover happens
            channel.eventLoop().execute(() ->
            {
                final byte[] content = bytes(random, 3 << 20);
                sent.update(content);
                bytes[0] += content.length;
                channel.writeAndFlush(Unpooled.wrappedBuffer(content));
            });
        }, false);
        assertTookOver(pair.client);
        assertTookOver(pair.server);
        final long expected = pair.client.eventLoop().submit(() -> bytes[0]).get();
        pair.serverSink.awaitBytes(expected);
        assertArrayEquals(pair.client.eventLoop().submit(() -> sent.digest()).get(), pair.serverSink.digest());
        assertNull(pair.serverSink.failure.get());
    }

    @Test
    void promisesCompleteInOrderAndCloseAfterFlushDeliversEverythingWithCloseNotify() throws Exception
    {
        final Pair pair = connect(SslProvider.OPENSSL);
        assertTookOver(pair.client);
        assertTookOver(pair.server);

        final List<Integer> completed = Collections.synchronizedList(new ArrayList<>());
        final List<ChannelPromise> promises = new ArrayList<>();
        final List<Integer> expected = new ArrayList<>();
        final CountDownLatch listened = new CountDownLatch(51); // 60 messages, 9 of them (i % 7 == 3) without a promise
        final Random random = new Random(7);
        long sent = 0;
        for (int i = 0; i < 60; i++)
        {
            // small ones share a staged record; every tenth is large and goes out with what was staged before it
            final int length = i % 10 == 9 ? (2 << 20) + i : random.nextInt(3000);
            final ByteBuf message = pair.client.alloc().directBuffer(length);
            message.writeBytes(bytes(random, length));
            sent += length;
            if (i % 7 == 3)
            {
                pair.client.write(message, pair.client.voidPromise());
                continue;
            }
            final int index = i;
            final ChannelPromise promise = pair.client.newPromise();
            promise.addListener(f ->
            {
                if (f.isSuccess())
                {
                    completed.add(index);
                }
                listened.countDown();
            });
            promises.add(promise);
            expected.add(i);
            pair.client.write(message, promise);
        }
        pair.client.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);

        for (final ChannelPromise promise : promises)
        {
            assertTrue(promise.await(WAIT_S, TimeUnit.SECONDS));
            assertTrue(promise.isSuccess(), () -> String.valueOf(promise.cause()));
        }
        // waiters wake before listeners run
        assertTrue(listened.await(WAIT_S, TimeUnit.SECONDS));
        assertEquals(expected, new ArrayList<>(completed), "completion order");

        pair.serverSink.awaitBytes(sent);
        assertTrue(pair.serverSink.inactive.await(WAIT_S, TimeUnit.SECONDS), "the server sees the close");
        assertEquals(List.of("close_notify", "inactive"), pair.serverSink.events(), "close_notify came first");
        assertNull(pair.serverSink.failure.get());
    }

    @ParameterizedTest(name = "engine API: {0}")
    @ValueSource(booleans = {false, true})
    void aDamagedRecordIsRefusedNothingOfItIsPassedOnAndThePeerIsToldWhy(final boolean engineApi) throws Exception
    {
        for (final byte[] garbage : List.of(damagedRecord(), "GET / HTTP/1.1\r\n\r\n".getBytes()))
        {
            final Pair pair = connectTakenOver(engineApi);
            pair.client.writeAndFlush(Unpooled.copiedBuffer(new byte[] {'h', 'e', 'l', 'l', 'o'})).sync();
            pair.serverSink.awaitBytes(5);

            // below the record layer: these bytes reach the socket as they are
            pair.client.pipeline().firstContext().writeAndFlush(Unpooled.wrappedBuffer(garbage));

            assertTrue(pair.serverSink.inactive.await(WAIT_S, TimeUnit.SECONDS), "the server closes");
            final Throwable failure = pair.serverSink.failure.get();
            assertInstanceOf(DecoderException.class, failure);
            assertInstanceOf(SSLException.class, failure.getCause());
            assertEquals(5, pair.serverSink.bytes(), "nothing of the damaged record was passed on");
            assertTrue(pair.clientSink.inactive.await(WAIT_S, TimeUnit.SECONDS), "the client sees the close");
            // the server's alert reached the client ahead of the close: bad_record_mac, protocol_version
            final Throwable told = pair.clientSink.failure.get();
            assertNotNull(told, "the client was told why");
            assertInstanceOf(SSLException.class, told.getCause());
            assertTrue(told.getCause().getMessage().contains("ALERT"), told.getCause().getMessage());
        }
    }

    @Test
    void writesAfterTheCloseFailAndReleaseTheirBuffers() throws Exception
    {
        final Pair pair = connect(SslProvider.OPENSSL);
        assertTookOver(pair.client);
        pair.client.close().sync();
        final ByteBuf late = pair.client.alloc().directBuffer(100).writeZero(100);
        final ByteBuf small = pair.client.alloc().directBuffer(10).writeZero(10);
        final ByteBuf large = pair.client.alloc().directBuffer(1 << 20).writeZero(1 << 20);
        assertFalse(pair.client.writeAndFlush(late).await().isSuccess());
        assertFalse(pair.client.writeAndFlush(small).await().isSuccess());
        assertFalse(pair.client.writeAndFlush(large).await().isSuccess());
        assertEquals(0, late.refCnt());
        assertEquals(0, small.refCnt());
        assertEquals(0, large.refCnt());
    }

    @Test
    void withTheJdkProviderTheLayerStepsAsideAndSslHandlerCarriesTheData() throws Exception
    {
        final Pair pair = connect(SslProvider.JDK);
        for (final Channel channel : List.of(pair.client, pair.server))
        {
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
            while (channel.pipeline().get(TlsRecordLayer.class) != null && System.nanoTime() < deadline)
            {
                Thread.sleep(5);
            }
            assertNull(channel.pipeline().get(TlsRecordLayer.class), "the layer removed itself");
            assertNotNull(channel.pipeline().get(SslHandler.class));
        }
        final byte[] payload = bytes(new Random(3), (1 << 20) + 333);
        pair.client.writeAndFlush(Unpooled.wrappedBuffer(payload)).sync();
        pair.serverSink.awaitBytes(payload.length);
        assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(payload), pair.serverSink.digest());
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private static byte[] damagedRecord()
    {
        // an application data record header that promises 64 bytes, then 64 bytes no key produced
        final byte[] record = new byte[5 + 64];
        record[0] = 23;
        record[1] = 3;
        record[2] = 3;
        record[4] = 64;
        final byte[] body = bytes(new Random(11), 64);
        System.arraycopy(body, 0, record, 5, 64);
        return record;
    }

    private static byte[] bytes(final Random random, final int length)
    {
        final byte[] bytes = new byte[length];
        random.nextBytes(bytes);
        return bytes;
    }

    private static void assertTookOver(final Channel channel) throws Exception
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
        while (System.nanoTime() < deadline)
        {
            final boolean active = channel.eventLoop().submit(() ->
            {
                final TlsRecordLayer layer = channel.pipeline().get(TlsRecordLayer.class);
                return layer != null && layer.isActive() && channel.pipeline().get(SslHandler.class) == null;
            }).get();
            if (active)
            {
                return;
            }
            Thread.sleep(5);
        }
        throw new AssertionError("the record layer did not take over " + channel.pipeline().names());
    }

    /** A BoringSSL pair whose record layers took over, with the engine's API ({@code engineApi}) or direct calls. */
    private Pair connectTakenOver(final boolean engineApi) throws Exception
    {
        final Pair pair;
        System.setProperty(DirectRecords.DISABLE_PROPERTY, String.valueOf(engineApi));
        try
        {
            pair = connect(SslProvider.OPENSSL);
            assertTookOver(pair.client);
            assertTookOver(pair.server);
        }
        finally
        {
            System.clearProperty(DirectRecords.DISABLE_PROPERTY);
        }
        return pair;
    }

    private Pair connect(final SslProvider provider) throws Exception
    {
        return connect(provider, channel ->
        {
        }, false);
    }

    /** @param atHandshake run on the client's event loop when its handshake completes, before any takeover. */
    private Pair connect(
        final SslProvider provider, final java.util.function.Consumer<Channel> atHandshake,
        final boolean serverDecodesFrames)
        throws Exception
    {
        return connect(provider, provider, atHandshake, serverDecodesFrames);
    }

    private Pair connect(
        final SslProvider provider, final SslProvider clientProvider,
        final java.util.function.Consumer<Channel> atHandshake, final boolean serverDecodesFrames)
        throws Exception
    {
        final SslContext serverContext = SslContextBuilder.forServer(server.privateKey(), server.certificate())
            .sslProvider(provider)
            .protocols("TLSv1.3")
            .trustManager(caCertificate)
            .clientAuth(ClientAuth.REQUIRE)
            .build();
        final SslContext clientContext = SslContextBuilder.forClient()
            .sslProvider(clientProvider)
            .protocols("TLSv1.3")
            .trustManager(caCertificate)
            .keyManager(client.privateKey(), client.certificate())
            .build();

        final Sink serverSink = new Sink();
        final Sink clientSink = new Sink();
        final CompletableFuture<Channel> accepted = new CompletableFuture<>();
        final CompletableFuture<SslHandler> clientTls = new CompletableFuture<>();
        final Channel listener = new ServerBootstrap()
            .group(group)
            .channel(transports.serverChannel())
            .childOption(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
            .childHandler(new ChannelInitializer<SocketChannel>()
            {
                @Override
                protected void initChannel(final SocketChannel channel)
                {
                    channel.pipeline()
                        .addLast("tls", TlsContexts.tune(serverContext.newHandler(channel.alloc())))
                        .addLast(TlsRecordLayer.NAME, new TlsRecordLayer());
                    if (serverDecodesFrames)
                    {
                        channel.pipeline().addLast("frameDecoder", new FrameDecoder(ProtocolVersion.MAX_FRAME_LENGTH));
                    }
                    channel.pipeline().addLast("sink", serverSink);
                    accepted.complete(channel);
                }
            })
            .bind("127.0.0.1", 0).sync().channel();
        channels.add(listener);
        final int port = ((InetSocketAddress)listener.localAddress()).getPort();
        final Channel clientChannel = new Bootstrap()
            .group(group)
            .channel(transports.clientChannel())
            .option(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
            .handler(new ChannelInitializer<SocketChannel>()
            {
                @Override
                protected void initChannel(final SocketChannel channel)
                {
                    final SslHandler tls =
                        TlsContexts.tune(clientContext.newHandler(channel.alloc(), "localhost", port));
                    clientTls.complete(tls);
                    channel.pipeline()
                        .addLast("tls", tls)
                        .addLast(TlsRecordLayer.NAME, new TlsRecordLayer())
                        .addLast("atHandshake", new ChannelInboundHandlerAdapter()
                        {
                            @Override
                            public void userEventTriggered(final ChannelHandlerContext ctx, final Object evt)
                            {
                                if (evt instanceof io.netty.handler.ssl.SslHandshakeCompletionEvent done &&
                                    done.isSuccess())
                                {
                                    atHandshake.accept(ctx.channel());
                                }
                                ctx.fireUserEventTriggered(evt);
                            }
                        })
                        .addLast("sink", clientSink);
                }
            })
            .connect("127.0.0.1", port).sync().channel();
        channels.add(clientChannel);
        // kept from initChannel: the record layer may already have removed it from the pipeline
        final io.netty.util.concurrent.Future<Channel> handshake =
            clientTls.get(WAIT_S, TimeUnit.SECONDS).handshakeFuture();
        assertTrue(handshake.await(WAIT_S, TimeUnit.SECONDS));
        assertTrue(handshake.isSuccess(), () -> String.valueOf(handshake.cause()));
        final Channel serverChannel = accepted.get(WAIT_S, TimeUnit.SECONDS);
        channels.add(serverChannel);
        return new Pair(serverChannel, clientChannel, serverSink, clientSink);
    }

    private record Pair(Channel server, Channel client, Sink serverSink, Sink clientSink)
    {
    }

    /** Writes a seeded mix of message sizes and buffer kinds, flushing at random points. */
    private static final class Writer implements Runnable
    {
        final Channel channel;
        final Random random;
        final MessageDigest digest;
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        long bytes;

        Writer(final Channel channel, final long seed) throws Exception
        {
            this.channel = channel;
            this.random = new Random(seed);
            this.digest = MessageDigest.getInstance("SHA-256");
        }

        @Override
        public void run()
        {
            try
            {
                final List<Integer> sizes = new ArrayList<>(Arrays.asList(0, 1, 5, 100, 8191, 8192, 16383, 16384,
                    16385, 65536, 1 << 20, (3 << 20) + 7, (4 << 20) + 1));
                for (int i = 0; i < 400; i++)
                {
                    sizes.add(random.nextInt(20_000));
                }
                Collections.shuffle(sizes, random);
                final List<io.netty.channel.ChannelFuture> writes = new ArrayList<>();
                int shape = 0;
                for (final int size : sizes)
                {
                    final byte[] content = bytes(random, size);
                    digest.update(content);
                    bytes += size;
                    final ByteBuf message;
                    switch (shape++ % 3)
                    {
                        case 0 -> message = channel.alloc().directBuffer(size).writeBytes(content);
                        case 1 -> message = Unpooled.wrappedBuffer(content);
                        default ->
                        {
                            final CompositeByteBuf composite = channel.alloc().compositeDirectBuffer();
                            final int half = size / 2;
                            composite.addComponent(true, channel.alloc().directBuffer(half).writeBytes(content, 0,
                                half));
                            composite.addComponent(true, channel.alloc().directBuffer(size - half)
                                .writeBytes(content, half, size - half));
                            message = composite;
                        }
                    }
                    writes.add(channel.write(message));
                    if (random.nextInt(8) == 0)
                    {
                        channel.flush();
                    }
                }
                channel.flush();
                for (final io.netty.channel.ChannelFuture write : writes)
                {
                    if (!write.await(WAIT_S, TimeUnit.SECONDS) || !write.isSuccess())
                    {
                        throw new AssertionError("a write did not complete", write.cause());
                    }
                }
            }
            catch (final Throwable ex)
            {
                failure.set(ex);
            }
        }
    }

    /** Digests what reaches it, and notes close_notify, the close and the first failure. */
    @io.netty.channel.ChannelHandler.Sharable
    private static final class Sink extends ChannelInboundHandlerAdapter
    {
        private final MessageDigest digest;
        private final List<String> events = Collections.synchronizedList(new ArrayList<>());
        private long bytes;
        private int messages;
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final CountDownLatch inactive = new CountDownLatch(1);

        Sink() throws Exception
        {
            digest = MessageDigest.getInstance("SHA-256");
        }

        @Override
        public void channelRead(final ChannelHandlerContext ctx, final Object msg)
        {
            final ByteBuf buffer = (ByteBuf)msg;
            try
            {
                synchronized (this)
                {
                    final byte[] content = new byte[buffer.readableBytes()];
                    buffer.readBytes(content);
                    digest.update(content);
                    bytes += content.length;
                    messages++;
                    notifyAll();
                }
            }
            finally
            {
                buffer.release();
            }
        }

        @Override
        public void userEventTriggered(final ChannelHandlerContext ctx, final Object evt)
        {
            if (evt instanceof SslCloseCompletionEvent close && close.isSuccess())
            {
                events.add("close_notify");
            }
        }

        @Override
        public void exceptionCaught(final ChannelHandlerContext ctx, final Throwable cause)
        {
            failure.compareAndSet(null, cause);
        }

        @Override
        public void channelInactive(final ChannelHandlerContext ctx)
        {
            events.add("inactive");
            inactive.countDown();
        }

        synchronized long bytes()
        {
            return bytes;
        }

        synchronized int messages()
        {
            return messages;
        }

        synchronized byte[] digest()
        {
            return digest.digest();
        }

        List<String> events()
        {
            return new ArrayList<>(events);
        }

        synchronized void awaitBytes(final long expected) throws InterruptedException
        {
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
            while (bytes < expected)
            {
                final long left = deadline - System.nanoTime();
                if (left <= 0)
                {
                    throw new AssertionError("received " + bytes + " of " + expected + " bytes");
                }
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
            assertEquals(expected, bytes, "no more than was sent");
        }
    }
}
