package io.xfer.agent.engine;

/**
 * Whether the sender sends a small file's content with its entry, learned from the receiver's answers. Content sent
 * ahead is wasted when the receiver skips the file (identical already) or refuses it, and a second run over an
 * unchanged tree would otherwise send every small file again. So:
 * <ul>
 * <li><b>Learning</b> (the start): at most {@link #LEARNING_OUTSTANDING} entries with content go unanswered (the
 * others go without) until {@link #WINDOW} answers are known.</li>
 * <li><b>Trusted</b>: while most of the last {@link #WINDOW} answers used the content (COMMITTED, or anything but
 * SKIPPED and REFUSED), every eligible file goes with it, within the bounds the caller keeps.</li>
 * <li><b>Probing</b>: when most did not, only one eligible file in 2 does, one probe unanswered at a time; each probe
 * answered unused doubles that, up to one in {@link #MAX_INTERVAL}, and each answered used halves it, back to
 * learning at one in 1.</li>
 * </ul>
 * Each change of pace starts a new epoch, and answers to entries sent in an earlier one are ignored: content that
 * was in flight when the pace changed does not decide the next change. On an unchanged tree about
 * {@link #LEARNING_OUTSTANDING} files, a probe per doubling and one file in {@link #MAX_INTERVAL} of the rest are
 * sent for nothing; once files are new again, about 2 × the interval files go without content before every file
 * has it again. Used by the sender's thread only.
 */
final class InlinePolicy
{
    static final int WINDOW = 16;
    static final int LEARNING_OUTSTANDING = 64;
    static final int MAX_INTERVAL = 1024;
    private static final int MASK = (1 << WINDOW) - 1;

    /** The last answers of this epoch, newest lowest, one bit each: set when the content was used. */
    private int outcomes;
    private int known;
    private boolean trusted;
    private int interval = 1;
    private int skipsLeft;
    private int epoch;

    /**
     * @param outstanding entries sent with content and not answered yet
     * @return whether the next eligible file goes with its content (tag it with {@link #epoch()})
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
            // one probe at a time: a fast walk would otherwise send many before the first answer
            if (outstanding > 0)
            {
                return false;
            }
            skipsLeft = interval - 1;
            return true;
        }
        return trusted || outstanding < LEARNING_OUTSTANDING;
    }

    /** @return whether every eligible file goes with its content, bounded only by the caller's window */
    boolean trusted()
    {
        return trusted;
    }

    /** @return the epoch to tag an entry sent now with */
    int epoch()
    {
        return epoch;
    }

    /**
     * An entry sent with content was answered.
     *
     * @param used whether its content was used
     * @param sentInEpoch the {@link #epoch()} it was sent in
     */
    void answered(final boolean used, final int sentInEpoch)
    {
        if (sentInEpoch != epoch)
        {
            return;
        }
        if (interval > 1)
        {
            interval = used ? interval / 2 : Math.min(MAX_INTERVAL, interval * 2);
            skipsLeft = interval - 1;
            known = 0;
            epoch++;
            return;
        }
        outcomes = (outcomes << 1 | (used ? 1 : 0)) & MASK;
        if (++known < WINDOW)
        {
            return;
        }
        final int usedCount = Integer.bitCount(outcomes & MASK);
        if (usedCount > WINDOW / 2)
        {
            trusted = true;
        }
        else if (usedCount < WINDOW / 2)
        {
            trusted = false;
            interval = 2;
            skipsLeft = interval - 1;
            known = 0;
            epoch++;
        }
    }

    /** @return one in how many eligible files goes with its content now (1: every one, or learning) */
    int interval()
    {
        return interval;
    }
}
