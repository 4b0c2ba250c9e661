package io.xfer.agent.net;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.xfer.agent.engine.ChunkDigest;
import io.xfer.agent.storage.FileMetadata;
import io.xfer.agent.tls.Pem;
import io.xfer.protocol.Capabilities;
import io.xfer.protocol.DataFlyweight;
import io.xfer.protocol.ErrorCode;
import io.xfer.protocol.ErrorFlyweight;
import io.xfer.protocol.FileEndFlyweight;
import io.xfer.protocol.FileEntryFlyweight;
import io.xfer.protocol.FileStatusFlyweight;
import io.xfer.protocol.FrameType;
import io.xfer.protocol.HelloFlyweight;
import io.xfer.protocol.OpenAckFlyweight;
import io.xfer.protocol.OpenFlyweight;
import io.xfer.protocol.ProtocolVersion;
import io.xfer.protocol.TransferDoneFlyweight;
import io.xfer.protocol.TransferEndFlyweight;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A hand-driven sender over a real TLS socket feeds the agent's receiver compressed chunks that lie: garbage that is
 * not LZ4, a valid LZ4 block whose content does not match its checksum, and a block that claims to decompress to more
 * than the chunk may hold. Each is rejected and nothing of it is ever written; a correct compressed file in the same
 * transfer still commits. The same for content carried in FILE_ENTRY (INLINE_DATA): what does not verify is dropped
 * and asked for as DATA, and content for a file the receiver skips is never written.
 */
class CompressedChunkIntegrityTest
{
    private static final String MODULE = "lz4";
    private static final int FILE_SIZE = 8192;

    @TempDir
    Path work;

    private TestAgent agent;
    private TestPki pki;
    private Path moduleRoot;
    private final UnpooledByteBufAllocator alloc = UnpooledByteBufAllocator.DEFAULT;
    private final LZ4Compressor compressor = LZ4Factory.fastestInstance().fastCompressor();

    @BeforeEach
    void start() throws Exception
    {
        pki = TestPki.create(work.resolve("pki"));
        moduleRoot = Files.createDirectories(work.resolve("module"));
        agent = TestAgent.with(pki).module(MODULE, moduleRoot, Set.of("alice"), Set.of("alice")).start();
    }

    @AfterEach
    void stop()
    {
        agent.close();
    }

    @Test
    @Timeout(30)
    void shouldRejectCorruptCompressedChunksAndCommitTheGoodFile() throws Exception
    {
        final byte[] content = text(FILE_SIZE);
        final byte[] other = text(FILE_SIZE);
        other[100] ^= 1;

        try (RawSender sender = new RawSender())
        {
            sender.handshake();

            // 0: a payload that is not an LZ4 block at all
            sender.send(FileEntryFlyweight.encode(alloc, 0, FileEntryFlyweight.TYPE_FILE, 0644, FILE_SIZE, 0,
                "garbage.bin", ""));
            assertStatus(sender.next(), 0, FileStatusFlyweight.SEND, 0);
            final byte[] garbage = new byte[300];
            Arrays.fill(garbage, (byte)0xF7);
            sendUntilFailed(sender, 0, garbage, crc(content));

            // 1: a valid LZ4 block of other bytes than the checksum describes
            sender.send(FileEntryFlyweight.encode(alloc, 1, FileEntryFlyweight.TYPE_FILE, 0644, FILE_SIZE, 0,
                "mismatch.bin", ""));
            assertStatus(sender.nextSkippingAcks(), 1, FileStatusFlyweight.SEND, 0);
            sendUntilFailed(sender, 1, lz4(other), crc(content));

            // 2: a correct compressed file
            sender.send(FileEntryFlyweight.encode(alloc, 2, FileEntryFlyweight.TYPE_FILE, 0644, FILE_SIZE, 0,
                "good.bin", ""));
            assertStatus(sender.nextSkippingAcks(), 2, FileStatusFlyweight.SEND, 0);
            sender.sendData(2, 0, FILE_SIZE, crc(content), lz4(content));
            final ChunkDigest digest = new ChunkDigest();
            digest.add(0, crc(content));
            sender.send(FileEndFlyweight.encode(alloc, 2, FileEndFlyweight.DIGEST_CHUNK_ROOT, FILE_SIZE, 0,
                digest.finish()));
            assertStatus(sender.nextSkippingAcks(), 2, FileStatusFlyweight.COMMITTED, 0);

            sender.send(TransferEndFlyweight.encode(alloc, 3, FILE_SIZE));
            final ByteBuf done = sender.nextSkippingAcks();
            try
            {
                assertEquals(FrameType.TRANSFER_DONE, type(done));
                final TransferDoneFlyweight transferDone = new TransferDoneFlyweight();
                transferDone.wrap(done, 0);
                assertEquals(ErrorCode.CHECKSUM_MISMATCH.code(), transferDone.status());
                assertEquals(1, transferDone.committed());
                assertEquals(2, transferDone.failed());
            }
            finally
            {
                done.release();
            }
        }

        assertArrayEquals(content, Files.readAllBytes(moduleRoot.resolve("good.bin")));
        assertFalse(Files.exists(moduleRoot.resolve("garbage.bin")), "a corrupt chunk is never written");
        assertFalse(Files.exists(moduleRoot.resolve("mismatch.bin")), "a corrupt chunk is never written");
        try (Stream<Path> files = Files.list(moduleRoot))
        {
            assertEquals(List.of("good.bin"), files.map(p -> p.getFileName().toString()).toList());
        }
    }

