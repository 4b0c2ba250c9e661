package io.xfer.agent.client;

import io.xfer.agent.config.AgentConfig;
import io.xfer.agent.engine.Compression;

import java.nio.file.Path;

/**
 * How the client connects and transfers. Certificate paths default to {@code ~/.xfer/} ({@link #defaultDir()}).
 */
public final class ClientOptions
{
    public static final long CONNECT_TIMEOUT_NS_DEFAULT = 10_000_000_000L;
    public static final long IDLE_TIMEOUT_NS_DEFAULT = AgentConfig.IDLE_TIMEOUT_NS_DEFAULT;
    public static final int STREAMS_DEFAULT = 4;

    private Path certificate;
    private Path privateKey;
    private Path ca;
    private long connectTimeoutNs = CONNECT_TIMEOUT_NS_DEFAULT;
    private long idleTimeoutNs = IDLE_TIMEOUT_NS_DEFAULT;
    private int chunkLength = (int)AgentConfig.CHUNK_LENGTH_DEFAULT;
    private boolean overwrite;
    private AgentConfig.Transport transport = AgentConfig.Transport.AUTO;
    private Path home;
    private Path workingDirectory;
    private int streams = STREAMS_DEFAULT;
    private Compression compression = Compression.AUTO;
    private boolean inlineData = true;
    private long windowBytes = AgentConfig.STREAM_WINDOW_BYTES_DEFAULT;
    private long sendBudgetBytes = AgentConfig.SEND_BUDGET_BYTES_DEFAULT;
    private long receiveQueueBytes = AgentConfig.RECEIVE_QUEUE_BYTES_DEFAULT;
    private int socketBufferBytes;
    private long bandwidthBytesPerSecond;
    private boolean resume = true;
    private boolean restart;
    private boolean sha256Digests;
    private boolean atomic;
    private boolean plaintextData;
    private boolean intervalLog;
    private long reconnectDelayNs = 1_000_000_000L;
    private int maxReconnects = 5;

    /** @return {@code $XFER_HOME} if set, else {@code ~/.xfer}. */
    public static Path defaultDir()
    {
        final String home = System.getenv("XFER_HOME");
        return home != null && !home.isEmpty() ? Path.of(home) : Path.of(System.getProperty("user.home"), ".xfer");
    }

    /** @return where the default certificate, key and CA are: {@link #home(Path)}, else {@link #defaultDir()} */
    public Path home()
    {
        return home != null ? home : defaultDir();
    }

    /**
     * Look for the default certificate, key and CA in {@code home} instead of {@link #defaultDir()}: for a command
     * run on behalf of a process whose {@code $XFER_HOME} is not this one's. Null restores the default.
     */
    public ClientOptions home(final Path home)
    {
        this.home = home;
        return this;
    }

    /** @return the directory relative local paths are resolved against; null for this process's own */
    public Path workingDirectory()
    {
        return workingDirectory;
    }

    /**
     * Resolve the local paths of a transfer (sources, destination) against {@code workingDirectory} (absolute)
     * instead of this process's: for a command run on behalf of another process. Messages keep the paths as given.
     */
    public ClientOptions workingDirectory(final Path workingDirectory)
    {
        this.workingDirectory = workingDirectory;
        return this;
    }

    /** @return {@code path} as a local path of the transfer: resolved against {@link #workingDirectory()} */
    public Path localPath(final Path path)
    {
        return workingDirectory == null ? path : workingDirectory.resolve(path);
    }

    public Path certificate()
    {
        return certificate != null ? certificate : home().resolve("client.crt");
    }

    public ClientOptions certificate(final Path certificate)
    {
        this.certificate = certificate;
        return this;
    }

    public Path privateKey()
    {
        return privateKey != null ? privateKey : home().resolve("client.key");
    }

    public ClientOptions privateKey(final Path privateKey)
    {
        this.privateKey = privateKey;
        return this;
    }

