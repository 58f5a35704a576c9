package io.telefork.dump;

import io.telefork.engine.EngineException;
import io.telefork.engine.EngineException.Reason;
import io.telefork.image.Credentials;
import io.telefork.image.MemoryArea;
import io.telefork.image.ProcessInfo;
import io.telefork.image.Regs;
import io.telefork.image.SignalState;
import io.telefork.image.ThreadState;
import io.telefork.proc.FileIds;
import io.telefork.proc.ProcFs;
import io.telefork.sys.CpuPin;
import io.telefork.sys.Kernel;
import io.telefork.sys.Ptrace;
import io.telefork.sys.Remote;
import io.telefork.sys.Sys;
import io.telefork.sys.SysException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One live process of a tree being dumped, frozen: its seized threads with the signal mask each had, the
 * injectors whose register changes are undone on release, and whether it was job-control stopped. Its
 * signals are blocked only around groups of injected calls: a telefork killed during the freeze detaches
 * its tracees as they are, and outside those groups they then run on with their own masks. For the same
 * groups only, the threads that take the calls and the tracer are pinned to one CPU ({@link CpuPin}). It
 * freezes, reads (all but descriptors, which need the whole tree, and pages), releases or kills itself.
 * Used on the tracer thread only.
 */
final class FrozenProcess {
    private static final int SYS_GETITIMER = 36;
    private static final int ESRCH = 3;
    /** Below the stack pointer, what leaf functions may use without moving it (x86-64 ABI). */
    private static final long RED_ZONE = 128;
    /** The largest thing an injected call reads into scratch space is a 32-byte struct (sigaction, itimerval). */
    private static final int SCRATCH_BYTES = 64;

    /** What was read of one process, all but its descriptors (which need the whole tree) and pages. */
    record Captured(FrozenProcess process, ProcessReader reader, List<MemoryArea> areas, List<ThreadState> threads,
                    ProcessInfo info, SignalState signals, Ghosts ghosts) {
    }

    private final Ptrace ptrace;
    private final ProcFs proc;
    private final int pid;
    /** Seized threads, the leader first, with the signal mask each had (null until saved). */
    private final Map<Integer, Long> seized = new LinkedHashMap<>();
    /** Threads whose mask is all ones right now, for a group of injected calls. */
    private final Set<Integer> blocked = new HashSet<>();
    /** The blocked threads and the tracer, on the tracer's CPU for the group. */
    private final CpuPin pin = new CpuPin();
    /** Threads whose registers injected calls change, restored on release. */
    private final Map<Integer, Remote> remotes = new LinkedHashMap<>();
    private boolean wasStopped;
    /** Release leaves it job-control stopped although it was running: a dump asked to leave it stopped. */
    private boolean stopOnRelease;
    private long gadget;
    /** Its handled and ignored signals (SigCgt, SigIgn), read in the freeze: whose disposition to read. */
    private long caught;
    private long ignored;
    /** Its interval timers (ITIMER_REAL, _VIRTUAL, _PROF: interval and value each), read in the freeze. */
    private final long[] itimers = new long[12];
    /** Where injected calls leave what they read: below the leader's stack pointer, or a page mapped for it. */
    private long scratch;
    /** The bytes the scratch space held on the stack, put back before the process may run; null if mapped. */
    private ByteBuffer scratchSaved;

    FrozenProcess(Ptrace ptrace, ProcFs proc, int pid) {
        this.ptrace = ptrace;
        this.proc = proc;
        this.pid = pid;
    }

    int pid() {
        return pid;
    }

    boolean wasStopped() {
        return wasStopped;
    }

    /** Some thread of it is still seized. */
    boolean frozen() {
        return !seized.isEmpty();
    }

    Remote remote(int tid) throws SysException {
        Remote r = remotes.get(tid);
        if (r == null) {
            r = new Remote(ptrace, tid, gadget);
            remotes.put(tid, r);
        }
        return r;
    }

