package io.xfer.tools;

import io.xfer.agent.engine.TransferException;
import io.xfer.agent.engine.TransferReport;

import javax.net.ssl.SSLException;

/**
 * Maps transfer outcomes to the stable {@link ExitCode}s.
 */
final class ExitCodes
{
    private ExitCodes()
    {
    }

    static int of(final TransferReport report)
    {
        if (report.verificationFailures() > 0)
        {
            return ExitCode.VERIFICATION;
        }
        if (report.failed() > 0 || report.refused() > 0)
        {
            return ExitCode.PARTIAL;
        }
        if (report.vanished() > 0)
        {
            return ExitCode.VANISHED;
        }
        return ExitCode.OK;
    }

    static int of(final TransferException ex)
    {
        if (ex.errorCode() == null)
        {
            return isTls(ex) ? ExitCode.TLS : ExitCode.CONNECTION;
        }
        switch (ex.errorCode())
        {
            case ACCESS_DENIED:
            case INVALID_PATH:
                return ExitCode.ACCESS_DENIED;
            case NO_SUCH_MODULE:
            case NOT_FOUND:
                return ExitCode.NOT_FOUND;
            case PROTOCOL_ERROR:
            case UNSUPPORTED_VERSION:
            case UNKNOWN_FRAME_TYPE:
            case FRAME_TOO_LONG:
            case UNEXPECTED_FRAME:
            case UNKNOWN_SESSION:
                return ExitCode.PROTOCOL;
            case IO_ERROR:
            case NO_SPACE:
            case PERMISSION_DENIED:
                return ExitCode.IO;
            case CHECKSUM_MISMATCH:
            case DIGEST_MISMATCH:
                return ExitCode.VERIFICATION;
            case TIMEOUT:
                return ExitCode.TIMEOUT;
            case SHUTTING_DOWN:
            case LIMIT_EXCEEDED:
                return ExitCode.CONNECTION;
            case EXISTS:
            case SOURCE_CHANGED:
            case SOURCE_VANISHED:
            case UNSUPPORTED_FILE_TYPE:
                return ExitCode.PARTIAL;
            default:
                return ExitCode.INTERNAL;
        }
    }

    static boolean isTls(final Throwable ex)
    {
        for (Throwable t = ex; t != null; t = t.getCause())
        {
            if (t instanceof SSLException)
            {
                return true;
            }
        }
        return false;
    }
}
