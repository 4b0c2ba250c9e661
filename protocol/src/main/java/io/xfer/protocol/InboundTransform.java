package io.xfer.protocol;

import io.netty.buffer.ByteBuf;

/**
 * Produces the bytes {@link FrameDecoder} decodes in some other way than handing them down the pipeline: a TLS
 * record layer decrypts straight into the decoder's cumulation, so that payload is written once between the socket
 * and the frame.
 *
 * <p>The transform holds its input itself. When it has some, it sends any message down the pipeline to the decoder
 * (an empty buffer does); the decoder then draws output from it with {@link #transfer}, one call per pass, handing
 * on the frames each pass completes, until a call returns false or the channel stops reading (auto-read turned off
 * by a handler further on). The transform keeps what was not drawn and sends a message again when reading resumes
 * (the outbound read that turning auto-read back on makes), as well as when new input comes.
 */
public interface InboundTransform
{
    /**
     * Move output into {@code out}, at most {@code limit} bytes (no more than {@code out}'s writable bytes),
     * advancing its writer index. The decoder sizes {@code limit} to end where the frame being assembled ends, so
     * a frame's buffer holds that frame alone.
     *
     * @return true when the transform may have more output than it moved: the decoder hands on what is complete
     * and calls again.
     */
    boolean transfer(ByteBuf out, int limit);

    /**
     * Asked before a pass draws the rest of a large frame: whether that pass could move all {@code bytes} of it
     * now. When the answer is no, the decoder draws nothing and waits for the next message, so that the frame is
     * drawn in one call once its input is in rather than in one call per burst of input (with what each call
     * costs). Answer no only when sure the output cannot reach {@code bytes} yet and more input is coming: while
     * the connection is open, and never once the transform holds as much input as it takes in one go. The
     * default answer is yes.
     */
    default boolean canComplete(final int bytes)
    {
        return true;
    }
}
