package io.xfer.agent.tls;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.UnsupportedMessageTypeException;
import io.netty.handler.ssl.ReferenceCountedOpenSslEngine;
import io.netty.handler.ssl.SslCloseCompletionEvent;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.internal.PlatformDependent;
import io.xfer.protocol.FrameDecoder;
import io.xfer.protocol.InboundTransform;

import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;

/**
 * The TLS record layer of an established connection, in place of Netty's {@link SslHandler} once the handshake is
 * done.
 *
 * <p>SslHandler gives its engine one 16 KiB record per wrap call, and every call costs a slice, two NIO buffer views
 * and an {@link SSLEngineResult}: profiled at 15.9 MB of heap allocated per GiB sent. BoringSSL's engine (outside its
 * JDK compatibility mode, which is how SslHandler creates it) takes any length in one call and cuts the records
 * itself. This handler therefore wraps a whole message per call, typically a 1 MiB chunk, straight from its pooled
 * direct buffer into one pooled direct buffer. Messages under {@value #COALESCE_BELOW} bytes are copied together
 * first, so that a burst of small frames shares records.
 *
 * <p>Reads are held until the end of a burst of them (Netty's read complete event), at most {@value #BATCH_BYTES}
 * bytes, and decrypted together in one engine call: one call, with the {@link SSLEngineResult} it allocates, per
 * 64 KiB socket read was most of the heap an agent allocated while receiving. When the pipeline has a
 * {@link FrameDecoder}, the decoder draws the plaintext ({@link InboundTransform}) straight into its cumulation,
 * sized for the frame being assembled: payload is then written once between the socket buffer and the frame, where
 * decrypting into a buffer of its own and copying that into the cumulation wrote it twice. The rest of a large frame
 * is drawn once the reads held can complete it ({@link #canComplete}), so that a frame arriving over several bursts
 * still takes one engine call. Without a decoder, the plaintext goes on in buffers of its own.
 *
 * <p>Life cycle: added right after the TLS handler when a channel is set up, it passes everything through until the
 * handshake succeeds. It then takes over in a task of its own, never in the middle of SslHandler's decoding: it
 * lets SslHandler flush what it holds, keeps a reference to the engine, and removes SslHandler, which hands on any
 * ciphertext it had read but not decrypted. With the JDK provider (one record per call, by the SSLEngine contract)
 * it steps aside and SslHandler stays.
 *
 * <p>"Engine call" below means one call of BoringSSL for a whole batch: where {@link DirectRecords} can be had, the
 * layer makes BoringSSL's {@code SSL_write} and {@code SSL_read} calls itself, without the {@link SSLEngineResult}
 * each call of the engine's API allocates; the engine's API stays for what the engine sends itself (alerts,
 * close_notify) and wherever the direct calls cannot be made.
 *
 * <p>Write promises complete when the ciphertext of their message has been written to the socket, as with
 * SslHandler. A decryption failure is passed on as a {@link DecoderException} whose cause is the
 * {@link SSLException}, after which the engine's alert is sent and the channel closed. A close sends close_notify
 * first, waiting at most {@value #CLOSE_NOTIFY_TIMEOUT_MS} ms for it to be written.
 */
public final class TlsRecordLayer extends ChannelDuplexHandler implements InboundTransform
{
    /** Name of this handler in the pipelines of agent and client. */
    public static final String NAME = "tls-records";

    /** Largest plaintext of one TLS record. */
    static final int MAX_PLAINTEXT = 16 * 1024;

    /** Most a TLS 1.3 record adds to its plaintext: the 5-byte header and at most 256 bytes of expansion. */
    static final int RECORD_OVERHEAD = 5 + 256;

    /** Messages shorter than this are copied into the staging buffer instead of being wrapped on their own. */
    static final int COALESCE_BELOW = 8 * 1024;

    /** Plaintext of small messages gathered before one wrap. */
    static final int STAGING_BYTES = 64 * 1024;

    static final long CLOSE_NOTIFY_TIMEOUT_MS = 3_000;

    private static final ByteBuffer EMPTY = ByteBuffer.allocateDirect(0);
    private static final ByteBuffer[] NO_INPUT = {EMPTY};

    /**
     * Ciphertext held after which it is decrypted whatever the frame decoder still waits for: room for the records
     * of a whole 1 MiB DATA frame and the start of the next, so that such a frame takes one engine call. The frame
     * decoder stops drawing while reading is paused, so this does not bound what a paused connection still
     * delivers: {@link FrameDecoder#MAX_SPILL} does.
     */
    static final int BATCH_BYTES = 1280 * 1024;

