package io.xfer.agent.net;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Collects what one of the agent's or the client's loggers writes, FINE records included, while open. */
final class LogCapture extends Handler implements AutoCloseable
{
    private static final long TIMEOUT_MS = 10_000;

    private final Logger logger;
    private final Level level;
    private final List<String> lines = new CopyOnWriteArrayList<>();
    private final List<String> warnings = new CopyOnWriteArrayList<>();

    LogCapture(final Class<?> source)
    {
        logger = Logger.getLogger(source.getName());
        level = logger.getLevel();
        // FINE records too, for what is logged as routine
        logger.setLevel(Level.ALL);
        logger.addHandler(this);
    }

    @Override
    public void publish(final LogRecord record)
    {
        lines.add(record.getMessage());
        if (record.getLevel().intValue() >= Level.WARNING.intValue())
        {
            warnings.add(record.getMessage());
        }
    }

    /** @return what was logged at WARNING or above so far. */
    List<String> warnings()
    {
        return List.copyOf(warnings);
    }

    /** Wait, boundedly, for a line that matches; fail naming what was logged otherwise. */
    void await(final Predicate<String> expected) throws InterruptedException
    {
        final long deadlineMs = System.currentTimeMillis() + TIMEOUT_MS;
        while (lines.stream().noneMatch(expected) && System.currentTimeMillis() < deadlineMs)
        {
            Thread.sleep(10);
        }
        assertTrue(lines.stream().anyMatch(expected), () -> "expected log line not found in " + lines);
    }

    /** Wait, boundedly, for {@code count} lines that match; fail naming what was logged otherwise. */
    void await(final Predicate<String> expected, final int count) throws InterruptedException
    {
        final long deadlineMs = System.currentTimeMillis() + TIMEOUT_MS;
        while (lines.stream().filter(expected).count() < count && System.currentTimeMillis() < deadlineMs)
        {
            Thread.sleep(10);
        }
        assertTrue(lines.stream().filter(expected).count() >= count,
            () -> "expected " + count + " matching log lines in " + lines);
    }

    @Override
    public void flush()
    {
    }

    @Override
    public void close()
    {
        logger.removeHandler(this);
        logger.setLevel(level);
    }
}
