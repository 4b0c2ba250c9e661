package io.xfer.tools;

import io.xfer.agent.config.AgentConfig;
import io.xfer.agent.net.AgentServer;
import io.xfer.agent.tls.CertificateAuthority;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The documented exit codes of {@code xfer}, checked by running the command line in this JVM against a real agent
 * over mutual TLS on loopback.
 */
@Timeout(30)
class CliExitCodeTest
{
    private static final Duration VALIDITY = Duration.ofDays(1);

    @TempDir
    Path work;

    private Path pki;
    private Path moduleRoot;
    private AgentServer agent;
    private int port;

    @BeforeEach
    void startAgent() throws Exception
    {
        pki = Files.createDirectories(work.resolve("pki"));
        final CertificateAuthority ca = CertificateAuthority.create("cli test CA", VALIDITY);
        ca.writeTo(pki);
        ca.issue("localhost", List.of("localhost"), List.of("127.0.0.1"), CertificateAuthority.Usage.SERVER, VALIDITY)
            .writeTo(pki.resolve("agent.crt"), pki.resolve("agent.key"));
        for (final String client : List.of("alice", "reader"))
        {
            ca.issue(client, List.of(), List.of(), CertificateAuthority.Usage.CLIENT, VALIDITY)
                .writeTo(pki.resolve(client + ".crt"), pki.resolve(client + ".key"));
        }
        final CertificateAuthority other = CertificateAuthority.create("other CA", VALIDITY);
        other.writeTo(pki.resolve("other"));
        other.issue("alice", List.of(), List.of(), CertificateAuthority.Usage.CLIENT, VALIDITY)
            .writeTo(pki.resolve("other/alice.crt"), pki.resolve("other/alice.key"));

        moduleRoot = Files.createDirectories(work.resolve("module"));
        final AgentConfig config = new AgentConfig()
            .listen("127.0.0.1:0")
            .certificate(pki.resolve("agent.crt"))
            .privateKey(pki.resolve("agent.key"))
            .ca(pki.resolve("ca.crt"))
            .idleTimeoutNs(Duration.ofSeconds(20).toNanos())
            .addModule("mod", moduleRoot, "cli tests", Set.of("alice", "reader"), Set.of("alice"))
            .conclude();
        agent = new AgentServer(config);
        port = agent.start().getPort();
    }

    @AfterEach
    void stopAgent()
    {
        if (agent != null)
        {
            agent.close();
        }
    }

    @Test
    void shouldExitOkForSendAndGetWithJsonLines() throws Exception
    {
        final Path tree = sourceTree();

        final Result send = xfer("send", "--json", tree.toString(), url("mod/in"));
        assertEquals(ExitCode.OK, send.exitCode, send::toString);
        final Map<String, Object> sendSummary = summary(send);
        assertEquals("send", sendSummary.get("operation"));
        assertEquals(5L, sendSummary.get("committed"), send::toString);
        assertEquals(0L, sendSummary.get("refused"));
        assertEquals(0L, sendSummary.get("failed"));
        assertEquals("beta", Files.readString(moduleRoot.resolve("in/tree/sub/b.txt")));

        final Path fetched = work.resolve("fetched");
        final Result get = xfer("get", "--json", url("mod/in/tree"), fetched.toString());
        assertEquals(ExitCode.OK, get.exitCode, get::toString);
        final Map<String, Object> getSummary = summary(get);
        assertEquals("get", getSummary.get("operation"));
        assertEquals(5L, getSummary.get("committed"), get::toString);
        assertEquals("alpha", Files.readString(fetched.resolve("tree/a.txt")));
        assertEquals("beta", Files.readString(fetched.resolve("tree/sub/b.txt")));
    }

