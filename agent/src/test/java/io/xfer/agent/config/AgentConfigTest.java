package io.xfer.agent.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AgentConfigTest
{
    /** Surefire runs with the module directory as the working directory. */
    private static final Path SAMPLE = Path.of("..", "systemd", "xfer-agent.conf");

    /** A setting shown at its default in the sample: "#key = value", no space after the '#'. */
    private static final Pattern DOCUMENTED_DEFAULT = Pattern.compile("^#([a-z_]+) = (.*)$");
    private static final Pattern ACTIVE_SETTING = Pattern.compile("^([a-z_]+) = (.*)$");

    private static final Set<String> AGENT_SETTINGS = Set.of("listen", "certificate", "private_key", "ca",
        "client_auth", "plaintext_data", "transport", "io_threads", "chunk_size", "max_connections", "handshake_timeout",
        "idle_timeout", "write_buffer", "receive_queue", "commit_threads", "max_streams", "stream_window", "send_budget",
        "socket_buffer", "bandwidth", "checkpoint_interval", "checkpoint_bytes", "journal_expiry");

    @TempDir
    Path dir;

    @Test
    void shouldLoadSampleConfiguration()
    {
        final AgentConfig config = AgentConfig.load(SAMPLE);

        assertEquals("0.0.0.0:7440", config.listen());
        assertEquals(Path.of("/etc/xfer/agent.crt"), config.certificate());
        assertEquals(Path.of("/etc/xfer/agent.key"), config.privateKey());
        assertEquals(Path.of("/etc/xfer/ca.crt"), config.ca());
        assertSame(AgentConfig.ClientAuth.REQUIRED, config.clientAuth());
        assertFalse(config.plaintextData());
        assertSame(AgentConfig.Transport.AUTO, config.transport());
        assertEquals(AgentConfig.IO_THREADS_DEFAULT, config.ioThreads());
        assertEquals(AgentConfig.CHUNK_LENGTH_DEFAULT, config.chunkLength());
        assertEquals(AgentConfig.MAX_CONNECTIONS_DEFAULT, config.maxConnections());
        assertEquals(AgentConfig.HANDSHAKE_TIMEOUT_NS_DEFAULT, config.handshakeTimeoutNs());
        assertEquals(AgentConfig.IDLE_TIMEOUT_NS_DEFAULT, config.idleTimeoutNs());
        assertEquals(AgentConfig.WRITE_BUFFER_HIGH_BYTES_DEFAULT, config.writeBufferHighBytes());
        assertEquals(AgentConfig.RECEIVE_QUEUE_BYTES_DEFAULT, config.receiveQueueBytes());
        assertEquals(io.xfer.agent.engine.CommitPool.DEFAULT_THREADS, config.commitThreads());
        assertEquals(AgentConfig.MAX_STREAMS_DEFAULT, config.maxStreams());
        assertEquals(AgentConfig.STREAM_WINDOW_BYTES_DEFAULT, config.streamWindowBytes());
        assertEquals(AgentConfig.SEND_BUDGET_BYTES_DEFAULT, config.sendBudgetBytes());
        assertEquals(AgentConfig.SOCKET_BUFFER_BYTES_DEFAULT, config.socketBufferBytes());
        assertEquals(AgentConfig.CHECKPOINT_INTERVAL_NS_DEFAULT, config.checkpointIntervalNs());
        assertEquals(AgentConfig.CHECKPOINT_BYTES_DEFAULT, config.checkpointBytes());
        assertEquals(AgentConfig.JOURNAL_EXPIRY_NS_DEFAULT, config.journalExpiryNs());

        assertEquals(List.of("ingest", "outbox"), new ArrayList<>(config.modules().keySet()));
        final ModuleConfig ingest = config.module("ingest");
        assertEquals(Path.of("/srv/xfer/ingest"), ingest.root());
        assertEquals("Datasets pushed from the Hong Kong edge hosts", ingest.comment());
        assertEquals(Set.of("hk-edge-1", "hk-edge-2"), ingest.writers());
        assertEquals(Set.of("hk-edge-1"), ingest.readers());
        final ModuleConfig outbox = config.module("outbox");
        assertEquals(Path.of("/srv/xfer/outbox"), outbox.root());
        assertEquals(Set.of(ModuleConfig.ANY), outbox.readers());
        assertEquals(Set.of(), outbox.writers());
    }

    @Test
    void shouldDocumentEverySettingOfSampleWithItsTrueDefault() throws IOException
    {
        final List<String> lines = Files.readAllLines(SAMPLE, StandardCharsets.UTF_8);
        final Set<String> documented = new LinkedHashSet<>();
        final List<String> uncommented = new ArrayList<>();
        boolean inAgent = false;
        for (final String line : lines)
        {
            if (line.startsWith("["))
            {
                inAgent = line.equals("[agent]");
            }
            final Matcher commented = DOCUMENTED_DEFAULT.matcher(line);
            final Matcher active = ACTIVE_SETTING.matcher(line);
            if (inAgent && commented.matches())
            {
                documented.add(commented.group(1));
                uncommented.add(line.substring(1));
                continue;
            }
            if (inAgent && active.matches())
            {
                documented.add(active.group(1));
            }
            uncommented.add(line);
        }
        assertEquals(AGENT_SETTINGS, documented, "the [agent] settings shown in the sample");

        final Path copy = Files.writeString(dir.resolve("uncommented.conf"), String.join("\n", uncommented));
        final AgentConfig config = AgentConfig.load(copy);
        final AgentConfig defaults = new AgentConfig();
        assertEquals(defaults.listen(), config.listen());
        assertEquals(defaults.certificate(), config.certificate());
        assertEquals(defaults.privateKey(), config.privateKey());
        assertEquals(defaults.ca(), config.ca());
        assertSame(defaults.clientAuth(), config.clientAuth());
        assertEquals(defaults.plaintextData(), config.plaintextData());
        assertSame(defaults.transport(), config.transport());
        assertEquals(defaults.ioThreads(), config.ioThreads());
        assertEquals(defaults.chunkLength(), config.chunkLength());
        assertEquals(defaults.maxConnections(), config.maxConnections());
        assertEquals(defaults.handshakeTimeoutNs(), config.handshakeTimeoutNs());
        assertEquals(defaults.idleTimeoutNs(), config.idleTimeoutNs());
        assertEquals(defaults.writeBufferHighBytes(), config.writeBufferHighBytes());
        assertEquals(defaults.receiveQueueBytes(), config.receiveQueueBytes());
        assertEquals(defaults.commitThreads(), config.commitThreads());
        assertEquals(defaults.maxStreams(), config.maxStreams());
        assertEquals(defaults.streamWindowBytes(), config.streamWindowBytes());
        assertEquals(defaults.sendBudgetBytes(), config.sendBudgetBytes());
        assertEquals(defaults.socketBufferBytes(), config.socketBufferBytes());
        assertEquals(defaults.bandwidthBytesPerSecond(), config.bandwidthBytesPerSecond());
        assertEquals(defaults.checkpointIntervalNs(), config.checkpointIntervalNs());
        assertEquals(defaults.checkpointBytes(), config.checkpointBytes());
        assertEquals(defaults.journalExpiryNs(), config.journalExpiryNs());
        assertEquals(2, config.modules().size());
    }

    @Test
    void shouldConcludeConfigurationWithReadableFilesAndResolveRelativePaths() throws IOException
    {
        Files.createDirectories(dir.resolve("tls"));
        Files.writeString(dir.resolve("tls/agent.crt"), "dummy certificate");
        Files.writeString(dir.resolve("tls/agent.key"), "dummy key");
        Files.writeString(dir.resolve("tls/ca.crt"), "dummy ca");
        Files.createDirectories(dir.resolve("data/in"));
        Files.createDirectories(dir.resolve("data/out"));
        final Path file = write(
            "# test configuration",
            "[agent]",
            "listen = 127.0.0.1:0",
            "certificate = tls/agent.crt",
            "private_key = tls/agent.key",
            "ca = " + dir.resolve("tls/ca.crt"),
            "Client_Auth = Optional",
            "plaintext_data = yes",
            "transport = nio",
            "io_threads = 2",
            "chunk_size = 256k",
            "max_connections = 8",
            "handshake_timeout = 500ms",
            "idle_timeout = 5m",
            "write_buffer = 64k",
            "receive_queue = 512k",
            "commit_threads = 0",
            "",
            "; another comment style",
            "[module in]",
            "path = data/in",
            "write = alice bob,carol",
            "[module out]",
            "path = " + dir.resolve("data/out"),
            "comment = results",
            "read = *, anonymous");

        final AgentConfig config = AgentConfig.load(file).conclude();

        assertEquals("127.0.0.1", config.listenAddress().getHostString());
        assertEquals(0, config.listenAddress().getPort());
        assertEquals(dir.resolve("tls/agent.crt"), config.certificate());
        assertEquals(dir.resolve("tls/agent.key"), config.privateKey());
        assertSame(AgentConfig.ClientAuth.OPTIONAL, config.clientAuth());
        assertTrue(config.plaintextData());
        assertSame(AgentConfig.Transport.NIO, config.transport());
        assertEquals(2, config.ioThreads());
        assertEquals(256 * 1024, config.chunkLength());
        assertEquals(8, config.maxConnections());
        assertEquals(500_000_000L, config.handshakeTimeoutNs());
        assertEquals(300_000_000_000L, config.idleTimeoutNs());
        assertEquals(64 * 1024, config.writeBufferHighBytes());
        assertEquals(0, config.commitThreads());
        assertEquals(512 * 1024, config.receiveQueueBytes());
        assertEquals(dir.resolve("data/in").toRealPath(), config.module("in").root());
        assertEquals(Set.of("alice", "bob", "carol"), config.module("in").writers());
        assertEquals(Set.of(), config.module("in").readers());
        assertEquals("", config.module("in").comment());
        assertEquals(dir.resolve("data/out").toRealPath(), config.module("out").root());
        assertEquals(Set.of("*", "anonymous"), config.module("out").readers());
        assertEquals("results", config.module("out").comment());
    }

    @Test
    void shouldResolveModuleRootThroughSymlinkAtConclude() throws IOException
    {
        final Path real = Files.createDirectories(dir.resolve("real"));
        final Path link = Files.createSymbolicLink(dir.resolve("link"), real);

        final AgentConfig config = readableTls().addModule("m", link, "", Set.of("*"), Set.of()).conclude();

        assertEquals(real.toRealPath(), config.module("m").root());
    }

    @Test
    void shouldRejectUnknownKeyNamingFileAndLine() throws IOException
    {
        final Path file = write("[agent]", "listen = 127.0.0.1:7440", "chunk_sise = 1m");

        final String message = rejectLoad(file);

        assertTrue(message.contains(file + ":3:"), message);
        assertTrue(message.contains("unknown setting 'chunk_sise'"), message);
    }

    @Test
    void shouldRejectUnknownModuleKey() throws IOException
    {
        final String message = rejectLoad(write("[module m]", "path = /tmp", "writers = alice"));

        assertTrue(message.contains("[module m]"), message);
        assertTrue(message.contains("unknown setting 'writers'"), message);
    }

    @Test
    void shouldRejectInlineCommentAsPartOfValue() throws IOException
    {
        final String message = rejectLoad(write("[agent]", "chunk_size = 1m # bigger is faster"));

        assertTrue(message.contains(":2: chunk_size"), message);
    }

    @Test
    void shouldRejectBadSizeNamingSetting() throws IOException
    {
        final Path file = write("[agent]", "write_buffer = 8mb");

        final String message = rejectLoad(file);

        assertTrue(message.contains(file + ":2: write_buffer: not a size '8mb'"), message);
    }

    @Test
    void shouldReadTheLinkRateInBitsOrBytesAndRejectOneThatIsNot() throws IOException
    {
        assertEquals(1_250_000_000L, AgentConfig.load(write("[agent]", "bandwidth = 10gbit")).bandwidthBytesPerSecond());
        assertEquals(100L << 20, AgentConfig.load(write("[agent]", "bandwidth = 100m")).bandwidthBytesPerSecond());
        assertEquals(0, AgentConfig.load(write("[agent]", "bandwidth = 0")).bandwidthBytesPerSecond());
        assertEquals(0, new AgentConfig().bandwidthBytesPerSecond(), "off by default");

        final Path file = write("[agent]", "bandwidth = fast");
        final String message = rejectLoad(file);
        assertTrue(message.contains(file + ":2: bandwidth: not a rate 'fast'"), message);
    }

    @Test
    void shouldRejectBadDurationNamingSetting() throws IOException
    {
        final Path file = write("[agent]", "", "idle_timeout = 2 minutes");

        final String message = rejectLoad(file);

        assertTrue(message.contains(file + ":3: idle_timeout: not a duration '2 minutes'"), message);
    }

    @Test
    void shouldRejectBadNumberAndEnumNamingSetting() throws IOException
    {
        assertTrue(rejectLoad(write("[agent]", "io_threads = many")).contains("io_threads: not a number"));
        assertTrue(rejectLoad(write("[agent]", "max_connections = 1k")).contains("max_connections: not a number"));
        final String message = rejectLoad(write("[agent]", "client_auth = maybe"));
        assertTrue(message.contains("client_auth: 'maybe' is not one of [required, optional]"), message);
        assertTrue(rejectLoad(write("[agent]", "transport = io_uring")).contains("transport:"));
        final String plaintext = rejectLoad(write("[agent]", "plaintext_data = maybe"));
        assertTrue(plaintext.contains("plaintext_data: 'maybe' is not true or false"), plaintext);
    }

    @ParameterizedTest
    @ValueSource(strings = {"localhost", "7440", "host:http", "host:", "host:70000", "[::1]:-1"})
    void shouldRejectBadListenAtConclude(final String listen)
    {
        final AgentConfig config = readableTls().listen(listen);

        final String message = rejectConclude(config);

        assertTrue(message.startsWith("listen: "), message);
        assertTrue(message.contains(listen), message);
    }

    @ParameterizedTest
    @CsvSource({
        "0.0.0.0:7440, 0.0.0.0, 7440",
        "127.0.0.1:0, 127.0.0.1, 0",
        "'[::1]:7440', 0:0:0:0:0:0:0:1, 7440",
        "'[::]:7441', 0:0:0:0:0:0:0:0, 7441"})
    void shouldParseListen(final String listen, final String host, final int port)
    {
        final AgentConfig config = readableTls().listen(listen).conclude();

        assertEquals(host, config.listenAddress().getAddress().getHostAddress());
        assertEquals(port, config.listenAddress().getPort());
    }

    @Test
    void shouldListenOnWildcardWhenHostIsEmpty()
    {
        final AgentConfig config = readableTls().listen(":7440").conclude();

        assertTrue(config.listenAddress().getAddress().isAnyLocalAddress());
        assertEquals(7440, config.listenAddress().getPort());
    }

    @Test
    void shouldRejectOutOfRangeTuningAtConclude()
    {
        assertTrue(rejectConclude(readableTls().chunkLength(2048)).startsWith("chunk_size: 2048 outside"));
        assertTrue(rejectConclude(readableTls().chunkLength(32L << 20)).startsWith("chunk_size:"));
        assertTrue(rejectConclude(readableTls().maxConnections(0)).startsWith("max_connections:"));
        assertTrue(rejectConclude(readableTls().ioThreads(-1)).startsWith("io_threads:"));
        assertTrue(rejectConclude(readableTls().writeBufferHighBytes(1024)).startsWith("write_buffer:"));
        assertTrue(rejectConclude(readableTls().writeBufferHighBytes(4L << 30)).startsWith("write_buffer:"));
        assertTrue(rejectConclude(readableTls().chunkLength(16L << 20).receiveQueueBytes(16L << 20))
            .startsWith("receive_queue: must hold at least two chunks"));
        assertTrue(rejectConclude(readableTls().commitThreads(-1)).startsWith("commit_threads:"));
        assertTrue(rejectConclude(readableTls().commitThreads(1025)).startsWith("commit_threads:"));
        assertTrue(rejectConclude(readableTls().idleTimeoutNs(0)).contains("idle_timeout"));
        assertTrue(rejectConclude(readableTls().handshakeTimeoutNs(0)).contains("handshake_timeout"));
    }

    @Test
    void shouldRejectUnreadableTlsFilesNamingSetting()
    {
        final String certificate = rejectConclude(readableTls().certificate(dir.resolve("missing.crt")));
        assertTrue(certificate.startsWith("certificate: cannot read " + dir.resolve("missing.crt")), certificate);
        assertTrue(certificate.contains("docs/CERTIFICATES.md"), certificate);
        assertTrue(rejectConclude(readableTls().privateKey(dir.resolve("missing.key"))).startsWith("private_key:"));
        assertTrue(rejectConclude(readableTls().ca(dir.resolve("missing-ca.crt"))).startsWith("ca:"));
    }

    @Test
    void shouldRejectModuleWithoutPath() throws IOException
    {
        final Path file = write("[module data]", "comment = no path", "read = *");

        final String message = rejectLoad(file);

        assertTrue(message.contains(file + ": [module data]: 'path' is required"), message);
    }

    @Test
    void shouldRejectModuleWithEmptyPath() throws IOException
    {
        assertTrue(rejectLoad(write("[module data]", "path =")).contains("'path' is required"));
    }

    @Test
    void shouldRejectRelativeModulePathAtConclude()
    {
        final AgentConfig config = readableTls().addModule("rel", Path.of("srv/data"), "", Set.of("*"), Set.of());

        final String message = rejectConclude(config);

        assertEquals("module 'rel': path must be absolute: srv/data", message);
    }

    @Test
    void shouldRejectModulePathThatIsNotDirectory() throws IOException
    {
        final Path plainFile = Files.writeString(dir.resolve("plain"), "x");
        assertEquals("module 'file': path is not a directory: " + plainFile, rejectConclude(
            readableTls().addModule("file", plainFile, "", Set.of("*"), Set.of())));

        final Path missing = dir.resolve("missing");
        final Path file = write("[module gone]", "path = missing");
        assertEquals("module 'gone': path is not a directory: " + missing,
            rejectConclude(withReadableTls(AgentConfig.load(file))));
    }

    @Test
    void shouldRejectDuplicateModule() throws IOException
    {
        final Path file = write("[module data]", "path = /srv/a", "[module data]", "path = /srv/b");

        final String message = rejectLoad(file);

        assertTrue(message.contains("[module data]: module 'data' is defined twice"), message);
    }

    @Test
    void shouldRejectSettingTwiceInModule() throws IOException
    {
        final Path file = write("[module data]", "path = /srv/a", "path = /srv/b");

        final String message = rejectLoad(file);

        assertTrue(message.contains(file + ":3: 'path' set twice in module data"), message);
    }

    @ParameterizedTest
    @ValueSource(strings = {"bad/name", "two words", "ünïcode", "a:b"})
    void shouldRejectBadModuleName(final String name) throws IOException
    {
        final String message = rejectLoad(write("[module " + name + "]", "path = /srv/a"));

        assertTrue(message.contains("module '" + name + "': name must match [A-Za-z0-9._-]{1,64}"), message);
    }

    @Test
    void shouldRejectTooLongModuleNameFromCode()
    {
        final String name = "m".repeat(65);

        final ConfigurationException ex = assertThrows(ConfigurationException.class,
            () -> new AgentConfig().addModule(name, dir, "", Set.of(), Set.of()));

        assertTrue(ex.getMessage().contains("name must match"), ex.getMessage());
    }

    @Test
    void shouldRejectUnknownSectionNamingLine() throws IOException
    {
        final Path file = write("[agent]", "listen = :7440", "[global]", "x = 1");

        final String message = rejectLoad(file);

        assertTrue(message.contains(file + ":3: unknown section [global]"), message);
    }

    @Test
    void shouldRejectMalformedLines() throws IOException
    {
        assertTrue(rejectLoad(write("listen = :7440")).contains(":1: 'listen' outside of a section"));
        assertTrue(rejectLoad(write("[agent", "listen = :7440")).contains(":1: unterminated section header"));
        assertTrue(rejectLoad(write("[agent]", "listen")).contains(":2: expected 'key = value'"));
        assertTrue(rejectLoad(write("[module]", "path = /srv")).contains("unknown section [module]"));
    }

    @Test
    void shouldRejectMissingFile()
    {
        final Path missing = dir.resolve("nope.conf");

        final String message = rejectLoad(missing);

        assertTrue(message.startsWith("cannot read configuration " + missing), message);
    }

    @ParameterizedTest
    @CsvSource({
        "4096, 4096",
        "64k, 65536",
        "64K, 65536",
        "1m, 1048576",
        "' 8m ', 8388608",
        "2g, 2147483648",
        "1t, 1099511627776",
        "0, 0"})
    void shouldParseSize(final String text, final long bytes)
    {
        assertEquals(bytes, Units.parseSize("size", text));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "k", "1x", "1.5m", "-1", "-1k", "8mb", "1 000", "9999999999999t"})
    void shouldRejectBadSizeNamingIt(final String text)
    {
        final ConfigurationException ex = assertThrows(ConfigurationException.class,
            () -> Units.parseSize("chunk_size", text));

        assertTrue(ex.getMessage().startsWith("chunk_size: "), ex.getMessage());
    }

    @ParameterizedTest
    @CsvSource({
        "200mbit, 25000000",
        "1gbit, 125000000",
        "2.5Gbit, 312500000",
        "800kbit, 100000",
        "8bit, 1",
        "100m, 104857600",
        "1g, 1073741824"})
    void shouldParseRate(final String text, final long bytesPerSecond)
    {
        assertEquals(bytesPerSecond, Units.parseRate("--bandwidth", text));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "bit", "gbit", "0", "0mbit", "1bit", "-1gbit", "1.2.3gbit", "fast", "10xbit", "1e9bit"})
    void shouldRejectBadRateNamingIt(final String text)
    {
        final ConfigurationException ex = assertThrows(ConfigurationException.class,
            () -> Units.parseRate("--bandwidth", text));

        assertTrue(ex.getMessage().startsWith("--bandwidth: "), ex.getMessage());
    }

    @ParameterizedTest
    @CsvSource({
        "500ms, 500000000",
        "10s, 10000000000",
        "30, 30000000000",
        "5m, 300000000000",
        "1h, 3600000000000",
        "1d, 86400000000000",
        "250us, 250000",
        "7ns, 7",
        "10S, 10000000000",
        "0s, 0"})
    void shouldParseDuration(final String text, final long nanos)
    {
        assertEquals(nanos, Units.parseDurationNs("duration", text));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "s", "ms", "10 minutes", "1.5s", "-1s", "10x", "999999999999d"})
    void shouldRejectBadDurationNamingIt(final String text)
    {
        final ConfigurationException ex = assertThrows(ConfigurationException.class,
            () -> Units.parseDurationNs("idle_timeout", text));

        assertTrue(ex.getMessage().startsWith("idle_timeout: "), ex.getMessage());
    }

    @Test
    void shouldParseBoolean()
    {
        assertTrue(Units.parseBoolean("b", "yes"));
        assertTrue(Units.parseBoolean("b", " TRUE "));
        assertFalse(Units.parseBoolean("b", "off"));
        assertFalse(Units.parseBoolean("b", "0"));
        assertTrue(assertThrows(ConfigurationException.class, () -> Units.parseBoolean("flag", "maybe"))
            .getMessage().startsWith("flag: "));
    }

    @Test
    void shouldGrantRightsToExactIdentityOnly()
    {
        final ModuleConfig module = new ModuleConfig("m", dir, "", Set.of("alice"), Set.of("bob"));

        assertTrue(module.mayRead(List.of("alice")));
        assertFalse(module.mayWrite(List.of("alice")));
        assertTrue(module.mayWrite(List.of("bob")));
        assertFalse(module.mayRead(List.of("bob")));
        assertFalse(module.mayRead(List.of("Alice")));
        assertFalse(module.mayRead(List.of("alice2")));
        assertFalse(module.mayRead(List.of()));
    }

    @Test
    void shouldMatchAnyIdentityOfCertificate()
    {
        final ModuleConfig module = new ModuleConfig("m", dir, "", Set.of("10.0.0.7"), Set.of("spiffe://hk/edge"));

        assertTrue(module.mayRead(List.of("edge-1", "edge-1.example.com", "10.0.0.7")));
        assertTrue(module.mayWrite(List.of("edge-1", "spiffe://hk/edge")));
        assertFalse(module.mayWrite(List.of("edge-1", "10.0.0.7")));
    }

    @Test
    void shouldMatchAnyAuthenticatedClientWithStar()
    {
        final ModuleConfig module = new ModuleConfig("m", dir, "", Set.of(ModuleConfig.ANY), Set.of());

        assertTrue(module.mayRead(List.of("alice")));
        assertTrue(module.mayRead(List.of("anyone", "host.example.com")));
        assertFalse(module.mayWrite(List.of("alice")));
    }

    @Test
    void shouldNotMatchAnonymousWithStar()
    {
        final ModuleConfig star = new ModuleConfig("m", dir, "", Set.of(ModuleConfig.ANY), Set.of(ModuleConfig.ANY));
        final List<String> anonymous = List.of(AgentConfig.ANONYMOUS);

        assertFalse(star.mayRead(anonymous));
        assertFalse(star.mayWrite(anonymous));
        assertFalse(star.mayRead(List.of()), "a certificate without identities is not 'any client'");

        final ModuleConfig open = new ModuleConfig("m", dir, "", Set.of(AgentConfig.ANONYMOUS), Set.of());
        assertTrue(open.mayRead(anonymous));
        assertFalse(open.mayWrite(anonymous));
    }

    @Test
    void shouldStartFromDefaults()
    {
        final AgentConfig config = new AgentConfig();

        assertEquals(AgentConfig.LISTEN_DEFAULT, config.listen());
        assertEquals("0.0.0.0:7440", AgentConfig.LISTEN_DEFAULT);
        assertSame(AgentConfig.ClientAuth.REQUIRED, config.clientAuth());
        assertNull(config.listenAddress());
        assertTrue(config.modules().isEmpty());
    }

    private AgentConfig readableTls()
    {
        return withReadableTls(new AgentConfig());
    }

    /** conclude() only checks that the TLS files are readable; their contents are checked when the agent starts. */
    private AgentConfig withReadableTls(final AgentConfig config)
    {
        try
        {
            return config
                .certificate(Files.writeString(dir.resolve("agent.crt"), "c"))
                .privateKey(Files.writeString(dir.resolve("agent.key"), "k"))
                .ca(Files.writeString(dir.resolve("ca.crt"), "ca"));
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    private Path write(final String... lines) throws IOException
    {
        return Files.writeString(dir.resolve("xfer-agent.conf"), String.join("\n", lines) + "\n");
    }

    private static String rejectLoad(final Path file)
    {
        return assertThrows(ConfigurationException.class, () -> AgentConfig.load(file)).getMessage();
    }

    private static String rejectConclude(final AgentConfig config)
    {
        return assertThrows(ConfigurationException.class, config::conclude).getMessage();
    }
}