    /**
     * Seizes the leader, then every other thread, scanning /proc/PID/task again until a scan finds no
     * thread not yet seized (a running thread may start another while the first ones are frozen).
     */
    void freeze() throws EngineException, SysException, IOException {
        wasStopped = "T".equals(proc.stat(pid)[3]);
        try {
            ptrace.seize(pid, 0);
        } catch (SysException e) {
            if (e.errno() == ESRCH) {
                throw new EngineException(Reason.NO_SUCH_PROCESS, "process " + pid + " exited");
            }
            throw new EngineException(Reason.NOT_DUMPABLE, "cannot trace process " + pid + ": " + e.getMessage());
        }
        seized.put(pid, null);
        if (wasStopped) {
            // A group-stopped tracee falls back into its stop after every step: wake it, release re-stops it.
            Kernel.kill(pid, Sys.SIGCONT);
        }
        ptrace.interrupt(pid);
        if (!awaitInterruptStop(pid)) {
            seized.remove(pid);
            throw new EngineException(Reason.NO_SUCH_PROCESS, "process " + pid + " exited while being frozen");
        }
        boolean found = true;
        while (found) {
            found = false;
            for (int tid : proc.tasks(pid)) {
                if (seized.containsKey(tid)) {
                    continue;
                }
                try {
                    ptrace.seize(tid, 0);
                } catch (SysException e) {
                    if (e.errno() == ESRCH) {
                        continue; // it exited
                    }
                    throw e;
                }
                found = true;
                seized.put(tid, null);
                ptrace.interrupt(tid);
                if (!awaitInterruptStop(tid)) {
                    seized.remove(tid);
                }
            }
        }
    }

    /** Waits for the stop PTRACE_INTERRUPT asked for, passing signals on; false if the thread died. */
    private boolean awaitInterruptStop(int tid) throws SysException {
        while (true) {
            Ptrace.Status st = ptrace.waitFor(tid);
            if (!st.stopped()) {
                return false;
            }
            if (st.eventStop()) {
                if (st.stopSignal() == Sys.SIGTRAP) {
                    return true; // our interrupt
                }
                ptrace.cont(tid, 0); // a group-stop racing with us: let it go, the interrupt follows
            } else if (st.stopSignal() == Sys.SIGCONT && wasStopped) {
                ptrace.cont(tid, 0); // our own SIGCONT: it only served to wake the process
            } else {
                ptrace.cont(tid, st.stopSignal()); // deliver it as it would have been; the interrupt follows
            }
        }
    }

    /** Saves every thread's own mask, the one its image records and every unblock puts back. */
    void saveSignalMasks() throws SysException {
        for (int tid : seized.keySet()) {
            seized.put(tid, ptrace.getSigmask(tid));
        }
    }

    /**
     * Blocks every signal of every thread, for injected calls: a signal the stepped thread could take
     * would turn the step into a signal-delivery stop. A thread that stays in its ptrace stop takes none,
     * whatever its mask, so the others' masks matter only for a group that steps each of them.
     */
    void blockSignals() throws SysException {
        for (int tid : seized.keySet()) {
            blockSignals(tid);
        }
    }

    /** As {@link #blockSignals()} for the leader only, for calls injected into it alone. */
    void blockLeaderSignals() throws SysException {
        blockSignals(pid);
    }

    private void blockSignals(int tid) throws SysException {
        if (seized.get(tid) == null) {
            throw new IllegalStateException("the signal mask of " + tid + " was not saved before blocking");
        }
        ptrace.setSigmask(tid, ~0L);
        blocked.add(tid);
        pin.add(tid);
    }

    /** Puts back the saved masks (signals, CPUs) of the blocked threads; does nothing when none is blocked. */
    void unblockSignals() throws SysException {
        for (int tid : new ArrayList<>(blocked)) {
            ptrace.setSigmask(tid, seized.get(tid));
            blocked.remove(tid);
        }
        pin.close();
    }

