package io.telefork.sys;

import io.telefork.image.Regs;

import java.nio.ByteBuffer;

/**
 * Runs system calls inside a stopped tracee: set the argument registers, point rip at a {@code syscall}
 * instruction (the "gadget"), run it from its entry stop to its exit stop (PTRACE_SYSCALL), read rax.
 * Not single-stepped: a tracer that dies leaves the trap flag of a stepped tracee set (an implicit detach
 * does not clear it), and the process would die of SIGTRAP at its next instruction; syscall tracing is
 * cleared on any detach. A tracee that dies with its tracer anyway (PTRACE_O_EXITKILL: a restore's
 * vessel) is single-stepped over the instruction instead ({@link #stepping}): one stop and resume per
 * call instead of two. Injected calls run with the tracee's own
 * credentials, namespaces, seccomp filter and root, which is the point: a restore done this way builds
 * the process inside its container. The caller must have blocked the tracee's signals (a pending signal
 * would turn the step into a signal-delivery stop).
 */
public final class Remote {
    private static final int SYS_CLONE = 56;
    private static final int SYS_CLONE3 = 435;

    private final Ptrace ptrace;
    private final int pid;
    private final long[] saved;
    private final boolean stepped;
    private long gadget;

    /** Captures the tracee's registers, which {@link #restoreRegisters()} puts back. */
    public Remote(Ptrace ptrace, int pid, long gadget) throws SysException {
        this(ptrace, pid, gadget, false);
    }

    private Remote(Ptrace ptrace, int pid, long gadget, boolean stepped) throws SysException {
        this.ptrace = ptrace;
        this.pid = pid;
        this.saved = ptrace.getRegs(pid);
        this.gadget = gadget;
        this.stepped = stepped;
    }

    /**
     * As the constructor, for a tracee seized with {@link Ptrace#O_EXITKILL} only: calls single-step over
     * the gadget. The tracee is then left in a signal-delivery stop (the step's SIGTRAP), which every
     * resume but a single step discards; registers set there with {@code orig_rax} >= 0 and a restart
     * errno in {@code rax} are restarted on that resume, as when the tracee was seized inside a call.
     */
    public static Remote stepping(Ptrace ptrace, int pid, long gadget) throws SysException {
        return new Remote(ptrace, pid, gadget, true);
    }

    public int pid() {
        return pid;
    }

    public long gadget() {
        return gadget;
    }

    /** After the code holding the gadget moved (vDSO remapped), calls go through its new address. */
    public void moveGadget(long newGadget) {
        this.gadget = newGadget;
    }

    public long[] savedRegisters() {
        return Ptrace.copy(saved);
    }

    public void restoreRegisters() throws SysException {
        ptrace.setRegs(pid, saved);
    }

    /** Runs the call and returns rax as the kernel left it: negative errno on failure. */
    public long raw(int nr, long... args) throws SysException {
        long[] r = Ptrace.copy(saved);
        r[Regs.RAX] = nr;
        r[Regs.ORIG_RAX] = -1;
        r[Regs.RIP] = gadget;
        int[] argRegs = {Regs.RDI, Regs.RSI, Regs.RDX, Regs.R10, Regs.R8, Regs.R9};
        for (int i = 0; i < args.length; i++) {
            r[argRegs[i]] = args[i];
        }
        ptrace.setRegs(pid, r);
        if (stepped) {
            ptrace.singleStep(pid);
            Ptrace.Status st = ptrace.waitFor(pid);
            if (!st.stopped() || st.event() != 0 || (st.stopSignal() & 0x7f) != Sys.SIGTRAP) {
                throw new SysException("process " + pid + " " + st + " during an injected system call " + nr);
            }
        } else {
            toSyscallStop(nr, "entry");
            toSyscallStop(nr, "exit");
        }
        long[] after = ptrace.getRegs(pid);
        if (after[Regs.RIP] != gadget + 2) {
            throw new SysException(String.format("injected system call %d in %d stopped at 0x%x, not 0x%x",
                    nr, pid, after[Regs.RIP], gadget + 2));
        }
        return after[Regs.RAX];
    }

