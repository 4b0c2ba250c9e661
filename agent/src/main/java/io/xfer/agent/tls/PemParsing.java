package io.xfer.agent.tls;

import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The part of {@link Pem} that needs BouncyCastle: the full PEM parser (traditional OpenSSL keys, blocks with
 * headers) and the writers. Kept apart so that reading the usual certificates and PKCS#8 keys, as every transfer
 * does, never loads a BouncyCastle class (its jar is signed, and the first class loaded from it costs the
 * verification of the whole jar).
 */
final class PemParsing
{
    private PemParsing()
    {
    }

    static List<X509Certificate> readCertificates(final Path file, final String text)
    {
        final JcaX509CertificateConverter converter = new JcaX509CertificateConverter();
        final List<X509Certificate> certificates = new ArrayList<>();
        try (PEMParser parser = new PEMParser(new StringReader(text)))
        {
            Object object;
            while ((object = parser.readObject()) != null)
            {
                if (object instanceof X509CertificateHolder)
                {
                    certificates.add(converter.getCertificate((X509CertificateHolder)object));
                }
            }
        }
        catch (final IOException | CertificateException | RuntimeException ex)
        {
            throw new IllegalArgumentException("invalid certificate file " + file + ": " + Pem.describe(ex), ex);
        }

        if (certificates.isEmpty())
        {
            throw new IllegalArgumentException("no certificate found in " + file);
        }

        return certificates;
    }

    static PrivateKey readPrivateKey(final Path file, final String text)
    {
        final JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
        try (PEMParser parser = new PEMParser(new StringReader(text)))
        {
            Object object;
            while ((object = parser.readObject()) != null)
            {
                if (object instanceof PrivateKeyInfo)
                {
                    return converter.getPrivateKey((PrivateKeyInfo)object);
                }
                if (object instanceof PEMKeyPair)
                {
                    // Only the private part: traditional EC keys may omit the public key.
                    return converter.getPrivateKey(((PEMKeyPair)object).getPrivateKeyInfo());
                }
                if (object instanceof PKCS8EncryptedPrivateKeyInfo || object instanceof PEMEncryptedKeyPair)
                {
                    throw new IllegalArgumentException(
                        "private key in " + file + " is encrypted; an unencrypted key is required");
                }
            }
        }
        catch (final IllegalArgumentException ex)
        {
            throw ex;
        }
        catch (final IOException | RuntimeException ex)
        {
            throw new IllegalArgumentException("invalid private key file " + file + ": " + Pem.describe(ex), ex);
        }

        throw new IllegalArgumentException("no private key found in " + file);
    }

    static String certificatesText(final X509Certificate... certificates) throws IOException
    {
        final StringWriter text = new StringWriter();
        try (JcaPEMWriter writer = new JcaPEMWriter(text))
        {
            for (final X509Certificate certificate : certificates)
            {
                writer.writeObject(Objects.requireNonNull(certificate, "certificate"));
            }
        }
        return text.toString();
    }

    static String privateKeyText(final PrivateKey key) throws IOException
    {
        final StringWriter text = new StringWriter();
        try (JcaPEMWriter writer = new JcaPEMWriter(text))
        {
            // JcaPEMWriter alone would write the traditional "EC PRIVATE KEY" form; PKCS#8 is what every stack reads.
            writer.writeObject(new JcaPKCS8Generator(Objects.requireNonNull(key, "key"), null));
        }
        return text.toString();
    }
}
