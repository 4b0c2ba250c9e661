package io.xfer.agent.tls;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.ReferenceCountUtil;
import org.bouncycastle.asn1.ASN1BitString;
import org.bouncycastle.asn1.sec.SECObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.AuthorityKeyIdentifier;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.SubjectKeyIdentifier;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.asn1.x9.X962Parameters;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.io.pem.PemObject;
import org.bouncycastle.util.io.pem.PemWriter;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import java.io.IOException;
import java.io.Writer;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SignatureException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Arrays;
import java.util.Date;
import java.util.List;

import static io.xfer.agent.tls.CertificateAuthority.Usage.BOTH;
import static io.xfer.agent.tls.CertificateAuthority.Usage.CLIENT;
import static io.xfer.agent.tls.CertificateAuthority.Usage.SERVER;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class CertificateAuthorityTest
{
    private static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
    private static final String CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
    private static final int SAN_DNS = 2;
    private static final int SAN_IP = 7;

    private static CertificateAuthority ca;

    @TempDir
    Path tempDir;

    @BeforeAll
    static void createCa()
    {
        ca = CertificateAuthority.create("xfer test CA", Duration.ofDays(30));
    }

    @Test
    void shouldCreateSelfSignedCaCertificate() throws Exception
    {
        final X509Certificate certificate = ca.certificate();

        certificate.verify(certificate.getPublicKey());
        certificate.checkValidity();
        assertEquals(certificate.getSubjectX500Principal(), certificate.getIssuerX500Principal());
        assertEquals("xfer test CA", CertificateIdentity.commonName(certificate));
        assertTrue(certificate.getBasicConstraints() >= 0);
        assertTrue(certificate.getCriticalExtensionOIDs().contains(Extension.basicConstraints.getId()));
        assertTrue(certificate.getKeyUsage()[5], "keyCertSign");
        assertTrue(certificate.getKeyUsage()[6], "cRLSign");
        assertTrue(null != certificate.getExtensionValue(Extension.subjectKeyIdentifier.getId()));
        assertEquals("EC", certificate.getPublicKey().getAlgorithm());
        assertEquals("SHA256withECDSA", certificate.getSigAlgName());
    }

    @Test
    void shouldIssueServerCertificateVerifiableByCa() throws Exception
    {
        final Instant before = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        final IssuedCertificate issued = ca.issue(
            "agent.example.com", List.of("agent.example.com", "localhost"), List.of("127.0.0.1", "::1"),
            SERVER, Duration.ofDays(10));
        final X509Certificate certificate = issued.certificate();

        certificate.verify(ca.certificate().getPublicKey());
        certificate.checkValidity();
        assertEquals(ca.certificate(), issued.issuer());
        assertEquals(ca.certificate().getSubjectX500Principal(), certificate.getIssuerX500Principal());
        assertTrue(certificate.getNotBefore().toInstant().isBefore(before));
        assertEquals(
            before.plus(Duration.ofDays(10)).getEpochSecond(),
            certificate.getNotAfter().toInstant().getEpochSecond(), 5.0);
        assertEquals(-1, certificate.getBasicConstraints());
        assertTrue(certificate.getKeyUsage()[0], "digitalSignature");
        assertFalse(certificate.getKeyUsage()[5], "keyCertSign");
        assertEquals(List.of(SERVER_AUTH), certificate.getExtendedKeyUsage());
        assertEquals(
            List.of(
                List.of(SAN_DNS, "agent.example.com"),
                List.of(SAN_DNS, "localhost"),
                List.of(SAN_IP, "127.0.0.1"),
                List.of(SAN_IP, "0:0:0:0:0:0:0:1")),
            List.copyOf(certificate.getSubjectAlternativeNames()));
        final AuthorityKeyIdentifier authorityKeyIdentifier = AuthorityKeyIdentifier.getInstance(
            JcaX509ExtensionUtils.parseExtensionValue(
                certificate.getExtensionValue(Extension.authorityKeyIdentifier.getId())));
        final SubjectKeyIdentifier caKeyIdentifier = SubjectKeyIdentifier.getInstance(
            JcaX509ExtensionUtils.parseExtensionValue(
                ca.certificate().getExtensionValue(Extension.subjectKeyIdentifier.getId())));
        assertArrayEquals(caKeyIdentifier.getKeyIdentifier(), authorityKeyIdentifier.getKeyIdentifierOctets());
        assertNull(authorityKeyIdentifier.getAuthorityCertIssuer());
        assertTrue(null != certificate.getExtensionValue(Extension.subjectKeyIdentifier.getId()));
        assertEquals("SHA256withECDSA", certificate.getSigAlgName());
        assertEquals(
            List.of("agent.example.com", "localhost", "127.0.0.1", "::1"),
            CertificateIdentity.identities(certificate));
    }

    @Test
    void shouldIssueClientCertificateVerifiableByCa() throws Exception
    {
        final IssuedCertificate issued = ca.issue("alice", List.of(), List.of(), CLIENT, Duration.ofDays(1));
        final X509Certificate certificate = issued.certificate();

        certificate.verify(ca.certificate().getPublicKey());
        certificate.checkValidity();
        assertEquals(List.of(CLIENT_AUTH), certificate.getExtendedKeyUsage());
        assertNull(certificate.getSubjectAlternativeNames());
        assertEquals(List.of("alice"), CertificateIdentity.identities(certificate));
    }

    @Test
    void shouldIssueCertificateForBothUsages() throws Exception
    {
        final X509Certificate certificate = ca.issue(
            "relay.example.com", List.of("relay.example.com"), List.of(), BOTH, Duration.ofDays(1)).certificate();

        assertEquals(List.of(SERVER_AUTH, CLIENT_AUTH), certificate.getExtendedKeyUsage());
    }

    @Test
    void shouldUseRandomPositiveSerialNumbers()
    {
        final BigInteger first = ca.issue("a", List.of(), List.of(), CLIENT, Duration.ofDays(1))
            .certificate().getSerialNumber();
        final BigInteger second = ca.issue("a", List.of(), List.of(), CLIENT, Duration.ofDays(1))
            .certificate().getSerialNumber();

        assertTrue(first.signum() > 0 && first.bitLength() <= 128);
        assertTrue(second.signum() > 0 && second.bitLength() <= 128);
        assertNotEquals(first, second);
    }

    @Test
    void shouldIssueExpiredCertificateWhenWindowIsInThePast() throws Exception
    {
        final Instant now = Instant.now();
        final X509Certificate certificate = ca.issue(
            "expired", List.of(), List.of(), CLIENT, now.minus(Duration.ofDays(10)), now.minus(Duration.ofDays(1)))
            .certificate();

        certificate.verify(ca.certificate().getPublicKey());
        assertThrows(CertificateExpiredException.class, certificate::checkValidity);
    }

    @Test
    void shouldNotVerifyCertificateIssuedByAnotherCa()
    {
        final CertificateAuthority otherCa = CertificateAuthority.create("other CA", Duration.ofDays(1));
        final X509Certificate certificate = otherCa.issue("mallory", List.of(), List.of(), CLIENT, Duration.ofDays(1))
            .certificate();

        assertThrows(SignatureException.class, () -> certificate.verify(ca.certificate().getPublicKey()));
    }

    @Test
    void shouldRejectMalformedNamesAndWindows()
    {
        final Duration day = Duration.ofDays(1);
        final Instant now = Instant.now();
        final List<String> none = List.of();

        assertThrows(IllegalArgumentException.class, () -> ca.issue("x", none, List.of("10.0.0.1/8"), SERVER, day));
        assertThrows(IllegalArgumentException.class, () -> ca.issue("x", none, List.of("host.example"), SERVER, day));
        assertThrows(IllegalArgumentException.class, () -> ca.issue("x", List.of("bad name"), none, SERVER, day));
        assertThrows(IllegalArgumentException.class, () -> ca.issue("", none, none, CLIENT, day));
        assertThrows(IllegalArgumentException.class, () -> ca.issue("x", none, none, CLIENT, Duration.ZERO));
        assertThrows(IllegalArgumentException.class, () -> ca.issue("x", none, none, CLIENT, now, now));
    }

    @Test
    void shouldRoundTripCertificatesAndKeyThroughPem() throws Exception
    {
        final IssuedCertificate issued = ca.issue(
            "agent", List.of("agent"), List.of(), SERVER, Duration.ofDays(1));
        final Path certFile = tempDir.resolve("agent.crt");
        final Path keyFile = tempDir.resolve("agent.key");
        final Path chainFile = tempDir.resolve("chain.crt");

        issued.writeTo(certFile, keyFile);
        Pem.writeCertificates(chainFile, issued.certificate(), ca.certificate());

        assertEquals(List.of(issued.certificate()), Pem.readCertificates(certFile));
        assertEquals(List.of(issued.certificate(), ca.certificate()), Pem.readCertificates(chainFile));
        assertArrayEquals(issued.privateKey().getEncoded(), Pem.readPrivateKey(keyFile).getEncoded());
        assertTrue(Files.readString(keyFile).startsWith("-----BEGIN PRIVATE KEY-----\n"));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(keyFile)));
        assertEquals(List.of("agent.crt", "agent.key", "chain.crt"), list(tempDir));
    }

    @Test
    void shouldReplaceExistingKeyFileKeepingModeRestricted() throws Exception
    {
        final Path keyFile = tempDir.resolve("client.key");
        Files.writeString(keyFile, "old");
        Files.setPosixFilePermissions(keyFile, PosixFilePermissions.fromString("rw-r--r--"));
        final PrivateKey key = ca.issue("c", List.of(), List.of(), CLIENT, Duration.ofDays(1)).privateKey();

        Pem.writePrivateKey(keyFile, key);

        assertArrayEquals(key.getEncoded(), Pem.readPrivateKey(keyFile).getEncoded());
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(keyFile)));
        assertEquals(List.of("client.key"), list(tempDir));
    }

    @Test
    void shouldReadTraditionalEcAndRsaPrivateKeys() throws Exception
    {
        final KeyPairGenerator ecGenerator = KeyPairGenerator.getInstance("EC");
        ecGenerator.initialize(new ECGenParameterSpec("secp256r1"));
        final KeyPair ecKeyPair = ecGenerator.generateKeyPair();
        final BigInteger s = ((ECPrivateKey)ecKeyPair.getPrivate()).getS();
        final ASN1BitString publicPoint =
            SubjectPublicKeyInfo.getInstance(ecKeyPair.getPublic().getEncoded()).getPublicKeyData();
        final X962Parameters curve = new X962Parameters(SECObjectIdentifiers.secp256r1);
        final KeyPairGenerator rsaGenerator = KeyPairGenerator.getInstance("RSA");
        rsaGenerator.initialize(2048);
        final KeyPair rsaKeyPair = rsaGenerator.generateKeyPair();

        // As "openssl ecparam -genkey" writes it: curve block first, then the key with its public point.
        final Path ecFile = writePem(
            tempDir.resolve("ec.key"),
            new PemObject("EC PARAMETERS", curve.getEncoded()),
            new PemObject(
                "EC PRIVATE KEY",
                new org.bouncycastle.asn1.sec.ECPrivateKey(256, s, publicPoint, curve).getEncoded()));
        // As "openssl ec -no_public" writes it.
        final Path ecNoPublicFile = writePem(
            tempDir.resolve("ec-no-public.key"),
            new PemObject("EC PRIVATE KEY", new org.bouncycastle.asn1.sec.ECPrivateKey(256, s, curve).getEncoded()));
        final Path rsaFile = tempDir.resolve("rsa.key");
        try (Writer out = Files.newBufferedWriter(rsaFile); JcaPEMWriter writer = new JcaPEMWriter(out))
        {
            writer.writeObject(rsaKeyPair);
        }
        assertTrue(Files.readString(rsaFile).startsWith("-----BEGIN RSA PRIVATE KEY-----"));

        assertEquals(s, ((ECPrivateKey)Pem.readPrivateKey(ecFile)).getS());
        assertEquals(s, ((ECPrivateKey)Pem.readPrivateKey(ecNoPublicFile)).getS());
        assertEquals(
            ((RSAPrivateCrtKey)rsaKeyPair.getPrivate()).getPrivateExponent(),
            ((RSAPrivateCrtKey)Pem.readPrivateKey(rsaFile)).getPrivateExponent());
    }

    @Test
    void shouldReadPemWithWindowsLineEndingsCommentsAndOtherKeyTypes() throws Exception
    {
        final IssuedCertificate issued = ca.issue("w", List.of(), List.of(), CLIENT, Duration.ofDays(1));
        final Path certFile = tempDir.resolve("w.crt");
        final Path keyFile = tempDir.resolve("w.key");
        issued.writeTo(certFile, keyFile);
        // text around and between the blocks, as "openssl x509 -text" leaves it, and CRLF line ends
        Files.writeString(certFile, "Certificate:\r\n    Data: ...\r\n" +
            Files.readString(certFile).replace("\n", "\r\n") + "trailing words\r\n");
        Files.writeString(keyFile, Files.readString(keyFile).replace("\n", "\r\n"));

        assertEquals(List.of(issued.certificate()), Pem.readCertificates(certFile));
        assertArrayEquals(issued.privateKey().getEncoded(), Pem.readPrivateKey(keyFile).getEncoded());

        // the older label some tools write still reads, through the full parser
        final Path oldLabel = tempDir.resolve("old-label.crt");
        Files.writeString(oldLabel, Files.readString(certFile).replace("BEGIN CERTIFICATE", "BEGIN X509 CERTIFICATE")
            .replace("END CERTIFICATE", "END X509 CERTIFICATE"));
        assertEquals(List.of(issued.certificate()), Pem.readCertificates(oldLabel));

        final KeyPairGenerator edGenerator = KeyPairGenerator.getInstance("Ed25519");
        final PrivateKey ed = edGenerator.generateKeyPair().getPrivate();
        final Path edFile = tempDir.resolve("ed.key");
        Pem.writePrivateKey(edFile, ed);
        assertArrayEquals(ed.getEncoded(), Pem.readPrivateKey(edFile).getEncoded());
    }

    @Test
    void shouldRefuseEncryptedAndDamagedPem() throws Exception
    {
        final Path encrypted = tempDir.resolve("encrypted.key");
        Files.writeString(encrypted, "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQww\n" +
            "-----END ENCRYPTED PRIVATE KEY-----\n");
        final Path traditionalEncrypted = tempDir.resolve("traditional.key");
        Files.writeString(traditionalEncrypted, "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n" +
            "DEK-Info: AES-128-CBC,0123456789ABCDEF0123456789ABCDEF\n\nAAAA\n-----END EC PRIVATE KEY-----\n");
        final Path damaged = tempDir.resolve("damaged.crt");
        Files.writeString(damaged, "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n");

        final IllegalArgumentException pkcs8 =
            assertThrows(IllegalArgumentException.class, () -> Pem.readPrivateKey(encrypted));
        final IllegalArgumentException withHeaders =
            assertThrows(IllegalArgumentException.class, () -> Pem.readPrivateKey(traditionalEncrypted));
        final IllegalArgumentException certificate =
            assertThrows(IllegalArgumentException.class, () -> Pem.readCertificates(damaged));

        assertTrue(pkcs8.getMessage().contains("is encrypted"), pkcs8.getMessage());
        assertTrue(withHeaders.getMessage().contains(traditionalEncrypted.toString()), withHeaders.getMessage());
        assertTrue(certificate.getMessage().startsWith("invalid certificate file " + damaged), certificate.getMessage());
    }

    @Test
    void shouldNameFileWhenNothingUsableIsFound() throws Exception
    {
        final Path certFile = tempDir.resolve("only.crt");
        final Path emptyFile = tempDir.resolve("empty.pem");
        final Path missingFile = tempDir.resolve("missing.pem");
        Pem.writeCertificates(certFile, ca.certificate());
        Files.writeString(emptyFile, "not pem at all\n");

        final IllegalArgumentException noKey =
            assertThrows(IllegalArgumentException.class, () -> Pem.readPrivateKey(certFile));
        final IllegalArgumentException noCertificate =
            assertThrows(IllegalArgumentException.class, () -> Pem.readCertificates(emptyFile));
        final IOException missing = assertThrows(IOException.class, () -> Pem.readCertificates(missingFile));

        assertTrue(noKey.getMessage().contains(certFile.toString()), noKey.getMessage());
        assertTrue(noCertificate.getMessage().contains(emptyFile.toString()), noCertificate.getMessage());
        assertTrue(missing.getMessage().contains(missingFile.toString()), missing.getMessage());
    }

    @Test
    void shouldLoadCaWrittenToDirectory() throws Exception
    {
        final Path caDir = tempDir.resolve("ca");
        ca.writeTo(caDir);

        final CertificateAuthority loaded = CertificateAuthority.load(caDir);
        final X509Certificate issued = loaded.issue("bob", List.of(), List.of(), CLIENT, Duration.ofDays(1))
            .certificate();

        assertEquals(ca.certificate(), loaded.certificate());
        issued.verify(ca.certificate().getPublicKey());
        assertEquals(
            "rw-------",
            PosixFilePermissions.toString(Files.getPosixFilePermissions(caDir.resolve("ca.key"))));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(caDir)));
    }

    @Test
    void shouldRefuseToOverwriteExistingCaKey() throws Exception
    {
        final Path caDir = tempDir.resolve("ca");
        ca.writeTo(caDir);
        final byte[] original = Files.readAllBytes(caDir.resolve("ca.key"));
        final CertificateAuthority otherCa = CertificateAuthority.create("other CA", Duration.ofDays(1));

        final FileAlreadyExistsException ex =
            assertThrows(FileAlreadyExistsException.class, () -> otherCa.writeTo(caDir));

        assertTrue(ex.getMessage().contains("ca.key"), ex.getMessage());
        assertArrayEquals(original, Files.readAllBytes(caDir.resolve("ca.key")));
        assertEquals(ca.certificate(), Pem.readCertificates(caDir.resolve("ca.crt")).get(0));
    }

    @Test
    void shouldRefuseToLoadCaWithMismatchedKeyOrLeafCertificate() throws Exception
    {
        final Path mismatched = Files.createDirectory(tempDir.resolve("mismatched"));
        Pem.writeCertificates(mismatched.resolve("ca.crt"), ca.certificate());
        Pem.writePrivateKey(
            mismatched.resolve("ca.key"), CertificateAuthority.create("other", Duration.ofDays(1)).privateKey());

        final IssuedCertificate leaf = ca.issue("leaf", List.of(), List.of(), CLIENT, Duration.ofDays(1));
        final Path notCa = Files.createDirectory(tempDir.resolve("leaf"));
        leaf.writeTo(notCa.resolve("ca.crt"), notCa.resolve("ca.key"));

        assertThrows(IllegalArgumentException.class, () -> CertificateAuthority.load(mismatched));
        assertThrows(IllegalArgumentException.class, () -> CertificateAuthority.load(notCa));
        assertThrows(IOException.class, () -> CertificateAuthority.load(tempDir.resolve("absent")));
    }

    @Test
    void shouldListIdentitiesInOrderWithoutDuplicates()
    {
        final X509Certificate certificate = ca.issue(
            "agent.example.com",
            List.of("agent.example.com", "alt.example.com"),
            List.of("10.0.0.1", "2001:db8:0:0:1:0:0:1", "fe80:0:0:0:0:0:0:0"),
            BOTH,
            Duration.ofDays(1)).certificate();

        assertEquals(
            List.of("agent.example.com", "alt.example.com", "10.0.0.1", "2001:db8::1:0:0:1", "fe80::"),
            CertificateIdentity.identities(certificate));
    }

    @Test
    void shouldListUriIdentitiesOfCertificateWithoutCommonName() throws Exception
    {
        final KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
        generator.initialize(new ECGenParameterSpec("secp256r1"));
        final KeyPair keyPair = generator.generateKeyPair();
        final Instant now = Instant.now();
        final JcaX509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(
            ca.certificate(), BigInteger.TEN, Date.from(now), Date.from(now.plusSeconds(60)),
            new X500Name("O=xfer"), keyPair.getPublic());
        builder.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[]{
            new GeneralName(GeneralName.uniformResourceIdentifier, "spiffe://corridor/agent"),
            new GeneralName(GeneralName.rfc822Name, "ops@example.com"),
            new GeneralName(GeneralName.dNSName, "agent.example.com") }));
        final X509Certificate certificate = new JcaX509CertificateConverter().getCertificate(
            builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(ca.privateKey())));

        assertNull(CertificateIdentity.commonName(certificate));
        assertEquals(
            List.of("spiffe://corridor/agent", "agent.example.com"), CertificateIdentity.identities(certificate));
    }

    @ParameterizedTest
    @EnumSource(value = SslProvider.class, names = { "JDK", "OPENSSL" })
    void shouldBuildNettySslContextFromIssuedCertificate(final SslProvider provider) throws Exception
    {
        assumeProviderAvailable(provider);
        final IssuedCertificate server = ca.issue(
            "localhost", List.of("localhost"), List.of("127.0.0.1"), SERVER, Duration.ofDays(1));

        final SslContext context = SslContextBuilder.forServer(server.privateKey(), server.certificate())
            .sslProvider(provider)
            .protocols("TLSv1.3")
            .trustManager(ca.certificate())
            .clientAuth(ClientAuth.REQUIRE)
            .build();
        try
        {
            assertTrue(context.isServer());
        }
        finally
        {
            ReferenceCountUtil.release(context);
        }
    }

    @ParameterizedTest
    @EnumSource(value = SslProvider.class, names = { "JDK", "OPENSSL" })
    void shouldCompleteMutualTls13HandshakeAcrossProviders(final SslProvider serverProvider) throws Exception
    {
        assumeProviderAvailable(SslProvider.OPENSSL);
        // The client uses the other provider, so each side's certificate is checked by the other stack.
        final SslProvider clientProvider = serverProvider == SslProvider.JDK ? SslProvider.OPENSSL : SslProvider.JDK;
        final IssuedCertificate server = ca.issue(
            "localhost", List.of("localhost"), List.of("127.0.0.1"), SERVER, Duration.ofDays(1));
        final IssuedCertificate client = ca.issue("alice", List.of(), List.of(), CLIENT, Duration.ofDays(1));

        final X509Certificate[] peerCertificates = handshake(serverProvider, server, clientProvider, client);

        assertEquals(client.certificate(), peerCertificates[0]);
        assertEquals(List.of("alice"), CertificateIdentity.identities(peerCertificates[0]));
    }

    @Test
    void shouldFailHandshakeWithClientCertificateFromAnotherCa() throws Exception
    {
        assumeProviderAvailable(SslProvider.OPENSSL);
        final CertificateAuthority otherCa = CertificateAuthority.create("other CA", Duration.ofDays(1));
        final IssuedCertificate server = ca.issue(
            "localhost", List.of("localhost"), List.of(), SERVER, Duration.ofDays(1));
        final IssuedCertificate client = otherCa.issue("mallory", List.of(), List.of(), CLIENT, Duration.ofDays(1));

        assertThrows(
            SSLException.class, () -> handshake(SslProvider.OPENSSL, server, SslProvider.JDK, client));
    }

    private static void assumeProviderAvailable(final SslProvider provider)
    {
        if (provider != SslProvider.JDK)
        {
            assumeTrue(OpenSsl.isAvailable(), () -> "netty-tcnative not loadable: " + OpenSsl.unavailabilityCause());
        }
    }

    /**
     * Run a TLS 1.3 handshake with client authentication between two in-memory engines, then exchange one message
     * each way so that the server's verdict on the client certificate (sent after the client finishes) is seen.
     */
    private static X509Certificate[] handshake(
        final SslProvider serverProvider,
        final IssuedCertificate server,
        final SslProvider clientProvider,
        final IssuedCertificate client) throws Exception
    {
        final SslContext serverContext = SslContextBuilder.forServer(server.privateKey(), server.certificate())
            .sslProvider(serverProvider)
            .protocols("TLSv1.3")
            .trustManager(ca.certificate())
            .clientAuth(ClientAuth.REQUIRE)
            .build();
        final SslContext clientContext = SslContextBuilder.forClient()
            .sslProvider(clientProvider)
            .protocols("TLSv1.3")
            .trustManager(ca.certificate())
            .keyManager(client.privateKey(), client.certificate())
            .build();
        final SSLEngine serverEngine = serverContext.newEngine(ByteBufAllocator.DEFAULT);
        final SSLEngine clientEngine = clientContext.newEngine(ByteBufAllocator.DEFAULT, "localhost", 7000);
        try
        {
            final SSLParameters parameters = clientEngine.getSSLParameters();
            parameters.setEndpointIdentificationAlgorithm("HTTPS");
            clientEngine.setSSLParameters(parameters);

            final ByteBuffer clientToServer = ByteBuffer.allocate(256 * 1024);
            final ByteBuffer serverToClient = ByteBuffer.allocate(256 * 1024);
            final ByteBuffer serverReceived = ByteBuffer.allocate(256 * 1024);
            final ByteBuffer clientReceived = ByteBuffer.allocate(256 * 1024);
            final ByteBuffer ping = ByteBuffer.wrap("ping".getBytes(StandardCharsets.US_ASCII));
            final ByteBuffer pong = ByteBuffer.wrap("pong".getBytes(StandardCharsets.US_ASCII));

            for (int round = 0; round < 50 && (serverReceived.position() < 4 || clientReceived.position() < 4); round++)
            {
                step(clientEngine, ping, clientToServer, serverToClient, clientReceived);
                step(serverEngine, pong, serverToClient, clientToServer, serverReceived);
            }

            assertEquals("ping", text(serverReceived));
            assertEquals("pong", text(clientReceived));
            assertEquals("TLSv1.3", serverEngine.getSession().getProtocol());
            assertEquals("TLSv1.3", clientEngine.getSession().getProtocol());

            return Arrays.stream(serverEngine.getSession().getPeerCertificates())
                .map(X509Certificate.class::cast)
                .toArray(X509Certificate[]::new);
        }
        finally
        {
            ReferenceCountUtil.release(serverEngine);
            ReferenceCountUtil.release(clientEngine);
            ReferenceCountUtil.release(serverContext);
            ReferenceCountUtil.release(clientContext);
        }
    }

    private static void step(
        final SSLEngine engine,
        final ByteBuffer application,
        final ByteBuffer outbound,
        final ByteBuffer inbound,
        final ByteBuffer received) throws SSLException
    {
        // Application data is held back until the handshake is done, so wrap only ever sends handshake records first.
        SSLEngineResult result = engine.wrap(application, outbound);
        runDelegatedTasks(engine, result);

        inbound.flip();
        try
        {
            do
            {
                result = engine.unwrap(inbound, received);
                runDelegatedTasks(engine, result);
            }
            while (inbound.hasRemaining() &&
                result.getStatus() == SSLEngineResult.Status.OK &&
                result.bytesConsumed() > 0);
        }
        finally
        {
            inbound.compact();
        }
    }

    private static void runDelegatedTasks(final SSLEngine engine, final SSLEngineResult result)
    {
        if (result.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.NEED_TASK)
        {
            Runnable task;
            while ((task = engine.getDelegatedTask()) != null)
            {
                task.run();
            }
        }
    }

    private static String text(final ByteBuffer received)
    {
        return new String(received.array(), 0, received.position(), StandardCharsets.US_ASCII);
    }

    private static Path writePem(final Path file, final PemObject... objects) throws IOException
    {
        try (PemWriter writer = new PemWriter(Files.newBufferedWriter(file)))
        {
            for (final PemObject object : objects)
            {
                writer.writeObject(object);
            }
        }

        return file;
    }

    private static List<String> list(final Path dir) throws IOException
    {
        try (var files = Files.list(dir))
        {
            return files.map(path -> path.getFileName().toString()).sorted().toList();
        }
    }
}
