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
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Reads and writes certificates and private keys as PEM files.
 * <p>
 * Errors are split by cause: an {@link IOException} means the file could not be read or written, an
 * {@link IllegalArgumentException} means it was read but holds nothing usable. Both name the file.
 * <p>
 * Writes go to a temporary file in the target's directory which is then moved into place atomically, so a reader
 * never sees a half-written file. Private key files are created with mode {@code 0600} from the start, never
 * widened and then narrowed.
 */
public final class Pem
{
    /** Permissions of a written private key file on a POSIX file system. */
    public static final Set<PosixFilePermission> PRIVATE_KEY_PERMISSIONS = PosixFilePermissions.fromString("rw-------");

    /** Permissions of a written certificate file on a POSIX file system (before the umask applies). */
    public static final Set<PosixFilePermission> CERTIFICATE_PERMISSIONS = PosixFilePermissions.fromString("rw-r--r--");

    private Pem()
    {
    }

    /**
     * Read every certificate in a PEM file, in file order. Blocks other than certificates are skipped.
     *
     * @param file PEM file holding one or more {@code CERTIFICATE} blocks.
     * @return the certificates, at least one.
     * @throws IOException              if the file cannot be read.
     * @throws IllegalArgumentException if the file is not valid PEM or holds no certificate.
     */
    public static List<X509Certificate> readCertificates(final Path file) throws IOException
    {
        final String text = readText(file, "certificate");
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
            throw new IllegalArgumentException("invalid certificate file " + file + ": " + describe(ex), ex);
        }

        if (certificates.isEmpty())
        {
            throw new IllegalArgumentException("no certificate found in " + file);
        }

        return certificates;
    }

    /**
     * Read the first private key in a PEM file. Accepts unencrypted PKCS#8 ({@code PRIVATE KEY}) and the
     * traditional OpenSSL forms ({@code EC PRIVATE KEY}, {@code RSA PRIVATE KEY}); other blocks, such as
     * {@code EC PARAMETERS}, are skipped. Encrypted keys are refused.
     *
     * @param file PEM file holding a private key.
     * @return the private key.
     * @throws IOException              if the file cannot be read.
     * @throws IllegalArgumentException if the file is not valid PEM, holds no usable key, or the key is encrypted.
     */
    public static PrivateKey readPrivateKey(final Path file) throws IOException
    {
        final String text = readText(file, "private key");
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
            throw new IllegalArgumentException("invalid private key file " + file + ": " + describe(ex), ex);
        }

        throw new IllegalArgumentException("no private key found in " + file);
    }

    /**
     * Write certificates as consecutive {@code CERTIFICATE} blocks, replacing the file if it exists.
     *
     * @param file         file to write; its directory must exist.
     * @param certificates certificates to write, in order (leaf first for a chain).
     * @throws IOException if the file cannot be written.
     */
    public static void writeCertificates(final Path file, final X509Certificate... certificates) throws IOException
    {
        if (certificates.length == 0)
        {
            throw new IllegalArgumentException("no certificate to write to " + file);
        }

        final StringWriter text = new StringWriter();
        try (JcaPEMWriter writer = new JcaPEMWriter(text))
        {
            for (final X509Certificate certificate : certificates)
            {
                writer.writeObject(Objects.requireNonNull(certificate, "certificate"));
            }
        }

        writeAtomically(file, text.toString(), CERTIFICATE_PERMISSIONS);
    }

    /**
     * Write a private key as unencrypted PKCS#8 ({@code -----BEGIN PRIVATE KEY-----}), replacing the file if it
     * exists. On a POSIX file system the file has mode {@code 0600} from the moment it is created.
     *
     * @param file file to write; its directory must exist.
     * @param key  private key to write.
     * @throws IOException if the file cannot be written.
     */
    public static void writePrivateKey(final Path file, final PrivateKey key) throws IOException
    {
        final StringWriter text = new StringWriter();
        try (JcaPEMWriter writer = new JcaPEMWriter(text))
        {
            // JcaPEMWriter alone would write the traditional "EC PRIVATE KEY" form; PKCS#8 is what every stack reads.
            writer.writeObject(new JcaPKCS8Generator(Objects.requireNonNull(key, "key"), null));
        }

        writeAtomically(file, text.toString(), PRIVATE_KEY_PERMISSIONS);
    }

    static boolean isPosix(final Path file)
    {
        return file.getFileSystem().supportedFileAttributeViews().contains("posix");
    }

    private static String readText(final Path file, final String what) throws IOException
    {
        try
        {
            return Files.readString(file, StandardCharsets.US_ASCII);
        }
        catch (final IOException ex)
        {
            throw new IOException("cannot read " + what + " file " + file + ": " + describe(ex), ex);
        }
    }

    private static void writeAtomically(final Path file, final String text, final Set<PosixFilePermission> permissions)
        throws IOException
    {
        final Path target = file.toAbsolutePath();
        final Path dir = target.getParent();
        final FileAttribute<?>[] attributes = isPosix(target) ?
            new FileAttribute<?>[]{ PosixFilePermissions.asFileAttribute(permissions) } : new FileAttribute<?>[0];

        final Path tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp", attributes);
        try
        {
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.WRITE))
            {
                final ByteBuffer buffer = ByteBuffer.wrap(text.getBytes(StandardCharsets.US_ASCII));
                while (buffer.hasRemaining())
                {
                    channel.write(buffer);
                }
                // Durable before the rename, so a crash leaves either the old file or the whole new one.
                channel.force(true);
            }

            try
            {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            }
            catch (final AtomicMoveNotSupportedException ex)
            {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            Files.deleteIfExists(tmp);
            throw ex;
        }
    }

    static String describe(final Throwable ex)
    {
        if (ex instanceof NoSuchFileException)
        {
            return "no such file";
        }
        if (ex instanceof AccessDeniedException)
        {
            return "permission denied";
        }
        if (ex instanceof FileSystemException && null != ((FileSystemException)ex).getReason())
        {
            // The plain message repeats the path, which the caller already names.
            return ((FileSystemException)ex).getReason();
        }

        final String message = ex.getMessage();
        return null == message || message.isEmpty() ? ex.getClass().getSimpleName() : message;
    }
}
