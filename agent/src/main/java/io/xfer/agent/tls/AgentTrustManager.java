package io.xfer.agent.tls;

import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.security.auth.x500.X500Principal;
import java.io.IOException;
import java.net.IDN;
import java.net.InetAddress;
import java.net.Socket;
import java.net.UnknownHostException;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * How the client trusts an agent: the certificate chain must lead to one of the configured CAs (the JDK's PKIX
 * validation, with the handshake's algorithm constraints), and the agent's certificate must name the host the
 * client dialled. Fails closed: a check without a host to compare is a refusal.
 *
 * <p>The name check is done here rather than by the JDK's endpoint identification ("HTTPS"), which first loads the
 * JDK's whole public CA store to learn whether the chain leads to a public CA (for rules about wildcards under
 * public suffixes): about 20 ms of every client's handshake, for a store this trust manager never uses. The rules
 * are those of RFC 6125 for a private CA:
 * <ul>
 *   <li>an IP address (IPv4, or IPv6 in any notation) matches an IP address entry of the subject alternative names,
 *       byte for byte, and nothing else;</li>
 *   <li>a DNS name matches a DNS entry without regard to case or one trailing dot, and a wildcard entry only as the
 *       whole leftmost label ({@code *.example.com} matches {@code a.example.com}, not {@code example.com} nor
 *       {@code a.b.example.com}) over at least two labels ({@code *.com} matches nothing);</li>
 *   <li>only a certificate without any DNS entry is matched by its most specific common name, as older tools
 *       issued them.</li>
 * </ul>
 */
public final class AgentTrustManager extends X509ExtendedTrustManager
{
    private static final int SAN_DNS = 2;
    private static final int SAN_IP = 7;
    private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");

    private final X509ExtendedTrustManager pkix;

    private AgentTrustManager(final X509ExtendedTrustManager pkix)
    {
        this.pkix = pkix;
    }

    /**
     * @param trusted the CA certificates an agent's chain must lead to.
     */
    public static AgentTrustManager trusting(final List<X509Certificate> trusted) throws IOException
    {
        try
        {
            final KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
            store.load(null, null);
            for (int i = 0; i < trusted.size(); i++)
            {
                store.setCertificateEntry("ca-" + i, trusted.get(i));
            }
            final TrustManagerFactory factory = TrustManagerFactory.getInstance(
                TrustManagerFactory.getDefaultAlgorithm());
            factory.init(store);
            for (final TrustManager manager : factory.getTrustManagers())
            {
                if (manager instanceof X509ExtendedTrustManager extended)
                {
                    return new AgentTrustManager(extended);
                }
            }
            throw new IOException("the JDK offers no X509ExtendedTrustManager");
        }
        catch (final GeneralSecurityException ex)
        {
            throw new IOException("cannot trust the configured CA certificates: " + ex.getMessage(), ex);
        }
    }

    @Override
    public void checkServerTrusted(final X509Certificate[] chain, final String authType, final SSLEngine engine)
        throws CertificateException
    {
        pkix.checkServerTrusted(chain, authType, engine);
        checkNames(engine == null ? null : engine.getPeerHost(), chain);
    }

    @Override
    public void checkServerTrusted(final X509Certificate[] chain, final String authType, final Socket socket)
        throws CertificateException
    {
        pkix.checkServerTrusted(chain, authType, socket);
        final SSLSession session = socket instanceof SSLSocket ssl ? ssl.getHandshakeSession() : null;
        checkNames(session == null ? null : session.getPeerHost(), chain);
    }

    @Override
    public void checkServerTrusted(final X509Certificate[] chain, final String authType)
        throws CertificateException
    {
        pkix.checkServerTrusted(chain, authType);
        checkNames(null, chain);
    }

    @Override
    public void checkClientTrusted(final X509Certificate[] chain, final String authType, final SSLEngine engine)
        throws CertificateException
    {
        pkix.checkClientTrusted(chain, authType, engine);
    }

    @Override
    public void checkClientTrusted(final X509Certificate[] chain, final String authType, final Socket socket)
        throws CertificateException
    {
        pkix.checkClientTrusted(chain, authType, socket);
    }

