package io.telefork.sys;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

import java.nio.ByteBuffer;

/**
 * System calls that may be made from any thread: memory access to other processes, signals, limits.
 * Everything that must run on the tracer thread lives in {@link Ptrace}.
 */
public final class Kernel {
    private static final int IOV_MAX = 1024;

    private Kernel() {
    }

    static long syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6) throws LastErrorException {
        return LibC.C.syscall(nr, a1, a2, a3, a4, a5, a6);
    }

    public static boolean isatty(int fd) {
        return LibC.C.isatty(fd) == 1;
    }

    public static int getpid() {
        return LibC.C.getpid();
    }

    /**
     * Reads {@code length} bytes at {@code remote} in process {@code pid} into {@code local}, a direct
     * buffer, from its position. Returns bytes read: short when the range crosses into unmapped or
     * unreadable memory.
     */
    public static long readMemory(int pid, long remote, ByteBuffer local, int length) throws SysException {
        return vm(Sys.SYS_PROCESS_VM_READV, pid, remote, local, length, "process_vm_readv");
    }

    /** Writes {@code length} bytes from {@code local}'s position to {@code remote} in process {@code pid}. */
    public static long writeMemory(int pid, long remote, ByteBuffer local, int length) throws SysException {
        return vm(Sys.SYS_PROCESS_VM_WRITEV, pid, remote, local, length, "process_vm_writev");
    }

    private static long vm(int nr, int pid, long remote, ByteBuffer local, int length, String what)
            throws SysException {
        if (!local.isDirect()) {
            throw new IllegalArgumentException("process memory goes through direct buffers");
        }
        long base = Pointer.nativeValue(Native.getDirectBufferPointer(local)) + local.position();
        try (Memory iov = new Memory(32)) {
            iov.setLong(0, base);
            iov.setLong(8, length);
            iov.setLong(16, remote);
            iov.setLong(24, length);
            long done = 0;
            while (done < length) {
                iov.setLong(0, base + done);
                iov.setLong(8, length - done);
                iov.setLong(16, remote + done);
                iov.setLong(24, length - done);
                long n;
                try {
                    n = syscall(nr, pid, Pointer.nativeValue(iov), 1, Pointer.nativeValue(iov) + 16, 1, 0);
                } catch (LastErrorException e) {
                    if (done > 0) {
                        return done;
                    }
                    throw new SysException(what + String.format(" at 0x%x in %d", remote, pid), e.getErrorCode());
                }
                if (n == 0) {
                    return done;
                }
                done += n;
            }
            return done;
        }
    }

    public static void kill(int pid, int sig) throws SysException {
        try {
            LibC.C.kill(pid, sig);
        } catch (LastErrorException e) {
            throw new SysException("kill(" + pid + ", " + sig + ")", e.getErrorCode());
        }
    }

    public static boolean alive(int pid) {
        try {
            LibC.C.kill(pid, 0);
            return true;
        } catch (LastErrorException e) {
            return e.getErrorCode() != 3; // ESRCH
        }
    }

    /** get_robust_list of another thread: (head, length). */
    public static long[] getRobustList(int tid) throws SysException {
        try (Memory head = new Memory(8); Memory len = new Memory(8)) {
            syscall(Sys.SYS_GET_ROBUST_LIST, tid, Pointer.nativeValue(head), Pointer.nativeValue(len), 0, 0, 0);
            return new long[] {head.getLong(0), len.getLong(0)};
        } catch (LastErrorException e) {
            throw new SysException("get_robust_list(" + tid + ")", e.getErrorCode());
        }
    }
}
