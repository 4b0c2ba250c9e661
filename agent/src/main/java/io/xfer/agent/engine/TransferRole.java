package io.xfer.agent.engine;

import io.netty.buffer.ByteBuf;
import io.xfer.protocol.ErrorCode;
import io.xfer.protocol.ErrorFlyweight;
import io.xfer.protocol.FrameType;

import javax.net.ssl.SSLException;

/**
 * What the sender and receiver roles share: taking frames from the connection's inbox with an idle timeout,
 * turning a closed connection or a peer's ERROR into a {@link TransferException}, and failing the connection.
 */
abstract class TransferRole
{
    protected final FrameConnection connection;
    protected final TransferStats stats;
    protected final int chunkLength;
    protected final long idleTimeoutNs;
    private final ErrorFlyweight error = new ErrorFlyweight();

    TransferRole(
        final FrameConnection connection, final TransferStats stats, final int chunkLength, final long idleTimeoutNs)
    {
        this.connection = connection;
        this.stats = stats;
        this.chunkLength = chunkLength;
        this.idleTimeoutNs = idleTimeoutNs;
        connection.startKeepalive(Math.max(1_000_000L, idleTimeoutNs / 4));
    }

    static TransferException closedException(final Throwable cause)
    {
        if (cause instanceof TransferException te)
        {
            return te;
        }
        if (cause instanceof SSLException || cause != null && cause.getCause() instanceof SSLException)
        {
            final Throwable ssl = cause instanceof SSLException ? cause : cause.getCause();
            return TransferException.connectionLost("TLS failure: " + ssl.getMessage(), ssl);
        }
        return TransferException.connectionLost("connection closed by peer" +
            (cause == null ? "" : ": " + cause.getMessage()), cause);
    }

    /**
     * Decode an ERROR frame into the exception it stands for.
     */
    protected TransferException remoteError(final ByteBuf frame)
    {
        error.wrap(frame, frame.readerIndex());
        final ErrorCode code = ErrorCode.get(error.code());
        final String message = error.message();
        return new TransferException(code == null ? ErrorCode.INTERNAL : code,
            "peer: " + message + (code == null ? " (error code " + error.code() + ")" : ""), true, null);
    }

    protected int errorFileId(final ByteBuf frame)
    {
        error.wrap(frame, frame.readerIndex());
        return error.fileId();
    }

    protected TransferException unexpected(final int type, final String state)
    {
        return new TransferException(ErrorCode.UNEXPECTED_FRAME, "unexpected " + FrameType.name(type) + " " + state);
    }

    /**
     * Tell the peer why the transfer ends (unless the failure came from the peer or the connection), then close.
     */
    protected void abort(final TransferException failure)
    {
        if (failure.errorCode() != null && !failure.isRemote())
        {
            connection.sendErrorAndClose(failure.errorCode(), failure.getMessage());
        }
        else
        {
            connection.channel().close();
        }
    }
}