    /**
     * Registers, what /proc tells and what only injected calls can tell: all but fds and pages.
     *
     * @param before    what was read of it before the freeze, or null (see {@link ProcessReader#areas})
     * @param forkKeeps leave out what a fork copies as it is (the program break, the signal dispositions, the
     *                  leader's alternate signal stack: {@link Inherited}), to be read from its copy-on-write
     *                  twin once it runs again ({@link #withInherited}), or in the freeze after all
     */
    Captured capture(TreeFiles files, FrozenConnections connections, long ghostLimit, ProcessReader.Before before,
                     boolean forkKeeps) throws Exception {
        List<long[]> regs = new ArrayList<>();
        List<byte[]> xstates = new ArrayList<>();
        List<long[]> rseqs = new ArrayList<>();
        List<List<byte[]>> pendings = new ArrayList<>();
        for (int tid : seized.keySet()) {
            regs.add(ptrace.getRegs(tid));
            xstates.add(ptrace.getXState(tid));
            rseqs.add(ptrace.getRseq(tid));
            pendings.add(ptrace.peekSiginfo(tid, false));
        }
        List<byte[]> sharedPending = withoutOwnSigcont(ptrace.peekSiginfo(pid, true));

        Ghosts ghosts = new Ghosts(pid, ghostLimit);
        ProcessReader reader = new ProcessReader(proc, pid, files, connections, ghosts);
        List<MemoryArea> areas = reader.areas(before);
        reader.readDescriptors();

        MemoryArea vdso = areas.stream().filter(a -> a.kind() == MemoryArea.Kind.VDSO).findFirst()
                .orElseThrow(() -> new EngineException(Reason.UNSUPPORTED, "process " + pid + " has no vDSO"));
        gadget = reader.flagsFromBefore() && before.gadget() != 0 ? before.gadget()
                : Remote.findGadget(pid, vdso.start(), vdso.end());
        Map<String, String> status = Map.copyOf(proc.status(pid));
        caught = Long.parseUnsignedLong(status.getOrDefault("SigCgt", "0"), 16);
        ignored = Long.parseUnsignedLong(status.getOrDefault("SigIgn", "0"), 16);
        Remote leader = remote(pid);
        Inherited inherited = null;
        List<long[]> altstacks = new ArrayList<>();
        List<Long> clearTids = new ArrayList<>();
        blockSignals();
        try {
            takeScratch(areas);
            if (!forkKeeps) {
                inherited = readInherited(leader, pid, scratch);
            }
            // Timers are not copied by a fork: read here, twin or not.
            for (int which = 0; which < 3; which++) {
                leader.call("getitimer(" + which + ")", SYS_GETITIMER, which, scratch);
                ByteBuffer it = readScratch(32);
                for (int k = 0; k < 4; k++) {
                    itimers[which * 4 + k] = it.getLong(k * 8);
                }
            }
            for (int tid : seized.keySet()) {
                Remote r = remote(tid);
                altstacks.add(tid == pid ? null : altstack(r, pid, scratch));
                r.call("prctl(PR_GET_TID_ADDRESS)", Sys.SYS_PRCTL, Sys.PR_GET_TID_ADDRESS, scratch);
                clearTids.add(readScratch(8).getLong(0));
            }
            freeScratch();
            for (Remote r : remotes.values()) {
                r.restoreRegisters();
            }
        } finally {
            unblockSignals();
        }
        List<ThreadState> threads = new ArrayList<>();
        int i = 0;
        for (int tid : seized.keySet()) {
            threads.add(new ThreadState(tid, regs.get(i), xstates.get(i), seized.get(tid), rseqs.get(i),
                    altstacks.get(i), clearTids.get(i), Kernel.getRobustList(tid), pendings.get(i)));
            i++;
        }
        Captured c = new Captured(this, reader, areas, threads, forkKeeps ? null : processInfo(pid),
                new SignalState(null, sharedPending), ghosts);
        return inherited == null ? c : withInherited(c, inherited);
    }

    /**
     * What a fork copies as it is: the program break, the signal dispositions and the alternate signal
     * stack of the thread that forks (the leader: the twin's clone is injected there), and what /proc tells
     * of the process ({@link ProcessInfo}: its mm's fields, auxv, limits, command line, credentials, cwd...;
     * null when {@link #capture} read it). Read from the twin, it costs the freeze nothing; with a handler
     * per signal, a dozen injected calls for a JVM, and a dozen /proc files.
     */
    record Inherited(long brk, long[] actions, long[] leaderAltstack, ProcessInfo info) {
    }