    @Test
    @Timeout(30)
    void shouldRejectCompressedChunkClaimingMoreThanTheChunkHolds() throws Exception
    {
        try (RawSender sender = new RawSender())
        {
            sender.handshake();
            sender.send(FileEntryFlyweight.encode(alloc, 0, FileEntryFlyweight.TYPE_FILE, 0644, FILE_SIZE, 0,
                "bomb.bin", ""));
            assertStatus(sender.next(), 0, FileStatusFlyweight.SEND, 0);
            // a tiny block of zeros that would expand to 16 MiB: the raw length is checked before anything is
            // allocated or decompressed
            final int claimed = 16 << 20;
            sender.sendData(0, 0, claimed, 0, lz4(new byte[claimed]));
            assertProtocolError(sender.nextSkippingAcks());
        }
        try (Stream<Path> files = Files.list(moduleRoot))
        {
            assertEquals(0, files.count(), "nothing written");
        }
    }

    @Test
    @Timeout(30)
    void shouldAskAgainForADamagedChunkAndCommitWhenItArrivesIntact() throws Exception
    {
        final byte[] content = text(FILE_SIZE);
        try (RawSender sender = new RawSender())
        {
            sender.handshake();
            sender.send(FileEntryFlyweight.encode(alloc, 0, FileEntryFlyweight.TYPE_FILE, 0644, FILE_SIZE, 0,
                "retried.bin", ""));
            assertStatus(sender.next(), 0, FileStatusFlyweight.SEND, 0);
            final byte[] damaged = content.clone();
            damaged[4000] ^= 0x10;
            sender.sendData(0, 0, FILE_SIZE, crc(content), lz4(damaged));
            assertResend(sender.nextSkippingAcks(), 0, 0);
            sender.sendData(0, 0, FILE_SIZE, crc(content), lz4(content));
            final ChunkDigest digest = new ChunkDigest();
            digest.add(0, crc(content));
            sender.send(FileEndFlyweight.encode(alloc, 0, FileEndFlyweight.DIGEST_CHUNK_ROOT, FILE_SIZE, 0,
                digest.finish()));
            assertStatus(sender.nextSkippingAcks(), 0, FileStatusFlyweight.COMMITTED, 0);
        }
        assertArrayEquals(content, Files.readAllBytes(moduleRoot.resolve("retried.bin")));
    }

