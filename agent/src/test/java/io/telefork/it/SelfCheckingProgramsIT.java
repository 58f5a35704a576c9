package io.telefork.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The self-checking programs of agent/src/test/c, each run three ways:
 * <ol>
 *   <li>{@code plain}: no dump at all. Must pass, or the program (not the engine) is broken.</li>
 *   <li>{@code dumpAndRestore}: READY, {@code telefork dump} (which must kill it), {@code telefork restore},
 *       go. The restored program, whose stdio is now restore's, checks its state and prints PASS; restore
 *       exits with its status.</li>
 *   <li>{@code leaveRunning}: {@code dump --leave-running} (memory read from a copy-on-write twin of each
 *       process, or with {@code --freeze} from the stopped processes); the original must go on undisturbed
 *       and pass, then the image is restored and must pass as well.</li>
 * </ol>
 * Pass/fail is decided by the program itself: a PASS line, no FAIL line, exit status 0.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class SelfCheckingProgramsIT {

    /** A test program, its arguments ("{tmp}" stands for a fresh temp dir) and extra dump options. */
    record Case(String program, List<String> args, List<String> dumpOptions) {

        static Case of(String program, String... args) {
            return new Case(program, List.of(args), List.of());
        }

        Case dumpedWith(String... options) {
            return new Case(program, args, List.of(options));
        }

        List<String> args(Path tmp) {
            return args.stream().map(a -> a.replace("{tmp}", tmp.toString())).toList();
        }

        @Override
        public String toString() {
            return String.join(" ", Stream.concat(Stream.of(program), args.stream()).toList())
                    + (dumpOptions.isEmpty() ? "" : " [dump " + String.join(" ", dumpOptions) + "]");
        }
    }

    static Stream<Case> programs() {
        return Stream.of(
                Case.of("mem_pattern"),
                Case.of("fpu_avx"),
                Case.of("nanosleep", "rel"),
                Case.of("nanosleep", "abs"),
                Case.of("read_file", "{tmp}"),
                Case.of("signal_handler"),
                Case.of("brk_growth"),
                Case.of("mprotect_areas"),
                Case.of("shared_file", "{tmp}"),
                Case.of("cwd_umask", "{tmp}"),
                Case.of("dup_fds", "{tmp}"),
                Case.of("ppoll_mask"),
                Case.of("rseq_check"),
                Case.of("vdso_clock"),
                Case.of("proc_identity"),
                Case.of("shared_anon"),
                Case.of("many_areas"),
                Case.of("itimer"),
                Case.of("pipe_inside"),
                Case.of("fd_kinds"),
                Case.of("sockets"),
                Case.of("unix_sockets", "{tmp}"),
                Case.of("threads"),
                Case.of("multithread"),
                Case.of("refused", "child"),
                Case.of("refused", "thread-child"),
                Case.of("tree", "pipes"),
                Case.of("tree", "socketpair"),
                Case.of("tree", "zombie"),
                Case.of("tree", "session"),
                Case.of("tree", "shm"),
                Case.of("tree", "file", "{tmp}"),
                Case.of("tree", "listen"),
                Case.of("tree", "private"),
                Case.of("fork_flags"),
                Case.of("ghost_fd", "{tmp}").dumpedWith("--ghost-limit", "4M"),
                Case.of("ghost_memfd").dumpedWith("--ghost-limit", "1M"),
                Case.of("ghost_private", "{tmp}").dumpedWith("--ghost-limit", "1M"),
                Case.of("inotify_watch", "{tmp}"),
                Case.of("fifo", "{tmp}"),
                Case.of("lazy_fork"),
                Case.of("lazy_mm"),
                Case.of("below_stack"));
    }

    static Stream<Case> plainCases() {
        return Stream.concat(programs(), Stream.of(Case.of("stopped", "0"), Case.of("sockets", "kept"),
                Case.of("refused", "socket")));
    }

    static Stream<Case> dumpCases() {
        return Stream.concat(programs(), Stream.of(
                Case.of("mem_pattern").dumpedWith("--compress", "zstd"),
                Case.of("mem_pattern").dumpedWith("--compress", "lz4"),
                Case.of("mem_pattern").dumpedWith("--compress", "none"),
                Case.of("sockets", "kept").dumpedWith("--tcp-established")));
    }

    /** Programs that do not write to shared files, so that two copies can both pass. */
    static Stream<Case> leaveRunningCases() {
        return Stream.of(Case.of("fpu_avx"), Case.of("signal_handler"), Case.of("brk_growth"),
                Case.of("mprotect_areas"), Case.of("nanosleep", "rel"), Case.of("mem_pattern", "64"),
                Case.of("fork_flags"), Case.of("fork_flags").dumpedWith("--freeze"),
                Case.of("mem_pattern", "64").dumpedWith("--freeze"), Case.of("shared_anon"), Case.of("fd_kinds"),
                Case.of("threads"), Case.of("multithread"), Case.of("tree", "pipes"), Case.of("tree", "shm"),
                Case.of("tree", "zombie"), Case.of("tree", "session"), Case.of("tree", "socketpair"),
                Case.of("tree", "pipes").dumpedWith("--freeze"),
                Case.of("ghost_fd", "{tmp}").dumpedWith("--ghost-limit", "4M"),
                Case.of("ghost_memfd").dumpedWith("--ghost-limit", "1M"),
                Case.of("ghost_private", "{tmp}").dumpedWith("--ghost-limit", "1M"), Case.of("inotify_watch", "{tmp}"),
                Case.of("fifo", "{tmp}"), Case.of("below_stack"), Case.of("below_stack").dumpedWith("--freeze"),
                // What /proc tells of the process (mm fields, auxv, limits, cwd, umask) comes from the twin.
                Case.of("proc_identity"), Case.of("cwd_umask", "{tmp}"), Case.of("itimer"));
    }

    @TempDir
    Path tmp;

    @RegisterExtension
    final Harness h = new Harness();

    @ParameterizedTest(name = "{0}")
    @MethodSource("plainCases")
    void plain(Case c) {
        Harness.Proc p = h.startProgram(c.program(), c.args(tmp), Map.of());
        p.goAndExpectPass();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dumpCases")
    void dumpAndRestore(Case c) {
        Harness.Proc original = h.startProgram(c.program(), c.args(tmp), Map.of("TF_EXPECT_RESTORE", "1"));
        Path image = tmp.resolve(c.program() + ".img");

        h.dump(original.pid(), image, c.dumpOptions().toArray(String[]::new));
        original.awaitDeath(Duration.ofSeconds(10), "dump without --leave-running kills the process");
        assertThat(original.lines()).as("output of the original after READY").containsExactly("READY");

        Harness.Proc restored = h.restore(image);
        restored.goAndExpectPass();
    }

    /** {@code restore --userfaultfd}: anonymous memory filled with UFFDIO_COPY before the process runs. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("userfaultfdCases")
    void eagerUserfaultfdFill(Case c) {
        Harness.Proc original = h.startProgram(c.program(), c.args(tmp), Map.of("TF_EXPECT_RESTORE", "1"));
        Path image = tmp.resolve(c.program() + ".img");
        h.dump(original.pid(), image);
        original.awaitDeath(Duration.ofSeconds(10), "dump without --leave-running kills the process");
        h.restore(image, "--userfaultfd").goAndExpectPass();
    }

    /**
     * How an eager restore fills memory (the -vv line of step 8): by default UFFDIO_COPY for mem_pattern's
     * 256 MiB, process_vm_writev for brk_growth's few MiB; --userfaultfd and --no-userfaultfd choose.
     */
    @ParameterizedTest(name = "{0} {1} -> {2}")
    @MethodSource("fillCases")
    void eagerFillMethod(String program, String option, String expected) {
        Harness.Proc original = h.startProgram(program, List.of(), Map.of("TF_EXPECT_RESTORE", "1"));
        Path image = tmp.resolve(program + ".img");
        h.dump(original.pid(), image);
        original.awaitDeath(Duration.ofSeconds(10), "dump without --leave-running kills the process");
        Harness.Proc restored = option.isEmpty() ? h.restore(image, "-vv") : h.restore(image, "-vv", option);
        restored.goAndExpectPass();
        assertThat(restored.stderr().lines().filter(l -> l.contains(": step 8")).toList())
                .as("step 8 line of restore -vv %s", option).singleElement().asString().contains("(" + expected + ")");
    }

    static Stream<Arguments> fillCases() {
        return Stream.of(Arguments.of("mem_pattern", "", "UFFDIO_COPY"),
                Arguments.of("mem_pattern", "--no-userfaultfd", "process_vm_writev"),
                Arguments.of("brk_growth", "", "process_vm_writev"),
                Arguments.of("brk_growth", "--userfaultfd", "UFFDIO_COPY"));
    }

    static Stream<Case> userfaultfdCases() {
        return Stream.of(Case.of("mem_pattern"), Case.of("threads"), Case.of("brk_growth"), Case.of("shared_anon"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("leaveRunningCases")
    void leaveRunning(Case c) {
        Harness.Proc original = h.startProgram(c.program(), c.args(tmp), Map.of());
        Path image = tmp.resolve(c.program() + ".img");

        List<String> options = new ArrayList<>(List.of("--leave-running"));
        options.addAll(c.dumpOptions());
        h.dump(original.pid(), image, options.toArray(String[]::new));
        assertThat(original.process.isAlive()).as("original alive after dump --leave-running").isTrue();
        assertThat(Harness.status(original.pid(), "TracerPid")).as("TracerPid of the original after the dump")
                .contains("0");
        original.goAndExpectPass();

        Harness.Proc restored = h.restore(image);
        restored.goAndExpectPass();
    }

    /** {@code dump PID -} writes the image to stdout: the same image, restorable. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("stdoutCases")
    void dumpToStdout(Case c) throws Exception {
        Harness.Proc original = h.startProgram(c.program(), c.args(tmp), Map.of());
        Path image = tmp.resolve("stdout.img");
        List<String> cmd = new ArrayList<>(Harness.cli("dump", Long.toString(original.pid()), "-"));
        Process dump = new ProcessBuilder(cmd).redirectOutput(image.toFile())
                .redirectError(tmp.resolve("dump-stderr.txt").toFile()).start();
        h.adopt(dump.pid());
        assertThat(dump.waitFor(Harness.CLI_TIMEOUT.toSeconds(), TimeUnit.SECONDS)).as("dump - finished").isTrue();
        assertThat(dump.exitValue()).as("exit status of dump PID -; stderr: %s",
                Files.readString(tmp.resolve("dump-stderr.txt"))).isZero();
        assertThat(image).isNotEmptyFile();
        original.awaitDeath(Duration.ofSeconds(10), "dump without --leave-running kills the process");

        h.restore(image).goAndExpectPass();
    }

    static Stream<Case> stdoutCases() {
        return Stream.of(Case.of("brk_growth"));
    }

    /**
     * A program whose executable was deleted while it runs (as an upgrade does): the executable is one of
     * its deleted files, saved and re-created, and becomes /proc/PID/exe again (PR_SET_MM_MAP takes no
     * file that is open for writing: the re-created one must not be).
     */
    @org.junit.jupiter.api.Test
    void deletedExecutable() throws Exception {
        Path exe = tmp.resolve("ghost_private_copy");
        Files.copy(Harness.program("ghost_private"), exe);
        Harness.Proc original = h.start("deleted executable", List.of(exe.toString(), tmp.toString()));
        original.awaitReady();
        Files.delete(exe);
        Path image = tmp.resolve("deleted-exe.img");

        h.dump(original.pid(), image, "--ghost-limit", "1M");
        original.awaitDeath(Duration.ofSeconds(10), "dump without --leave-running kills the process");

        Harness.Proc restored = h.restore(image);
        restored.goAndExpectPass();
    }
}
