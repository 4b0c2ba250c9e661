package io.xfer.tools;

import io.xfer.agent.tls.CertificateAuthority;
import io.xfer.agent.tls.CertificateIdentity;
import io.xfer.agent.tls.IssuedCertificate;
import io.xfer.agent.tls.Pem;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;

/**
 * {@code xfer pki}: a minimal certificate authority for mutual TLS between agents and clients.
 * <pre>
 * xfer pki init /secure/xfer-ca
 * xfer pki issue --ca /secure/xfer-ca --server agent1.example.com
 * xfer pki issue --ca /secure/xfer-ca --client alice
 * </pre>
 * Errors are one line on stderr starting {@code xfer pki:}; exit codes are those of {@link ExitCode}.
 */
@Command(
    name = "pki",
    mixinStandardHelpOptions = true,
    subcommands = { PkiCommand.Init.class, PkiCommand.Issue.class },
    description = "Create a certificate authority and issue agent and client certificates for mutual TLS.")
public final class PkiCommand implements Callable<Integer>
{
    private static final String ERROR_PREFIX = "xfer pki: ";

    @Spec
    CommandSpec spec;

    /**
     * Without a subcommand, print the usage.
     *
     * @return {@link ExitCode#USAGE}.
     */
    @Override
    public Integer call()
    {
        spec.commandLine().usage(spec.commandLine().getErr());
        return ExitCode.USAGE;
    }

    /**
     * {@code xfer pki init DIR}: create a new CA in {@code DIR}.
     */
    @Command(
        name = "init",
        mixinStandardHelpOptions = true,
        description = "Create a new certificate authority: DIR/ca.crt and DIR/ca.key (mode 0600).")
    public static final class Init implements Callable<Integer>
    {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "DIR", description = "CA directory, created if missing.")
        Path dir;

        @Option(names = "--cn", paramLabel = "NAME", defaultValue = "xfer CA",
            description = "Common name of the CA certificate (default: ${DEFAULT-VALUE}).")
        String commonName;

        @Option(names = "--days", paramLabel = "N", defaultValue = "3650",
            description = "Validity of the CA certificate in days (default: ${DEFAULT-VALUE}).")
        int days;

        /**
         * Create and write the CA.
         *
         * @return an {@link ExitCode}.
         */
        @Override
        public Integer call()
        {
            final PrintWriter out = spec.commandLine().getOut();
            try
            {
                requirePositiveDays(days);
                final Path keyFile = dir.resolve(CertificateAuthority.PRIVATE_KEY_FILE_NAME);
                if (Files.exists(keyFile))
                {
                    throw new Failure(ExitCode.CONFIG, keyFile + " already exists, refusing to overwrite a CA key");
                }

                final CertificateAuthority ca = create(commonName, Duration.ofDays(days));
                try
                {
                    ca.writeTo(dir);
                }
                catch (final FileAlreadyExistsException ex)
                {
                    // Lost a race with another init, or DIR is a file.
                    throw new Failure(ExitCode.CONFIG, "cannot write CA to " + dir + ": " + ex.getFile() + " " +
                        (null == ex.getReason() ? "already exists" : ex.getReason()));
                }
                catch (final IOException ex)
                {
                    throw new Failure(ExitCode.IO, "cannot write CA to " + dir + ": " + describe(ex));
                }

                out.println("wrote " + dir.resolve(CertificateAuthority.CERTIFICATE_FILE_NAME) +
                    "  (CA certificate: copy to every agent and client as ca.crt)");
                out.println("wrote " + keyFile + "  (CA private key, mode 0600: keep it offline and secret)");
                out.println("CA \"" + commonName + "\" valid until " + ca.certificate().getNotAfter().toInstant());
                out.println("next: xfer pki issue --ca " + dir + " --server AGENT_HOST_NAME");
                out.println("      xfer pki issue --ca " + dir + " --client CLIENT_IDENTITY");
                out.flush();

                return ExitCode.OK;
            }
            catch (final Failure failure)
            {
                return failure.report(spec);
            }
            catch (final RuntimeException ex)
            {
                return internalError(spec, ex);
            }
        }

