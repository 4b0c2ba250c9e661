/**
 * JMH microbenchmarks of xfer's data path, each named by what it measures:
 * <ul>
 *   <li>{@link io.xfer.perf.jmh.FrameCodecBenchmark}: DATA headers and FILE_ENTRY frames encoded, and decoded by
 *   {@link io.xfer.protocol.FrameDecoder}, per second; DATA frames also as they arrive from TLS, in 16 KiB
 *   records that the decoder must reassemble.</li>
 *   <li>{@link io.xfer.perf.jmh.Lz4ChunkBenchmark}: LZ4 (JNI) compress and safe decompress of a chunk, random and
 *   log-like data.</li>
 *   <li>{@link io.xfer.perf.jmh.ChecksumBenchmark}: CRC32C (what DATA frames carry), CRC32 and XXHash64 over a
 *   chunk.</li>
 *   <li>{@link io.xfer.perf.jmh.ChunkHandoffBenchmark}: one producer handing chunks to one consumer through Agrona
 *   queues, {@code ArrayBlockingQueue} and Agrona ring buffers carrying descriptors or the payload itself.</li>
 * </ul>
 * Payloads sit in direct buffers; chunks are 1 MiB (the agent's default) and 64 KiB ({@code chunkLength}).
 *
 * <h2>Build and run</h2>
 * The module's build makes {@code perf/target/xfer-benchmarks.jar} (JMH and every dependency but BouncyCastle):
 * <pre>
 * mvn -B -q install -DskipTests                # or: mvn -B -q package -DskipTests -pl perf -am
 * java -jar perf/target/xfer-benchmarks.jar    # everything, as configured below: about 30 minutes
 * java -jar perf/target/xfer-benchmarks.jar -l # list the benchmarks (-lp: with their parameters)
 * </pre>
 * Each benchmark defaults to 2 forks, 3 warm-up and 5 measured iterations of 2 s, in forks started with the
 * {@code xfer-agent} launcher's JVM options ({@link io.xfer.perf.jmh.AgentJvmOptions}). Usual variations:
 * <pre>
 * java -jar perf/target/xfer-benchmarks.jar Lz4ChunkBenchmark -p chunkLength=1048576 -p data=compressible
 * java -jar perf/target/xfer-benchmarks.jar -f 1 -wi 2 -w 1s -i 3 -r 1s    # a quick check that all runs
 * java -jar perf/target/xfer-benchmarks.jar FrameCodecBenchmark -prof gc   # heap bytes per op (B/op)
 * java -jar perf/target/xfer-benchmarks.jar -rf json -rff jmh-result.json  # machine-readable results
 * </pre>
 *
 * <h2>Reading the results</h2>
 * All scores are throughput per second (JMH prints "ops/s"):
 * <ul>
 *   <li>FrameCodecBenchmark: frames/s (decode counts every frame of a batch; encode one frame per op).</li>
 *   <li>Lz4ChunkBenchmark and ChecksumBenchmark: chunks/s; the {@code :megabytes} line is MB/s (10^6 bytes).</li>
 *   <li>ChunkHandoffBenchmark: read the consumer's line ({@code :...Poll} or {@code :...Read}), chunks handed over
 *   per second; the group score counts both sides, twice that. {@code idle=spin} needs two free cores; on a
 *   busy or small host only {@code idle=yield} gives meaningful figures.</li>
 * </ul>
 *
 * <h2>First figures</h2>
 * From a quick check ({@code -f 1 -wi 2 -w 1s -i 3 -r 1s}) on the 2-core development machine (AMD EPYC with
 * AVX-512, JDK 17.0.15) while other work kept its load average at 3 to 7: they show the orders of magnitude,
 * with error bars of tens of percent (more for the hand-off), and are not baselines: rerun on a quiet host with
 * the defaults for those. A stream of 2.2 GB/s (the TLS ceiling here) is about 2,100 chunks/s of 1 MiB.
 * <pre>
 * benchmark                                    1 MiB chunks           64 KiB chunks
 * FrameCodecBenchmark, frames/s
 *   encodeDataHeader                                10.2 M                 11.5 M
 *   encodeFileEntry                                 10.0 M                  9.0 M
 *   decodeDataFrames                                17.2 M                 17.5 M
 *   decodeDataFramesFromTlsRecords                   6.0 k (6.3 GB/s)     294 k (19 GB/s)
 *   decodeFileEntryFrames (no chunk in it)           7.1 M                  7.3 M
 * Lz4ChunkBenchmark, MB/s of uncompressed bytes
 *   compress incompressible                       31,800                 22,900
 *   compress compressible (ratio 3.6, 3.4)           990                  2,140
 *   decompress incompressible                     48,300                 70,000
 *   decompress compressible                        7,050                  8,020
 * ChecksumBenchmark, MB/s
 *   crc32c                                        59,900                 60,500
 *   crc32                                         58,400                 59,600
 *   xxHash64                                      22,100                 21,700
 * ChunkHandoffBenchmark, chunks/s handed over, idle=yield (spin: anywhere from 4 k to 43 M here)
 *   oneToOneQueue                                   12.1 M                 12.5 M
 *   manyToManyQueue                                 11.4 M                 10.2 M
 *   arrayBlockingQueue                               6.2 M                  3.9 M
 *   ringBufferDescriptor                             9.8 M                 14.1 M
 *   ringBufferSmallPayload (1 KiB records)          30.0 M                  8.7 M
 *   ringBufferChunkPayload                          18.4 k (19 GB/s)      832 k (55 GB/s)
 * </pre>
 * What they say so far: the codec and the descriptor hand-off, whichever queue, run thousands of times faster than
 * a stream needs; what costs is moving bytes. Reassembling 1 MiB DATA frames from TLS records (a copy
 * into a cumulation buffer that doubles, and fresh zeroed pool chunks for it) takes about a third of a core at
 * 2.2 GB/s; a byte ring's memcpy of the payload about a tenth; LZ4 on log-like 1 MiB chunks runs at about
 * 1 GB/s, below one stream's rate, and twice that on chunks of 64 KiB or less (LZ4's small-input path); trying
 * LZ4 on incompressible data is cheap (it skips ahead when it finds no matches); CRC32C costs a few percent of a
 * core, and XXHash64 runs at a third of its speed here.
 */
package io.xfer.perf.jmh;
