package io.telefork.cli;

import io.telefork.engine.Progress;
import io.telefork.sys.Kernel;

import java.io.PrintStream;

/**
 * "123.4 / 2048.0 MiB  1.9 GB/s" on stderr, redrawn in place, for operations that last more than a
 * second and only when stderr is a terminal (a log file would fill with carriage returns).
 */
final class ProgressLine implements Progress {
    private static final long FIRST_AFTER_NANOS = 1_000_000_000L;
    private static final long EVERY_NANOS = 200_000_000L;

    private final PrintStream err;
    private final String verb;
    private final long start = System.nanoTime();
    private final boolean enabled;
    private long last;
    private boolean shown;

    ProgressLine(PrintStream err, String verb) {
        this.err = err;
        this.verb = verb;
        this.enabled = Kernel.isatty(2);
    }

    @Override
    public void update(long done, long total) {
        if (!enabled) {
            return;
        }
        long now = System.nanoTime();
        if (now - start < FIRST_AFTER_NANOS || now - last < EVERY_NANOS) {
            return;
        }
        last = now;
        shown = true;
        double seconds = (now - start) / 1e9;
        String of = total > 0 ? String.format(" / %.1f", total / 1048576.0) : "";
        err.printf("\r%s %.1f%s MiB  %.2f GB/s   ", verb, done / 1048576.0, of, done / seconds / 1e9);
        err.flush();
    }

    void end() {
        if (shown) {
            err.print("\r\033[K");
            err.flush();
        }
    }
}
