package io.xfer.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.util.ReferenceCountUtil;

import java.util.List;

/**
 * Splits the inbound byte stream into frames and checks each before handing it on as a retained slice (no copy):
 * the length against the current limit and the type's minimum, the header version, the type, and the frame's own
 * {@link Flyweight#validate()}. Handlers downstream may therefore read any field without further bounds checks.
 *
 * <p>On the first bad frame it throws a {@link ProtocolException} and discards everything after it: the stream
 * cannot be resynchronised, so the connection handler answers with an ERROR frame and closes.
 */
public final class FrameDecoder extends ByteToMessageDecoder
{
    private final Flyweight[] validators = new Flyweight[FrameType.MAX_KNOWN + 1];
    /**
     * Bytes drawn from an {@link InboundTransform} in one pass when no frame of at least this much is being
     * assembled: small frames share a pass, and a large frame's header comes with the first one.
     */
    public static final int PIECE = 64 * 1024;
    /**
     * The most one pass draws past the end of a large frame (what the buffer's size class leaves over, up to this).
     * With {@link #PIECE}, this bounds the frames one pass can complete, and so what a handler that pauses reading
     * still gets after it did.
     */
    public static final int MAX_SPILL = 256 * 1024;
    /** Passes over one message's worth of input at most: a transform that keeps asking without end is a fault. */
    private static final int MAX_PASSES = 1 << 16;

    private int maxFrameLength;
    private boolean failed;
    private InboundTransform transform;
    /** Whether the last pass's transform call said it may have more output. */
    private boolean drawMore;

    /**
     * @param maxFrameLength the longest frame accepted, header included, until {@link #maxFrameLength(int)}.
     */
    public FrameDecoder(final int maxFrameLength)
    {
        maxFrameLength(maxFrameLength);
        setCumulator(this::cumulate);
        validators[FrameType.HELLO] = new HelloFlyweight();
        validators[FrameType.WELCOME] = new WelcomeFlyweight();
        validators[FrameType.OPEN] = new OpenFlyweight();
        validators[FrameType.OPEN_ACK] = new OpenAckFlyweight();
        validators[FrameType.FILE_ENTRY] = new FileEntryFlyweight();
        validators[FrameType.FILE_STATUS] = new FileStatusFlyweight();
        validators[FrameType.DATA] = new DataFlyweight();
        validators[FrameType.FILE_END] = new FileEndFlyweight();
        validators[FrameType.TRANSFER_END] = new TransferEndFlyweight();
        validators[FrameType.TRANSFER_DONE] = new TransferDoneFlyweight();
        validators[FrameType.ERROR] = new ErrorFlyweight();
        validators[FrameType.PING] = new PingFlyweight();
        validators[FrameType.PONG] = new PingFlyweight();
        validators[FrameType.CHUNK_ACK] = new ChunkAckFlyweight();
    }

    /**
     * Change the frame length limit, for example after the handshake agreed on one.
     */
    public void maxFrameLength(final int maxFrameLength)
    {
        if (maxFrameLength < Flyweight.HEADER_LENGTH || maxFrameLength > ProtocolVersion.MAX_FRAME_LENGTH)
        {
            throw new IllegalArgumentException("maxFrameLength " + maxFrameLength + " outside [" +
                Flyweight.HEADER_LENGTH + ", " + ProtocolVersion.MAX_FRAME_LENGTH + "]");
        }
        this.maxFrameLength = maxFrameLength;
    }

    public int maxFrameLength()
    {
        return maxFrameLength;
    }

    /**
     * From now on take input from {@code transform} instead of the messages the pipeline hands in, which then only
     * say that the transform holds some. The decoder draws only while the channel reads (auto-read on): once a
     * handler further on pauses reading, it stops after the pass under way. Call on the channel's event loop.
     */
    public void inboundTransform(final InboundTransform transform)
    {
        this.transform = transform;
    }

