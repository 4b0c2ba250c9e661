package io.xfer.agent.tls;

import io.netty.handler.ssl.ReferenceCountedOpenSslEngine;
import io.netty.internal.tcnative.SSL;
import io.netty.util.internal.PlatformDependent;

import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;

/**
 * The application data records of an established BoringSSL connection, read and written with BoringSSL's own calls
 * on the engine's SSL object and network BIO, the calls {@link ReferenceCountedOpenSslEngine}'s wrap and unwrap make.
 *
 * <p>Why: the engine answers every wrap and unwrap with a new {@link SSLEngineResult}. With one unwrap per frame
 * received and one wrap per frame or acknowledgement sent, those results were most of the heap a receiving agent
 * still allocated per GiB (profiled: about 100 KB/GiB at 1 MiB chunks). These calls leave their outcome in fields
 * instead ({@link #consumed}, {@link #produced}, {@link #needWrap}, {@link #closed}).
 *
 * <p>Only application data goes this way, and only while the engine is open: what the engine must write itself (an
 * alert, close_notify, the answer to a key update) is left in its BIO ({@link #needWrap}) for the engine's wrap, and
 * a write that finds such bytes waiting returns {@code false} so that the engine's wrap sends them first, in order.
 * Every call holds the engine's lock, as the engine's own calls do, and takes the SSL pointer afresh from
 * {@link ReferenceCountedOpenSslEngine#sslPointer()}, which is 0 once the engine has freed it. The network BIO's
 * address is read once, by reflection, from the engine's private field; where that is not possible (a JDK that
 * refuses, a Netty without the field) {@link #of} returns null and the engine's API is used throughout.
 *
 * <p>Set the system property {@value #DISABLE_PROPERTY} to {@code true} to use the engine's API instead, for a
 * comparison or a suspected fault.
 */
final class DirectRecords
{
    /** System property: {@code true} leaves all records to the engine's wrap and unwrap. */
    static final String DISABLE_PROPERTY = "xfer.tls.engineRecords";

    private static final Logger LOG = Logger.getLogger(DirectRecords.class.getName());
    private static final Field NETWORK_BIO = networkBioField();

    private final ReferenceCountedOpenSslEngine engine;
    private final long networkBio;

    /** Ciphertext bytes the last {@link #read} consumed, or plaintext bytes the last {@link #write} consumed. */
    int consumed;
    /** Plaintext bytes the last {@link #read} produced, or ciphertext bytes the last {@link #write} produced. */
    int produced;
    /** Whether the engine has bytes of its own to send (an alert, a key update): its wrap sends them. */
    boolean needWrap;
    /** Whether the last {@link #read} met the peer's close_notify. */
    boolean closed;
    /**
     * Whether the last {@link #read} stopped because the engine's own bytes must go out first ({@link #needWrap}):
     * the sources keep what it did not take, and reading goes on once the engine's wrap has sent them.
     */
    boolean blocked;

    private DirectRecords(final ReferenceCountedOpenSslEngine engine, final long networkBio)
    {
        this.engine = engine;
        this.networkBio = networkBio;
    }

    /**
     * @return direct calls on {@code engine}, whose handshake is done; null where they cannot be made, and the
     * engine's API is to be used.
     */
    static DirectRecords of(final ReferenceCountedOpenSslEngine engine)
    {
        if (NETWORK_BIO == null || Boolean.getBoolean(DISABLE_PROPERTY) || !PlatformDependent.hasUnsafe())
        {
            return null;
        }
        // TLS 1.3 has no renegotiation, which the engine's unwrap refuses and these calls would not see
        if (!"TLSv1.3".equals(engine.getSession().getProtocol()))
        {
            return null;
        }
        synchronized (engine)
        {
            try
            {
                final long bio = NETWORK_BIO.getLong(engine);
                return bio != 0 && engine.sslPointer() != 0 ? new DirectRecords(engine, bio) : null;
            }
            catch (final IllegalAccessException ex)
            {
                return null;
            }
        }
    }

    /** @return whether this JVM and Netty allow the direct calls at all (tests). */
    static boolean available()
    {
        return NETWORK_BIO != null && PlatformDependent.hasUnsafe();
    }

    private static Field networkBioField()
    {
        try
        {
            final Field field = ReferenceCountedOpenSslEngine.class.getDeclaredField("networkBIO");
            if (field.getType() != long.class)
            {
                return null;
            }
            field.setAccessible(true);
            return field;
        }
        catch (final ReflectiveOperationException | RuntimeException ex)
        {
            LOG.log(Level.FINE, "TLS records go through the engine's API: its network BIO cannot be reached", ex);
            return null;
        }
    }

