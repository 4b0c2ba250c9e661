package io.xfer.agent.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * A named directory that clients address as {@code xfer://host/NAME/...}, with the identities that may read
 * (pull) from it and write (push) into it. The identity {@value #ANY} matches every authenticated client.
 *
 * @param name    module name, [A-Za-z0-9._-]+.
 * @param root    the directory, absolute and with symlinks resolved at load time.
 * @param comment free text shown to administrators.
 * @param readers identities allowed to pull.
 * @param writers identities allowed to push.
 */
public record ModuleConfig(String name, Path root, String comment, Set<String> readers, Set<String> writers)
{
    /** Matches any client that presented a certificate the agent trusts. */
    public static final String ANY = "*";

    public boolean mayRead(final List<String> identities)
    {
        return matches(readers, identities);
    }

    public boolean mayWrite(final List<String> identities)
    {
        return matches(writers, identities);
    }

    private static boolean matches(final Set<String> allowed, final List<String> identities)
    {
        if (allowed.contains(ANY) && !identities.isEmpty() && !identities.contains(AgentConfig.ANONYMOUS))
        {
            return true;
        }
        for (final String identity : identities)
        {
            if (allowed.contains(identity))
            {
                return true;
            }
        }
        return false;
    }
}