    @Test
    void shouldReportTheLinkSizingWithABandwidth() throws Exception
    {
        final Result send = xfer("send", "--json", "--bandwidth", "1gbit", "--streams", "2", sourceTree().toString(),
            url("mod/in"));

        assertEquals(ExitCode.OK, send.exitCode, send::toString);
        @SuppressWarnings("unchecked")
        final Map<String, Object> link = (Map<String, Object>)summary(send).get("link");
        assertEquals(125_000_000L, link.get("bandwidth_bytes_per_second"), send::toString);
        assertEquals(2L, link.get("streams"), send::toString);
        assertTrue(((Number)link.get("rtt_us")).doubleValue() > 0, send::toString);
        assertTrue(((Number)link.get("bdp_bytes")).longValue() > 0, send::toString);
        assertEquals("beta", Files.readString(moduleRoot.resolve("in/tree/sub/b.txt")));

        final Result plain = xfer("send", "--json", sourceTree().toString(), url("mod/again"));
        assertFalse(summary(plain).containsKey("link"), plain::toString);
    }

    @Test
    void smallFilesGoWithTheirEntriesUnlessNoInlineIsGiven() throws Exception
    {
        final Result inline = xfer("send", "--json", sourceTree().toString(), url("mod/inline"));
        assertEquals(ExitCode.OK, inline.exitCode, inline::toString);
        assertFalse(((Map<?, ?>)summary(inline).get("latency")).containsKey("chunk_rtt_us"),
            "no file needed a DATA chunk: " + inline);

        final Result plain = xfer("send", "--json", "--no-inline", sourceTree().toString(), url("mod/plain"));
        assertEquals(ExitCode.OK, plain.exitCode, plain::toString);
        final Map<?, ?> chunks = (Map<?, ?>)((Map<?, ?>)summary(plain).get("latency")).get("chunk_rtt_us");
        assertEquals(3L, ((Number)chunks.get("count")).longValue(), "each of the 3 files as a chunk: " + plain);
        assertEquals(summary(inline).get("bytes"), summary(plain).get("bytes"));
    }

    @Test
    void shouldExitOkWhenIdenticalSendIsRunAgain() throws Exception
    {
        final Path tree = sourceTree();
        assertEquals(ExitCode.OK, xfer("send", "--json", tree.toString(), url("mod/in")).exitCode);

        final Result again = xfer("send", "--json", tree.toString(), url("mod/in"));

        assertEquals(ExitCode.OK, again.exitCode, again::toString);
        final Map<String, Object> summary = summary(again);
        assertEquals(0L, summary.get("committed"), again::toString);
        assertEquals(5L, summary.get("skipped"), again::toString);
        assertEquals(0L, summary.get("bytes"), again::toString);
    }

    @Test
    void shouldExitPartialWhenDestinationDiffersWithoutOverwrite() throws Exception
    {
        final Path tree = sourceTree();
        assertEquals(ExitCode.OK, xfer("send", tree.toString(), url("mod/in")).exitCode);
        Files.writeString(moduleRoot.resolve("in/tree/a.txt"), "changed at the destination");

        final Result again = xfer("send", "--json", tree.toString(), url("mod/in"));

        assertEquals(ExitCode.PARTIAL, again.exitCode, again::toString);
        assertEquals(1L, summary(again).get("refused"), again::toString);
        assertTrue(jsonLines(again).stream().anyMatch(line -> "refused".equals(line.get("event")) &&
            "tree/a.txt".equals(line.get("path")) && "EXISTS".equals(line.get("error"))), again::toString);
        assertEquals("changed at the destination", Files.readString(moduleRoot.resolve("in/tree/a.txt")));

        final Result overwrite = xfer("send", "--overwrite", tree.toString(), url("mod/in"));
        assertEquals(ExitCode.OK, overwrite.exitCode, overwrite::toString);
        assertEquals("alpha", Files.readString(moduleRoot.resolve("in/tree/a.txt")));
    }

    @Test
    void shouldExitAccessDeniedWithoutWriteRight() throws Exception
    {
        final Result result = xferAs("reader", "send", "--json", sourceTree().toString(), url("mod/in"));

        assertEquals(ExitCode.ACCESS_DENIED, result.exitCode, result::toString);
        final Map<String, Object> last = last(result);
        assertEquals("error", last.get("event"));
        assertEquals("ACCESS_DENIED", last.get("error"));
        assertEquals((long)ExitCode.ACCESS_DENIED, last.get("exit_code"));
        assertFalse(Files.exists(moduleRoot.resolve("in")));
    }

