package io.telefork.restore;

import io.telefork.engine.EngineException;
import io.telefork.engine.EngineException.Reason;
import io.telefork.engine.RestoreOptions;
import io.telefork.engine.RestoreResult;
import io.telefork.engine.StepClock;
import io.telefork.image.Format;
import io.telefork.image.ImageFormatException;
import io.telefork.image.ImageTree;
import io.telefork.image.ImageReader;
import io.telefork.image.Regs;
import io.telefork.proc.ProcFs;
import io.telefork.sys.Kernel;
import io.telefork.sys.Ptrace;
import io.telefork.sys.Remote;
import io.telefork.sys.Spawner;
import io.telefork.sys.Sys;
import io.telefork.sys.SysException;
import io.telefork.sys.Tracer;
import io.telefork.sys.Waiter;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
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
    static final List<String> VESSEL = List.of(vesselBinary(), "infinity");
    static final Map<String, String> VESSEL_ENV = Map.of("PATH", "/usr/bin:/bin");
    private static final long CLONE_PARENT = 0x8000;

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
        StepClock clock = new StepClock("restore");
        // A file is mapped, eagerly too: its pages are copied into the processes from the mapping, by two
        // threads (see TreeRestore.receivePages), with no read into a buffer first.
        FileChannel mappable = imageFile(in);
        FileChannel file = options.lazy() ? mappable : null;
        ImageReader reader = mappable != null ? openMapped(mappable) : openImage(in);
        ImageTree image = readTree(reader, file);
        clock.lap("image metadata read");
        Integer[] endedWith = new Integer[1];
        // The reader is closed on the tracer thread once the restore there has ended, even if this thread
        // stops waiting for it (interrupted): a lazy restore's threads copy from its mapping until then.
        try (Tracer tracer = new Tracer("telefork-restore")) {
            RestoreResult result = tracer.call(ptrace -> {
                try (reader) {
                    return spawnAndRestore(ptrace, image, reader, file, clock, started, endedWith);
                }
            });
            return new RestoredProcess(result, endedWith[0]);
        } catch (Exception e) {
            throw translate(e);
        }
    }

    private RestoreResult spawnAndRestore(Ptrace ptrace, ImageTree image, ImageReader reader, FileChannel file,
                                          StepClock clock, long started, Integer[] endedWith) throws Exception {
        TreeRestore.checkIdsFree(image, proc);
        int rootPid = image.root().process().pid();
        int spawned = Spawner.spawn(VESSEL, VESSEL_ENV);
        int vessel;
        OneCpu cpu = OneCpu.pin(spawned); // before the seize: a tracee's affinity is set as any process's
        try {
            ptrace.seize(spawned, Ptrace.O_EXITKILL);
            ptrace.interrupt(spawned);
            awaitInterrupt(ptrace, spawned);
            vessel = withPid(ptrace, spawned, rootPid);
        } catch (SysException e) {
            cpu.close();
            killAndReap(ptrace, List.of(spawned));
            throw e;
        }
        clock.lap("vessel spawned and seized");
        TreeRestore t = new TreeRestore(ptrace, image, reader, file, options, proc,
                new TaskIds(ptrace, proc, vessel), false);
        long bytes;
        try (cpu) {
            bytes = t.run(vessel, cpu);
            cpu.release(t.allThreads());
            cpu.close();
            clock.lap("process built");
            if (t.lazy()) {
                return lazyPhase(ptrace, t, reader, vessel, rootPid, bytes, started, endedWith);
            }
            t.resume();
        } catch (Exception e) {
            t.killAll();
            throw e;
        }
        return new RestoreResult(vessel, rootPid, bytes, Duration.ofNanos(System.nanoTime() - started));
    }

    /**
     * Restores an image into an existing vessel (a container's placeholder), which becomes the first
     * process and keeps its PID; the other processes of a tree are forked from it (and from each other)
     * with their PIDs, and threads made with their IDs, as the vessel's PID namespace numbers them.
     */
    public RestoreResult restoreInto(int vesselPid, ReadableByteChannel in) throws EngineException {
        return restoreInto(vesselPid, 0, in);
    }

    /**
     * As {@link #restoreInto(int, ReadableByteChannel)}, for a placeholder that is the only child of a small
     * init ({@code initPid}, 0 for none): see {@link InitVessel} for when the init is the vessel instead.
     */
    public RestoreResult restoreInto(int placeholderPid, int initPid, ReadableByteChannel in) throws EngineException {
        long started = System.nanoTime();
        if (!proc.exists(placeholderPid)) {
            throw new EngineException(Reason.NO_SUCH_PROCESS, "no vessel process with PID " + placeholderPid);
        }
        FileChannel mappable = imageFile(in); // mapped, eagerly too (see restoreSpawned)
        FileChannel file = options.lazy() ? mappable : null;
        ImageReader reader = mappable != null ? openMapped(mappable) : openImage(in);
        ImageTree image = readTree(reader, file);
        int vesselPid;
        try {
            vesselPid = InitVessel.choose(image, placeholderPid, initPid, proc);
        } catch (IOException e) {
            reader.close();
            throw translate(e);
        }
        // The reader is closed on the tracer thread (see restoreSpawned).
        try (Tracer tracer = new Tracer("telefork-restore-" + vesselPid)) {
            return tracer.call(ptrace -> {
                try (reader) {
                    return restoreIntoVessel(ptrace, image, reader, file, placeholderPid, vesselPid, started);
                }
            });
        } catch (Exception e) {
            throw translate(e);
        }
    }

    private RestoreResult restoreIntoVessel(Ptrace ptrace, ImageTree image, ImageReader reader, FileChannel file,
                                            int placeholderPid, int vesselPid, long started) throws Exception {
        TaskIds ids = new TaskIds(ptrace, proc, vesselPid);
        java.util.Set<Integer> ending = vesselPid == placeholderPid ? java.util.Set.of()
                : java.util.Set.of(ids.inNamespace(placeholderPid));
        TreeRestore.checkIdsFreeBeside(image, ids, vesselPid, ending);
        ptrace.seize(vesselPid, Ptrace.O_EXITKILL);
        ptrace.interrupt(vesselPid);
        awaitInterrupt(ptrace, vesselPid);
        if (vesselPid != placeholderPid) {
            try {
                InitVessel.endPlaceholder(ptrace, proc, vesselPid, placeholderPid);
            } catch (Exception e) {
                ptrace.detach(vesselPid, 0);
                throw e;
            }
        }
        TreeRestore t = new TreeRestore(ptrace, image, reader, file, options, proc, ids, true);
        long bytes;
        OneCpu cpu = OneCpu.pin(vesselPid);
        try (cpu) {
            bytes = t.run(vesselPid, cpu);
            cpu.release(t.allThreads());
            cpu.close();
            if (t.lazy()) {
                return lazyPhase(ptrace, t, reader, vesselPid, image.root().process().pid(), bytes, started,
                        new Integer[1]);
            }
            t.resume();
        } catch (Exception e) {
            if (t.lazy() && t.pastPointOfNoReturn()) {
                t.killAll();
            } else if (t.pastPointOfNoReturn()) {
                Kernel.kill(vesselPid, Sys.SIGKILL);
            } else {
                cpu.release(List.of(vesselPid));
                t.release(vesselPid);
            }
            throw e;
        }
        Duration took = Duration.ofNanos(System.nanoTime() - started);
        return new RestoreResult(vesselPid, image.root().process().pid(), bytes, took, took, took, false,
                t.lazyRefusal());
    }

    /**
     * Lets the process run while its memory is filled, tracing it all along (PTRACE_O_EXITKILL: should
     * this restorer die, it dies too, rather than run on with missing pages read as zeros), and lets it go
     * once every page is in. A failure meanwhile, a corrupt image found by the pusher included, kills it.
     */
    private RestoreResult lazyPhase(Ptrace ptrace, TreeRestore t, ImageReader reader, int vessel, int rootPid,
                                    long bytes, long started, Integer[] endedWith) throws Exception {
        LazyServer server = t.lazyServer();
        LazyTracer follower = new LazyTracer(ptrace, vessel, t.allThreads());
        Duration running;
        try {
            follower.start(t.stoppedProcesses());
            running = Duration.ofNanos(System.nanoTime() - started);
            server.startPushing(reader);
            follower.follow(server);
        } catch (Exception e) {
            follower.killAll();
            server.close();
            throw e;
        }
        Throwable failed = server.failure();
        if (failed != null) {
            follower.killAll();
            server.close();
            EngineException e = translate(failed instanceof Exception ex ? ex : new RuntimeException(failed));
            throw new EngineException(e.reason(), "the restored process was killed during its lazy phase: "
                    + e.getMessage(), failed);
        }
        server.close();
        Duration allIn = Duration.ofNanos(System.nanoTime() - started);
        follower.detachAll();
        endedWith[0] = follower.rootStatus();
        long copiedAt = server.copiedAt();
        Duration copied = copiedAt == 0 ? running : Duration.ofNanos(copiedAt - started);
        return new RestoreResult(vessel, rootPid, bytes + server.pushedBytes(), running, allIn,
                copied.compareTo(allIn) < 0 ? copied : allIn, true, null);
    }

    /**
     * The image as a file, whose pages a lazy restore fetches out of order as the process faults on them;
     * null for a stream (stdin, a pipe, a socket), from which pages are copied in as they arrive.
     */
    private static FileChannel imageFile(ReadableByteChannel in) {
        if (in instanceof FileChannel fc) {
            try {
                fc.position(); // a pipe opened by name has a size (0), but no position: lseek fails (ESPIPE)
                return fc;
            } catch (IOException e) {
                // a pipe
            }
        }
        return null;
    }

    /**
     * A vessel with the dumped PID, when that PID is free and this restorer may choose PIDs (clone3's
     * set_tid needs CAP_CHECKPOINT_RESTORE): the spawned vessel forks one with that PID as a sibling
     * (CLONE_PARENT, so it is this restorer's child), and goes. Otherwise the spawned vessel itself.
     * Steering PID allocation through ns_last_pid instead would also hand the freed thread IDs of the
     * dumped process to this JVM's own new threads.
     */
    private int withPid(Ptrace ptrace, int spawned, int wanted) throws Exception {
        if (wanted == spawned || wanted <= 1 || proc.exists(wanted)) {
            return spawned;
        }
        ProcFs.Mapping vdso = proc.mappings(spawned).stream().filter(m -> m.path().equals("[vdso]")).findFirst()
                .orElse(null);
        if (vdso == null) {
            return spawned;
        }
        ptrace.setSigmask(spawned, ~0L);
        Remote r = new Remote(ptrace, spawned, Remote.findGadget(spawned, vdso.start(), vdso.end()));
        // clone3's arguments go on the spawned vessel's stack, below its red zone: its memory is replaced
        // whole by the restore, or it is killed, so no page need be mapped for them.
        long scratch = (r.savedRegisters()[Regs.RSP] - 512) & ~15L;
        ByteBuffer args = ByteBuffer.allocateDirect(96).order(ByteOrder.LITTLE_ENDIAN);
        args.putLong(0, CLONE_PARENT).putLong(64, scratch + 88).putLong(72, 1).putInt(88, wanted);
        if (Kernel.writeMemory(spawned, scratch, args, 96) != 96) {
            return spawned; // no stack below its stack pointer: it is the vessel, with the PID it has
        }
        ptrace.setOptions(spawned, Ptrace.O_EXITKILL | Ptrace.O_TRACECLONE);
        long[] child = r.clone3Traced(scratch, 88);
        if (child[0] < 0) {
            r.restoreRegisters();
            ptrace.setOptions(spawned, Ptrace.O_EXITKILL);
            return spawned; // EPERM (no privilege to choose PIDs) or EEXIST (taken meanwhile)
        }
        int vessel = (int) child[0];
        Ptrace.Status st = ptrace.waitFor(vessel);
        if (!st.stopped()) {
            throw new SysException("the vessel " + vessel + " " + st);
        }
        killAndReap(ptrace, List.of(spawned));
        return vessel;
    }

    private static ImageReader openImage(ReadableByteChannel in) throws EngineException {
        try {
            return new ImageReader(in);
        } catch (IOException e) {
            throw translate(e);
        }
    }

    /** The reader of an image file: pages are copied straight from the mapping (lazily by the pusher). */
    private static ImageReader openMapped(FileChannel file) throws EngineException {
        try {
            return ImageReader.mapped(file);
        } catch (IOException e) {
            throw translate(e);
        }
    }

    private ImageTree readTree(ImageReader reader, FileChannel file) throws EngineException {
        if (options.lazy() && file == null && reader.version() < Format.FIRST_LAZY_VERSION) {
            reader.close();
            throw new EngineException(Reason.INCOMPATIBLE, "--lazy from a stream needs an image of format "
                    + Format.FIRST_LAZY_VERSION + " or later (this one is " + reader.version() + ", whose pages are "
                    + "not ordered for it): restore it from a file, or without --lazy");
        }
        try {
            return ImageTree.read(reader);
        } catch (IOException e) {
            reader.close();
            throw translate(e);
        }
    }

    static void awaitInterrupt(Ptrace ptrace, int pid) throws SysException {
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

    /** Kills the vessel and collects every thread's end, the leader's last (it is reported last). */
    static void killAndReap(Ptrace ptrace, List<Integer> threads) {
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
