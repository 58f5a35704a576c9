package io.telefork.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code telefork restore --lazy}: the process runs before its private anonymous memory is in, which a
 * fault server and a pusher fill while the restorer keeps it traced. The self-checking programs pass
 * restored this way; the lazy phase is stretched where a test must act during it, with the pusher's
 * test-only delay (TELEFORK_TEST_LAZY_PUSH_DELAY_MS, milliseconds per record of 1 MiB).
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class LazyRestoreIT {
    private static final String PUSH_DELAY = "TELEFORK_TEST_LAZY_PUSH_DELAY_MS";

    @TempDir
    Path tmp;

    @RegisterExtension
    final Harness h = new Harness();

    /**
     * Every dumpAndRestore case of {@link SelfCheckingProgramsIT}, restored lazily, process trees included.
     * The pusher is slowed down a little, so that the programs' checks (signals, timers, threads, memory)
     * run while pages are still missing and the process is still traced.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("io.telefork.it.SelfCheckingProgramsIT#dumpCases")
    void selfCheckingPrograms(SelfCheckingProgramsIT.Case c) {
        Path image = h.dumpedProgram(tmp, c.program(), c.args(tmp), c.dumpOptions().toArray(String[]::new));
        h.restore(image, Map.of(PUSH_DELAY, "5"), "--lazy").goAndExpectPass();
    }

    @Test
    void largeMemoryVerifiedByteForByte() {
        Path image = h.dumpedProgram(tmp, "mem_pattern", java.util.List.of("1024"));
        Harness.Proc restored = h.restore(image, "--lazy", "-v");
        restored.goAndExpectPass();
        assertThat(restored.stderr()).contains("lazy: running after");
    }

    @Test
    void forkDuringTheLazyPhase() {
        Path image = h.dumpedProgram(tmp, "lazy_fork", java.util.List.of("64"));
        h.restore(image, Map.of(PUSH_DELAY, "20"), "--lazy").goAndExpectPass();
    }

    @Test
    void dontneedMunmapMremapDuringTheLazyPhase() {
        Path image = h.dumpedProgram(tmp, "lazy_mm", java.util.List.of());
        h.restore(image, Map.of(PUSH_DELAY, "20"), "--lazy").goAndExpectPass();
    }

    /** The restorer dies while pages are missing: the process dies with it, never runs on with zeros. */
    @Test
    void processDiesWithTheRestorer() {
        Path image = h.dumpedProgram(tmp, "mem_pattern", java.util.List.of("256"));
        Harness.Proc restore = h.restore(image, Map.of(PUSH_DELAY, "100"), "--lazy");
        long[] restored = new long[1];
        await("the restored process runs, traced by the restorer").atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(20)).until(() -> {
                    restored[0] = restore.process.children().mapToLong(ProcessHandle::pid).findFirst().orElse(0);
                    // TracerPid names the restorer's tracer thread
                    return restored[0] != 0 && Harness.status(restored[0], "TracerPid")
                            .filter(t -> Files.exists(Path.of("/proc", Long.toString(restore.pid()), "task", t)))
                            .isPresent();
                });
        Harness.signal(restore.pid(), "KILL");
        await("the restored process " + restored[0] + " dies with its restorer").atMost(Duration.ofSeconds(10))
                .pollInterval(Duration.ofMillis(20)).until(() -> !Harness.alive(restored[0]));
        assertThat(restore.lines()).as("output of the restored process").doesNotContain("PASS");
    }

    /** A corrupt record found while the process runs: it is killed, and restore fails with BAD_IMAGE. */
    @Test
    void corruptionFoundDuringTheLazyPhaseKillsTheProcess() throws IOException {
        Path image = h.dumpedProgram(tmp, "mem_pattern", java.util.List.of("64"), "--compress", "none");
        Harness.flipByte(image, 0.75);
        Harness.Proc restore = h.restore(image, "--lazy");
        int code = restore.waitFor(Harness.CLI_TIMEOUT);
        assertThat(code).as("exit status of restore --lazy of a corrupt image; stderr: %s", restore.stderr())
                .isEqualTo(6);
        assertThat(restore.stderr()).contains("corrupt");
        assertThat(restore.lines()).doesNotContain("PASS");
    }

    /**
     * A lazy record whose address is corrupt (it points outside the lazy areas, where the pusher skips
     * records, which it reads before their checks): found by the record's check all the same, never a
     * record left out and its pages zero.
     */
    @Test
    void aLazyRecordWithACorruptAddressIsFound() throws IOException {
        Path image = h.dumpedProgram(tmp, "mem_pattern", java.util.List.of("64"), "--compress", "none");
        long record = -1;
        try (java.nio.channels.FileChannel f = java.nio.channels.FileChannel.open(image);
                io.telefork.image.ImageReader r = io.telefork.image.ImageReader.mapped(f)) {
            io.telefork.image.ImageReader.Record rec;
            while ((rec = r.next()) != null) {
                if (rec.type() == io.telefork.image.RecordType.PAGES && rec.offset() > Files.size(image) / 2) {
                    record = rec.offset(); // in mem_pattern's 64 MiB, filled lazily
                    break;
                }
            }
        }
        assertThat(record).as("a PAGES record in the second half of the image").isPositive();
        try (java.nio.channels.FileChannel f = java.nio.channels.FileChannel.open(image,
                java.nio.file.StandardOpenOption.READ, java.nio.file.StandardOpenOption.WRITE)) {
            long at = record + io.telefork.image.Format.RECORD_HEADER_BYTES; // the address's top byte (big-endian)
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(1);
            f.read(b, at);
            f.write(b.put(0, (byte) (b.get(0) ^ 0x40)).position(0), at);
        }
        Harness.Proc restore = h.restore(image, "--lazy");
        int code = restore.waitFor(Harness.CLI_TIMEOUT);
        assertThat(code).as("exit status of restore --lazy; stderr: %s", restore.stderr()).isEqualTo(6);
        assertThat(restore.stderr()).contains("corrupt");
        assertThat(restore.lines()).doesNotContain("PASS");
    }

}