    /**
     * Runs code in the tracee from {@code rip}, with r12 and r13 set, until its breakpoint, the last of
     * its {@code length} bytes ({@link CallBatch}). Only for a tracee that dies with its tracer: were the
     * tracer gone, the breakpoint's SIGTRAP would kill the process.
     */
    void runCode(long rip, int length, long r12, long r13) throws SysException {
        if (!stepped) {
            throw new IllegalStateException("code runs only in a tracee that dies with its tracer");
        }
        long[] r = Ptrace.copy(saved);
        r[Regs.RIP] = rip;
        r[Regs.ORIG_RAX] = -1;
        r[Regs.R12] = r12;
        r[Regs.R13] = r13;
        ptrace.setRegs(pid, r);
        ptrace.cont(pid, 0);
        Ptrace.Status st = ptrace.waitFor(pid);
        if (!st.stopped() || st.event() != 0 || st.stopSignal() != Sys.SIGTRAP) {
            throw new SysException("process " + pid + " " + st + " while it ran a batch of system calls");
        }
        long stoppedAt = ptrace.getRegs(pid)[Regs.RIP];
        if (stoppedAt != rip + length) {
            throw new SysException(String.format("a batch of system calls in %d stopped at 0x%x, not 0x%x", pid,
                    stoppedAt, rip + length));
        }
    }

    /**
     * Injects a fork-like clone(flags) into a tracee traced with {@link Ptrace#O_TRACECLONE} (and
     * {@link Ptrace#O_TRACEFORK} for a child that signals SIGCHLD when it ends); the child is
     * attached to this tracer at birth. Returns the child's PID in this tracer's namespace and in the
     * tracee's (what clone returned).
     */
    public long[] cloneTraced(long flags) throws SysException {
        return cloneTraced(SYS_CLONE, flags, 0);
    }

    /** As {@link #cloneTraced(long)} with clone3(args, size); a failure comes back as a negative errno in [1]. */
    public long[] clone3Traced(long args, long size) throws SysException {
        return cloneTraced(SYS_CLONE3, args, size);
    }

    private long[] cloneTraced(int nr, long a1, long a2) throws SysException {
        long[] r = Ptrace.copy(saved);
        r[Regs.RAX] = nr;
        r[Regs.ORIG_RAX] = -1;
        r[Regs.RIP] = gadget;
        r[Regs.RDI] = a1;
        r[Regs.RSI] = a2;
        r[Regs.RDX] = 0;
        r[Regs.R10] = 0;
        r[Regs.R8] = 0;
        ptrace.setRegs(pid, r);
        toSyscallStop(nr, "entry");
        ptrace.syscall(pid);
        Ptrace.Status st = ptrace.waitFor(pid);
        long child = -1;
        if (st.stopped() && (st.event() == Ptrace.EVENT_CLONE || st.event() == Ptrace.EVENT_FORK)) {
            child = ptrace.getEventMsg(pid);
            ptrace.syscall(pid);
            st = ptrace.waitFor(pid);
        }
        if (!syscallStop(st)) {
            throw new SysException("process " + pid + " " + st + " during an injected clone");
        }
        long[] after = ptrace.getRegs(pid);
        long rax = after[Regs.RAX];
        if (rax < 0 && nr == SYS_CLONE3) {
            return new long[] {-1, rax};
        }
        if (rax < 0) {
            throw new SysException("clone in process " + pid, (int) -rax);
        }
        if (child <= 0) {
            throw new SysException("clone in process " + pid + " reported no child");
        }
        return new long[] {child, rax};
    }

    /** Resumes the tracee to the entry or exit stop of the injected call. */
    private void toSyscallStop(int nr, String which) throws SysException {
        ptrace.syscall(pid);
        Ptrace.Status st = ptrace.waitFor(pid);
        if (!st.stopped()) {
            throw new SysException("process " + pid + " " + st + " during an injected system call " + nr);
        }
        if (!syscallStop(st)) {
            throw new SysException("process " + pid + " got signal " + st.stopSignal() + " at the " + which
                    + " of an injected system call " + nr);
        }
    }

    /** A system-call stop: SIGTRAP, or SIGTRAP | 0x80 with PTRACE_O_TRACESYSGOOD, and no event. */
    private static boolean syscallStop(Ptrace.Status st) {
        return st.stopped() && st.event() == 0 && (st.stopSignal() & 0x7f) == Sys.SIGTRAP;
    }

    /** Runs the call; a negative result becomes a {@link SysException} naming {@code what}. */
    public long call(String what, int nr, long... args) throws SysException {
        long r = raw(nr, args);
        if (r < 0 && r > -4096) {
            throw new SysException(what + " in process " + pid, (int) -r);
        }
        return r;
    }

    /** Finds a {@code syscall} instruction (0f 05) in [start, end) of the tracee's readable memory. */
    public static long findGadget(int pid, long start, long end) throws SysException {
        int len = (int) (end - start);
        ByteBuffer buf = ByteBuffer.allocateDirect(len);
        long n = Kernel.readMemory(pid, start, buf, len);
        for (int i = 0; i + 1 < n; i++) {
            if (buf.get(i) == 0x0f && buf.get(i + 1) == 0x05) {
                return start + i;
            }
        }
        throw new SysException(String.format("no syscall instruction in 0x%x-0x%x of %d", start, end, pid));
    }
}
