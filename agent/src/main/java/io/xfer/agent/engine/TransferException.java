package io.xfer.agent.engine;

import io.xfer.protocol.ErrorCode;

/**
 * A failure that ends a transfer (or, where a file id is known, one file of it), with the protocol error code that
 * reports it to the peer and decides the client's exit code.
 */
public final class TransferException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    private final ErrorCode errorCode;
    private final boolean remote;

    public TransferException(final ErrorCode errorCode, final String message)
    {
        this(errorCode, message, false, null);
    }

    public TransferException(final ErrorCode errorCode, final String message, final Throwable cause)
    {
        this(errorCode, message, false, cause);
    }

    public TransferException(
        final ErrorCode errorCode, final String message, final boolean remote, final Throwable cause)
    {
        super(message, cause);
        this.errorCode = errorCode;
        this.remote = remote;
    }

    /**
     * The connection to the peer was lost or could not be used; there is no protocol error code for that.
     */
    public static TransferException connectionLost(final String message, final Throwable cause)
    {
        return new TransferException(null, message, false, cause);
    }

    /** @return the protocol error code, or null when the connection was lost. */
    public ErrorCode errorCode()
    {
        return errorCode;
    }

    /** @return true when the peer reported this failure in an ERROR frame. */
    public boolean isRemote()
    {
        return remote;
    }
}
