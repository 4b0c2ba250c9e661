package io.xfer.agent.engine;

/**
 * What {@code --compress auto} has learned across files about their first chunks, by file-name extension: a tree
 * of small files gives each file one chunk, so a file's own back-off never gets going, and trying LZ4 on every
 * photo of a tree costs the sender CPU for nothing. A first chunk that does not shrink makes the next first chunks
 * of its extension skip LZ4, 1, 2, 4 ... up to {@link #MAX_BACKOFF} of them between tries; one that shrinks ends
 * the back-off. Extensions share a small table by hash: two that collide share a history, which costs at most some
 * compression, never correctness. Used by the sender's thread only.
 */
final class CompressionHistory
{
    static final int MAX_BACKOFF = 64;
    private static final int SLOTS = 64;
    /** Longest extension told apart: a longer one counts as none (as a name without a dot does). */
    private static final int MAX_EXTENSION = 12;

    private final int[] backoff = new int[SLOTS];
    private final int[] skipsLeft = new int[SLOTS];

    /**
     * @param relativePath a path as announced, with '/' between names
     * @return the slot of its name's extension (after the last '.', ASCII letters folded to lower case); names
     * without one share a slot
     */
    static int slot(final String relativePath)
    {
        int hash = 0;
        for (int i = relativePath.length() - 1, seen = 0; i >= 0 && seen < MAX_EXTENSION; i--, seen++)
        {
            final char c = relativePath.charAt(i);
            if (c == '.')
            {
                return (hash ^ (hash >>> 7) ^ (hash >>> 15)) & (SLOTS - 1);
            }
            if (c == '/')
            {
                break;
            }
            hash = hash * 31 + (c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
        }
        return 0;
    }

    /** @return whether the next first chunk of this slot goes without trying LZ4 (and count it) */
    boolean skipFirstChunk(final int slot)
    {
        if (skipsLeft[slot] > 0)
        {
            skipsLeft[slot]--;
            return true;
        }
        return false;
    }

    /** A first chunk of this slot was tried: whether LZ4 made it worth sending compressed. */
    void tried(final int slot, final boolean shrank)
    {
        if (shrank)
        {
            backoff[slot] = 0;
            skipsLeft[slot] = 0;
            return;
        }
        backoff[slot] = Math.min(MAX_BACKOFF, Math.max(1, backoff[slot] * 2));
        skipsLeft[slot] = backoff[slot];
    }
}
