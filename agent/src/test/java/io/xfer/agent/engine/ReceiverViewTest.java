package io.xfer.agent.engine;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The receiver's view of a frame's payload: the frame is a slice of the decoder's cumulation, and the view is taken
 * from the cumulation without leaving the frame's bounds.
 */
class ReceiverViewTest
{
    @Test
    void shouldViewTheFramesBytesAndNeverTheNextFrames()
    {
        final ByteBuf cumulation = PooledByteBufAllocator.DEFAULT.directBuffer(64);
        try
        {
            for (int i = 0; i < 64; i++)
            {
                cumulation.writeByte(i);
            }
            cumulation.readerIndex(10);
            // a frame of 20 bytes at offset 10, followed by the next frame's bytes
            final ByteBuf frame = cumulation.readRetainedSlice(20);
            try
            {
                final ByteBuffer view = Receiver.view(frame, 4, 8);
                assertEquals(8, view.remaining());
                for (int i = 0; i < 8; i++)
                {
                    assertEquals(14 + i, view.get(view.position() + i));
                }
                // the same again: a view is good until the next one of the same buffer
                final ByteBuffer again = Receiver.view(frame, 0, 20);
                assertEquals(20, again.remaining());
                assertEquals(10, again.get(again.position()));
                assertEquals(29, again.get(again.position() + 19));
                assertThrows(IndexOutOfBoundsException.class, () -> Receiver.view(frame, 4, 17),
                    "past the frame's end, into the next frame");
                assertThrows(IndexOutOfBoundsException.class, () -> Receiver.view(frame, -1, 4));
            }
            finally
            {
                frame.release();
            }
        }
        finally
        {
            cumulation.release();
        }
    }

    @Test
    void shouldViewABufferOfItsOwn()
    {
        final ByteBuf heap = Unpooled.wrappedBuffer(new byte[] {1, 2, 3, 4, 5});
        final ByteBuffer view = Receiver.view(heap, 1, 3);
        assertEquals(3, view.remaining());
        assertEquals(2, view.get(view.position()));
        assertEquals(4, view.get(view.position() + 2));
    }
}
