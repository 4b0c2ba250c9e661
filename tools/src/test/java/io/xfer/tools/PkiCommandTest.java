package io.xfer.tools;

import io.xfer.agent.tls.CertificateIdentity;
import io.xfer.agent.tls.Pem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PkiCommandTest
{
    private static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
    private static final String CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

    @TempDir
    Path tempDir;

    @Test
    void shouldInitCaWithRestrictedKey() throws Exception
    {
        final Path caDir = tempDir.resolve("ca");

        final Result result = run("init", caDir.toString());

        assertEquals(ExitCode.OK, result.exitCode, result.err);
        assertEquals("", result.err);
        final X509Certificate caCertificate = caCertificate(caDir);
        assertEquals("xfer CA", CertificateIdentity.commonName(caCertificate));
        assertTrue(caCertificate.getBasicConstraints() >= 0);
        assertDaysFromNow(3650, caCertificate);
        assertEquals("rw-------", mode(caDir.resolve("ca.key")));
        assertTrue(result.out.contains(caDir.resolve("ca.key").toString()), result.out);
        assertTrue(result.out.contains("xfer pki issue --ca " + caDir), result.out);
    }

    @Test
    void shouldInitCaWithGivenNameAndValidity() throws Exception
    {
        final Path caDir = tempDir.resolve("ca");

        final Result result = run("init", caDir.toString(), "--cn", "corridor CA", "--days", "30");

        assertEquals(ExitCode.OK, result.exitCode, result.err);
        assertEquals("corridor CA", CertificateIdentity.commonName(caCertificate(caDir)));
        assertDaysFromNow(30, caCertificate(caDir));
    }

    @Test
    void shouldRefuseInitWhenCaKeyExists() throws Exception
    {
        final Path caDir = tempDir.resolve("ca");
        assertEquals(ExitCode.OK, run("init", caDir.toString()).exitCode);
        final byte[] key = Files.readAllBytes(caDir.resolve("ca.key"));
        final byte[] certificate = Files.readAllBytes(caDir.resolve("ca.crt"));

        final Result result = run("init", caDir.toString());

        assertEquals(ExitCode.CONFIG, result.exitCode);
        assertOneErrorLine(result, "ca.key");
        assertArrayEquals(key, Files.readAllBytes(caDir.resolve("ca.key")));
        assertArrayEquals(certificate, Files.readAllBytes(caDir.resolve("ca.crt")));
    }

    @Test
    void shouldIssueClientCertificateByDefault() throws Exception
    {
        final Path caDir = initCa();

        final Result result = run("issue", "--ca", caDir.toString(), "alice");

        assertEquals(ExitCode.OK, result.exitCode, result.err);
        assertEquals("", result.err);
        final X509Certificate certificate = certificate(caDir.resolve("alice.crt"));
        certificate.verify(caCertificate(caDir).getPublicKey());
        assertEquals(List.of(CLIENT_AUTH), certificate.getExtendedKeyUsage());
        assertNull(certificate.getSubjectAlternativeNames());
        assertEquals(List.of("alice"), CertificateIdentity.identities(certificate));
        assertDaysFromNow(825, certificate);
        assertEquals("rw-------", mode(caDir.resolve("alice.key")));
        assertEquals("EC", Pem.readPrivateKey(caDir.resolve("alice.key")).getAlgorithm());
        assertEquals(List.of("alice.crt", "alice.key", "ca.crt", "ca.key"), list(caDir));
    }

    @Test
    void shouldIssueServerCertificateWithNameAsDnsName() throws Exception
    {
        final Path caDir = initCa();

        final Result result = run("issue", "--ca", caDir.toString(), "--server", "agent1.example.com");

        assertEquals(ExitCode.OK, result.exitCode, result.err);
        final X509Certificate certificate = certificate(caDir.resolve("agent1.example.com.crt"));
        certificate.verify(caCertificate(caDir).getPublicKey());
        assertEquals(List.of(SERVER_AUTH), certificate.getExtendedKeyUsage());
        assertEquals(List.of(List.of(2, "agent1.example.com")), List.copyOf(certificate.getSubjectAlternativeNames()));
    }

    @Test
    void shouldAddLoopbackAddressesForLocalhostServer() throws Exception
    {
        final Path caDir = initCa();

        assertEquals(ExitCode.OK, run("issue", "--ca", caDir.toString(), "--server", "localhost").exitCode);

        assertEquals(
            List.of("localhost", "127.0.0.1", "::1"),
            CertificateIdentity.identities(certificate(caDir.resolve("localhost.crt"))));
    }

    @Test
    void shouldUseOnlyGivenAlternativeNamesForServer() throws Exception
    {
        final Path caDir = initCa();

        final Result result = run(
            "issue", "--ca", caDir.toString(), "--server", "--dns", "a.example.com", "--dns", "b.example.com",
            "--ip", "10.0.0.7", "agent1");

        assertEquals(ExitCode.OK, result.exitCode, result.err);
        assertEquals(
            List.of("agent1", "a.example.com", "b.example.com", "10.0.0.7"),
            CertificateIdentity.identities(certificate(caDir.resolve("agent1.crt"))));
    }

    @Test
    void shouldIssueCertificateForServerAndClient() throws Exception
    {
        final Path caDir = initCa();

        assertEquals(ExitCode.OK, run("issue", "--ca", caDir.toString(), "--server", "--client", "relay").exitCode);

        final X509Certificate certificate = certificate(caDir.resolve("relay.crt"));
        assertEquals(List.of(SERVER_AUTH, CLIENT_AUTH), certificate.getExtendedKeyUsage());
        assertEquals(List.of("relay"), CertificateIdentity.identities(certificate));
    }

    @Test
    void shouldWriteToOutDirectoryWithCopyOfCaCertificate() throws Exception
    {
        final Path caDir = initCa();
        final Path outDir = tempDir.resolve("out/alice");

        final Result result = run(
            "issue", "--ca", caDir.toString(), "--out", outDir.toString(), "--days", "7", "alice");

        assertEquals(ExitCode.OK, result.exitCode, result.err);
        assertEquals(List.of("alice.crt", "alice.key", "ca.crt"), list(outDir));
        assertEquals(caCertificate(caDir), certificate(outDir.resolve("ca.crt")));
        assertDaysFromNow(7, certificate(outDir.resolve("alice.crt")));
        assertEquals("rw-------", mode(outDir.resolve("alice.key")));
        assertFalse(Files.exists(caDir.resolve("alice.key")));

        assertEquals(ExitCode.OK, run("issue", "--ca", caDir.toString(), "--out", outDir.toString(), "bob").exitCode);
    }

    @Test
    void shouldRefuseToReplaceExistingKeyUnlessForced() throws Exception
    {
        final Path caDir = initCa();
        assertEquals(ExitCode.OK, run("issue", "--ca", caDir.toString(), "alice").exitCode);
        final byte[] key = Files.readAllBytes(caDir.resolve("alice.key"));

        final Result refused = run("issue", "--ca", caDir.toString(), "alice");

        assertEquals(ExitCode.CONFIG, refused.exitCode);
        assertOneErrorLine(refused, "--force");
        assertArrayEquals(key, Files.readAllBytes(caDir.resolve("alice.key")));

        final Result forced = run("issue", "--ca", caDir.toString(), "--force", "alice");

        assertEquals(ExitCode.OK, forced.exitCode, forced.err);
        assertNotEquals(new String(key), Files.readString(caDir.resolve("alice.key")));
        assertEquals("rw-------", mode(caDir.resolve("alice.key")));
    }

    @Test
    void shouldRefuseToReplaceCaCertificateOfAnotherCaInOutDirectory() throws Exception
    {
        final Path caDir = initCa();
        final Path otherCaDir = tempDir.resolve("other-ca");
        assertEquals(ExitCode.OK, run("init", otherCaDir.toString()).exitCode);
        final Path outDir = Files.createDirectory(tempDir.resolve("out"));
        Files.copy(otherCaDir.resolve("ca.crt"), outDir.resolve("ca.crt"));

        final Result result = run("issue", "--ca", caDir.toString(), "--out", outDir.toString(), "alice");

        assertEquals(ExitCode.CONFIG, result.exitCode);
        assertOneErrorLine(result, "different CA");
        assertEquals(List.of("ca.crt"), list(outDir));
    }

    @Test
    void shouldRejectNameThatIsNotAPlainFileName() throws Exception
    {
        final Path caDir = initCa();

        for (final String name : List.of("../evil", "a b", "alice/bob", ".hidden", "caf\u00e9"))
        {
            final Result result = run("issue", "--ca", caDir.toString(), name);

            assertEquals(ExitCode.USAGE, result.exitCode, name);
            assertOneErrorLine(result, "invalid NAME");
        }
        assertEquals(List.of("ca.crt", "ca.key"), list(caDir));
        assertFalse(Files.exists(tempDir.resolve("evil.key")));
    }

    @Test
    void shouldRejectMalformedAddressAndDays() throws Exception
    {
        final Path caDir = initCa();

        final Result badIp = run("issue", "--ca", caDir.toString(), "--server", "--ip", "999.1.1.1", "agent1");
        final Result badDays = run("issue", "--ca", caDir.toString(), "--days", "0", "agent1");

        assertEquals(ExitCode.USAGE, badIp.exitCode);
        assertOneErrorLine(badIp, "999.1.1.1");
        assertEquals(ExitCode.USAGE, badDays.exitCode);
        assertOneErrorLine(badDays, "--days");
        assertEquals(List.of("ca.crt", "ca.key"), list(caDir));
    }

    @Test
    void shouldReportMissingCaAsConfigurationError()
    {
        final Path caDir = tempDir.resolve("no-such-ca");

        final Result result = run("issue", "--ca", caDir.toString(), "alice");

        assertEquals(ExitCode.CONFIG, result.exitCode);
        assertOneErrorLine(result, caDir.toString());
    }

    @Test
    void shouldRejectMissingArgumentsAsUsageError()
    {
        assertEquals(ExitCode.USAGE, run("issue", "alice").exitCode);
        assertEquals(ExitCode.USAGE, run("init").exitCode);
        assertEquals(ExitCode.USAGE, run().exitCode);
    }

    private Path initCa()
    {
        final Path caDir = tempDir.resolve("ca");
        final Result result = run("init", caDir.toString(), "--days", "3000");
        assertEquals(ExitCode.OK, result.exitCode, result.err);

        return caDir;
    }

    private static Result run(final String... args)
    {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        final CommandLine commandLine = new CommandLine(new PkiCommand());
        commandLine.setOut(new PrintWriter(out));
        commandLine.setErr(new PrintWriter(err));

        final int exitCode = commandLine.execute(args);

        return new Result(exitCode, out.toString(), err.toString());
    }

    private static void assertOneErrorLine(final Result result, final String expected)
    {
        assertEquals(1, result.err.lines().count(), result.err);
        assertTrue(result.err.startsWith("xfer pki: "), result.err);
        assertTrue(result.err.contains(expected), result.err);
    }

    private static void assertDaysFromNow(final int days, final X509Certificate certificate)
    {
        final long expected = Instant.now().plus(Duration.ofDays(days)).getEpochSecond();
        final long actual = certificate.getNotAfter().toInstant().getEpochSecond();
        assertTrue(Math.abs(expected - actual) < 60, "notAfter " + certificate.getNotAfter());
    }

    private static X509Certificate caCertificate(final Path caDir) throws IOException
    {
        return certificate(caDir.resolve("ca.crt"));
    }

    private static X509Certificate certificate(final Path file) throws IOException
    {
        final List<X509Certificate> certificates = Pem.readCertificates(file);
        assertEquals(1, certificates.size());

        return certificates.get(0);
    }

    private static String mode(final Path file) throws IOException
    {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(file));
    }

    private static List<String> list(final Path dir) throws IOException
    {
        try (var files = Files.list(dir))
        {
            return files.map(path -> path.getFileName().toString()).sorted().toList();
        }
    }

    private record Result(int exitCode, String out, String err)
    {
    }
}