    @Override
    public void channelRead(final ChannelHandlerContext ctx, final Object msg) throws Exception
    {
        if (transform == null)
        {
            super.channelRead(ctx, msg);
            return;
        }
        // one pass per frame boundary: each draws output up to the end of the frame being assembled and hands on
        // the frames it completed; the first pass carries the message, the others an empty buffer. A handler
        // further on that paused reading gets no more frames while the connection lasts: the transform keeps the
        // rest and says so again when reading resumes. Once the connection is closed, everything is drawn, as
        // Netty's decoders deliver what arrived before a close. After a bad frame, passes go on discarding.
        Object input = msg;
        for (int pass = 0; ; pass++)
        {
            if (!ctx.channel().config().isAutoRead() && ctx.channel().isActive() && !failed)
            {
                ReferenceCountUtil.release(input);
                return;
            }
            drawMore = false;
            super.channelRead(ctx, input);
            input = Unpooled.EMPTY_BUFFER;
            if (!drawMore || transform == null)
            {
                return;
            }
            if (pass > MAX_PASSES)
            {
                throw new IllegalStateException("the inbound transform still has output after " + pass + " passes");
            }
        }
    }

    @Override
    protected void decode(final ChannelHandlerContext ctx, final ByteBuf in, final List<Object> out)
    {
        if (failed)
        {
            in.skipBytes(in.readableBytes());
            return;
        }

        while (in.readableBytes() >= Flyweight.HEADER_LENGTH)
        {
            final int index = in.readerIndex();
            final int length = in.getInt(index + Flyweight.LENGTH_OFFSET);
            final int version = in.getUnsignedByte(index + Flyweight.VERSION_OFFSET);
            final int type = in.getUnsignedByte(index + Flyweight.TYPE_OFFSET);
            try
            {
                checkHeader(length, version, type);
            }
            catch (final ProtocolException ex)
            {
                fail(in);
                throw ex;
            }

            if (in.readableBytes() < length)
            {
                return;
            }

            final Flyweight validator = validators[type];
            validator.wrap(in, index);
            try
            {
                validator.validate();
            }
            catch (final ProtocolException ex)
            {
                fail(in);
                throw ex;
            }
            finally
            {
                validator.wrap(null, 0);
            }
            out.add(in.readRetainedSlice(length));
        }
    }

    /**
     * Like Netty's merge cumulator, but sized by the frame being assembled: once a frame's length field is in,
     * the cumulation grows once to hold the whole frame, instead of doubling (and copying) again and again as a
     * 1 MiB DATA frame arrives in 16 KiB TLS records. A cumulation still shared with a frame handed on (a retained
     * slice) is never written into; a new one is allocated.
     */
    private ByteBuf cumulate(final ByteBufAllocator allocator, final ByteBuf cumulation, final ByteBuf in)
    {
        if (transform != null)
        {
            return cumulateThrough(allocator, cumulation, in);
        }
        if (!cumulation.isReadable() && in.isContiguous())
        {
            cumulation.release();
            return in;
        }
        try
        {
            final int readable = cumulation.readableBytes();
            final int incoming = in.readableBytes();
            if (cumulation.refCnt() > 1 || cumulation.isReadOnly() || cumulation.maxWritableBytes() < incoming ||
                cumulation.writableBytes() < incoming)
            {
                final ByteBuf grown = allocator.buffer(capacityFor(cumulation, incoming));
                grown.writeBytes(cumulation, cumulation.readerIndex(), readable);
                cumulation.release();
                grown.writeBytes(in, in.readerIndex(), incoming);
                in.readerIndex(in.writerIndex());
                return grown;
            }
            cumulation.writeBytes(in, in.readerIndex(), incoming);
            in.readerIndex(in.writerIndex());
            return cumulation;
        }
        finally
        {
            in.release();
        }
    }

