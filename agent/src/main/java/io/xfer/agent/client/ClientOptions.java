package io.xfer.agent.client;

import io.xfer.agent.config.AgentConfig;

import java.nio.file.Path;

/**
 * How the client connects and transfers. Certificate paths default to {@code ~/.xfer/} ({@link #defaultDir()}).
 */
public final class ClientOptions
{
    public static final long CONNECT_TIMEOUT_NS_DEFAULT = 10_000_000_000L;
    public static final long IDLE_TIMEOUT_NS_DEFAULT = AgentConfig.IDLE_TIMEOUT_NS_DEFAULT;

    private Path certificate;
    private Path privateKey;
    private Path ca;
    private long connectTimeoutNs = CONNECT_TIMEOUT_NS_DEFAULT;
    private long idleTimeoutNs = IDLE_TIMEOUT_NS_DEFAULT;
    private int chunkLength = (int)AgentConfig.CHUNK_LENGTH_DEFAULT;
    private boolean overwrite;
    private AgentConfig.Transport transport = AgentConfig.Transport.AUTO;

    /** @return {@code $XFER_HOME} if set, else {@code ~/.xfer}. */
    public static Path defaultDir()
    {
        final String home = System.getenv("XFER_HOME");
        return home != null && !home.isEmpty() ? Path.of(home) : Path.of(System.getProperty("user.home"), ".xfer");
    }

    public Path certificate()
    {
        return certificate != null ? certificate : defaultDir().resolve("client.crt");
    }

    public ClientOptions certificate(final Path certificate)
    {
        this.certificate = certificate;
        return this;
    }

    public Path privateKey()
    {
        return privateKey != null ? privateKey : defaultDir().resolve("client.key");
    }

    public ClientOptions privateKey(final Path privateKey)
    {
        this.privateKey = privateKey;
        return this;
    }

    public Path ca()
    {
        return ca != null ? ca : defaultDir().resolve("ca.crt");
    }

    public ClientOptions ca(final Path ca)
    {
        this.ca = ca;
        return this;
    }

    public long connectTimeoutNs()
    {
        return connectTimeoutNs;
    }

    public ClientOptions connectTimeoutNs(final long connectTimeoutNs)
    {
        this.connectTimeoutNs = connectTimeoutNs;
        return this;
    }

    public long idleTimeoutNs()
    {
        return idleTimeoutNs;
    }

    public ClientOptions idleTimeoutNs(final long idleTimeoutNs)
    {
        this.idleTimeoutNs = idleTimeoutNs;
        return this;
    }

    public int chunkLength()
    {
        return chunkLength;
    }

    public ClientOptions chunkLength(final int chunkLength)
    {
        this.chunkLength = chunkLength;
        return this;
    }

    public boolean overwrite()
    {
        return overwrite;
    }

    public ClientOptions overwrite(final boolean overwrite)
    {
        this.overwrite = overwrite;
        return this;
    }

    public AgentConfig.Transport transport()
    {
        return transport;
    }

    public ClientOptions transport(final AgentConfig.Transport transport)
    {
        this.transport = transport;
        return this;
    }
}
