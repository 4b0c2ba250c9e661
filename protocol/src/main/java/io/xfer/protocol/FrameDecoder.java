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
                int capacity = readable + incoming;
                if (readable >= Integer.BYTES)
                {
                    final int frameLength = cumulation.getInt(cumulation.readerIndex());
                    if (frameLength > capacity && frameLength <= maxFrameLength)
                    {
                        capacity = frameLength;
                    }
                }
                final ByteBuf grown = allocator.buffer(capacity);
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
