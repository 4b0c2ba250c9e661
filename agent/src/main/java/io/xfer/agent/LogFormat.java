package io.xfer.agent;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.StreamHandler;

/**
 * One line per record on stderr: "LEVEL logger: message". No timestamp, because journald adds its own.
 */
public final class LogFormat extends Formatter
{
    @Override
    public String format(final LogRecord record)
    {
        final StringBuilder line = new StringBuilder(128)
            .append(record.getLevel().getName()).append(' ')
            .append(shortName(record.getLoggerName())).append(": ")
            .append(formatMessage(record)).append('\n');
        if (record.getThrown() != null)
        {
            final StringWriter trace = new StringWriter();
            record.getThrown().printStackTrace(new PrintWriter(trace));
            line.append(trace);
        }
        return line.toString();
    }

    private static String shortName(final String loggerName)
    {
        if (loggerName == null)
        {
            return "-";
        }
        final int dot = loggerName.lastIndexOf('.');
        return dot < 0 ? loggerName : loggerName.substring(dot + 1);
    }

    /**
     * Route all logging to stderr in this format at the given level, unless a logging configuration file was given
     * with {@code -Djava.util.logging.config.file}.
     */
    public static void install(final Level level)
    {
        install(level, null);
    }

    /**
     * Route all logging to {@code stream} (null: stderr) in this format at the given level, unless a logging
     * configuration file was given with {@code -Djava.util.logging.config.file}: for a command whose stderr is not
     * this process's.
     */
    public static void install(final Level level, final PrintStream stream)
    {
        if (System.getProperty("java.util.logging.config.file") != null)
        {
            return;
        }
        final Logger rootLogger = Logger.getLogger("");
        for (final Handler handler : rootLogger.getHandlers())
        {
            rootLogger.removeHandler(handler);
        }
        final StreamHandler handler = stream == null ? new ConsoleHandler() : new StreamHandler(stream, new LogFormat())
        {
            @Override
            public synchronized void publish(final LogRecord record)
            {
                super.publish(record);
                flush();
            }

            @Override
            public synchronized void close()
            {
                flush(); // the stream is the command's, not the handler's to close
            }
        };
        handler.setFormatter(new LogFormat());
        handler.setLevel(level);
        rootLogger.addHandler(handler);
        rootLogger.setLevel(level);
        // Netty's own chatter at INFO and below is not useful to operators
        Logger.getLogger("io.netty").setLevel(Level.WARNING);
    }
}