    /** Reads {@link Inherited} from this process's copy-on-write twin {@code twin} (stopped, its signals blocked). */
    Inherited inheritedFromTwin(int twin) throws SysException, IOException {
        Remote r = new Remote(ptrace, twin, gadget);
        // A page of its own: the twin's memory is what the image holds, so nothing is written in it.
        Inherited in = readInherited(r, twin, mapPage(r));
        return new Inherited(in.brk(), in.actions(), in.leaderAltstack(), processInfo(twin));
    }

    /** Reads {@link Inherited} from the process itself, still frozen: when the freeze must write its records. */
    Inherited inheritedHere(List<MemoryArea> areas) throws SysException, IOException {
        Remote leader = remote(pid);
        blockLeaderSignals();
        try {
            takeScratch(areas);
            Inherited in = readInherited(leader, pid, scratch);
            freeScratch();
            leader.restoreRegisters();
            return new Inherited(in.brk(), in.actions(), in.leaderAltstack(), processInfo(pid));
        } finally {
            unblockSignals();
        }
    }

    /** {@code c} completed with what {@link #capture} left out for the twin. */
    static Captured withInherited(Captured c, Inherited in) {
        List<ThreadState> threads = new ArrayList<>(c.threads());
        threads.set(0, threads.get(0).withAltstack(in.leaderAltstack())); // the leader comes first
        ProcessInfo info = in.info() != null ? in.info() : c.info();
        return new Captured(c.process(), c.reader(), c.areas(), threads, info.withBrk(in.brk()),
                new SignalState(in.actions(), c.signals().sharedPending()), c.ghosts());
    }

    private Inherited readInherited(Remote r, int memPid, long at) throws SysException {
        long brk = r.call("brk(0)", Sys.SYS_BRK, 0);
        long[] actions = sigactions(r, memPid, at);
        return new Inherited(brk, actions, altstack(r, memPid, at), null);
    }

    private static long[] altstack(Remote r, int memPid, long at) throws SysException {
        r.call("sigaltstack", Sys.SYS_SIGALTSTACK, 0, at);
        ByteBuffer ss = read(memPid, at, 24);
        return new long[] {ss.getLong(0), ss.getInt(8), ss.getLong(16)};
    }

    private List<byte[]> withoutOwnSigcont(List<byte[]> pending) {
        if (!wasStopped) {
            return pending;
        }
        int self = Kernel.getpid();
        List<byte[]> kept = new ArrayList<>();
        for (byte[] info : pending) {
            ByteBuffer b = ByteBuffer.wrap(info).order(ByteOrder.LITTLE_ENDIAN);
            // si_pid is 0 when telefork is outside the target's PID namespace (a container).
            boolean ours = b.getInt(0) == Sys.SIGCONT && b.getInt(8) == 0 && (b.getInt(16) == self || b.getInt(16) == 0);
            if (!ours) {
                kept.add(info);
            }
        }
        return kept;
    }

    private long[] sigactions(Remote r, int memPid, long at) throws SysException {
        long[] actions = new long[SignalState.SIGNALS * 4];
        for (int sig = 1; sig <= SignalState.SIGNALS; sig++) {
            long bit = 1L << (sig - 1);
            if (sig == Sys.SIGKILL || sig == Sys.SIGSTOP || ((caught | ignored) & bit) == 0) {
                continue;
            }
            r.call("rt_sigaction(" + sig + ")", Sys.SYS_RT_SIGACTION, sig, 0, at, 8);
            ByteBuffer sa = read(memPid, at, 32);
            for (int k = 0; k < 4; k++) {
                actions[(sig - 1) * 4 + k] = sa.getLong(k * 8);
            }
        }
        return actions;
    }

    /**
     * Scratch space below the leader's stack pointer, past the red zone that leaf code may use: free by
     * the ABI while no signal handler runs (all signals are blocked around injected calls) and, within the
     * stack pointer's own page, already in memory, so it costs no mmap and munmap in the freeze. Its bytes
     * are saved and put back. 0 where it would leave that page or a private writable area.
     */
    private long stackScratch(List<MemoryArea> areas, long rsp) throws SysException {
        long at = (rsp - RED_ZONE - SCRATCH_BYTES) & ~15L;
        if ((at & -Sys.PAGE) != (rsp & -Sys.PAGE)) {
            return 0;
        }
        boolean privateWritable = areas.stream().anyMatch(a -> Long.compareUnsigned(a.start(), at) <= 0
                && Long.compareUnsigned(at + SCRATCH_BYTES, a.end()) <= 0 && !a.shared()
                && (a.prot() & MemoryArea.PROT_WRITE) != 0);
        if (!privateWritable) {
            return 0;
        }
        ByteBuffer saved = ByteBuffer.allocateDirect(SCRATCH_BYTES);
        if (Kernel.readMemory(pid, at, saved, SCRATCH_BYTES) != SCRATCH_BYTES) {
            return 0;
        }
        scratchSaved = saved;
        return at;
    }