    @Test
    void shouldExitTlsWhenAgentCertificateIsNotTrusted() throws Exception
    {
        // the client trusts only another CA, so its own side of the handshake rejects the agent's certificate
        final String[] args = {"--cert", pki.resolve("alice.crt").toString(), "--key",
            pki.resolve("alice.key").toString(), "--ca", pki.resolve("other/ca.crt").toString()};

        final Result send = XferRun.run(concat(new String[] {"send", "--json"}, args,
            new String[] {sourceTree().toString(), url("mod/in")}));
        assertEquals(ExitCode.TLS, send.exitCode, send::toString);
        assertEquals("TLS", last(send).get("error"), send::toString);

        final Result ping = XferRun.run(concat(new String[] {"ping"}, args, new String[] {"localhost:" + port}));
        assertEquals(ExitCode.TLS, ping.exitCode, ping::toString);
        assertFalse(Files.exists(moduleRoot.resolve("in")));
    }

    @Test
    void shouldExitTlsWhenTheAgentRefusesTheClientCertificate() throws Exception
    {
        // named alice, but from a CA the agent does not trust: the agent refuses it after the client's side of the
        // TLS 1.3 handshake completed, with an alert, and a retry could not change that
        final Result send = XferRun.run(new String[] {"send", "--json", "--retries", "2",
            "--cert", pki.resolve("other/alice.crt").toString(), "--key", pki.resolve("other/alice.key").toString(),
            "--ca", pki.resolve("ca.crt").toString(), sourceTree().toString(), url("mod/in")});
        assertEquals(ExitCode.TLS, send.exitCode, send::toString);
        final List<Map<String, Object>> lines = jsonLines(send);
        assertEquals(1, lines.size(), () -> "no retry: " + send);
        assertEquals("TLS", lines.get(0).get("error"), send::toString);
        assertTrue(String.valueOf(lines.get(0).get("message")).startsWith("the agent refused the client " +
            "certificate (TLS alert: "), send::toString);
        assertFalse(Files.exists(moduleRoot.resolve("in")));
    }

