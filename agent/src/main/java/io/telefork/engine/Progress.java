package io.telefork.engine;

/** Receives how many bytes of an image have been done; total is -1 while unknown. */
@FunctionalInterface
public interface Progress {
    Progress NONE = (done, total) -> { };

    void update(long done, long total);
}