    /** Scratch space for the leader's injected calls: below its stack pointer, else a page mapped for it. */
    private void takeScratch(List<MemoryArea> areas) throws SysException {
        Remote leader = remote(pid);
        scratch = stackScratch(areas, leader.savedRegisters()[Regs.RSP]);
        if (scratch == 0) {
            scratch = mapPage(leader);
        }
    }

    private static long mapPage(Remote r) throws SysException {
        return r.call("mmap scratch page", Sys.SYS_MMAP, 0, Sys.PAGE, Sys.PROT_READ | Sys.PROT_WRITE,
                Sys.MAP_PRIVATE | Sys.MAP_ANONYMOUS, -1, 0);
    }

    /** Gives the scratch space back: the stack's own bytes written again, or the page unmapped. */
    private void freeScratch() throws SysException {
        if (scratchSaved != null) {
            if (Kernel.writeMemory(pid, scratch, scratchSaved.clear(), SCRATCH_BYTES) != SCRATCH_BYTES) {
                throw new SysException(String.format("could not put back %d bytes of the stack of %d at 0x%x",
                        SCRATCH_BYTES, pid, scratch));
            }
            scratchSaved = null;
        } else {
            blockLeaderSignals();
            remote(pid).raw(Sys.SYS_MUNMAP, scratch, Sys.PAGE);
        }
        scratch = 0;
    }

    private ByteBuffer readScratch(int length) throws SysException {
        return read(pid, scratch, length);
    }

    private static ByteBuffer read(int memPid, long at, int length) throws SysException {
        ByteBuffer b = ByteBuffer.allocateDirect(length).order(ByteOrder.LITTLE_ENDIAN);
        Kernel.readMemory(memPid, at, b, length);
        return b;
    }

    /** Makes {@link #release()} leave the process stopped (SIGSTOP), to be killed or resumed later. */
    void stopOnRelease() {
        stopOnRelease = true;
    }

    /** Lets the process run again: registers, signal masks, running or stopped as found. */
    void release() throws SysException {
        SysException failed = null;
        if (scratch != 0) {
            try {
                freeScratch();
            } catch (SysException e) {
                failed = e; // released all the same: the bytes lie below its red zone, which no code relies on
                scratch = 0;
                scratchSaved = null;
            }
        }
        for (Remote r : remotes.values()) {
            r.restoreRegisters();
        }
        remotes.clear();
        unblockSignals();
        if ((wasStopped || stopOnRelease) && !seized.isEmpty()) {
            // A signal given to PTRACE_DETACH from an interrupt stop may be dropped; a queued one is not.
            Kernel.kill(pid, Sys.SIGSTOP);
        }
        List<Integer> tids = new ArrayList<>(seized.keySet());
        seized.clear();
        for (int tid : tids) {
            ptrace.detach(tid, 0);
        }
        if (failed != null) {
            throw failed;
        }
    }

    /** Kills the process and collects every thread's end (the leader's is reported after the others'). */
    void kill() throws SysException {
        if (seized.isEmpty()) {
            return;
        }
        try {
            pin.close(); // the tracer frees the memory beside the dying process, not on its CPU
        } catch (SysException e) {
            // it dies all the same
        }
        Kernel.killAndRelease(pid);
        awaitDeaths(new ArrayList<>(seized.keySet()));
        seized.clear();
        blocked.clear();
    }