        private static CertificateAuthority create(final String commonName, final Duration validity)
        {
            try
            {
                return CertificateAuthority.create(commonName, validity);
            }
            catch (final IllegalArgumentException ex)
            {
                throw new Failure(ExitCode.USAGE, "invalid --cn: " + ex.getMessage());
            }
        }
    }

    /**
     * {@code xfer pki issue --ca DIR NAME}: issue a certificate and key signed by the CA in {@code DIR}.
     */
    @Command(
        name = "issue",
        mixinStandardHelpOptions = true,
        description = {
            "Issue a certificate signed by the CA: OUT/NAME.crt and OUT/NAME.key (mode 0600).",
            "NAME is the certificate's common name: the identity that module rules name for a client, the host " +
                "name for an agent. Without --server or --client a client certificate is issued." })
    public static final class Issue implements Callable<Integer>
    {
        private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]+");

        @Spec
        CommandSpec spec;

        @Option(names = "--ca", paramLabel = "DIR", required = true,
            description = "CA directory holding ca.crt and ca.key.")
        Path caDir;

        @Parameters(index = "0", paramLabel = "NAME",
            description = "Common name, also the file name: letters, digits, '.', '_' and '-'.")
        String name;

        @Option(names = "--server", description = "Certificate for an agent's listener (serverAuth).")
        boolean server;

        @Option(names = "--client", description = "Certificate for a client identity (clientAuth); the default.")
        boolean client;

        @Option(names = "--dns", paramLabel = "NAME",
            description = "DNS subject alternative name, repeatable. With --server and no --dns or --ip: NAME.")
        List<String> dnsNames = new ArrayList<>();

        @Option(names = "--ip", paramLabel = "ADDR", description = "IP address subject alternative name, repeatable.")
        List<String> ipAddresses = new ArrayList<>();

        @Option(names = "--days", paramLabel = "N", defaultValue = "825",
            description = "Validity in days (default: ${DEFAULT-VALUE}).")
        int days;

        @Option(names = "--out", paramLabel = "DIR", description = "Output directory (default: the CA directory).")
        Path outDir;

        @Option(names = "--force",
            description = "Replace an existing NAME.crt and NAME.key, or an OUT/ca.crt of a different CA.")
        boolean force;

        /**
         * Issue and write the certificate.
         *
         * @return an {@link ExitCode}.
         */
        @Override
        public Integer call()
        {
            final PrintWriter out = spec.commandLine().getOut();
            try
            {
                if (!NAME.matcher(name).matches() || name.startsWith("."))
                {
                    throw new Failure(ExitCode.USAGE, "invalid NAME '" + name +
                        "': use letters, digits, '.', '_' and '-', not starting with '.'");
                }
                requirePositiveDays(days);

                final CertificateAuthority.Usage usage = server && client ? CertificateAuthority.Usage.BOTH :
                    server ? CertificateAuthority.Usage.SERVER : CertificateAuthority.Usage.CLIENT;
                final List<String> dns = new ArrayList<>(dnsNames);
                final List<String> ips = new ArrayList<>(ipAddresses);
                if (server && dns.isEmpty() && ips.isEmpty())
                {
                    // A server certificate without a SAN fails hostname verification everywhere.
                    dns.add(name);
                    if ("localhost".equals(name))
                    {
                        ips.add("127.0.0.1");
                        ips.add("::1");
                    }
                }

                final CertificateAuthority ca = loadCa(caDir);
                final Path dir = null == outDir ? caDir : outDir;
                final Path certFile = dir.resolve(name + ".crt");
                final Path keyFile = dir.resolve(name + ".key");
                final Path caCopy = dir.resolve(CertificateAuthority.CERTIFICATE_FILE_NAME);
                final boolean copyCa = !sameDirectory(caDir, dir);

                if (!force && Files.exists(keyFile))
                {
                    throw new Failure(ExitCode.CONFIG, keyFile + " already exists, use --force to replace it");
                }
                if (copyCa && !force && Files.exists(caCopy) && !holdsCertificate(caCopy, ca.certificate()))
                {
                    throw new Failure(ExitCode.CONFIG, caCopy +
                        " holds a different CA certificate, use --force to replace it");
                }

                final IssuedCertificate issued;
                try
                {
                    issued = ca.issue(name, dns, ips, usage, Duration.ofDays(days));
                }
                catch (final IllegalArgumentException ex)
                {
                    throw new Failure(ExitCode.USAGE, ex.getMessage());
                }

                try
                {
                    Files.createDirectories(dir);
                    issued.writeTo(certFile, keyFile);
                    if (copyCa)
                    {
                        Pem.writeCertificates(caCopy, ca.certificate());
                    }
                }
                catch (final IOException ex)
                {
                    throw new Failure(ExitCode.IO, "cannot write to " + dir + ": " + describe(ex));
                }

                final X509Certificate certificate = issued.certificate();
                out.println("wrote " + certFile + "  (" + usageText(usage) + " certificate)");
                out.println("wrote " + keyFile + "  (private key, mode 0600)");
                if (copyCa)
                {
                    out.println("wrote " + caCopy + "  (CA certificate)");
                }
                out.println("identities: " + String.join(", ", CertificateIdentity.identities(certificate)));
                out.println("valid until " + certificate.getNotAfter().toInstant());
                out.flush();

                if (certificate.getNotAfter().after(ca.certificate().getNotAfter()))
                {
                    warn(spec, "the certificate outlives the CA, which expires " +
                        ca.certificate().getNotAfter().toInstant());
                }

                return ExitCode.OK;
            }
            catch (final Failure failure)
            {
                return failure.report(spec);
            }
            catch (final RuntimeException ex)
            {
                return internalError(spec, ex);
            }
        }

        private static String usageText(final CertificateAuthority.Usage usage)
        {
            switch (usage)
            {
                case SERVER:
                    return "server";
                case CLIENT:
                    return "client";
                default:
                    return "server and client";
            }
        }

        private static CertificateAuthority loadCa(final Path caDir)
        {
            try
            {
                return CertificateAuthority.load(caDir);
            }
            catch (final IOException | IllegalArgumentException ex)
            {
                throw new Failure(ExitCode.CONFIG, "cannot load CA from " + caDir + ": " + ex.getMessage());
            }
        }

        private static boolean sameDirectory(final Path a, final Path b)
        {
            if (a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize()))
            {
                return true;
            }

            try
            {
                return Files.exists(b) && Files.isSameFile(a, b);
            }
            catch (final IOException ex)
            {
                return false;
            }
        }

        private static boolean holdsCertificate(final Path file, final X509Certificate expected)
        {
            try
            {
                return Pem.readCertificates(file).contains(expected);
            }
            catch (final IOException | IllegalArgumentException ex)
            {
                return false;
            }
        }
    }

    private static void requirePositiveDays(final int days)
    {
        if (days <= 0)
        {
            throw new Failure(ExitCode.USAGE, "--days must be positive: " + days);
        }
    }

    private static int internalError(final CommandSpec spec, final RuntimeException ex)
    {
        // One line, no stack trace: the class name says enough to file a bug.
        return new Failure(ExitCode.INTERNAL, "internal error: " + ex).report(spec);
    }

    private static void warn(final CommandSpec spec, final String message)
    {
        final PrintWriter err = spec.commandLine().getErr();
        err.println(ERROR_PREFIX + "warning: " + message);
        err.flush();
    }

    private static String describe(final IOException ex)
    {
        final String message = ex.getMessage();
        if (ex instanceof java.nio.file.NoSuchFileException)
        {
            return "no such file or directory: " + message;
        }
        if (ex instanceof java.nio.file.AccessDeniedException)
        {
            return "permission denied: " + message;
        }

        return null == message ? ex.getClass().getSimpleName() : message;
    }

    /**
     * A refusal or error to report as one line on stderr with its exit code.
     */
    private static final class Failure extends RuntimeException
    {
        private static final long serialVersionUID = 1L;

        private final int exitCode;

        Failure(final int exitCode, final String message)
        {
            super(message, null, false, false);
            this.exitCode = exitCode;
        }

        int report(final CommandSpec spec)
        {
            final PrintWriter err = spec.commandLine().getErr();
            err.println(ERROR_PREFIX + getMessage());
            err.flush();
            return exitCode;
        }
    }
}
