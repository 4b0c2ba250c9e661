package io.xfer.agent.tls;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The client's check that an agent's certificate names the host it dialled (RFC 6125 rules for a private CA), and
 * that a check without a host fails closed.
 */
class AgentTrustManagerTest
{
    private static final CertificateAuthority CA = CertificateAuthority.create("name test CA", Duration.ofDays(1));

    @ParameterizedTest(name = "{0} against {1}: {2}")
    @CsvSource({
        "agent.example.com, agent.example.com, true",
        "AGENT.Example.COM, agent.example.com, true",
        "agent.example.com., agent.example.com, true",
        "agent.example.com, agent.example.com., true",
        "agent.example.com, other.example.com, false",
        "example.com, agent.example.com, false",
        "agent.example.com.evil, agent.example.com, false",
        "a.example.com, *.example.com, true",
        "A.EXAMPLE.COM, *.example.com, true",
        "example.com, *.example.com, false",
        "a.b.example.com, *.example.com, false",
        ".example.com, *.example.com, false",
        "a.com, *.com, false",
        "localhost, *.localhost, false",
        "a.localhost, *.localhost, false",
        "a.example.com, a*.example.com, false",
        "a.example.com, *.*.com, false",
        "a.example.com, a.*.com, false",
        "a.example.com, '', false",
        "'', agent.example.com, false",
    })
    void shouldMatchDnsNames(final String host, final String pattern, final boolean matches)
    {
        assertEquals(matches, AgentTrustManager.dnsMatches(AgentTrustManager.hostName(host),
            AgentTrustManager.certificateName(pattern)));
    }

