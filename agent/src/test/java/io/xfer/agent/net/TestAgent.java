package io.xfer.agent.net;

import io.xfer.agent.client.Endpoint;
import io.xfer.agent.client.XferClient;
import io.xfer.agent.config.AgentConfig;
import io.xfer.agent.engine.TransferException;
import io.xfer.agent.engine.TransferListener;
import io.xfer.agent.engine.TransferReport;
import io.xfer.protocol.ErrorCode;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * A real {@link AgentServer} in this JVM, listening on an ephemeral loopback port with certificates from a
 * {@link TestPki}. Build it with modules and rights, then {@link #start()}; close it to stop.
 */
final class TestAgent implements AutoCloseable
{
    private final TestPki pki;
    private final AgentConfig config;
    private AgentServer server;
    private InetSocketAddress address;

    private TestAgent(final TestPki pki)
    {
        this.pki = pki;
        this.config = new AgentConfig()
            .listen("127.0.0.1:0")
            .certificate(pki.agentCertificate())
            .privateKey(pki.agentKey())
            .ca(pki.caCertificate())
            .handshakeTimeoutNs(Duration.ofSeconds(10).toNanos())
            .idleTimeoutNs(Duration.ofSeconds(20).toNanos());
    }

    static TestAgent with(final TestPki pki)
    {
        return new TestAgent(pki);
    }

    /**
     * Add a module; identities are client certificate names, {@code "*"} for any trusted client.
     */
    TestAgent module(final String name, final Path root, final Set<String> readers, final Set<String> writers)
    {
        config.addModule(name, root, "test module " + name, readers, writers);
        return this;
    }

    /** Change any other setting before the start. */
    TestAgent configure(final Consumer<AgentConfig> change)
    {
        change.accept(config);
        return this;
    }

    /**
     * Conclude the configuration, bind and start serving.
     */
    TestAgent start() throws IOException, InterruptedException
    {
        config.conclude();
        server = new AgentServer(config);
        try
        {
            address = server.start();
        }
        catch (final RuntimeException | InterruptedException ex)
        {
            server.close();
            throw ex;
        }
        return this;
    }

    int port()
    {
        return address.getPort();
    }

    TestPki pki()
    {
        return pki;
    }

    AgentServer server()
    {
        return server;
    }

    /** @return {@code xfer://localhost:PORT/module/path}. */
    String url(final String module, final String path)
    {
        return "xfer://localhost:" + port() + "/" + module + (path.isEmpty() ? "" : "/" + path);
    }

    /**
     * Run a push again after an interrupted one. While the agent still holds the interrupted attempt's journal (it
     * notices the dead connection a moment after the client) the OPEN is refused as busy: try again, a bounded
     * number of times.
     */
    static TransferReport pushWhenFree(final XferClient client, final Endpoint endpoint, final Path source)
        throws Exception
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return client.push(endpoint, List.of(source.toString()), TransferListener.NONE);
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

    @Override
    public void close()
    {
        if (server != null)
        {
            server.close();
            server = null;
        }
    }
}
