package io.xfer.protocol;

import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProtocolVersionTest
{
    @ParameterizedTest(name = "peer [{0}, {1}] -> {2}")
    @CsvSource({
        "1, 1, 1",
        "1, 5, 1",
        "0, 1, 1",
        "0, 255, 1",
        "2, 3, -1",
        "2, 255, -1",
        "0, 0, -1",
        "2, 1, -1",
        "1, 0, -1"
    })
    void shouldNegotiateHighestCommonVersion(final int peerMin, final int peerMax, final int expected)
    {
        assertEquals(expected, ProtocolVersion.negotiate(peerMin, peerMax));
    }

    @Test
    void shouldNegotiateWithItself()
    {
        assertEquals(ProtocolVersion.MAX_SUPPORTED,
            ProtocolVersion.negotiate(ProtocolVersion.MIN_SUPPORTED, ProtocolVersion.MAX_SUPPORTED));
    }

    @Test
    void shouldSpellMagicAsXfer()
    {
        final byte[] magic = Unpooled.buffer(4).writeInt(ProtocolVersion.MAGIC).array();

        assertArrayEquals("XFER".getBytes(StandardCharsets.US_ASCII), magic);
    }

    @Test
    void shouldKeepFrameLimits()
    {
        assertEquals((16 << 20) + DataFlyweight.HEADER_LENGTH, ProtocolVersion.MAX_FRAME_LENGTH);
        assertEquals(64 * 1024, ProtocolVersion.HANDSHAKE_FRAME_LENGTH);
        assertTrue(ProtocolVersion.HANDSHAKE_FRAME_LENGTH < ProtocolVersion.MAX_FRAME_LENGTH);
    }
}
