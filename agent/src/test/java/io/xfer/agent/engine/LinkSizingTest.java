package io.xfer.agent.engine;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Window and socket buffer sizes for a link's bandwidth-delay product, on links of the corridor's kind: a few tens
 * of milliseconds of round trip at 1 to 10 Gbit/s.
 */
class LinkSizingTest
{
    private static final int CHUNK = 1 << 20;
    private static final long WINDOW = 16L << 20;
    private static final long AUTOTUNE = 4L << 20;
    private static final long GBIT = 125_000_000L;
    private static final long MS = 1_000_000L;

    @Test
    void aGigabitAtThirtyMillisecondsFitsTheDefaultsAndLeavesBuffersToTheKernel()
    {
        final LinkSizing link = LinkSizing.of(GBIT, 30 * MS, 4, CHUNK, WINDOW, WINDOW, true, 0, AUTOTUNE, -1);

        assertEquals(3_750_000, link.bdpBytes());
        assertEquals(WINDOW, link.windowBytes(), "the requested window is larger than needed: kept");
        assertEquals(0, link.socketBufferBytes(), "2 x 937,500 bytes per stream is within autotuning's 4 MiB");
        assertTrue(link.advice().isEmpty(), link.advice()::toString);
    }

    @Test
    void tenGigabitsNeedExplicitBuffersBeyondAutotuning()
    {
        final LinkSizing link = LinkSizing.of(10 * GBIT, 30 * MS, 4, CHUNK, WINDOW, WINDOW, true, 0, AUTOTUNE, -1);

        assertEquals(37_500_000, link.bdpBytes());
        assertEquals(2 * 9_375_000, link.socketBufferBytes(), "twice each stream's share of the product");
        assertEquals(WINDOW, link.windowBytes(), "9.4 MB per stream plus a chunk fits in 16 MiB");
        assertTrue(link.advice().isEmpty(), link.advice()::toString);
    }

    @Test
    void aSmallRequestedWindowIsRaisedToTheProductWithinTheAgentsGrant()
    {
        final LinkSizing link = LinkSizing.of(GBIT, 40 * MS, 2, CHUNK, 1L << 20, WINDOW, true, 0, AUTOTUNE, -1);

        assertEquals(5_000_000, link.bdpBytes());
        assertEquals(2_500_000 + CHUNK, link.windowBytes(), "each stream's share plus the chunk being written");
        assertTrue(link.advice().isEmpty(), link.advice()::toString);
    }

    @Test
    void anAgentWindowBelowTheProductIsReportedWithTheStreamsThatWouldFillTheLink()
    {
        final LinkSizing link = LinkSizing.of(10 * GBIT, 100 * MS, 4, CHUNK, WINDOW, WINDOW, true, 0, AUTOTUNE, -1);

        assertEquals(125_000_000, link.bdpBytes());
        assertEquals(WINDOW, link.windowBytes(), "never more than the agent grants");
        assertEquals(1, link.advice().size(), link.advice()::toString);
        final String advice = link.advice().get(0);
        assertTrue(advice.contains("stream_window"), advice);
        // 125,000,000 bytes over 15 MiB of chunks in flight per stream
        assertTrue(advice.contains("--streams 8"), advice);
    }

    @Test
    void pullingUsesTheAgentsWindowWhateverThisSideAsks()
    {
        final LinkSizing link = LinkSizing.of(GBIT, 30 * MS, 4, CHUNK, 64L << 20, 8L << 20, false, 0, AUTOTUNE, -1);

        assertEquals(8L << 20, link.windowBytes());
        assertTrue(link.advice().isEmpty(), link.advice()::toString);
    }

    @Test
    void aSocketBufferTheUserSetIsKeptAndReportedWhenTooSmall()
    {
        final LinkSizing link = LinkSizing.of(10 * GBIT, 30 * MS, 4, CHUNK, WINDOW, WINDOW,
            true, 1 << 20, AUTOTUNE, -1);

        assertEquals(1 << 20, link.socketBufferBytes());
        assertEquals(1, link.advice().size(), link.advice()::toString);
        assertTrue(link.advice().get(0).startsWith("--socket-buffer"), link.advice().get(0));
    }

