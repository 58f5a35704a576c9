package io.telefork.restore;

import io.telefork.engine.EngineException;
import io.telefork.engine.EngineException.Reason;
import io.telefork.engine.RestoreOptions;
import io.telefork.engine.RestoreResult;
import io.telefork.image.ImageFormatException;
import io.telefork.image.ImageHead;
import io.telefork.image.ImageReader;
import io.telefork.proc.ProcFs;
import io.telefork.sys.Kernel;
import io.telefork.sys.Ptrace;
import io.telefork.sys.Spawner;
import io.telefork.sys.Sys;
import io.telefork.sys.SysException;
import io.telefork.sys.Tracer;
import io.telefork.sys.Waiter;

import java.io.IOException;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Restores an image into a vessel: one this restorer spawns (the CLI's case) or one that exists (a
 * container's placeholder). The image is read in one pass, so a restore can start while the dump is
 * still streaming in; the process runs only once the whole image has been verified.
 */
public final class Restorer {
    private static final List<String> VESSEL = List.of(vesselBinary(), "infinity");
    private static final Map<String, String> VESSEL_ENV = Map.of("PATH", "/usr/bin:/bin");

    private final RestoreOptions options;
    private final ProcFs proc;

    public Restorer(RestoreOptions options) {
        this(options, new ProcFs());
    }

    Restorer(RestoreOptions options, ProcFs proc) {
        this.options = options;
        this.proc = proc;
    }

    public RestoredProcess restoreSpawned(ReadableByteChannel in) throws EngineException {
        long started = System.nanoTime();
        ImageReader reader = openImage(in);
        ImageHead head = readHead(reader);
        try (reader; Tracer tracer = new Tracer("telefork-restore")) {
            RestoreResult result = tracer.call(ptrace -> {
                int vessel = spawnVessel(head.process().pid());
                try {
                    ptrace.seize(vessel, Ptrace.O_EXITKILL);
                    ptrace.interrupt(vessel);
                    awaitInterrupt(ptrace, vessel);
                } catch (SysException e) {
                    killAndReap(ptrace, List.of(vessel));
                    throw e;
                }
                Transplant t = new Transplant(ptrace, vessel, head, reader, options, proc);
                try {
                    t.run();
                    detach(ptrace, t.threadIds(), head.process().stopped());
                } catch (Exception e) {
                    killAndReap(ptrace, t.threadIds());
                    throw e;
                }
                return new RestoreResult(vessel, head.process().pid(), t.memoryBytes(),
                        Duration.ofNanos(System.nanoTime() - started));
            });
            return new RestoredProcess(result);
        } catch (Exception e) {
            throw translate(e);
        }
    }

    public RestoreResult restoreInto(int vesselPid, ReadableByteChannel in) throws EngineException {
        long started = System.nanoTime();
        if (!proc.exists(vesselPid)) {
            throw new EngineException(Reason.NO_SUCH_PROCESS, "no vessel process with PID " + vesselPid);
        }
        ImageReader reader = openImage(in);
        ImageHead head = readHead(reader);
        try (reader; Tracer tracer = new Tracer("telefork-restore-" + vesselPid)) {
            return tracer.call(ptrace -> {
                ptrace.seize(vesselPid, Ptrace.O_EXITKILL);
                ptrace.interrupt(vesselPid);
                awaitInterrupt(ptrace, vesselPid);
                Transplant t = new Transplant(ptrace, vesselPid, head, reader, options, proc);
                try {
                    t.run();
                    detach(ptrace, t.threadIds(), head.process().stopped());
                } catch (Exception e) {
                    if (t.pastPointOfNoReturn()) {
                        Kernel.kill(vesselPid, Sys.SIGKILL);
                    } else {
                        t.release();
                    }
                    throw e;
                }
                return new RestoreResult(vesselPid, head.process().pid(), t.memoryBytes(),
                        Duration.ofNanos(System.nanoTime() - started));
            });
        } catch (Exception e) {
            throw translate(e);
        }
    }

    /**
     * Spawns the vessel with the dumped PID when that PID is free and this restorer may steer PID
     * allocation (ns_last_pid needs CAP_CHECKPOINT_RESTORE); otherwise with whatever PID comes.
     */
    private int spawnVessel(int wanted) throws SysException {
        Path lastPid = Path.of("/proc/sys/kernel/ns_last_pid");
        for (int attempt = 0; attempt < 8 && wanted > 1 && !proc.exists(wanted) && Files.isWritable(lastPid);
             attempt++) {
            try {
                Files.writeString(lastPid, Integer.toString(wanted - 1));
            } catch (IOException e) {
                break;
            }
            int pid = Spawner.spawn(VESSEL, VESSEL_ENV);
            if (pid == wanted) {
                return pid;
            }
            // Another process took the PID between the write and the spawn: try again.
            Kernel.kill(pid, Sys.SIGKILL);
            Waiter.waitForChild(pid);
        }
        return Spawner.spawn(VESSEL, VESSEL_ENV);
    }

    private static ImageReader openImage(ReadableByteChannel in) throws EngineException {
        try {
            return new ImageReader(in);
        } catch (IOException e) {
            throw translate(e);
        }
    }

    private static ImageHead readHead(ImageReader reader) throws EngineException {
        try {
            return ImageHead.read(reader);
        } catch (IOException e) {
            reader.close();
            throw translate(e);
        }
    }

    private static void awaitInterrupt(Ptrace ptrace, int pid) throws SysException {
        while (true) {
            Ptrace.Status st = ptrace.waitFor(pid);
            if (!st.stopped()) {
                throw new SysException("vessel " + pid + " " + st + " before it could be used");
            }
            if (st.eventStop() && st.stopSignal() == Sys.SIGTRAP) {
                return;
            }
            ptrace.cont(pid, st.eventStop() ? 0 : st.stopSignal());
        }
    }

    /** Lets the process run, or leaves it job-control stopped as it was dumped. */
    private static void detach(Ptrace ptrace, List<Integer> threads, boolean stopped) throws SysException {
        if (stopped) {
            // A signal given to PTRACE_DETACH from an interrupt stop may be dropped; a queued one is not.
            Kernel.kill(threads.get(0), Sys.SIGSTOP);
        }
        for (int i = threads.size() - 1; i >= 0; i--) {
            ptrace.detach(threads.get(i), 0);
        }
    }

    /** Kills the vessel and collects every thread's end, the leader's last (it is reported last). */
    private static void killAndReap(Ptrace ptrace, List<Integer> threads) {
        try {
            Kernel.kill(threads.get(0), Sys.SIGKILL);
        } catch (SysException e) {
            return; // already gone
        }
        for (int i = threads.size() - 1; i >= 0; i--) {
            try {
                Ptrace.Status st;
                do {
                    st = ptrace.waitFor(threads.get(i));
                } while (st.stopped());
            } catch (SysException e) {
                // already collected
            }
        }
    }

    private static EngineException translate(Exception e) {
        if (e instanceof EngineException ee) {
            return ee;
        }
        if (e instanceof ImageFormatException) {
            return new EngineException(Reason.BAD_IMAGE, "bad image: " + e.getMessage(), e);
        }
        if (e instanceof IOException) {
            return new EngineException(Reason.IO, "reading the image failed: " + e.getMessage(), e);
        }
        if (e instanceof SysException) {
            return new EngineException(Reason.SYSTEM, "restore failed: " + e.getMessage(), e);
        }
        return new EngineException(Reason.SYSTEM, "restore failed: " + e, e);
    }

    private static String vesselBinary() {
        for (String p : new String[] {"/usr/bin/sleep", "/bin/sleep"}) {
            if (Files.isExecutable(Path.of(p))) {
                return p;
            }
        }
        return "/usr/bin/sleep";
    }
}
