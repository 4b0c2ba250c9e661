package io.xfer.protocol;

import io.netty.buffer.AbstractByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;

import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Turns the leak detector's log lines into test failures. Surefire runs with
 * {@code -Dio.netty.leakDetection.level=paranoid}, so every buffer is tracked, but the detector only logs: this
 * listens to the ByteBuf detector, forces a collection and fails when a leak was reported.
 */
final class LeakDetection
{
    private static final Queue<String> LEAKS = new ConcurrentLinkedQueue<>();

    static
    {
        try
        {
            // The ByteBuf detector is package-private; Netty offers no public hook to reach it after it is created.
            final Field field = AbstractByteBuf.class.getDeclaredField("leakDetector");
            field.setAccessible(true);
            final ResourceLeakDetector<?> detector = (ResourceLeakDetector<?>)field.get(null);
            detector.setLeakListener((resourceType, records) -> LEAKS.add(resourceType + records));
        }
        catch (final ReflectiveOperationException | RuntimeException ex)
        {
            throw new ExceptionInInitializerError("cannot hook the ByteBuf leak detector of this Netty: " + ex);
        }
    }

    private LeakDetection()
    {
    }

    /**
     * Collect garbage, let the detector poll its reference queue and fail on any leak it reported since the last
     * call.
     */
    static void assertNoLeaks()
    {
        assertEquals(ResourceLeakDetector.Level.PARANOID, ResourceLeakDetector.getLevel(),
            "tests must run with -Dio.netty.leakDetection.level=paranoid");
        final ByteBufAllocator heap = new UnpooledByteBufAllocator(false);
        for (int i = 0; i < 3; i++)
        {
            System.gc();
            try
            {
                Thread.sleep(20);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                break;
            }
            // At paranoid level every allocation of a tracked buffer polls the detector's queue and reports.
            ByteBufAllocator.DEFAULT.buffer(1).release();
            heap.buffer(1).release();
        }
        final List<String> leaks = new ArrayList<>();
        String leak;
        while ((leak = LEAKS.poll()) != null)
        {
            leaks.add(leak);
        }
        if (!leaks.isEmpty())
        {
            fail(leaks.size() + " ByteBuf leak(s):\n" + String.join("\n", leaks));
        }
    }
}
