package io.telefork.engine;

import java.io.IOException;

/**
 * Called by a dump once the image is completely written, before the process is killed: the place to
 * wait for a receiver to confirm that the image arrived whole. Throwing fails the dump, and the process
 * runs on as it was, unless {@link #copyMayRun()}.
 */
@FunctionalInterface
public interface Commit {
    Commit NONE = () -> { };

    void confirm() throws IOException;

    /**
     * Whether the receiver may already run a copy from what it has received (a lazy restore from the
     * stream) and has not said that the copy is dead. A dump that fails then leaves the process stopped
     * (SIGSTOP) instead of resuming it, so that two of it never run; whoever knows better resumes
     * (SIGCONT) or kills it.
     */
    default boolean copyMayRun() {
        return false;
    }
}
