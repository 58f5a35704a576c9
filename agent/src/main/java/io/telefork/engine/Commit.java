package io.telefork.engine;

import java.io.IOException;

/**
 * Called by a dump once the image is completely written, before the process is killed: the place to
 * wait for a receiver to confirm that the image arrived whole. Throwing fails the dump, and the process
 * runs on as it was.
 */
@FunctionalInterface
public interface Commit {
    Commit NONE = () -> { };

    void confirm() throws IOException;
}