    /**
     * Freezes the leader again for a moment (to reap a twin in it), its mask saved; false if it has
     * exited meanwhile.
     */
    boolean refreezeLeader() throws SysException {
        try {
            ptrace.seize(pid, 0);
        } catch (SysException e) {
            return false;
        }
        seized.put(pid, null);
        ptrace.interrupt(pid);
        if (!awaitInterruptStop(pid)) {
            seized.clear();
            return false;
        }
        seized.put(pid, ptrace.getSigmask(pid));
        return true;
    }

    /**
     * Collects the threads' ends in whatever order they come: the first process of a PID namespace (a
     * container's main process) ends only once every other task of the namespace is reaped, its own
     * traced threads included, so waiting for one thread after another can wait for ever.
     */
    private void awaitDeaths(List<Integer> tids) {
        List<Integer> left = new ArrayList<>(tids);
        while (!left.isEmpty()) {
            boolean progress = false;
            for (int i = left.size() - 1; i >= 0; i--) {
                try {
                    Ptrace.Status st = ptrace.poll(left.get(i));
                    if (st != null) {
                        progress = true;
                        if (!st.stopped()) {
                            left.remove(i);
                        }
                    }
                } catch (SysException e) {
                    left.remove(i); // already reaped (a thread's end is reported once)
                }
            }
            if (!progress) {
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    /**
     * What /proc tells of the process, read from {@code from}: the process, frozen, or its copy-on-write
     * twin, which has the same mm (a copy), limits, credentials, cwd and umask. The program break is left
     * 0, for {@link #withInherited}.
     */
    private ProcessInfo processInfo(int from) throws IOException, SysException {
        String[] stat = proc.stat(from);
        long[] mm = new long[ProcessInfo.MM_FIELDS];
        mm[0] = Long.parseUnsignedLong(stat[26]);
        mm[1] = Long.parseUnsignedLong(stat[27]);
        mm[2] = Long.parseUnsignedLong(stat[45]);
        mm[3] = Long.parseUnsignedLong(stat[46]);
        mm[ProcessInfo.MM_START_BRK] = Long.parseUnsignedLong(stat[47]);
        mm[6] = Long.parseUnsignedLong(stat[28]);
        mm[7] = Long.parseUnsignedLong(stat[48]);
        mm[8] = Long.parseUnsignedLong(stat[49]);
        mm[9] = Long.parseUnsignedLong(stat[50]);
        mm[10] = Long.parseUnsignedLong(stat[51]);
        ByteBuffer auxvBytes = ByteBuffer.wrap(proc.read(from, "auxv")).order(ByteOrder.LITTLE_ENDIAN);
        long[] auxv = new long[auxvBytes.remaining() / 8];
        for (int i = 0; i < auxv.length; i++) {
            auxv[i] = auxvBytes.getLong();
        }
        long[][] limits = proc.limits(from);
        long[] rlimits = new long[limits.length * 3];
        for (int r = 0; r < limits.length; r++) {
            long[] lim = limits[r];
            rlimits[r * 3] = r;
            rlimits[r * 3 + 1] = lim[0];
            rlimits[r * 3 + 2] = lim[1];
        }
        String cmdline = new String(proc.read(from, "cmdline"), StandardCharsets.UTF_8);
        List<String> args = new ArrayList<>(Arrays.asList(cmdline.split("\0", -1)));
        if (!args.isEmpty() && args.get(args.size() - 1).isEmpty()) {
            args.remove(args.size() - 1);
        }
        Map<String, String> status = proc.status(from);
        int umask = Integer.parseInt(status.getOrDefault("Umask", "0022"), 8);
        String comm = new String(proc.read(from, "comm"), StandardCharsets.UTF_8).strip();
        String exe = proc.readLink(from, "exe");
        return new ProcessInfo(pid, comm, args, exe, FileIds.stat(proc.dir(from).resolve("exe")),
                proc.readLink(from, "cwd"), umask, wasStopped, mm, auxv, rlimits,
                Files.readString(java.nio.file.Path.of("/proc/sys/kernel/osrelease")).strip(),
                hostname(), System.currentTimeMillis(), Credentials.fromStatus(status), itimers.clone());
    }

    private static String hostname() {
        try {
            return Files.readString(java.nio.file.Path.of("/proc/sys/kernel/hostname")).strip();
        } catch (IOException e) {
            return "";
        }
    }
}
