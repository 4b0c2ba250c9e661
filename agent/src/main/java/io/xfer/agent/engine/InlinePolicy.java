package io.xfer.agent.engine;

/**
 * Whether the sender sends a small file's content with its entry, learned from the receiver's answers. Content sent
 * ahead is wasted when the receiver skips the file (identical already) or refuses it, and a second run over an
 * unchanged tree would otherwise send every small file again. So:
 * <ul>
 * <li>until {@link #WINDOW} answers are known, at most {@link #LEARNING_OUTSTANDING} entries with content go
 * unanswered (the others go without);</li>
 * <li>when most of the last {@link #WINDOW} answers used the content (COMMITTED, or anything but SKIPPED and
 * REFUSED), every eligible file goes with its content, within the window the caller keeps;</li>
 * <li>when most did not, only every n-th eligible file does, n doubling on each such verdict up to
 * {@link #MAX_INTERVAL}, and back to every file when most of the next answers used it.</li>
 * </ul>
 * On an unchanged tree at most the learning phase's files and about one in {@link #MAX_INTERVAL} of the rest are
 * sent for nothing. Used by the sender's thread only.
 */
final class InlinePolicy
{
    static final int WINDOW = 16;
    static final int LEARNING_OUTSTANDING = 64;
    static final int MAX_INTERVAL = 1024;
    private static final int MASK = (1 << WINDOW) - 1;

    /** The last answers, newest lowest, one bit each: set when the content was used. */
    private int outcomes;
    private int known;
    private boolean trusted;
    private int interval = 1;
    private int skipsLeft;

    /**
     * @param outstanding entries sent with content and not answered yet
     * @return whether the next eligible file goes with its content
     */
    boolean inline(final int outstanding)
    {
        if (interval > 1)
        {
            if (skipsLeft > 0)
            {
                skipsLeft--;
                return false;
            }
            skipsLeft = interval - 1;
            return true;
        }
        return trusted || outstanding < LEARNING_OUTSTANDING;
    }

    /** An entry sent with content was answered: whether its content was used. */
    void answered(final boolean used)
    {
        outcomes = (outcomes << 1 | (used ? 1 : 0)) & MASK;
        if (++known < WINDOW)
        {
            return;
        }
        final int usedCount = Integer.bitCount(outcomes);
        if (usedCount > WINDOW / 2)
        {
            trusted = true;
            interval = 1;
            skipsLeft = 0;
        }
        else if (usedCount < WINDOW / 2)
        {
            trusted = false;
            interval = Math.min(MAX_INTERVAL, interval * 2);
            skipsLeft = interval - 1;
            // the next verdict on answers sent at the new pace only
            known = 0;
        }
    }

    /** @return one in how many eligible files goes with its content now (1: every one) */
    int interval()
    {
        return interval;
    }
}
