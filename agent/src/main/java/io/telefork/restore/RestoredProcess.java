package io.telefork.restore;

import io.telefork.engine.RestoreResult;
import io.telefork.sys.Waiter;

/** A restored process that is a child of this JVM: its result, and a way to wait for its exit. */
public final class RestoredProcess {
    private final RestoreResult result;
    /** Its status when it ended while this restorer still traced it (a lazy restore reaped it), else null. */
    private final Integer endedWith;

    RestoredProcess(RestoreResult result) {
        this(result, null);
    }

    RestoredProcess(RestoreResult result, Integer endedWith) {
        this.result = result;
        this.endedWith = endedWith;
    }

    public RestoreResult result() {
        return result;
    }

    public int pid() {
        return result.pid();
    }

    /** Waits for the process to end; returns its exit code, or 128 + the signal that killed it. */
    public int waitFor() throws InterruptedException {
        if (endedWith != null) {
            return endedWith;
        }
        return Waiter.waitForChild(result.pid());
    }
}
