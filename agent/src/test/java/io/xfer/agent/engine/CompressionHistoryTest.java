package io.xfer.agent.engine;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CompressionHistoryTest
{
    @Test
    void slotsGoByTheLastExtensionOfTheNameWhateverItsCase()
    {
        assertEquals(CompressionHistory.slot("a/IMG_0001.JPG"), CompressionHistory.slot("b/c/holiday.jpg"));
        assertEquals(CompressionHistory.slot("backup.tar.gz"), CompressionHistory.slot("x.gz"));
        assertNotEquals(CompressionHistory.slot("app.log"), CompressionHistory.slot("photo.jpg"));
        // no extension: a dot in a directory's name does not count
        assertEquals(0, CompressionHistory.slot("Makefile"));
        assertEquals(0, CompressionHistory.slot("conf.d/Makefile"));
        assertEquals(0, CompressionHistory.slot(""));
    }

    @Test
    void firstChunksThatDoNotShrinkAreSkippedOneTwoFourUpToTheCapBetweenTries()
    {
        final CompressionHistory history = new CompressionHistory();
        final int slot = CompressionHistory.slot("f.bin");
        final List<Integer> skippedBetweenTries = new ArrayList<>();
        for (int tries = 0; tries < 9; tries++)
        {
            assertFalse(history.skipFirstChunk(slot), "try " + tries);
            history.tried(slot, false);
            int skipped = 0;
            while (history.skipFirstChunk(slot))
            {
                skipped++;
            }
            skippedBetweenTries.add(skipped);
        }
        assertEquals(List.of(1, 2, 4, 8, 16, 32, 64, 64, 64), skippedBetweenTries);
    }

    @Test
    void aFirstChunkThatShrinksEndsTheBackOffAndOtherExtensionsAreLeftAlone()
    {
        final CompressionHistory history = new CompressionHistory();
        final int photos = CompressionHistory.slot("a.jpg");
        final int logs = CompressionHistory.slot("a.log");
        history.tried(photos, false);
        history.tried(logs, true);
        assertFalse(history.skipFirstChunk(logs));
        assertTrue(history.skipFirstChunk(photos));
        assertFalse(history.skipFirstChunk(photos));
        history.tried(photos, false);
        assertTrue(history.skipFirstChunk(photos));
        history.tried(photos, true);
        assertFalse(history.skipFirstChunk(photos), "one that shrank: the next is tried");
        history.tried(photos, false);
        assertTrue(history.skipFirstChunk(photos), "and the back-off starts again at one");
        assertFalse(history.skipFirstChunk(photos));
    }
}
