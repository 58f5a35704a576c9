package io.telefork.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.telefork.sys.Kernel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Multi-threaded processes: every thread dumped and re-created with its own ID. The C program checks
 * threads in futex, nanosleep and sem waits, per-thread masks, altstacks and thread-locals; a HotSpot JVM
 * and a CPython program with threads count on after a restore.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class ThreadsIT {

    @TempDir
    Path tmp;

    @RegisterExtension
    final Harness h = new Harness();

    @Test
    void threadsProgramPassesPlainly() {
        h.startProgram("threads").goAndExpectPass();
    }

    @Test
    void threadsKeepTheirIdsAndStates() {
        Harness.Proc original = h.startProgram("threads");
        List<String> tidsBefore = tids(original.pid());
        Path image = tmp.resolve("threads.img");
        h.dump(original.pid(), image);
        original.awaitDeath(Duration.ofSeconds(10), "dump kills the process");

        Harness.Proc restored = h.restore(image);
        // The restore pins its vessel to its own CPU while building it; every thread gets the CPUs back.
        String cpus = cpusAllowed(Path.of("/proc/self/status"));
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).ignoreExceptions().untilAsserted(() -> {
            List<String> now = tids(original.pid());
            assertThat(now).hasSize(5);
            for (String tid : now) {
                assertThat(cpusAllowed(Path.of("/proc", Long.toString(original.pid()), "task", tid, "status")))
                        .as("CPUs of thread %s", tid).isEqualTo(cpus);
            }
        });
        restored.goAndExpectPass();
        assertThat(tidsBefore).hasSize(5);
    }

    private static String cpusAllowed(Path status) {
        try {
            return Files.readAllLines(status).stream().filter(l -> l.startsWith("Cpus_allowed_list:")).findFirst()
                    .orElseThrow().substring(18).trim();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * The threads that take injected calls are pinned to the dumper's CPU for each group of calls, and get
     * their own CPUs back: a thread with a CPU of its own keeps it, and the others keep all of theirs.
     */
    @ParameterizedTest(name = "dump {0}")
    @ValueSource(strings = {"--leave-running", "--leave-running --freeze"})
    void dumpedThreadsKeepTheirCpus(String options) throws Exception {
        long[] all = Kernel.affinity(0);
        Assumptions.assumeTrue(Long.bitCount(all[0]) >= 2, "needs two CPUs");
        Harness.Proc original = h.startProgram("threads");
        List<String> tids = tids(original.pid());
        long[] one = new long[all.length];
        one[0] = Long.highestOneBit(all[0]);
        Kernel.setAffinity(Integer.parseInt(tids.get(2)), one);
        List<String> before = tids.stream().map(tid -> cpusAllowed(taskStatus(original.pid(), tid))).toList();
        assertThat(before.get(2)).isNotEqualTo(before.get(0));

        h.dump(original.pid(), tmp.resolve("threads.img"), options.split(" "));
        assertThat(tids.stream().map(tid -> cpusAllowed(taskStatus(original.pid(), tid))).toList())
                .as("each thread's CPUs after the dump").isEqualTo(before);
        original.goAndExpectPass();
    }

    private static Path taskStatus(long pid, String tid) {
        return Path.of("/proc", Long.toString(pid), "task", tid, "status");
    }

    @Test
    void copyOfARunningThreadedProcessIsRefusedWhileItsIdsAreTaken() {
        Harness.Proc original = h.startProgram("threads");
        Path image = tmp.resolve("threads.img");
        h.dump(original.pid(), image, "--leave-running");
        assertThat(Harness.status(original.pid(), "TracerPid")).contains("0");

        Harness.Result refused = h.run("restore", image.toString());
        assertThat(refused.code()).as(refused.stderr()).isEqualTo(8);
        assertThat(refused.stderr()).contains("5 threads, which must keep their IDs")
                .contains("PID " + original.pid() + " is in use");

        original.goAndExpectPass();
        Harness.Proc copy = h.restore(image);
        copy.goAndExpectPass();
    }

    /** Also restored with {@code --lazy}: the JVM's heap served on demand while its threads run. */
    @ParameterizedTest(name = "restore {0}")
    @ValueSource(strings = {"(eager)", "--lazy"})
    void jvmCountsOnAfterRestore(String mode) throws Exception {
        Path classes = tmp.resolve("classes");
        Files.createDirectories(classes);
        Path source = Path.of(getClass().getResource("/workloads/ThreadedCounter.java").toURI());
        int javac = ToolProvider.getSystemJavaCompiler().run(null, null, null, "-d", classes.toString(),
                source.toString());
        assertThat(javac).isZero();
        int limit = 20;
        Harness.Proc jvm = h.start("ThreadedCounter", List.of(Harness.java(), "-Xmx64m", "-XX:+UseSerialGC",
                "-cp", classes.toString(), "ThreadedCounter", Integer.toString(limit)));
        jvm.awaitLine("5 ok", Duration.ofSeconds(30));
        assertThat(tids(jvm.pid()).size()).as("a JVM has many threads").isGreaterThan(8);
        dumpRestoreAndCountOn(jvm, "jvm", limit, mode);
    }

    @ParameterizedTest(name = "restore {0}")
    @ValueSource(strings = {"(eager)", "--lazy"})
    void pythonThreadsCountOnAfterRestore(String mode) throws Exception {
        Path script = tmp.resolve("threads.py");
        Files.writeString(script, String.join("\n",
                "import sys, threading, time",
                "counts = [0, 0, 0]",
                "def work(i):",
                "    while True:",
                "        counts[i] += 1",
                "        time.sleep(0.01)",
                "for i in range(3):",
                "    threading.Thread(target=work, args=(i,), daemon=True).start()",
                "last = [0, 0, 0]",
                "for n in range(1, int(sys.argv[1]) + 1):",
                "    time.sleep(0.2)",
                "    ok = all(c > l for c, l in zip(counts, last))",
                "    last = list(counts)",
                "    print(n, 'ok' if ok else 'stalled', flush=True)",
                ""));
        String python = Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";
        Harness.Proc py = h.start("threads.py", List.of(python, script.toString(), "15"));
        py.awaitLine("4 ok", Duration.ofSeconds(20));
        dumpRestoreAndCountOn(py, "python", 15, mode);
    }

    /**
     * Dumps a counting workload (lines "N ok" or "N stalled", N from 1 to {@code limit}), restores it and
     * checks that together the original and the restored process printed exactly 1..limit, and that its
     * threads were counting again at the end. {@code mode}: a restore option ("--lazy"), or anything else
     * for none.
     */
    private void dumpRestoreAndCountOn(Harness.Proc workload, String name, int limit, String mode) {
        Path image = tmp.resolve(name + ".img");
        List<String> before = h.dumpKilling(workload, image);
        String[] options = mode.startsWith("--") ? new String[] {mode} : new String[0];
        Harness.Continued c = h.restoreToEnd(image, before, Duration.ofSeconds(60), options);
        Harness.Proc restored = c.restored();
        assertThat(c.code()).as(restored.describe()).isZero();
        assertThat(c.all().stream().map(l -> l.split(" ")[0]).toList()).as("%s's output before and after the restore", name)
                .isEqualTo(IntStream.rangeClosed(1, limit).mapToObj(Integer::toString).toList());
        List<String> after = restored.lines();
        assertThat(after.subList(after.size() - 5, after.size())).as("%s's threads kept counting after the restore", name)
                .allMatch(l -> l.endsWith(" ok"));
    }

    private static List<String> tids(long pid) {
        try (var s = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
