package io.xfer.agent.tls;

import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;

import java.io.IOException;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.logging.Logger;

/**
 * Builds the TLS contexts of agent and client: TLS 1.3 only, BoringSSL through netty-tcnative when it loads, the
 * JDK provider otherwise (the choice is logged), trust limited to the configured CA, and mutual authentication.
 */
public final class TlsContexts
{
    private static final Logger LOG = Logger.getLogger(TlsContexts.class.getName());
    private static final String TLS_13 = "TLSv1.3";

    /**
     * Plaintext SslHandler hands the TLS engine per flush while it carries the records: pending writes up to this
     * size are encrypted into one buffer and written with one promise, instead of one of each per 16 KiB record.
     * Measured on a 2 GiB push with 4 streams: 11% less client CPU and 1.8 MB less heap allocated per GiB. With
     * BoringSSL, {@link TlsRecordLayer} takes the records over once the handshake is done; with the JDK provider
     * SslHandler keeps them.
     */
    public static final int WRAP_BYTES = 256 * 1024;

    /**
     * Netty puts the key and its chain in a key store that only lives in memory, to build a key manager. The JDK's
     * default type, PKCS12, protects the key with 10,000 rounds of PBKDF2 even there (about 35 ms of every
     * command's start, profiled); JKS's protection is cheap, and nothing is written anywhere.
     */
    private static final String IN_MEMORY_KEY_STORE = "JKS";

    private TlsContexts()
    {
    }

    /** Settings every connection's TLS handler gets, on both sides. */
    public static SslHandler tune(final SslHandler handler)
    {
        handler.setWrapDataSize(WRAP_BYTES);
        return handler;
    }

    /**
     * @return the provider used: OPENSSL (BoringSSL) when netty-tcnative loaded, else JDK.
     */
    public static SslProvider provider()
    {
        return OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK;
    }

    /** @return "BoringSSL" or "JDK": the TLS implementation this process uses, for reports. */
    public static String providerName()
    {
        return OpenSsl.isAvailable() ? "BoringSSL" : "JDK";
    }

    public static String describeProvider()
    {
        if (OpenSsl.isAvailable())
        {
            return "BoringSSL (" + OpenSsl.versionString() + ")";
        }
        final Throwable cause = OpenSsl.unavailabilityCause();
        return "JDK (netty-tcnative unavailable: " + (cause == null ? "unknown" : cause.getMessage()) + ")";
    }

    public static SslContext server(
        final Path certificate, final Path privateKey, final Path ca, final boolean requireClientCertificate)
        throws IOException
    {
        final SslProvider provider = provider();
        final List<X509Certificate> chain = Pem.readCertificates(certificate);
        final PrivateKey key = Pem.readPrivateKey(privateKey);
        final List<X509Certificate> trusted = Pem.readCertificates(ca);
        LOG.info(() -> "TLS provider: " + describeProvider());
        return SslContextBuilder.forServer(key, chain.toArray(new X509Certificate[0]))
            .sslProvider(provider)
            .protocols(TLS_13)
            .trustManager(new ClientTrustManager(trusted, provider == SslProvider.OPENSSL))
            .clientAuth(requireClientCertificate ? ClientAuth.REQUIRE : ClientAuth.OPTIONAL)
            .keyStoreType(IN_MEMORY_KEY_STORE)
            .build();
    }

    /**
     * The agent's certificate must lead to {@code ca} and name the host the client dialled (the host given to
     * {@code newHandler}): {@link AgentTrustManager}.
     *
     * @param certificate client certificate, or null to connect without one.
     * @param privateKey  its key, or null.
     * @param ca          the CA that signed the agent's certificate.
     */
    public static SslContext client(final Path certificate, final Path privateKey, final Path ca) throws IOException
    {
        final List<X509Certificate> trusted = Pem.readCertificates(ca);
        final SslContextBuilder builder = SslContextBuilder.forClient()
            .sslProvider(provider())
            .protocols(TLS_13)
            .trustManager(AgentTrustManager.trusting(trusted))
            // the names are checked by AgentTrustManager; the JDK's check (Netty's default) would load the JDK's
            // public CA store in every handshake
            .endpointIdentificationAlgorithm(null)
            .keyStoreType(IN_MEMORY_KEY_STORE);
        if (certificate != null)
        {
            builder.keyManager(Pem.readPrivateKey(privateKey),
                Pem.readCertificates(certificate).toArray(new X509Certificate[0]));
        }
        return builder.build();
    }
}
