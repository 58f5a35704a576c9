package io.telefork.engine;

import static org.assertj.core.api.Assertions.assertThatCode;

import org.junit.jupiter.api.Test;

class EngineWarmUpTest {

    /** Every codec writes and reads back a one-page image, END digest verified, without a process. */
    @Test
    void warmUpRoundTripsAnImageWithEveryCodec() {
        assertThatCode(() -> new Engine().warmUpCodecs()).doesNotThrowAnyException();
    }
}