    @Test
    void shouldExitConnectionWhenNothingListens() throws Exception
    {
        final int closedPort;
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress()))
        {
            closedPort = socket.getLocalPort();
        }

        final Result result = xfer("send", "--json", sourceTree().toString(),
            "xfer://localhost:" + closedPort + "/mod/in");

        assertEquals(ExitCode.CONNECTION, result.exitCode, result::toString);
        assertEquals("CONNECTION", last(result).get("error"), result::toString);
    }

    @Test
    void shouldExitUsageForMalformedAddressesAndMissingArguments() throws Exception
    {
        final String tree = sourceTree().toString();
        for (final String address : List.of("not-an-address", "xfer://localhost:notaport/mod/in",
            "xfer://localhost:70000/mod/in", "xfer:///mod/in"))
        {
            final Result result = xfer("send", tree, address);
            assertEquals(ExitCode.USAGE, result.exitCode, () -> address + ": " + result);
            assertTrue(result.err.startsWith("xfer: "), () -> address + ": " + result);
        }

        for (final String[] args : List.of(new String[] {"send"}, new String[] {"send", tree},
            new String[] {"get"}, new String[] {"get", url("mod/in")}, new String[] {"ping"},
            new String[] {"send", "--no-such-option", tree, url("mod/in")},
            new String[] {"send", "--histogram-dir", "", tree, url("mod/in")},
            new String[] {"send", "--bandwidth", "fast", tree, url("mod/in")},
            new String[] {"get", "--bandwidth", "0mbit", url("mod/in"), tree}, new String[0]))
        {
            final Result result = XferRun.run(args);
            assertEquals(ExitCode.USAGE, result.exitCode, () -> String.join(" ", args) + ": " + result);
        }
        assertFalse(Files.exists(moduleRoot.resolve("in")));
    }

    @Test
    void shouldExitNotFoundForUnknownModuleAndMissingPath() throws Exception
    {
        final Result send = xfer("send", "--json", sourceTree().toString(), url("nosuchmodule/in"));
        assertEquals(ExitCode.NOT_FOUND, send.exitCode, send::toString);
        assertEquals("NO_SUCH_MODULE", last(send).get("error"), send::toString);

        final Result get = xfer("get", url("mod/does/not/exist"), work.resolve("fetched").toString());
        assertEquals(ExitCode.NOT_FOUND, get.exitCode, get::toString);

        final Result missingSource = xfer("send", work.resolve("no-such-source").toString(), url("mod/in"));
        assertEquals(ExitCode.NOT_FOUND, missingSource.exitCode, missingSource::toString);
    }

    @Test
    void shouldExitOkForPingWithJson() throws Exception
    {
        final Result result = xfer("ping", "--json", "-c", "2", "-i", "10ms", "localhost:" + port);

        assertEquals(ExitCode.OK, result.exitCode, result::toString);
        final Map<String, Object> ping = last(result);
        assertEquals("ping", ping.get("event"), result::toString);
        assertEquals(AgentServer.SOFTWARE, ping.get("software"));
        assertEquals(2, ((List<?>)ping.get("rtt_us")).size());
        assertEquals(0L, ping.get("exit_code"));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // helpers

    private Path sourceTree() throws IOException
    {
        final Path tree = work.resolve("src/tree");
        if (!Files.exists(tree))
        {
            Files.createDirectories(tree.resolve("sub"));
            Files.writeString(tree.resolve("a.txt"), "alpha");
            Files.writeString(tree.resolve("sub/b.txt"), "beta");
            Files.writeString(tree.resolve("sub/c.txt"), "gamma");
        }
        return tree;
    }

    private String url(final String modulePath)
    {
        return "xfer://localhost:" + port + "/" + modulePath;
    }

    /** Run as alice, who may read and write the module. */
    private Result xfer(final String... args)
    {
        return xferAs("alice", args);
    }

    private Result xferAs(final String client, final String... args)
    {
        final List<String> full = new ArrayList<>();
        full.add(args[0]);
        full.addAll(List.of("--cert", pki.resolve(client + ".crt").toString(),
            "--key", pki.resolve(client + ".key").toString(), "--ca", pki.resolve("ca.crt").toString()));
        full.addAll(List.of(args).subList(1, args.length));
        return XferRun.run(full.toArray(new String[0]));
    }

    private static String[] concat(final String[]... parts)
    {
        final List<String> all = new ArrayList<>();
        for (final String[] part : parts)
        {
            all.addAll(List.of(part));
        }
        return all.toArray(new String[0]);
    }

    /** What one run of the command line printed and returned. */
    record Result(int exitCode, String out, String err)
    {
        @Override
        public String toString()
        {
            return "exit " + exitCode + "\nstdout:\n" + out + "\nstderr:\n" + err;
        }
    }

    private static final class XferRun
    {
        static Result run(final String[] args)
        {
            final ByteArrayOutputStream out = new ByteArrayOutputStream();
            final ByteArrayOutputStream err = new ByteArrayOutputStream();
            final int exitCode;
            try (PrintStream outStream = new PrintStream(out, true, StandardCharsets.UTF_8);
                PrintStream errStream = new PrintStream(err, true, StandardCharsets.UTF_8))
            {
                exitCode = XferCli.run(args, outStream, errStream);
            }
            return new Result(exitCode, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        }
    }

    /** Every stdout line must be one JSON object. */
    private static List<Map<String, Object>> jsonLines(final Result result)
    {
        final List<Map<String, Object>> objects = new ArrayList<>();
        for (final String line : result.out.split("\n"))
        {
            if (line.isBlank())
            {
                continue;
            }
            final Object value = new JsonReader(line).document();
            assertTrue(value instanceof Map, () -> "not a JSON object: " + line);
            @SuppressWarnings("unchecked")
            final Map<String, Object> object = (Map<String, Object>)value;
            objects.add(object);
        }
        assertFalse(objects.isEmpty(), result::toString);
        return objects;
    }

    private static Map<String, Object> last(final Result result)
    {
        final List<Map<String, Object>> lines = jsonLines(result);
        return lines.get(lines.size() - 1);
    }

    private static Map<String, Object> summary(final Result result)
    {
        final Map<String, Object> summary = last(result);
        assertEquals("summary", summary.get("event"), result::toString);
        assertEquals((long)result.exitCode, summary.get("exit_code"), result::toString);
        return summary;
    }

    /**
     * A strict reader for one JSON document (RFC 8259): objects become maps, arrays lists, integers Long, other
     * numbers Double. Enough to prove that {@code --json} output parses.
     */
    private static final class JsonReader
    {
        private final String text;
        private int index;

        JsonReader(final String text)
        {
            this.text = text;
        }

        Object document()
        {
            final Object value = value();
            skipWhitespace();
            if (index != text.length())
            {
                throw error("trailing characters");
            }
            return value;
        }

        private Object value()
        {
            skipWhitespace();
            if (index >= text.length())
            {
                throw error("unexpected end");
            }
            final char c = text.charAt(index);
            switch (c)
            {
                case '{': return object();
                case '[': return array();
                case '"': return string();
                case 't': return literal("true", Boolean.TRUE);
                case 'f': return literal("false", Boolean.FALSE);
                case 'n': return literal("null", null);
                default: return number();
            }
        }

        private Map<String, Object> object()
        {
            final Map<String, Object> object = new LinkedHashMap<>();
            index++;
            skipWhitespace();
            if (peek() == '}')
            {
                index++;
                return object;
            }
            while (true)
            {
                skipWhitespace();
                if (peek() != '"')
                {
                    throw error("expected a key");
                }
                final String key = string();
                skipWhitespace();
                expect(':');
                if (object.containsKey(key))
                {
                    throw error("duplicate key " + key);
                }
                object.put(key, value());
                skipWhitespace();
                if (peek() == ',')
                {
                    index++;
                    continue;
                }
                expect('}');
                return object;
            }
        }

        private List<Object> array()
        {
            final List<Object> array = new ArrayList<>();
            index++;
            skipWhitespace();
            if (peek() == ']')
            {
                index++;
                return array;
            }
            while (true)
            {
                array.add(value());
                skipWhitespace();
                if (peek() == ',')
                {
                    index++;
                    continue;
                }
                expect(']');
                return array;
            }
        }

        private String string()
        {
            expect('"');
            final StringBuilder value = new StringBuilder();
            while (true)
            {
                if (index >= text.length())
                {
                    throw error("unterminated string");
                }
                final char c = text.charAt(index++);
                if (c == '"')
                {
                    return value.toString();
                }
                if (c < 0x20)
                {
                    throw error("unescaped control character");
                }
                if (c != '\\')
                {
                    value.append(c);
                    continue;
                }
                final char escape = text.charAt(index++);
                switch (escape)
                {
                    case '"': case '\\': case '/': value.append(escape); break;
                    case 'b': value.append('\b'); break;
                    case 'f': value.append('\f'); break;
                    case 'n': value.append('\n'); break;
                    case 'r': value.append('\r'); break;
                    case 't': value.append('\t'); break;
                    case 'u':
                        value.append((char)Integer.parseInt(text.substring(index, index + 4), 16));
                        index += 4;
                        break;
                    default: throw error("bad escape \\" + escape);
                }
            }
        }

        private Object number()
        {
            final int start = index;
            while (index < text.length() && "+-0123456789.eE".indexOf(text.charAt(index)) >= 0)
            {
                index++;
            }
            final String number = text.substring(start, index);
            if (!number.matches("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?"))
            {
                throw error("bad number '" + number + "'");
            }
            return number.matches("-?(0|[1-9][0-9]*)") ? (Object)Long.parseLong(number) :
                (Object)Double.parseDouble(number);
        }

        private Object literal(final String word, final Object value)
        {
            if (!text.startsWith(word, index))
            {
                throw error("bad literal");
            }
            index += word.length();
            return value;
        }

        private void expect(final char c)
        {
            if (peek() != c)
            {
                throw error("expected '" + c + "'");
            }
            index++;
        }

        private char peek()
        {
            return index < text.length() ? text.charAt(index) : '\0';
        }

        private void skipWhitespace()
        {
            while (index < text.length() && " \t\r\n".indexOf(text.charAt(index)) >= 0)
            {
                index++;
            }
        }

        private IllegalArgumentException error(final String what)
        {
            return new IllegalArgumentException("invalid JSON at " + index + " (" + what + "): " + text);
        }
    }
}
