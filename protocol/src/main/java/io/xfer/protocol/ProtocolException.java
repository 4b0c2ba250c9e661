package io.xfer.protocol;

import io.netty.handler.codec.CorruptedFrameException;

/**
 * A frame that violates the protocol. Carries the {@link ErrorCode} that the ERROR frame sent to the peer uses.
 */
public class ProtocolException extends CorruptedFrameException
{
    private static final long serialVersionUID = 1L;

    private final ErrorCode errorCode;

    public ProtocolException(final ErrorCode errorCode, final String message)
    {
        super(message);
        this.errorCode = errorCode;
    }

    public ErrorCode errorCode()
    {
        return errorCode;
    }
}
