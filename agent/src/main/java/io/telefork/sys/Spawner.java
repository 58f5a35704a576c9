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

    private static void check(int err, String what) throws SysException {
        if (err != 0) {
            throw new SysException(what, err);
        }
    }
}
