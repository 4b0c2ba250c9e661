package io.xfer.agent.storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** What this process holds open, read from {@code /proc/self/fd}. */
final class OpenDescriptors
{
    private OpenDescriptors()
    {
    }

    /** @return this process's open descriptors on {@code root} or below it. */
    static long under(final Path root) throws IOException
    {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd")))
        {
            return fds.filter(fd ->
            {
                try
                {
                    return Files.readSymbolicLink(fd).startsWith(root);
                }
                catch (final IOException ex)
                {
                    return false; // closed meanwhile, or the listing's own descriptor
                }
            }).count();
        }
    }
}
