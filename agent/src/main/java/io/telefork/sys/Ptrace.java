package io.telefork.sys;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * ptrace requests and waits. ptrace is per thread: every method must be called on the thread that
 * seized the tracee, which is the thread of the {@link Tracer} that handed out this object.
 */
public final class Ptrace {
    static final int PTRACE_CONT = 7;
    static final int PTRACE_KILL = 8;
    static final int PTRACE_SYSCALL = 24;
    static final int PTRACE_SINGLESTEP = 9;
    static final int PTRACE_GETREGS = 12;
    static final int PTRACE_SETREGS = 13;
    static final int PTRACE_DETACH = 17;
    static final int PTRACE_SETOPTIONS = 0x4200;
    static final int PTRACE_GETEVENTMSG = 0x4201;
    static final int PTRACE_GETREGSET = 0x4204;
    static final int PTRACE_SETREGSET = 0x4205;
    static final int PTRACE_SEIZE = 0x4206;
    static final int PTRACE_INTERRUPT = 0x4207;
    static final int PTRACE_LISTEN = 0x4208;
    static final int PTRACE_PEEKSIGINFO = 0x4209;
    static final int PTRACE_GETSIGMASK = 0x420a;
    static final int PTRACE_SETSIGMASK = 0x420b;
    static final int PTRACE_GET_RSEQ_CONFIGURATION = 0x420f;
    static final int NT_X86_XSTATE = 0x202;
    static final int PTRACE_PEEKSIGINFO_SHARED = 1;

    public static final int O_EXITKILL = 0x100000;
    public static final int O_TRACESYSGOOD = 1;
    public static final int O_TRACEFORK = 2;
    public static final int O_TRACEVFORK = 4;
    public static final int O_TRACECLONE = 8;
    public static final int EVENT_FORK = 1;
    public static final int EVENT_VFORK = 2;
    public static final int EVENT_CLONE = 3;
    public static final int EVENT_STOP = 128;
    static final int WALL = 0x40000000;
    static final int WNOHANG = 1;

    /** Enough for every XSAVE layout seen (2432 bytes here); the kernel says how much it filled. */
    private static final int XSTATE_MAX = 16384;
    private static final int REGS_BYTES = 27 * 8;
    private static final int SIGINFO_BYTES = 128;

    private final Thread owner;
    private final Memory regs = new Memory(REGS_BYTES);
    private final Memory xstate = new Memory(XSTATE_MAX);
    private final Memory iov = new Memory(16);
    private final Memory word = new Memory(32);

    Ptrace(Thread owner) {
        this.owner = owner;
    }

    /** A wait status, decoded. */
    public record Status(int raw) {
        public boolean stopped() {
            return (raw & 0xff) == 0x7f;
        }

        public int stopSignal() {
            return (raw >> 8) & 0xff;
        }

        public int event() {
            return raw >>> 16;
        }

        /** A group-stop or PTRACE_INTERRUPT stop, as opposed to a signal-delivery stop. */
        public boolean eventStop() {
            return stopped() && event() == EVENT_STOP;
        }

        public boolean exited() {
            return (raw & 0x7f) == 0;
        }

        public int exitCode() {
            return (raw >> 8) & 0xff;
        }

        public boolean signaled() {
            return !stopped() && !exited();
        }

        public int termSignal() {
            return raw & 0x7f;
        }

        /** Shell convention: exit code, or 128 + the signal that killed it. */
        public int shellStatus() {
            return exited() ? exitCode() : 128 + termSignal();
        }

        @Override
        public String toString() {
            if (stopped()) {
                return "stopped by signal " + stopSignal() + (event() != 0 ? " event " + event() : "");
            }
            return exited() ? "exited " + exitCode() : "killed by signal " + termSignal();
        }
    }

