package io.xfer.agent.tls;

import io.netty.util.NetUtil;

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
import java.net.Socket;
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
 *   <li>an IP address (a strict dotted quad, or IPv6 in any notation, with or without a zone) matches an IP address
 *       entry of the subject alternative names for the same address, and nothing else. A host that a resolver may
 *       read as an address although it is no strict literal ({@code 127.1}, {@code 2130706433},
 *       {@code 0177.0.0.1}, {@code g::1}) names nothing: the connection could go to an address that no name was
 *       checked against;</li>
 *   <li>a DNS name matches a DNS entry without regard to case or one trailing dot, and a wildcard entry only as the
 *       whole leftmost label ({@code *.example.com} matches {@code a.example.com}, not {@code example.com} nor
 *       {@code a.b.example.com}) over at least two labels ({@code *.com} matches nothing);</li>
 *   <li>only a certificate without any DNS entry is matched by its most specific common name, as older tools
 *       issued them.</li>
 * </ul>
 * A certificate's names are compared as they are, in ASCII: a name with other characters matches nothing, so
 * look-alike characters cannot stand in for letters. A host with such characters is compared in its ASCII (IDNA)
 * form. Wildcards over a single label ({@code *.lan}) are refused, though the JDK allows them for a private CA.
 */
public final class AgentTrustManager extends X509ExtendedTrustManager
{
    private static final int SAN_DNS = 2;
    private static final int SAN_IP = 7;
    private static final Pattern DOTTED_QUAD = Pattern.compile("(0|[1-9]\\d{0,2})(\\.(0|[1-9]\\d{0,2})){3}");

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
        return new AgentTrustManager(pkix(trusted));
    }

    /**
     * @return the JDK's PKIX trust manager for chains that lead to one of {@code trusted}.
     */
    static X509ExtendedTrustManager pkix(final List<X509Certificate> trusted) throws IOException
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
                    return extended;
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

    static void checkNames(final String host, final X509Certificate[] chain) throws CertificateException
    {
        if (host == null || host.isEmpty())
        {
            throw new CertificateException("no host name to check the agent's certificate against");
        }
        if (chain == null || chain.length == 0)
        {
            throw new CertificateException("the agent sent no certificate");
        }
        if (addressLiteral(host) == null && (host.indexOf(':') >= 0 || digitsAndDots(host)))
        {
            throw new CertificateException(host + " is read as an address by some resolvers but is no strict IPv4 " +
                "or IPv6 literal: dial the address as a dotted quad (1.2.3.4) or the agent by a DNS name");
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
        if (host.indexOf(':') >= 0 || digitsAndDots(host))
        {
            // read as an address by some resolver, but no strict literal: nothing to check it against
            return false;
        }
        final String name = hostName(host);
        if (name == null)
        {
            return false;
        }
        boolean anyDns = false;
        if (alternatives != null)
        {
            for (final List<?> entry : alternatives)
            {
                if (type(entry) == SAN_DNS)
                {
                    anyDns = true;
                    if (dnsMatches(name, certificateName(value(entry))))
                    {
                        return true;
                    }
                }
            }
        }
        if (!anyDns)
        {
            final String commonName = commonName(certificate.getSubjectX500Principal());
            return commonName != null && dnsMatches(name, certificateName(commonName));
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

    /**
     * A host as it is compared: lower case, without one trailing dot, in its ASCII (IDNA) form when it has other
     * characters; null when it has no such form.
     */
    static String hostName(final String host)
    {
        String ascii = host;
        if (!isAscii(host))
        {
            try
            {
                ascii = IDN.toASCII(host, IDN.ALLOW_UNASSIGNED);
            }
            catch (final IllegalArgumentException notAName)
            {
                return null;
            }
            if (!isAscii(ascii))
            {
                return null;
            }
        }
        return lowerWithoutTrailingDot(ascii);
    }

    /** A certificate's DNS name or common name as it is compared; null (matching nothing) when not all ASCII. */
    static String certificateName(final String name)
    {
        return isAscii(name) ? lowerWithoutTrailingDot(name) : null;
    }

    /**
     * @return the address of a strict IPv4 dotted quad or of an IPv6 literal (brackets and a zone allowed), or null
     * for anything else. Never a lookup.
     */
    static byte[] addressLiteral(final String host)
    {
        if (host == null || host.isEmpty())
        {
            return null;
        }
        if (digitsAndDots(host))
        {
            return DOTTED_QUAD.matcher(host).matches() ? NetUtil.createByteArrayFromIpAddressString(host) : null;
        }
        return host.indexOf(':') >= 0 ? NetUtil.createByteArrayFromIpAddressString(host) : null;
    }

    private static boolean digitsAndDots(final String host)
    {
        for (int i = 0; i < host.length(); i++)
        {
            final char c = host.charAt(i);
            if (c != '.' && (c < '0' || c > '9'))
            {
                return false;
            }
        }
        return !host.isEmpty();
    }

    private static boolean isAscii(final String text)
    {
        for (int i = 0; i < text.length(); i++)
        {
            if (text.charAt(i) > 0x7F)
            {
                return false;
            }
        }
        return true;
    }

    private static String lowerWithoutTrailingDot(final String name)
    {
        final String lower = name.toLowerCase(Locale.ROOT);
        return lower.endsWith(".") ? lower.substring(0, lower.length() - 1) : lower;
    }

    private static String commonName(final X500Principal subject)
    {
        try
        {
            Object found = null;
            // RDNs in order from the most general to the most specific: the last common name wins, and one that is
            // not a plain string, or shares its RDN with other values, names nothing
            for (final Rdn rdn : new LdapName(subject.getName(X500Principal.RFC2253)).getRdns())
            {
                final javax.naming.directory.Attribute cn = rdn.toAttributes().get("CN");
                if (cn != null)
                {
                    found = rdn.size() == 1 && cn.size() == 1 ? cn.get() : null;
                }
            }
            return found instanceof String value ? value : null;
        }
        catch (final javax.naming.NamingException ex)
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
