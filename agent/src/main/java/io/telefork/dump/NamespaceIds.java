package io.telefork.dump;

import io.telefork.image.ProcessTree;
import io.telefork.proc.ProcFs;
import io.telefork.sys.Kernel;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The IDs an image records are the ones the dumped processes themselves know (getpid, the TIDs glibc
 * caches, the PIDs a parent waits for): as their own PID namespace numbers them. For a process in a
 * container, dumped from the host, those are not the host's /proc numbers this dumper works with; they
 * are translated here, once the tree is frozen, when its records are written.
 */
final class NamespaceIds {
    private final ProcFs proc;
    /** Host ID to the namespace's, for every task of the tree; null when the tree is in this dumper's namespace. */
    private final Map<Integer, Integer> ids;

    private NamespaceIds(ProcFs proc, Map<Integer, Integer> ids) {
        this.proc = proc;
        this.ids = ids;
    }

    /** For a frozen tree whose processes (live and zombie, host PIDs) are {@code pids}, all in {@code root}'s namespace. */
    static NamespaceIds of(ProcFs proc, int root, List<Integer> pids) throws IOException {
        if (proc.readLink(root, "ns/pid").equals(proc.readLink(Kernel.getpid(), "ns/pid"))) {
            return new NamespaceIds(proc, null);
        }
        Map<Integer, Integer> ids = new HashMap<>();
        for (int pid : pids) {
            ids.put(pid, proc.idInOwnNamespace(pid, "NSpid"));
            for (int tid : tasks(proc, pid)) {
                ids.put(tid, proc.idInOwnNamespace(tid, "NSpid"));
            }
        }
        return new NamespaceIds(proc, ids);
    }

    private static List<Integer> tasks(ProcFs proc, int pid) {
        try {
            return proc.tasks(pid);
        } catch (IOException e) {
            return List.of(); // a zombie's tasks are gone
        }
    }

    /** A task's ID in the tree's namespace. */
    int id(int host) {
        return ids == null ? host : ids.getOrDefault(host, host);
    }

    /**
     * The members with their IDs in the tree's namespace: groups and sessions as NSpgid and NSsid show
     * them (0 where they lie outside it), the first process's parent 0 when it is outside (a container's
     * main process, whose parent is the runtime's shim).
     */
    List<ProcessTree.Member> members(List<ProcessTree.Member> members) throws IOException {
        if (ids == null) {
            return members;
        }
        List<ProcessTree.Member> out = new ArrayList<>();
        for (ProcessTree.Member m : members) {
            int ppid = ids.containsKey(m.ppid()) ? ids.get(m.ppid()) : 0;
            out.add(new ProcessTree.Member(id(m.pid()), ppid, proc.idInOwnNamespace(m.pid(), "NSpgid"),
                    proc.idInOwnNamespace(m.pid(), "NSsid"), m.zombie(), m.exitStatus(), m.exitSignal(), m.comm()));
        }
        return out;
    }

    List<ProcessTree.Share> shares(List<ProcessTree.Share> shares) {
        if (ids == null) {
            return shares;
        }
        return shares.stream().map(s -> new ProcessTree.Share(id(s.pid()), s.fd(), id(s.ownerPid()), s.ownerFd()))
                .toList();
    }
}
