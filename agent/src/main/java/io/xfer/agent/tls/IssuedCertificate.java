package io.xfer.agent.tls;

import java.io.IOException;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.Objects;

/**
 * A leaf certificate issued by a {@link CertificateAuthority}, with its private key and the issuing CA certificate.
 *
 * @param certificate the leaf certificate.
 * @param privateKey  the leaf's private key.
 * @param issuer      the certificate of the CA that signed the leaf.
 */
public record IssuedCertificate(X509Certificate certificate, PrivateKey privateKey, X509Certificate issuer)
{
    /**
     * Validate the components.
     *
     * @param certificate the leaf certificate.
     * @param privateKey  the leaf's private key.
     * @param issuer      the certificate of the CA that signed the leaf.
     */
    public IssuedCertificate
    {
        Objects.requireNonNull(certificate, "certificate");
        Objects.requireNonNull(privateKey, "privateKey");
        Objects.requireNonNull(issuer, "issuer");
    }

    /**
     * Write the leaf certificate (alone, without the CA certificate) and its private key as PEM. Existing files are
     * replaced; the key file has mode {@code 0600} on a POSIX file system.
     *
     * @param certFile file for the leaf certificate.
     * @param keyFile  file for the private key.
     * @throws IOException if either file cannot be written.
     */
    public void writeTo(final Path certFile, final Path keyFile) throws IOException
    {
        Pem.writeCertificates(certFile, certificate);
        Pem.writePrivateKey(keyFile, privateKey);
    }
}
