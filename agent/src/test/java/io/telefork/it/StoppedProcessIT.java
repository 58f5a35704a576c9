package io.telefork.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A process stopped with SIGSTOP is dumped and restored stopped; it runs again on SIGCONT. The program
 * ({@code stopped 1}) counts SIGCONT deliveries with a handler and expects exactly one, so a SIGCONT sent
 * by the engine for its own purposes (it must resume a stopped process to work on it) fails the test.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class StoppedProcessIT {

    @TempDir
    Path tmp;

    @RegisterExtension
    final Harness h = new Harness();

    private static void awaitState(long pid, char state, String why) {
        await(why + ": state of " + pid + " should be " + state).atMost(Duration.ofSeconds(10))
                .pollInterval(Duration.ofMillis(20)).until(() -> Harness.state(pid).equals(Optional.of(state)));
    }

    private Harness.Proc startStopped() {
        Harness.Proc p = h.startProgram("stopped", "1");
        Harness.signal(p.pid(), "STOP");
        awaitState(p.pid(), 'T', "after SIGSTOP");
        return p;
    }

    @Test
    void plainStopAndContinue() {
        Harness.Proc p = startStopped();
        Harness.signal(p.pid(), "CONT");
        p.goAndExpectPass();
    }

    @Test
    void restoredStoppedAndRunsOnSigcont() throws Exception {
        Harness.Proc original = startStopped();
        Path image = tmp.resolve("stopped.img");
        h.dump(original.pid(), image);
        original.awaitDeath(Duration.ofSeconds(10), "dump without --leave-running kills the process");

        // stdin already holds the go line: the program may read it only once it runs again
        Harness.Detached restored = h.restoreDetached(image, tmp, "go\n");
        long pid = restored.pid();
        awaitState(pid, 'T', "restored from a stopped process");
        Thread.sleep(300);
        assertThat(Harness.state(pid)).as("still stopped; " + restored.describe()).contains('T');
        assertThat(restored.lines()).as("output before SIGCONT (only restore's PID line)").hasSize(1);

        Harness.signal(pid, "CONT");
        await("PASS from " + restored.describe()).atMost(Harness.VERDICT_TIMEOUT)
                .pollInterval(Duration.ofMillis(50))
                .until(() -> restored.lines().stream().anyMatch(l -> l.equals("PASS") || l.startsWith("FAIL")));
        assertThat(restored.lines()).as(restored.describe()).noneMatch(l -> l.startsWith("FAIL")).contains("PASS");
        await("restored process " + pid + " exits").atMost(Duration.ofSeconds(10))
                .pollInterval(Duration.ofMillis(50)).until(() -> !Harness.alive(pid));
    }

    @Test
    void leaveRunningLeavesItStoppedAndUndisturbed() {
        Harness.Proc original = startStopped();
        Path image = tmp.resolve("stopped.img");
        h.dump(original.pid(), image, "--leave-running");

        assertThat(original.process.isAlive()).as("alive after dump --leave-running").isTrue();
        awaitState(original.pid(), 'T', "dumped with --leave-running while stopped");
        assertThat(Harness.status(original.pid(), "TracerPid")).as("TracerPid after the dump").contains("0");

        Harness.signal(original.pid(), "CONT");
        original.goAndExpectPass();
    }

    /**
     * A running process dumped with --leave-stopped stays stopped, untraced, and does not run on; one
     * SIGCONT (the only one the program sees) resumes it as if nothing happened; the image is complete.
     */
    @Test
    void leaveStoppedKeepsItStoppedUntilSigcont() throws Exception {
        Harness.Proc original = h.startProgram("stopped", "1");
        Path image = tmp.resolve("left-stopped.img");
        h.dump(original.pid(), image, "--leave-stopped");

        assertThat(original.process.isAlive()).as("alive after dump --leave-stopped").isTrue();
        awaitState(original.pid(), 'T', "dumped with --leave-stopped");
        assertThat(Harness.status(original.pid(), "TracerPid")).as("TracerPid after the dump").contains("0");
        Thread.sleep(300);
        assertThat(Harness.state(original.pid())).as("still stopped 300 ms later").contains('T');
        assertThat(original.lines()).as("output of the stopped original after READY").containsExactly("READY");

        Harness.signal(original.pid(), "CONT");
        original.goAndExpectPass();

        Harness.Result inspect = h.run("inspect", image.toString());
        assertThat(inspect.code()).as(inspect.toString()).isZero();
    }

    @Test
    void leaveStoppedAndLeaveRunningExcludeEachOther() {
        Harness.Proc original = h.startProgram("stopped", "0");
        Harness.Result r = h.run("dump", "--leave-stopped", "--leave-running",
                Long.toString(original.pid()), tmp.resolve("x.img").toString());
        assertThat(r.code()).as(r.toString()).isEqualTo(2);
        assertThat(r.stderr()).contains("--leave-running and --leave-stopped exclude each other");
        assertThat(tmp.resolve("x.img")).doesNotExist();
        assertThat(Harness.state(original.pid())).as("untouched").isNotEqualTo(Optional.of('T'));
        original.goAndExpectPass();
    }
}
