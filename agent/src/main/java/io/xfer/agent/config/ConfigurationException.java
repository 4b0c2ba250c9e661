package io.xfer.agent.config;

/**
 * A setting that is missing, malformed or inconsistent. The message names the file, line and setting.
 */
public final class ConfigurationException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    public ConfigurationException(final String message)
    {
        super(message);
    }

    public ConfigurationException(final String message, final Throwable cause)
    {
        super(message, cause);
    }
}
