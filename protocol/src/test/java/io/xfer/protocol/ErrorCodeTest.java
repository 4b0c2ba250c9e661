package io.xfer.protocol;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ErrorCodeTest
{
    @ParameterizedTest
    @EnumSource(ErrorCode.class)
    void shouldLookUpEveryCodeByItsWireValue(final ErrorCode errorCode)
    {
        assertSame(errorCode, ErrorCode.get(errorCode.code()));
        assertFalse(errorCode.description().isEmpty());
    }

    @Test
    void shouldHaveUniqueCodes()
    {
        final Set<Integer> codes = new HashSet<>();
        for (final ErrorCode errorCode : ErrorCode.values())
        {
            assertTrue(codes.add(errorCode.code()), "duplicate code " + errorCode.code());
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {Integer.MIN_VALUE, -1, 0, 6, 99, 199, 399, 400, Integer.MAX_VALUE})
    void shouldReturnNullForUnknownCode(final int code)
    {
        assertNull(ErrorCode.get(code));
    }

    @Test
    void shouldKeepWireCodesStable()
    {
        final Map<ErrorCode, Integer> expected = new LinkedHashMap<>();
        expected.put(ErrorCode.PROTOCOL_ERROR, 1);
        expected.put(ErrorCode.UNSUPPORTED_VERSION, 2);
        expected.put(ErrorCode.UNKNOWN_FRAME_TYPE, 3);
        expected.put(ErrorCode.FRAME_TOO_LONG, 4);
        expected.put(ErrorCode.UNEXPECTED_FRAME, 5);
        expected.put(ErrorCode.ACCESS_DENIED, 100);
        expected.put(ErrorCode.NO_SUCH_MODULE, 101);
        expected.put(ErrorCode.NOT_FOUND, 102);
        expected.put(ErrorCode.INVALID_PATH, 103);
        expected.put(ErrorCode.EXISTS, 104);
        expected.put(ErrorCode.IO_ERROR, 200);
        expected.put(ErrorCode.NO_SPACE, 201);
        expected.put(ErrorCode.CHECKSUM_MISMATCH, 202);
        expected.put(ErrorCode.DIGEST_MISMATCH, 203);
        expected.put(ErrorCode.SOURCE_CHANGED, 204);
        expected.put(ErrorCode.SOURCE_VANISHED, 205);
        expected.put(ErrorCode.PERMISSION_DENIED, 206);
        expected.put(ErrorCode.UNSUPPORTED_FILE_TYPE, 207);
        expected.put(ErrorCode.INTERNAL, 300);
        expected.put(ErrorCode.SHUTTING_DOWN, 301);
        expected.put(ErrorCode.TIMEOUT, 302);
        expected.put(ErrorCode.UNKNOWN_SESSION, 303);
        expected.put(ErrorCode.LIMIT_EXCEEDED, 304);

        assertEquals(expected.size(), ErrorCode.values().length, "a new code needs a line here and in PROTOCOL.md");
        expected.forEach((errorCode, code) -> assertEquals(code, errorCode.code(), errorCode.name()));
    }
}
