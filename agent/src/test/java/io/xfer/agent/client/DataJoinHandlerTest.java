package io.xfer.agent.client;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.xfer.agent.engine.FrameConnection;
import io.xfer.agent.engine.Inbox;
import io.xfer.agent.engine.TransferException;
import io.xfer.agent.net.AgentServer;
import io.xfer.protocol.ErrorCode;
import io.xfer.protocol.ErrorFlyweight;
import io.xfer.protocol.FrameDecoder;
import io.xfer.protocol.FrameType;
import io.xfer.protocol.HelloFlyweight;
import io.xfer.protocol.PingFlyweight;
import io.xfer.protocol.ProtocolVersion;
import io.xfer.protocol.WelcomeFlyweight;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SSLHandshakeException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The client's side of a data connection's join, frame by frame through the real decoder: HELLO with the session
 * id (at once in plaintext, after the TLS handshake otherwise), the hand-over to a {@link FrameConnection} on
 * WELCOME, and every way a join ends without one, including a WELCOME that comes after the client gave up.
 */
class DataJoinHandlerTest
{
    private static final long SESSION_HIGH = 0x0123_4567_89AB_CDEFL;
    private static final long SESSION_LOW = 0x7EDC_BA98_7654_3210L;
    private static final long CAPABILITIES = 0b1011;

    private final List<FrameConnection> attached = new ArrayList<>();

    @Test
    void shouldSendHelloAtOnceInPlaintextAndHandOverOnWelcome() throws Exception
    {
        final DataJoinHandler handler = handler(false);
        final EmbeddedChannel channel = channel(handler);

        final HelloFlyweight hello = new HelloFlyweight();
        final ByteBuf sent = channel.readOutbound();
        try
        {
            hello.wrap(sent, sent.readerIndex());
            assertEquals(HelloFlyweight.KIND_DATA, hello.connectionKind());
            assertEquals(SESSION_HIGH, hello.sessionIdHigh());
            assertEquals(SESSION_LOW, hello.sessionIdLow());
            assertEquals(CAPABILITIES, hello.capabilities());
            assertEquals(ProtocolVersion.MAX_FRAME_LENGTH, hello.maxFrameLength());
        }
        finally
        {
            sent.release();
        }

        channel.writeInbound(welcome(64 * 1024));
        final FrameConnection connection = handler.joined().getNow(null);
        assertTrue(connection != null, "joined");
        assertEquals(List.of(connection), attached, "attached once, before the join completed");
        assertSame(connection, channel.pipeline().get("session"), "the connection took the handler's place");
        assertNull(channel.pipeline().get(DataJoinHandler.class));
        assertEquals(64 * 1024, channel.pipeline().get(FrameDecoder.class).maxFrameLength(),
            "the agent's smaller frame limit applies from now on");
        assertTrue(channel.isOpen());
        channel.finishAndReleaseAll();
    }

    @Test
    void shouldWaitForTheTlsHandshakeBeforeSayingHello()
    {
        final DataJoinHandler handler = handler(true);
        final EmbeddedChannel channel = channel(handler);
        assertNull(channel.readOutbound(), "nothing before the TLS handshake");

        channel.pipeline().fireUserEventTriggered(SslHandshakeCompletionEvent.SUCCESS);
        final ByteBuf sent = channel.readOutbound();
        assertEquals(FrameType.HELLO, FrameDecoder.type(sent));
        sent.release();
        assertFalse(handler.joined().isDone(), "joined only on WELCOME");
        channel.finishAndReleaseAll();
    }

    @Test
    void shouldFailTheJoinWhenTheTlsHandshakeFails()
    {
        final DataJoinHandler handler = handler(true);
        final EmbeddedChannel channel = channel(handler);

        channel.pipeline().fireUserEventTriggered(
            new SslHandshakeCompletionEvent(new SSLHandshakeException("certificate unknown")));
        final TransferException failure = failure(handler);
        assertTrue(failure.getMessage().contains("TLS handshake of a data connection failed: certificate unknown"),
            failure::toString);
        assertNull(channel.readOutbound(), "no HELLO");
        assertFalse(channel.isOpen());
        assertEquals(List.of(), attached);
    }

