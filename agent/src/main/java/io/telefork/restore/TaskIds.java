package io.telefork.restore;

import io.telefork.engine.EngineException;
import io.telefork.engine.EngineException.Reason;
import io.telefork.proc.ProcFs;
import io.telefork.sys.Kernel;
import io.telefork.sys.Ptrace;
import io.telefork.sys.Remote;
import io.telefork.sys.Spawner;
import io.telefork.sys.Sys;
import io.telefork.sys.SysException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * How a task cloned into a vessel (a process of a tree, or a thread) gets the ID it was dumped with, as the
 * vessel's PID namespace numbers it. clone3's set_tid chooses the ID, but the kernel asks the caller, the
 * vessel, for CAP_CHECKPOINT_RESTORE over the namespace: a vessel spawned by a privileged restorer has it,
 * a container's placeholder does not (EPERM). Then, in another PID namespace than this restorer's, the
 * namespace's allocator is steered instead: a helper process of this restorer, spawned into the namespace
 * with the restorer's privileges, writes N-1 into /proc/sys/kernel/ns_last_pid (a write acts on the
 * writer's own namespace) and is gone again before the clone, which then gets N, as nothing else forks
 * there (the container holds only the frozen placeholder and the restore's vessels). Never in this
 * restorer's own namespace: its own threads, started any time, would take the steered IDs. Every new
 * task's ID is checked.
 */
final class TaskIds {
    /** Where clone3's arguments end and the one-entry set_tid array follows them. */
    static final int CLONE_ARGS_SIZE = 88;
    private static final long EPERM = -1;
    private static final String NS_LAST_PID = "/proc/sys/kernel/ns_last_pid";

    private final Ptrace ptrace;
    private final ProcFs proc;
    private final int member;
    private final boolean ownNamespace;
    private boolean setTidRefused;

    /** For the PID namespace of {@code member} (a host PID): the first vessel. */
    TaskIds(Ptrace ptrace, ProcFs proc, int member) throws IOException {
        this.ptrace = ptrace;
        this.proc = proc;
        this.member = member;
        this.ownNamespace = proc.readLink(member, "ns/pid").equals(proc.readLink(Kernel.getpid(), "ns/pid"));
    }

    /** A task's ID as its own PID namespace numbers it. */
    int inNamespace(int hostId) throws IOException {
        return proc.idInOwnNamespace(hostId, "NSpid");
    }

    /**
     * The IDs that tasks of the namespace hold now: those of every task that is a direct member of it (a
     * task of a namespace nested in it would hold one too, which this does not see).
     */
    Set<Integer> inUse() throws IOException {
        Set<Integer> out = new HashSet<>();
        String ns = proc.readLink(member, "ns/pid");
        for (int pid : proc.pids()) {
            try {
                if (!proc.readLink(pid, "ns/pid").equals(ns)) {
                    continue;
                }
                for (int tid : proc.tasks(pid)) {
                    out.add(inNamespace(tid));
                }
            } catch (IOException | RuntimeException e) {
                // gone while we looked
            }
        }
        return out;
    }

    /** Whether no task of the namespace holds the ID. */
    boolean free(int id) throws IOException {
        return ownNamespace ? !proc.exists(id) : !inUse().contains(id);
    }

    /**
     * Readies the clone3 arguments in {@code args} (the set_tid array at {@link #CLONE_ARGS_SIZE}, which
     * the vessel sees at {@code tidArray}) for the next clone to get {@code wanted}; when set_tid was
     * refused, without it, the allocator steered instead.
     */
    void prepare(ByteBuffer args, long tidArray, int wanted) throws Exception {
        if (!setTidRefused) {
            args.putLong(64, tidArray).putLong(72, 1).putInt(CLONE_ARGS_SIZE, wanted);
            return;
        }
        args.putLong(64, 0).putLong(72, 0);
        steer(wanted);
    }

    /** After clone3 failed with {@code negativeErrno}: true to prepare and clone again, the other way. */
    boolean retry(long negativeErrno) {
        if (negativeErrno == EPERM && !setTidRefused && !ownNamespace) {
            setTidRefused = true;
            return true;
        }
        return false;
    }

    /** The new task has the wanted ID, else the restore stops here. */
    void check(int hostId, int wanted, String what) throws IOException, EngineException {
        int got = inNamespace(hostId);
        if (got != wanted) {
            throw new EngineException(Reason.INCOMPATIBLE, what + " got ID " + got + " instead of " + wanted
                    + " in its PID namespace (did another process of the namespace start meanwhile?)");
        }
    }

    private void steer(int wanted) throws Exception {
        int helper = Spawner.spawnInPidNamespaceOf(member, Restorer.VESSEL, Restorer.VESSEL_ENV);
        try {
            ptrace.seize(helper, Ptrace.O_EXITKILL);
            ptrace.interrupt(helper);
            Restorer.awaitInterrupt(ptrace, helper);
            ptrace.setSigmask(helper, ~0L);
            ProcFs.Mapping vdso = proc.mappings(helper).stream().filter(m -> m.path().equals("[vdso]")).findFirst()
                    .orElseThrow(() -> new SysException("the ns_last_pid helper " + helper + " has no vDSO"));
            Remote r = new Remote(ptrace, helper, Remote.findGadget(helper, vdso.start(), vdso.end()));
            long page = r.call("mmap", Sys.SYS_MMAP, 0, Sys.PAGE, Sys.PROT_READ | Sys.PROT_WRITE,
                    Sys.MAP_PRIVATE | Sys.MAP_ANONYMOUS, -1, 0);
            byte[] value = Integer.toString(wanted - 1).getBytes(StandardCharsets.US_ASCII);
            ByteBuffer b = ByteBuffer.allocateDirect(128);
            b.put(NS_LAST_PID.getBytes(StandardCharsets.US_ASCII)).put((byte) 0).position(64);
            b.put(value).flip();
            Kernel.writeMemory(helper, page, b, 64 + value.length);
            long fd = r.raw(Sys.SYS_OPEN, page, Sys.O_WRONLY);
            long written = fd < 0 ? fd : r.raw(Sys.SYS_WRITE, fd, page + 64, value.length);
            if (fd >= 0) {
                r.raw(Sys.SYS_CLOSE, fd);
            }
            if (written != value.length) {
                throw new EngineException(Reason.INCOMPATIBLE, "cannot give a task ID " + wanted + " in the PID "
                        + "namespace of process " + member + ": the vessel may not choose it (clone3 set_tid: "
                        + "no CAP_CHECKPOINT_RESTORE there), and writing " + NS_LAST_PID + " in that namespace "
                        + "failed: " + (written < 0 ? Sys.errno(written) : "short write"));
            }
        } finally {
            Restorer.killAndReap(ptrace, List.of(helper));
        }
    }
}