    /** Reads held before a burst is decrypted early (the array grows while a paused decoder leaves them held). */
    static final int HELD_READS = 64;

    /** Engine calls in one {@link #transfer} at most, when the engine stops short of the output's end. */
    private static final int MAX_UNWRAPS = 16;

    /** Records wrapped in one engine call at most: 4 MiB of plaintext. */
    static final int REPEATS = 256;

    /** One source buffer, repeated: see {@link #encrypt(ByteBuffer, ByteBuf)}. */
    private final ByteBuffer[] repeated = new ByteBuffer[REPEATS];

    /** The frame decoder this layer decrypts into, when the pipeline has one. */
    private FrameDecoder decoder;
    private ChannelHandlerContext context;
    private boolean takeOverScheduled;
    private boolean active;
    private boolean removingTls;
    private ReferenceCountedOpenSslEngine engine;
    /** BoringSSL's record calls made directly, without an {@link SSLEngineResult} each; null: the engine's API. */
    private DirectRecords direct;
    /** Plaintext of small messages written since the last wrap. */
    private ByteBuf staging;
    /** The first non-void promise of the staged messages, and any later ones (rare). */
    private ChannelPromise stagedPromise;
    private List<ChannelPromise> stagedMorePromises;
    /**
     * Reads not decrypted yet, in order, with the engine's views of them: held until the end of a burst of reads
     * (or {@link #BATCH_BYTES}), then decrypted in one engine call instead of one call per read.
     */
    private ByteBuf[] held = new ByteBuf[HELD_READS];
    private ByteBuffer[] heldNio = new ByteBuffer[HELD_READS];
    private int heldCount;
    private long heldBytes;
    private boolean redrawScheduled;
    /**
     * Whether reading was paused when the frame decoder last drew: it then stopped, and what it left is offered
     * again when reading resumes. Reads held otherwise (a large frame's rest still coming) wait for the next read.
     */
    private boolean drawPaused;
    /** Unwrap calls so far, direct or through the engine (read by tests, on the event loop). */
    private long unwraps;
    /** Calls of the engine's wrap and unwrap so far, each with its {@link SSLEngineResult} (read by tests). */
    private long engineCalls;
    /** Whether the last {@link #transfer} filled its output and the engine may hold more plaintext. */
    private boolean outputWaiting;
    private final ByteBuffer[] dst = new ByteBuffer[1];
    private boolean inboundDone;
    private boolean outboundDone;
    private boolean closeForwarded;

    /** @return the unwrap calls made since the takeover; on the event loop. */
    long unwraps()
    {
        return unwraps;
    }

    /** @return the calls of the engine's own wrap and unwrap since the takeover; on the event loop. */
    long engineCalls()
    {
        return engineCalls;
    }

    /** @return whether application data goes through {@link DirectRecords}; on the event loop. */
    boolean isDirect()
    {
        return direct != null;
    }

    /** @return whether this handler has taken the connection's records over from SslHandler. */
    public boolean isActive()
    {
        return active;
    }

