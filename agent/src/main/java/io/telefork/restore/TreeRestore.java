package io.telefork.restore;

import io.telefork.engine.EngineException;
import io.telefork.engine.EngineException.Reason;
import io.telefork.engine.RestoreOptions;
import io.telefork.engine.StepClock;
import io.telefork.image.Decoder;
import io.telefork.image.Format;
import io.telefork.image.ImageDigest;
import io.telefork.image.ImageFormatException;
import io.telefork.image.ImageHead;
import io.telefork.image.ImageReader;
import io.telefork.image.ImageTree;
import io.telefork.image.LazyPlan;
import io.telefork.image.PageIndex;
import io.telefork.image.PageRecords;
import io.telefork.image.ProcessTree;
import io.telefork.image.Regs;
import io.telefork.image.RecordType;
import io.telefork.image.ThreadState;
import io.telefork.proc.ProcFs;
import io.telefork.sys.Kernel;
import io.telefork.sys.Ptrace;
import io.telefork.sys.Remote;
import io.telefork.sys.Sys;
import io.telefork.sys.SysException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Restores every process of an image (one, or a process and its descendants) into vessels, from one
 * seized vessel that becomes the first process: the others are forked from their parents' vessels with
 * their PIDs, sessions and groups are re-created top-down, zombies exit with their status, and then each
 * live process is transplanted, part by part for all of them, so that what they share is made once. All
 * run only at the end, together; {@link #killAll()} is the cleanup path of a failure. Runs on the tracer
 * thread.
 */
final class TreeRestore {
    private static final int CLONE_ARGS_SIZE = TaskIds.CLONE_ARGS_SIZE;
    private static final int SYS_EXIT_GROUP = 231;
    private static final int SYS_SETPGID = 109;
    private static final int SYS_SETSID = 112;
    private static final int SYS_WAIT4 = 61;
    private static final int WNOHANG = 1;
    private static final int WALL = 0x40000000;
    private static final int PR_SET_DUMPABLE = 4;
    private static final long ZOMBIE_WAIT_MILLIS = 5000;
    private static final long PID_RELEASE_WAIT_NANOS = 3_000_000_000L;

    private final Ptrace ptrace;
    private final ImageTree image;
    private final ImageReader reader;
    private final RestoreOptions options;
    private final ProcFs proc;
    private final SharedObjects shared;
    private final TaskIds ids;
    /** The first process goes into an existing vessel (a placeholder), which keeps its own PID. */
    private final boolean existingRoot;
    private String lazyRefusal;
    /** Per PID of the tree: its vessel here, in the order they were made (parents first). */
    private final Map<Integer, Integer> vessels = new LinkedHashMap<>();
    /** Vessels of zombies that have exited: not traced any more, nothing to kill. */
    private final List<Integer> exited = new ArrayList<>();
    private final List<Transplant> transplants = new ArrayList<>();
    /** The first vessel's signal mask as it was found. */
    private long rootMask;

    /** The image file, for random access to its pages in a lazy restore; null when read from a stream. */
    private final FileChannel file;
    private LazyServer lazy;

    TreeRestore(Ptrace ptrace, ImageTree image, ImageReader reader, FileChannel file, RestoreOptions options,
                ProcFs proc, TaskIds ids, boolean existingRoot) {
        this.ptrace = ptrace;
        this.image = image;
        this.reader = reader;
        this.file = file;
        this.options = options;
        this.proc = proc;
        this.shared = new SharedObjects(image.heads());
        this.ids = ids;
        this.existingRoot = existingRoot;
    }

    /**
     * A tree is restored with its PIDs or not at all (parents wait for their children by PID, and
     * processes signal each other by PID): checked before anything is made. An ID held by a process
     * that has already ended (a zombie, or one still being torn down) is waited for a moment: right
     * after a dump its processes are dead but not all reaped yet, as their new parent reaps them.
     */
    static void checkIdsFree(ImageTree image, ProcFs proc) throws EngineException {
        if (image.single()) {
            return;
        }
        long deadline = System.nanoTime() + PID_RELEASE_WAIT_NANOS;
        try {
            requireFree(image, false, id -> awaitFree(proc, id, deadline) ? null : "here (" + holder(proc, id) + ")");
        } catch (IOException e) {
            throw new EngineException(Reason.SYSTEM, "reading /proc: " + e.getMessage(), e);
        }
    }

    /**
     * For a restore into an existing vessel: every ID but the first process's (which takes the vessel's)
     * must be free in the vessel's PID namespace; what holds one there is running, not being reaped (but
     * for {@code ending}: processes the restore ends first).
     */
    static void checkIdsFreeBeside(ImageTree image, TaskIds ids, int vessel, java.util.Set<Integer> ending)
            throws IOException, EngineException {
        java.util.Set<Integer> used = new java.util.HashSet<>(ids.inUse());
        used.removeAll(ending);
        requireFree(image, true, id -> used.contains(id) ? "in the PID namespace of the vessel " + vessel : null);
    }

    /** Where an ID is taken ("here (by ...)"), or null when it is free. */
    private interface Holder {
        String of(int id) throws IOException, EngineException;
    }

    /** Every process's PID and every thread's ID of the image free, but the first process's if so asked. */
    private static void requireFree(ImageTree image, boolean exceptRoot, Holder holder)
            throws IOException, EngineException {
        int root = image.root().process().pid();
        for (ProcessTree.Member m : image.tree().members()) {
            String where = exceptRoot && m.pid() == root ? null : holder.of(m.pid());
            if (where != null) {
                throw new EngineException(Reason.INCOMPATIBLE, "process " + m.pid() + " (" + m.comm() + ") of the "
                        + "tree must keep its PID, but PID " + m.pid() + " is in use " + where);
            }
        }
        for (ImageHead h : image.heads()) {
            for (ThreadState t : h.threads()) {
                String where = exceptRoot && t.tid() == root ? null : holder.of(t.tid());
                if (where != null) {
                    throw new EngineException(Reason.INCOMPATIBLE, "thread " + t.tid() + " of process "
                            + h.process().pid() + " must keep its ID, but it is in use " + where);
                }
            }
        }
    }

    /** True once no task has the ID; waits only while its holder has ended (state Z, X or x). */
    private static boolean awaitFree(ProcFs proc, int id, long deadline) throws EngineException {
        while (proc.exists(id)) {
            if (!ended(proc, id) || System.nanoTime() > deadline) {
                return !proc.exists(id);
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new EngineException(Reason.SYSTEM, "interrupted while waiting for PID " + id + " to be "
                        + "released");
            }
        }
        return true;
    }

    private static boolean ended(ProcFs proc, int id) {
        try {
            String state = proc.stat(id)[3];
            return state.equals("Z") || state.equals("X") || state.equals("x");
        } catch (IOException | RuntimeException e) {
            return !proc.exists(id);
        }
    }

    private static String holder(ProcFs proc, int id) {
        try {
            String[] stat = proc.stat(id);
            if (ended(proc, id)) {
                return "by " + stat[2] + ", which has exited but was not reaped by its parent, PID " + stat[4]
                        + ", within " + PID_RELEASE_WAIT_NANOS / 1_000_000 + " ms";
            }
            return "by " + stat[2] + "; is the original still running?";
        } catch (IOException | RuntimeException e) {
            return "by a process that has just gone; try again";
        }
    }

    /**
     * Builds every process, up to the moment before they run; returns the bytes of memory written. The
     * tracer and the vessel are pinned to one CPU by {@code cpu}, or not.
     */
    long run(int rootVessel, OneCpu cpu) throws Exception {
        ProcessTree tree = image.tree();
        vessels.put(tree.root().pid(), rootVessel);
        if (!image.single() && !existingRoot && rootVessel != tree.root().pid()) {
            throw new EngineException(Reason.INCOMPATIBLE, "the process tree must keep its PIDs, but this restorer "
                    + "cannot choose PIDs here (clone3 set_tid needs CAP_CHECKPOINT_RESTORE in the PID namespace)");
        }
        rootMask = ptrace.getSigmask(rootVessel);
        if (!image.single()) {
            ptrace.setSigmask(rootVessel, ~0L);
        }

        // 1. The other processes, parents first: each forked from its parent's still blank vessel with its
        //    PID; a session leader calls setsid before its children are forked, so that they inherit it.
        for (ProcessTree.Member m : tree.members().subList(1, tree.members().size())) {
            int vessel = fork(vessels.get(m.ppid()), m);
            if (m.sid() == m.pid()) {
                Remote r = blank(vessel);
                r.call("setsid in " + m.pid(), SYS_SETSID);
                r.restoreRegisters();
            }
        }

        // 2. Process groups: the leaders' first, then their members; the first process's own group stands
        //    for the restorer's (the first process runs in the restorer's group and session).
        setGroups(tree, rootVessel);

        // 3. Zombies: each stand-in exits with the dumped status, unreaped: its parent is not running yet.
        for (ProcessTree.Member m : tree.members()) {
            if (m.zombie()) {
                endAsZombie(m);
            }
        }

        // An existing vessel's own mask again, which its transplant saves to give it back on a failure.
        if (existingRoot) {
            ptrace.setSigmask(rootVessel, rootMask);
        }

        // 4. Each live process: look, check, open files, build descriptors; what several share is made once.
        for (ImageHead h : image.heads()) {
            Transplant t = new Transplant(ptrace, vessels.get(h.process().pid()), h, tree, shared, options, proc,
                    ids);
            transplants.add(t);
            t.prepare();
        }
        String refused = transplants.stream().map(Transplant::lazyRefusal).filter(Objects::nonNull).findFirst()
                .orElse(null);
        if (refused != null) {
            if (!existingRoot) {
                throw new EngineException(Reason.INCOMPATIBLE, "--lazy needs a userfaultfd in the restored process, "
                        + "with fork, remap, remove and unmap events: " + refused);
            }
            // An existing vessel (a pod's placeholder, where lazy is the agent's default): eagerly, and said so;
            // the whole file verified first, as no corrupt byte may get past the point of no return eagerly.
            lazyRefusal = refused;
            transplants.forEach(Transplant::abandon);
            if (file != null) {
                ImageDigest.verify(file, ImageDigest.endSha256(file));
            }
        }

        // 5. Memory: each vessel's own replaced by the image's areas.
        for (Transplant t : transplants) {
            t.build();
        }

        // 6. Pages as they arrive, each run into its process; the image's digest verified at its END.
        //    Lazily: only the pages of the areas not taken by the userfaultfd, fetched by the INDEX; the
        //    fault server starts now, as the injected calls of step 7 may touch the missing pages already.
        //    The tracer's CPU pin is lifted meanwhile: page copies and the threads started here use every CPU.
        cpu.unpinned(() -> {
            if (lazy()) {
                prepareLazy();
            } else {
                receivePages();
            }
        });

        // 7. Everything else, up to the registers.
        long bytes = 0;
        for (Transplant t : transplants) {
            t.complete();
            bytes += t.memoryBytes();
        }

        // 8. Last word before they run; then their TCP connections leave repair mode.
        options.beforeResume().confirm();
        for (Transplant t : transplants) {
            t.leaveTcpRepair();
        }
        return bytes;
    }

    private void prepareLazy() throws Exception {
        if (file == null) {
            prepareLazyFromStream();
            return;
        }
        StepClock clock = new StepClock("restore --lazy");
        PageIndex index = PageRecords.findIndex(file, reader.offset(), reader.version());
        clock.lap("INDEX found");
        // Image process -> its transplant; an image of version 1 holds one process, whose INDEX entries say 0.
        Map<Integer, Transplant> byPid = new LinkedHashMap<>();
        for (Transplant t : transplants) {
            byPid.put(reader.version() >= Format.FIRST_TREE_VERSION ? t.head().process().pid() : 0, t);
        }
        PageRecords records = reader.pageRecords(file);
        for (PageIndex.Entry e : index.entries()) {
            Transplant t = byPid.get(e.pid());
            if (t == null) {
                throw new EngineException(Reason.BAD_IMAGE, "the INDEX names pages of process " + e.pid()
                        + ", which the image does not hold");
            }
            if (!t.lazy(e.address())) {
                PageRecords.Pages p = records.fetch(e);
                t.fill(p.address(), p.count(), p.pages());
                options.progress().update(e.offset(), -1);
            }
        }
        clock.lap("pages outside the lazy areas");
        List<LazyTarget> targets = new ArrayList<>();
        byPid.forEach((pid, t) -> targets.add(new LazyTarget(t.vessel(), pid, t.lazyUffd(), t.lazyAreas())));
        lazy = new LazyServer(() -> reader.pageRecords(file), index, targets, (pid, address) -> byPid.containsKey(pid)
                && byPid.get(pid).lazy(address), options.progress(), LazyServer.pushDelayFromEnvironment());
        lazy.startServing();
        clock.lap("fault server started");
    }

    /**
     * From a stream: the pages up to the LAZY record (format 3) go in now, those of the eagerly filled
     * areas written, those of the lazily filled ones copied through the userfaultfd; the pusher takes the
     * stream from there once the processes run.
     */
    private void prepareLazyFromStream() throws Exception {
        Map<Integer, Transplant> byPid = new LinkedHashMap<>();
        transplants.forEach(t -> byPid.put(t.head().process().pid(), t));
        List<LazyTarget> targets = new ArrayList<>();
        byPid.forEach((pid, t) -> targets.add(new LazyTarget(t.vessel(), pid, t.lazyUffd(), t.lazyAreas())));
        lazy = LazyServer.fromStream(targets, (pid, address) -> byPid.containsKey(pid) && byPid.get(pid).lazy(address),
                options.progress(), LazyServer.pushDelayFromEnvironment());
        lazy.startServing();
        Transplant current = transplants.get(0);
        while (true) {
            ImageReader.Record r = reader.next();
            if (r == null || r.type() == RecordType.INDEX || r.type() == RecordType.END) {
                throw new EngineException(Reason.BAD_IMAGE, "the image has no LAZY record before its end, at byte "
                        + (r == null ? reader.offset() : r.offset()));
            }
            if (r.type() == RecordType.LAZY) {
                lazy.expect(LazyPlan.decode(r.payload()));
                lazy.startPushing(reader);
                return;
            }
            current = pagesOf(r, current);
            if (r.type() == RecordType.PAGES) {
                if (current.lazy(r.address())) {
                    lazy.pushNow(current.head().process().pid(), r);
                } else {
                    current.fill(r);
                }
                options.progress().update(reader.offset(), -1);
            }
        }
    }

    /** The transplant the pages that follow go to: another after a PAGES_OF record, else {@code current}. */
    private Transplant pagesOf(ImageReader.Record r, Transplant current) throws EngineException, ImageFormatException {
        if (r.type() == RecordType.PAGES_OF) {
            int pid = new Decoder(r.payload()).i32();
            return transplants.stream().filter(t -> t.head().process().pid() == pid).findFirst()
                    .orElseThrow(() -> new EngineException(Reason.BAD_IMAGE, "pages of process " + pid
                            + ", which the image does not hold, at byte " + r.offset()));
        }
        if (r.type() != RecordType.PAGES) {
            throw new EngineException(Reason.BAD_IMAGE, "unexpected " + r.type() + " record among pages");
        }
        return current;
    }

    /** Whether the processes run before their private anonymous memory is in. */
    boolean lazy() {
        return options.lazy() && lazyRefusal == null;
    }

    /** Why a lazy restore into an existing vessel goes eagerly instead, or null. */
    String lazyRefusal() {
        return lazyRefusal;
    }

    /** The lazy phase's server, once {@link #run} has built the process (a lazy restore only). */
    LazyServer lazyServer() {
        return lazy;
    }

    /** Every restored process's threads, parents before their children, each process's leader first. */
    List<Integer> allThreads() {
        List<Integer> out = new ArrayList<>();
        transplants.forEach(t -> out.addAll(t.threadIds()));
        return out;
    }

    /** The restored processes that were dumped job-control stopped. */
    List<Integer> stoppedProcesses() {
        return transplants.stream().filter(t -> t.head().process().stopped()).map(Transplant::vessel).toList();
    }

    /** Lets every process run, or leaves it job-control stopped as it was dumped: children first. */
    void resume() throws SysException {
        for (int i = transplants.size() - 1; i >= 0; i--) {
            Transplant t = transplants.get(i);
            List<Integer> threads = t.threadIds();
            if (t.head().process().stopped()) {
                // A signal given to PTRACE_DETACH from an interrupt stop may be dropped; a queued one is not.
                Kernel.kill(threads.get(0), Sys.SIGSTOP);
            }
            for (int k = threads.size() - 1; k >= 0; k--) {
                ptrace.detach(threads.get(k), 0);
            }
        }
    }

    /** The first process's transplant passed the point where its vessel's own memory is gone. */
    boolean pastPointOfNoReturn() {
        return !transplants.isEmpty() && transplants.get(0).pastPointOfNoReturn();
    }

    /**
     * Gives an existing vessel back as it was (before the point of no return): the vessels forked from it
     * are killed, and it reaps them (those of their own children that it inherits too, as a namespace's
     * first process does).
     */
    void release(int vessel) throws SysException {
        if (vessels.size() > 1) {
            List<Integer> pids = new ArrayList<>(vessels.keySet());
            for (int i = pids.size() - 1; i > 0; i--) {
                int v = vessels.get(pids.get(i));
                if (!exited.contains(v)) {
                    Restorer.killAndReap(ptrace, List.of(v));
                }
            }
            reapChildren(vessel);
        }
        if (transplants.isEmpty()) {
            if (existingRoot && vessels.containsKey(image.tree().root().pid())) {
                ptrace.setSigmask(vessel, rootMask);
            }
            ptrace.detach(vessel, 0);
        } else {
            transplants.get(0).release();
        }
    }

    private void reapChildren(int vessel) {
        try {
            Remote r = blank(vessel);
            try {
                long deadline = System.nanoTime() + 1_000_000_000L;
                while (System.nanoTime() < deadline) {
                    long pid = r.raw(SYS_WAIT4, -1, 0, WNOHANG | WALL, 0);
                    if (pid < 0) {
                        return; // ECHILD: none left
                    }
                    if (pid == 0) {
                        Thread.sleep(5);
                    }
                }
            } finally {
                r.restoreRegisters();
            }
        } catch (Exception e) {
            // the vessel lives on as it was; a child it did not reap stays a zombie of it
        }
    }

    /** Kills every vessel made or taken, children first, and collects the ends of all their threads. */
    void killAll() {
        killVessels();
        transplants.forEach(Transplant::abandon);
        if (lazy != null) {
            lazy.close();
        }
    }

    private void killVessels() {
        List<Integer> pids = new ArrayList<>(vessels.keySet());
        for (int i = pids.size() - 1; i >= 0; i--) {
            int vessel = vessels.get(pids.get(i));
            if (exited.contains(vessel)) {
                continue;
            }
            List<Integer> threads = List.of(vessel);
            for (Transplant t : transplants) {
                if (t.vessel() == vessel) {
                    threads = t.threadIds();
                }
            }
            Restorer.killAndReap(ptrace, threads);
        }
    }

    private int fork(int parent, ProcessTree.Member m) throws Exception {
        Remote r = blank(parent);
        long scratch = r.call("mmap", Sys.SYS_MMAP, 0, Sys.PAGE, Sys.PROT_READ | Sys.PROT_WRITE,
                Sys.MAP_PRIVATE | Sys.MAP_ANONYMOUS, -1, 0);
        try {
            long[] child;
            do {
                ByteBuffer args = ByteBuffer.allocateDirect(CLONE_ARGS_SIZE + 8).order(ByteOrder.LITTLE_ENDIAN);
                args.putLong(32, m.exitSignal());
                ids.prepare(args, scratch + CLONE_ARGS_SIZE, m.pid());
                Kernel.writeMemory(parent, scratch, args, CLONE_ARGS_SIZE + 8);
                ptrace.setOptions(parent, Ptrace.O_EXITKILL | Ptrace.O_TRACECLONE | Ptrace.O_TRACEFORK);
                try {
                    child = r.clone3Traced(scratch, CLONE_ARGS_SIZE);
                } finally {
                    ptrace.setOptions(parent, Ptrace.O_EXITKILL);
                }
            } while (child[0] < 0 && ids.retry(child[1]));
            if (child[0] < 0) {
                throw new EngineException(Reason.INCOMPATIBLE, "cannot re-create process " + m.pid() + " ("
                        + m.comm() + ") with its PID: clone3: " + Sys.errno(child[1]));
            }
            int vessel = (int) child[0];
            vessels.put(m.pid(), vessel);
            Ptrace.Status st = ptrace.waitFor(vessel);
            if (!st.stopped()) {
                throw new SysException("the vessel of process " + m.pid() + " " + st);
            }
            ids.check(vessel, m.pid(), "process " + m.pid() + " (" + m.comm() + ")");
            return vessel;
        } finally {
            r.raw(Sys.SYS_MUNMAP, scratch, Sys.PAGE);
            r.restoreRegisters();
        }
    }

    private void setGroups(ProcessTree tree, int rootVessel) throws Exception {
        // Process groups as the vessels' PID namespace numbers them (the image's are the dumped processes').
        int rootGroup = proc.idInOwnNamespace(rootVessel, "NSpgid");
        List<ProcessTree.Member> others = tree.members().subList(1, tree.members().size());
        for (int pass = 0; pass < 2; pass++) {
            for (ProcessTree.Member m : others) {
                boolean leader = m.pgid() == m.pid();
                if (leader != (pass == 0) || m.sid() == m.pid()) {
                    continue; // the other pass's, or a session leader, which leads its group already
                }
                int group = leader ? m.pid() : m.pgid() == tree.root().pgid() ? rootGroup : m.pgid();
                int vessel = vessels.get(m.pid());
                if (proc.idInOwnNamespace(vessel, "NSpgid") == group) {
                    continue;
                }
                Remote remote = blank(vessel);
                long r = remote.raw(SYS_SETPGID, 0, group);
                remote.restoreRegisters();
                if (r < 0) {
                    throw new EngineException(Reason.INCOMPATIBLE, "cannot put process " + m.pid()
                            + " into process group " + group + ": " + Sys.errno(r));
                }
            }
        }
    }

    /**
     * The stand-in of a zombie takes its name and ends as the original did: exit_group(code), or its
     * signal's default action (without a core dump); it is let go first so that it becomes its parent's
     * zombie, not its tracer's.
     */
    private void endAsZombie(ProcessTree.Member m) throws Exception {
        int vessel = vessels.get(m.pid());
        Remote r = blank(vessel);
        int status = m.exitStatus();
        int signal = status & 0x7f;
        // Its name, as ps and /proc/PID/comm show a zombie.
        byte[] comm = m.comm().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        int length = Math.min(comm.length, 15);
        long page = r.call("mmap", Sys.SYS_MMAP, 0, Sys.PAGE, Sys.PROT_READ | Sys.PROT_WRITE,
                Sys.MAP_PRIVATE | Sys.MAP_ANONYMOUS, -1, 0);
        ByteBuffer name = ByteBuffer.allocateDirect(16);
        name.put(comm, 0, length).put((byte) 0).flip();
        Kernel.writeMemory(vessel, page, name, length + 1);
        r.call("prctl(PR_SET_NAME)", Sys.SYS_PRCTL, Sys.PR_SET_NAME, page);
        long[] regs = r.savedRegisters();
        regs[Regs.RIP] = r.gadget();
        regs[Regs.ORIG_RAX] = -1;
        if (signal == 0) {
            regs[Regs.RAX] = SYS_EXIT_GROUP;
            regs[Regs.RDI] = (status >> 8) & 0xff;
        } else {
            r.call("prctl(PR_SET_DUMPABLE, 0)", Sys.SYS_PRCTL, PR_SET_DUMPABLE, 0);
            regs[Regs.RAX] = Sys.SYS_KILL;
            regs[Regs.RDI] = m.pid(); // as its namespace numbers it: checked when it was forked
            regs[Regs.RSI] = signal;
            ptrace.setSigmask(vessel, ~(1L << (signal - 1)));
        }
        ptrace.setRegs(vessel, regs);
        ptrace.detach(vessel, 0);
        exited.add(vessel);
        long deadline = System.currentTimeMillis() + ZOMBIE_WAIT_MILLIS;
        while (!"Z".equals(proc.stat(vessel)[3])) {
            if (System.currentTimeMillis() > deadline) {
                throw new SysException("the stand-in of zombie " + m.pid() + " did not exit");
            }
            Thread.sleep(1);
        }
    }

    /** An injector into a vessel that is still the blank program it was spawned as (or a fork of it). */
    private Remote blank(int vessel) throws IOException, SysException {
        ProcFs.Mapping vdso = proc.mappings(vessel).stream().filter(m -> m.path().equals("[vdso]")).findFirst()
                .orElseThrow(() -> new SysException("vessel " + vessel + " has no vDSO"));
        return new Remote(ptrace, vessel, Remote.findGadget(vessel, vdso.start(), vdso.end()));
    }

    /**
     * Eagerly: every PAGES record into its process, once its CRC32C is checked. From a mapped file, every
     * other uncompressed record is checked and written by a second thread meanwhile ({@link PageWriters});
     * all are in before this returns, and the image's END verified.
     */
    private void receivePages() throws Exception {
        Transplant current = transplants.get(0);
        boolean other = false;
        reader.deferPageChecks(); // each record checked by the thread that writes it
        try (PageWriters writers = new PageWriters()) {
            while (true) {
                ImageReader.Record r = reader.next();
                if (r == null) {
                    writers.await();
                    return;
                }
                if (r.type() == RecordType.INDEX || r.type() == RecordType.END || r.type() == RecordType.LAZY) {
                    continue;
                }
                current = pagesOf(r, current);
                if (r.type() == RecordType.PAGES) {
                    other = !other;
                    if (other && reader.stays(r)) {
                        Transplant t = current;
                        writers.submit(() -> t.fill(r));
                    } else {
                        current.fill(r);
                    }
                    options.progress().update(reader.offset(), -1);
                }
            }
        }
    }
}
