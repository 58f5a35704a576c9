package io.telefork.engine;

import java.time.Duration;

/**
 * What a restore produced.
 *
 * @param pid         the restored process (in the caller's PID namespace)
 * @param originalPid the PID the process had when it was dumped
 * @param memoryBytes bytes of page data written into it
 * @param total       wall time from the first image byte to the process running
 */
public record RestoreResult(int pid, int originalPid, long memoryBytes, Duration total) {
}
