package io.xfer.agent.tls;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.AuthorityKeyIdentifier;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.asn1.x509.SubjectKeyIdentifier;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.IPAddress;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A small certificate authority for mutual TLS between xfer agents and clients.
 * <p>
 * The CA is a self-signed EC P-256 certificate. It issues EC P-256 leaf certificates signed with
 * {@code SHA256withECDSA}, which both the JDK TLS stack and BoringSSL accept for TLS 1.3. On disk it is two PEM
 * files in one directory: {@value #CERTIFICATE_FILE_NAME} (shared with every agent and client) and
 * {@value #PRIVATE_KEY_FILE_NAME} (mode {@code 0600}, to be kept offline).
 */
public final class CertificateAuthority
{
    /** File name of the CA certificate inside a CA directory. */
    public static final String CERTIFICATE_FILE_NAME = "ca.crt";

    /** File name of the CA private key inside a CA directory. */
    public static final String PRIVATE_KEY_FILE_NAME = "ca.key";

    /** Backdating of {@code notBefore} so that peers with slightly slow clocks accept a fresh certificate. */
    public static final Duration CLOCK_SKEW_ALLOWANCE = Duration.ofMinutes(1);

    private static final String EC_CURVE = "secp256r1";
    private static final int SERIAL_NUMBER_BITS = 128;
    private static final Pattern DNS_NAME = Pattern.compile("(\\*\\.)?[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*\\.?");
    private static final SecureRandom RANDOM = new SecureRandom();

    /**
     * What an issued certificate may be used for, written as its extended key usage.
     */
    public enum Usage
    {
        /** TLS server authentication: an agent's listener. */
        SERVER(true, false),
        /** TLS client authentication: a client or an agent that connects out. */
        CLIENT(false, true),
        /** Both server and client authentication. */
        BOTH(true, true);

        private final boolean serverAuth;
        private final boolean clientAuth;

        Usage(final boolean serverAuth, final boolean clientAuth)
        {
            this.serverAuth = serverAuth;
            this.clientAuth = clientAuth;
        }

        /**
         * @return true if the certificate may authenticate a TLS server.
         */
        public boolean serverAuth()
        {
            return serverAuth;
        }

        /**
         * @return true if the certificate may authenticate a TLS client.
         */
        public boolean clientAuth()
        {
            return clientAuth;
        }
    }

    private final X509Certificate certificate;
    private final PrivateKey privateKey;

    private CertificateAuthority(final X509Certificate certificate, final PrivateKey privateKey)
    {
        this.certificate = certificate;
        this.privateKey = privateKey;
    }

    /**
     * Create a new CA with a fresh EC P-256 key and a self-signed certificate valid from a minute ago for
     * {@code validity}. Nothing is written to disk: see {@link #writeTo(Path)}.
     *
     * @param commonName subject CN of the CA certificate.
     * @param validity   how long the CA certificate is valid.
     * @return the new CA.
     */
    public static CertificateAuthority create(final String commonName, final Duration validity)
    {
        requireCommonName(commonName);
        requirePositive(validity);

        final KeyPair keyPair = generateKeyPair();
        final Instant now = Instant.now();
        final X500Name subject = name(commonName);

        try
        {
            final JcaX509ExtensionUtils extensionUtils = new JcaX509ExtensionUtils();
            final X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(
                subject,
                randomSerialNumber(),
                Date.from(now.minus(CLOCK_SKEW_ALLOWANCE)),
                Date.from(now.plus(validity)),
                subject,
                keyPair.getPublic())
                .addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
                .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
                .addExtension(
                    Extension.subjectKeyIdentifier, false,
                    extensionUtils.createSubjectKeyIdentifier(keyPair.getPublic()));

            final X509Certificate certificate = sign(builder, keyPair.getPrivate());
            return new CertificateAuthority(certificate, keyPair.getPrivate());
        }
        catch (final GeneralSecurityException | CertIOException ex)
        {
            throw new IllegalStateException("cannot create CA certificate: " + ex.getMessage(), ex);
        }
    }

    /**
     * Load a CA from {@code dir/ca.crt} and {@code dir/ca.key}. The certificate must be a CA certificate and the
     * key must belong to it.
     *
     * @param dir CA directory.
     * @return the CA.
     * @throws IOException              if either file cannot be read.
     * @throws IllegalArgumentException if the files do not hold a usable CA certificate and matching key.
     */
    public static CertificateAuthority load(final Path dir) throws IOException
    {
        final Path certificateFile = dir.resolve(CERTIFICATE_FILE_NAME);
        final Path keyFile = dir.resolve(PRIVATE_KEY_FILE_NAME);
        final X509Certificate certificate = Pem.readCertificates(certificateFile).get(0);
        final PrivateKey privateKey = Pem.readPrivateKey(keyFile);

        if (certificate.getBasicConstraints() < 0)
        {
            throw new IllegalArgumentException(
                certificateFile + " is not a CA certificate (basicConstraints CA:false)");
        }
        if (!keyMatches(privateKey, certificate.getPublicKey()))
        {
            throw new IllegalArgumentException(keyFile + " does not hold the private key of " + certificateFile);
        }

        return new CertificateAuthority(certificate, privateKey);
    }

    /**
     * Write {@code ca.crt} and {@code ca.key} into {@code dir}. A missing directory is created, with mode
     * {@code 0700} on a POSIX file system. The key file has mode {@code 0600}.
     *
     * @param dir CA directory.
     * @throws FileAlreadyExistsException if {@code dir/ca.key} already exists: a CA key is never overwritten.
     * @throws IOException                if the files cannot be written.
     */
    public void writeTo(final Path dir) throws IOException
    {
        final Path keyFile = dir.resolve(PRIVATE_KEY_FILE_NAME);
        if (Files.exists(keyFile))
        {
            // Replacing a CA key would orphan every certificate it issued.
            throw new FileAlreadyExistsException(
                keyFile.toString(), null, "a CA key already exists, refusing to overwrite it");
        }

        if (!Files.isDirectory(dir))
        {
            if (Pem.isPosix(dir.toAbsolutePath()))
            {
                Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(
                    PosixFilePermissions.fromString("rwx------")));
            }
            else
            {
                Files.createDirectories(dir);
            }
        }

        // Certificate first: if the key write fails, a re-run is not refused for an existing key.
        Pem.writeCertificates(dir.resolve(CERTIFICATE_FILE_NAME), certificate);
        Pem.writePrivateKey(keyFile, privateKey);
    }

    /**
     * @return the self-signed CA certificate, the trust anchor for agents and clients.
     */
    public X509Certificate certificate()
    {
        return certificate;
    }

    /**
     * @return the CA private key.
     */
    public PrivateKey privateKey()
    {
        return privateKey;
    }

    /**
     * Issue a leaf certificate valid from one minute ago for {@code validity}.
     *
     * @param commonName  subject CN; for a client this is the identity that module access rules name.
     * @param dnsNames    DNS subject alternative names, possibly empty.
     * @param ipAddresses IPv4 or IPv6 subject alternative names, possibly empty.
     * @param usage       server authentication, client authentication, or both.
     * @param validity    how long the certificate is valid.
     * @return the certificate and its new private key.
     * @see #issue(String, List, List, Usage, Instant, Instant)
     */
    public IssuedCertificate issue(
        final String commonName,
        final List<String> dnsNames,
        final List<String> ipAddresses,
        final Usage usage,
        final Duration validity)
    {
        requirePositive(validity);
        final Instant now = Instant.now();

        return issue(commonName, dnsNames, ipAddresses, usage, now.minus(CLOCK_SKEW_ALLOWANCE), now.plus(validity));
    }

    /**
     * Issue a leaf certificate with an explicit validity window, which may lie entirely in the past or the future
     * (useful for testing expiry handling).
     * <p>
     * The certificate has a fresh EC P-256 key, a random positive 128-bit serial number, basicConstraints
     * CA:false, keyUsage digitalSignature, extendedKeyUsage serverAuth and/or clientAuth according to
     * {@code usage}, authority and subject key identifiers, and a subjectAltName extension holding exactly the
     * given DNS names and IP addresses (none if both lists are empty).
     *
     * @param commonName  subject CN; for a client this is the identity that module access rules name.
     * @param dnsNames    DNS subject alternative names, possibly empty; {@code *.example.com} wildcards allowed.
     * @param ipAddresses IPv4 or IPv6 subject alternative names in literal form, possibly empty.
     * @param usage       server authentication, client authentication, or both.
     * @param notBefore   start of the validity window.
     * @param notAfter    end of the validity window, after {@code notBefore}.
     * @return the certificate and its new private key.
     * @throws IllegalArgumentException if a name or address is malformed or the window is empty.
     */
    public IssuedCertificate issue(
        final String commonName,
        final List<String> dnsNames,
        final List<String> ipAddresses,
        final Usage usage,
        final Instant notBefore,
        final Instant notAfter)
    {
        requireCommonName(commonName);
        Objects.requireNonNull(usage, "usage");
        if (!notAfter.isAfter(notBefore))
        {
            throw new IllegalArgumentException("notAfter " + notAfter + " is not after notBefore " + notBefore);
        }

        final List<GeneralName> altNames = new ArrayList<>();
        for (final String dnsName : dnsNames)
        {
            if (null == dnsName || !DNS_NAME.matcher(dnsName).matches())
            {
                throw new IllegalArgumentException("invalid DNS name: " + dnsName);
            }
            altNames.add(new GeneralName(GeneralName.dNSName, dnsName));
        }
        for (final String ipAddress : ipAddresses)
        {
            // IPAddress.isValid rejects the "addr/mask" form that GeneralName would otherwise accept.
            if (null == ipAddress || !IPAddress.isValid(ipAddress))
            {
                throw new IllegalArgumentException("invalid IP address: " + ipAddress);
            }
            altNames.add(new GeneralName(GeneralName.iPAddress, ipAddress));
        }

        final KeyPair keyPair = generateKeyPair();
        final List<KeyPurposeId> purposes = new ArrayList<>(2);
        if (usage.serverAuth())
        {
            purposes.add(KeyPurposeId.id_kp_serverAuth);
        }
        if (usage.clientAuth())
        {
            purposes.add(KeyPurposeId.id_kp_clientAuth);
        }

        try
        {
            final JcaX509ExtensionUtils extensionUtils = new JcaX509ExtensionUtils();
            final X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(
                certificate,
                randomSerialNumber(),
                Date.from(notBefore),
                Date.from(notAfter),
                name(commonName),
                keyPair.getPublic())
                .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
                .addExtension(
                    Extension.extendedKeyUsage, false,
                    new ExtendedKeyUsage(purposes.toArray(new KeyPurposeId[0])))
                .addExtension(Extension.authorityKeyIdentifier, false, authorityKeyIdentifier(extensionUtils))
                .addExtension(
                    Extension.subjectKeyIdentifier, false,
                    extensionUtils.createSubjectKeyIdentifier(keyPair.getPublic()));

            if (!altNames.isEmpty())
            {
                // Not critical: the subject always carries a CN.
                builder.addExtension(
                    Extension.subjectAlternativeName, false,
                    new GeneralNames(altNames.toArray(new GeneralName[0])));
            }

            return new IssuedCertificate(sign(builder, privateKey), keyPair.getPrivate(), certificate);
        }
        catch (final GeneralSecurityException | IOException ex)
        {
            throw new IllegalStateException("cannot issue certificate for " + commonName + ": " + ex.getMessage(), ex);
        }
    }

    private AuthorityKeyIdentifier authorityKeyIdentifier(final JcaX509ExtensionUtils extensionUtils)
        throws IOException
    {
        // Key id only, taken from the CA's own SKI so it matches however that was computed: issuer name and serial
        // would tie leaves to this one CA certificate and break them when the CA is re-issued with the same key.
        final byte[] subjectKeyIdentifier = certificate.getExtensionValue(Extension.subjectKeyIdentifier.getId());
        if (null != subjectKeyIdentifier)
        {
            return new AuthorityKeyIdentifier(
                SubjectKeyIdentifier.getInstance(JcaX509ExtensionUtils.parseExtensionValue(subjectKeyIdentifier))
                    .getKeyIdentifier());
        }

        return extensionUtils.createAuthorityKeyIdentifier(certificate.getPublicKey());
    }

    private static X509Certificate sign(final X509v3CertificateBuilder builder, final PrivateKey signingKey)
        throws GeneralSecurityException
    {
        try
        {
            final ContentSigner signer = new JcaContentSignerBuilder(signatureAlgorithm(signingKey)).build(signingKey);
            return new JcaX509CertificateConverter().getCertificate(builder.build(signer));
        }
        catch (final OperatorCreationException ex)
        {
            throw new GeneralSecurityException(ex.getMessage(), ex);
        }
    }

    private static String signatureAlgorithm(final PrivateKey key)
    {
        // A CA loaded from disk may have been made elsewhere with an RSA key.
        switch (key.getAlgorithm())
        {
            case "EC":
            case "ECDSA":
                return "SHA256withECDSA";
            case "RSA":
                return "SHA256withRSA";
            default:
                throw new IllegalArgumentException("unsupported CA key algorithm: " + key.getAlgorithm());
        }
    }

    private static boolean keyMatches(final PrivateKey privateKey, final PublicKey publicKey)
    {
        try
        {
            final String algorithm = signatureAlgorithm(privateKey);
            final byte[] challenge = new byte[32];
            RANDOM.nextBytes(challenge);

            final Signature signer = Signature.getInstance(algorithm);
            signer.initSign(privateKey);
            signer.update(challenge);
            final byte[] signature = signer.sign();

            final Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(publicKey);
            verifier.update(challenge);
            return verifier.verify(signature);
        }
        catch (final GeneralSecurityException | IllegalArgumentException ex)
        {
            return false;
        }
    }

    private static KeyPair generateKeyPair()
    {
        try
        {
            final KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec(EC_CURVE), RANDOM);
            return generator.generateKeyPair();
        }
        catch (final GeneralSecurityException ex)
        {
            throw new IllegalStateException("EC " + EC_CURVE + " key generation unavailable: " + ex.getMessage(), ex);
        }
    }

    private static BigInteger randomSerialNumber()
    {
        BigInteger serial;
        do
        {
            serial = new BigInteger(SERIAL_NUMBER_BITS, RANDOM);
        }
        while (serial.signum() == 0);

        return serial;
    }

    private static X500Name name(final String commonName)
    {
        // The builder escapes commas, plus signs and the like, which string parsing would misread.
        return new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.CN, commonName).build();
    }

    private static void requireCommonName(final String commonName)
    {
        if (null == commonName || commonName.isBlank())
        {
            throw new IllegalArgumentException("common name must not be empty");
        }
        if (commonName.length() > 64)
        {
            // RFC 5280 upper bound for commonName.
            throw new IllegalArgumentException("common name longer than 64 characters: " + commonName);
        }
    }

    private static void requirePositive(final Duration validity)
    {
        if (validity.isNegative() || validity.isZero())
        {
            throw new IllegalArgumentException("validity must be positive: " + validity);
        }
    }
}
