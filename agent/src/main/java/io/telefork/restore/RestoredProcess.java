package io.telefork.restore;

import io.telefork.engine.RestoreResult;
import io.telefork.sys.Waiter;

/** A restored process that is a child of this JVM: its result, and a way to wait for its exit. */
public final class RestoredProcess {
    private final RestoreResult result;

    RestoredProcess(RestoreResult result) {
        this.result = result;
    }

    public RestoreResult result() {
        return result;
    }

    public int pid() {
        return result.pid();
    }

    /** Waits for the process to end; returns its exit code, or 128 + the signal that killed it. */
    public int waitFor() throws InterruptedException {
        return Waiter.waitForChild(result.pid());
    }
}
