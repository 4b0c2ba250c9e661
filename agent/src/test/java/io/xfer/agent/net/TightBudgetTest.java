package io.xfer.agent.net;

import io.xfer.agent.client.ClientOptions;
import io.xfer.agent.client.Endpoint;
import io.xfer.agent.client.XferClient;
import io.xfer.agent.engine.Compression;
import io.xfer.agent.engine.TransferListener;
import io.xfer.agent.engine.TransferReport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The smallest send budget there is (two chunks of the smallest length) over real TLS, both ways, with one stream
 * (the control connection carries the data and the role's frames together) and with three: the budget must keep
 * coming back as the channels write the chunks out ({@code ChannelDrain}), two chunks at a time, so that many small
 * files and a few multi-chunk ones all arrive.
 */
@Timeout(120)
class TightBudgetTest
{
    private static final String MODULE = "data";
    private static final int CHUNK = 4096;

    @TempDir
    Path work;

    private TestPki pki;
    private TestAgent agent;
    private Path moduleRoot;
    private TestPki.Credentials alice;

    @BeforeEach
    void startAgent() throws Exception
    {
        pki = TestPki.create(work.resolve("pki"));
        alice = pki.client("alice");
        moduleRoot = Files.createDirectories(work.resolve("module"));
        agent = TestAgent.with(pki).module(MODULE, moduleRoot, Set.of("alice"), Set.of("alice"))
            .configure(config -> config.chunkLength(CHUNK).sendBudgetBytes(2L * CHUNK).streamWindowBytes(CHUNK))
            .start();
    }

    @AfterEach
    void stopAgent()
    {
        agent.close();
    }

    @Test
    void oneStreamMovesATreeBothWays() throws Exception
    {
        roundTrip(1);
    }

    @Test
    void threeStreamsMoveATreeBothWays() throws Exception
    {
        roundTrip(3);
    }

    private void roundTrip(final int streams) throws Exception
    {
        final Path tree = work.resolve("src/tree");
        final Random random = new Random(streams);
        for (int i = 0; i < 300; i++)
        {
            // mostly below a chunk, some of several chunks
            final int size = i % 10 == 0 ? 3 * CHUNK + random.nextInt(CHUNK) : random.nextInt(CHUNK);
            final byte[] bytes = new byte[size];
            random.nextBytes(bytes);
            Files.createDirectories(tree.resolve("d" + i % 7));
            Files.write(tree.resolve("d" + i % 7 + "/f" + i), bytes);
        }
        final ClientOptions options = pki.options(alice).chunkLength(CHUNK).streams(streams).windowBytes(CHUNK)
            .sendBudgetBytes(2L * CHUNK).compression(Compression.NONE);
        try (XferClient client = new XferClient(options))
        {
            final TransferReport pushed = client.push(new Endpoint("localhost", agent.port(), MODULE, "in"),
                List.of(tree.toString()), TransferListener.NONE);
            assertTrue(pushed.complete(), pushed::toString);
            final TransferReport pulled = client.pull(new Endpoint("localhost", agent.port(), MODULE, "in/tree"),
                work.resolve("back"), TransferListener.NONE);
            assertTrue(pulled.complete(), pulled::toString);
        }
        for (int i = 0; i < 300; i++)
        {
            final String name = "d" + i % 7 + "/f" + i;
            assertEquals(-1L, Files.mismatch(tree.resolve(name), moduleRoot.resolve("in/tree/" + name)), name);
            assertEquals(-1L, Files.mismatch(tree.resolve(name), work.resolve("back/tree/" + name)), name);
        }
    }
}
