package io.telefork.engine;

import java.time.Duration;
import java.time.Instant;

/**
 * What a dump produced.
 *
 * @param pid         the dumped process
 * @param imageBytes  bytes of the image stream
 * @param sha256      the image's digest, hex SHA-256 (as stored in its END record)
 * @param memoryBytes bytes of page data stored (before compression)
 * @param frozen      how long the process was stopped
 * @param total       wall time of the whole dump
 * @param frozenSince when the process was stopped (wall clock): with leaveStopped it stays so after the dump
 */
public record DumpResult(int pid, long imageBytes, String sha256, long memoryBytes, Duration frozen, Duration total,
                         Instant frozenSince) {
}
