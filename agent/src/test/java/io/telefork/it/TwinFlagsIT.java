package io.telefork.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A {@code --leave-running} dump takes the process's memory-area flags before the freeze (smaps walks every
 * page table: tens of milliseconds per GiB, kept out of the freeze) and checks them against the twin: an
 * area the process marks MADV_WIPEONFORK in between would be zero in the twin, so the dump must fail, and
 * the process run on unchanged; a dump after it succeeds, and both copies have every byte.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class TwinFlagsIT {
    private static final String PAUSE = "TELEFORK_TEST_DUMP_PAUSE_MS";

    @TempDir
    Path tmp;

    @RegisterExtension
    final Harness h = new Harness();

    @Test
    void anAreaMarkedWipeOnForkBeforeTheFreezeFailsTheDumpAndTheProcessRunsOn() throws Exception {
        Harness.Proc p = h.startProgram("fork_flags", "late");
        Path image = tmp.resolve("late.img");
        Harness.Proc dump = h.start("dump", Harness.cli("dump", "--leave-running", Long.toString(p.pid()),
                image.toString()), Map.of(PAUSE, "3000"));
        await("the dump pauses before its freeze").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
                .until(() -> dump.stderr().contains("dump of " + p.pid() + ": 3000 ms before the freeze"));
        Harness.signal(p.pid(), "USR1");
        int code = dump.waitFor(Harness.CLI_TIMEOUT);
        assertThat(code).as("exit status of the dump; stderr: %s", dump.stderr()).isNotZero();
        assertThat(dump.stderr()).contains("changed how memory area").contains("dump again");
        assertThat(Files.exists(image)).as("no image is left by a failed dump").isFalse();
        assertThat(Harness.status(p.pid(), "TracerPid").map(String::trim)).hasValue("0");

        h.dump(p.pid(), image, "--leave-running");
        h.restore(image).goAndExpectPass();
        p.goAndExpectPass();
    }
}
