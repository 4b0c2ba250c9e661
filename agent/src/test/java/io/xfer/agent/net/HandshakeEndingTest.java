package io.xfer.agent.net;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.ssl.SslProvider;
import io.xfer.agent.client.Endpoint;
import io.xfer.agent.client.XferClient;
import io.xfer.agent.engine.TransferException;
import io.xfer.agent.engine.TransferListener;
import io.xfer.agent.tls.TlsContexts;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SSLException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the client says when the agent ends the connection between the TLS handshake and WELCOME. With TLS 1.3 the
 * client's side of the handshake is complete before the agent has checked the client's certificate, so two different
 * failures meet at the same point: the agent refusing the certificate (it sends an alert) and an agent that stopped
 * there (killed, restarted, out of memory: no alert). The first is a configuration error that a retry cannot fix
 * (exit code TLS), the second is a lost connection that a retry may (exit code CONNECTION); the client must not
 * blame the certificate for the second.
 */
@Timeout(60)
class HandshakeEndingTest
{
    @TempDir
    Path work;

    @Test
    void shouldReportARefusedClientCertificateByItsAlert() throws Exception
    {
        final TestPki pki = TestPki.create(work.resolve("pki"));
        final Path root = Files.createDirectories(work.resolve("module"));
        final Path file = Files.writeString(work.resolve("one.txt"), "one\n");
        // by client: the alert it must get, and the reason the agent must log (once)
        final boolean boringSsl = TlsContexts.provider() == SslProvider.OPENSSL;
        final Map<TestPki.Credentials, String> alerts = new LinkedHashMap<>();
        final Map<TestPki.Credentials, String> logged = new LinkedHashMap<>();
        // a CA of another name: the client has no certificate the agent asks for, and sends none
        final TestPki.Credentials foreign = pki.foreignClient("alice");
        alerts.put(foreign, boringSsl ? "certificate_required" : "bad_certificate");
        logged.put(foreign, "the client sent no certificate (it has none from a CA this agent trusts)");
        // a CA of the same name with another key: the client sends its certificate, which leads to no trusted CA
        final TestPki.Credentials impostor = pki.impostorClient("alice");
        alerts.put(impostor, boringSsl ? "unknown_ca" : "certificate_unknown");
        logged.put(impostor, "the client certificate was refused: ");
        final TestPki.Credentials expired = pki.expiredClient("alice");
        alerts.put(expired, boringSsl ? "certificate_expired" : "certificate_unknown");
        logged.put(expired, "the client certificate was refused: ");
        final List<String> warnings;
        try (LogCapture log = new LogCapture(ServerHandshakeHandler.class))
        {
            try (TestAgent agent = TestAgent.with(pki).module("in", root, Set.of("alice"), Set.of("alice")).start())
            {
                for (final Map.Entry<TestPki.Credentials, String> expected : alerts.entrySet())
                {
                    try (XferClient client = new XferClient(pki.options(expected.getKey())))
                    {
                        final TransferException refused = assertThrows(TransferException.class, () ->
                            client.push(new Endpoint("localhost", agent.port(), "in", ""), List.of(file.toString()),
                            TransferListener.NONE));
                        assertNull(refused.errorCode(), refused::toString);
                        assertTrue(hasSslCause(refused), () -> "a TLS failure: " + refused);
                        assertEquals("the agent refused the client certificate (TLS alert: " + expected.getValue() +
                            ")", refused.getMessage(), () -> expected.getKey() + ": " + refused);
                    }
                    log.await(line -> line.startsWith("TLS handshake with ") &&
                        line.contains(" failed: " + logged.get(expected.getKey())));
                }
            }
            warnings = log.warnings();
        }
        // one warning per refusal, with its reason; the engine's exception that follows it is not another
        assertEquals(3, warnings.size(), warnings::toString);
        assertEquals(List.of(), List.of(root.toFile().list()));
    }

