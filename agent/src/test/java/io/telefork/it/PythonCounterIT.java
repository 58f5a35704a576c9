package io.telefork.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
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
 * examples/counter.py (a CPython process printing 1, 2, 3, ... every 0.5 s): dumped after it printed 3,
 * restored, and it goes on from where it was: the original's output and the restored process's output
 * together are exactly 1..LIMIT, and the restored process printed the rest and exited 0.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class PythonCounterIT {

    private static final Path SCRIPT = Harness.ROOT.resolve("examples/counter.py");
    private static final int LIMIT = 12;

    @TempDir
    Path tmp;

    @RegisterExtension
    final Harness h = new Harness();

    /** The distribution's python3 (a pyenv shim would be a shell script in between). */
    private static String python() {
        return Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";
    }

    private static List<String> upTo(int n) {
        return IntStream.rangeClosed(1, n).mapToObj(Integer::toString).toList();
    }

    @Test
    void countsPlainly() {
        Harness.Proc p = h.start("counter.py", List.of(python(), SCRIPT.toString(), "4"));
        p.closeStdin();
        assertThat(p.waitFor(Duration.ofSeconds(20))).as(p.describe()).isZero();
        assertThat(p.lines()).isEqualTo(upTo(4));
    }

    /** {@code telefork dump PID - | telefork restore -}: the image streams through a pipe, no file. */
    @Test
    void pipedFromDumpIntoRestore() throws Exception {
        Harness.Proc original = h.start("counter.py", List.of(python(), SCRIPT.toString(), Integer.toString(LIMIT)));
        original.awaitLine("3", Duration.ofSeconds(20));
        List<Process> pipeline = ProcessBuilder.startPipeline(List.of(
                new ProcessBuilder(Harness.cli("dump", Long.toString(original.pid()), "-"))
                        .redirectError(tmp.resolve("dump.err").toFile()),
                new ProcessBuilder(Harness.cli("restore", "-")).redirectError(tmp.resolve("restore.err").toFile())));
        pipeline.forEach(p -> h.adopt(p.pid()));
        Process dump = pipeline.get(0);
        Process restore = pipeline.get(1);
        restore.getOutputStream().close();
        List<String> after = new ArrayList<>();
        try (var r = restore.inputReader()) {
            r.lines().forEach(after::add);
        }
        assertThat(restore.waitFor(60, TimeUnit.SECONDS)).as("restore - ended").isTrue();
        assertThat(dump.waitFor(10, TimeUnit.SECONDS)).as("dump - ended").isTrue();
        String errors = "dump stderr: " + Files.readString(tmp.resolve("dump.err")) + "\nrestore stderr: "
                + Files.readString(tmp.resolve("restore.err"));
        assertThat(dump.exitValue()).as("exit status of dump PID -\n%s", errors).isZero();
        original.awaitDeath(Duration.ofSeconds(10), "dump kills the process");
        List<String> all = new ArrayList<>(original.awaitEof(Duration.ofSeconds(5)));
        all.addAll(after);
        assertThat(all).as("output before the dump, then after the restore %s\n%s", after, errors).isEqualTo(upTo(LIMIT));
        assertThat(after).as("the restored process printed the rest").isNotEmpty();
        assertThat(restore.exitValue()).as("exit status of restore -\n%s", errors).isZero();
    }

    @Test
    void restoredCounterContinuesWhereItWas() {
        Harness.Proc original = h.start("counter.py", List.of(python(), SCRIPT.toString(), Integer.toString(LIMIT)));
        original.awaitLine("3", Duration.ofSeconds(20));
        Path image = tmp.resolve("counter.img");
        Harness.Continued c = h.restoreToEnd(image, h.dumpKilling(original, image), Duration.ofSeconds(60));
        assertThat(c.all()).as("output before the dump %s, then after the restore: %s", c.before(),
                c.restored().describe()).isEqualTo(upTo(LIMIT));
        assertThat(c.restored().lines()).as("the restored process printed the rest").isNotEmpty();
        assertThat(c.code()).as("exit status of restore (the script's)\n%s", c.restored().describe()).isZero();
    }
}
