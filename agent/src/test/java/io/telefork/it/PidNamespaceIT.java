package io.telefork.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.telefork.engine.Engine;
import io.telefork.engine.EngineException;
import io.telefork.engine.RestoreOptions;
import io.telefork.engine.RestoreResult;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Restores into an existing process (the node agent's path) that is the first process of a PID namespace
 * of its own, as a container's is, and that may not choose IDs itself (no CAP_SYS_ADMIN or
 * CAP_CHECKPOINT_RESTORE, as in a pod): threads get their TIDs and a tree's processes their PIDs, as the
 * namespace numbers them, and go on; an ID taken there is refused before anything is changed.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class PidNamespaceIT {

    @TempDir
    Path tmp;

    @RegisterExtension
    final Harness h = new Harness();

    @Test
    void threadsKeepTheirIdsInAPlaceholdersNamespace() throws Exception {
        Path image = tmp.resolve("threads.img");
        TreeSet<Integer> tidsBefore = dumpedInNamespace(image, PidNamespaceIT::nsIds, "threads");
        assertThat(tidsBefore).hasSize(5).contains(1);

        Harness.Proc placeholder = inNamespace("placeholder", "/bin/sleep", "1000");
        int vessel = firstProcess(placeholder);
        cannotChooseIds(vessel);
        advanceNextPid(vessel);
        String cpus = cpusAllowed(Path.of("/proc", Integer.toString(vessel), "status"));
        RestoreResult r = restoreInto(vessel, image);
        assertThat(r.pid()).isEqualTo(vessel);
        assertThat(nsIds(vessel)).isEqualTo(tidsBefore);
        // Pinned to the restorer's CPU while built, every thread has the placeholder's CPUs back.
        try (var tasks = Files.list(Path.of("/proc", Integer.toString(vessel), "task"))) {
            for (Path task : tasks.toList()) {
                assertThat(cpusAllowed(task.resolve("status"))).as("CPUs of %s", task).isEqualTo(cpus);
            }
        }
        placeholder.goAndExpectPass();
    }

    @Test
    void treeKeepsItsPidsInAPlaceholdersNamespace() throws Exception {
        Path image = tmp.resolve("tree.img");
        List<Integer> pidsBefore = dumpedInNamespace(image, PidNamespaceIT::treeNsPids, "tree", "pipes");
        assertThat(pidsBefore).hasSizeGreaterThan(1).startsWith(1);

        Harness.Proc placeholder = inNamespace("placeholder", "/bin/sleep", "1000");
        int vessel = firstProcess(placeholder);
        cannotChooseIds(vessel);
        advanceNextPid(vessel);
        restoreInto(vessel, image);
        assertThat(treeNsPids(vessel)).isEqualTo(pidsBefore);
        placeholder.goAndExpectPass();
    }

    /**
     * A placeholder that holds descriptors of its own at 3, 4 and 6, beside the image's pipe at 5 and 6: the
     * pipe made in it gets 5 (the lowest free number) and the next temporary number, and must not end up as
     * one descriptor (it did: the restore failed with EBADF). The vessel a restore spawns itself can hold
     * such a descriptor too, when it is seized while its loader has a library open.
     */
    @Test
    void aPipeIntoAPlaceholderWithDescriptorsAroundIt() throws Exception {
        Path image = dumpedProgram("pipe_inside");
        Harness.Proc placeholder = inNamespace("placeholder", "/bin/sh", "-c",
                "exec /bin/sleep 1000 3</dev/null 4</dev/null 6</dev/null");
        int vessel = onceSleeping(placeholder);
        for (int fd : new int[] {3, 4, 6}) {
            assertThat(Files.readSymbolicLink(Path.of("/proc", Integer.toString(vessel), "fd", Integer.toString(fd))))
                    .as("the placeholder's own fd %d", fd).isEqualTo(Path.of("/dev/null"));
        }
        restoreInto(vessel, image);
        placeholder.goAndExpectPass();
    }

    /**
     * A placeholder that ignores SIGINT and SIGQUIT, as a shell's background job does (the operator's
     * placeholder is one): the restored process has the image's dispositions, default ones included, not
     * the placeholder's.
     */
    @Test
    void signalDispositionsAreTheImagesNotThePlaceholders() throws Exception {
        Path image = dumpedProgram("signal_handler");
        Harness.Proc placeholder = inNamespace("placeholder", "/bin/sh", "-c",
                "trap '' INT QUIT; exec /bin/sleep 1000");
        int vessel = onceSleeping(placeholder);
        long ignored = Long.parseUnsignedLong(Files.readAllLines(Path.of("/proc", Integer.toString(vessel), "status"))
                .stream().filter(l -> l.startsWith("SigIgn:")).findFirst().orElseThrow().substring(7).trim(), 16);
        assertThat(ignored & 0b110).as("the placeholder ignores SIGINT and SIGQUIT").isEqualTo(0b110);
        restoreInto(vessel, image);
        placeholder.goAndExpectPass();
    }

    /**
     * The operator's target container: a shell (PID 1) waiting for its placeholder child. The tree, whose
     * first process was PID 1, goes into the shell; the placeholder, which holds the PID the tree's first
     * child wants, is ended first.
     */
    @Test
    void treeGoesIntoTheWaitingInitOfItsPlaceholder() throws Exception {
        Path image = tmp.resolve("tree.img");
        List<Integer> pidsBefore = dumpedInNamespace(image, PidNamespaceIT::treeNsPids, "tree", "pipes");

        Harness.Proc target = inNamespace("placeholder", "/bin/sh", "-c",
                "trap 'kill -TERM $c 2>/dev/null' TERM INT; sleep 2147483647 & c=$!; "
                        + "while :; do wait $c; s=$?; kill -0 $c 2>/dev/null || exit $s; done");
        int init = firstProcess(target);
        await().atMost(Duration.ofSeconds(10)).until(() -> children(init).size() == 1
                && comm(children(init).get(0)).equals("sleep"));
        int placeholder = children(init).get(0);
        assertThat(nsId(placeholder)).isEqualTo(pidsBefore.get(1));

        RestoreResult r;
        try (FileChannel in = FileChannel.open(image, StandardOpenOption.READ)) {
            r = new Engine().restoreInto(placeholder, init, in, new RestoreOptions(false, null));
        }
        assertThat(r.pid()).isEqualTo(init);
        assertThat(Harness.alive(placeholder)).isFalse();
        assertThat(treeNsPids(init)).isEqualTo(pidsBefore);
        target.goAndExpectPass();
    }

    /**
     * The node agent's lazy restore: the placeholder may not make a userfaultfd itself (no CAP_SYS_PTRACE,
     * vm.unprivileged_userfaultfd 0), so it gets one from /dev/userfaultfd opened by the restorer; the
     * program then finds every page of its memory as dumped, and nobody traces it any more.
     */
    @Test
    void lazilyIntoAPlaceholderThatMayNotMakeAUserfaultfd() throws Exception {
        Path image = tmp.resolve("pattern.img");
        dumpedInNamespace(image, PidNamespaceIT::nsIds, "mem_pattern", "64");

        Harness.Proc placeholder = h.start("placeholder", withoutCaps("-sys_admin,-checkpoint_restore,-sys_ptrace",
                "/bin/sleep", "1000"));
        int vessel = firstProcess(placeholder);
        assertThat(Long.parseUnsignedLong(status(vessel, "CapEff"), 16) & (1L << 19)).isZero();
        RestoreResult r = restoreLazilyInto(vessel, image);
        assertThat(r.lazy()).isTrue();
        assertThat(r.pid()).isEqualTo(vessel);
        assertThat(r.total()).isLessThan(r.allIn());
        assertThat(status(vessel, "TracerPid")).isEqualTo("0");
        placeholder.goAndExpectPass();
    }

    /**
     * A placeholder that cannot have a userfaultfd at all (a seccomp filter fails the call with ENOSYS): the
     * lazy restore, the node agent's default, goes eagerly instead, says why, and the program passes.
     */
    @Test
    void lazilyIntoAPlaceholderWithoutUserfaultfdGoesEagerly() throws Exception {
        Path image = tmp.resolve("pattern.img");
        dumpedInNamespace(image, PidNamespaceIT::nsIds, "mem_pattern", "64");

        Harness.Proc placeholder = inNamespace("placeholder", Harness.program("no_uffd").toString(), "/bin/sleep",
                "1000");
        int vessel = firstProcess(placeholder);
        await().atMost(Duration.ofSeconds(10)).until(() -> comm(vessel).equals("sleep"));
        RestoreResult r = restoreLazilyInto(vessel, image);
        assertThat(r.lazy()).isFalse();
        assertThat(r.lazyRefusal()).contains("userfaultfd").contains("Function not implemented");
        assertThat(r.pid()).isEqualTo(vessel);
        placeholder.goAndExpectPass();
    }

    /** A tree lazily into a placeholder that may not make a userfaultfd: each process is served its own pages. */
    @Test
    void aTreeLazilyIntoAPlaceholder() throws Exception {
        Path image = tmp.resolve("tree.img");
        List<Integer> pidsBefore = dumpedInNamespace(image, PidNamespaceIT::treeNsPids, "tree", "private");

        Harness.Proc placeholder = h.start("placeholder", withoutCaps("-sys_admin,-checkpoint_restore,-sys_ptrace",
                "/bin/sleep", "1000"));
        int vessel = firstProcess(placeholder);
        RestoreResult r = restoreLazilyInto(vessel, image);
        assertThat(r.lazy()).isTrue();
        assertThat(treeNsPids(vessel)).isEqualTo(pidsBefore);
        for (int pid : treeOnHost(vessel)) {
            assertThat(status(pid, "TracerPid")).as("tracer of %d after every page is in", pid).isEqualTo("0");
        }
        placeholder.goAndExpectPass();
    }

    @Test
    void anIdTakenInTheNamespaceIsRefusedAndThePlaceholderLivesOnUntouched() throws Exception {
        Path image = tmp.resolve("tree.img");
        List<Integer> pidsBefore = dumpedInNamespace(image, PidNamespaceIT::treeNsPids, "tree", "pipes");

        Harness.Proc placeholder = inNamespace("placeholder", "/bin/sleep", "1000");
        int vessel = firstProcess(placeholder);
        // The namespace's next PID goes to this process: the tree's first child's.
        int taken = takeNextPid(vessel);
        assertThat(taken).isEqualTo(pidsBefore.get(1));
        String mapsBefore = Files.readString(Path.of("/proc", Integer.toString(vessel), "maps"));
        String maskBefore = status(vessel, "SigBlk");

        assertThatThrownBy(() -> restoreInto(vessel, image)).isInstanceOf(EngineException.class)
                .satisfies(e -> assertThat(((EngineException) e).reason()).isEqualTo(EngineException.Reason.INCOMPATIBLE))
                .hasMessageContaining("process " + pidsBefore.get(1) + " (tree) of the tree must keep its PID, but PID "
                        + pidsBefore.get(1) + " is in use in the PID namespace of the vessel " + vessel);

        assertThat(Harness.state(vessel)).contains('S');
        assertThat(Harness.status(vessel, "TracerPid")).contains("0");
        assertThat(status(vessel, "SigBlk")).isEqualTo(maskBefore);
        assertThat(Files.readString(Path.of("/proc", Integer.toString(vessel), "maps"))).isEqualTo(mapsBefore);
        assertThat(Files.readString(Path.of("/proc", Integer.toString(vessel), "comm")).trim()).isEqualTo("sleep");
    }

    @Test
    void aThreadIdTakenInTheNamespaceIsRefusedAndThePlaceholderLivesOn() throws Exception {
        Path image = tmp.resolve("threads.img");
        TreeSet<Integer> tids = dumpedInNamespace(image, PidNamespaceIT::nsIds, "threads");

        Harness.Proc placeholder = inNamespace("placeholder", "/bin/sleep", "1000");
        int vessel = firstProcess(placeholder);
        int taken = takeNextPid(vessel);
        assertThat(tids).contains(taken);

        assertThatThrownBy(() -> restoreInto(vessel, image)).isInstanceOf(EngineException.class)
                .hasMessageContaining("thread " + taken + " of process 1 must keep its ID, but it is in use in the PID "
                        + "namespace of the vessel " + vessel);
        assertThat(Harness.state(vessel)).contains('S');
        assertThat(Harness.status(vessel, "TracerPid")).contains("0");
        assertThat(comm(vessel)).isEqualTo("sleep");
    }

    /**
     * Starts test program {@code program} in a PID namespace of its own, takes {@code ids} of its first
     * process, and dumps it (which kills it) into {@code image}; returns those IDs.
     */
    private <T> T dumpedInNamespace(Path image, Function<Integer, T> ids, String program, String... args) {
        List<String> command = new ArrayList<>(List.of(Harness.program(program).toString()));
        command.addAll(List.of(args));
        Harness.Proc source = inNamespace(program, command.toArray(String[]::new));
        source.awaitReady();
        int original = firstProcess(source);
        T before = ids.apply(original);
        h.dump(original, image);
        source.awaitDeath(Duration.ofSeconds(10), "dump kills it");
        return before;
    }

    /** A sleep entered into the vessel's namespace takes its next PID; returns that PID as the namespace numbers it. */
    private int takeNextPid(int vessel) {
        Harness.Proc holder = h.start("holder", List.of("nsenter", "--target", Integer.toString(vessel), "--pid",
                "--", "/bin/sleep", "1000"));
        await().atMost(Duration.ofSeconds(10)).until(() -> children((int) holder.pid()).size() == 1
                && comm(children((int) holder.pid()).get(0)).equals("sleep"));
        return nsId(children((int) holder.pid()).get(0));
    }

    /** The placeholder has neither CAP_SYS_ADMIN (21) nor CAP_CHECKPOINT_RESTORE (40): clone3 set_tid is refused to it. */
    private static void cannotChooseIds(int vessel) {
        long caps = Long.parseUnsignedLong(status(vessel, "CapEff"), 16);
        assertThat(caps & (1L << 21 | 1L << 40)).isZero();
    }

    /**
     * Processes started and ended in the placeholder's namespace, so that its next PID is past the IDs the
     * image wants: only a chosen ID, not the next free one, can give them.
     */
    private void advanceNextPid(int vessel) {
        for (int i = 0; i < 8; i++) {
            Harness.Proc p = h.start("true", List.of("nsenter", "--target", Integer.toString(vessel), "--pid", "--",
                    "/bin/true"));
            p.closeStdin();
            assertThat(p.waitFor(Duration.ofSeconds(10))).isZero();
        }
    }

    /**
     * {@code command} as the first process of a new PID namespace, without the capabilities that would let it
     * choose IDs there itself.
     */
    private Harness.Proc inNamespace(String name, String... command) {
        return h.start(name, withoutCaps("-sys_admin,-checkpoint_restore", command));
    }

    /** {@code command} as the first process of a new PID namespace, with {@code bounding} taken from its capabilities. */
    private static List<String> withoutCaps(String bounding, String... command) {
        List<String> cmd = new ArrayList<>(List.of("unshare", "--pid", "--fork", "--kill-child", "setpriv",
                "--bounding-set", bounding, "--"));
        cmd.addAll(List.of(command));
        return cmd;
    }

    /** The host PID of the namespace's first process: unshare's only child. */
    private static int firstProcess(Harness.Proc unshare) {
        await().atMost(Duration.ofSeconds(10)).until(() -> children((int) unshare.pid()).size() == 1);
        int pid = children((int) unshare.pid()).get(0);
        await().atMost(Duration.ofSeconds(10)).until(() -> !comm(pid).equals("setpriv") && !comm(pid).equals("unshare"));
        assertThat(nsId(pid)).isEqualTo(1);
        return pid;
    }

    private static String comm(int pid) {
        try {
            return Files.readString(Path.of("/proc", Integer.toString(pid), "comm")).trim();
        } catch (IOException e) {
            return "";
        }
    }

    /** A test program, started and dumped (which ends it), as an image in the temporary directory. */
    private Path dumpedProgram(String program) {
        Harness.Proc source = h.startProgram(program, List.of(), java.util.Map.of());
        Path image = tmp.resolve(program + ".img");
        h.dump(source.pid(), image);
        source.awaitDeath(Duration.ofSeconds(10), "dump kills it");
        return image;
    }

    /** The placeholder's first process (its PID here), once it runs sleep. */
    private static int onceSleeping(Harness.Proc placeholder) {
        int vessel = firstProcess(placeholder);
        await().atMost(Duration.ofSeconds(10)).until(() -> comm(vessel).equals("sleep"));
        return vessel;
    }

    private static String cpusAllowed(Path status) throws IOException {
        return Files.readAllLines(status).stream().filter(l -> l.startsWith("Cpus_allowed_list:")).findFirst()
                .orElseThrow().substring(18).trim();
    }

    private static RestoreResult restoreInto(int vessel, Path image) throws EngineException, IOException {
        return restoreInto(vessel, image, new RestoreOptions(false, null));
    }

    private static RestoreResult restoreLazilyInto(int vessel, Path image) throws EngineException, IOException {
        return restoreInto(vessel, image, new RestoreOptions(false, null, null, null, true));
    }

    private static RestoreResult restoreInto(int vessel, Path image, RestoreOptions options)
            throws EngineException, IOException {
        try (FileChannel in = FileChannel.open(image, StandardOpenOption.READ)) {
            return new Engine().restoreInto(vessel, in, options);
        }
    }

    /** The IDs of a process's threads, as its PID namespace numbers them. */
    private static TreeSet<Integer> nsIds(int pid) {
        TreeSet<Integer> out = new TreeSet<>();
        try (var s = Files.list(Path.of("/proc", Integer.toString(pid), "task"))) {
            s.forEach(t -> out.add(nsId(Integer.parseInt(t.getFileName().toString()))));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    /** A process and its descendants, parents first, as their PID namespace numbers them. */
    private static List<Integer> treeNsPids(int root) {
        return treeOnHost(root).stream().map(PidNamespaceIT::nsId).toList();
    }

    /** A process and its descendants, parents first, by their PIDs here. */
    private static List<Integer> treeOnHost(int root) {
        List<Integer> host = new ArrayList<>(List.of(root));
        for (int i = 0; i < host.size(); i++) {
            host.addAll(children(host.get(i)));
        }
        return host;
    }

    private static int nsId(int hostId) {
        String[] f = status(hostId, "NSpid").split("\\s+");
        return Integer.parseInt(f[f.length - 1]);
    }

    private static String status(int pid, String field) {
        return Harness.status(pid, field).orElse("").trim();
    }

    private static List<Integer> children(int pid) {
        try {
            List<Integer> out = new ArrayList<>();
            try (var s = Files.list(Path.of("/proc", Integer.toString(pid), "task"))) {
                for (Path t : s.toList()) {
                    String c = Files.readString(t.resolve("children")).trim();
                    if (!c.isEmpty()) {
                        for (String p : c.split("\\s+")) {
                            out.add(Integer.parseInt(p));
                        }
                    }
                }
            }
            return out;
        } catch (IOException e) {
            return List.of();
        }
    }
}