    @Override
    public void checkClientTrusted(final X509Certificate[] chain, final String authType)
        throws CertificateException
    {
        pkix.checkClientTrusted(chain, authType);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers()
    {
        return pkix.getAcceptedIssuers();
    }

    private static void checkNames(final String host, final X509Certificate[] chain) throws CertificateException
    {
        if (host == null || host.isEmpty())
        {
            throw new CertificateException("no host name to check the agent's certificate against");
        }
        if (chain == null || chain.length == 0)
        {
            throw new CertificateException("the agent sent no certificate");
        }
        if (!names(host, chain[0]))
        {
            throw new CertificateException("it names " + String.join(", ", describe(chain[0])) + ", not " + host);
        }
    }

    /**
     * @return whether {@code certificate} names {@code host} (a DNS name or an IP address literal).
     */
    public static boolean names(final String host, final X509Certificate certificate) throws CertificateParsingException
    {
        final Collection<List<?>> alternatives = certificate.getSubjectAlternativeNames();
        final byte[] address = addressLiteral(host);
        if (address != null)
        {
            if (alternatives != null)
            {
                for (final List<?> entry : alternatives)
                {
                    if (type(entry) == SAN_IP && Arrays.equals(address, addressLiteral(value(entry))))
                    {
                        return true;
                    }
                }
            }
            return false;
        }
        final String name = dnsName(host);
        boolean anyDns = false;
        if (alternatives != null)
        {
            for (final List<?> entry : alternatives)
            {
                if (type(entry) == SAN_DNS)
                {
                    anyDns = true;
                    if (dnsMatches(name, dnsName(value(entry))))
                    {
                        return true;
                    }
                }
            }
        }
        if (!anyDns)
        {
            final String commonName = commonName(certificate.getSubjectX500Principal());
            return commonName != null && dnsMatches(name, dnsName(commonName));
        }
        return false;
    }

    /**
     * @return whether the DNS name {@code host} matches {@code pattern}, both already lower case without a trailing
     * dot.
     */
    static boolean dnsMatches(final String host, final String pattern)
    {
        if (host.isEmpty() || pattern.isEmpty())
        {
            return false;
        }
        if (pattern.indexOf('*') < 0)
        {
            return host.equals(pattern);
        }
        // the whole leftmost label, and nowhere else, over at least two labels
        if (!pattern.startsWith("*.") || pattern.indexOf('*', 1) >= 0)
        {
            return false;
        }
        final String suffix = pattern.substring(1);
        if (suffix.indexOf('.', 1) < 0 || suffix.endsWith("."))
        {
            return false;
        }
        if (!host.endsWith(suffix) || host.length() == suffix.length())
        {
            return false;
        }
        final String label = host.substring(0, host.length() - suffix.length());
        return label.indexOf('.') < 0;
    }

    /** Lower case, without one trailing dot; a name with characters outside ASCII in its ASCII form (IDNA). */
    static String dnsName(final String name)
    {
        String ascii = name;
        for (int i = 0; i < name.length(); i++)
        {
            if (name.charAt(i) > 0x7F)
            {
                try
                {
                    ascii = IDN.toASCII(name, IDN.ALLOW_UNASSIGNED);
                }
                catch (final IllegalArgumentException notAName)
                {
                    ascii = name;
                }
                break;
            }
        }
        final String lower = ascii.toLowerCase(Locale.ROOT);
        return lower.endsWith(".") ? lower.substring(0, lower.length() - 1) : lower;
    }

    /**
     * @return the address of an IPv4 or IPv6 literal (brackets allowed), or null for anything else. Never a lookup:
     * only a literal reaches {@link InetAddress#getByName}.
     */
    static byte[] addressLiteral(final String host)
    {
        if (host == null)
        {
            return null;
        }
        final String literal = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) :
            host;
        final boolean v4 = IPV4.matcher(literal).matches();
        if (!v4 && literal.indexOf(':') < 0)
        {
            return null;
        }
        if (v4)
        {
            for (final String octet : literal.split("\\."))
            {
                if (Integer.parseInt(octet) > 255)
                {
                    return null;
                }
            }
        }
        try
        {
            return InetAddress.getByName(literal).getAddress();
        }
        catch (final UnknownHostException | SecurityException notALiteral)
        {
            return null;
        }
    }

    private static String commonName(final X500Principal subject)
    {
        try
        {
            String found = null;
            // RDNs in order from the most general to the most specific: the last common name wins
            for (final Rdn rdn : new LdapName(subject.getName(X500Principal.RFC2253)).getRdns())
            {
                if (rdn.getType().equalsIgnoreCase("CN") && rdn.getValue() instanceof String value)
                {
                    found = value;
                }
            }
            return found;
        }
        catch (final InvalidNameException ex)
        {
            return null;
        }
    }

    private static List<String> describe(final X509Certificate certificate) throws CertificateParsingException
    {
        final List<String> names = new ArrayList<>();
        final Collection<List<?>> alternatives = certificate.getSubjectAlternativeNames();
        if (alternatives != null)
        {
            for (final List<?> entry : alternatives)
            {
                if (type(entry) == SAN_DNS)
                {
                    names.add("DNS:" + value(entry));
                }
                else if (type(entry) == SAN_IP)
                {
                    names.add("IP:" + value(entry));
                }
            }
        }
        if (names.isEmpty())
        {
            names.add("CN=" + commonName(certificate.getSubjectX500Principal()));
        }
        return names;
    }

    private static int type(final List<?> entry)
    {
        return entry.size() >= 2 && entry.get(0) instanceof Integer type ? type : -1;
    }

    private static String value(final List<?> entry)
    {
        return entry.get(1) instanceof String value ? value : "";
    }
}
