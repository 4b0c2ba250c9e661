package io.xfer.agent.net;

import io.xfer.agent.client.Endpoint;
import io.xfer.agent.client.XferClient;
import io.xfer.agent.engine.TransferException;
import io.xfer.agent.engine.TransferListener;
import io.xfer.agent.engine.TransferReport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The client trusts an agent only when its certificate, from the configured CA, names the host the client dialled:
 * a DNS name for a name, an IP address for an address. A certificate for another name is refused in the handshake,
 * before any frame, and nothing reaches the module.
 */
class AgentIdentityTest
{
    private static final String MODULE = "in";

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
    void shouldAcceptTheAgentByTheNameOrTheAddressItsCertificateNames() throws Exception
    {
        final TestPki pki = TestPki.create(work.resolve("pki"));
        final Path root = Files.createDirectories(work.resolve("module"));
        agent = TestAgent.with(pki).module(MODULE, root, Set.of("alice"), Set.of("alice")).start();
        final Path file = Files.writeString(work.resolve("hello.txt"), "hello\n");
        // the test agent's certificate names localhost and 127.0.0.1
        for (final String host : List.of("localhost", "LOCALHOST", "127.0.0.1"))
        {
            try (XferClient client = new XferClient(pki.options(pki.client("alice"))))
            {
                final TransferReport report = client.push(new Endpoint(host, agent.port(), MODULE, host),
                    List.of(file.toString()), TransferListener.NONE);
                assertTrue(report.complete(), report::toString);
            }
            assertEquals("hello\n", Files.readString(root.resolve(host).resolve("hello.txt")));
        }
    }

    @Test
    @Timeout(60)
    void shouldRefuseAnAgentWhoseCertificateNamesAnotherHost() throws Exception
    {
        final TestPki pki = TestPki.create(work.resolve("pki"));
        // from the trusted CA, valid, but for other names: a DNS name that is not localhost, an address that is not
        // 127.0.0.1, and a wildcard that needs a label in front of localhost
        final TestPki.Credentials other = pki.server("agent.example.com",
            List.of("agent.example.com", "*.localhost", "localhost.example.com"), List.of("127.0.0.2"));
        final Path root = Files.createDirectories(work.resolve("module"));
        agent = TestAgent.with(pki).module(MODULE, root, Set.of("alice"), Set.of("alice"))
            .configure(config -> config.certificate(other.certificate()).privateKey(other.privateKey()))
            .start();
        final Path file = Files.writeString(work.resolve("secret.txt"), "not for an impostor\n");
        for (final String host : List.of("localhost", "127.0.0.1"))
        {
            try (XferClient client = new XferClient(pki.options(pki.client("alice"))))
            {
                final TransferException refused = assertThrows(TransferException.class, () -> client.push(
                    new Endpoint(host, agent.port(), MODULE, ""), List.of(file.toString()), TransferListener.NONE));
                assertNull(refused.errorCode(), "a failed handshake, not a protocol error: " + refused);
                // the reason, not the engine's "General OpenSslEngine problem"
                assertTrue(refused.getMessage().endsWith("the agent's certificate was refused: it names " +
                    "DNS:agent.example.com, DNS:*.localhost, DNS:localhost.example.com, IP:127.0.0.2, not " + host),
                    refused::toString);
            }
        }
        try (Stream<Path> files = Files.list(root))
        {
            assertEquals(List.of(), files.toList(), "nothing reached the module");
        }
    }
}
