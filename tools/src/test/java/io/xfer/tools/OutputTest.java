package io.xfer.tools;

import io.xfer.agent.engine.TransferEvent;
import io.xfer.agent.engine.TransferListener;
import io.xfer.agent.engine.TransferReport;
import io.xfer.agent.engine.TransferStats;
import io.xfer.protocol.ErrorCode;
import io.xfer.protocol.FileEntryFlyweight;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The buffering of per-file JSON events: nothing lost, order kept, other lines never overtake buffered events, and
 * an event written while the transfer goes quiet still comes out without the next one.
 */
@Timeout(30)
class OutputTest
{
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final PrintStream stdout = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    private final PrintStream stderr = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);

    private static TransferEvent committed(final int i)
    {
        return new TransferEvent(TransferEvent.Kind.COMMITTED, "dir/file-" + i, FileEntryFlyweight.TYPE_FILE, i, null,
            null);
    }

    private List<String> lines()
    {
        synchronized (stdout)
        {
            final String text = bytes.toString(StandardCharsets.UTF_8);
            return text.isEmpty() ? List.of() : List.of(text.split(System.lineSeparator()));
        }
    }

    @Test
    void theSummaryNamesTheTransportAndTlsTheRunUsed()
    {
        final TransferReport report = new TransferStats(TransferListener.NONE).report();
        final Output.Engine fallback = new Output.Engine("nio", "JDK");

        final Output json = new Output(stdout, stderr, true, false, false);
        json.summary("send", "xfer://localhost:7440/m/p", report, 0, 0, fallback);
        final String summary = lines().get(lines().size() - 1);
        assertTrue(summary.contains("\"transport\":\"nio\",\"tls_provider\":\"JDK\""), summary);

        bytes.reset();
        final Output verbose = new Output(stdout, stderr, false, false, true);
        verbose.summary("send", "xfer://localhost:7440/m/p", report, 0, 0, new Output.Engine("epoll", "BoringSSL"));
        assertTrue(lines().contains("  transport epoll, TLS BoringSSL"), lines()::toString);
    }

    @Test
    void manyEventsComeOutWholeAndInOrderBeforeTheError()
    {
        final int events = 5_000; // several times the flush threshold
        try (Output output = new Output(stdout, stderr, true, false, false))
        {
            for (int i = 0; i < events; i++)
            {
                output.onEvent(committed(i));
            }
            output.onEvent(new TransferEvent(TransferEvent.Kind.FAILED, "dir/bad", FileEntryFlyweight.TYPE_FILE, 0,
                ErrorCode.IO_ERROR, "disk full"));
            output.error("the agent went away", "CONNECTION", ExitCode.CONNECTION);
        }
        final List<String> lines = lines();
        assertEquals(events + 2, lines.size());
        for (int i = 0; i < events; i++)
        {
            assertTrue(lines.get(i).contains("\"path\":\"dir/file-" + i + "\""), lines.get(i));
            assertTrue(lines.get(i).startsWith("{\"event\":\"committed\""), lines.get(i));
        }
        assertTrue(lines.get(events).contains("\"error\":\"IO_ERROR\""), lines.get(events));
        assertTrue(lines.get(events + 1).startsWith("{\"event\":\"error\""), lines.get(events + 1));
    }

    @Test
    void aLoneEventIsFlushedWithoutWaitingForTheNextOne() throws InterruptedException
    {
        try (Output output = new Output(stdout, stderr, true, false, false))
        {
            output.onEvent(committed(1));
            final long deadline = System.nanoTime() + 10_000_000_000L;
            while (lines().isEmpty() && System.nanoTime() < deadline)
            {
                Thread.sleep(10);
            }
            assertEquals(1, lines().size(), "the buffered event did not come out while the transfer was quiet");
        }
    }

    @Test
    void closeWritesWhatIsLeft()
    {
        final Output output = new Output(stdout, stderr, true, false, false);
        output.onEvent(committed(7));
        output.close();
        assertEquals(1, lines().size());
        assertTrue(lines().get(0).contains("dir/file-7"));
    }
}
