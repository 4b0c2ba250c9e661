package io.xfer.agent.tls;

import io.netty.handler.ssl.OpenSslCertificateException;
import io.netty.internal.tcnative.CertificateVerifier;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;
import java.io.IOException;
import java.net.Socket;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.PKIXReason;
import java.security.cert.X509Certificate;
import java.util.List;

/**
 * The agent's check of client certificates: the JDK's PKIX validation against the configured CA, with failures
 * told to the client by the TLS alert that names them. With BoringSSL, a refusal that Netty cannot classify goes out
 * as {@code internal_error}, which reads as a fault of the agent; a certificate that leads to none of the
 * configured CAs must read {@code unknown_ca}. Expired and not-yet-valid certificates already get their own alerts.
 * (A client whose certificates all come from a CA the agent does not name sends none, and gets
 * {@code certificate_required} before this check.)
 * With the JDK's provider every refusal is {@code certificate_unknown} or {@code bad_certificate}, as before.
 */
final class ClientTrustManager extends X509ExtendedTrustManager
{
    private final X509ExtendedTrustManager pkix;
    private final boolean openSsl;

    /**
     * @param openSsl whether the contexts use BoringSSL, whose alert Netty takes from an
     *                {@link OpenSslCertificateException}; its codes need the native library.
     */
    ClientTrustManager(final List<X509Certificate> trusted, final boolean openSsl) throws IOException
    {
        this.pkix = AgentTrustManager.pkix(trusted);
        this.openSsl = openSsl;
    }

    @Override
    public void checkClientTrusted(final X509Certificate[] chain, final String authType, final SSLEngine engine)
        throws CertificateException
    {
        check(() -> pkix.checkClientTrusted(chain, authType, engine));
    }

    @Override
    public void checkClientTrusted(final X509Certificate[] chain, final String authType, final Socket socket)
        throws CertificateException
    {
        check(() -> pkix.checkClientTrusted(chain, authType, socket));
    }

    @Override
    public void checkClientTrusted(final X509Certificate[] chain, final String authType) throws CertificateException
    {
        check(() -> pkix.checkClientTrusted(chain, authType));
    }

    /** One of the PKIX manager's checks. */
    private interface Check
    {
        void run() throws CertificateException;
    }

    private void check(final Check check) throws CertificateException
    {
        try
        {
            check.run();
        }
        catch (final CertificateException ex)
        {
            throw withAlert(ex);
        }
    }

    /** The agent never checks a server. */
    @Override
    public void checkServerTrusted(final X509Certificate[] chain, final String authType, final SSLEngine engine)
        throws CertificateException
    {
        throw new CertificateException("the agent checks client certificates only");
    }

    @Override
    public void checkServerTrusted(final X509Certificate[] chain, final String authType, final Socket socket)
        throws CertificateException
    {
        throw new CertificateException("the agent checks client certificates only");
    }

    @Override
    public void checkServerTrusted(final X509Certificate[] chain, final String authType) throws CertificateException
    {
        throw new CertificateException("the agent checks client certificates only");
    }

    /** The configured CA certificates: what the agent's CertificateRequest names, so a client can pick its own. */
    @Override
    public X509Certificate[] getAcceptedIssuers()
    {
        return pkix.getAcceptedIssuers();
    }

    /**
     * @return {@code refusal} as it is where Netty already finds its alert (validity, revocation) or without
     * BoringSSL; otherwise with the verification error whose alert says what was wrong.
     */
    CertificateException withAlert(final CertificateException refusal)
    {
        if (!openSsl || refusal instanceof OpenSslCertificateException)
        {
            return refusal;
        }
        int error = CertificateVerifier.X509_V_ERR_CERT_REJECTED;
        for (Throwable t = refusal; t != null && t.getCause() != t; t = t.getCause())
        {
            if (t instanceof CertificateExpiredException || t instanceof CertificateNotYetValidException)
            {
                return refusal;
            }
            if (t instanceof CertPathValidatorException validation)
            {
                final CertPathValidatorException.Reason reason = validation.getReason();
                if (reason == CertPathValidatorException.BasicReason.EXPIRED ||
                    reason == CertPathValidatorException.BasicReason.NOT_YET_VALID ||
                    reason == CertPathValidatorException.BasicReason.REVOKED)
                {
                    return refusal;
                }
                if (reason == PKIXReason.NO_TRUST_ANCHOR)
                {
                    // a CA of a configured CA's name but another key, or none of theirs
                    error = CertificateVerifier.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
                }
                else if (reason == CertPathValidatorException.BasicReason.INVALID_SIGNATURE)
                {
                    error = CertificateVerifier.X509_V_ERR_CERT_SIGNATURE_FAILURE;
                }
            }
            if (t instanceof CertPathBuilderException)
            {
                // no path from the chain to a configured CA
                error = CertificateVerifier.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
            }
        }
        return new OpenSslCertificateException(refusal.getMessage(), refusal, error);
    }
}
