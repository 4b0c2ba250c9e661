package io.xfer.agent.net;

import io.xfer.agent.client.ClientOptions;
import io.xfer.agent.tls.CertificateAuthority;
import io.xfer.agent.tls.IssuedCertificate;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * Certificates for tests, as PEM files in one directory: a CA ({@code ca.crt}), an agent certificate for
 * {@code localhost} and {@code 127.0.0.1}, client certificates by name (the name is the identity module rights
 * use), an expired client certificate and one signed by another CA that the agent does not trust.
 */
final class TestPki
{
    /** A client certificate and its key on disk. */
    record Credentials(Path certificate, Path privateKey)
    {
    }

    private static final Duration VALIDITY = Duration.ofDays(1);
    private static final String CA_NAME = "xfer test CA";

    private final Path dir;
    private final CertificateAuthority ca;
    private final Path caCertificate;
    private final Path agentCertificate;
    private final Path agentKey;
    private CertificateAuthority otherCa;

    private TestPki(final Path dir) throws IOException
    {
        this.dir = Files.createDirectories(dir);
        this.ca = CertificateAuthority.create(CA_NAME, VALIDITY);
        ca.writeTo(dir);
        this.caCertificate = dir.resolve(CertificateAuthority.CERTIFICATE_FILE_NAME);
        this.agentCertificate = dir.resolve("agent.crt");
        this.agentKey = dir.resolve("agent.key");
        ca.issue("localhost", List.of("localhost"), List.of("127.0.0.1"), CertificateAuthority.Usage.SERVER,
            VALIDITY).writeTo(agentCertificate, agentKey);
    }

    /**
     * Create a CA and an agent certificate in {@code dir} (created when missing).
     */
    static TestPki create(final Path dir) throws IOException
    {
        return new TestPki(dir);
    }

    Path dir()
    {
        return dir;
    }

    CertificateAuthority ca()
    {
        return ca;
    }

    Path caCertificate()
    {
        return caCertificate;
    }

    Path agentCertificate()
    {
        return agentCertificate;
    }

    Path agentKey()
    {
        return agentKey;
    }

    /**
     * A valid client certificate whose identity (CN) is {@code name}, written as {@code name.crt} and
     * {@code name.key}.
     */
    Credentials client(final String name) throws IOException
    {
        return write(name, ca.issue(name, List.of(), List.of(), CertificateAuthority.Usage.CLIENT, VALIDITY));
    }

    /**
     * A client certificate from the test CA for identity {@code name} whose validity ended yesterday, written as
     * {@code expired-name.crt} and {@code expired-name.key}.
     */
    Credentials expiredClient(final String name) throws IOException
    {
        final Instant now = Instant.now();
        return write("expired-" + name, ca.issue(name, List.of(), List.of(), CertificateAuthority.Usage.CLIENT,
            now.minus(Duration.ofDays(10)), now.minus(Duration.ofDays(1))));
    }

    /**
     * A currently valid client certificate for identity {@code name} signed by a different CA, which the agent
     * does not trust, written as {@code foreign-name.crt} and {@code foreign-name.key}.
     */
    Credentials foreignClient(final String name) throws IOException
    {
        if (otherCa == null)
        {
            otherCa = CertificateAuthority.create("some other CA", VALIDITY);
        }
        return write("foreign-" + name,
            otherCa.issue(name, List.of(), List.of(), CertificateAuthority.Usage.CLIENT, VALIDITY));
    }

    /**
     * A currently valid client certificate for identity {@code name} from another CA that has the test CA's very
     * name, so the client presents it to an agent that asks for certificates from the test CA; written as
     * {@code impostor-name.crt} and {@code impostor-name.key}.
     */
    Credentials impostorClient(final String name) throws IOException
    {
        return write("impostor-" + name, CertificateAuthority.create(CA_NAME, VALIDITY)
            .issue(name, List.of(), List.of(), CertificateAuthority.Usage.CLIENT, VALIDITY));
    }

    /**
     * An agent certificate from the test CA that names {@code dnsNames} and {@code ipAddresses} (and nothing else),
     * written as {@code server-CN.crt} and {@code server-CN.key}.
     */
    Credentials server(final String commonName, final List<String> dnsNames, final List<String> ipAddresses)
        throws IOException
    {
        return write("server-" + commonName, ca.issue(commonName, dnsNames, ipAddresses,
            CertificateAuthority.Usage.SERVER, VALIDITY));
    }

    /**
     * Client options that present {@code credentials} and trust the test CA.
     */
    ClientOptions options(final Credentials credentials)
    {
        return new ClientOptions()
            .certificate(credentials.certificate())
            .privateKey(credentials.privateKey())
            .ca(caCertificate)
            .connectTimeoutNs(Duration.ofSeconds(10).toNanos())
            .idleTimeoutNs(Duration.ofSeconds(20).toNanos());
    }

    /**
     * Client options whose certificate and key files do not exist, so the client connects without a certificate.
     */
    ClientOptions optionsWithoutCertificate()
    {
        return options(new Credentials(dir.resolve("absent.crt"), dir.resolve("absent.key")));
    }

    private Credentials write(final String name, final IssuedCertificate issued) throws IOException
    {
        final Credentials credentials = new Credentials(dir.resolve(name + ".crt"), dir.resolve(name + ".key"));
        issued.writeTo(credentials.certificate(), credentials.privateKey());
        return credentials;
    }
}
