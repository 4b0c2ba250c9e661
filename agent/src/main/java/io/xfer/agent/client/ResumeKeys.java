package io.xfer.agent.client;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Resume keys: the identity of a transfer across re-runs of the same command, derived from its direction, the
 * agent and module path, and the local side (the sources of a push, the destination of a pull). The same command
 * gives the same key, so the receiver's checkpoint journal is found again.
 */
public final class ResumeKeys
{
    private ResumeKeys()
    {
    }

    public static String of(final String direction, final Endpoint endpoint, final String local)
    {
        return hash(direction + '\0' + endpoint.host() + '\0' + endpoint.port() + '\0' + endpoint.module() + '\0' +
            endpoint.path() + '\0' + local);
    }

    /** 32 lowercase hex digits of SHA-256. */
    public static String hash(final String text)
    {
        try
        {
            final byte[] digest = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest, 0, 16);
        }
        catch (final NoSuchAlgorithmException ex)
        {
            throw new IllegalStateException("SHA-256 is missing from this JVM", ex);
        }
    }
}
