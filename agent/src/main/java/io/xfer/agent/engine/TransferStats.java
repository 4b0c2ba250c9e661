package io.xfer.agent.engine;

import io.xfer.protocol.ErrorCode;

import java.util.EnumSet;
import java.util.Set;

/**
 * Counters of one transfer, kept by whichever role runs it, turned into a {@link TransferReport} at the end.
 */
public final class TransferStats
{
    private final TransferListener listener;
    private final LatencyRecorder latency;
    private final long startNs = System.nanoTime();
    private long committed;
    private long skipped;
    private long refused;
    private long failed;
    private long vanished;
    private long bytesMoved;
    private long wireBytes;
    private long resentBytes;
    private long resumedBytes;
    private long corruptChunks;
    private long sourceChanges;
    private long checksumRetries;
    private long verificationFailures;
    private ErrorCode firstError;
    private String firstErrorMessage;
    private boolean plaintextData;
    private LinkSizing link;

    /** The sizing for the link's bandwidth-delay product, when its rate was given. */
    public void link(final LinkSizing link)
    {
        this.link = link;
    }

    /** The data connections go without TLS (PLAINTEXT_DATA negotiated); reported with the totals. */
    public void plaintextData(final boolean plaintext)
    {
        this.plaintextData = plaintext;
    }

    /** Every latency metric, no interval log. */
    public TransferStats(final TransferListener listener)
    {
        this(listener, false, EnumSet.allOf(LatencyRecorder.Metric.class));
    }

    /**
     * @param intervalLog keep per-second latency histograms for an .hlog ({@link TransferReport#writeHistograms}).
     * @param metrics     the latencies this side measures: {@link LatencyRecorder.Metric#SENDING} or
     *                    {@link LatencyRecorder.Metric#RECEIVING}.
     */
    public TransferStats(final TransferListener listener, final boolean intervalLog,
        final Set<LatencyRecorder.Metric> metrics)
    {
        this.listener = listener;
        this.latency = new LatencyRecorder(intervalLog, metrics);
    }

    public void record(final TransferEvent event)
    {
        switch (event.kind())
        {
            case COMMITTED: committed++; break;
            case SKIPPED: skipped++; break;
            case REFUSED: refused++; noteError(event); break;
            case FAILED:
                failed++;
                if (event.code() == ErrorCode.CHECKSUM_MISMATCH || event.code() == ErrorCode.DIGEST_MISMATCH)
                {
                    verificationFailures++;
                }
                noteError(event);
                break;
            case VANISHED: vanished++; break;
            default: break;
        }
        listener.onEvent(event);
    }

    private void noteError(final TransferEvent event)
    {
        if (firstError == null)
        {
            firstError = event.code();
            firstErrorMessage = event.path() + ": " + event.message();
        }
    }

    public LatencyRecorder latency()
    {
        return latency;
    }

    public void addBytes(final long bytes)
    {
        bytesMoved += bytes;
    }

    /** Payload bytes as they crossed the network (after compression). */
    public void addWireBytes(final long bytes)
    {
        wireBytes += bytes;
    }

    /** Payload bytes sent a second time because a stream died before they were acknowledged. */
    public void addResentBytes(final long bytes)
    {
        resentBytes += bytes;
    }

    /** Bytes the receiver already held from an earlier run, which were not sent again. */
    public void addResumedBytes(final long bytes)
    {
        resumedBytes += bytes;
    }

    /** A journaled chunk of a partial file that no longer matched its checksum on resume. */
    public void recordCorruptChunk()
    {
        corruptChunks++;
    }

    /** A chunk arrived with a bad checksum and was asked for again. */
    public void recordChecksumRetry()
    {
        checksumRetries++;
    }

    /** A source file changed while it was sent and is being sent again from the start. */
    public void recordSourceChange()
    {
        sourceChanges++;
    }

    public long resentBytes()
    {
        return resentBytes;
    }

    public long bytesMoved()
    {
        return bytesMoved;
    }

    public long committed()
    {
        return committed;
    }

    public long skipped()
    {
        return skipped;
    }

    public long failedOrRefused()
    {
        return failed + refused;
    }

    public ErrorCode firstError()
    {
        return firstError;
    }

    public TransferReport report()
    {
        return new TransferReport(committed, skipped, refused, failed, vanished, verificationFailures, bytesMoved,
            wireBytes, resentBytes, resumedBytes, corruptChunks, sourceChanges, checksumRetries,
            System.nanoTime() - startNs, firstError, firstErrorMessage, latency.finish(), latency, plaintextData,
            link);
    }
}
