package io.telefork.node;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds the host PIDs of a container's processes from its runtime ID by reading /proc/PID/cgroup (the
 * agent runs with hostPID). Runtime-agnostic: containerd, CRI-O and Docker all put the 64-hex ID into a
 * cgroup path component (".../pod<uid>/<id>", "cri-containerd-<id>.scope", "crio-<id>.scope",
 * "docker-<id>.scope", "libpod-<id>"), on every v1 hierarchy and on the v2 "0::" line.
 */
final class ContainerProcesses {

    private static final Pattern RUNTIME_ID = Pattern.compile("^(?:(containerd|cri-o|docker)://)?([0-9a-f]{64})$");

    private final Path procRoot;

    ContainerProcesses(Path procRoot) {
        this.procRoot = procRoot;
    }

    /** The bare 64-hex ID from "containerd://<id>", "cri-o://<id>", "docker://<id>" or the bare ID. */
    static String bareId(String containerID) {
        Matcher m = containerID == null ? null : RUNTIME_ID.matcher(containerID);
        if (m == null || !m.matches()) {
            throw new IllegalArgumentException("not a container ID: " + containerID);
        }
        return m.group(2);
    }

    /** Whether one line of /proc/PID/cgroup puts the process in the container with this bare ID. */
    static boolean inContainer(String cgroupLine, String bareId) {
        int colon = cgroupLine.indexOf(':', cgroupLine.indexOf(':') + 1);
        String path = colon < 0 ? cgroupLine : cgroupLine.substring(colon + 1);
        for (String part : path.split("/")) {
            // A whole component, or the ID inside one ("cri-containerd-<id>.scope"): never a prefix match
            // of a longer hex string.
            int at = part.indexOf(bareId);
            if (at < 0) {
                continue;
            }
            int end = at + bareId.length();
            boolean startOk = at == 0 || !isHex(part.charAt(at - 1));
            boolean endOk = end == part.length() || !isHex(part.charAt(end));
            if (startOk && endOk) {
                return true;
            }
        }
        return false;
    }

    private static boolean isHex(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    }

    /** All host PIDs in the container, in ascending order. */
    List<Integer> pids(String containerID) throws IOException {
        String id = bareId(containerID);
        List<Integer> out = new ArrayList<>();
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(procRoot, p -> isNumber(p.getFileName().toString()))) {
            for (Path dir : dirs) {
                List<String> lines;
                try {
                    lines = Files.readAllLines(dir.resolve("cgroup"));
                } catch (NoSuchFileException e) {
                    continue; // exited while we looked
                } catch (IOException e) {
                    continue;
                }
                for (String line : lines) {
                    if (inContainer(line, id)) {
                        out.add(Integer.parseInt(dir.getFileName().toString()));
                        break;
                    }
                }
            }
        }
        out.sort(Integer::compare);
        return out;
    }

    /**
     * The container's main process: the one that is PID 1 in its PID namespace, or (without a PID
     * namespace of its own) the one whose parent is outside the container.
     */
    Optional<ProcessInfo> main(String containerID) throws IOException {
        return main(infos(pids(containerID)));
    }

    /**
     * The placeholder to restore into. Target containers run it as the only child of a small shell (so
     * that it is not PID 1); a container whose main process has no children is its own placeholder.
     */
    Optional<ProcessInfo> placeholder(String containerID) throws IOException {
        List<ProcessInfo> procs = infos(pids(containerID));
        Optional<ProcessInfo> main = main(procs);
        if (main.isEmpty()) {
            return Optional.empty();
        }
        List<ProcessInfo> children = procs.stream().filter(p -> p.ppid() == main.get().pid()).toList();
        if (children.size() == 1) {
            return Optional.of(children.get(0));
        }
        return children.isEmpty() ? main : Optional.empty();
    }

    private static Optional<ProcessInfo> main(List<ProcessInfo> procs) {
        Optional<ProcessInfo> init = procs.stream().filter(p -> p.nsPid() == 1 && p.nsPid() != p.pid()).findFirst();
        if (init.isPresent()) {
            return init;
        }
        List<Integer> pids = procs.stream().map(ProcessInfo::pid).toList();
        return procs.stream().filter(p -> !pids.contains(p.ppid())).findFirst();
    }

    private List<ProcessInfo> infos(List<Integer> pids) {
        List<ProcessInfo> out = new ArrayList<>();
        for (int pid : pids) {
            try {
                out.add(ProcessInfo.read(procRoot, pid));
            } catch (IOException e) {
                // exited while we looked
            }
        }
        return out;
    }

    /** The cgroup lines of a process, to confirm after a restore that it stayed where it was. */
    List<String> cgroups(int pid) throws IOException {
        return Files.readAllLines(procRoot.resolve(Integer.toString(pid)).resolve("cgroup"));
    }

    private static boolean isNumber(String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (!Character.isDigit(s.charAt(i))) {
                return false;
            }
        }
        return true;
    }
}