    @Test
    void buffersAreCappedAndMoreStreamsAdvisedOnAnExtremeLink()
    {
        final LinkSizing link = LinkSizing.of(100 * GBIT, 200 * MS, 2, CHUNK, WINDOW, 4L << 30, true, 0, AUTOTUNE, -1);

        assertEquals(2_500_000_000L, link.bdpBytes());
        assertEquals(LinkSizing.MAX_SOCKET_BUFFER_BYTES, link.socketBufferBytes());
        assertEquals(1, link.advice().size(), link.advice()::toString);
        // 2 x 2.5 GB over 256 MiB buffers
        assertTrue(link.advice().get(0).contains("--streams 19"), link.advice().get(0));
    }

    @Test
    void anUnknownAutotuningLimitIsTakenAsLinuxsDefault()
    {
        final LinkSizing unknown = LinkSizing.of(GBIT, 30 * MS, 1, CHUNK, WINDOW, WINDOW, true, 0, -1, -1);
        final LinkSizing tuned = LinkSizing.of(GBIT, 30 * MS, 1, CHUNK, WINDOW, WINDOW, true, 0, 16L << 20, -1);

        assertEquals(7_500_000, unknown.socketBufferBytes(), "7.5 MB is beyond the 4 MiB assumed: set explicitly");
        assertEquals(0, tuned.socketBufferBytes(), "a kernel whose autotuning reaches 16 MiB is left to it");
    }

    @Test
    void aKernelLimitBelowAutotuningLeavesTheBuffersToAutotuningAndSaysWhatToRaise()
    {
        // stock Linux: net.core.wmem_max = rmem_max = 212,992, so a set size would end at 416 KiB, locked
        final LinkSizing stock = LinkSizing.of(10 * GBIT, 30 * MS, 4, CHUNK, WINDOW, WINDOW, true, 0, AUTOTUNE,
            212_992);
        // raised, but not all the way: still more than autotuning reaches
        final LinkSizing raised = LinkSizing.of(10 * GBIT, 30 * MS, 4, CHUNK, WINDOW, WINDOW, true, 0, AUTOTUNE,
            8L << 20);
        final LinkSizing ample = LinkSizing.of(10 * GBIT, 30 * MS, 4, CHUNK, WINDOW, WINDOW, true, 0, AUTOTUNE,
            64L << 20);

        assertEquals(0, stock.socketBufferBytes());
        assertEquals(1, stock.advice().size(), stock.advice()::toString);
        assertTrue(stock.advice().get(0).contains("net.core.wmem_max=18750000"), stock.advice().get(0));
        assertEquals(18_750_000, raised.socketBufferBytes(), "2 x 8 MiB granted beats autotuning's 4 MiB");
        assertEquals(1, raised.advice().size(), raised.advice()::toString);
        assertEquals(18_750_000, ample.socketBufferBytes());
        assertTrue(ample.advice().isEmpty(), ample.advice()::toString);
    }

    @Test
    void rejectsWhatCannotBeSized()
    {
        assertThrows(IllegalArgumentException.class,
            () -> LinkSizing.of(0, 30 * MS, 4, CHUNK, WINDOW, WINDOW, true, 0, AUTOTUNE, -1));
        assertThrows(IllegalArgumentException.class,
            () -> LinkSizing.of(GBIT, 0, 4, CHUNK, WINDOW, WINDOW, true, 0, AUTOTUNE, -1));
        assertThrows(IllegalArgumentException.class,
            () -> LinkSizing.of(GBIT, 30 * MS, 0, CHUNK, WINDOW, WINDOW, true, 0, AUTOTUNE, -1));
    }

    @Test
    void describesItselfForPeople()
    {
        final String line = LinkSizing.of(10 * GBIT, 30 * MS, 4, CHUNK, WINDOW, WINDOW,
            true, 0, AUTOTUNE, -1).describe();

        assertTrue(line.startsWith("link 10.0 Gbit/s x round trip 30.00 ms = 35.8 MiB in flight; 4 streams"), line);
    }
}
