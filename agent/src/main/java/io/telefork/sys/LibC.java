package io.telefork.sys;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.StringArray;
import com.sun.jna.ptr.IntByReference;

/** The few libc entry points the engine needs; everything else goes through {@link #syscall}. */
interface LibC extends Library {
    LibC C = Native.load("c", LibC.class);

    long syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6) throws LastErrorException;

    int waitpid(int pid, IntByReference status, int options) throws LastErrorException;

    int kill(int pid, int sig) throws LastErrorException;

    int getpid();

    int isatty(int fd);

    String strerror(int errnum);

    /** Returns an error number, not -1 and errno. */
    int posix_spawn(IntByReference pid, String path, Pointer fileActions, Pointer attr, StringArray argv,
                    StringArray envp);

    int posix_spawn_file_actions_init(Pointer actions);

    int posix_spawn_file_actions_addclosefrom_np(Pointer actions, int from);

    int posix_spawn_file_actions_destroy(Pointer actions);

    int posix_spawnattr_init(Pointer attr);

    int posix_spawnattr_setflags(Pointer attr, short flags);

    int posix_spawnattr_setsigmask(Pointer attr, Pointer sigset);

    int posix_spawnattr_setsigdefault(Pointer attr, Pointer sigset);

    int posix_spawnattr_destroy(Pointer attr);

    int sigemptyset(Pointer set);

    int sigfillset(Pointer set);
}
