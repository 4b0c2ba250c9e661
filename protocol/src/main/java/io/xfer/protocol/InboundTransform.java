package io.xfer.protocol;

import io.netty.buffer.ByteBuf;

/**
 * Moves the bytes of an inbound message into {@link FrameDecoder}'s cumulation in some other way than a copy: a TLS
 * record layer decrypts straight into it, so that payload is written once between the socket and the frame.
 */
public interface InboundTransform
{
    /**
     * @return how many more bytes of output than of input one call may produce at most (bytes held over from an
     * earlier message, such as part of a TLS record); the decoder leaves at least this much room beyond the input.
     */
    int maxExpansion();

    /**
     * Move what {@code in} holds into the writable bytes of {@code out}, advancing both buffers' indexes. Whatever
     * {@code in} still holds afterwards is kept by the transform, for the next call.
     *
     * @return true when more output is waiting than {@code out} had room for: the decoder grows it and calls again.
     */
    boolean transfer(ByteBuf in, ByteBuf out);
}
