package io.xfer.agent.engine;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CommitPoolTest
{
    private static final long SLOW_NS = 100_000L;

    @Test
    void aFewPreemptedCommitsAmongQuickOnesKeepCommitsOnTheReceiversThread()
    {
        try (CommitPool pool = new CommitPool(2, "test-commit", SLOW_NS))
        {
            int recent = 0;
            for (int i = 0; i < 1000; i++)
            {
                // every fifth commit lost its core for 4 ms: an average of these would be 0.8 ms
                recent = pool.record(recent, i % 5 == 0 ? 4_000_000L : 15_000L);
                assertFalse(pool.worthHandingOff(recent), "commit " + i);
            }
        }
    }

    @Test
    void commitsThatAreMostlySlowGoToThePoolAndComeBackWhenQuickAgain()
    {
        try (CommitPool pool = new CommitPool(2, "test-commit", SLOW_NS))
        {
            int recent = 0;
            for (int i = 0; i < CommitPool.WINDOW / 2; i++)
            {
                recent = pool.record(recent, 2_000_000L);
                assertFalse(pool.worthHandingOff(recent), "half of the window is not most of it: " + i);
            }
            recent = pool.record(recent, 2_000_000L);
            assertTrue(pool.worthHandingOff(recent), "fsyncs that all take 2 ms");
            // a quick one now and then does not bring them back
            for (int i = 0; i < 100; i++)
            {
                recent = pool.record(recent, i % 3 == 0 ? 20_000L : 2_000_000L);
                assertTrue(pool.worthHandingOff(recent), "commit " + i);
            }
            // the disk became quick (a write cache): back within a window
            int quick = 0;
            while (pool.worthHandingOff(recent))
            {
                recent = pool.record(recent, 20_000L);
                quick++;
            }
            assertTrue(quick <= CommitPool.WINDOW, "back after " + quick);
        }
    }

    @Test
    void withoutThreadsNothingIsHandedOff()
    {
        try (CommitPool pool = new CommitPool(0, "test-commit", SLOW_NS))
        {
            int recent = 0;
            for (int i = 0; i < CommitPool.WINDOW; i++)
            {
                recent = pool.record(recent, 10_000_000L);
            }
            assertFalse(pool.worthHandingOff(recent));
        }
    }
}
