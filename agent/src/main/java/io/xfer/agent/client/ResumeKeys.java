package io.xfer.agent.client;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Resume keys: the identity of a transfer across re-runs of the same command, derived from its direction, the
 * module path and the local side (the sources of a push, the destination of a pull), and for a pull the agent's
 * address. The same command gives the same key, so the receiver's checkpoint journal is found again.
 */
public final class ResumeKeys
{
    private ResumeKeys()
    {
    }

    /**
     * A push's journal lives on the agent, which is therefore implied: the key leaves the address out, so the same
     * push resumes whichever name, address or port it reaches the agent by.
     */
    public static String push(final Endpoint endpoint, final String sources)
    {
        return hash("push" + '\0' + endpoint.module() + '\0' + endpoint.path() + '\0' + sources);
    }

    /**
     * A pull's journal lives in the local destination, which pulls from different agents may share: the key names
     * the agent by the address it was reached at.
     */
    public static String pull(final Endpoint endpoint, final String destination)
    {
        return hash("pull" + '\0' + endpoint.host() + '\0' + endpoint.port() + '\0' + endpoint.module() + '\0' +
            endpoint.path() + '\0' + destination);
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