    @Test
    @Timeout(30)
    void shouldCommitInlineContentWithItsVerdictAloneAndAskForDamagedContentAsData() throws Exception
    {
        final byte[] content = text(FILE_SIZE);
        final byte[] damaged = content.clone();
        damaged[1000] ^= 0x20;
        final long mtimeNs = 1_700_000_000_123_456_000L;
        final ByteBuf raw = Unpooled.wrappedBuffer(content);
        final ByteBuf packed = Unpooled.wrappedBuffer(lz4(content));
        final ByteBuf packedDamaged = Unpooled.wrappedBuffer(lz4(damaged));
        final ByteBuf garbage = Unpooled.wrappedBuffer(new byte[] {(byte)0xF7, (byte)0xF7, (byte)0xF7, 1, 2, 3});
        try (RawSender sender = new RawSender())
        {
            sender.handshake(Capabilities.LZ4 | Capabilities.INLINE_DATA);

            // 0: raw content, 1: LZ4 content: committed, with no SEND before
            sender.send(FileEntryFlyweight.encodeInline(alloc, 0, 0640, FILE_SIZE, mtimeNs, "raw.txt", 0,
                crc(content), raw, 0, content.length));
            assertStatus(sender.next(), 0, FileStatusFlyweight.COMMITTED, 0);
            sender.send(FileEntryFlyweight.encodeInline(alloc, 1, 0644, FILE_SIZE, mtimeNs, "packed.txt",
                FileEntryFlyweight.FLAG_LZ4, crc(content), packed, 0, packed.readableBytes()));
            assertStatus(sender.next(), 1, FileStatusFlyweight.COMMITTED, 0);

            // 2: a valid LZ4 block of other bytes, 3: not LZ4 at all: dropped, and the data asked for
            sender.send(FileEntryFlyweight.encodeInline(alloc, 2, 0644, FILE_SIZE, mtimeNs, "damaged.txt",
                FileEntryFlyweight.FLAG_LZ4, crc(content), packedDamaged, 0, packedDamaged.readableBytes()));
            assertStatus(sender.next(), 2, FileStatusFlyweight.SEND, 0);
            sender.send(FileEntryFlyweight.encodeInline(alloc, 3, 0644, FILE_SIZE, mtimeNs, "garbage.txt",
                FileEntryFlyweight.FLAG_LZ4, crc(content), garbage, 0, garbage.readableBytes()));
            assertStatus(sender.next(), 3, FileStatusFlyweight.SEND, 0);
            assertFalse(Files.exists(moduleRoot.resolve("damaged.txt")), "damaged content is never written");

            // the damaged one arrives intact the usual way
            sender.sendData(2, 0, FILE_SIZE, crc(content), lz4(content));
            final ChunkDigest digest = new ChunkDigest();
            digest.add(0, crc(content));
            sender.send(FileEndFlyweight.encode(alloc, 2, FileEndFlyweight.DIGEST_CHUNK_ROOT, FILE_SIZE, mtimeNs,
                digest.finish()));
            assertStatus(sender.nextSkippingAcks(), 2, FileStatusFlyweight.COMMITTED, 0);

            // 4: content for a file the destination already holds identical: skipped, nothing rewritten
            final Path existing = moduleRoot.resolve("raw.txt");
            final byte[] other = text(FILE_SIZE);
            other[0] = 'X';
            sender.send(FileEntryFlyweight.encodeInline(alloc, 4, 0640, FILE_SIZE, mtimeNs, "raw.txt", 0,
                crc(other), Unpooled.wrappedBuffer(other), 0, other.length));
            assertStatus(sender.nextSkippingAcks(), 4, FileStatusFlyweight.SKIPPED, 0);
            assertArrayEquals(content, Files.readAllBytes(existing));
        }
        assertArrayEquals(content, Files.readAllBytes(moduleRoot.resolve("raw.txt")));
        assertEquals(0640, FileMetadata.readMode(moduleRoot.resolve("raw.txt")));
        assertEquals(mtimeNs, Files.getLastModifiedTime(moduleRoot.resolve("raw.txt")).to(TimeUnit.NANOSECONDS));
        assertArrayEquals(content, Files.readAllBytes(moduleRoot.resolve("packed.txt")));
        assertArrayEquals(content, Files.readAllBytes(moduleRoot.resolve("damaged.txt")));
    }

