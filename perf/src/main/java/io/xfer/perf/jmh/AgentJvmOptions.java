package io.xfer.perf.jmh;

/**
 * The JVM options every benchmark fork runs with: those of the {@code xfer-agent} launcher
 * ({@code tools/src/dist/bin/xfer-agent}) with its default memory settings, so the numbers describe the JVM that
 * ships. Agrona 2 needs {@code jdk.internal.misc} exported; the allocator sizes its pools from the memory limits.
 * Replace them with {@code -jvmArgsAppend "..."} on the JMH command line.
 */
final class AgentJvmOptions
{
    static final String ADD_EXPORTS = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED";
    static final String MAX_HEAP = "-Xmx256m";
    static final String MAX_DIRECT_MEMORY = "-XX:MaxDirectMemorySize=512m";

    private AgentJvmOptions()
    {
    }
}
