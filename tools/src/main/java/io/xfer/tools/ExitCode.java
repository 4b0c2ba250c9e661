package io.xfer.tools;

/**
 * Stable process exit codes of the {@code xfer} command. Scripts depend on these values: never renumber them,
 * only add new ones. Documented in README.md.
 */
public final class ExitCode
{
    /** Everything requested was done (files skipped as identical count as done). */
    public static final int OK = 0;
    /** An unexpected internal error. */
    public static final int INTERNAL = 1;
    /** Bad command line: unknown option, missing argument, malformed URL. */
    public static final int USAGE = 2;
    /** The peer could not be reached, or the connection was lost. */
    public static final int CONNECTION = 3;
    /** The TLS handshake failed: certificate rejected, unknown CA, expired, wrong host. */
    public static final int TLS = 4;
    /** The peer refused access: no such right on the module for this identity. */
    public static final int ACCESS_DENIED = 5;
    /** The module or path does not exist. */
    public static final int NOT_FOUND = 6;
    /** Some files were transferred, others failed or were refused (for example existing files without --overwrite). */
    public static final int PARTIAL = 7;
    /** A checksum or digest did not verify. */
    public static final int VERIFICATION = 8;
    /** The peer violated the protocol or speaks an incompatible version. */
    public static final int PROTOCOL = 9;
    /** A local or remote storage error: no space left, permission denied, read error. */
    public static final int IO = 10;
    /** A local configuration or certificate file could not be used. */
    public static final int CONFIG = 11;
    /** The operation timed out. */
    public static final int TIMEOUT = 12;
    /** Everything else completed, but some source files vanished before they could be sent. */
    public static final int VANISHED = 13;

    private ExitCode()
    {
    }
}
