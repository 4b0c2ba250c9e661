package io.xfer.agent.storage;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The agent runs as an unprivileged user (the unit's {@code xfer}), the test suite as root, which no permission
 * bit stops. So this test runs the receiver's last steps on a file, setting its mtime and then its final mode
 * through the open channel, in a JVM of their own as {@code nobody} ({@code setpriv}): a final mode that takes the
 * owner's read or write away must still come with the mtime, which setting the mode first would forbid (the mtime is
 * set through a descriptor opened for reading). Skipped where it cannot run: not root, no {@code setpriv}, or no
 * right to switch users.
 */
@Timeout(60)
class FileMetadataNonRootTest
{
    private static final long MTIME_NS = 1_500_000_000_123_456_000L;
    private static final int NOBODY = 65534;

    @TempDir
    Path dir;

    @Test
    void anUnprivilegedAgentGivesAFileItsMtimeAndAModeThatLocksItsOwnerOut() throws Exception
    {
        final Path setpriv = Stream.of("/usr/bin/setpriv", "/bin/setpriv").map(Path::of)
            .filter(Files::isExecutable).findFirst().orElse(null);
        assumeTrue(setpriv != null, "no setpriv on this machine");
        assumeTrue(isRoot(), "needs root to switch to an unprivileged user");
        // a container may hold root without the capabilities to switch users
        final Process trial = new ProcessBuilder(setpriv.toString(), "--reuid=" + NOBODY, "--regid=" + NOBODY,
            "--clear-groups", "--", Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-version")
            .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assumeTrue(trial.waitFor(30, TimeUnit.SECONDS) && trial.exitValue() == 0,
            "cannot run a JVM as nobody here");

        // what nobody may read and write: the two classes, and a directory for the files
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
        final Path classes = dir.resolve("classes");
        copyClass(FileMetadata.class, classes);
        copyClass(NonRootMetadataProbe.class, classes);
        try (Stream<Path> tree = Files.walk(classes))
        {
            for (final Path path : (Iterable<Path>)tree::iterator)
            {
                Files.setPosixFilePermissions(path, PosixFilePermissions.fromString(
                    Files.isDirectory(path) ? "rwxr-xr-x" : "rw-r--r--"));
            }
        }
        final Path work = Files.createDirectory(dir.resolve("work"));
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxrwxrwx"));

        final List<String> command = new ArrayList<>(List.of(setpriv.toString(), "--reuid=" + NOBODY,
            "--regid=" + NOBODY, "--clear-groups", "--",
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED", "-Xshare:auto", "-Xmx64m",
            "-cp", classes.toString(), NonRootMetadataProbe.class.getName(), work.toString(),
            Long.toString(MTIME_NS), "444", "400", "200", "0", "755"));
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String output;
        try (InputStream in = process.getInputStream())
        {
            output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        assumeTrue(process.waitFor(50, TimeUnit.SECONDS), "the probe did not end");
        assertEquals(0, process.exitValue(), output);

        final String[] lines = output.strip().split("\n");
        assertEquals("descriptors true", lines[0], "the open channel's descriptor is used: " + output);
        final String[] modes = {"444", "400", "200", "0", "755"};
        assertEquals(modes.length + 1, lines.length, output);
        for (int i = 0; i < modes.length; i++)
        {
            assertEquals(modes[i] + " " + MTIME_NS, lines[i + 1].strip(), "mode " + modes[i] + ": " + output);
            assertEquals(NOBODY, ((Number)Files.getAttribute(work.resolve("file-" + modes[i]), "unix:uid")).intValue(),
                "written by nobody");
        }
    }

    private static boolean isRoot() throws IOException
    {
        for (final String line : Files.readAllLines(Path.of("/proc/self/status")))
        {
            if (line.startsWith("Uid:"))
            {
                return "0".equals(line.substring(4).trim().split("\\s+")[1]);
            }
        }
        return false;
    }

    /** Copy a compiled class (and its nested classes) from the build's output into {@code root}. */
    private static void copyClass(final Class<?> type, final Path root) throws IOException, URISyntaxException
    {
        final Path location = Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI());
        final String packagePath = type.getPackageName().replace('.', '/');
        final Path target = Files.createDirectories(root.resolve(packagePath));
        try (Stream<Path> files = Files.list(location.resolve(packagePath)))
        {
            for (final Path file : (Iterable<Path>)files::iterator)
            {
                final String name = file.getFileName().toString();
                if (name.equals(type.getSimpleName() + ".class") || name.startsWith(type.getSimpleName() + "$"))
                {
                    Files.copy(file, target.resolve(name));
                }
            }
        }
    }
}
