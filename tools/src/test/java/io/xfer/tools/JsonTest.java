package io.xfer.tools;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The one-line JSON objects of {@code --json}: strings escaped per RFC 8259 wherever the character needing it
 * stands, other characters (non-ASCII included) as they are, numbers, booleans and null unquoted.
 */
class JsonTest
{
    @Test
    void shouldEscapeWhatNeedsItAnywhereInAString()
    {
        assertEquals("{\"path\":\"plain/name.txt\"}", new Json().field("path", "plain/name.txt").toString());
        assertEquals("{\"path\":\"\\\"quoted\\\" and \\\\back\\\\slashed\"}",
            new Json().field("path", "\"quoted\" and \\back\\slashed").toString());
        assertEquals("{\"path\":\"a\\nb\\rc\\td\\u0001e\\u001f\"}",
            new Json().field("path", "a\nb\rc\td\u0001e\u001f").toString());
        assertEquals("{\"path\":\"\\u0000\"}", new Json().field("path", "\u0000").toString());
        assertEquals("{\"path\":\"\"}", new Json().field("path", "").toString());
        assertEquals("{\"path\":\"数据/ü\u007f\"}", new Json().field("path", "数据/ü\u007f").toString());
        assertEquals("{\"path\":null,\"bytes\":-1,\"ok\":true}",
            new Json().field("path", (String)null).field("bytes", -1L).field("ok", true).toString());
    }
}