    @Override
    public void userEventTriggered(final ChannelHandlerContext ctx, final Object evt) throws Exception
    {
        if (evt instanceof SslHandshakeCompletionEvent completion && completion.isSuccess() && !takeOverScheduled)
        {
            takeOverScheduled = true;
            ctx.executor().execute(() -> takeOver(ctx));
        }
        else if (evt instanceof SslCloseCompletionEvent && removingTls)
        {
            // SslHandler reports its own removal as a failed close; the connection goes on
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    private void takeOver(final ChannelHandlerContext ctx)
    {
        if (ctx.isRemoved() || !ctx.channel().isActive())
        {
            return;
        }
        final ChannelPipeline pipeline = ctx.pipeline();
        final ChannelHandlerContext tlsContext = pipeline.context(SslHandler.class);
        if (tlsContext == null)
        {
            return;
        }
        final SSLEngine candidate = ((SslHandler)tlsContext.handler()).engine();
        if (!(candidate instanceof ReferenceCountedOpenSslEngine openSsl))
        {
            pipeline.remove(this);
            return;
        }
        // anything SslHandler still holds goes out under its records, before any of ours
        ctx.flush();
        openSsl.retain();
        engine = openSsl;
        direct = DirectRecords.of(openSsl);
        context = ctx;
        staging = ctx.alloc().directBuffer(STAGING_BYTES);
        active = true;
        decoder = pipeline.get(FrameDecoder.class);
        if (decoder != null)
        {
            // from now on the decoder draws plaintext from this layer into its cumulation
            decoder.inboundTransform(this);
        }
        removingTls = true;
        try
        {
            // SslHandler releases its reference to the engine, and hands on ciphertext it read but did not decrypt
            pipeline.remove(tlsContext.handler());
        }
        finally
        {
            removingTls = false;
        }
    }

    // ---------------------------------------------------------------------------------------------- outbound

    @Override
    public void write(final ChannelHandlerContext ctx, final Object msg, final ChannelPromise promise)
    {
        if (!active)
        {
            ctx.write(msg, promise);
            return;
        }
        if (!(msg instanceof ByteBuf buffer))
        {
            ReferenceCountUtil.release(msg);
            promise.setFailure(new UnsupportedMessageTypeException(msg, ByteBuf.class));
            return;
        }
        if (outboundDone)
        {
            buffer.release();
            promise.setFailure(new ClosedChannelException());
            return;
        }
        try
        {
            final int length = buffer.readableBytes();
            if (length < COALESCE_BELOW)
            {
                if (staging.writableBytes() < length)
                {
                    sealStaging(ctx);
                }
                staging.writeBytes(buffer);
                stage(promise);
                return;
            }
            writeLarge(ctx, buffer, promise);
        }
        catch (final SSLException ex)
        {
            promise.tryFailure(ex);
            outboundFailed(ctx, ex);
        }
        finally
        {
            buffer.release();
        }
    }

    @Override
    public void flush(final ChannelHandlerContext ctx)
    {
        if (active && !outboundDone)
        {
            try
            {
                sealStaging(ctx);
            }
            catch (final SSLException ex)
            {
                outboundFailed(ctx, ex);
                return;
            }
        }
        ctx.flush();
    }

    private void stage(final ChannelPromise promise)
    {
        if (promise.isVoid())
        {
            return;
        }
        if (stagedPromise == null)
        {
            stagedPromise = promise;
        }
        else
        {
            if (stagedMorePromises == null)
            {
                stagedMorePromises = new ArrayList<>();
            }
            stagedMorePromises.add(promise);
        }
    }

    /** Encrypt what is staged (if anything) and write it. */
    private void sealStaging(final ChannelHandlerContext ctx) throws SSLException
    {
        if (staging.isReadable())
        {
            final ByteBuf out = ctx.alloc().directBuffer(capacityFor(staging.readableBytes(), 1));
            try
            {
                encrypt(ctx, staging, out);
            }
            catch (final SSLException ex)
            {
                out.release();
                throw ex;
            }
            staging.clear();
            writeWithStaged(ctx, out, ctx.voidPromise());
        }
        else if (stagedPromise != null)
        {
            // only empty messages were staged: their promises complete in order with the writes before them
            writeWithStaged(ctx, Unpooled.EMPTY_BUFFER, ctx.voidPromise());
        }
    }

    /**
     * Encrypt what is staged and {@code buffer} into one output buffer: in one engine call where {@code buffer} is
     * one direct piece (the staged records first, then its own), otherwise one for each.
     */
    private void writeLarge(final ChannelHandlerContext ctx, final ByteBuf buffer, final ChannelPromise promise)
        throws SSLException
    {
        final int staged = staging.readableBytes();
        final int length = buffer.readableBytes();
        final ByteBuf out = ctx.alloc().directBuffer(capacityFor(staged + length, 2));
        try
        {
            if (staged > 0 && buffer.isDirect() && buffer.nioBufferCount() == 1)
            {
                encrypt(staging.internalNioBuffer(staging.readerIndex(), staged),
                    buffer.internalNioBuffer(buffer.readerIndex(), length), out);
                staging.clear();
                buffer.skipBytes(length);
            }
            else
            {
                if (staged > 0)
                {
                    encrypt(ctx, staging, out);
                    staging.clear();
                }
                encrypt(ctx, buffer, out);
            }
        }
        catch (final SSLException ex)
        {
            out.release();
            throw ex;
        }
        writeWithStaged(ctx, out, promise);
    }

    /** Output capacity for {@code plaintext} bytes wrapped in {@code calls} engine calls. */
    static int capacityFor(final int plaintext, final int calls)
    {
        final long records = plaintext / MAX_PLAINTEXT + calls + 1;
        return (int)Math.min(Integer.MAX_VALUE - 8, plaintext + records * RECORD_OVERHEAD);
    }

    /** Write {@code out}; its completion completes the staged messages' promises, then {@code promise}. */
    private void writeWithStaged(final ChannelHandlerContext ctx, final ByteBuf out, final ChannelPromise promise)
    {
        final ChannelPromise first = stagedPromise;
        final List<ChannelPromise> more = stagedMorePromises;
        stagedPromise = null;
        stagedMorePromises = null;
        if (first == null)
        {
            ctx.write(out, promise);
        }
        else if (more == null && promise.isVoid())
        {
            ctx.write(out, first);
        }
        else
        {
            final List<ChannelPromise> all = new ArrayList<>(2 + (more == null ? 0 : more.size()));
            all.add(first);
            if (more != null)
            {
                all.addAll(more);
            }
            if (!promise.isVoid())
            {
                all.add(promise);
            }
            ctx.write(out).addListener(new CompleteAll(all));
        }
    }

    /** Wrap everything readable in {@code src} into {@code out}. */
    private void encrypt(final ChannelHandlerContext ctx, final ByteBuf src, final ByteBuf out) throws SSLException
    {
        final int length = src.readableBytes();
        if (!src.isDirect())
        {
            // the engine would copy a heap buffer's whole remainder for every record it cuts from it
            final ByteBuf direct = ctx.alloc().directBuffer(length);
            try
            {
                direct.writeBytes(src, src.readerIndex(), length);
                encrypt(ctx, direct, out);
            }
            finally
            {
                direct.release();
            }
        }
        else if (src.nioBufferCount() == 1)
        {
            encrypt(src.internalNioBuffer(src.readerIndex(), length), out);
        }
        else
        {
            // one part at a time: given several buffers, the engine moves to the next after one record of each
            for (final ByteBuffer part : src.nioBuffers())
            {
                encrypt(part, out);
            }
        }
        src.skipBytes(length);
    }

    /**
     * Wrap everything remaining in {@code src} into {@code out}, growing {@code out} if the engine asks. BoringSSL
     * writes one record per SSL_write (partial writes are on) and the engine makes one SSL_write per source buffer,
     * moving to the next whatever is left in this one: so the same buffer is given once per record it holds, and
     * each of the engine's SSL_writes takes the next record from where the last one stopped.
     */
    private void encrypt(final ByteBuffer src, final ByteBuf out) throws SSLException
    {
        encrypt(EMPTY, src, out);
    }

    /**
     * Wrap everything remaining in {@code first} and then in {@code src} into {@code out}, in as few engine calls as
     * {@link #REPEATS} allows: each buffer is given once per record it holds, {@code first}'s before {@code src}'s,
     * so the records are the same as with a call for each, and one engine call (and one result) is saved.
     */
    private void encrypt(final ByteBuffer first, final ByteBuffer src, final ByteBuf out) throws SSLException
    {
        if (direct != null && writeDirect(first, out) && writeDirect(src, out))
        {
            return;
        }
        // the engine's API: for what the direct calls left, after what the engine has to send first
        while (first.hasRemaining() || src.hasRemaining())
        {
            final int firstRecords = Math.min(REPEATS, records(first.remaining()));
            final int records = firstRecords + Math.min(REPEATS - firstRecords, records(src.remaining()));
            Arrays.fill(repeated, 0, firstRecords, first);
            Arrays.fill(repeated, firstRecords, records, src);
            final int srcBefore = src.position();
            final SSLEngineResult result;
            try
            {
                engineCalls++;
                result = engine.wrap(repeated, 0, records, out.internalNioBuffer(out.writerIndex(),
                    out.writableBytes()));
            }
            finally
            {
                Arrays.fill(repeated, 0, records, null);
            }
            out.writerIndex(out.writerIndex() + result.bytesProduced());
            if (first.hasRemaining() && src.position() != srcBefore)
            {
                // an engine whose records are shorter than MAX_PLAINTEXT would have gone on to src with first
                // unfinished: the bytes would be out of order, so nothing more goes out
                throw new SSLException("TLS engine wrote records shorter than " + MAX_PLAINTEXT + " bytes");
            }
            switch (result.getStatus())
            {
                case OK ->
                {
                    if (result.bytesConsumed() == 0 && result.bytesProduced() == 0)
                    {
                        throw new SSLException("TLS engine made no progress wrapping " +
                            (first.remaining() + src.remaining()) + " bytes (" + result + ")");
                    }
                }
                case BUFFER_OVERFLOW -> out.ensureWritable(capacityFor(first.remaining() + src.remaining(), 2));
                case CLOSED -> throw new SSLException("TLS engine closed for writing");
                default -> throw new SSLException("unexpected TLS wrap result " + result);
            }
        }
    }

    /**
     * Wrap everything remaining in {@code src} into {@code out} with {@link DirectRecords}, growing {@code out} so
     * that a whole record always fits.
     *
     * @return false when the engine has records of its own to send first: {@code src} keeps what is left of it.
     */
    private boolean writeDirect(final ByteBuffer src, final ByteBuf out) throws SSLException
    {
        int stalls = 0;
        while (src.hasRemaining())
        {
            if (out.writableBytes() < Math.min(src.remaining(), MAX_PLAINTEXT) + 2 * RECORD_OVERHEAD ||
                !out.hasMemoryAddress())
            {
                out.ensureWritable(capacityFor(src.remaining(), 1));
                if (!out.hasMemoryAddress())
                {
                    return false;
                }
            }
            if (!direct.write(PlatformDependent.directBufferAddress(src) + src.position(), src.remaining(),
                out.memoryAddress() + out.writerIndex(), out.writableBytes(), RECORD_OVERHEAD))
            {
                return false;
            }
            out.writerIndex(out.writerIndex() + direct.produced);
            src.position(src.position() + direct.consumed);
            // what BoringSSL had to send first (session tickets) may fill the output before any of src is taken: the
            // output grows above and the call is made again; calls that neither take nor give are a fault
            if (direct.consumed == 0 && direct.produced == 0 && ++stalls > 2)
            {
                throw new SSLException("TLS engine made no progress wrapping " + src.remaining() + " bytes into " +
                    out.writableBytes() + " bytes of room");
            }
        }
        return true;
    }

    private static int records(final int bytes)
    {
        return (bytes + MAX_PLAINTEXT - 1) / MAX_PLAINTEXT;
    }

    /** Write what the engine has to send besides application data: an alert, close_notify, a key update. */
    private void wrapNonApplication(final ChannelHandlerContext ctx) throws SSLException
    {
        final ByteBuf out = ctx.alloc().directBuffer(4 * RECORD_OVERHEAD);
        try
        {
            for (int i = 0; i < 16; i++)
            {
                if (out.writableBytes() < 2 * RECORD_OVERHEAD)
                {
                    out.ensureWritable(4 * RECORD_OVERHEAD);
                }
                engineCalls++;
                final SSLEngineResult result =
                    engine.wrap(EMPTY, out.internalNioBuffer(out.writerIndex(), out.writableBytes()));
                out.writerIndex(out.writerIndex() + result.bytesProduced());
                if (result.bytesProduced() == 0 && result.getStatus() != SSLEngineResult.Status.BUFFER_OVERFLOW)
                {
                    break;
                }
            }
        }
        catch (final SSLException ex)
        {
            // the engine reports a failure it met reading once it has given out the alert that tells the peer
            if (out.isReadable())
            {
                ctx.writeAndFlush(out);
            }
            else
            {
                out.release();
            }
            throw ex;
        }
        if (out.isReadable())
        {
            ctx.writeAndFlush(out);
        }
        else
        {
            out.release();
        }
    }

    private void outboundFailed(final ChannelHandlerContext ctx, final SSLException cause)
    {
        failStaged(cause);
        staging.clear();
        outboundDone = true;
        ctx.fireExceptionCaught(cause);
        ctx.close();
    }

    private void failStaged(final Throwable cause)
    {
        final ChannelPromise first = stagedPromise;
        final List<ChannelPromise> more = stagedMorePromises;
        stagedPromise = null;
        stagedMorePromises = null;
        if (first != null)
        {
            first.tryFailure(cause);
        }
        if (more != null)
        {
            for (final ChannelPromise promise : more)
            {
                promise.tryFailure(cause);
            }
        }
    }

    @Override
    public void close(final ChannelHandlerContext ctx, final ChannelPromise promise)
    {
        if (!active || outboundDone || !ctx.channel().isActive())
        {
            ctx.close(promise);
            return;
        }
        outboundDone = true;
        try
        {
            sealStaging(ctx);
            engine.closeOutbound();
            wrapNonApplication(ctx);
        }
        catch (final SSLException ex)
        {
            failStaged(ex);
            ctx.close(promise);
            return;
        }
        // close once close_notify is out, or after a timeout when the peer reads nothing more
        final ChannelFuture notified = ctx.writeAndFlush(Unpooled.EMPTY_BUFFER);
        notified.addListener(f -> forwardClose(ctx, promise));
        ctx.executor().schedule(() -> forwardClose(ctx, promise), CLOSE_NOTIFY_TIMEOUT_MS, TimeUnit.MILLISECONDS);
    }

    private void forwardClose(final ChannelHandlerContext ctx, final ChannelPromise promise)
    {
        if (!closeForwarded)
        {
            closeForwarded = true;
            ctx.close(promise);
        }
    }

    // ----------------------------------------------------------------------------------------------- inbound

    @Override
    public void channelRead(final ChannelHandlerContext ctx, final Object msg)
    {
        if (!active || !(msg instanceof ByteBuf input))
        {
            ctx.fireChannelRead(msg);
            return;
        }
        if (inboundDone)
        {
            input.release();
            return;
        }
        ByteBuf src = input;
        if (!input.isDirect() || input.nioBufferCount() != 1)
        {
            // what SslHandler hands on at the takeover may be a composite; the engine wants direct buffers
            src = ctx.alloc().directBuffer(input.readableBytes()).writeBytes(input);
            input.release();
        }
        if (!src.isReadable())
        {
            src.release();
            return;
        }
        if (heldCount == held.length)
        {
            decryptHeld(ctx);
            if (!active || inboundDone)
            {
                src.release();
                return;
            }
        }
        if (heldCount == held.length)
        {
            // a paused decoder drew nothing: reading stops soon after a pause, except when the peer closes, as
            // Netty then reads to the end of the stream (what the kernel buffered), all of it drawn at the close
            held = Arrays.copyOf(held, 2 * held.length);
            heldNio = Arrays.copyOf(heldNio, 2 * heldNio.length);
        }
        held[heldCount] = src;
        heldNio[heldCount] = src.internalNioBuffer(src.readerIndex(), src.readableBytes());
        heldCount++;
        heldBytes += src.readableBytes();
        if (heldBytes >= BATCH_BYTES)
        {
            decryptHeld(ctx);
        }
    }

    /**
     * Reading resumes (or goes on): what the frame decoder left undrawn while reading was paused is offered again,
     * in a task of its own, since this runs inside whatever turned auto-read back on.
     */
    @Override
    public void read(final ChannelHandlerContext ctx)
    {
        if (active && decoder != null && drawPaused && (heldCount > 0 || outputWaiting) && !redrawScheduled)
        {
            drawPaused = false;
            redrawScheduled = true;
            ctx.executor().execute(() ->
            {
                redrawScheduled = false;
                if (active && (heldCount > 0 || outputWaiting) && !inboundDone)
                {
                    if (ctx.channel().config().isAutoRead())
                    {
                        decryptHeld(ctx);
                        ctx.fireChannelReadComplete();
                    }
                    else
                    {
                        // paused again meanwhile: the next resume offers it
                        drawPaused = true;
                    }
                }
            });
        }
        ctx.read();
    }

    @Override
    public void channelReadComplete(final ChannelHandlerContext ctx)
    {
        if (heldCount > 0 || outputWaiting)
        {
            decryptHeld(ctx);
        }
        ctx.fireChannelReadComplete();
    }

    /**
     * Decrypt the reads held so far: the frame decoder draws their plaintext ({@link #transfer}) when it is told
     * there is some; without one, it goes on in buffers of this layer's.
     */
    private void decryptHeld(final ChannelHandlerContext ctx)
    {
        if (decoder != null)
        {
            ctx.fireChannelRead(Unpooled.EMPTY_BUFFER);
            drawPaused = !ctx.channel().config().isAutoRead();
            return;
        }
        try
        {
            boolean more;
            do
            {
                final ByteBuf plain = ctx.alloc().directBuffer((int)Math.min(heldBytes + MAX_PLAINTEXT, BATCH_BYTES +
                    MAX_PLAINTEXT));
                try
                {
                    more = transfer(plain, plain.writableBytes());
                }
                catch (final RuntimeException ex)
                {
                    plain.release();
                    throw ex;
                }
                if (plain.isReadable())
                {
                    ctx.fireChannelRead(plain);
                }
                else
                {
                    plain.release();
                }
            }
            while (more && active && !inboundDone);
        }
        catch (final DecoderException ex)
        {
            // the alert is sent and the channel closing; the handlers further on learn why
            ctx.fireExceptionCaught(ex);
        }
    }

    /**
     * Decrypt what the held reads bring, and any plaintext the engine kept from them, into {@code out}: the frame
     * decoder's cumulation ({@link InboundTransform}), or a buffer of {@link #decryptHeld}'s. One engine call takes
     * all the reads held (it keeps a record cut short by the last itself) until {@code limit} bytes are out. On the
     * event loop. A failure sends the alert, closes the channel and is thrown as a {@link DecoderException}.
     *
     * @return true when {@code out} was filled to {@code limit} and more may come from what is held.
     */
    @Override
    public boolean transfer(final ByteBuf out, final int limit)
    {
        outputWaiting = unwrapHeld(out, limit);
        return outputWaiting;
    }

    /**
     * No only when the held reads and what the engine may keep from earlier ones are too short to bring
     * {@code bytes} of plaintext, while the connection is open and fewer than {@value #BATCH_BYTES} bytes or
     * {@value #HELD_READS} reads are held: the frame decoder then waits for more reads instead of taking a large
     * frame's rest in one engine call (and one {@link SSLEngineResult}) per burst of reads. The engine keeps at most
     * one record: the part of one that a read cut short, or, after it filled the output, the plaintext of the record
     * it was reading out.
     */
    @Override
    public boolean canComplete(final int bytes)
    {
        return heldBytes + MAX_PLAINTEXT + RECORD_OVERHEAD >= bytes || heldBytes >= BATCH_BYTES ||
            heldCount >= HELD_READS || !active || inboundDone || !context.channel().isActive();
    }

    private boolean unwrapHeld(final ByteBuf out, final int limit)
    {
        if (inboundDone || !active)
        {
            releaseHeld();
            return false;
        }
        try
        {
            int room = limit;
            for (int call = 1; ; call++)
            {
                final ByteBuffer[] srcs = heldCount > 0 ? heldNio : NO_INPUT;
                if (direct != null && out.hasMemoryAddress())
                {
                    final boolean more = readDirect(srcs, out, room);
                    room -= direct.produced;
                    if (direct.closed)
                    {
                        closeNotifyReceived();
                        return false;
                    }
                    if (more)
                    {
                        return true;
                    }
                    if (room == 0 || heldCount == 0 ||
                        direct.consumed == 0 && direct.produced == 0 && !direct.blocked)
                    {
                        return false;
                    }
                    if (call == MAX_UNWRAPS)
                    {
                        return true;
                    }
                    continue;
                }
                dst[0] = out.internalNioBuffer(out.writerIndex(), room);
                final SSLEngineResult result;
                try
                {
                    unwraps++;
                    engineCalls++;
                    result = engine.unwrap(srcs, 0, Math.max(1, heldCount), dst, 0, 1);
                }
                finally
                {
                    dst[0] = null;
                }
                out.writerIndex(out.writerIndex() + result.bytesProduced());
                room -= result.bytesProduced();
                dropConsumed();
                afterUnwrap(result);
                switch (result.getStatus())
                {
                    case CLOSED ->
                    {
                        closeNotifyReceived();
                        return false;
                    }
                    case BUFFER_OVERFLOW ->
                    {
                        if (result.bytesProduced() == 0)
                        {
                            // an engine that wants a whole record of room (JDK compatibility mode) would have the
                            // decoder ask again and again; the engines taken over never do
                            throw new SSLException("the TLS engine produced nothing into " + room +
                                " bytes of room");
                        }
                        return true;
                    }
                    case BUFFER_UNDERFLOW ->
                    {
                        return false;
                    }
                    case OK ->
                    {
                        // the engine stops when the output is full, and otherwise takes every read held (keeping
                        // a record cut short itself), unless it stopped at a handshake message (a key update):
                        // then it goes on while it gets anywhere
                        if (room == 0)
                        {
                            return true;
                        }
                        if (heldCount == 0 || result.bytesConsumed() == 0 && result.bytesProduced() == 0)
                        {
                            return false;
                        }
                        if (call == MAX_UNWRAPS)
                        {
                            return true;
                        }
                    }
                    default -> throw new SSLException("unexpected TLS unwrap result " + result);
                }
            }
        }
        catch (final SSLException ex)
        {
            releaseHeld();
            sendAlertAndClose(context, ex);
            context.close();
            throw new DecoderException(ex);
        }
    }

    /**
     * One {@link DirectRecords#read} of the held reads into {@code out}, whose writer index moves past what it
     * produced; the reads it took whole are released, and the engine's own records (a key update's answer) sent.
     * After a failure, the alert BoringSSL queued is sent before the exception goes on.
     *
     * @return true when {@code room} was filled and more plaintext may follow.
     */
    private boolean readDirect(final ByteBuffer[] srcs, final ByteBuf out, final int room) throws SSLException
    {
        unwraps++;
        final boolean more;
        try
        {
            more = direct.read(srcs, Math.max(1, heldCount), out.memoryAddress() + out.writerIndex(), room);
        }
        catch (final SSLException ex)
        {
            if (direct.needWrap)
            {
                try
                {
                    wrapNonApplication(context);
                }
                catch (final SSLException alsoFailed)
                {
                    ex.addSuppressed(alsoFailed);
                }
            }
            throw ex;
        }
        out.writerIndex(out.writerIndex() + direct.produced);
        dropConsumed();
        if (direct.needWrap && !direct.closed)
        {
            wrapNonApplication(context);
        }
        return more;
    }

    /** Releases the held reads the engine took whole, keeping the rest in order at the front. */
    private void dropConsumed()
    {
        int kept = 0;
        long bytes = 0;
        for (int i = 0; i < heldCount; i++)
        {
            final ByteBuffer nio = heldNio[i];
            if (nio.hasRemaining())
            {
                held[kept] = held[i];
                heldNio[kept] = nio;
                bytes += nio.remaining();
                kept++;
            }
            else
            {
                held[i].release();
            }
        }
        for (int i = kept; i < heldCount; i++)
        {
            held[i] = null;
            heldNio[i] = null;
        }
        heldCount = kept;
        heldBytes = bytes;
    }

    private void releaseHeld()
    {
        for (int i = 0; i < heldCount; i++)
        {
            held[i].release();
            held[i] = null;
            heldNio[i] = null;
        }
        heldCount = 0;
        heldBytes = 0;
    }

    private void closeNotifyReceived()
    {
        // close_notify: nothing after it counts; the peer closes the connection next
        inboundDone = true;
        releaseHeld();
        final ChannelHandlerContext ctx = context;
        ctx.executor().execute(() -> ctx.fireUserEventTriggered(SslCloseCompletionEvent.SUCCESS));
    }

    private void afterUnwrap(final SSLEngineResult result) throws SSLException
    {
        switch (result.getHandshakeStatus())
        {
            case NEED_WRAP -> wrapNonApplication(context);
            case NEED_TASK -> runDelegatedTasks();
            default ->
            {
            }
        }
    }

    private void runDelegatedTasks()
    {
        for (Runnable task = engine.getDelegatedTask(); task != null; task = engine.getDelegatedTask())
        {
            task.run();
        }
    }

    /** After a decryption failure: no more input, and the alert the engine queued goes to the peer. */
    private void sendAlertAndClose(final ChannelHandlerContext ctx, final SSLException cause)
    {
        inboundDone = true;
        if (!outboundDone)
        {
            outboundDone = true;
            failStaged(cause);
            staging.clear();
            try
            {
                engine.closeOutbound();
                wrapNonApplication(ctx);
            }
            catch (final SSLException ignore)
            {
                // the engine is done; the close still happens
            }
        }
    }

    @Override
    public void channelInactive(final ChannelHandlerContext ctx)
    {
        if (active)
        {
            if ((heldCount > 0 || outputWaiting) && !inboundDone)
            {
                // what arrived before the close counts, paused or not (the decoder draws it all now)
                decryptHeld(ctx);
            }
            inboundDone = true;
            outboundDone = true;
            failStaged(new ClosedChannelException());
            releaseHeld();
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void handlerRemoved(final ChannelHandlerContext ctx)
    {
        if (active)
        {
            failStaged(new ClosedChannelException());
            releaseHeld();
            if (staging != null)
            {
                staging.release();
                staging = null;
            }
            if (decoder != null)
            {
                decoder.inboundTransform(null);
                decoder = null;
            }
            ReferenceCountUtil.release(engine);
            engine = null;
            direct = null;
            active = false;
        }
    }

    /** Completes the promises of several messages that went out in one buffer, in order. */
    private static final class CompleteAll implements ChannelFutureListener
    {
        private final List<ChannelPromise> promises;

        CompleteAll(final List<ChannelPromise> promises)
        {
            this.promises = promises;
        }

        @Override
        public void operationComplete(final ChannelFuture future)
        {
            for (final ChannelPromise promise : promises)
            {
                if (future.isSuccess())
                {
                    promise.trySuccess();
                }
                else
                {
                    promise.tryFailure(future.cause());
                }
            }
        }
    }
}
