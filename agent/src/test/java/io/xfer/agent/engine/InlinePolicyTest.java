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
    }

    @Test
    void contentThatIsUsedLiftsTheLimit()
    {
        final InlinePolicy policy = new InlinePolicy();
        for (int i = 0; i < InlinePolicy.WINDOW; i++)
        {
            policy.answered(true);
        }
        assertTrue(policy.inline(100_000), "trusted: the caller's byte window is the only bound");
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
                policy.answered(false);
            }
        }
        assertEquals(InlinePolicy.MAX_INTERVAL, policy.interval());
        assertTrue(sent < 2 * InlinePolicy.WINDOW * 11 + files / InlinePolicy.MAX_INTERVAL,
            "content sent for " + sent + " of " + files + " files");

        // then new files: most answers use the content, and every file goes with it again
        for (int i = 0; policy.interval() > 1 && i < 100_000; i++)
        {
            if (policy.inline(0))
            {
                policy.answered(true);
            }
        }
        assertEquals(1, policy.interval());
        assertTrue(policy.inline(1_000));
    }

    @Test
    void aFewSkipsAmongNewFilesChangeNothing()
    {
        final InlinePolicy policy = new InlinePolicy();
        for (int i = 0; i < 1_000; i++)
        {
            assertTrue(policy.inline(0), "file " + i);
            policy.answered(i % 4 != 0);
        }
        assertEquals(1, policy.interval());
    }
}