    /**
     * Encrypt {@code length} bytes at {@code src} into the {@code room} bytes at {@code dst}, one record per
     * SSL_write (the engine's SSL has partial writes on), as long as a whole record and its overhead still fit.
     * {@link #consumed} and {@link #produced} say how far it got: SSL_write first sends what BoringSSL still holds
     * to send (a server's session tickets, right after the handshake), which may fill the output before any of
     * {@code src} is taken.
     *
     * @return false, having done nothing, when the engine has bytes of its own waiting to go first: its wrap sends
     * them.
     * @throws SSLException when the engine is closed for writing, or BoringSSL fails.
     */
    boolean write(final long src, final int length, final long dst, final int room, final int recordOverhead)
        throws SSLException
    {
        consumed = 0;
        produced = 0;
        needWrap = false;
        synchronized (engine)
        {
            final long ssl = engine.sslPointer();
            if (ssl == 0 || engine.isOutboundDone())
            {
                throw new SSLException("TLS engine closed for writing");
            }
            if (SSL.bioLengthNonApplication(networkBio) > 0)
            {
                needWrap = true;
                return false;
            }
            SSL.bioSetByteBuffer(networkBio, dst, room, true);
            try
            {
                while (consumed < length)
                {
                    // SSL_write keeps a record it could not finish for the next call: never start one that may not fit
                    final int fits = room - produced - recordOverhead;
                    if (fits <= 0)
                    {
                        break;
                    }
                    final int wrote = SSL.writeToSSL(ssl, src + consumed, Math.min(length - consumed, fits));
                    produced = room - SSL.bioLengthByteBuffer(networkBio);
                    if (wrote > 0)
                    {
                        consumed += wrote;
                        continue;
                    }
                    final int error = SSL.getError(ssl, wrote);
                    if (error == SSL.SSL_ERROR_WANT_WRITE)
                    {
                        // the output is full of what BoringSSL had to send first (a server's session tickets)
                        break;
                    }
                    throw failure("SSL_write", error);
                }
            }
            finally
            {
                SSL.bioClearByteBuffer(networkBio);
            }
            needWrap = SSL.bioLengthNonApplication(networkBio) > 0;
            return true;
        }
    }

    /**
     * Decrypt what {@code srcs[0..count)} hold into the {@code room} bytes at {@code dst}, moving each source's
     * position past what BoringSSL took (it keeps a record cut short by a source's end itself). Stops when the output
     * is full, when every source is taken, or at the peer's close_notify ({@link #closed}).
     *
     * @return true when the output was filled and more plaintext may follow from what is held.
     * @throws SSLException when a record is damaged or BoringSSL fails otherwise; the alert it queued for the peer is
     * in the BIO ({@link #needWrap}) for the engine's wrap to send.
     */
    boolean read(final ByteBuffer[] srcs, final int count, final long dst, final int room) throws SSLException
    {
        consumed = 0;
        produced = 0;
        needWrap = false;
        closed = false;
        blocked = false;
        synchronized (engine)
        {
            final long ssl = engine.sslPointer();
            if (ssl == 0 || engine.isInboundDone())
            {
                closed = true;
                return false;
            }
            try
            {
                for (int i = 0; i < count && produced < room && !closed && !blocked; i++)
                {
                    readFrom(ssl, srcs[i], dst, room);
                }
                if (produced == room)
                {
                    return SSL.sslPending(ssl) > 0 || remaining(srcs, count);
                }
                return false;
            }
            finally
            {
                if ((SSL.getShutdown(ssl) & SSL.SSL_RECEIVED_SHUTDOWN) != 0)
                {
                    closed = true;
                }
                needWrap = SSL.bioLengthNonApplication(networkBio) > 0;
            }
        }
    }

    private void readFrom(final long ssl, final ByteBuffer src, final long dst, final int room) throws SSLException
    {
        final int start = src.position();
        final int length = src.remaining();
        // an empty source (none held) still yields what BoringSSL holds from earlier ones
        if (length > 0)
        {
            SSL.bioSetByteBuffer(networkBio, PlatformDependent.directBufferAddress(src) + start, length, false);
        }
        try
        {
            while (produced < room)
            {
                final int read = SSL.readFromSSL(ssl, dst + produced, room - produced);
                final int taken = length - SSL.bioLengthByteBuffer(networkBio);
                consumed += taken - (src.position() - start);
                src.position(start + taken);
                if (read > 0)
                {
                    produced += read;
                    continue;
                }
                final int error = SSL.getError(ssl, read);
                if (error == SSL.SSL_ERROR_WANT_READ)
                {
                    return;
                }
                if (error == SSL.SSL_ERROR_ZERO_RETURN)
                {
                    closed = true;
                    return;
                }
                if (error == SSL.SSL_ERROR_WANT_WRITE)
                {
                    // the BIO's room for the engine's own records is full: those go out first, and reading goes on
                    // from where this source stopped (never from the next one, which would put bytes out of order)
                    blocked = true;
                    return;
                }
                throw failure("SSL_read", error);
            }
        }
        finally
        {
            SSL.bioClearByteBuffer(networkBio);
        }
    }

    private static boolean remaining(final ByteBuffer[] srcs, final int count)
    {
        for (int i = 0; i < count; i++)
        {
            if (srcs[i].hasRemaining())
            {
                return true;
            }
        }
        return false;
    }

    /** The error BoringSSL reports, as the engine would word it; the thread's error queue is left empty. */
    private static SSLException failure(final String call, final int sslError)
    {
        final int code = SSL.getLastErrorNumber();
        final String reason = code != 0 ? SSL.getErrorString(code) : call + " failed with SSL error " + sslError;
        SSL.clearError();
        return new SSLException(reason);
    }
}
