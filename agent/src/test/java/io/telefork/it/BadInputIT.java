package io.telefork.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Everything the CLI must refuse, with the documented exit status and one "telefork: " line on stderr:
 * 2 usage, 3 no such process, 4 not dumpable, 5 unsupported, 6 bad image, 7 file changed.
 *
 * <p>A failed restore must leave no process behind. Restores that must fail are run under the
 * {@code subreaper} helper (agent/src/test/c/subreaper.c): every process restore leaves behind becomes
 * its child, and it reports (and kills) those still alive 2 s after restore exited.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class BadInputIT {

    @TempDir
    Path tmp;

    @RegisterExtension
    final Harness h = new Harness();

    // ---------------------------------------------------------------------------------------------
    // dump

    /** Usage errors exit 2 with a message (picocli's, with the usage: not held to the one-line rule). */
    @Test
    void usageErrors() {
        for (String[] args : List.of(new String[] {"dump"}, new String[] {"restore"}, new String[] {"no-such-command"},
                new String[] {"dump", "not-a-pid", tmp.resolve("x.img").toString()},
                new String[] {"dump", "--compress", "gzip", "1", tmp.resolve("x.img").toString()})) {
            Harness.Result r = h.run(args);
            assertThat(r.code()).as("exit status of telefork %s\nstderr: %s", r.command(), r.stderr()).isEqualTo(2);
            assertThat(r.stderr()).as("stderr of telefork %s", r.command()).isNotBlank();
        }
    }

    @Test
    void noSuchProcess() {
        Path image = tmp.resolve("none.img");
        h.run("dump", Long.toString(Harness.unusedPid()), image.toString()).assertFailedWith(3);
        assertThat(image).as("no image file after a failed dump").doesNotExist();
    }

    @Test
    void kernelThread() throws IOException {
        long pid = kernelThreadPid();
        h.run("dump", Long.toString(pid), tmp.resolve("kthread.img").toString()).assertFailedWith(4);
    }

    /** PID 2 (kthreadd) if visible, else any process with PF_KTHREAD in /proc/PID/stat flags. */
    private static long kernelThreadPid() throws IOException {
        if (Files.readString(Path.of("/proc/2/comm")).trim().equals("kthreadd")) {
            return 2;
        }
        try (var dirs = Files.list(Path.of("/proc"))) {
            for (Path d : (Iterable<Path>) dirs::iterator) {
                String name = d.getFileName().toString();
                if (!name.matches("[0-9]+")) {
                    continue;
                }
                try {
                    String stat = Files.readString(d.resolve("stat"));
                    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                    if ((Long.parseLong(f[6]) & 0x00200000L) != 0) { // field 9, flags: PF_KTHREAD
                        return Long.parseLong(name);
                    }
                } catch (IOException | RuntimeException e) {
                    // gone meanwhile
                }
            }
        }
        throw new AssertionError("no kernel thread visible in /proc");
    }

    @Test
    void zombie() throws IOException {
        // bash starts a short sleep in the background and execs a long one, which never reaps the short
        // one: a zombie whose PID bash printed. Run under subreaper so that the zombie is reaped once the
        // long sleep is killed.
        Harness.Proc parent = h.start("zombie parent", List.of(Harness.program("subreaper").toString(),
                "bash", "-c", "/usr/bin/sleep 0.3 & echo $!; exec /usr/bin/sleep 120"));
        try {
            long zombie = Long.parseLong(parent.awaitLine(l -> l.matches("[0-9]+"), Duration.ofSeconds(10), "a PID"));
            await("process " + zombie + " is a zombie").atMost(Duration.ofSeconds(10))
                    .until(() -> Harness.state(zombie).map(s -> s == 'Z').orElse(false));
            h.run("dump", Long.toString(zombie), tmp.resolve("zombie.img").toString()).assertFailedWith(4);
        } finally {
            // kill the sleep only: the subreaper then reaps the zombie and exits by itself
            parent.process.children().forEach(ProcessHandle::destroyForcibly);
            parent.waitFor(Duration.ofSeconds(10));
        }
    }

    /** telefork asked to dump itself: bash's $$ is the PID java gets once bash execs it. */
    @Test
    void self() {
        Path image = tmp.resolve("self.img");
        List<String> cmd = Harness.cli("dump", "$$", image.toString());
        String script = "exec " + String.join(" ", cmd.stream().map(a -> a.equals("$$") ? a : "'" + a + "'").toList());
        Harness.Proc p = h.start("telefork dump $$", List.of("bash", "-c", script));
        p.closeStdin();
        int code = p.waitFor(Harness.CLI_TIMEOUT);
        new Harness.Result(code, String.join("\n", p.lines()), p.stderr(), "dump $$ (itself)").assertFailedWith(4);
    }

    /**
     * States dump does not handle yet (see agent/src/test/c/refused.c): exit 5, and the process is left
     * as it was: alive, not traced, not stopped (every thread), and it still passes its own checks.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"socket"})
    void refusedAndLeftRunning(String kind) {
        Harness.Proc p = h.startProgram("refused", kind);
        Path image = tmp.resolve("refused.img");

        Harness.Result r = h.run("dump", Long.toString(p.pid()), image.toString());
        r.assertFailedWith(5);

        assertThat(p.process.isAlive()).as("still alive after the refused dump").isTrue();
        for (String task : taskIds(p.pid())) {
            long tid = Long.parseLong(task);
            assertThat(Harness.status(tid, "TracerPid")).as("TracerPid of thread %s after the refused dump", task)
                    .contains("0");
            assertThat(Harness.state(tid).orElse('?')).as("state of thread %s after the refused dump", task)
                    .isNotIn('t', 'T');
        }
        p.goAndExpectPass();
        assertThat(image).as("no image file after a failed dump").doesNotExist();
    }

    /**
     * A tree one of whose descendants holds something refused (a listening unix socket): exit 5, and
     * every process of the tree is left running, untraced and unstopped, and still passes its checks.
     */
    @Test
    void refusedDescendantLeavesTheWholeTreeRunning() {
        String program = Harness.program("refused").toString();
        Harness.Proc p = h.start("bash running refused socket", List.of("bash", "-c", "'" + program + "' socket; exit $?"));
        p.awaitLine("READY", Duration.ofSeconds(30));
        List<Long> children = p.process.children().map(ProcessHandle::pid).toList();
        assertThat(children).as("bash runs the program as its child").hasSize(1);
        Path image = tmp.resolve("tree.img");

        Harness.Result r = h.run("dump", Long.toString(p.pid()), image.toString());
        r.assertFailedWith(5);
        assertThat(r.stderr()).contains("process " + children.get(0) + " has fd 3 open on socket:");

        for (long pid : List.of(p.pid(), children.get(0))) {
            assertThat(Harness.alive(pid)).as("process %d alive after the refused dump", pid).isTrue();
            for (String task : taskIds(pid)) {
                long tid = Long.parseLong(task);
                assertThat(Harness.status(tid, "TracerPid")).as("TracerPid of %s after the refused dump", task)
                        .contains("0");
                assertThat(Harness.state(tid).orElse('?')).as("state of %s after the refused dump", task)
                        .isNotIn('t', 'T');
            }
        }
        p.goAndExpectPass();
        assertThat(image).as("no image file after a failed dump").doesNotExist();
    }

    /** A descendant in a network namespace of its own: refused (exit 5), the tree left running untraced. */
    @Test
    void descendantInAnotherNamespaceIsRefused() {
        Harness.Proc p = h.start("bash running unshare -n sleep",
                List.of("bash", "-c", "unshare -n /usr/bin/sleep 60; exit $?"));
        await("bash's child in its own network namespace").atMost(Duration.ofSeconds(10))
                .until(() -> p.process.children().anyMatch(c -> c.info().command().orElse("").endsWith("sleep")));
        long child = p.process.children().findFirst().orElseThrow().pid();
        try {
            Harness.Result r = h.run("dump", Long.toString(p.pid()), tmp.resolve("ns.img").toString());
            r.assertFailedWith(5);
            assertThat(r.stderr()).contains("process " + child).contains("another net namespace");
            for (long pid : List.of(p.pid(), child)) {
                assertThat(Harness.status(pid, "TracerPid")).as("TracerPid of %d after the refused dump", pid)
                        .contains("0");
                assertThat(Harness.state(pid).orElse('?')).as("state of %d", pid).isNotIn('t', 'T');
            }
        } finally {
            p.process.children().forEach(ProcessHandle::destroyForcibly);
            p.waitFor(Duration.ofSeconds(10));
        }
    }

    /**
     * A tree whose shared file changed after the dump: the restore fails (exit 7) after the child's vessel
     * was already forked, and kills it too: nothing is left behind.
     */
    @Test
    void failedTreeRestoreLeavesNoProcess() throws IOException {
        Harness.Proc p = h.startProgram("tree", List.of("file", tmp.toString()), Map.of());
        Path image = tmp.resolve("tree.img");
        h.dump(p.pid(), image);
        p.awaitDeath(Duration.ofSeconds(10), "dump kills the tree");
        Files.writeString(tmp.resolve("tree-file.txt"), "written after the dump\n", StandardOpenOption.APPEND);

        assertRestoreFails(image, 7);
    }

    /**
     * A dump that cannot write its image (a full filesystem: a 1 MiB tmpfs the test mounts, since /dev/full
     * is not always a device on these machines; a directory that does not exist) exits 10 and must not
     * kill the process: without --leave-running the process dies only once the image is written and
     * verified.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"full", "missing-dir"})
    void unwritableImageLeavesProcessRunning(String how) throws Exception {
        Path full = tmp.resolve("full");
        String target = "/nonexistent-dir/x.img";
        if (how.equals("full")) {
            Files.createDirectories(full);
            Process mount = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", full.toString())
                    .inheritIO().start();
            assertThat(mount.waitFor()).as("mount a 1 MiB tmpfs").isZero();
            target = full.resolve("x.img").toString();
        }
        try {
            unwritable(target);
        } finally {
            if (how.equals("full")) {
                new ProcessBuilder("umount", full.toString()).inheritIO().start().waitFor();
            }
        }
    }

    private void unwritable(String target) {
        Harness.Proc p = h.startProgram("mem_pattern", "64");
        h.run("dump", Long.toString(p.pid()), target).assertFailedWith(10);
        assertThat(p.process.isAlive()).as("alive after the failed dump").isTrue();
        assertThat(Harness.status(p.pid(), "TracerPid")).as("TracerPid after the failed dump").contains("0");
        p.goAndExpectPass();
    }

    /**
     * A dump into a device that refuses its bytes (a node of the /dev/full device, made here) fails with
     * exit 10, and the node stays: the partial image a failed dump removes is only ever a regular file
     * (an earlier CLI removed /dev/full itself that way).
     */
    @Test
    void aFailedDumpIntoADeviceLeavesTheDevice() throws Exception {
        Path device = tmp.resolve("full-device");
        Process mknod = new ProcessBuilder("mknod", device.toString(), "c", "1", "7").inheritIO().start();
        assertThat(mknod.waitFor()).as("mknod").isZero();
        unwritable(device.toString());
        assertThat(Files.readAttributes(device, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS).isOther())
                .as("%s is still a device", device).isTrue();
    }

    /** {@code dump PID -} into a pipe whose reader has gone: exit 10, and the process lives on. */
    @Test
    void brokenPipeLeavesProcessRunning() throws IOException {
        Harness.Proc p = h.startProgram("mem_pattern", "64");
        Harness.Proc dump = h.start("telefork dump -", Harness.cli("dump", Long.toString(p.pid()), "-"));
        dump.closeStdin();
        dump.process.getInputStream().close(); // our reading end: every write of dump fails with EPIPE
        int code = dump.waitFor(Harness.CLI_TIMEOUT);
        new Harness.Result(code, "", dump.stderr(), "dump PID - (reader gone)").assertFailedWith(10);
        assertThat(p.process.isAlive()).as("alive after the failed dump").isTrue();
        assertThat(Harness.status(p.pid(), "TracerPid")).as("TracerPid after the failed dump").contains("0");
        p.goAndExpectPass();
    }

    private static List<String> taskIds(long pid) {
        try (var s = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
            return s.map(t -> t.getFileName().toString()).toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // restore and inspect of bad images

    /** A small valid image of cwd_umask, whose original was killed by the dump. */
    private Path goodImage() {
        Harness.Proc p = h.startProgram("cwd_umask", List.of(tmp.toString()), Map.of());
        Path image = tmp.resolve("good.img");
        h.dump(p.pid(), image);
        p.awaitDeath(Duration.ofSeconds(10), "dump kills the process");
        return image;
    }

    /**
     * Runs restore of {@code image} under the subreaper with go written to its stdin (a restored program
     * that wrongly got to run would print PASS), and asserts the exit status, the error line, and that no
     * process was left behind.
     */
    /** The image of brk_growth run from a copy of its executable at {@code exe} (the dump ends it). */
    private Path dumpedFromCopy(Path exe) throws IOException {
        Files.copy(Harness.program("brk_growth"), exe);
        Harness.Proc p = h.start("brk_growth copy", List.of(exe.toString()));
        p.awaitReady();
        Path image = tmp.resolve("exe.img");
        h.dump(p.pid(), image);
        p.awaitDeath(Duration.ofSeconds(10), "dump kills the process");
        return image;
    }

    /** Returns the failed restore's stderr. */
    private String assertRestoreFails(Path image, int expected, String... options) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Harness.program("subreaper").toString());
        List<String> args = new ArrayList<>(List.of("restore"));
        args.addAll(List.of(options));
        args.add(image.toString());
        cmd.addAll(Harness.cli(args.toArray(String[]::new)));
        Harness.Proc restore = h.start("subreaper telefork restore", cmd);
        restore.writeLine("go");
        int code = restore.waitFor(Harness.CLI_TIMEOUT);
        String stderr = restore.stderr();
        new Harness.Result(code, String.join("\n", restore.lines()), stderr.lines()
                .filter(l -> !l.startsWith("subreaper: ")).reduce("", (a, b) -> a + b + "\n"),
                "restore " + image.getFileName()).assertFailedWith(expected);
        assertThat(restore.lines()).as("stdout of the failed restore: %s", restore.describe())
                .noneMatch(l -> l.equals("PASS") || l.startsWith("FAIL"));
        assertThat(stderr).as("processes left behind by the failed restore").contains("subreaper: strays=0");
        return stderr;
    }

    private void assertInspectRejects(Path image) {
        Harness.Result r = h.run("inspect", "--json", image.toString());
        if (r.code() == 0) {
            Object verified = ((Map<?, ?>) Harness.Json.parse(r.stdout())).get("verified");
            assertThat(verified).as("inspect --json of a damaged image exited 0, so it must say verified false")
                    .isEqualTo(Boolean.FALSE);
        } else {
            r.assertFailedWith(6);
        }
    }

    @ParameterizedTest(name = "truncated to {0}")
    @ValueSource(strings = {"10 bytes", "half", "all but the last byte"})
    void truncatedImage(String where) throws IOException {
        Path good = goodImage();
        long size = Files.size(good);
        long keep = switch (where) {
            case "10 bytes" -> 10;
            case "half" -> size / 2;
            default -> size - 1;
        };
        Path bad = tmp.resolve("truncated.img");
        Files.copy(good, bad);
        try (RandomAccessFile f = new RandomAccessFile(bad.toFile(), "rw")) {
            f.setLength(keep);
        }
        assertRestoreFails(bad, 6);
        assertInspectRejects(bad);
    }

    @ParameterizedTest(name = "flipped byte at {0} of the image")
    @ValueSource(strings = {"1/2", "3/4", "1/8"})
    void corruptedImage(String fraction) throws IOException {
        Path good = goodImage();
        long size = Files.size(good);
        String[] nd = fraction.split("/");
        long at = size * Long.parseLong(nd[0]) / Long.parseLong(nd[1]);
        Path bad = tmp.resolve("corrupt.img");
        Files.copy(good, bad);
        try (RandomAccessFile f = new RandomAccessFile(bad.toFile(), "rw")) {
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 0xff);
        }
        assertRestoreFails(bad, 6);
        assertInspectRejects(bad);
    }

    @Test
    void futureFormatVersion() throws IOException {
        Path good = goodImage();
        byte[] bytes = Files.readAllBytes(good);
        assertThat(new String(bytes, 0, 8, StandardCharsets.US_ASCII)).as("image magic").isEqualTo("TELEFORK");
        assertThat(ByteBuffer.wrap(bytes, 8, 2).getShort()).as("format version").isEqualTo((short) 4);
        ByteBuffer.wrap(bytes).putShort(8, (short) 999);
        Path bad = tmp.resolve("future.img");
        Files.write(bad, bytes);

        assertRestoreFails(bad, 6);
        h.run("inspect", "--json", bad.toString()).assertFailedWith(6);
    }

    @Test
    void changedFileIsRefusedUnlessAllowed() throws IOException {
        Harness.Proc p = h.startProgram("read_file", List.of(tmp.toString()), Map.of());
        Path image = tmp.resolve("read_file.img");
        h.dump(p.pid(), image);
        p.awaitDeath(Duration.ofSeconds(10), "dump kills the process");

        // Change the first half of data.bin in place (same inode, same size; the program reads only the
        // second half after the restore), and move its mtime on for filesystems with coarse timestamps.
        Path data = tmp.resolve("data.bin");
        FileTime mtime = Files.getLastModifiedTime(data);
        try (RandomAccessFile f = new RandomAccessFile(data.toFile(), "rw")) {
            f.seek(0);
            int b = f.read();
            f.seek(0);
            f.write(b ^ 0xff);
        }
        Files.setLastModifiedTime(data, FileTime.fromMillis(mtime.toMillis() + 2000));

        assertRestoreFails(image, 7);

        Harness.Proc restored = h.restore(image, "--allow-changed-files");
        restored.goAndExpectPass();
    }

    @Test
    void changedExecutableIsRefused() throws IOException {
        Path exe = tmp.resolve("brk_growth_copy");
        Path image = dumpedFromCopy(exe);
        Files.write(exe, new byte[] {0}, StandardOpenOption.APPEND);

        assertRestoreFails(image, 7);
    }

    /**
     * The executable deleted after the dump: it is among the files opened together in one batch with the
     * libraries; the restore fails with the file named, and the libraries' descriptors go with the vessel.
     */
    @Test
    void deletedExecutableIsRefused() throws IOException {
        Path exe = tmp.resolve("brk_growth_copy");
        Path image = dumpedFromCopy(exe);
        Files.delete(exe);

        assertThat(assertRestoreFails(image, 7)).contains("cannot reopen " + exe).contains("No such file");
    }

    @Test
    void deletedWorkingDirectoryIsRefused() throws IOException {
        Harness.Proc p = h.startProgram("cwd_umask", List.of(tmp.toString()), Map.of());
        Path image = tmp.resolve("cwd.img");
        h.dump(p.pid(), image);
        p.awaitDeath(Duration.ofSeconds(10), "dump kills the process");
        Files.delete(tmp.resolve("a dir"));

        assertRestoreFails(image, 7);
    }

    @Test
    void deletedFileIsRefused() throws IOException {
        Harness.Proc p = h.startProgram("read_file", List.of(tmp.toString()), Map.of());
        Path image = tmp.resolve("read_file.img");
        h.dump(p.pid(), image);
        p.awaitDeath(Duration.ofSeconds(10), "dump kills the process");
        Files.delete(tmp.resolve("log.txt"));

        assertRestoreFails(image, 7);
    }

    /**
     * A deleted-but-open file (ghost_fd: 2.5 MiB) or memfd over --ghost-limit: exit 5 with a message naming
     * the file, its size and the flag to raise, and the process left running as it was.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"default", "1M"})
    void ghostOverLimitIsRefusedAndLeftRunning(String limit) {
        Harness.Proc p = h.startProgram("ghost_fd", tmp.toString());
        Path image = tmp.resolve("ghost.img");
        List<String> args = new ArrayList<>(List.of("dump"));
        if (!limit.equals("default")) {
            args.addAll(List.of("--ghost-limit", limit));
        }
        args.addAll(List.of(Long.toString(p.pid()), image.toString()));

        Harness.Result r = h.run(args.toArray(String[]::new));
        r.assertFailedWith(5);
        assertThat(r.stderr()).as("the refusal names the file, its size, the limit and the flag")
                .contains("has fd 10 open on " + tmp.resolve("ghost.dat") + " (deleted), a deleted file of 2621440 bytes")
                .contains("--ghost-limit (now " + (limit.equals("default") ? 0 : 1048576) + " bytes)")
                .contains("dump with --ghost-limit 3M or more");

        assertThat(p.process.isAlive()).as("still alive after the refused dump").isTrue();
        assertThat(Harness.status(p.pid(), "TracerPid")).as("TracerPid after the refused dump").contains("0");
        assertThat(Harness.state(p.pid()).orElse('?')).as("state after the refused dump").isNotIn('t', 'T');
        p.goAndExpectPass();
        assertThat(image).as("no image file after a failed dump").doesNotExist();
    }

    /**
     * inotify watches of a process in another mount namespace: their paths are found in telefork's own
     * namespace, where they could name other files, so the dump is refused (exit 5) and the process runs on.
     */
    @Test
    void inotifyInAnotherMountNamespaceIsRefusedAndLeftRunning() {
        Harness.Proc p = h.start("inotify_watch in a mount namespace of its own",
                List.of("unshare", "-m", "--propagation", "private", Harness.program("inotify_watch").toString(),
                        tmp.toString()));
        p.awaitReady();
        Path image = tmp.resolve("inotify.img");

        Harness.Result r = h.run("dump", Long.toString(p.pid()), image.toString());
        r.assertFailedWith(5);
        assertThat(r.stderr()).as("the refusal names the inotify fd and the reason")
                .contains("has fd 10 open on anon_inode:inotify with watches, in another mount namespace than telefork's");

        assertThat(p.process.isAlive()).as("still alive after the refused dump").isTrue();
        assertThat(Harness.status(p.pid(), "TracerPid")).as("TracerPid after the refused dump").contains("0");
        p.goAndExpectPass();
        assertThat(image).as("no image file after a failed dump").doesNotExist();
    }

    /**
     * A FIFO (agent/src/test/c/fifo.c: two, one between parent and child) deleted, or replaced by a regular
     * file, between dump and restore: the restore fails (exit 7) and leaves no process, and writes none of
     * the FIFO's buffered bytes into the file that took its place.
     */
    @ParameterizedTest
    @ValueSource(strings = {"deleted", "replaced"})
    void fifoGoneIsRefused(String how) throws IOException {
        Harness.Proc p = h.startProgram("fifo", List.of(tmp.toString()), Map.of());
        Path image = tmp.resolve("fifo.img");
        h.dump(p.pid(), image);
        p.awaitDeath(Duration.ofSeconds(10), "dump kills the process");
        Path fifo = tmp.resolve("own");
        Files.delete(fifo);
        if (how.equals("replaced")) {
            Files.writeString(fifo, "a regular file\n");
        }

        assertRestoreFails(image, 7);
        if (how.equals("replaced")) {
            assertThat(Files.readString(fifo)).as("the file in the FIFO's place").isEqualTo("a regular file\n");
        }
    }

    /**
     * A deleted file is re-created in the directory it was deleted from: with that directory gone, the
     * restore fails (exit 7) before anything runs.
     */
    @Test
    void ghostWhoseDirectoryIsGoneIsRefused() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("ghost dir"));
        Harness.Proc p = h.startProgram("ghost_private", List.of(dir.toString()), Map.of());
        Path image = tmp.resolve("ghost_private.img");
        h.dump(p.pid(), image, "--ghost-limit", "1M");
        p.awaitDeath(Duration.ofSeconds(10), "dump kills the process");
        Files.delete(dir);

        assertRestoreFails(image, 7);
    }
}