    public Path ca()
    {
        return ca != null ? ca : home().resolve("ca.crt");
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

    /** Parallel connections to ask for (the agent may grant fewer). */
    public int streams()
    {
        return streams;
    }

    public ClientOptions streams(final int streams)
    {
        if (streams < 1 || streams > 255)
        {
            throw new IllegalArgumentException("--streams must be between 1 and 255, was " + streams);
        }
        this.streams = streams;
        return this;
    }

    public Compression compression()
    {
        return compression;
    }

    public ClientOptions compression(final Compression compression)
    {
        this.compression = compression;
        return this;
    }

    /** Whether this client offers INLINE_DATA: small files' content with their entries, both ways. */
    public boolean inlineData()
    {
        return inlineData;
    }

    public ClientOptions inlineData(final boolean inlineData)
    {
        this.inlineData = inlineData;
        return this;
    }

    /** Unacknowledged bytes per stream when this side sends. */
    public long windowBytes()
    {
        return windowBytes;
    }

    public ClientOptions windowBytes(final long windowBytes)
    {
        this.windowBytes = windowBytes;
        return this;
    }

    /** Payload bytes read ahead of the network when this side sends. */
    public long sendBudgetBytes()
    {
        return sendBudgetBytes;
    }

    public ClientOptions sendBudgetBytes(final long sendBudgetBytes)
    {
        this.sendBudgetBytes = sendBudgetBytes;
        return this;
    }

    /** Bytes queued between the network and the disk when this side receives. */
    public long receiveQueueBytes()
    {
        return receiveQueueBytes;
    }

    public ClientOptions receiveQueueBytes(final long receiveQueueBytes)
    {
        this.receiveQueueBytes = receiveQueueBytes;
        return this;
    }

    /** SO_SNDBUF/SO_RCVBUF for each connection; 0 leaves them to the kernel. */
    public int socketBufferBytes()
    {
        return socketBufferBytes;
    }

    public ClientOptions socketBufferBytes(final int socketBufferBytes)
    {
        this.socketBufferBytes = socketBufferBytes;
        return this;
    }

    /**
     * The link's rate in bytes per second ({@code --bandwidth}); with it the round trip is measured at the handshake
     * and the window and socket buffers are sized for the bandwidth-delay product ({@link
     * io.xfer.agent.engine.LinkSizing}). 0: not given.
     */
    public long bandwidthBytesPerSecond()
    {
        return bandwidthBytesPerSecond;
    }

    public ClientOptions bandwidthBytesPerSecond(final long bandwidthBytesPerSecond)
    {
        this.bandwidthBytesPerSecond = bandwidthBytesPerSecond;
        return this;
    }

    /** Keep checkpoints so that running the same command again resumes (default on). */
    public boolean resume()
    {
        return resume;
    }

    public ClientOptions resume(final boolean resume)
    {
        this.resume = resume;
        return this;
    }

    /** Discard the checkpoints of an earlier run of the same command and start over. */
    public boolean restart()
    {
        return restart;
    }

    public ClientOptions restart(final boolean restart)
    {
        this.restart = restart;
        return this;
    }

    /** SHA-256 of each file's content, checked against the file as written and reported (audit). */
    public boolean sha256Digests()
    {
        return sha256Digests;
    }

    public ClientOptions sha256Digests(final boolean sha256Digests)
    {
        this.sha256Digests = sha256Digests;
        return this;
    }

    /**
     * Ask for data connections without TLS (sendfile on the sending side), where the agent allows it; the control
     * connection stays TLS. The payload is then readable on the network.
     */
    public boolean plaintextData()
    {
        return plaintextData;
    }

    public ClientOptions plaintextData(final boolean plaintextData)
    {
        this.plaintextData = plaintextData;
        return this;
    }

    /** Keep per-second latency histograms, for .hlog files; percentiles are always kept. */
    public boolean intervalLog()
    {
        return intervalLog;
    }

    public ClientOptions intervalLog(final boolean intervalLog)
    {
        this.intervalLog = intervalLog;
        return this;
    }

    /** Stage at the receiver and publish the tree only when all of it arrived. */
    public boolean atomic()
    {
        return atomic;
    }

    public ClientOptions atomic(final boolean atomic)
    {
        this.atomic = atomic;
        return this;
    }

    /** Wait before a lost data connection is opened again; doubles per attempt, at most 30 s. */
    public long reconnectDelayNs()
    {
        return reconnectDelayNs;
    }

    public ClientOptions reconnectDelayNs(final long reconnectDelayNs)
    {
        this.reconnectDelayNs = reconnectDelayNs;
        return this;
    }

    /** Replacements opened for one lost data connection before the transfer goes on without it. */
    public int maxReconnects()
    {
        return maxReconnects;
    }

    public ClientOptions maxReconnects(final int maxReconnects)
    {
        this.maxReconnects = maxReconnects;
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
