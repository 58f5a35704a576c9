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

    private static final int SYS_SCHED_SETAFFINITY = 203;
    private static final int SYS_SCHED_GETAFFINITY = 204;
    private static final int SYS_GETCPU = 309;
    private static final int CPU_MASK_BYTES = 128;

    /** The CPUs thread {@code tid} (0: the calling thread) may run on, as a bit mask of 1024 CPUs. */
    public static long[] affinity(int tid) throws SysException {
        try (Memory m = new Memory(CPU_MASK_BYTES)) {
            m.clear();
            try {
                syscall(SYS_SCHED_GETAFFINITY, tid, CPU_MASK_BYTES, Pointer.nativeValue(m), 0, 0, 0);
            } catch (LastErrorException e) {
                throw new SysException("sched_getaffinity(" + tid + ")", e.getErrorCode());
            }
            return m.getLongArray(0, CPU_MASK_BYTES / 8);
        }
    }

    /** Lets thread {@code tid} (0: the calling thread) run only on the CPUs of {@code mask}. */
    public static void setAffinity(int tid, long[] mask) throws SysException {
        try (Memory m = new Memory(CPU_MASK_BYTES)) {
            m.clear();
            m.write(0, mask, 0, Math.min(mask.length, CPU_MASK_BYTES / 8));
            try {
                syscall(SYS_SCHED_SETAFFINITY, tid, CPU_MASK_BYTES, Pointer.nativeValue(m), 0, 0, 0);
            } catch (LastErrorException e) {
                throw new SysException("sched_setaffinity(" + tid + ")", e.getErrorCode());
            }
        }
    }

    private static final int SYS_SCHED_SETSCHEDULER = 144;
    private static final int SYS_SCHED_GETSCHEDULER = 145;
    private static final int SYS_SCHED_GETPARAM = 143;

    /** Thread {@code tid}'s scheduling policy and priority (sched_getscheduler, sched_getparam). */
    public static int[] scheduler(int tid) throws SysException {
        try (Memory param = new Memory(8)) {
            param.clear();
            try {
                int policy = (int) syscall(SYS_SCHED_GETSCHEDULER, tid, 0, 0, 0, 0, 0);
                syscall(SYS_SCHED_GETPARAM, tid, Pointer.nativeValue(param), 0, 0, 0, 0);
                return new int[] {policy, param.getInt(0)};
            } catch (LastErrorException e) {
                throw new SysException("sched_getscheduler(" + tid + ")", e.getErrorCode());
            }
        }
    }

    /** Gives thread {@code tid} this scheduling policy and priority (sched_setscheduler). */
    public static void setScheduler(int tid, int policy, int priority) throws SysException {
        try (Memory param = new Memory(8)) {
            param.clear();
            param.setInt(0, priority);
            try {
                syscall(SYS_SCHED_SETSCHEDULER, tid, policy, Pointer.nativeValue(param), 0, 0, 0);
            } catch (LastErrorException e) {
                throw new SysException("sched_setscheduler(" + tid + ")", e.getErrorCode());
            }
        }
    }

    /** The CPU the calling thread runs on. */
    public static int currentCpu() throws SysException {
        try (Memory m = new Memory(8)) {
            try {
                syscall(SYS_GETCPU, Pointer.nativeValue(m), 0, 0, 0, 0, 0);
            } catch (LastErrorException e) {
                throw new SysException("getcpu", e.getErrorCode());
            }
            return m.getInt(0);
        }
    }

    public static void kill(int pid, int sig) throws SysException {
        try {
            LibC.C.kill(pid, sig);
        } catch (LastErrorException e) {
            throw new SysException("kill(" + pid + ", " + sig + ")", e.getErrorCode());
        }
    }

    /**
     * SIGKILL to process {@code pid}, whose memory this thread then frees beside the process's own exit
     * (process_mrelease): a killed process of 1 GiB was gone in ~45 instead of ~80 ms here, on two cores.
     * Best effort: where process_mrelease is refused (memory shared with another process, a kernel before
     * 5.15), the process frees its memory alone, as after a plain kill.
     */
    public static void killAndRelease(int pid) throws SysException {
        long pidfd = -1;
        try {
            pidfd = syscall(SYS_PIDFD_OPEN, pid, 0, 0, 0, 0, 0);
        } catch (LastErrorException e) {
            // no pidfd: the kill alone
        }
        try {
            kill(pid, Sys.SIGKILL);
            if (pidfd >= 0) {
                try {
                    syscall(SYS_PROCESS_MRELEASE, pidfd, 0, 0, 0, 0, 0);
                } catch (LastErrorException e) {
                    // refused: the process frees its memory itself
                }
            }
        } finally {
            if (pidfd >= 0) {
                close((int) pidfd);
            }
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

    private static final int SYS_PIDFD_OPEN = 434;
    private static final int SYS_PIDFD_GETFD = 438;
    private static final int SYS_PROCESS_MRELEASE = 448;
    private static final int SYS_TEE = 276;
    private static final int SYS_PIPE2 = 293;
    private static final int F_SETPIPE_SZ = 1031;
    private static final int F_GETPIPE_SZ = 1032;
    private static final int SPLICE_F_NONBLOCK = 2;
    private static final int O_NONBLOCK = 04000;
    private static final int EAGAIN = 11;
    private static final int SYS_IOCTL = 16;

    /** A copy, in this process, of descriptor {@code fd} of process {@code pid} (pidfd_getfd). */
    public static int stealFd(int pid, int fd) throws SysException {
        long pidfd;
        try {
            pidfd = syscall(SYS_PIDFD_OPEN, pid, 0, 0, 0, 0, 0);
        } catch (LastErrorException e) {
            throw new SysException("pidfd_open(" + pid + ")", e.getErrorCode());
        }
        try {
            return (int) syscall(SYS_PIDFD_GETFD, pidfd, fd, 0, 0, 0, 0);
        } catch (LastErrorException e) {
            throw new SysException("pidfd_getfd(" + pid + ", " + fd + ")", e.getErrorCode());
        } finally {
            close((int) pidfd);
        }
    }

    private static final int SYS_KCMP = 312;
    private static final int KCMP_FILE = 0;

    /** Whether descriptors a and b of process pid are the same open file description (kcmp). */
    public static boolean sameFile(int pid, int a, int b) {
        return sameFile(pid, a, pid, b);
    }

    /** Whether descriptor a of process pidA and b of pidB are the same open file description (kcmp). */
    public static boolean sameFile(int pidA, int a, int pidB, int b) {
        try {
            return syscall(SYS_KCMP, pidA, pidB, KCMP_FILE, a, b, 0) == 0;
        } catch (LastErrorException e) {
            return false;
        }
    }

    private static final int SYS_GETSOCKNAME = 51;
    private static final int SYS_GETPEERNAME = 52;
    private static final int SYS_GETSOCKOPT = 55;

    /** getsockopt(fd, level, name) of an int option; Integer.MIN_VALUE when the socket has no such option. */
    public static int sockopt(int fd, int level, int name) {
        try (Memory v = new Memory(4); Memory len = new Memory(4)) {
            len.setInt(0, 4);
            syscall(SYS_GETSOCKOPT, fd, level, name, Pointer.nativeValue(v), Pointer.nativeValue(len), 0);
            return v.getInt(0);
        } catch (LastErrorException e) {
            return Integer.MIN_VALUE;
        }
    }

    /** getsockname (peer false) or getpeername (peer true): the raw sockaddr, empty if there is none. */
    public static byte[] sockaddr(int fd, boolean peer) {
        try (Memory addr = new Memory(128); Memory len = new Memory(4)) {
            len.setInt(0, 128);
            syscall(peer ? SYS_GETPEERNAME : SYS_GETSOCKNAME, fd, Pointer.nativeValue(addr), Pointer.nativeValue(len),
                    0, 0, 0);
            return addr.getByteArray(0, len.getInt(0));
        } catch (LastErrorException e) {
            return new byte[0];
        }
    }

    private static final int SYS_SOCKET = 41;
    private static final int SYS_SENDTO = 44;
    private static final int SYS_RECVFROM = 45;
    private static final int AF_NETLINK = 16;
    private static final int NETLINK_SOCK_DIAG = 4;
    private static final int SOCK_DIAG_BY_FAMILY = 20;
    private static final int UDIAG_SHOW_PEER = 4;
    private static final int UNIX_DIAG_PEER = 2;
    private static final int MSG_PEEK = 2;
    private static final int MSG_DONTWAIT = 0x40;

    /**
     * The inode of the socket at the other end of unix socket {@code inode}, or -1 when it has none
     * (listening, unconnected), from the kernel's sock_diag netlink interface: /proc does not tell.
     */
    public static long unixPeer(long inode) throws SysException {
        int nl;
        try {
            nl = (int) syscall(SYS_SOCKET, AF_NETLINK, 2 | 02000000, NETLINK_SOCK_DIAG, 0, 0, 0);
        } catch (LastErrorException e) {
            throw new SysException("netlink sock_diag", e.getErrorCode());
        }
        try (Memory req = new Memory(40); Memory resp = new Memory(8192)) {
            req.clear(40);
            req.setInt(0, 40);
            req.setShort(4, (short) SOCK_DIAG_BY_FAMILY);
            req.setShort(6, (short) 1);
            req.setByte(16, (byte) 1);
            req.setInt(20, -1);
            req.setInt(24, (int) inode);
            req.setInt(28, UDIAG_SHOW_PEER);
            req.setInt(32, -1);
            req.setInt(36, -1);
            syscall(SYS_SENDTO, nl, Pointer.nativeValue(req), 40, 0, 0, 0);
            long n = syscall(SYS_RECVFROM, nl, Pointer.nativeValue(resp), 8192, 0, 0, 0);
            int type = resp.getShort(4) & 0xffff;
            if (n < 32 || type != SOCK_DIAG_BY_FAMILY) {
                return -1; // NLMSG_ERROR: no such socket, or not unix
            }
            int msgLen = resp.getInt(0);
            for (int at = 16 + 16; at + 4 <= msgLen; ) {
                int len = resp.getShort(at) & 0xffff;
                int attr = resp.getShort(at + 2) & 0xffff;
                if (len < 4) {
                    break;
                }
                if (attr == UNIX_DIAG_PEER) {
                    return resp.getInt(at + 4) & 0xffffffffL;
                }
                at += (len + 3) & ~3;
            }
            return -1;
        } catch (LastErrorException e) {
            throw new SysException("netlink sock_diag of socket " + inode, e.getErrorCode());
        } finally {
            close(nl);
        }
    }

    /** What is queued for reading on socket {@code fd} (in this process), without taking it: recv(MSG_PEEK). */
    public static byte[] peekSocket(int fd, int max) throws SysException {
        try (Memory buf = new Memory(Math.max(1, max))) {
            long n = syscall(SYS_RECVFROM, fd, Pointer.nativeValue(buf), max, MSG_PEEK | MSG_DONTWAIT, 0, 0);
            return buf.getByteArray(0, (int) n);
        } catch (LastErrorException e) {
            if (e.getErrorCode() == EAGAIN) {
                return new byte[0];
            }
            throw new SysException("peeking at a socket's queue", e.getErrorCode());
        }
    }

    private static final int F_GET_SEALS = 1034;
    private static final int EINVAL = 22;

    /**
     * The seals (F_GET_SEALS) of the file a /proc magic link names (/proc/PID/fd/N, map_files): opened
     * afresh, since a mapped memfd need not be held by any descriptor. 0 for a file that cannot be sealed.
     */
    public static int seals(String procLink) throws SysException {
        int fd = open(procLink, Sys.O_RDONLY);
        try {
            return (int) syscall(Sys.SYS_FCNTL, fd, F_GET_SEALS, 0, 0, 0, 0);
        } catch (LastErrorException e) {
            if (e.getErrorCode() == EINVAL) {
                return 0;
            }
            throw new SysException("F_GET_SEALS of " + procLink, e.getErrorCode());
        } finally {
            close((int) fd);
        }
    }

    private static final int SYS_SENDMSG = 46;
    private static final int SOL_SOCKET = 1;
    private static final int SCM_RIGHTS = 1;
    /** sizeof(struct msghdr), and where a one-descriptor control message starts after it. */
    public static final int MSGHDR_BYTES = 56;
    /** CMSG_SPACE(sizeof(int)): room for one descriptor's control message. */
    public static final int FD_CMSG_SPACE = 24;

    /** Sends a copy of {@code fd} (SCM_RIGHTS, with one byte of data) over the unix socket {@code socket}. */
    public static void sendFd(int socket, int fd) throws SysException {
        try (Memory m = new Memory(MSGHDR_BYTES + 16 + FD_CMSG_SPACE + 8)) {
            m.clear();
            long base = Pointer.nativeValue(m);
            long iov = base + MSGHDR_BYTES;
            long control = iov + 16;
            long data = control + FD_CMSG_SPACE;
            m.setLong(16, iov);
            m.setLong(24, 1);
            m.setLong(32, control);
            m.setLong(40, FD_CMSG_SPACE);
            m.setLong(MSGHDR_BYTES, data);
            m.setLong(MSGHDR_BYTES + 8, 1);
            m.setLong(MSGHDR_BYTES + 16, 20); // CMSG_LEN(sizeof(int))
            m.setInt(MSGHDR_BYTES + 24, SOL_SOCKET);
            m.setInt(MSGHDR_BYTES + 28, SCM_RIGHTS);
            m.setInt(MSGHDR_BYTES + 32, fd);
            m.setByte(MSGHDR_BYTES + 16 + FD_CMSG_SPACE, (byte) 'u');
            syscall(SYS_SENDMSG, socket, base, 0, 0, 0, 0);
        } catch (LastErrorException e) {
            throw new SysException("sendmsg(SCM_RIGHTS) on fd " + socket, e.getErrorCode());
        }
    }

    /** open(path, flags | O_CLOEXEC) in this process. */
    public static int open(String path, int flags) throws SysException {
        byte[] bytes = path.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        try (Memory p = new Memory(bytes.length + 1)) {
            p.write(0, bytes, 0, bytes.length);
            p.setByte(bytes.length, (byte) 0);
            return (int) syscall(Sys.SYS_OPENAT, -100, Pointer.nativeValue(p), flags | Sys.O_CLOEXEC, 0, 0, 0);
        } catch (LastErrorException e) {
            throw new SysException("open " + path, e.getErrorCode());
        }
    }

    private static final int SYS_OPEN_BY_HANDLE_AT = 304;
    public static final int O_PATH = 010000000;
    private static final int O_DIRECTORY = 0200000;

    /**
     * A descriptor (O_PATH), in this process, of the inode that a file handle (name_to_handle_at, or an
     * inotify watch's fdinfo) names on the filesystem mounted at {@code mountPoint}. Needs
     * CAP_DAC_READ_SEARCH.
     */
    public static int openByHandle(String mountPoint, int handleType, byte[] handle) throws SysException {
        int mount = open(mountPoint, Sys.O_RDONLY | O_DIRECTORY); // not O_PATH: open_by_handle_at refuses those
        try (Memory fh = new Memory(8 + Math.max(handle.length, 1))) {
            fh.setInt(0, handle.length);
            fh.setInt(4, handleType);
            fh.write(8, handle, 0, handle.length);
            return (int) syscall(SYS_OPEN_BY_HANDLE_AT, mount, Pointer.nativeValue(fh), O_PATH | Sys.O_CLOEXEC, 0, 0, 0);
        } catch (LastErrorException e) {
            throw new SysException("open_by_handle_at on " + mountPoint, e.getErrorCode());
        } finally {
            close(mount);
        }
    }

    private static final int SYS_SETNS = 308;
    public static final int CLONE_NEWPID = 0x20000000;

    /** setns(fd, nstype) for the calling thread only (a PID namespace: only for its later children). */
    public static void setns(int fd, int nstype) throws SysException {
        try {
            syscall(SYS_SETNS, fd, nstype, 0, 0, 0, 0);
        } catch (LastErrorException e) {
            throw new SysException("setns", e.getErrorCode());
        }
    }

    public static void close(int fd) {
        try {
            syscall(Sys.SYS_CLOSE, fd, 0, 0, 0, 0, 0);
        } catch (LastErrorException e) {
            // nothing to do about a failed close of our own descriptor
        }
    }

    public static int pipeSize(int fd) throws SysException {
        try {
            return (int) syscall(Sys.SYS_FCNTL, fd, F_GETPIPE_SZ, 0, 0, 0, 0);
        } catch (LastErrorException e) {
            throw new SysException("F_GETPIPE_SZ", e.getErrorCode());
        }
    }

    /**
     * What is buffered in the pipe that {@code fd} (an end of it, in this process) belongs to, without
     * taking it out: tee() into a pipe of our own, then read that.
     */
    public static byte[] peekPipe(int fd) throws SysException {
        int size = pipeSize(fd);
        try (Memory fds = new Memory(8)) {
            syscall(SYS_PIPE2, Pointer.nativeValue(fds), O_NONBLOCK, 0, 0, 0, 0);
            int r = fds.getInt(0);
            int w = fds.getInt(4);
            try {
                syscall(Sys.SYS_FCNTL, w, F_SETPIPE_SZ, size, 0, 0, 0);
                long n;
                try {
                    n = syscall(SYS_TEE, fd, w, size, SPLICE_F_NONBLOCK, 0, 0);
                } catch (LastErrorException e) {
                    if (e.getErrorCode() == EAGAIN) {
                        return new byte[0]; // empty pipe
                    }
                    throw e;
                }
                try (Memory buf = new Memory(Math.max(1, n))) {
                    long got = 0;
                    while (got < n) {
                        got += syscall(Sys.SYS_READ, r, Pointer.nativeValue(buf) + got, n - got, 0, 0, 0);
                    }
                    return buf.getByteArray(0, (int) n);
                }
            } finally {
                close(r);
                close(w);
            }
        } catch (LastErrorException e) {
            throw new SysException("reading a pipe's buffer", e.getErrorCode());
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
