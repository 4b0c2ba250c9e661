package io.xfer.agent.config;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * All settings of an {@code xfer-agent}, with their defaults. Built from the configuration file by
 * {@link #load(Path)} or fluently in code (tests, the demo); {@link #conclude()} validates and throws a
 * {@link ConfigurationException} naming the bad setting. The sample file {@code systemd/xfer-agent.conf} documents
 * every setting.
 *
 * <p>File format: {@code key = value} lines, {@code #} comments, an {@code [agent]} section for the agent's own
 * settings and one {@code [module NAME]} section per module.
 */
public final class AgentConfig
{
    public static final int DEFAULT_PORT = 7440;
    public static final String LISTEN_DEFAULT = "0.0.0.0:" + DEFAULT_PORT;
    public static final String CERTIFICATE_DEFAULT = "/etc/xfer/agent.crt";
    public static final String PRIVATE_KEY_DEFAULT = "/etc/xfer/agent.key";
    public static final String CA_DEFAULT = "/etc/xfer/ca.crt";
    public static final long CHUNK_LENGTH_DEFAULT = 1L << 20;
    public static final long CHUNK_LENGTH_MAX = 16L << 20;
    public static final long CHUNK_LENGTH_MIN = 4L << 10;
    public static final int MAX_CONNECTIONS_DEFAULT = 256;
    public static final long HANDSHAKE_TIMEOUT_NS_DEFAULT = 10_000_000_000L;
    public static final long IDLE_TIMEOUT_NS_DEFAULT = 120_000_000_000L;
    public static final long WRITE_BUFFER_HIGH_BYTES_DEFAULT = 8L << 20;
    public static final long RECEIVE_QUEUE_BYTES_DEFAULT = 32L << 20;
    public static final int IO_THREADS_DEFAULT = 0;
    public static final int MAX_STREAMS_DEFAULT = 16;
    public static final long STREAM_WINDOW_BYTES_DEFAULT = 16L << 20;
    public static final long SEND_BUDGET_BYTES_DEFAULT = 64L << 20;
    public static final long SOCKET_BUFFER_BYTES_DEFAULT = 0;
    public static final long CHECKPOINT_INTERVAL_NS_DEFAULT = 1_000_000_000L;
    public static final long CHECKPOINT_BYTES_DEFAULT = 64L << 20;
    public static final long JOURNAL_EXPIRY_NS_DEFAULT = 7L * 24 * 3600 * 1_000_000_000L;

    /** The identity of a client that presented no certificate, when {@code client_auth = optional}. */
    public static final String ANONYMOUS = "anonymous";

    private static final Pattern MODULE_NAME = Pattern.compile("[A-Za-z0-9._-]{1,64}");

    /** How the agent treats client certificates. */
    public enum ClientAuth
    {
        /** Mutual TLS: a client must present a certificate signed by the configured CA. */
        REQUIRED,
        /** A client may connect without a certificate; it is then known as {@value AgentConfig#ANONYMOUS}. */
        OPTIONAL
    }

    /** Which Netty transport to use. */
    public enum Transport
    {
        AUTO, EPOLL, NIO
    }

    private String listen = LISTEN_DEFAULT;
    private Path certificate = Path.of(CERTIFICATE_DEFAULT);
    private Path privateKey = Path.of(PRIVATE_KEY_DEFAULT);
    private Path ca = Path.of(CA_DEFAULT);
    private ClientAuth clientAuth = ClientAuth.REQUIRED;
    private boolean plaintextData;
    private Transport transport = Transport.AUTO;
    private int ioThreads = IO_THREADS_DEFAULT;
    private long chunkLength = CHUNK_LENGTH_DEFAULT;
    private int maxConnections = MAX_CONNECTIONS_DEFAULT;
    private long handshakeTimeoutNs = HANDSHAKE_TIMEOUT_NS_DEFAULT;
    private long idleTimeoutNs = IDLE_TIMEOUT_NS_DEFAULT;
    private long writeBufferHighBytes = WRITE_BUFFER_HIGH_BYTES_DEFAULT;
    private long receiveQueueBytes = RECEIVE_QUEUE_BYTES_DEFAULT;
    private int commitThreads = io.xfer.agent.engine.CommitPool.DEFAULT_THREADS;
    private long slowCommitNs = io.xfer.agent.engine.CommitPool.DEFAULT_SLOW_COMMIT_NS;
    private int maxStreams = MAX_STREAMS_DEFAULT;
    private long streamWindowBytes = STREAM_WINDOW_BYTES_DEFAULT;
    private long sendBudgetBytes = SEND_BUDGET_BYTES_DEFAULT;
    private long socketBufferBytes = SOCKET_BUFFER_BYTES_DEFAULT;
    private long bandwidthBytesPerSecond;
    private long checkpointIntervalNs = CHECKPOINT_INTERVAL_NS_DEFAULT;
    private long checkpointBytes = CHECKPOINT_BYTES_DEFAULT;
    private long journalExpiryNs = JOURNAL_EXPIRY_NS_DEFAULT;
    private final Map<String, ModuleConfig> modules = new LinkedHashMap<>();
    private InetSocketAddress listenAddress;

    public String listen()
    {
        return listen;
    }

    public AgentConfig listen(final String listen)
    {
        this.listen = listen;
        return this;
    }

    /** @return the address to bind, valid after {@link #conclude()}. */
    public InetSocketAddress listenAddress()
    {
        return listenAddress;
    }

    public Path certificate()
    {
        return certificate;
    }

    public AgentConfig certificate(final Path certificate)
    {
        this.certificate = certificate;
        return this;
    }

    public Path privateKey()
    {
        return privateKey;
    }

    public AgentConfig privateKey(final Path privateKey)
    {
        this.privateKey = privateKey;
        return this;
    }

    public Path ca()
    {
        return ca;
    }

    public AgentConfig ca(final Path ca)
    {
        this.ca = ca;
        return this;
    }

    public boolean plaintextData()
    {
        return plaintextData;
    }

    public AgentConfig plaintextData(final boolean plaintextData)
    {
        this.plaintextData = plaintextData;
        return this;
    }

    public ClientAuth clientAuth()
    {
        return clientAuth;
    }

    public AgentConfig clientAuth(final ClientAuth clientAuth)
    {
        this.clientAuth = clientAuth;
        return this;
    }

    public Transport transport()
    {
        return transport;
    }

    public AgentConfig transport(final Transport transport)
    {
        this.transport = transport;
        return this;
    }

    public int ioThreads()
    {
        return ioThreads;
    }

    public AgentConfig ioThreads(final int ioThreads)
    {
        this.ioThreads = ioThreads;
        return this;
    }

    public int chunkLength()
    {
        return (int)chunkLength;
    }

    public AgentConfig chunkLength(final long chunkLength)
    {
        this.chunkLength = chunkLength;
        return this;
    }

    public int maxConnections()
    {
        return maxConnections;
    }

    public AgentConfig maxConnections(final int maxConnections)
    {
        this.maxConnections = maxConnections;
        return this;
    }

    public long handshakeTimeoutNs()
    {
        return handshakeTimeoutNs;
    }

    public AgentConfig handshakeTimeoutNs(final long handshakeTimeoutNs)
    {
        this.handshakeTimeoutNs = handshakeTimeoutNs;
        return this;
    }

    public long idleTimeoutNs()
    {
        return idleTimeoutNs;
    }

    public AgentConfig idleTimeoutNs(final long idleTimeoutNs)
    {
        this.idleTimeoutNs = idleTimeoutNs;
        return this;
    }

    public int writeBufferHighBytes()
    {
        return (int)writeBufferHighBytes;
    }

    public AgentConfig writeBufferHighBytes(final long writeBufferHighBytes)
    {
        this.writeBufferHighBytes = writeBufferHighBytes;
        return this;
    }

    public long receiveQueueBytes()
    {
        return receiveQueueBytes;
    }

    public AgentConfig receiveQueueBytes(final long receiveQueueBytes)
    {
        this.receiveQueueBytes = receiveQueueBytes;
        return this;
    }

    public int commitThreads()
    {
        return commitThreads;
    }

    public AgentConfig commitThreads(final int commitThreads)
    {
        this.commitThreads = commitThreads;
        return this;
    }

    /** Not a configuration-file setting: for embedding and tests (0 hands every commit to the threads). */
    public long slowCommitNs()
    {
        return slowCommitNs;
    }

    public AgentConfig slowCommitNs(final long slowCommitNs)
    {
        this.slowCommitNs = slowCommitNs;
        return this;
    }

    public int maxStreams()
    {
        return maxStreams;
    }

    public AgentConfig maxStreams(final int maxStreams)
    {
        this.maxStreams = maxStreams;
        return this;
    }

    /** Unacknowledged payload bytes a sender may have outstanding on one stream (granted in OPEN_ACK). */
    public long streamWindowBytes()
    {
        return streamWindowBytes;
    }

    public AgentConfig streamWindowBytes(final long streamWindowBytes)
    {
        this.streamWindowBytes = streamWindowBytes;
        return this;
    }

    /** Payload bytes a sending transfer may hold read but not yet written to its sockets. */
    public long sendBudgetBytes()
    {
        return sendBudgetBytes;
    }

    public AgentConfig sendBudgetBytes(final long sendBudgetBytes)
    {
        this.sendBudgetBytes = sendBudgetBytes;
        return this;
    }

    /** SO_SNDBUF and SO_RCVBUF of each connection; 0 leaves them to the kernel's autotuning. */
    public int socketBufferBytes()
    {
        return (int)socketBufferBytes;
    }

    public AgentConfig socketBufferBytes(final long socketBufferBytes)
    {
        this.socketBufferBytes = socketBufferBytes;
        return this;
    }

    /**
     * The rate of this host's link to its clients, in bytes per second ({@code bandwidth}); 0 (the default) for
     * none. With it each transfer's data connections get socket buffers sized for its bandwidth-delay product,
     * from the round trip the kernel measured on the control connection: send buffers for a pull, receive buffers
     * for a push.
     */
    public long bandwidthBytesPerSecond()
    {
        return bandwidthBytesPerSecond;
    }

    public AgentConfig bandwidthBytesPerSecond(final long bandwidthBytesPerSecond)
    {
        this.bandwidthBytesPerSecond = bandwidthBytesPerSecond;
        return this;
    }

    /** Longest time between checkpoints of a receiving transfer while data flows. */
    public long checkpointIntervalNs()
    {
        return checkpointIntervalNs;
    }

    public AgentConfig checkpointIntervalNs(final long checkpointIntervalNs)
    {
        this.checkpointIntervalNs = checkpointIntervalNs;
        return this;
    }

    /** Bytes written by a receiving transfer that force a checkpoint. */
    public long checkpointBytes()
    {
        return checkpointBytes;
    }

    public AgentConfig checkpointBytes(final long checkpointBytes)
    {
        this.checkpointBytes = checkpointBytes;
        return this;
    }

    /** Checkpoint journals unused for this long are removed with their partial files. */
    public long journalExpiryNs()
    {
        return journalExpiryNs;
    }

    public AgentConfig journalExpiryNs(final long journalExpiryNs)
    {
        this.journalExpiryNs = journalExpiryNs;
        return this;
    }

    public Map<String, ModuleConfig> modules()
    {
        return Collections.unmodifiableMap(modules);
    }

    public ModuleConfig module(final String name)
    {
        return modules.get(name);
    }

    public AgentConfig addModule(
        final String name, final Path root, final String comment, final Set<String> readers, final Set<String> writers)
    {
        if (!MODULE_NAME.matcher(name).matches())
        {
            throw new ConfigurationException("module '" + name + "': name must match [A-Za-z0-9._-]{1,64}");
        }
        if (modules.containsKey(name))
        {
            throw new ConfigurationException("module '" + name + "' is defined twice");
        }
        modules.put(name, new ModuleConfig(name, root, comment, Set.copyOf(readers), Set.copyOf(writers)));
        return this;
    }

    /**
     * Validate every setting and resolve derived values.
     *
     * @return this, for chaining.
     * @throws ConfigurationException naming the first bad setting.
     */
    public AgentConfig conclude()
    {
        listenAddress = parseListen(listen);
        if (chunkLength < CHUNK_LENGTH_MIN || chunkLength > CHUNK_LENGTH_MAX)
        {
            throw new ConfigurationException("chunk_size: " + chunkLength + " outside [" + CHUNK_LENGTH_MIN + ", " +
                CHUNK_LENGTH_MAX + "]");
        }
        if (maxConnections < 1)
        {
            throw new ConfigurationException("max_connections: must be at least 1, was " + maxConnections);
        }
        if (ioThreads < 0)
        {
            throw new ConfigurationException("io_threads: must not be negative, was " + ioThreads);
        }
        if (writeBufferHighBytes < 64 * 1024 || writeBufferHighBytes > Integer.MAX_VALUE)
        {
            throw new ConfigurationException("write_buffer: must be between 64k and 2g, was " + writeBufferHighBytes);
        }
        if (receiveQueueBytes < 2 * chunkLength)
        {
            throw new ConfigurationException("receive_queue: must hold at least two chunks (" + 2 * chunkLength +
                " bytes), was " + receiveQueueBytes);
        }
        if (commitThreads < 0 || commitThreads > 1024)
        {
            throw new ConfigurationException("commit_threads: must be between 0 and 1024, was " + commitThreads);
        }
        if (maxStreams < 1 || maxStreams > 255)
        {
            throw new ConfigurationException("max_streams: must be between 1 and 255, was " + maxStreams);
        }
        if (streamWindowBytes < chunkLength)
        {
            throw new ConfigurationException("stream_window: must hold at least one chunk (" + chunkLength +
                " bytes), was " + streamWindowBytes);
        }
        if (sendBudgetBytes < 2 * chunkLength)
        {
            throw new ConfigurationException("send_budget: must hold at least two chunks (" + 2 * chunkLength +
                " bytes), was " + sendBudgetBytes);
        }
        if (socketBufferBytes < 0 || socketBufferBytes > Integer.MAX_VALUE)
        {
            throw new ConfigurationException("socket_buffer: must be between 0 (kernel default) and 2g, was " +
                socketBufferBytes);
        }
        if (bandwidthBytesPerSecond < 0)
        {
            throw new ConfigurationException("bandwidth: must be 0 (none) or a rate, was " + bandwidthBytesPerSecond);
        }
        if (checkpointIntervalNs <= 0 || checkpointBytes <= 0 || journalExpiryNs <= 0)
        {
            throw new ConfigurationException("checkpoint_interval, checkpoint_bytes and journal_expiry must be positive");
        }
        if (handshakeTimeoutNs <= 0 || idleTimeoutNs <= 0)
        {
            throw new ConfigurationException("handshake_timeout and idle_timeout must be positive");
        }
        checkReadable("certificate", certificate);
        checkReadable("private_key", privateKey);
        checkReadable("ca", ca);

        final Map<String, ModuleConfig> resolved = new LinkedHashMap<>();
        for (final ModuleConfig module : modules.values())
        {
            final Path root = module.root();
            if (!root.isAbsolute())
            {
                throw new ConfigurationException("module '" + module.name() + "': path must be absolute: " + root);
            }
            if (!Files.isDirectory(root))
            {
                throw new ConfigurationException("module '" + module.name() + "': path is not a directory: " + root);
            }
            try
            {
                resolved.put(module.name(), new ModuleConfig(module.name(), root.toRealPath(), module.comment(),
                    module.readers(), module.writers()));
            }
            catch (final IOException ex)
            {
                throw new ConfigurationException("module '" + module.name() + "': cannot resolve " + root + ": " +
                    ex.getMessage(), ex);
            }
        }
        modules.clear();
        modules.putAll(resolved);
        return this;
    }

    private static void checkReadable(final String name, final Path file)
    {
        if (!Files.isReadable(file))
        {
            throw new ConfigurationException(name + ": cannot read " + file +
                " (create certificates with 'xfer pki', see docs/CERTIFICATES.md)");
        }
    }

    static InetSocketAddress parseListen(final String listen)
    {
        final String value = listen.trim();
        final int colon = value.lastIndexOf(':');
        if (colon < 0)
        {
            throw new ConfigurationException("listen: expected HOST:PORT, was '" + listen + "'");
        }
        String host = value.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]"))
        {
            host = host.substring(1, host.length() - 1);
        }
        final int port;
        try
        {
            port = Integer.parseInt(value.substring(colon + 1));
        }
        catch (final NumberFormatException ex)
        {
            throw new ConfigurationException("listen: bad port in '" + listen + "'");
        }
        if (port < 0 || port > 65535)
        {
            throw new ConfigurationException("listen: port out of range in '" + listen + "'");
        }
        return host.isEmpty() ? new InetSocketAddress(port) : new InetSocketAddress(host, port);
    }

    /**
     * Read a configuration file. Unknown keys and sections are errors, so that a typo never silently falls back
     * to a default.
     */
    public static AgentConfig load(final Path file)
    {
        final List<String> lines;
        try
        {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        }
        catch (final IOException ex)
        {
            throw new ConfigurationException("cannot read configuration " + file + ": " + ex.getMessage(), ex);
        }

        final AgentConfig config = new AgentConfig();
        String section = null;
        String moduleName = null;
        Map<String, String> moduleSettings = null;
        final Path baseDir = file.toAbsolutePath().getParent();

        for (int i = 0; i < lines.size(); i++)
        {
            final String where = file + ":" + (i + 1) + ": ";
            final String line = stripComment(lines.get(i)).trim();
            if (line.isEmpty())
            {
                continue;
            }
            if (line.startsWith("["))
            {
                if (!line.endsWith("]"))
                {
                    throw new ConfigurationException(where + "unterminated section header '" + line + "'");
                }
                if (moduleSettings != null)
                {
                    addModule(config, moduleName, moduleSettings, baseDir, file);
                    moduleSettings = null;
                }
                final String header = line.substring(1, line.length() - 1).trim();
                if (header.equals("agent"))
                {
                    section = "agent";
                }
                else if (header.startsWith("module ") || header.startsWith("module\t"))
                {
                    section = "module";
                    moduleName = header.substring(7).trim();
                    moduleSettings = new LinkedHashMap<>();
                }
                else
                {
                    throw new ConfigurationException(where + "unknown section [" + header +
                        "] (expected [agent] or [module NAME])");
                }
                continue;
            }
            final int eq = line.indexOf('=');
            if (eq <= 0)
            {
                throw new ConfigurationException(where + "expected 'key = value', was '" + line + "'");
            }
            final String key = line.substring(0, eq).trim().toLowerCase(Locale.ROOT);
            final String value = line.substring(eq + 1).trim();
            if (section == null)
            {
                throw new ConfigurationException(where + "'" + key + "' outside of a section");
            }
            if (section.equals("module"))
            {
                if (moduleSettings.put(key, value) != null)
                {
                    throw new ConfigurationException(where + "'" + key + "' set twice in module " + moduleName);
                }
                continue;
            }
            try
            {
                applyAgentSetting(config, key, value, baseDir);
            }
            catch (final ConfigurationException ex)
            {
                throw new ConfigurationException(where + ex.getMessage(), ex);
            }
        }
        if (moduleSettings != null)
        {
            addModule(config, moduleName, moduleSettings, baseDir, file);
        }
        return config;
    }

    private static String stripComment(final String line)
    {
        final String trimmed = line.stripLeading();
        return trimmed.startsWith("#") || trimmed.startsWith(";") ? "" : line;
    }

    private static void applyAgentSetting(
        final AgentConfig config, final String key, final String value, final Path baseDir)
    {
        switch (key)
        {
            case "listen": config.listen(value); break;
            case "certificate": config.certificate(baseDir.resolve(value)); break;
            case "private_key": config.privateKey(baseDir.resolve(value)); break;
            case "ca": config.ca(baseDir.resolve(value)); break;
            case "client_auth": config.clientAuth(parseEnum(ClientAuth.class, key, value)); break;
            case "plaintext_data": config.plaintextData(parseBoolean(key, value)); break;
            case "transport": config.transport(parseEnum(Transport.class, key, value)); break;
            case "io_threads": config.ioThreads((int)parseLong(key, value)); break;
            case "chunk_size": config.chunkLength(Units.parseSize(key, value)); break;
            case "max_connections": config.maxConnections((int)parseLong(key, value)); break;
            case "handshake_timeout": config.handshakeTimeoutNs(Units.parseDurationNs(key, value)); break;
            case "idle_timeout": config.idleTimeoutNs(Units.parseDurationNs(key, value)); break;
            case "write_buffer": config.writeBufferHighBytes(Units.parseSize(key, value)); break;
            case "receive_queue": config.receiveQueueBytes(Units.parseSize(key, value)); break;
            case "commit_threads": config.commitThreads((int)parseLong(key, value)); break;
            case "max_streams": config.maxStreams((int)parseLong(key, value)); break;
            case "stream_window": config.streamWindowBytes(Units.parseSize(key, value)); break;
            case "send_budget": config.sendBudgetBytes(Units.parseSize(key, value)); break;
            case "socket_buffer": config.socketBufferBytes(Units.parseSize(key, value)); break;
            case "bandwidth":
                config.bandwidthBytesPerSecond("0".equals(value.trim()) ? 0 : Units.parseRate(key, value));
                break;
            case "checkpoint_interval": config.checkpointIntervalNs(Units.parseDurationNs(key, value)); break;
            case "checkpoint_bytes": config.checkpointBytes(Units.parseSize(key, value)); break;
            case "journal_expiry": config.journalExpiryNs(Units.parseDurationNs(key, value)); break;
            default: throw new ConfigurationException("unknown setting '" + key + "' in [agent]");
        }
    }

    private static void addModule(
        final AgentConfig config,
        final String name,
        final Map<String, String> settings,
        final Path baseDir,
        final Path file)
    {
        final String prefix = file + ": [module " + name + "]: ";
        final String path = settings.remove("path");
        if (path == null || path.isEmpty())
        {
            throw new ConfigurationException(prefix + "'path' is required");
        }
        final String comment = settings.getOrDefault("comment", "");
        settings.remove("comment");
        final Set<String> readers = parseList(settings.remove("read"));
        final Set<String> writers = parseList(settings.remove("write"));
        if (!settings.isEmpty())
        {
            throw new ConfigurationException(prefix + "unknown setting '" + settings.keySet().iterator().next() +
                "' (expected path, comment, read, write)");
        }
        try
        {
            config.addModule(name, baseDir.resolve(path), comment, readers, writers);
        }
        catch (final ConfigurationException ex)
        {
            throw new ConfigurationException(prefix + ex.getMessage(), ex);
        }
    }

    private static Set<String> parseList(final String value)
    {
        final Set<String> result = new LinkedHashSet<>();
        if (value != null)
        {
            for (final String item : value.split("[,\\s]+"))
            {
                if (!item.isEmpty())
                {
                    result.add(item);
                }
            }
        }
        return result;
    }

    private static long parseLong(final String key, final String value)
    {
        try
        {
            return Long.parseLong(value);
        }
        catch (final NumberFormatException ex)
        {
            throw new ConfigurationException(key + ": not a number '" + value + "'");
        }
    }

    private static boolean parseBoolean(final String key, final String value)
    {
        switch (value.toLowerCase(Locale.ROOT))
        {
            case "true":
            case "yes":
                return true;
            case "false":
            case "no":
                return false;
            default:
                throw new ConfigurationException(key + ": '" + value + "' is not true or false");
        }
    }

    private static <E extends Enum<E>> E parseEnum(final Class<E> type, final String key, final String value)
    {
        final List<String> names = new ArrayList<>();
        for (final E constant : type.getEnumConstants())
        {
            final String name = constant.name().toLowerCase(Locale.ROOT);
            names.add(name);
            if (name.equals(value.toLowerCase(Locale.ROOT)))
            {
                return constant;
            }
        }
        throw new ConfigurationException(key + ": '" + value + "' is not one of " + names);
    }
}
