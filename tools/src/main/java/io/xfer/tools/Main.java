package io.xfer.tools;

/**
 * {@code bin/xfer}'s entry point: a command line that the client daemon can run goes to it (see {@link ClientDaemon})
 * before anything else is loaded; every other, and every one the daemon does not take, runs here.
 */
public final class Main
{
    private Main()
    {
    }

    public static void main(final String[] args)
    {
        final int exitCode = DaemonClient.serve(args);
        if (exitCode == DaemonClient.CANCELLED)
        {
            return; // this JVM is ending on the signal that cancelled the command, with that signal's status
        }
        if (exitCode != DaemonClient.NOT_SERVED)
        {
            System.exit(exitCode);
        }
        XferCli.main(args);
    }
}
