package io.telefork.sys;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

import java.nio.ByteBuffer;

/**
 * Serving a userfaultfd of another process (taken with {@link Kernel#stealFd}) from this one: its
 * messages, and the ioctls that resolve them. Usable from any thread; results are the kernel's (a
 * negative errno where noted) so that the caller decides what EEXIST, EAGAIN or ENOENT mean to it.
 */
public final class Userfaultfd {
    public static final int EVENT_PAGEFAULT = 0x12;
    public static final int EVENT_FORK = 0x13;
    public static final int EVENT_REMAP = 0x14;
    public static final int EVENT_REMOVE = 0x15;
    public static final int EVENT_UNMAP = 0x16;

    public static final long FEATURE_EVENT_FORK = 1 << 1;
    public static final long FEATURE_EVENT_REMAP = 1 << 2;
    public static final long FEATURE_EVENT_REMOVE = 1 << 3;
    public static final long FEATURE_EVENT_UNMAP = 1 << 6;

    public static final int MSG_BYTES = 32;
    public static final int EEXIST = 17;
    public static final int EAGAIN = 11;
    public static final int ENOENT = 2;
    public static final int ESRCH = 3;

    private static final int SYS_IOCTL = 16;
    private static final int SYS_POLL = 7;
    private static final long UFFDIO_API = 0xc018aa3fL;
    private static final long UFFDIO_REGISTER = 0xc020aa00L;
    private static final long UFFD_API = 0xAA;
    private static final long REGISTER_MODE_MISSING = 1;
    private static final long UFFDIO_WAKE = 0x8010aa02L;
    private static final long UFFDIO_COPY = 0xc028aa03L;
    private static final long UFFDIO_ZEROPAGE = 0xc020aa04L;
    private static final short POLLIN = 1;

    private Userfaultfd() {
    }

    /**
     * UFFDIO_COPY of {@code length} bytes from {@code local}'s position to {@code remote}: the bytes
     * copied (all of them, or fewer when interrupted part way), or a negative errno when none was.
     */
    public static long copy(int uffd, long remote, ByteBuffer local, int length) {
        long src = Pointer.nativeValue(Native.getDirectBufferPointer(local)) + local.position();
        try (Memory args = new Memory(40)) {
            args.setLong(0, remote);
            args.setLong(8, src);
            args.setLong(16, length);
            args.setLong(24, 0);
            args.setLong(32, 0);
            try {
                Kernel.syscall(SYS_IOCTL, uffd, UFFDIO_COPY, Pointer.nativeValue(args), 0, 0, 0);
                return length;
            } catch (LastErrorException e) {
                long copied = args.getLong(32);
                return copied > 0 ? copied : -e.getErrorCode();
            }
        }
    }

    /**
     * Fills all {@code length} bytes at {@code remote} from {@code local}'s position (an eager restore's
     * pages, which must be missing there). Returns false if a page was already present (EEXIST), so the
     * caller can fall back.
     */
    public static boolean fill(int uffd, long remote, ByteBuffer local, int length) throws SysException {
        ByteBuffer src = local.duplicate();
        long done = 0;
        while (done < length) {
            src.position(local.position() + (int) done);
            long r = copy(uffd, remote + done, src, (int) (length - done));
            if (r > 0) {
                done += r;
            } else if (r == -EEXIST) {
                return false;
            } else if (r != -EAGAIN) {
                throw new SysException(String.format("UFFDIO_COPY at 0x%x", remote + done), (int) -r);
            }
        }
        return true;
    }

    /**
     * UFFDIO_API with {@code features}: 0 or a negative errno. Done by this process, not the one whose
     * memory the userfaultfd serves: the fork event needs CAP_SYS_PTRACE of whoever asks for it.
     */
    public static long api(int uffd, long features) {
        try (Memory args = new Memory(24)) {
            args.setLong(0, UFFD_API);
            args.setLong(8, features);
            args.setLong(16, 0);
            Kernel.syscall(SYS_IOCTL, uffd, UFFDIO_API, Pointer.nativeValue(args), 0, 0, 0);
            return 0;
        } catch (LastErrorException e) {
            return -e.getErrorCode();
        }
    }

    /** UFFDIO_REGISTER of a range of the served memory for missing-page faults: 0 or a negative errno. */
    public static long registerMissing(int uffd, long start, long length) {
        try (Memory args = new Memory(32)) {
            args.setLong(0, start);
            args.setLong(8, length);
            args.setLong(16, REGISTER_MODE_MISSING);
            args.setLong(24, 0);
            Kernel.syscall(SYS_IOCTL, uffd, UFFDIO_REGISTER, Pointer.nativeValue(args), 0, 0, 0);
            return 0;
        } catch (LastErrorException e) {
            return -e.getErrorCode();
        }
    }

    /** UFFDIO_ZEROPAGE: maps the zero page at the missing pages of the range; 0 or a negative errno. */
    public static long zeroPage(int uffd, long start, long length) {
        try (Memory args = new Memory(32)) {
            args.setLong(0, start);
            args.setLong(8, length);
            args.setLong(16, 0);
            args.setLong(24, 0);
            try {
                Kernel.syscall(SYS_IOCTL, uffd, UFFDIO_ZEROPAGE, Pointer.nativeValue(args), 0, 0, 0);
                return 0;
            } catch (LastErrorException e) {
                return -e.getErrorCode();
            }
        }
    }

    /** UFFDIO_WAKE: lets the threads waiting on the range retry their access. */
    public static void wake(int uffd, long start, long length) {
        try (Memory args = new Memory(16)) {
            args.setLong(0, start);
            args.setLong(8, length);
            Kernel.syscall(SYS_IOCTL, uffd, UFFDIO_WAKE, Pointer.nativeValue(args), 0, 0, 0);
        } catch (LastErrorException e) {
            // the range is gone: nobody waits on it any more
        }
    }

    /** Waits up to {@code millis} for any of {@code fds} to be readable; the revents of each. */
    public static short[] poll(int[] fds, int millis) throws SysException {
        try (Memory p = new Memory(8L * Math.max(1, fds.length))) {
            for (int i = 0; i < fds.length; i++) {
                p.setInt(8L * i, fds[i]);
                p.setShort(8L * i + 4, POLLIN);
                p.setShort(8L * i + 6, (short) 0);
            }
            short[] revents = new short[fds.length];
            try {
                Kernel.syscall(SYS_POLL, Pointer.nativeValue(p), fds.length, millis, 0, 0, 0);
            } catch (LastErrorException e) {
                if (e.getErrorCode() == Sys.EINTR) {
                    return revents;
                }
                throw new SysException("poll on userfaultfds", e.getErrorCode());
            }
            for (int i = 0; i < fds.length; i++) {
                revents[i] = p.getShort(8L * i + 6);
            }
            return revents;
        }
    }

    /**
     * Reads as many messages as are queued (the descriptor is non-blocking) into {@code into}, at most
     * its capacity; returns how many. Reading a non-cooperative event is what lets the process go on.
     */
    public static int read(int uffd, Memory into) throws SysException {
        try {
            long n = Kernel.syscall(Sys.SYS_READ, uffd, Pointer.nativeValue(into), into.size(), 0, 0, 0);
            return (int) (n / MSG_BYTES);
        } catch (LastErrorException e) {
            if (e.getErrorCode() == EAGAIN || e.getErrorCode() == Sys.EINTR) {
                return 0;
            }
            throw new SysException("reading a userfaultfd", e.getErrorCode());
        }
    }
}
