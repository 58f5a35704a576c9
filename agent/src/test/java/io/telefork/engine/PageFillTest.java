package io.telefork.engine;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class PageFillTest {

    @Test
    void autoUsesTheUserfaultfdFromItsThresholdOn() {
        assertThat(PageFill.AUTO.userfaultfd(0)).isFalse();
        assertThat(PageFill.AUTO.userfaultfd(PageFill.USERFAULTFD_FROM - 4096)).isFalse();
        assertThat(PageFill.AUTO.userfaultfd(PageFill.USERFAULTFD_FROM)).isTrue();
        assertThat(PageFill.AUTO.userfaultfd(1L << 40)).isTrue();
    }

    @Test
    void anExplicitChoiceIgnoresTheSize() {
        assertThat(PageFill.USERFAULTFD.userfaultfd(0)).isTrue();
        assertThat(PageFill.WRITE.userfaultfd(1L << 40)).isFalse();
    }

    @Test
    void optionsDefaultToAuto() {
        assertThat(RestoreOptions.defaults().fill()).isEqualTo(PageFill.AUTO);
        assertThat(new RestoreOptions(false, null, null, null, false).fill()).isEqualTo(PageFill.AUTO);
    }
}
