package io.xfer.agent.tls;

import java.io.ByteArrayInputStream;
import java.io.IOException;
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
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads and writes certificates and private keys as PEM files.
 * <p>
 * Errors are split by cause: an {@link IOException} means the file could not be read or written, an
 * {@link IllegalArgumentException} means it was read but holds nothing usable. Both name the file.
 * <p>
 * Writes go to a temporary file in the target's directory which is then moved into place atomically, so a reader
 * never sees a half-written file. Private key files are created with mode {@code 0600} from the start, never
 * widened and then narrowed.
 * <p>
 * Reading takes the JDK's own parsers for what {@code xfer pki} and most tools write (certificates, unencrypted
 * PKCS#8 keys) and BouncyCastle's PEM parser only for the rest (traditional OpenSSL keys, blocks with headers).
 * Every {@code xfer send} and {@code get} reads three PEM files, and loading BouncyCastle for them (a signed jar,
 * verified at class loading) cost the command line about 0.1 s of CPU and wall time per run.
 */
public final class Pem
{
    /** Permissions of a written private key file on a POSIX file system. */
    public static final Set<PosixFilePermission> PRIVATE_KEY_PERMISSIONS = PosixFilePermissions.fromString("rw-------");

    /** Permissions of a written certificate file on a POSIX file system (before the umask applies). */
    public static final Set<PosixFilePermission> CERTIFICATE_PERMISSIONS = PosixFilePermissions.fromString("rw-r--r--");

    /** A whole PEM block whose body is plain base64: no RFC 1421 headers (those go to BouncyCastle). */
    private static final Pattern SIMPLE_BLOCK =
        Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\\s]*)-----END \\1-----");
    private static final String BEGIN = "-----BEGIN ";
    /** Key algorithms tried, in order, for an unencrypted PKCS#8 key. */
    private static final String[] KEY_ALGORITHMS = {"EC", "RSA", "Ed25519", "Ed448", "RSASSA-PSS", "DSA"};

    private Pem()
    {
    }

    private record Block(String type, byte[] der)
    {
    }

    /**
     * @return the PEM blocks of a text in order, or null when one of them is not a plain base64 block (the full
     * parser handles those).
     */
    private static List<Block> simpleBlocks(final String text)
    {
        final List<Block> blocks = new ArrayList<>();
        final Matcher matcher = SIMPLE_BLOCK.matcher(text);
        while (matcher.find())
        {
            try
            {
                blocks.add(new Block(matcher.group(1), Base64.getMimeDecoder().decode(matcher.group(2))));
            }
            catch (final IllegalArgumentException ex)
            {
                return null;
            }
        }
        int begins = 0;
        for (int at = text.indexOf(BEGIN); at >= 0; at = text.indexOf(BEGIN, at + BEGIN.length()))
        {
            begins++;
        }
        return begins == blocks.size() ? blocks : null;
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
        final List<Block> blocks = simpleBlocks(text);
        if (blocks != null)
        {
            final List<X509Certificate> certificates = new ArrayList<>();
            try
            {
                final CertificateFactory factory = CertificateFactory.getInstance("X.509");
                for (final Block block : blocks)
                {
                    if (block.type().equals("CERTIFICATE"))
                    {
                        certificates.add((X509Certificate)factory.generateCertificate(
                            new ByteArrayInputStream(block.der())));
                    }
                }
            }
            catch (final CertificateException | RuntimeException ex)
            {
                throw new IllegalArgumentException("invalid certificate file " + file + ": " + describe(ex), ex);
            }
            if (!certificates.isEmpty())
            {
                return certificates;
            }
            // none under the usual label: the full parser knows the others (X509 CERTIFICATE, TRUSTED CERTIFICATE)
        }
        return PemParsing.readCertificates(file, text);
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
        final List<Block> blocks = simpleBlocks(text);
        if (blocks != null)
        {
            for (final Block block : blocks)
            {
                switch (block.type())
                {
                    case "PRIVATE KEY":
                        final PrivateKey key = pkcs8(block.der());
                        if (key != null)
                        {
                            return key;
                        }
                        return readPrivateKeyWithParser(file, text); // an algorithm the JDK has no factory for
                    case "ENCRYPTED PRIVATE KEY":
                        throw new IllegalArgumentException(
                            "private key in " + file + " is encrypted; an unencrypted key is required");
                    case "EC PRIVATE KEY":
                    case "RSA PRIVATE KEY":
                    case "DSA PRIVATE KEY":
                        return readPrivateKeyWithParser(file, text); // traditional OpenSSL forms
                    default:
                        break; // EC PARAMETERS, certificates: skipped
                }
            }
        }
        return readPrivateKeyWithParser(file, text);
    }

    /** An unencrypted PKCS#8 key through the JDK's key factories, or null when none of them takes it. */
    private static PrivateKey pkcs8(final byte[] der)
    {
        for (final String algorithm : KEY_ALGORITHMS)
        {
            try
            {
                return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
            }
            catch (final GeneralSecurityException | RuntimeException ex)
            {
                // not this algorithm (or not one this JDK has): try the next
            }
        }
        return null;
    }

    private static PrivateKey readPrivateKeyWithParser(final Path file, final String text)
    {
        return PemParsing.readPrivateKey(file, text);
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

        writeAtomically(file, PemParsing.certificatesText(certificates), CERTIFICATE_PERMISSIONS);
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
        writeAtomically(file, PemParsing.privateKeyText(key), PRIVATE_KEY_PERMISSIONS);
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
