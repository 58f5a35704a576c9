package io.telefork.engine;

import java.lang.System.Logger.Level;

/** Logs how long each numbered step of a dump or restore took (shown with {@code -vv}). */
public final class StepClock {
    private static final System.Logger LOG = System.getLogger("io.telefork.steps");

    private final String operation;
    private long last = System.nanoTime();

    public StepClock(String operation) {
        this.operation = operation;
    }

    /** Ends the step that was running and logs its duration. */
    public void lap(String step) {
        long now = System.nanoTime();
        if (LOG.isLoggable(Level.DEBUG)) {
            LOG.log(Level.DEBUG, String.format("%s: %-28s %8.2f ms", operation, step, (now - last) / 1e6));
        }
        last = now;
    }
}