    private long ptrace(int request, int pid, long addr, long data, String what) throws SysException {
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException("ptrace called off the tracer thread");
        }
        try {
            return Kernel.syscall(Sys.SYS_PTRACE, request, pid, addr, data, 0, 0);
        } catch (LastErrorException e) {
            throw new SysException(what + " of " + pid, e.getErrorCode());
        }
    }

    public void seize(int pid, int options) throws SysException {
        ptrace(PTRACE_SEIZE, pid, 0, options, "PTRACE_SEIZE");
    }

    public void setOptions(int pid, int options) throws SysException {
        ptrace(PTRACE_SETOPTIONS, pid, 0, options, "PTRACE_SETOPTIONS");
    }

    public long getEventMsg(int pid) throws SysException {
        ptrace(PTRACE_GETEVENTMSG, pid, 0, Pointer.nativeValue(word), "PTRACE_GETEVENTMSG");
        return word.getLong(0);
    }

    public void interrupt(int pid) throws SysException {
        ptrace(PTRACE_INTERRUPT, pid, 0, 0, "PTRACE_INTERRUPT");
    }

    public void cont(int pid, int signal) throws SysException {
        ptrace(PTRACE_CONT, pid, 0, signal, "PTRACE_CONT");
    }

    /** Resumes until the next system-call entry or exit (or event) stop. */
    public void syscall(int pid) throws SysException {
        ptrace(PTRACE_SYSCALL, pid, 0, 0, "PTRACE_SYSCALL");
    }

    /** Resumes a tracee for one instruction (PTRACE_SINGLESTEP); it stops with SIGTRAP after it. */
    public void singleStep(int pid) throws SysException {
        ptrace(PTRACE_SINGLESTEP, pid, 0, 0, "PTRACE_SINGLESTEP");
    }

    /** Leaves a tracee in its group-stop while still reporting what happens to it (PTRACE_LISTEN). */
    public void listen(int pid) throws SysException {
        ptrace(PTRACE_LISTEN, pid, 0, 0, "PTRACE_LISTEN");
    }

    public void detach(int pid, int signal) throws SysException {
        ptrace(PTRACE_DETACH, pid, 0, signal, "PTRACE_DETACH");
    }

    /** Blocks until the tracee changes state. */
    public Status waitFor(int pid) throws SysException {
        IntByReference status = new IntByReference();
        while (true) {
            try {
                LibC.C.waitpid(pid, status, WALL);
                return new Status(status.getValue());
            } catch (LastErrorException e) {
                if (e.getErrorCode() != Sys.EINTR) {
                    throw new SysException("waitpid(" + pid + ")", e.getErrorCode());
                }
            }
        }
    }

    /** Non-blocking wait: null when nothing happened. */
    public Status poll(int pid) throws SysException {
        IntByReference status = new IntByReference();
        try {
            int r = LibC.C.waitpid(pid, status, WALL | WNOHANG);
            return r == 0 ? null : new Status(status.getValue());
        } catch (LastErrorException e) {
            throw new SysException("waitpid(" + pid + ")", e.getErrorCode());
        }
    }

    public long[] getRegs(int pid) throws SysException {
        ptrace(PTRACE_GETREGS, pid, 0, Pointer.nativeValue(regs), "PTRACE_GETREGS");
        return regs.getLongArray(0, 27);
    }

    public void setRegs(int pid, long[] values) throws SysException {
        regs.write(0, values, 0, 27);
        ptrace(PTRACE_SETREGS, pid, 0, Pointer.nativeValue(regs), "PTRACE_SETREGS");
    }

    public byte[] getXState(int pid) throws SysException {
        iov.setLong(0, Pointer.nativeValue(xstate));
        iov.setLong(8, XSTATE_MAX);
        ptrace(PTRACE_GETREGSET, pid, NT_X86_XSTATE, Pointer.nativeValue(iov), "PTRACE_GETREGSET(NT_X86_XSTATE)");
        int len = (int) iov.getLong(8);
        return xstate.getByteArray(0, len);
    }

    public void setXState(int pid, byte[] area) throws SysException {
        xstate.write(0, area, 0, area.length);
        iov.setLong(0, Pointer.nativeValue(xstate));
        iov.setLong(8, area.length);
        ptrace(PTRACE_SETREGSET, pid, NT_X86_XSTATE, Pointer.nativeValue(iov), "PTRACE_SETREGSET(NT_X86_XSTATE)");
    }

    public long getSigmask(int pid) throws SysException {
        ptrace(PTRACE_GETSIGMASK, pid, 8, Pointer.nativeValue(word), "PTRACE_GETSIGMASK");
        return word.getLong(0);
    }

    public void setSigmask(int pid, long mask) throws SysException {
        word.setLong(0, mask);
        ptrace(PTRACE_SETSIGMASK, pid, 8, Pointer.nativeValue(word), "PTRACE_SETSIGMASK");
    }

    /** rseq registration: address (0 if none), length, signature. */
    public long[] getRseq(int pid) throws SysException {
        word.clear(32);
        ptrace(PTRACE_GET_RSEQ_CONFIGURATION, pid, 24, Pointer.nativeValue(word), "PTRACE_GET_RSEQ_CONFIGURATION");
        return new long[] {word.getLong(0), word.getInt(8) & 0xffffffffL, word.getInt(12) & 0xffffffffL};
    }

    /** Pending signals' siginfo, per-thread or (shared) process-wide, without dequeuing them. */
    public List<byte[]> peekSiginfo(int pid, boolean shared) throws SysException {
        List<byte[]> out = new ArrayList<>();
        try (Memory args = new Memory(16); Memory buf = new Memory(SIGINFO_BYTES * 32L)) {
            while (true) {
                args.setLong(0, out.size());
                args.setInt(8, shared ? PTRACE_PEEKSIGINFO_SHARED : 0);
                args.setInt(12, 32);
                long n = ptrace(PTRACE_PEEKSIGINFO, pid, Pointer.nativeValue(args), Pointer.nativeValue(buf),
                        "PTRACE_PEEKSIGINFO");
                for (int i = 0; i < n; i++) {
                    out.add(buf.getByteArray((long) i * SIGINFO_BYTES, SIGINFO_BYTES));
                }
                if (n < 32) {
                    return out;
                }
            }
        }
    }

    static long[] copy(long[] r) {
        return Arrays.copyOf(r, r.length);
    }
}
