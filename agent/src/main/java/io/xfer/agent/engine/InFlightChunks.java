package io.xfer.agent.engine;

import java.util.ArrayList;
import java.util.List;

/**
 * A stream's unacknowledged chunks by (file id, offset): an open-addressing table with linear probing over one
 * array of descriptors, so that putting and removing a chunk allocates nothing (a {@code HashMap} costs a key and
 * a node per chunk). It grows by doubling at half full and never shrinks; deletion shifts the following entries
 * back, so there are no tombstones. Confined to the stream's event loop.
 */
final class InFlightChunks
{
    private static final int INITIAL_CAPACITY = 64;

    private Chunk[] slots = new Chunk[INITIAL_CAPACITY];
    private int size;

    int size()
    {
        return size;
    }

    boolean isEmpty()
    {
        return size == 0;
    }

    /**
     * Add a chunk.
     *
     * @return the chunk it replaced (same file id and offset), or null.
     */
    Chunk put(final Chunk chunk)
    {
        final int fileId = chunk.file.fileId;
        final long offset = chunk.offset;
        final int mask = slots.length - 1;
        int index = slot(fileId, offset, mask);
        Chunk current;
        while ((current = slots[index]) != null)
        {
            if (current.file.fileId == fileId && current.offset == offset)
            {
                slots[index] = chunk;
                return current;
            }
            index = (index + 1) & mask;
        }
        slots[index] = chunk;
        if (++size > slots.length >> 1)
        {
            grow();
        }
        return null;
    }

    /**
     * An acknowledgement for this file id and offset: the chunk's count of acknowledgements due goes down by one,
     * and at none it is removed.
     *
     * @return the chunk removed, or null when none is known or more acknowledgements are still due for it.
     */
    Chunk acknowledge(final int fileId, final long offset)
    {
        final int index = indexOf(fileId, offset);
        if (index < 0 || --slots[index].acksDue > 0)
        {
            return null;
        }
        return removeAt(index);
    }

    /** Remove and return the chunk of this file id and offset, or null. */
    Chunk remove(final int fileId, final long offset)
    {
        final int index = indexOf(fileId, offset);
        return index < 0 ? null : removeAt(index);
    }

    private int indexOf(final int fileId, final long offset)
    {
        final Chunk[] table = slots;
        final int mask = table.length - 1;
        int index = slot(fileId, offset, mask);
        Chunk current;
        while ((current = table[index]) != null)
        {
            if (current.file.fileId == fileId && current.offset == offset)
            {
                return index;
            }
            index = (index + 1) & mask;
        }
        return -1;
    }

    private Chunk removeAt(final int index)
    {
        final Chunk removed = slots[index];
        slots[index] = null;
        size--;
        closeGap(index);
        return removed;
    }

    /** Remove every chunk and return them, in no particular order. */
    List<Chunk> removeAll()
    {
        final List<Chunk> all = new ArrayList<>(size);
        for (int i = 0; i < slots.length; i++)
        {
            if (slots[i] != null)
            {
                all.add(slots[i]);
                slots[i] = null;
            }
        }
        size = 0;
        return all;
    }

    /** After emptying slot {@code emptied}: move back each following entry of its run that its home slot allows. */
    private void closeGap(final int emptied)
    {
        final Chunk[] table = slots;
        final int mask = table.length - 1;
        int gap = emptied;
        int index = (gap + 1) & mask;
        Chunk current;
        while ((current = table[index]) != null)
        {
            final int home = slot(current.file.fileId, current.offset, mask);
            // the entry may fill the gap unless its home lies cyclically within (gap, index]
            final boolean homeAfterGap = gap <= index ? gap < home && home <= index : gap < home || home <= index;
            if (!homeAfterGap)
            {
                table[gap] = current;
                table[index] = null;
                gap = index;
            }
            index = (index + 1) & mask;
        }
    }

    private void grow()
    {
        final Chunk[] old = slots;
        final Chunk[] table = new Chunk[old.length << 1];
        final int mask = table.length - 1;
        for (final Chunk chunk : old)
        {
            if (chunk != null)
            {
                int index = slot(chunk.file.fileId, chunk.offset, mask);
                while (table[index] != null)
                {
                    index = (index + 1) & mask;
                }
                table[index] = chunk;
            }
        }
        slots = table;
    }

    private static int slot(final int fileId, final long offset, final int mask)
    {
        // chunk offsets are multiples of the chunk length: mix so that their low zero bits do not cluster
        long h = offset * 0x9E3779B97F4A7C15L + fileId * 0xC2B2AE3D27D4EB4FL;
        h ^= h >>> 31;
        h *= 0xBF58476D1CE4E5B9L;
        h ^= h >>> 29;
        return (int)h & mask;
    }
}
