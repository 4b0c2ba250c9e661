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
     * Commits that take longer than this on average (a real fsync) are worth handing to the pool, where they
     * overlap; quicker ones (tmpfs, a disk with a write cache it may trust) cost less on the receiver's thread than
     * a hand-off.
     */
    public static final long DEFAULT_SLOW_COMMIT_NS = 100_000L;

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
     * @param slowCommitNs receivers hand commits to the pool while theirs take at least this long on average.
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

    /** @return whether commits that take {@code averageNs} each should run on the pool. */
    public boolean worthHandingOff(final long averageNs)
    {
        return executor != null && averageNs >= slowCommitNs;
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
