package io.xfer.tools;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Who a command line runs for: the invoking process's working directory and {@code $XFER_HOME}, and how a signal
 * that stops that process reaches the command. A command run by {@code xfer} itself takes these from its own process;
 * one that the client daemon runs for another {@code xfer} process takes them from that process's request, since the
 * daemon's JVM has a working directory, an environment and signals of its own.
 */
abstract class Invocation
{
    private final Path workingDirectory;
    private final String xferHome;

    private Invocation(final Path workingDirectory, final String xferHome)
    {
        this.workingDirectory = workingDirectory;
        this.xferHome = xferHome == null || xferHome.isEmpty() ? null : xferHome;
    }

    /** This process: relative paths stay as given (the JVM resolves them), signals are seen by shutdown hooks. */
    static Invocation process()
    {
        return new Process();
    }

    /**
     * Another process, whose working directory is {@code workingDirectory} (absolute); {@link Remote#interrupt()}
     * stands for the signal that stopped it.
     */
    static Remote remote(final Path workingDirectory, final String xferHome, final boolean console)
    {
        if (!workingDirectory.isAbsolute())
        {
            throw new IllegalArgumentException("the working directory must be absolute: " + workingDirectory);
        }
        return new Remote(workingDirectory, xferHome, console);
    }

    /**
     * @return the directory of the invoking process's default TLS files ({@code $XFER_HOME}, else ~/.xfer), or null
     * for this process's own ({@link io.xfer.agent.client.ClientOptions#defaultDir()})
     */
    Path home()
    {
        if (workingDirectory == null)
        {
            return null;
        }
        return xferHome != null ? path(xferHome) : Path.of(System.getProperty("user.home"), ".xfer");
    }

    /** @return {@code value} resolved against the invoking process's working directory */
    Path path(final String value)
    {
        return workingDirectory == null || value.isEmpty() ? Path.of(value) : workingDirectory.resolve(value);
    }

    /** @return the invoking process's working directory, or null for this process's own */
    Path workingDirectory()
    {
        return workingDirectory;
    }

    /**
     * @return whether help and usage may use colours: null to leave it to the library (this process's own console),
     * else whether the invoking process has a console
     */
    Boolean console()
    {
        return null;
    }

    /**
     * Run {@code task} if the invoking process is stopped by a signal (SIGINT, SIGTERM, SIGHUP) before
     * {@link #forget} is called with what this returns (null when it is already ending).
     */
    abstract Object onInterrupt(Runnable task);

    abstract void forget(Object registration);

    private static final class Process extends Invocation
    {
        Process()
        {
            super(null, System.getenv("XFER_HOME"));
        }

        @Override
        Object onInterrupt(final Runnable task)
        {
            final Thread hook = new Thread(task, "xfer-interrupted");
            try
            {
                Runtime.getRuntime().addShutdownHook(hook);
            }
            catch (final IllegalStateException shuttingDown)
            {
                return null;
            }
            return hook;
        }

        @Override
        void forget(final Object registration)
        {
            if (registration == null)
            {
                return;
            }
            try
            {
                Runtime.getRuntime().removeShutdownHook((Thread)registration);
            }
            catch (final IllegalStateException shuttingDown)
            {
                // the hook runs or ran: the signal came as the command ended
            }
        }
    }

    /** A process that asked the daemon to run its command line. */
    static final class Remote extends Invocation
    {
        private final List<Runnable> tasks = new CopyOnWriteArrayList<>();
        private final boolean console;
        private boolean interrupted;

        Remote(final Path workingDirectory, final String xferHome, final boolean console)
        {
            super(workingDirectory, xferHome);
            this.console = console;
        }

        @Override
        Boolean console()
        {
            return console;
        }

        @Override
        Object onInterrupt(final Runnable task)
        {
            synchronized (this)
            {
                if (interrupted)
                {
                    return null;
                }
                tasks.add(task);
            }
            return task;
        }

        @Override
        void forget(final Object registration)
        {
            tasks.remove(registration);
        }

        /** The invoking process was stopped by a signal: run what was registered, in order, on this thread. */
        void interrupt()
        {
            synchronized (this)
            {
                if (interrupted)
                {
                    return;
                }
                interrupted = true;
            }
            for (final Runnable task : tasks)
            {
                task.run();
            }
        }
    }
}
