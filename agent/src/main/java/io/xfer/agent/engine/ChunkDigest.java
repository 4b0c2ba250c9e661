package io.xfer.agent.engine;

import org.agrona.collections.Long2LongHashMap;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The whole-file digest of FILE_END type 1: SHA-256 over the big-endian CRC32C values of the file's chunks in
 * offset order. Chunks may be added out of order; early ones wait in a small map until the gap before them fills.
 */
public final class ChunkDigest
{
    /** No CRC32C: they are stored as unsigned 32-bit values. */
    private static final long MISSING = -1L;

    private final MessageDigest sha256;
    private final byte[] word = new byte[4];
    /** Early chunks' CRC32C by index, without boxing: with several streams most chunks arrive early. */
    private final Long2LongHashMap early = new Long2LongHashMap(MISSING);
    private long nextIndex;

    public ChunkDigest()
    {
        try
        {
            sha256 = MessageDigest.getInstance("SHA-256");
        }
        catch (final NoSuchAlgorithmException ex)
        {
            throw new IllegalStateException("SHA-256 is missing from this JVM", ex);
        }
    }

    /**
     * @return false when this chunk index was already added.
     */
    public boolean add(final long index, final int crc)
    {
        if (index < nextIndex)
        {
            return false;
        }
        if (index != nextIndex)
        {
            return early.putIfAbsent(index, crc & 0xFFFF_FFFFL) == MISSING;
        }
        update(crc);
        // in order, the common case, touches no map (and boxes nothing)
        long next;
        while (!early.isEmpty() && (next = early.remove(nextIndex)) != MISSING)
        {
            update((int)next);
        }
        return true;
    }

    /** @return how many chunks are in the digest so far, counting only the gap-free prefix. */
    public long contiguousChunks()
    {
        return nextIndex;
    }

    public byte[] finish()
    {
        return sha256.digest();
    }

    private void update(final int crc)
    {
        word[0] = (byte)(crc >>> 24);
        word[1] = (byte)(crc >>> 16);
        word[2] = (byte)(crc >>> 8);
        word[3] = (byte)crc;
        sha256.update(word);
        nextIndex++;
    }

    /** @return a new SHA-256 digest. */
    public static MessageDigest sha256()
    {
        try
        {
            return MessageDigest.getInstance("SHA-256");
        }
        catch (final NoSuchAlgorithmException ex)
        {
            throw new IllegalStateException("SHA-256 is missing from this JVM", ex);
        }
    }

    /** @return the number of chunks of a file of {@code size} bytes cut in {@code chunkLength} pieces. */
    public static long chunkCount(final long size, final int chunkLength)
    {
        return (size + chunkLength - 1) / chunkLength;
    }
}