    @Test
    @Timeout(30)
    void shouldDropInlineContentThatWouldDecompressPastItsSizeOrGoesToAFileThatDiffers() throws Exception
    {
        final byte[] content = text(FILE_SIZE);
        final byte[] zeros = new byte[1 << 20];
        final ByteBuf bomb = Unpooled.wrappedBuffer(lz4(zeros));
        Files.write(moduleRoot.resolve("differs.txt"), new byte[] {1, 2, 3});
        try (RawSender sender = new RawSender())
        {
            sender.handshake(Capabilities.LZ4 | Capabilities.INLINE_DATA);
            // a block of 1 MiB of zeros for a file of 100 bytes: decompression stops at 100, and it is damaged
            sender.send(FileEntryFlyweight.encodeInline(alloc, 0, 0644, 100, 0, "bomb.bin",
                FileEntryFlyweight.FLAG_LZ4, crc(new byte[100]), bomb, 0, bomb.readableBytes()));
            assertStatus(sender.next(), 0, FileStatusFlyweight.SEND, 0);
            // content for a name that holds another file, without OVERWRITE: refused, and the file left alone
            sender.send(FileEntryFlyweight.encodeInline(alloc, 1, 0644, FILE_SIZE, 0, "differs.txt", 0,
                crc(content), Unpooled.wrappedBuffer(content), 0, content.length));
            assertStatus(sender.next(), 1, FileStatusFlyweight.REFUSED, ErrorCode.EXISTS.code());
        }
        assertFalse(Files.exists(moduleRoot.resolve("bomb.bin")), "nothing of it is written");
        assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(moduleRoot.resolve("differs.txt")));
    }

    @Test
    @Timeout(30)
    void shouldRejectInlineContentThatWasNotNegotiatedEvenForAFileItWouldSkip() throws Exception
    {
        final byte[] content = text(100);
        Files.write(moduleRoot.resolve("same.txt"), content);
        Files.setLastModifiedTime(moduleRoot.resolve("same.txt"), java.nio.file.attribute.FileTime.fromMillis(0));
        try (RawSender sender = new RawSender())
        {
            sender.handshake(Capabilities.LZ4);
            sender.send(FileEntryFlyweight.encodeInline(alloc, 0, 0644, content.length, 0, "same.txt", 0,
                crc(content), Unpooled.wrappedBuffer(content), 0, content.length));
            assertProtocolError(sender.nextSkippingAcks());
        }
    }

    @Test
    @Timeout(30)
    void shouldRejectInlineContentOfMoreThanOneChunkOrCompressedWithoutLz4() throws Exception
    {
        final byte[] content = text(8192);
        try (RawSender sender = new RawSender())
        {
            sender.handshake(Capabilities.LZ4 | Capabilities.INLINE_DATA, 4096);
            sender.send(FileEntryFlyweight.encodeInline(alloc, 0, 0644, content.length, 0, "two-chunks.txt", 0,
                crc(content), Unpooled.wrappedBuffer(content), 0, content.length));
            assertProtocolError(sender.nextSkippingAcks());
        }
        final ByteBuf packed = Unpooled.wrappedBuffer(lz4(content));
        try (RawSender sender = new RawSender())
        {
            sender.handshake(Capabilities.INLINE_DATA);
            sender.send(FileEntryFlyweight.encodeInline(alloc, 0, 0644, content.length, 0, "packed.txt",
                FileEntryFlyweight.FLAG_LZ4, crc(content), packed, 0, packed.readableBytes()));
            assertProtocolError(sender.nextSkippingAcks());
        }
        try (Stream<Path> files = Files.list(moduleRoot))
        {
            assertEquals(0, files.count(), "nothing written");
        }
    }

    /** Send a damaged chunk until the receiver gives up: it asks again a bounded number of times, then fails. */
    private void sendUntilFailed(final RawSender sender, final int fileId, final byte[] payload, final int checksum)
        throws IOException
    {
        for (int attempt = 1; attempt <= 3; attempt++)
        {
            sender.sendData(fileId, 0, FILE_SIZE, checksum, payload);
            assertResend(sender.nextSkippingAcks(), fileId, 0);
        }
        sender.sendData(fileId, 0, FILE_SIZE, checksum, payload);
        assertFailedWithChecksumMismatch(sender.nextSkippingAcks(), fileId);
    }

    private static void assertResend(final ByteBuf frame, final int fileId, final long offset)
    {
        try
        {
            assertEquals(FrameType.FILE_STATUS, type(frame), () -> "got " + FrameType.name(type(frame)));
            final FileStatusFlyweight fileStatus = new FileStatusFlyweight();
            fileStatus.wrap(frame, 0);
            assertEquals(fileId, fileStatus.fileId());
            assertEquals(FileStatusFlyweight.RESEND, fileStatus.status(), fileStatus.message());
            assertEquals(offset, fileStatus.fileOffset());
            assertEquals(ErrorCode.CHECKSUM_MISMATCH.code(), fileStatus.errorCode());
        }
        finally
        {
            frame.release();
        }
    }

    private byte[] lz4(final byte[] raw)
    {
        return compressor.compress(raw);
    }

    private static int crc(final byte[] bytes)
    {
        final CRC32C crc = new CRC32C();
        crc.update(bytes);
        return (int)crc.getValue();
    }

    private static byte[] text(final int size)
    {
        final StringBuilder text = new StringBuilder();
        for (int i = 0; text.length() < size; i++)
        {
            text.append("line ").append(i).append(" of a compressible file\n");
        }
        return Arrays.copyOf(text.toString().getBytes(StandardCharsets.US_ASCII), size);
    }

    private static int type(final ByteBuf frame)
    {
        return frame.getUnsignedByte(4 + 1);
    }

    private static void assertStatus(final ByteBuf frame, final int fileId, final int status, final int errorCode)
    {
        try
        {
            assertEquals(FrameType.FILE_STATUS, type(frame), () -> "got " + FrameType.name(type(frame)));
            final FileStatusFlyweight fileStatus = new FileStatusFlyweight();
            fileStatus.wrap(frame, 0);
            assertEquals(fileId, fileStatus.fileId());
            assertEquals(status, fileStatus.status(), fileStatus.message());
            assertEquals(errorCode, fileStatus.errorCode(), fileStatus.message());
        }
        finally
        {
            frame.release();
        }
    }

    /** A connection error PROTOCOL_ERROR. */
    private static void assertProtocolError(final ByteBuf error)
    {
        try
        {
            assertEquals(FrameType.ERROR, type(error));
            final ErrorFlyweight flyweight = new ErrorFlyweight();
            flyweight.wrap(error, 0);
            assertEquals(ErrorCode.PROTOCOL_ERROR.code(), flyweight.code(), flyweight.message());
            assertEquals(ErrorFlyweight.CONNECTION, flyweight.fileId());
        }
        finally
        {
            error.release();
        }
    }

    private static void assertFailedWithChecksumMismatch(final ByteBuf frame, final int fileId)
    {
        assertStatus(frame, fileId, FileStatusFlyweight.FAILED, ErrorCode.CHECKSUM_MISMATCH.code());
    }

    /** A sender driven by hand over a JDK TLS socket with the alice certificate. */
    private final class RawSender implements AutoCloseable
    {
        private final SSLSocket socket;
        private final OutputStream out;
        private final DataInputStream in;

        RawSender() throws Exception
        {
            final TestPki.Credentials alice = pki.client("alice");
            final KeyStore keys = KeyStore.getInstance("PKCS12");
            keys.load(null, null);
            keys.setKeyEntry("alice", Pem.readPrivateKey(alice.privateKey()), new char[0],
                Pem.readCertificates(alice.certificate()).toArray(new X509Certificate[0]));
            final KeyManagerFactory keyManagers = KeyManagerFactory.getInstance(
                KeyManagerFactory.getDefaultAlgorithm());
            keyManagers.init(keys, new char[0]);
            final KeyStore trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            trust.setCertificateEntry("ca", Pem.readCertificates(pki.caCertificate()).get(0));
            final TrustManagerFactory trustManagers = TrustManagerFactory.getInstance(
                TrustManagerFactory.getDefaultAlgorithm());
            trustManagers.init(trust);
            final SSLContext context = SSLContext.getInstance("TLSv1.3");
            context.init(keyManagers.getKeyManagers(), trustManagers.getTrustManagers(), null);
            socket = (SSLSocket)context.getSocketFactory().createSocket("localhost", agent.port());
            socket.setSoTimeout(10_000);
            socket.startHandshake();
            out = socket.getOutputStream();
            in = new DataInputStream(socket.getInputStream());
        }

        void handshake() throws IOException
        {
            handshake(Capabilities.LZ4);
        }

        void handshake(final long capabilities) throws IOException
        {
            handshake(capabilities, 64 * 1024);
        }

        void handshake(final long capabilities, final int chunkLength) throws IOException
        {
            send(HelloFlyweight.encode(alloc, HelloFlyweight.KIND_CONTROL, capabilities, 0, 0,
                ProtocolVersion.MAX_FRAME_LENGTH, "raw-sender"));
            final ByteBuf welcome = next();
            assertEquals(FrameType.WELCOME, type(welcome));
            welcome.release();
            send(OpenFlyweight.encode(alloc, OpenFlyweight.DIRECTION_PUSH, 1, 0, chunkLength, MODULE, "", ""));
            final ByteBuf ack = next();
            try
            {
                assertEquals(FrameType.OPEN_ACK, type(ack), () -> "got " + FrameType.name(type(ack)));
                final OpenAckFlyweight openAck = new OpenAckFlyweight();
                openAck.wrap(ack, 0);
                assertEquals(Math.max(chunkLength, 4096), openAck.chunkLength());
            }
            finally
            {
                ack.release();
            }
        }

        void send(final ByteBuf frame) throws IOException
        {
            try
            {
                final byte[] bytes = new byte[frame.readableBytes()];
                frame.readBytes(bytes);
                out.write(bytes);
                out.flush();
            }
            finally
            {
                frame.release();
            }
        }

        void sendData(final int fileId, final long offset, final int rawLength, final int checksum,
            final byte[] compressed) throws IOException
        {
            send(DataFlyweight.encodeHeader(alloc, DataFlyweight.FLAG_LZ4, fileId, offset, rawLength, checksum,
                compressed.length));
            out.write(compressed);
            out.flush();
        }

        ByteBuf next() throws IOException
        {
            final int length = in.readInt();
            final byte[] frame = new byte[length];
            frame[0] = (byte)(length >>> 24);
            frame[1] = (byte)(length >>> 16);
            frame[2] = (byte)(length >>> 8);
            frame[3] = (byte)length;
            in.readFully(frame, 4, length - 4);
            return Unpooled.wrappedBuffer(frame);
        }

        ByteBuf nextSkippingAcks() throws IOException
        {
            while (true)
            {
                final ByteBuf frame = next();
                if (type(frame) != FrameType.CHUNK_ACK && type(frame) != FrameType.PING)
                {
                    return frame;
                }
                frame.release();
            }
        }

        @Override
        public void close() throws IOException
        {
            try
            {
                socket.close();
            }
            catch (final EOFException ignore)
            {
                // the agent closed first
            }
        }
    }
}
