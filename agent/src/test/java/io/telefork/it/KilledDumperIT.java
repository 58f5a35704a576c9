package io.telefork.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A dump whose telefork is SIGKILLed after it has injected its system calls into the process (it is
 * blocked writing pages into a pipe nobody reads): the process must run on untraced, as if never
 * dumped. An injected call left behind a trap flag or a changed register would kill or corrupt it.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class KilledDumperIT {
    /** More than the image's head: pages are being written, so every injected call has been made. */
    private static final int PAST_THE_HEAD = 16384;

    @TempDir
    Path tmp;

    @RegisterExtension
    final Harness h = new Harness();

    @ParameterizedTest(name = "dump {0}")
    @ValueSource(strings = {"(frozen, to be killed)", "--leave-running", "--leave-running --freeze", "--leave-stopped"})
    void processRunsOnAfterTheDumperIsKilled(String mode) throws Exception {
        Harness.Proc p = h.startProgram("mem_pattern", "256");
        List<String> cmd = new ArrayList<>(List.of("dump"));
        if (mode.startsWith("--")) {
            cmd.addAll(List.of(mode.split(" ")));
        }
        cmd.addAll(List.of(Long.toString(p.pid()), "-"));
        cmd = Harness.cli(cmd.toArray(String[]::new));
        Process dump = new ProcessBuilder(cmd).redirectError(tmp.resolve("dump-stderr.txt").toFile()).start();
        h.adopt(dump.pid());
        InputStream image = dump.getInputStream(); // never read: the dump blocks once the pipe is full
        await("the dump fills its pipe with the image, after its injected calls").atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(20)).until(() -> !dump.isAlive() || image.available() >= PAST_THE_HEAD);
        assertThat(dump.isAlive()).as("dump still running (blocked on its pipe); stderr: %s",
                Files.readString(tmp.resolve("dump-stderr.txt"))).isTrue();

        dump.destroyForcibly();
        assertThat(dump.waitFor(10, TimeUnit.SECONDS)).as("telefork killed").isTrue();
        await("the process untraced after its tracer died").atMost(Duration.ofSeconds(10))
                .until(() -> Harness.status(p.pid(), "TracerPid").orElse("").equals("0"));
        Thread.sleep(300); // a trap flag left set would have killed it at its next instruction by now
        assertThat(p.process.isAlive()).as("the process is alive after its dumper was killed").isTrue();
        assertThat(Harness.status(p.pid(), "State").orElse("gone")).as("state of the process")
                .doesNotStartWith("t").doesNotStartWith("T").doesNotStartWith("Z");
        p.goAndExpectPass();
    }
}
