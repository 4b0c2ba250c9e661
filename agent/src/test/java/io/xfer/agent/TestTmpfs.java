package io.xfer.agent;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A small tmpfs mounted by a test on a directory of its own, to fill a file system on purpose. Mounting needs root;
 * tests assume it worked and are skipped elsewhere.
 */
public final class TestTmpfs
{
    private TestTmpfs()
    {
    }

    /** @return whether a tmpfs of {@code size} (as mount's {@code size=}, for example {@code 16m}) is now on it. */
    public static boolean mount(final Path directory, final String size) throws IOException, InterruptedException
    {
        return run("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", directory.toString()) == 0;
    }

    /** Unmount it (lazily: a file still open in it does not keep it). */
    public static void unmount(final Path directory) throws IOException, InterruptedException
    {
        run("umount", "-l", directory.toString());
    }

    private static int run(final String... command) throws IOException, InterruptedException
    {
        final Process process = new ProcessBuilder(command).redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (!process.waitFor(10, TimeUnit.SECONDS))
        {
            process.destroyForcibly();
            return -1;
        }
        return process.exitValue();
    }
}
