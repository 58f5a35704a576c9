package io.telefork.restore;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WorkAreaTest {
    private static final long TOP = 0x7ffffffff000L;

    @Test
    void staysClearOfEveryRangeByTheMargin() {
        List<long[]> taken = List.of(
                new long[] {0x555555554000L, 0x555555560000L}, // executable
                new long[] {0x7ffff7d80000L, 0x7ffff7fc0000L}, // libraries
                new long[] {0x7ffff7fc1000L, 0x7ffff7fc5000L}, // vvar, vdso
                new long[] {0x7ffffffdd000L, 0x7ffffffff000L}); // stack, up to the top
        long at = WorkArea.place(taken, TOP);
        assertClear(at, taken);
        assertThat(at).isLessThan(0x7ffffffdd000L - WorkArea.MARGIN);
        assertThat(at % 4096).isZero();
    }

    @Test
    void takesTheHighestPlaceThatFits() {
        List<long[]> taken = List.of(new long[] {0x7f0000000000L, TOP});
        assertThat(WorkArea.place(taken, TOP)).isEqualTo(0x7f0000000000L - WorkArea.MARGIN - WorkArea.BYTES);
    }

    @Test
    void findsAGapBetweenCloseRanges() {
        List<long[]> taken = new ArrayList<>();
        long gapStart = 0x600000000000L;
        taken.add(new long[] {WorkArea.LOWEST, gapStart});
        taken.add(new long[] {gapStart + 2 * WorkArea.MARGIN + WorkArea.BYTES, TOP});
        long at = WorkArea.place(taken, TOP);
        assertThat(at).isEqualTo(gapStart + WorkArea.MARGIN);
        assertClear(at, taken);
    }

    @Test
    void refusesAFullAddressSpace() {
        List<long[]> taken = List.of(new long[] {WorkArea.LOWEST, 0x600000000000L},
                new long[] {0x600000000000L + 2 * WorkArea.MARGIN + WorkArea.BYTES - 4096, TOP});
        assertThatThrownBy(() -> WorkArea.place(taken, TOP)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("no room");
    }

    private static void assertClear(long at, List<long[]> taken) {
        for (long[] t : taken) {
            boolean clear = at + WorkArea.BYTES + WorkArea.MARGIN <= t[0] || t[1] + WorkArea.MARGIN <= at;
            assertThat(clear).as("0x%x clear of 0x%x-0x%x", at, t[0], t[1]).isTrue();
        }
    }
}
