package io.telefork.restore;

import io.telefork.sys.CallBatch;
import io.telefork.sys.Sys;

import java.util.List;

/**
 * The vessel memory the restorer works in from step 4 to step 15: a scratch page for the arguments of
 * single injected calls, then a {@link CallBatch} area. It must outlive step 5, which unmaps the vessel's
 * own memory, and step 7, which maps the image's areas at fixed addresses, so it goes where neither
 * lies, nor the places the vDSO block passes through.
 */
final class WorkArea {
    static final int BYTES = (int) Sys.PAGE + CallBatch.AREA_BYTES;
    /** Kept clear on either side: a stack's guard gap, and room for what the kernel maps beside an area. */
    static final long MARGIN = 1L << 20;
    /** Below this, non-PIE executables and their heaps. */
    static final long LOWEST = 1L << 32;

    private WorkArea() {
    }

    /**
     * The highest page-aligned place of {@link #BYTES} in [{@link #LOWEST}, {@code highest}) that stays
     * {@link #MARGIN} away from every {start, end} range in {@code taken}: just below one of them, or
     * just above, as the kernel would place a new mapping. Throws when the address space has no such place.
     */
    static long place(List<long[]> taken, long highest) {
        long best = -1;
        for (long[] t : taken) {
            for (long candidate : new long[] {t[0] - MARGIN - BYTES, t[1] + MARGIN}) {
                if (candidate > best && fits(candidate, taken, highest)) {
                    best = candidate;
                }
            }
        }
        long top = (highest - MARGIN - BYTES) & -Sys.PAGE;
        if (top > best && fits(top, taken, highest)) {
            best = top;
        }
        if (best < 0) {
            throw new IllegalStateException("no room for the restorer's work area between the process's areas");
        }
        return best;
    }

    private static boolean fits(long at, List<long[]> taken, long highest) {
        if (at < LOWEST || at + BYTES > highest || (at & (Sys.PAGE - 1)) != 0) {
            return false;
        }
        for (long[] t : taken) {
            if (at < t[1] + MARGIN && t[0] - MARGIN < at + BYTES) {
                return false;
            }
        }
        return true;
    }
}
