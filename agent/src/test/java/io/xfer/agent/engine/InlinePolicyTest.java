package io.xfer.agent.engine;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InlinePolicyTest
{
    @Test
    void untilAnswersAreKnownOnlyALimitedNumberGoUnanswered()
    {
        final InlinePolicy policy = new InlinePolicy();
        assertTrue(policy.inline(0));
        assertTrue(policy.inline(InlinePolicy.LEARNING_OUTSTANDING - 1));
        assertFalse(policy.inline(InlinePolicy.LEARNING_OUTSTANDING));
        assertFalse(policy.trusted());
    }

    @Test
    void contentThatIsUsedLiftsTheLimit()
    {
        final InlinePolicy policy = new InlinePolicy();
        for (int i = 0; i < InlinePolicy.WINDOW; i++)
        {
            policy.answered(true, policy.epoch());
        }
        assertTrue(policy.trusted());
        assertTrue(policy.inline(100_000), "trusted: the caller's window is the only bound");
        assertEquals(1, policy.interval());
    }

    @Test
    void anUnchangedTreeSendsContentForOneFileInEverMoreAndBackWhenFilesAreNewAgain()
    {
        final InlinePolicy policy = new InlinePolicy();
        // a second run over an unchanged tree: every answer is SKIPPED; answers come back one by one
        int sent = 0;
        final int files = 200_000;
        for (int i = 0; i < files; i++)
        {
            if (policy.inline(0))
            {
                sent++;
                policy.answered(false, policy.epoch());
            }
        }
        assertEquals(InlinePolicy.MAX_INTERVAL, policy.interval());
        // the learning window, a probe per doubling (2 to 1,024), then one in 1,024
        assertTrue(sent <= InlinePolicy.WINDOW + 10 + files / InlinePolicy.MAX_INTERVAL + 1,
            "content sent for " + sent + " of " + files + " files");

        // then new files: each probe used halves the interval, and learning lifts the limit again
        int eligible = 0;
        while (!policy.trusted() && eligible < 10_000)
        {
            eligible++;
            if (policy.inline(0))
            {
                policy.answered(true, policy.epoch());
            }
        }
        assertTrue(policy.trusted());
        assertTrue(eligible < 2 * InlinePolicy.MAX_INTERVAL + InlinePolicy.WINDOW, "back after " + eligible);
        assertTrue(policy.inline(1_000));
    }

    @Test
    void answersToContentSentBeforeThePaceChangedDecideNothing()
    {
        final InlinePolicy policy = new InlinePolicy();
        final int learning = policy.epoch();
        for (int i = 0; i < InlinePolicy.WINDOW; i++)
        {
            policy.answered(false, learning);
        }
        assertEquals(2, policy.interval());
        // the rest of the learning phase's 64 entries were in flight: their answers change nothing
        for (int i = 0; i < InlinePolicy.LEARNING_OUTSTANDING - InlinePolicy.WINDOW; i++)
        {
            policy.answered(false, learning);
        }
        assertEquals(2, policy.interval());
        policy.answered(false, policy.epoch());
        assertEquals(4, policy.interval(), "a probe of the new pace does");
    }

    @Test
    void probesGoOneAtATime()
    {
        final InlinePolicy policy = new InlinePolicy();
        for (int i = 0; i < InlinePolicy.WINDOW; i++)
        {
            policy.answered(false, policy.epoch());
        }
        assertEquals(2, policy.interval());
        int probes = 0;
        for (int i = 0; i < 100; i++)
        {
            if (policy.inline(probes))
            {
                probes++;
            }
        }
        assertEquals(1, probes, "no second probe while the first is unanswered");
    }

    @Test
    void aFewSkipsAmongNewFilesChangeNothing()
    {
        final InlinePolicy policy = new InlinePolicy();
        for (int i = 0; i < 1_000; i++)
        {
            assertTrue(policy.inline(0), "file " + i);
            policy.answered(i % 4 != 0, policy.epoch());
        }
        assertEquals(1, policy.interval());
        assertTrue(policy.trusted());
    }
}