    @Test
    void shouldReadAddressLiteralsWithoutLookingAnythingUp()
    {
        assertArrayEquals(new byte[] {127, 0, 0, 1}, AgentTrustManager.addressLiteral("127.0.0.1"));
        assertArrayEquals(AgentTrustManager.addressLiteral("0:0:0:0:0:0:0:1"), AgentTrustManager.addressLiteral("::1"));
        assertArrayEquals(AgentTrustManager.addressLiteral("::1"), AgentTrustManager.addressLiteral("[::1]"));
        assertArrayEquals(new byte[] {(byte)0xfe, (byte)0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
            AgentTrustManager.addressLiteral("fe80::1%1"), "a zone is local: the same address");
        assertNull(AgentTrustManager.addressLiteral("256.0.0.1"));
        // forms some resolvers read as addresses: no strict literal
        assertNull(AgentTrustManager.addressLiteral("127.1"));
        assertNull(AgentTrustManager.addressLiteral("2130706433"));
        assertNull(AgentTrustManager.addressLiteral("0177.0.0.1"));
        assertNull(AgentTrustManager.addressLiteral("010.0.0.1"));
        assertNull(AgentTrustManager.addressLiteral("g::1"));
        assertNull(AgentTrustManager.addressLiteral("host.com:80"));
        assertNull(AgentTrustManager.addressLiteral("localhost"));
        assertNull(AgentTrustManager.addressLiteral("1.2.3"));
        assertNull(AgentTrustManager.addressLiteral("1.2.3.4.example.com"));
        assertNull(AgentTrustManager.addressLiteral(null));
    }

    @Test
    void shouldMatchAddressesOnlyAgainstAddressEntries() throws Exception
    {
        final X509Certificate cert = server("agent", List.of("agent.example.com", "127.0.0.2"),
            List.of("127.0.0.1", "::1"));
        assertTrue(AgentTrustManager.names("127.0.0.1", cert));
        assertTrue(AgentTrustManager.names("::1", cert));
        assertTrue(AgentTrustManager.names("0:0:0:0:0:0:0:1", cert));
        assertTrue(AgentTrustManager.names("agent.example.com", cert));
        // an address written as a DNS entry names nothing: addresses match IP entries only
        assertEquals(false, AgentTrustManager.names("127.0.0.2", cert));
        assertEquals(false, AgentTrustManager.names("127.0.0.3", cert));
        assertEquals(false, AgentTrustManager.names("agent", cert), "the common name does not count beside DNS entries");
    }

    @Test
    void shouldNameNothingForAHostThatIsAnAddressToSomeButNoStrictLiteral() throws Exception
    {
        // a certificate whose DNS entries look like the loose forms, and whose address is the one they stand for
        final X509Certificate cert = server("numbers", List.of("127.1", "2130706433", "0177.0.0.1"),
            List.of("127.0.0.1"));
        for (final String host : List.of("127.1", "2130706433", "0177.0.0.1", "g::1", "host.com:80"))
        {
            assertEquals(false, AgentTrustManager.names(host, cert), host);
        }
        assertTrue(AgentTrustManager.names("127.0.0.1", cert));
    }

    @Test
    void shouldSayWhyALooseAddressIsRefused() throws Exception
    {
        final X509Certificate cert = server("agent", List.of("agent.example.com"), List.of("127.0.0.1"));
        final CertificateException refused = assertThrows(CertificateException.class,
            () -> AgentTrustManager.checkNames("127.1", new X509Certificate[] {cert}));
        assertTrue(refused.getMessage().contains("no strict IPv4 or IPv6 literal"), refused::toString);
    }

    @Test
    void shouldCompareHostsInTheirAsciiFormAndCertificateNamesOnlyInAscii() throws Exception
    {
        final X509Certificate idn = server("idn", List.of("xn--bcher-kva.example"), List.of());
        assertTrue(AgentTrustManager.names("bücher.example", idn), "a host in Unicode, its ASCII form in the cert");
        assertTrue(AgentTrustManager.names("xn--bcher-kva.example", idn));
        assertNull(AgentTrustManager.certificateName("ａｇｅｎｔ．example．com"), "look-alikes in a certificate");
        assertNull(AgentTrustManager.certificateName("\u212Aey.example.com"), "the Kelvin sign is not a K");
        assertEquals("agent.example.com", AgentTrustManager.hostName("ＡＧＥＮＴ.example.com"),
            "a host may be written with full-width letters: IDNA maps them");
    }

    @Test
    void shouldFallBackToTheCommonNameOnlyWithoutDnsEntries() throws Exception
    {
        final X509Certificate onlyCommonName = server("legacy.example.com", List.of(), List.of());
        assertTrue(AgentTrustManager.names("legacy.example.com", onlyCommonName));
        assertTrue(AgentTrustManager.names("LEGACY.example.com.", onlyCommonName));
        assertEquals(false, AgentTrustManager.names("other.example.com", onlyCommonName));
        final X509Certificate onlyAddress = server("legacy.example.com", List.of(), List.of("127.0.0.1"));
        assertTrue(AgentTrustManager.names("legacy.example.com", onlyAddress), "no DNS entry: the common name");
        assertEquals(false, AgentTrustManager.names("127.0.0.2", onlyAddress));
    }

    @Test
    void shouldRefuseWithoutAHostToCompare() throws Exception
    {
        final X509Certificate cert = server("agent", List.of("agent.example.com"), List.of());
        final AgentTrustManager manager = AgentTrustManager.trusting(List.of(CA.certificate()));
        final X509Certificate[] chain = {cert};
        final CertificateException noHost = assertThrows(CertificateException.class,
            () -> manager.checkServerTrusted(chain, "UNKNOWN"));
        assertTrue(noHost.getMessage().contains("no host name"), noHost::toString);
        final CertificateException nullEngine = assertThrows(CertificateException.class,
            () -> manager.checkServerTrusted(chain, "UNKNOWN", (javax.net.ssl.SSLEngine)null));
        assertTrue(nullEngine.getMessage().contains("no host name"), nullEngine::toString);
    }

    @Test
    void shouldRefuseAChainFromAnotherCaWhateverItNames() throws Exception
    {
        final CertificateAuthority other = CertificateAuthority.create("other CA", Duration.ofDays(1));
        final X509Certificate foreign = other.issue("agent", List.of("agent.example.com"), List.of(),
            CertificateAuthority.Usage.SERVER, Duration.ofDays(1)).certificate();
        final AgentTrustManager manager = AgentTrustManager.trusting(List.of(CA.certificate()));
        assertThrows(CertificateException.class,
            () -> manager.checkServerTrusted(new X509Certificate[] {foreign}, "UNKNOWN"));
        assertEquals(1, manager.getAcceptedIssuers().length);
    }

    private static X509Certificate server(final String commonName, final List<String> dns, final List<String> ips)
        throws Exception
    {
        return CA.issue(commonName, dns, ips, CertificateAuthority.Usage.SERVER, Duration.ofDays(1)).certificate();
    }
}
