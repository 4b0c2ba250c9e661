package io.xfer.agent.client;

import org.junit.jupiter.api.Test;

import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

/** Reading a received TLS alert out of the engines' exceptions, and nothing else as one. */
class AlertNameTest
{
    @Test
    void shouldNameTheAlertsOfBothEngines()
    {
        assertEquals("certificate_required", XferClient.alertName(new SSLException(
            "error:1000045c:SSL routines:OPENSSL_internal:TLSV1_ALERT_CERTIFICATE_REQUIRED")));
        assertEquals("unknown_ca", XferClient.alertName(new SSLException(
            "error:10000418:SSL routines:OPENSSL_internal:TLSV1_ALERT_UNKNOWN_CA")));
        assertEquals("bad_certificate", XferClient.alertName(new SSLException(
            "error:10000412:SSL routines:OPENSSL_internal:SSLV3_ALERT_BAD_CERTIFICATE")));
        assertEquals("certificate_unknown", XferClient.alertName(new SSLHandshakeException(
            "Received fatal alert: certificate_unknown")));
    }

    @Test
    void shouldNotTakeOtherFailuresForAnAlert()
    {
        assertNull(XferClient.alertName(new SSLException("TLS engine closed for writing")));
        assertNull(XferClient.alertName(new SSLException((String)null)));
        // an alert name earlier in a message that goes on is not what was received
        assertNull(XferClient.alertName(new SSLException("TLSV1_ALERT_UNKNOWN_CA: then: something else")));
    }

    @Test
    void shouldFindTheFirstSslExceptionInAChain()
    {
        final SSLException ssl = new SSLException("TLSV1_ALERT_DECODE_ERROR");
        assertSame(ssl, XferClient.sslCause(new RuntimeException(new IllegalStateException(ssl))));
        assertNull(XferClient.sslCause(new RuntimeException(new java.io.IOException("reset"))));
    }
}