    /** An agent process killed after the handshake: its kernel closes the connection, with no TLS close_notify. */
    @Test
    void shouldNotBlameTheCertificateWhenTheAgentClosesWithoutAnAlert() throws Exception
    {
        assertConnectionLostAfterHandshake(Ending.CLOSE_WITHOUT_NOTIFY);
    }

    /** The same with a reset, which is what a killed process's socket sends when the client's HELLO was unread. */
    @Test
    void shouldNotBlameTheCertificateWhenTheAgentResetsTheConnection() throws Exception
    {
        assertConnectionLostAfterHandshake(Ending.RESET);
    }

    /** An agent that shut its TLS session down cleanly (close_notify) before answering. */
    @Test
    void shouldNotBlameTheCertificateWhenTheAgentClosesCleanly() throws Exception
    {
        assertConnectionLostAfterHandshake(Ending.CLOSE_NOTIFY);
    }

    private enum Ending
    {
        CLOSE_NOTIFY, CLOSE_WITHOUT_NOTIFY, RESET
    }

    private void assertConnectionLostAfterHandshake(final Ending ending) throws Exception
    {
        final TestPki pki = TestPki.create(work.resolve("pki"));
        final SslContext server = TlsContexts.server(pki.agentCertificate(), pki.agentKey(), pki.caCertificate(),
            true);
        final Path file = Files.writeString(work.resolve("one.txt"), "one\n");
        final AtomicInteger handshakes = new AtomicInteger();
        final EventLoopGroup group = new NioEventLoopGroup(1);
        try
        {
            final Channel listener = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>()
                {
                    @Override
                    protected void initChannel(final SocketChannel channel)
                    {
                        channel.pipeline().addLast(server.newHandler(channel.alloc()), new EndAfterHandshake(
                            ending, handshakes));
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
            final int port = ((InetSocketAddress)listener.localAddress()).getPort();
            try (XferClient client = new XferClient(pki.options(pki.client("alice"))))
            {
                final TransferException lost = assertThrows(TransferException.class, () -> client.push(
                    new Endpoint("localhost", port, "in", ""), List.of(file.toString()), TransferListener.NONE));
                assertEquals(1, handshakes.get(), "the handshake completed on the server");
                assertNull(lost.errorCode(), lost::toString);
                assertFalse(hasSslCause(lost), () -> "a lost connection, not a TLS failure: " + lost);
                assertFalse(lost.getMessage().startsWith("the agent refused"), lost::getMessage);
                assertTrue(lost.getMessage().startsWith("the agent closed the connection after the TLS handshake " +
                    "without answering"), lost::getMessage);
            }
            listener.close().sync();
        }
        finally
        {
            group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    private static boolean hasSslCause(final Throwable failure)
    {
        for (Throwable t = failure; t != null; t = t.getCause())
        {
            if (t instanceof SSLException)
            {
                return true;
            }
        }
        return false;
    }

    /** Ends each connection as soon as the server's side of the handshake succeeded, before any frame. */
    private static final class EndAfterHandshake extends ChannelInboundHandlerAdapter
    {
        private final Ending ending;
        private final AtomicInteger handshakes;

        EndAfterHandshake(final Ending ending, final AtomicInteger handshakes)
        {
            this.ending = ending;
            this.handshakes = handshakes;
        }

        @Override
        public void userEventTriggered(final ChannelHandlerContext ctx, final Object evt)
        {
            if (evt instanceof SslHandshakeCompletionEvent completion && completion.isSuccess())
            {
                handshakes.incrementAndGet();
                switch (ending)
                {
                    case CLOSE_NOTIFY -> ctx.close();
                    case CLOSE_WITHOUT_NOTIFY -> ctx.channel().unsafe().closeForcibly();
                    case RESET ->
                    {
                        ctx.channel().config().setOption(ChannelOption.SO_LINGER, 0);
                        ctx.channel().unsafe().closeForcibly();
                    }
                }
            }
        }
    }
}
