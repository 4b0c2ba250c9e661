package io.xfer.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;

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
    private int maxFrameLength;
    private boolean failed;
    private InboundTransform transform;

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
     * From the next inbound message on, pass each through {@code transform} into the cumulation instead of copying
     * it (or taking it as the cumulation). Call on the channel's event loop.
     */
    public void inboundTransform(final InboundTransform transform)
    {
        this.transform = transform;
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
                final ByteBuf grown = allocator.buffer(capacityFor(cumulation, incoming, 0));
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
     * Cumulate through the {@link InboundTransform}: the output goes straight into the cumulation, which grows (by
     * a copy of what it holds) only when it lacks room for the input plus the transform's expansion. Once a
     * frame's length is known the cumulation is sized for the whole frame and a margin, so the rest of a 1 MiB DATA
     * frame lands in place read after read.
     */
    private ByteBuf cumulateThrough(final ByteBufAllocator allocator, final ByteBuf cumulation, final ByteBuf in)
    {
        ByteBuf target = cumulation;
        try
        {
            for (int round = 0; ; round++)
            {
                final int needed = in.readableBytes() + transform.maxExpansion();
                if (target.refCnt() > 1 || target.isReadOnly() || target.writableBytes() < needed)
                {
                    final ByteBuf grown = grow(allocator, target, needed);
                    if (target != cumulation)
                    {
                        target.release();
                    }
                    target = grown;
                }
                if (!transform.transfer(in, target))
                {
                    break;
                }
                if (round > 64)
                {
                    throw new IllegalStateException("the inbound transform keeps asking for room (" +
                        target.writableBytes() + " bytes writable)");
                }
            }
            if (target != cumulation)
            {
                cumulation.release();
            }
            return target;
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
        finally
        {
            in.release();
        }
    }

    /**
     * A new cumulation holding what {@code cumulation} holds, with room for {@code needed} more bytes and, once the
     * frame's length is known, for the whole frame and one more message of this size past its end.
     */
    private ByteBuf grow(final ByteBufAllocator allocator, final ByteBuf cumulation, final int needed)
    {
        final ByteBuf grown = allocator.directBuffer(capacityFor(cumulation, needed, 2L * needed));
        grown.writeBytes(cumulation, cumulation.readerIndex(), cumulation.readableBytes());
        return grown;
    }

    /**
     * @return room for what {@code cumulation} holds plus {@code needed} bytes, or, when the length field of the
     * frame it starts with is in and that frame is longer, for the whole frame plus {@code pastFrame} bytes.
     */
    private int capacityFor(final ByteBuf cumulation, final int needed, final long pastFrame)
    {
        final int readable = cumulation.readableBytes();
        long capacity = (long)readable + needed;
        if (readable >= Integer.BYTES)
        {
            final int frameLength = cumulation.getInt(cumulation.readerIndex() + Flyweight.LENGTH_OFFSET);
            if (frameLength <= maxFrameLength && frameLength > readable && frameLength + pastFrame > capacity)
            {
                capacity = frameLength + pastFrame;
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
