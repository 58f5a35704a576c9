package io.telefork.dump;

import io.telefork.engine.EngineException;
import io.telefork.engine.EngineException.Reason;
import io.telefork.proc.ProcFs;
import io.telefork.sys.Kernel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;

/** Checks that a PID names a process this version can dump, before anything touches it. */
final class Validation {
    private static final long PF_KTHREAD = 0x00200000L;
    private static final String SYS_WAIT4 = "61";
    private static final String SYS_WAITID = "247";
    private static final long P_ALL = 0;
    private static final long P_PID = 1;

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
            if (Long.parseLong(stat[4]) == Kernel.getpid()) {
                String waiter = waitingThread(proc, pid);
                if (waiter != null) {
                    throw new EngineException(Reason.NOT_DUMPABLE, "process " + pid + " is a child of this process, "
                            + "and its thread '" + waiter + "' waits for it (the JDK's process reaper does, for a "
                            + "process started with ProcessBuilder): that wait would take the stops a dump needs. "
                            + "Start the process detached (through a shell that exits, or setsid -f), or dump it "
                            + "from another process");
                }
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

    /**
     * The name of a thread of this process blocked in wait4 or waitid for child {@code pid} (or for any
     * child), or null: ptrace stops of a child are reported to every thread of its tracer's process, so that
     * thread would take them. From /proc/self/task/TID/syscall: the number and arguments of the call a
     * blocked thread is in.
     */
    private static String waitingThread(ProcFs proc, int pid) throws IOException {
        try (Stream<Path> tasks = Files.list(proc.dir(Kernel.getpid()).resolve("task"))) {
            for (Path task : (Iterable<Path>) tasks::iterator) {
                String[] call;
                try {
                    call = Files.readString(task.resolve("syscall")).trim().split(" ");
                } catch (IOException e) {
                    continue; // the thread has exited
                }
                if (call.length >= 3 && waitsFor(call, pid)) {
                    return Files.readString(task.resolve("comm")).trim();
                }
            }
        }
        return null;
    }

    private static boolean waitsFor(String[] call, int pid) {
        if (!call[0].equals(SYS_WAIT4) && !call[0].equals(SYS_WAITID)) {
            return false;
        }
        long a0 = Long.parseUnsignedLong(call[1].substring(2), 16);
        long a1 = Long.parseUnsignedLong(call[2].substring(2), 16);
        return call[0].equals(SYS_WAIT4)
                ? (int) a0 == pid || (int) a0 == -1 // wait4(pid or any child, ...)
                : a0 == P_ALL || (a0 == P_PID && (int) a1 == pid); // waitid(idtype, id, ...)
    }
}
