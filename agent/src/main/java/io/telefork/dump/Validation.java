package io.telefork.dump;

import io.telefork.engine.EngineException;
import io.telefork.engine.EngineException.Reason;
import io.telefork.proc.ProcFs;
import io.telefork.sys.Kernel;

import java.io.IOException;
import java.nio.file.Files;
import java.util.Map;

/** Checks that a PID names a process this version can dump, before anything touches it. */
final class Validation {
    private static final long PF_KTHREAD = 0x00200000L;

    private Validation() {
    }

    static void check(ProcFs proc, int pid) throws EngineException {
        if (pid <= 0 || !proc.exists(pid)) {
            throw new EngineException(Reason.NO_SUCH_PROCESS, "no process with PID " + pid);
        }
        if (pid == Kernel.getpid()) {
            throw new EngineException(Reason.NOT_DUMPABLE, "process " + pid + " is telefork itself");
        }
        try {
            String[] stat = proc.stat(pid);
            long flags = Long.parseLong(stat[9]);
            if ((flags & PF_KTHREAD) != 0) {
                throw new EngineException(Reason.NOT_DUMPABLE, "process " + pid + " (" + stat[2]
                        + ") is a kernel thread");
            }
            String state = stat[3];
            if (state.equals("Z") || state.equals("X")) {
                throw new EngineException(Reason.NOT_DUMPABLE, "process " + pid + " is a zombie");
            }
            Map<String, String> status = proc.status(pid);
            if (!"0".equals(status.getOrDefault("TracerPid", "0"))) {
                throw new EngineException(Reason.NOT_DUMPABLE, "process " + pid + " is already traced by PID "
                        + status.get("TracerPid"));
            }
            String timers = Files.readString(proc.dir(pid).resolve("timers")).trim();
            if (!timers.isEmpty()) {
                throw new EngineException(Reason.UNSUPPORTED, "process " + pid + " has POSIX timers (timer_create); "
                        + "they are not supported yet");
            }
        } catch (IOException | RuntimeException e) {
            if (!proc.exists(pid)) {
                throw new EngineException(Reason.NO_SUCH_PROCESS, "process " + pid + " exited");
            }
            throw new EngineException(Reason.SYSTEM, "cannot read /proc/" + pid + ": " + e.getMessage(), e);
        }
    }
}
