package io.xfer.agent.net;

/**
 * The software version, from the jar manifest when packaged.
 */
public final class Version
{
    public static final String VERSION;

    static
    {
        final String fromManifest = Version.class.getPackage().getImplementationVersion();
        VERSION = fromManifest == null ? "dev" : fromManifest;
    }

    private Version()
    {
    }
}
