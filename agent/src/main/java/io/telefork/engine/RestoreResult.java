package io.telefork.engine;

import java.time.Duration;

/**
 * What a restore produced.
 *
 * @param pid         the restored process (in the caller's PID namespace)
 * @param originalPid the PID the process had when it was dumped
 * @param memoryBytes bytes of page data written into it
 * @param total       wall time from the first image byte to the process running
 * @param allIn       wall time from the first image byte to every page in: {@code total} unless the
 *                    restore was lazy, when the process ran before its memory was all in, and the
 *                    whole image verified (its END record's digest), which the lazy phase waits for
 * @param copied      wall time from the first image byte to the last page copied in (each checked by
 *                    its record's CRC32C): {@code allIn} unless the restore was lazy, when the image's
 *                    digest may be checked later
 * @param lazy        whether the process ran before its memory was all in
 * @param lazyRefusal why a lazy restore into an existing process went eagerly instead (the vessel could not
 *                    be given a userfaultfd), or null
 */
public record RestoreResult(int pid, int originalPid, long memoryBytes, Duration total, Duration allIn,
                            Duration copied, boolean lazy, String lazyRefusal) {

    public RestoreResult(int pid, int originalPid, long memoryBytes, Duration total) {
        this(pid, originalPid, memoryBytes, total, total, total, false, null);
    }
}
