package io.telefork.dump;

import io.telefork.engine.Commit;
import io.telefork.engine.DumpOptions;
import io.telefork.engine.DumpResult;
import io.telefork.engine.EngineException;
import io.telefork.engine.EngineException.Reason;
import io.telefork.engine.StepClock;
import io.telefork.image.Credentials;
import io.telefork.image.FdEntry;
import io.telefork.image.Format;
import io.telefork.image.GhostFile;
import io.telefork.image.ImageWriter;
import io.telefork.image.MemoryArea;
import io.telefork.image.ProcessInfo;
import io.telefork.image.RecordType;
import io.telefork.image.SignalState;
import io.telefork.image.ThreadState;
import io.telefork.proc.FileIds;
import io.telefork.proc.ProcFs;
import io.telefork.sys.Kernel;
import io.telefork.sys.Ptrace;
import io.telefork.sys.Remote;
import io.telefork.sys.Sys;
import io.telefork.sys.SysException;
import io.telefork.sys.Tracer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Dumps one process, all its threads. The steps in {@link Session#run()} are numbered;
 * {@link Session#finish(boolean)} is the one cleanup path: on failure it puts the process back exactly as
 * it was found (registers, signal masks, running or stopped), on success it kills it unless asked to
 * leave it running.
 */
public final class Dumper {
    private static final long CLONE_FILES = 0x400;
    private static final int SYS_WAIT4 = 61;
    private static final int SYS_GETITIMER = 36;
    private static final long WALL = 0x40000000L;
    private static final long WNOHANG = 1;
    private static final int ESRCH = 3;

    private final DumpOptions options;
    private final ProcFs proc;

    public Dumper(DumpOptions options) {
        this(options, new ProcFs());
    }

    Dumper(DumpOptions options, ProcFs proc) {
        this.options = options;
        this.proc = proc;
    }

    public DumpResult dump(int pid, WritableByteChannel out, Commit commit) throws EngineException {
        long started = System.nanoTime();
        Validation.check(proc, pid);
        try (Tracer tracer = new Tracer("telefork-dump-" + pid)) {
            return tracer.call(ptrace -> new Session(ptrace, pid, out, started, commit).run());
        } catch (EngineException e) {
            throw e;
        } catch (SysException e) {
            throw new EngineException(Reason.SYSTEM, e.getMessage(), e);
        } catch (IOException e) {
            throw new EngineException(Reason.IO, "writing the image failed: " + e.getMessage(), e);
        } catch (Exception e) {
            throw new EngineException(Reason.SYSTEM, "dump failed: " + e, e);
        }
    }

    private final class Session {
        private final Ptrace ptrace;
        private final int pid;
        private final WritableByteChannel out;
        private final long started;
        private final Commit commit;
        /** Seized threads, the leader first, with the signal mask each had (null until blocked). */
        private final Map<Integer, Long> seized = new LinkedHashMap<>();
        /** Threads whose registers injected calls change, restored on release. */
        private final Map<Integer, Remote> remotes = new LinkedHashMap<>();
        private boolean wasStopped;
        private long gadget;
        private long scratch;
        private long frozenAt;
        private long frozenNanos;
        private ImageWriter writer;
        /** The copy-on-write twin: its PID here and in the process's own namespace, 0 when none. */
        private int twin;
        private long twinInTarget;

        Session(Ptrace ptrace, int pid, WritableByteChannel out, long started, Commit commit) {
            this.ptrace = ptrace;
            this.pid = pid;
            this.out = out;
            this.started = started;
            this.commit = commit;
        }

        DumpResult run() throws Exception {
            boolean success = false;
            StepClock clock = new StepClock("dump " + pid);
            try {
                // 0. Everything that need not wait for the freeze: the writer (its threads, buffers, header).
                writer = new ImageWriter(out, options.compression());
                writer.writeHeader();
                clock.lap("prepare");

                // 1. Freeze every thread: seize and interrupt; a job-control-stopped process is woken first.
                freeze();
                clock.lap("freeze " + seized.size() + " threads");

                // 2. Block every signal so that injected calls are not turned into signal-delivery stops.
                for (int tid : seized.keySet()) {
                    seized.put(tid, ptrace.getSigmask(tid));
                    ptrace.setSigmask(tid, ~0L);
                }
                clock.lap("block signals");

                // 3. CPU state and what the kernel tells through ptrace, per thread.
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
                clock.lap("registers");

                // 4. What /proc tells: memory areas, descriptors, process attributes.
                Ghosts ghosts = new Ghosts(pid, options.ghostLimit());
                ProcessReader reader = new ProcessReader(proc, pid, ghosts);
                List<MemoryArea> areas = reader.areas();
                List<FdEntry> fds = reader.fds();
                clock.lap("/proc");

                // 5. What only the process itself can tell: brk(0), sigaction, and per thread sigaltstack
                //    and the tid address, injected through a syscall instruction of its vDSO.
                MemoryArea vdso = areas.stream().filter(a -> a.kind() == MemoryArea.Kind.VDSO).findFirst()
                        .orElseThrow(() -> new EngineException(Reason.UNSUPPORTED, "process " + pid + " has no vDSO"));
                gadget = Remote.findGadget(pid, vdso.start(), vdso.end());
                Remote leader = remote(pid);
                scratch = leader.call("mmap scratch page", Sys.SYS_MMAP, 0, Sys.PAGE,
                        Sys.PROT_READ | Sys.PROT_WRITE, Sys.MAP_PRIVATE | Sys.MAP_ANONYMOUS, -1, 0);
                long brk = leader.call("brk(0)", Sys.SYS_BRK, 0);
                long[] actions = sigactions(leader, Map.copyOf(proc.status(pid)));
                long[] itimers = new long[12];
                for (int which = 0; which < 3; which++) {
                    leader.call("getitimer(" + which + ")", SYS_GETITIMER, which, scratch);
                    ByteBuffer it = readScratch(32);
                    for (int k = 0; k < 4; k++) {
                        itimers[which * 4 + k] = it.getLong(k * 8);
                    }
                }
                List<ThreadState> threads = new ArrayList<>();
                int i = 0;
                for (int tid : seized.keySet()) {
                    Remote r = remote(tid);
                    r.call("sigaltstack", Sys.SYS_SIGALTSTACK, 0, scratch);
                    ByteBuffer ss = readScratch(24);
                    long[] altstack = {ss.getLong(0), ss.getInt(8), ss.getLong(16)};
                    r.call("prctl(PR_GET_TID_ADDRESS)", Sys.SYS_PRCTL, Sys.PR_GET_TID_ADDRESS, scratch);
                    long clearTid = readScratch(8).getLong(0);
                    threads.add(new ThreadState(tid, regs.get(i), xstates.get(i), seized.get(tid), rseqs.get(i),
                            altstack, clearTid, Kernel.getRobustList(tid), pendings.get(i)));
                    i++;
                }
                leader.call("munmap scratch page", Sys.SYS_MUNMAP, scratch, Sys.PAGE);
                scratch = 0;
                for (Remote r : remotes.values()) {
                    r.restoreRegisters();
                }
                clock.lap("injected calls");

                // 6. Metadata records, then the content of deleted files and memfds (read while frozen).
                writer.writeRecord(RecordType.PROCESS, processInfo(brk, itimers).encode());
                for (ThreadState t : threads) {
                    writer.writeRecord(RecordType.THREAD, t.encode());
                }
                writer.writeRecord(RecordType.SIGNALS, new SignalState(actions, sharedPending).encode());
                writer.writeRecord(RecordType.FILES, FdEntry.encodeAll(fds));
                writer.writeRecord(RecordType.GHOSTS, GhostFile.encodeAll(ghosts.files()));
                writer.writeRecord(RecordType.AREAS, MemoryArea.encodeAll(areas));
                ghosts.writeContent(writer);
                clock.lap("metadata");

                // 7. Pages. Leaving it running, the process runs on as soon as a copy-on-write twin of it
                //    exists, and the pages are read from the twin; otherwise from the frozen process.
                PageDumper pages = new PageDumper(proc, pid, writer, options.progress());
                long memoryBytes;
                try (ProcessMemory memory = new ProcessMemory(pid, proc.dir(pid))) {
                    boolean withTwin = options.leaveRunning() && !options.fullFreeze() && !wasStopped;
                    Predicate<MemoryArea> fromOriginal = a -> !reader.empty(a) && (!withTwin || PageDumper.notInTwin(a));
                    pages.plan(areas, fromOriginal, pid);
                    memoryBytes = pages.dump(memory, fromOriginal);
                    if (withTwin) {
                        forkTwin(remote(pid));
                        release();
                        clock.lap("pages outside the twin, twin");
                        Predicate<MemoryArea> fromTwin = a -> !reader.empty(a) && !PageDumper.notInTwin(a);
                        pages.plan(areas, fromTwin, twin);
                        try (ProcessMemory twinMemory = new ProcessMemory(twin, proc.dir(twin))) {
                            memoryBytes += pages.dump(twinMemory, fromTwin);
                        }
                        disposeTwin();
                    }
                }
                clock.lap("pages");

                // 8. Index and END, flushed and read back before the process may be killed.
                ImageWriter.Summary summary = writer.finish();
                verifyWritten(summary);
                commit.confirm();
                options.progress().update(summary.bytes(), summary.bytes());
                clock.lap("index, end, verify");
                success = true;
                finish(true);
                clock.lap("release");
                return new DumpResult(pid, summary.bytes(), summary.sha256(), memoryBytes,
                        Duration.ofNanos(frozenNanos), Duration.ofNanos(System.nanoTime() - started));
            } finally {
                if (!success) {
                    finish(false);
                }
            }
        }

        private Remote remote(int tid) throws SysException {
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
        private void freeze() throws EngineException, SysException, IOException {
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
            frozenAt = System.nanoTime();
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

        private long[] sigactions(Remote leader, Map<String, String> status) throws SysException {
            long caught = Long.parseUnsignedLong(status.getOrDefault("SigCgt", "0"), 16);
            long ignored = Long.parseUnsignedLong(status.getOrDefault("SigIgn", "0"), 16);
            long[] actions = new long[SignalState.SIGNALS * 4];
            for (int sig = 1; sig <= SignalState.SIGNALS; sig++) {
                long bit = 1L << (sig - 1);
                if (sig == Sys.SIGKILL || sig == Sys.SIGSTOP || ((caught | ignored) & bit) == 0) {
                    continue;
                }
                leader.call("rt_sigaction(" + sig + ")", Sys.SYS_RT_SIGACTION, sig, 0, scratch, 8);
                ByteBuffer sa = readScratch(32);
                for (int k = 0; k < 4; k++) {
                    actions[(sig - 1) * 4 + k] = sa.getLong(k * 8);
                }
            }
            return actions;
        }

        private ByteBuffer readScratch(int length) throws SysException {
            ByteBuffer b = ByteBuffer.allocateDirect(length).order(ByteOrder.LITTLE_ENDIAN);
            Kernel.readMemory(pid, scratch, b, length);
            return b;
        }

        private ProcessInfo processInfo(long brk, long[] itimers) throws IOException, SysException {
            String[] stat = proc.stat(pid);
            long[] mm = new long[ProcessInfo.MM_FIELDS];
            mm[0] = Long.parseUnsignedLong(stat[26]);
            mm[1] = Long.parseUnsignedLong(stat[27]);
            mm[2] = Long.parseUnsignedLong(stat[45]);
            mm[3] = Long.parseUnsignedLong(stat[46]);
            mm[ProcessInfo.MM_START_BRK] = Long.parseUnsignedLong(stat[47]);
            mm[ProcessInfo.MM_BRK] = brk;
            mm[6] = Long.parseUnsignedLong(stat[28]);
            mm[7] = Long.parseUnsignedLong(stat[48]);
            mm[8] = Long.parseUnsignedLong(stat[49]);
            mm[9] = Long.parseUnsignedLong(stat[50]);
            mm[10] = Long.parseUnsignedLong(stat[51]);
            ByteBuffer auxvBytes = ByteBuffer.wrap(proc.read(pid, "auxv")).order(ByteOrder.LITTLE_ENDIAN);
            long[] auxv = new long[auxvBytes.remaining() / 8];
            for (int i = 0; i < auxv.length; i++) {
                auxv[i] = auxvBytes.getLong();
            }
            long[][] limits = proc.limits(pid);
            long[] rlimits = new long[limits.length * 3];
            for (int r = 0; r < limits.length; r++) {
                long[] lim = limits[r];
                rlimits[r * 3] = r;
                rlimits[r * 3 + 1] = lim[0];
                rlimits[r * 3 + 2] = lim[1];
            }
            String cmdline = new String(proc.read(pid, "cmdline"), StandardCharsets.UTF_8);
            List<String> args = new ArrayList<>(Arrays.asList(cmdline.split("\0", -1)));
            if (!args.isEmpty() && args.get(args.size() - 1).isEmpty()) {
                args.remove(args.size() - 1);
            }
            int umask = Integer.parseInt(proc.status(pid).getOrDefault("Umask", "0022"), 8);
            String comm = new String(proc.read(pid, "comm"), StandardCharsets.UTF_8).strip();
            String exe = proc.readLink(pid, "exe");
            return new ProcessInfo(pid, comm, args, exe, FileIds.stat(proc.dir(pid).resolve("exe")),
                    proc.readLink(pid, "cwd"), umask, wasStopped, mm, auxv, rlimits,
                    Files.readString(java.nio.file.Path.of("/proc/sys/kernel/osrelease")).strip(),
                    hostname(), System.currentTimeMillis(), Credentials.fromStatus(proc.status(pid)), itimers);
        }

        private void verifyWritten(ImageWriter.Summary summary) throws IOException {
            if (!(out instanceof FileChannel file)) {
                return; // a pipe or socket: fully written is all that can be known here
            }
            file.force(true);
            int endBytes = Format.RECORD_HEADER_BYTES + 4 + 32 + 8;
            ByteBuffer tail = ByteBuffer.allocate(endBytes);
            long at = file.position() - endBytes;
            while (tail.hasRemaining()) {
                if (file.read(tail, at + tail.position()) < 0) {
                    throw new IOException("the image file is shorter than what was written");
                }
            }
            tail.flip();
            byte[] digest = new byte[32];
            tail.position(Format.RECORD_HEADER_BYTES + 4);
            tail.get(digest);
            if (tail.getShort(0) != RecordType.END.id()
                    || !java.util.HexFormat.of().formatHex(digest).equals(summary.sha256())) {
                throw new IOException("the image file does not read back as written");
            }
        }

        /** Injects a fork-like clone (no exit signal, so the application never hears of it), stopped at birth. */
        private void forkTwin(Remote leader) throws SysException {
            ptrace.setOptions(pid, Ptrace.O_TRACECLONE);
            long[] child = leader.cloneTraced(CLONE_FILES);
            twin = (int) child[0];
            twinInTarget = child[1];
            Ptrace.Status st = ptrace.waitFor(twin);
            if (!st.stopped()) {
                throw new SysException("the twin of " + pid + " " + st);
            }
            ptrace.setOptions(pid, 0);
            leader.restoreRegisters();
        }

        /** Lets the process run again: registers, signal masks, running or stopped as found. */
        private void release() throws SysException {
            if (frozenAt != 0) {
                frozenNanos = System.nanoTime() - frozenAt;
                frozenAt = 0;
            }
            if (scratch != 0) {
                remote(pid).raw(Sys.SYS_MUNMAP, scratch, Sys.PAGE);
                scratch = 0;
            }
            for (Remote r : remotes.values()) {
                r.restoreRegisters();
            }
            remotes.clear();
            for (Map.Entry<Integer, Long> t : seized.entrySet()) {
                if (t.getValue() != null) {
                    ptrace.setSigmask(t.getKey(), t.getValue());
                }
            }
            if (wasStopped) {
                // A signal given to PTRACE_DETACH from an interrupt stop may be dropped; a queued one is not.
                Kernel.kill(pid, Sys.SIGSTOP);
            }
            List<Integer> tids = new ArrayList<>(seized.keySet());
            seized.clear();
            for (int tid : tids) {
                ptrace.detach(tid, 0);
            }
        }

        /**
         * Kills the twin and has the original reap it (it is the original's child) in a second, short
         * freeze of the leader; if the original is gone meanwhile, init reaps it.
         */
        private void disposeTwin() throws SysException {
            killTwin();
            try {
                ptrace.seize(pid, 0);
            } catch (SysException e) {
                return; // the original exited
            }
            seized.put(pid, null);
            ptrace.interrupt(pid);
            if (!awaitInterruptStop(pid)) {
                seized.clear();
                return;
            }
            seized.put(pid, ptrace.getSigmask(pid));
            ptrace.setSigmask(pid, ~0L);
            try {
                waitTwinInTarget(remote(pid));
            } finally {
                release();
            }
        }

        private void killTwin() throws SysException {
            int t = twin;
            twin = 0;
            Kernel.kill(t, Sys.SIGKILL);
            Ptrace.Status st;
            do {
                st = ptrace.waitFor(t);
            } while (st.stopped());
        }

        private void waitTwinInTarget(Remote r) throws SysException {
            for (int i = 0; i < 1000 && r.raw(SYS_WAIT4, twinInTarget, 0, WALL | WNOHANG, 0) == 0; i++) {
                Thread.onSpinWait();
            }
        }

        /** The one cleanup path. */
        private void finish(boolean success) {
            if (frozenAt != 0) {
                frozenNanos = System.nanoTime() - frozenAt;
            }
            if (writer != null) {
                writer.close();
            }
            try {
                if (twin != 0) {
                    if (seized.isEmpty()) {
                        disposeTwin();
                    } else {
                        killTwin();
                        waitTwinInTarget(remote(pid));
                    }
                }
                if (seized.isEmpty()) {
                    return;
                }
                if (success && !options.leaveRunning()) {
                    Kernel.kill(pid, Sys.SIGKILL);
                    // The leader's end is reported only after every other thread's has been collected.
                    List<Integer> tids = new ArrayList<>(seized.keySet());
                    for (int i = tids.size() - 1; i >= 0; i--) {
                        awaitDeath(tids.get(i));
                    }
                    seized.clear();
                    return;
                }
                release();
            } catch (SysException e) {
                // Nothing more can be done for it; the caller's error already says the dump failed.
                System.getLogger("telefork").log(System.Logger.Level.WARNING,
                        "could not fully release process " + pid + ": " + e.getMessage());
            }
        }

        private void awaitDeath(int tid) {
            try {
                Ptrace.Status st;
                do {
                    st = ptrace.waitFor(tid);
                } while (st.stopped());
            } catch (SysException e) {
                // already reaped (a thread's end is reported once)
            }
        }
    }

    private static String hostname() {
        try {
            return Files.readString(java.nio.file.Path.of("/proc/sys/kernel/hostname")).strip();
        } catch (IOException e) {
            return "";
        }
    }
}
