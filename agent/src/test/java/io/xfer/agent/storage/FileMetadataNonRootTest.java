package io.xfer.agent.storage;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

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

    /**
     * @param systemCalls whether the JVM opens {@code sun.nio.fs}, as the launchers do: then {@code futimens} and
     * {@code fchmod} on the descriptor; otherwise through {@code /proc/self/fd/N}
     */
    @ParameterizedTest(name = "sun.nio.fs opened: {0}")
    @ValueSource(booleans = {true, false})
    void anUnprivilegedAgentGivesAFileItsMtimeAndAModeThatLocksItsOwnerOut(final boolean systemCalls) throws Exception
    {
        final Path setpriv = Stream.of("/usr/bin/setpriv", "/bin/setpriv").map(Path::of)
            .filter(Files::isExecutable).findFirst().orElse(null);
        assumeTrue(setpriv != null, "no setpriv on this machine");
        assumeTrue(isRoot(), "needs root to switch to an unprivileged user");

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
        // a container may hold root without the right to switch users, and the directories above ours may be
        // closed to others: then there is nothing to test here
        assumeTrue(runAsNobody(List.of(setpriv.toString(), "--reuid=" + NOBODY, "--regid=" + NOBODY,
            "--clear-groups", "--", "/bin/sh", "-c", "test -w \"$0\" && test -r \"$1\" && \"$2\" -version",
            work.toString(), classes.resolve(NonRootMetadataProbe.class.getName().replace('.', '/') + ".class")
                .toString(), Path.of(System.getProperty("java.home"), "bin", "java").toString()))
            .exitCode == 0, "nobody cannot reach the test directory or run java, or root cannot switch users here");

        final List<String> command = new ArrayList<>(List.of(setpriv.toString(), "--reuid=" + NOBODY,
            "--regid=" + NOBODY, "--clear-groups", "--",
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED", "-Xshare:auto", "-Xmx64m"));
        if (systemCalls)
        {
            command.addAll(List.of("--add-opens", "java.base/sun.nio.fs=ALL-UNNAMED"));
        }
        command.addAll(List.of("-cp", classes.toString(), NonRootMetadataProbe.class.getName(), work.toString(),
            Long.toString(MTIME_NS), "444", "400", "200", "0", "755"));
        final Outcome probe = runAsNobody(command);
        assertEquals(0, probe.exitCode, probe.output);

        // only the probe's lines: a JVM may print others (a JAVA_TOOL_OPTIONS notice, say)
        final List<String> lines = probe.output.lines().map(String::strip)
            .filter(line -> line.startsWith("descriptors ") || line.startsWith("calls ") ||
                line.matches("[0-7]+ [0-9]+") || line.startsWith("FAILED")).toList();
        assertEquals("descriptors true", lines.get(0), "the open channel's descriptor is used: " + probe.output);
        assertEquals("calls " + systemCalls, lines.get(1), "system calls on the descriptor: " + probe.output);
        final String[] modes = {"444", "400", "200", "0", "755"};
        assertEquals(modes.length + 2, lines.size(), probe.output);
        for (int i = 0; i < modes.length; i++)
        {
            assertEquals(modes[i] + " " + MTIME_NS, lines.get(i + 2), "mode " + modes[i] + ": " + probe.output);
            assertEquals(NOBODY, ((Number)Files.getAttribute(work.resolve("file-" + modes[i]), "unix:uid")).intValue(),
                "written by nobody");
        }
    }

    private record Outcome(int exitCode, String output)
    {
    }

    /** Run a command to its end (at most 50 s; killed after that), with its output and without the JVM options. */
    private static Outcome runAsNobody(final List<String> command) throws IOException, InterruptedException
    {
        final ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().keySet().removeAll(List.of("JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS"));
        final Process process = builder.start();
        try
        {
            // the output is a few lines: reading it to its end before waiting cannot block the process
            final String output;
            try (InputStream in = process.getInputStream())
            {
                output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            if (!process.waitFor(50, TimeUnit.SECONDS))
            {
                return new Outcome(-1, output + " (did not end)");
            }
            return new Outcome(process.exitValue(), output);
        }
        finally
        {
            process.destroyForcibly();
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
