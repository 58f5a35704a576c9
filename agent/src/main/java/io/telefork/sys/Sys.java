package io.telefork.sys;

/** x86_64 system call numbers and constants used by the engine. */
public final class Sys {
    public static final int SYS_READ = 0;
    public static final int SYS_WRITE = 1;
    public static final int SYS_OPEN = 2;
    public static final int SYS_CLOSE = 3;
    public static final int SYS_LSEEK = 8;
    public static final int SYS_MMAP = 9;
    public static final int SYS_MPROTECT = 10;
    public static final int SYS_MUNMAP = 11;
    public static final int SYS_BRK = 12;
    public static final int SYS_RT_SIGACTION = 13;
    public static final int SYS_MREMAP = 25;
    public static final int SYS_MADVISE = 28;
    public static final int SYS_DUP2 = 33;
    public static final int SYS_GETPID = 39;
    public static final int SYS_KILL = 62;
    public static final int SYS_FCNTL = 72;
    public static final int SYS_CHDIR = 80;
    public static final int SYS_UMASK = 95;
    public static final int SYS_PTRACE = 101;
    public static final int SYS_SIGALTSTACK = 131;
    public static final int SYS_PRCTL = 157;
    public static final int SYS_ARCH_PRCTL = 158;
    public static final int SYS_GETTID = 186;
    public static final int SYS_SET_TID_ADDRESS = 218;
    public static final int SYS_SET_ROBUST_LIST = 273;
    public static final int SYS_GET_ROBUST_LIST = 274;
    public static final int SYS_OPENAT = 257;
    public static final int SYS_DUP3 = 292;
    public static final int SYS_RT_TGSIGQUEUEINFO = 297;
    public static final int SYS_PRLIMIT64 = 302;
    public static final int SYS_PROCESS_VM_READV = 310;
    public static final int SYS_PROCESS_VM_WRITEV = 311;
    public static final int SYS_RSEQ = 334;
    public static final int SYS_CLOSE_RANGE = 436;

    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int PROT_EXEC = 4;
    public static final int MAP_SHARED = 0x01;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_FIXED = 0x10;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_GROWSDOWN = 0x100;
    public static final int MAP_NORESERVE = 0x4000;
    public static final int MAP_FIXED_NOREPLACE = 0x100000;
    public static final int MREMAP_MAYMOVE = 1;
    public static final int MREMAP_FIXED = 2;

    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_ACCMODE = 3;
    public static final int O_CREAT = 0100;
    public static final int O_EXCL = 0200;
    public static final int O_NOCTTY = 0400;
    public static final int O_TRUNC = 01000;
    public static final int O_CLOEXEC = 02000000;
    public static final int F_DUPFD_CLOEXEC = 1030;
    public static final int F_SETFD = 2;
    public static final int F_SETFL = 4;

    public static final int PR_SET_NAME = 15;
    public static final int PR_SET_MM = 35;
    public static final int PR_SET_MM_MAP = 14;
    public static final int PR_GET_TID_ADDRESS = 40;
    public static final int ARCH_MAP_VDSO_64 = 0x2003;

    public static final int SIGHUP = 1;
    public static final int SIGKILL = 9;
    public static final int SIGTRAP = 5;
    public static final int SIGCONT = 18;
    public static final int SIGSTOP = 19;
    public static final int SIGTSTP = 20;
    public static final int SIGTTIN = 21;
    public static final int SIGTTOU = 22;

    public static final int EINTR = 4;
    public static final int ERESTARTSYS = 512;
    public static final int ERESTARTNOINTR = 513;
    public static final int ERESTARTNOHAND = 514;
    public static final int ERESTART_RESTARTBLOCK = 516;

    public static final int RLIMIT_COUNT = 16;
    public static final long PAGE = 4096;

    private Sys() {
    }

    public static String errno(long negativeErrno) {
        int e = (int) -negativeErrno;
        return LibC.C.strerror(e) + " (errno " + e + ")";
    }
}
