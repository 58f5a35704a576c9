package io.telefork.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * examples/dumpme.sh (prints 1..10, one a second, as ONE bash process using the loadable sleep builtin):
 * dumped after it printed 3, restored, and the output of the original and of the restored process
 * together is exactly 1..10, with exit status 0. Needs the bash-builtins package. Also {@code dumpme.sh
 * external}, which sleeps with /usr/bin/sleep: dumped while the sleep runs, the two as one tree.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class DumpmeExampleIT {

    private static final Path SCRIPT = Harness.ROOT.resolve("examples/dumpme.sh");
    private static final List<String> ONE_TO_TEN = IntStream.rangeClosed(1, 10).mapToObj(Integer::toString).toList();

    @TempDir
    Path tmp;

    @RegisterExtension
    final Harness h = new Harness();

    @Test
    void runsPlainlyAsOneProcess() {
        Harness.Proc p = h.start("dumpme.sh", List.of("bash", SCRIPT.toString()));
        p.closeStdin();
        for (String n : ONE_TO_TEN) {
            p.awaitLine(n, Duration.ofSeconds(5));
            assertThat(p.process.children().toList()).as("child processes of dumpme.sh after %s", n).isEmpty();
        }
        assertThat(p.waitFor(Duration.ofSeconds(10))).as(p.describe()).isZero();
        assertThat(p.lines()).isEqualTo(ONE_TO_TEN);
    }

    @Test
    void dumpedAfterThreeAndRestoredGoesOnToTen() {
        assertThat(Path.of("/usr/lib/bash/sleep")).as("bash's loadable sleep (package bash-builtins)").exists();
        Harness.Proc original = h.start("dumpme.sh", List.of("bash", SCRIPT.toString()));
        original.awaitLine("3", Duration.ofSeconds(10));
        Path image = tmp.resolve("dumpme.img");
        Harness.Continued c = h.restoreToEnd(image, h.dumpKilling(original, image), Duration.ofSeconds(30));
        assertCountedToTen(c);
        assertThat(c.restored().stderr()).as("stderr of the restored script").doesNotContain("sleep:");
    }

    @Test
    void externalSleepDumpedWithItsChildAndRestoredGoesOnToTen() {
        Harness.Proc original = h.start("dumpme.sh external", List.of("bash", SCRIPT.toString(), "external"));
        original.awaitLine("3", Duration.ofSeconds(10));
        // The sleep after 3 starts just after 3 is printed; the dump comes within its second.
        await("dumpme.sh external runs /usr/bin/sleep").atMost(Duration.ofSeconds(5))
                .until(() -> original.process.children().findAny().isPresent());
        Path image = tmp.resolve("dumpme-external.img");
        List<String> before = h.dumpKilling(original, image);

        Harness.Result inspect = h.run("inspect", image.toString());
        assertThat(inspect.code()).as("inspect\n%s", inspect.stderr()).isZero();
        assertThat(inspect.stdout()).as("the image holds bash and its sleep").contains("processes 2").contains("sleep");

        assertCountedToTen(h.restoreToEnd(image, before, Duration.ofSeconds(30)));
    }

    /**
     * Its output appended to a log file ({@code >>}), which something else writes to between the dump and
     * the restore: a file the process only writes may have grown, so the restore goes on (other files
     * that changed are still refused) and the rest lands after the other writer's line.
     */
    @Test
    void outputToALogThatGrowsMeanwhile() throws Exception {
        Path log = tmp.resolve("dumpme.log");
        Harness.Proc original = h.start("dumpme.sh >> log", List.of("sh", "-c",
                "exec bash \"$0\" >> \"$1\" 2>&1", SCRIPT.toString(), log.toString()));
        original.closeStdin();
        await("3 in the log").atMost(Duration.ofSeconds(10))
                .until(() -> Files.readAllLines(log).contains("3"));
        Path image = tmp.resolve("dumpme-log.img");
        h.dump(original.pid(), image);
        original.awaitDeath(Duration.ofSeconds(10), "dump kills the process");
        List<String> before = Files.readAllLines(log);
        Files.writeString(log, "another writer\n", StandardOpenOption.APPEND);

        Harness.Proc restored = h.restore(image);
        assertThat(restored.waitFor(Duration.ofSeconds(30))).as(restored.describe()).isZero();
        List<String> expected = new ArrayList<>(before);
        expected.add("another writer");
        ONE_TO_TEN.stream().filter(n -> !before.contains(n)).forEach(expected::add);
        assertThat(Files.readAllLines(log)).isEqualTo(expected);
        assertThat(before).startsWith("1", "2", "3");
    }

    private static void assertCountedToTen(Harness.Continued c) {
        assertThat(c.all()).as("output before the dump %s, then after the restore: %s", c.before(),
                c.restored().describe()).isEqualTo(ONE_TO_TEN);
        assertThat(c.restored().lines()).as("the restored process printed the rest").isNotEmpty();
        assertThat(c.code()).as("exit status of restore (the script's)\n%s", c.restored().describe()).isZero();
    }
}
