package io.telefork.node;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Real processes in real cgroups laid out the way the kubelet lays them out
 * (".../kubepods/pod&lt;uid&gt;/&lt;64-hex container ID&gt;"), made by the test and removed afterwards.
 * Needs root (CI runs as root). Processes are started detached (double fork), never as children of this
 * JVM: the engine ptraces them from inside this JVM, and the JDK's process reaper would otherwise
 * consume their ptrace stops.
 */
final class FakeContainers implements AutoCloseable {

    private final Path base;
    private final boolean v2;
    private final List<Path> dirs = new ArrayList<>();
    private final List<Long> pids = Collections.synchronizedList(new ArrayList<>());

    FakeContainers() throws IOException {
        assertThat(new com.sun.security.auth.module.UnixSystem().getUid()).as("these tests need root to make cgroups").isZero();
        v2 = Files.exists(Path.of("/sys/fs/cgroup/cgroup.controllers"));
        Path root = v2 ? Path.of("/sys/fs/cgroup") : Path.of("/sys/fs/cgroup/pids");
        base = root.resolve("telefork-it-" + UUID.randomUUID().toString().substring(0, 8));
        Files.createDirectory(base);
        dirs.add(base);
    }

    /** A new container: its cgroup directory, returned as its containerd:// ID. */
    String container() throws IOException {
        String id = (UUID.randomUUID().toString() + UUID.randomUUID()).replace("-", "");
        Path pod = base.resolve("kubepods").resolve("pod" + UUID.randomUUID());
        Path dir = pod.resolve(id);
        Files.createDirectories(dir);
        dirs.add(base.resolve("kubepods"));
        dirs.add(pod);
        dirs.add(dir);
        return "containerd://" + id;
    }

    /** Starts {@code shell} detached with stdio on /dev/null, moves it into the container, returns its PID. */
    long start(String containerID, String shell) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("sh", "-c", "(" + shell + ") </dev/null >/dev/null 2>&1 & echo $!")
                .redirectErrorStream(true).start();
        String line;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            line = r.readLine();
        }
        assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
        long pid = Long.parseLong(line.trim());
        pids.add(pid);
        enter(containerID, pid);
        if (shell.startsWith("exec ")) {
            // $! is the subshell: wait until it has become the program, or a dump could catch the shell.
            String program = Path.of(shell.split("\\s+")[1]).getFileName().toString();
            String comm = program.length() > 15 ? program.substring(0, 15) : program;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!comm.equals(commOf(pid)) && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(commOf(pid)).as("process %d became %s", pid, program).isEqualTo(comm);
        }
        return pid;
    }

    void enter(String containerID, long pid) throws IOException {
        Files.writeString(dir(containerID).resolve("cgroup.procs"), Long.toString(pid));
    }

    Path dir(String containerID) throws IOException {
        String id = ContainerProcesses.bareId(containerID);
        try (var s = Files.walk(base)) {
            return s.filter(p -> p.getFileName().toString().equals(id)).findFirst().orElseThrow();
        }
    }

    static String commOf(long pid) {
        try {
            return Files.readString(Path.of("/proc/" + pid + "/comm")).trim();
        } catch (IOException e) {
            return "";
        }
    }

    static String cmdline(long pid) throws IOException {
        return new String(Files.readAllBytes(Path.of("/proc/" + pid + "/cmdline")), StandardCharsets.UTF_8).replace('\0', ' ').trim();
    }

    /** The PID tracing the process (0: none), from /proc/PID/status. */
    static int tracerPid(long pid) throws IOException {
        return Files.readAllLines(Path.of("/proc/" + pid + "/status")).stream().filter(l -> l.startsWith("TracerPid:"))
                .mapToInt(l -> Integer.parseInt(l.substring("TracerPid:".length()).trim())).findFirst().orElseThrow();
    }

    /** 'R', 'S', 'Z', ... or 0 when there is no such process. */
    static char state(long pid) {
        try {
            return ProcessInfo.read(Path.of("/proc"), (int) pid).state();
        } catch (IOException e) {
            return 0;
        }
    }

    @Override
    public void close() throws IOException, InterruptedException {
        for (long pid : pids) {
            // Children first, while they can still be found through their parent.
            ProcessHandle.of(pid).ifPresent(h -> h.descendants().forEach(ProcessHandle::destroyForcibly));
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
        // Anything else still in our cgroups.
        for (Path d : dirs) {
            if (Files.exists(d.resolve("cgroup.procs"))) {
                for (String pid : Files.readAllLines(d.resolve("cgroup.procs"))) {
                    ProcessHandle.of(Long.parseLong(pid.trim())).ifPresent(ProcessHandle::destroyForcibly);
                }
            }
        }
        Path parent = v2 ? Path.of("/sys/fs/cgroup") : Path.of("/sys/fs/cgroup/pids");
        for (int i = dirs.size() - 1; i >= 0; i--) {
            Path d = dirs.get(i);
            // A cgroup can be removed only once empty: move stragglers (killed but not yet gone) out.
            for (int attempt = 0; attempt < 50 && Files.exists(d); attempt++) {
                try {
                    for (String pid : Files.readAllLines(d.resolve("cgroup.procs"))) {
                        try {
                            Files.writeString(parent.resolve("cgroup.procs"), pid);
                        } catch (IOException ignored) {
                            // gone meanwhile
                        }
                    }
                    Files.deleteIfExists(d);
                } catch (IOException e) {
                    Thread.sleep(100);
                }
            }
        }
    }
}
