package io.telefork.sys;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.StringArray;
import com.sun.jna.ptr.IntByReference;

import java.util.List;
import java.util.Map;

/**
 * Starts processes with posix_spawn, never with ProcessBuilder: the JDK's reaper thread would wait on
 * the child and swallow its ptrace stops. The child gets only fds 0-2 and an empty signal mask.
 */
public final class Spawner {
    private static final short POSIX_SPAWN_SETSIGDEF = 0x04;
    private static final short POSIX_SPAWN_SETSIGMASK = 0x08;

    private Spawner() {
    }

    public static int spawn(List<String> argv, Map<String, String> env) throws SysException {
        try (Memory actions = new Memory(512); Memory attr = new Memory(512); Memory empty = new Memory(128);
             Memory all = new Memory(128)) {
            LibC c = LibC.C;
            c.posix_spawn_file_actions_init(actions);
            c.posix_spawnattr_init(attr);
            try {
                check(c.posix_spawn_file_actions_addclosefrom_np(actions, 3), "posix_spawn_file_actions_addclosefrom_np");
                c.sigemptyset(empty);
                c.sigfillset(all);
                check(c.posix_spawnattr_setsigmask(attr, empty), "posix_spawnattr_setsigmask");
                check(c.posix_spawnattr_setsigdefault(attr, all), "posix_spawnattr_setsigdefault");
                check(c.posix_spawnattr_setflags(attr, (short) (POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)),
                        "posix_spawnattr_setflags");
                IntByReference pid = new IntByReference();
                String[] envp = env.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).toArray(String[]::new);
                check(c.posix_spawn(pid, argv.get(0), actions, attr, new StringArray(argv.toArray(new String[0])),
                        new StringArray(envp)), "posix_spawn " + argv.get(0));
                return pid.getValue();
            } finally {
                c.posix_spawn_file_actions_destroy(actions);
                c.posix_spawnattr_destroy(attr);
            }
        }
    }

    /** Kills a process this JVM spawned and waits for its end, so that no zombie is left. */
    public static void killAndReap(int pid) {
        try {
            Kernel.kill(pid, Sys.SIGKILL);
        } catch (SysException e) {
            return; // already gone and reaped
        }
        IntByReference status = new IntByReference();
        while (true) {
            try {
                LibC.C.waitpid(pid, status, 0);
                return;
            } catch (LastErrorException e) {
                if (e.getErrorCode() != Sys.EINTR) {
                    return;
                }
            }
        }
    }

    /**
     * As {@link #spawn}, the child a member of the PID namespace of process {@code member} (host PID): the
     * calling thread enters that namespace for its children only, just around the spawn, and then goes back
     * (while they differ, the thread could not start threads: clone refuses CLONE_THREAD).
     */
    public static int spawnInPidNamespaceOf(int member, List<String> argv, Map<String, String> env)
            throws SysException {
        int own = Kernel.open("/proc/thread-self/ns/pid", Sys.O_RDONLY);
        try {
            int target = Kernel.open("/proc/" + member + "/ns/pid", Sys.O_RDONLY);
            try {
                Kernel.setns(target, Kernel.CLONE_NEWPID);
            } finally {
                Kernel.close(target);
            }
            try {
                return spawn(argv, env);
            } finally {
                Kernel.setns(own, Kernel.CLONE_NEWPID);
            }
        } finally {
            Kernel.close(own);
        }
    }

    private static void check(int err, String what) throws SysException {
        if (err != 0) {
            throw new SysException(what, err);
        }
    }
}