    @Test
    void shouldCloseAWelcomeThatComesAfterTheClientGaveUpOnTheJoin() throws Exception
    {
        final DataJoinHandler handler = handler(false);
        final EmbeddedChannel channel = channel(handler);
        releaseOutbound(channel);

        // what the client's connect timeout does to a join that has not completed
        final CompletableFuture<FrameConnection> timedOut = handler.joined().orTimeout(1, TimeUnit.NANOSECONDS);
        final CompletionException timeout = assertThrows(CompletionException.class, timedOut::join);
        assertInstanceOf(TimeoutException.class, timeout.getCause());

        channel.writeInbound(welcome(ProtocolVersion.MAX_FRAME_LENGTH));
        assertFalse(channel.isOpen(), "closed, not attached to a transfer that counts it as not joined");
        assertEquals(List.of(), attached);
        assertNull(channel.pipeline().get("session"));
        channel.finishAndReleaseAll();
    }

    @Test
    void shouldFailTheJoinWithTheAgentsReasonWhenRefused()
    {
        final DataJoinHandler handler = handler(false);
        final EmbeddedChannel channel = channel(handler);
        releaseOutbound(channel);

        channel.writeInbound(ErrorFlyweight.encode(ByteBufAllocator.DEFAULT, ErrorCode.UNKNOWN_SESSION,
            ErrorFlyweight.CONNECTION, AgentServer.TRANSFER_ENDED));
        final TransferException failure = failure(handler);
        assertEquals(ErrorCode.UNKNOWN_SESSION, failure.errorCode());
        assertTrue(failure.getMessage().contains(AgentServer.TRANSFER_ENDED), failure::toString);
        assertFalse(channel.isOpen());
        assertEquals(List.of(), attached);
    }

    @Test
    void shouldFailTheJoinOnAnyOtherFrame()
    {
        final DataJoinHandler handler = handler(false);
        final EmbeddedChannel channel = channel(handler);
        releaseOutbound(channel);

        channel.writeInbound(PingFlyweight.encode(ByteBufAllocator.DEFAULT, FrameType.PONG, 1, 2));
        final TransferException failure = failure(handler);
        assertEquals(ErrorCode.UNEXPECTED_FRAME, failure.errorCode());
        assertTrue(failure.getMessage().contains("expected WELCOME on a data connection"), failure::toString);
        assertFalse(channel.isOpen());
    }

    @Test
    void shouldFailTheJoinWhenTheConnectionClosesFirst()
    {
        final DataJoinHandler handler = handler(false);
        final EmbeddedChannel channel = channel(handler);
        releaseOutbound(channel);

        channel.close();
        final TransferException failure = failure(handler);
        assertNull(failure.errorCode(), "a lost connection");
        assertTrue(failure.getMessage().contains("closed before it joined"), failure::toString);
        assertEquals(List.of(), attached);
    }

    private DataJoinHandler handler(final boolean tls)
    {
        return new DataJoinHandler(SESSION_HIGH, SESSION_LOW, CAPABILITIES, tls, new Inbox(1 << 20, 2),
            attached::add);
    }

    private static EmbeddedChannel channel(final DataJoinHandler handler)
    {
        return new EmbeddedChannel(new FrameDecoder(ProtocolVersion.MAX_FRAME_LENGTH), handler);
    }

    private static ByteBuf welcome(final int maxFrameLength)
    {
        return WelcomeFlyweight.encode(ByteBufAllocator.DEFAULT, ProtocolVersion.MAX_SUPPORTED, CAPABILITIES,
            SESSION_HIGH, SESSION_LOW, maxFrameLength, "agent under test");
    }

    private static void releaseOutbound(final EmbeddedChannel channel)
    {
        for (Object message; (message = channel.readOutbound()) != null; )
        {
            ((ByteBuf)message).release();
        }
    }

    private static TransferException failure(final DataJoinHandler handler)
    {
        assertTrue(handler.joined().isCompletedExceptionally(), "the join failed");
        final CompletionException thrown = assertThrows(CompletionException.class, () -> handler.joined().join());
        return assertInstanceOf(TransferException.class, thrown.getCause());
    }
}
