package io.xfer.agent.engine;

import io.netty.util.concurrent.FastThreadLocalThread;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Disk threads that make received files durable and put them under their final names: fsync, mode, mtime, link.
 * An fsync waits for the filesystem's journal commit; issued one after another they cost one commit each, issued
 * from several threads at once the filesystem folds them into shared commits (measured on ext4 on this project's
 * build machine: 174 µs per 4 KiB file from one thread, 38 µs from 16). The receiver thread keeps verifying and
 * writing while files are committed.
 *
 * <p>The queue is bounded so that files waiting for their commit (each holding an open descriptor) stay few:
 * when it is full, {@link #execute(Runnable)} waits for room, which slows the receiver to the disk's pace. Threads
 * exit after a while without work. Shared by every transfer of an agent.
 */
public final class CommitPool implements Executor, AutoCloseable
{
    /** Threads by default: enough concurrent fsyncs for a journaling filesystem to batch them. */
    public static final int DEFAULT_THREADS = 16;
    private static final int QUEUED_PER_THREAD = 16;
    private static final long IDLE_SECONDS = 30;

    /**
     * Commits that mostly take longer than this (a real fsync) are worth handing to the pool, where they
     * overlap; quicker ones (tmpfs, a disk with a write cache it may trust) cost less on the receiver's thread than
     * a hand-off.
     */
    public static final long DEFAULT_SLOW_COMMIT_NS = 100_000L;
    /** Commits a receiver's decision looks back on. */
    public static final int WINDOW = 16;
    private static final int WINDOW_MASK = (1 << WINDOW) - 1;

    private final ThreadPoolExecutor executor;
    private final long slowCommitNs;

    /**
     * @param threads at most this many commits run at once; 0 commits every file on the receiver's thread.
     */
    public CommitPool(final int threads, final String name)
    {
        this(threads, name, DEFAULT_SLOW_COMMIT_NS);
    }

    /**
     * @param slowCommitNs receivers hand commits to the pool while most of theirs take at least this long.
     */
    public CommitPool(final int threads, final String name, final long slowCommitNs)
    {
        this.slowCommitNs = slowCommitNs;
        if (threads < 0)
        {
            throw new IllegalArgumentException("threads must not be negative: " + threads);
        }
        if (threads == 0)
        {
            executor = null;
            return;
        }
        final AtomicInteger counter = new AtomicInteger();
        executor = new ThreadPoolExecutor(threads, threads, IDLE_SECONDS, TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(threads * QUEUED_PER_THREAD), runnable ->
            {
                // as the transfer threads: a pool thread cache is freed when its thread ends
                final Thread thread = new FastThreadLocalThread(runnable, name + "-" + counter.incrementAndGet());
                thread.setDaemon(true);
                return thread;
            }, CommitPool::waitForRoom);
        executor.allowCoreThreadTimeOut(true);
    }

    /**
     * @param recentCommits a receiver's last {@link #WINDOW} commits, one bit each, newest lowest, set for a slow one
     * (see {@link #record})
     * @return whether its next commit should run on the pool: when most of those were slow. A majority, not an
     * average: with both cores busy, a quick commit now and then takes milliseconds of wall time because its thread
     * was preempted, and an average over them handed tmpfs commits to the pool, which cost the agent about a tenth
     * more CPU per small file (measured: 20,000 files of 4 KiB, 5 pushes, 3.35-3.58 s of agent CPU without the pool,
     * 3.96-4.01 s with it). A real fsync is slow every time.
     */
    public boolean worthHandingOff(final int recentCommits)
    {
        return executor != null && Integer.bitCount(recentCommits & WINDOW_MASK) > WINDOW / 2;
    }

    /**
     * @return {@code recentCommits} with one more commit, of {@code elapsedNs} (its wall time), shifted in
     */
    public int record(final int recentCommits, final long elapsedNs)
    {
        return (recentCommits << 1 | (elapsedNs >= slowCommitNs ? 1 : 0)) & WINDOW_MASK;
    }

    private static void waitForRoom(final Runnable commit, final ThreadPoolExecutor pool)
    {
        if (pool.isShutdown())
        {
            throw new RejectedExecutionException("commit threads are shut down");
        }
        try
        {
            pool.getQueue().put(commit);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new RejectedExecutionException("interrupted while waiting for a commit thread", ex);
        }
        // every thread may have timed out meanwhile: a queued commit must not wait for the next submission
        pool.prestartCoreThread();
    }

    /**
     * Queue a commit; waits while the queue is full.
     *
     * @throws RejectedExecutionException when the pool has no threads, is shut down, or the wait was interrupted:
     *                                    the caller runs the commit itself.
     */
    @Override
    public void execute(final Runnable commit)
    {
        if (executor == null)
        {
            throw new RejectedExecutionException("no commit threads");
        }
        executor.execute(commit);
    }

    @Override
    public void close()
    {
        if (executor != null)
        {
            executor.shutdown();
        }
    }
}
