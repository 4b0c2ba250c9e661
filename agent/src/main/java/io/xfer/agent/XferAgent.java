package io.xfer.agent;

import io.xfer.agent.config.AgentConfig;
import io.xfer.agent.config.ConfigurationException;
import io.xfer.agent.net.AgentServer;
import io.xfer.agent.net.Version;

import java.nio.file.Path;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The daemon: {@code xfer-agent --config FILE}. Exit status 0 on a clean stop, 2 on bad arguments, 11 on a bad
 * configuration, 3 when the port cannot be bound.
 */
public final class XferAgent
{
    public static final String DEFAULT_CONFIG = "/etc/xfer/xfer-agent.conf";

    private XferAgent()
    {
    }

    public static void main(final String[] args)
    {
        Path configFile = Path.of(DEFAULT_CONFIG);
        boolean check = false;
        Level level = Level.INFO;
        for (int i = 0; i < args.length; i++)
        {
            switch (args[i])
            {
                case "--config":
                case "-c":
                    if (i + 1 >= args.length)
                    {
                        usage("--config needs a file");
                    }
                    configFile = Path.of(args[++i]);
                    break;
                case "--check":
                    check = true;
                    break;
                case "--verbose":
                case "-v":
                    level = Level.FINE;
                    break;
                case "--version":
                    System.out.println("xfer-agent " + Version.VERSION);
                    return;
                case "--help":
                case "-h":
                    System.out.println(USAGE);
                    return;
                default:
                    usage("unknown argument '" + args[i] + "'");
            }
        }
        LogFormat.install(level);
        final Logger log = Logger.getLogger(XferAgent.class.getName());

        final AgentConfig config;
        try
        {
            config = AgentConfig.load(configFile).conclude();
        }
        catch (final ConfigurationException ex)
        {
            System.err.println("xfer-agent: configuration error: " + ex.getMessage());
            System.exit(11);
            return;
        }
        if (check)
        {
            System.out.println("xfer-agent: " + configFile + " is valid (" + config.modules().size() + " modules)");
            return;
        }

        try
        {
            final AgentServer server = new AgentServer(config);
            try
            {
                server.start();
            }
            catch (final Exception ex)
            {
                System.err.println("xfer-agent: cannot listen on " + config.listen() + ": " + ex);
                server.close();
                System.exit(3);
                return;
            }
            Runtime.getRuntime().addShutdownHook(new Thread(() ->
            {
                log.info("shutting down");
                server.close();
            }, "xfer-shutdown"));
            server.awaitClose();
        }
        catch (final java.io.IOException | IllegalArgumentException ex)
        {
            System.err.println("xfer-agent: cannot load TLS material: " + ex.getMessage());
            System.exit(11);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }

    private static final String USAGE = String.join("\n",
        "Usage: xfer-agent [--config FILE] [--check] [--verbose] [--version]",
        "  --config FILE  configuration file (default " + DEFAULT_CONFIG + ")",
        "  --check        validate the configuration and TLS files, then exit",
        "  --verbose      log debug detail",
        "  --version      print the version");

    private static void usage(final String problem)
    {
        System.err.println("xfer-agent: " + problem);
        System.err.println(USAGE);
        System.exit(2);
    }
}
