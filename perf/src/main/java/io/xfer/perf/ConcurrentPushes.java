package io.xfer.perf;

import io.xfer.agent.client.ClientOptions;
import io.xfer.agent.client.Endpoint;
import io.xfer.agent.client.XferClient;
import io.xfer.agent.engine.TransferListener;
import io.xfer.agent.engine.TransferReport;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Many pushes at once against one agent, from one JVM (a client process per push would need tens of GiB here):
 * each of N threads runs its own {@link XferClient} and pushes SOURCE into {@code MODULE/PREFIX<i>}, with one stream
 * each, so that N transfers run on the agent together. Prints how many completed and why the others did not. Used to
 * check that an agent with its default heap serves {@code max_connections} transfers (see perf/README.md).
 * <p>
 * Usage: {@code ConcurrentPushes N HOST:PORT MODULE PREFIX SOURCE CERT KEY CA}
 */
public final class ConcurrentPushes
{
    private ConcurrentPushes()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        if (args.length != 8)
        {
            System.err.println("usage: ConcurrentPushes N HOST:PORT MODULE PREFIX SOURCE CERT KEY CA");
            System.exit(2);
        }
        final int transfers = Integer.parseInt(args[0]);
        final String host = args[1].substring(0, args[1].lastIndexOf(':'));
        final int port = Integer.parseInt(args[1].substring(args[1].lastIndexOf(':') + 1));
        final ClientOptions options = new ClientOptions().certificate(Path.of(args[5])).privateKey(Path.of(args[6]))
            .ca(Path.of(args[7])).streams(1);

        final ExecutorService pool = Executors.newFixedThreadPool(transfers);
        final List<Future<String>> outcomes = new ArrayList<>();
        final long startNs = System.nanoTime();
        for (int i = 0; i < transfers; i++)
        {
            final String path = args[3] + i;
            outcomes.add(pool.submit(() -> push(options, new Endpoint(host, port, args[2], path), args[4])));
        }
        final Map<String, Integer> tally = new TreeMap<>();
        for (final Future<String> outcome : outcomes)
        {
            tally.merge(outcome.get(), 1, Integer::sum);
        }
        pool.shutdown();
        System.out.printf("%d pushes in %.1f s: %s%n", transfers,
            (System.nanoTime() - startNs) / (double)TimeUnit.SECONDS.toNanos(1), tally);
        System.exit(tally.getOrDefault("completed", 0) == transfers ? 0 : 1);
    }

    private static String push(final ClientOptions options, final Endpoint endpoint, final String source)
    {
        try (XferClient client = new XferClient(options))
        {
            final TransferReport report = client.push(endpoint, List.of(source), TransferListener.NONE);
            return report.complete() ? "completed" : "incomplete: " + report.firstErrorMessage();
        }
        catch (final Exception ex)
        {
            return "failed: " + ex.getMessage();
        }
    }
}