    /**
     * One pass of drawing from the {@link InboundTransform} straight into the cumulation. While a frame of at least
     * {@value #PIECE} bytes is being assembled, it draws the rest of that frame into a buffer of the frame's size,
     * once the transform can complete it ({@link InboundTransform#canComplete}), and past its end only as much as
     * the allocator's size class leaves over, at most {@value #MAX_SPILL} (a 1 MiB DATA frame's buffer has room for
     * 256 KiB more at no cost): the start of the next frames, so that a read which crosses the frame's end is
     * mostly taken in the same call, and copied to the next frame's buffer on the next pass. Otherwise it draws
     * {@value #PIECE} bytes: small frames share a pass, and a large frame's header comes with it. A cumulation
     * without the room, or still shared with a frame handed on, is replaced (what it holds is copied over).
     */
    private ByteBuf cumulateThrough(final ByteBufAllocator allocator, final ByteBuf cumulation, final ByteBuf in)
    {
        final boolean bypassed = in.isReadable();
        in.release();
        if (bypassed)
        {
            throw new IllegalStateException("bytes reached the frame decoder around its inbound transform");
        }
        final int rest = frameRest(cumulation);
        if (rest >= PIECE && !transform.canComplete(rest))
        {
            // the frame cannot be completed from what the transform holds: wait for more input
            drawMore = false;
            return cumulation;
        }
        final boolean ownFrame = rest >= PIECE || rest > 0 && writableInPlace(cumulation) >= rest;
        final int needed = ownFrame ? rest : PIECE;
        ByteBuf target = cumulation;
        if (writableInPlace(target) < needed)
        {
            target = allocator.directBuffer(cumulation.readableBytes() + needed);
            target.writeBytes(cumulation, cumulation.readerIndex(), cumulation.readableBytes());
        }
        try
        {
            int limit = needed;
            if (ownFrame)
            {
                limit += Math.max(0, Math.min(MAX_SPILL, target.maxFastWritableBytes() - rest));
                target.ensureWritable(limit);
            }
            drawMore = transform.transfer(target, limit);
        }
        catch (final RuntimeException ex)
        {
            // the decoder still holds the cumulation it passed in; only a buffer made here goes
            if (target != cumulation)
            {
                target.release();
            }
            throw ex;
        }
        if (target != cumulation)
        {
            cumulation.release();
        }
        return target;
    }

    /** @return what {@code cumulation} can take without a new buffer: 0 when it is shared or read-only. */
    private static int writableInPlace(final ByteBuf cumulation)
    {
        return cumulation.refCnt() > 1 || cumulation.isReadOnly() ? 0 : cumulation.writableBytes();
    }

    /**
     * @return how many bytes the frame {@code cumulation} starts with still lacks, once its length field is in;
     * 0 when that is not known (or the length is over the limit, which decoding rejects).
     */
    private int frameRest(final ByteBuf cumulation)
    {
        final int readable = cumulation.readableBytes();
        if (readable >= Flyweight.LENGTH_OFFSET + Integer.BYTES)
        {
            final int frameLength = cumulation.getInt(cumulation.readerIndex() + Flyweight.LENGTH_OFFSET);
            if (frameLength <= maxFrameLength && frameLength > readable)
            {
                return frameLength - readable;
            }
        }
        return 0;
    }

    /**
     * @return room for what {@code cumulation} holds plus {@code needed} bytes, or, when the length field of the
     * frame it starts with is in and that frame is longer, for the whole frame.
     */
    private int capacityFor(final ByteBuf cumulation, final int needed)
    {
        final int readable = cumulation.readableBytes();
        long capacity = (long)readable + needed;
        if (readable >= Integer.BYTES)
        {
            final int frameLength = cumulation.getInt(cumulation.readerIndex() + Flyweight.LENGTH_OFFSET);
            if (frameLength <= maxFrameLength && frameLength > capacity)
            {
                capacity = frameLength;
            }
        }
        return (int)Math.min(capacity, Integer.MAX_VALUE - 8);
    }

    private void checkHeader(final int length, final int version, final int type)
    {
        if (length < Flyweight.HEADER_LENGTH)
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR,
                "frame length " + length + " is shorter than the " + Flyweight.HEADER_LENGTH + "-byte header");
        }
        if (length > maxFrameLength)
        {
            throw new ProtocolException(ErrorCode.FRAME_TOO_LONG,
                "frame length " + length + " exceeds the maximum " + maxFrameLength);
        }
        if (version != Flyweight.FRAME_VERSION)
        {
            throw new ProtocolException(ErrorCode.UNSUPPORTED_VERSION,
                "frame version " + version + ", expected " + Flyweight.FRAME_VERSION);
        }
        if (!FrameType.isKnown(type))
        {
            throw new ProtocolException(ErrorCode.UNKNOWN_FRAME_TYPE, "unknown frame type " + type);
        }
        if (length < FrameType.minLength(type))
        {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, FrameType.name(type) + ": frame length " +
                length + " is shorter than the minimum " + FrameType.minLength(type));
        }
    }

    private void fail(final ByteBuf in)
    {
        failed = true;
        in.skipBytes(in.readableBytes());
    }

    /**
     * @return the type of a frame handed on by this decoder.
     */
    public static int type(final ByteBuf frame)
    {
        return frame.getUnsignedByte(frame.readerIndex() + Flyweight.TYPE_OFFSET);
    }
}
