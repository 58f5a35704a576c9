package io.telefork.restore;

import io.telefork.engine.EngineException;
import io.telefork.engine.EngineException.Reason;
import io.telefork.engine.RestoreOptions;
import io.telefork.engine.StepClock;
import io.telefork.image.Credentials;
import io.telefork.image.FdEntry;
import io.telefork.image.FileId;
import io.telefork.image.Format;
import io.telefork.image.ImageHead;
import io.telefork.image.ImageReader;
import io.telefork.image.MemoryArea;
import io.telefork.image.ProcessInfo;
import io.telefork.image.ProcessTree;
import io.telefork.image.RecordType;
import io.telefork.image.Regs;
import io.telefork.image.SignalState;
import io.telefork.image.SocketAddress;
import io.telefork.image.ThreadState;
import io.telefork.proc.FileIds;
import io.telefork.proc.ProcFs;
import io.telefork.sys.CallBatch;
import io.telefork.sys.Kernel;
import io.telefork.sys.Ptrace;
import io.telefork.sys.Remote;
import io.telefork.sys.Sys;
import io.telefork.sys.SysException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns a seized, interrupted vessel into one process of an image, in three parts that the restore of a
 * tree runs for every process before the next part: {@link #prepare()} (steps 1-4) only looks and
 * prepares (a failure there leaves the vessel as it was), {@link #build()} (steps 5-7) replaces the
 * vessel's memory, after which a failure can only kill it, which the caller does; then the pages arrive
 * ({@link #fill}) and {@link #complete()} (steps 9-15) sets everything else. Descriptors and shared memory
 * that several processes of a tree hold are made once and taken by the others through
 * {@link SharedObjects}. Runs on the tracer thread.
 */
final class Transplant {
    private static final long TASK_SIZE = 0x7ffffffff000L;
    /** CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM */
    private static final long CLONE_THREAD_FLAGS = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000;
    private static final int CLONE_ARGS_SIZE = 88;
    private static final int SYS_EPOLL_CTL = 233;
    private static final int SYS_DUP = 32;
    private static final int SYS_PIDFD_OPEN = 434;
    private static final int SYS_PIDFD_GETFD = 438;
    private static final int SIGCHLD = 17;
    private static final int SYS_SETITIMER = 38;
    private static final int MADV_DONTFORK = 10;
    private static final int MADV_HUGEPAGE = 14;
    private static final int MADV_NOHUGEPAGE = 15;
    private static final int MADV_DONTDUMP = 16;
    private static final int MADV_WIPEONFORK = 18;
    private static final int SYS_RT_SIGQUEUEINFO = 129;
    private static final int RSEQ_FLAG_UNREGISTER = 1;
    private static final int SS_ONSTACK = 1;
    private static final int SS_DISABLE = 2;
    private static final int XSTATE_BV = 512;
    /** ptrace puts XCR0 in the first word of sw_reserved (USER_XSTATE_XCR0_WORD). */
    private static final int XFEATURES_SW = 464;

    private final Ptrace ptrace;
    private final int vessel;
    private final ImageHead head;
    private final ProcessTree tree;
    private final SharedObjects shared;
    private final RestoreOptions options;
    private final ProcFs proc;
    private PageFiller filler;
    private String lazyRefusal;
    /** The vessel's own mappings, its vDSO block among them, and the image's vDSO block (steps 2-6). */
    private List<ProcFs.Mapping> own;
    private List<ProcFs.Mapping> special;
    private List<MemoryArea> imageSpecial;
    private StepClock clock;
    private Credentials vesselCreds;
    /** The signals the vessel handles or ignores (a shell's background job ignores SIGINT and SIGQUIT). */
    private long vesselDispositions;
    private Remote remote;
    private long savedMask;
    private boolean pointOfNoReturn;
    /** The vessel's {@link WorkArea} (steps 4-15): its first page is the scratch page, then a call batch area. */
    private long scratch;
    private CallBatch.Area batchArea;
    /** Per file path and access mode, the vessel fd it was opened on (at or above {@link #fdBase}). */
    private final Map<String, Integer> opened = new LinkedHashMap<>();
    private final Map<Integer, Integer> fdTemps = new HashMap<>();
    private int fdBase;
    private int nextFd;
    /** Pages written, by up to two threads at once (see {@link PageWriters}). */
    private final java.util.concurrent.atomic.AtomicLong memoryBytes = new java.util.concurrent.atomic.AtomicLong();
    /** Per image thread, in image order: the fitted XSAVE area, its TID here, its injector. */
    private final List<byte[]> xstates = new java.util.ArrayList<>();
    private final List<Integer> threadIds = new java.util.ArrayList<>();
    private final List<Remote> threadRemotes = new java.util.ArrayList<>();
    private final TaskIds ids;
    private GhostFiles ghosts;

    Transplant(Ptrace ptrace, int vessel, ImageHead head, ProcessTree tree, SharedObjects shared,
               RestoreOptions options, ProcFs proc, TaskIds ids) {
        this.ptrace = ptrace;
        this.vessel = vessel;
        this.head = head;
        this.tree = tree;
        this.shared = shared;
        this.options = options;
        this.proc = proc;
        this.ids = ids;
    }

    boolean pastPointOfNoReturn() {
        return pointOfNoReturn;
    }

    /** The restored process's threads, the leader first (to detach them all). */
    List<Integer> threadIds() {
        return threadIds.isEmpty() ? List.of(vessel) : List.copyOf(threadIds);
    }

    long memoryBytes() {
        return memoryBytes.get();
    }

    /** Why this process cannot be filled lazily (step 4), or null. */
    String lazyRefusal() {
        return options.lazy() ? lazyRefusal : null;
    }

    /** Lets go of what this restorer holds of a vessel that is being killed. */
    void abandon() {
        if (filler != null) {
            filler.close();
        }
    }

    /** Undoes steps 1-4 on a vessel that is to live on as it was (only before the point of no return). */
    void release() throws SysException {
        if (pointOfNoReturn) {
            throw new IllegalStateException("the vessel's memory is gone; it can only be killed");
        }
        if (filler != null) {
            filler.close();
        }
        if (remote != null) {
            closeTemps();
            if (scratch != 0) {
                remote.raw(Sys.SYS_MUNMAP, scratch, WorkArea.BYTES);
            }
            remote.restoreRegisters();
            ptrace.setSigmask(vessel, savedMask);
        }
        ptrace.detach(vessel, 0);
    }

    int vessel() {
        return vessel;
    }

    ImageHead head() {
        return head;
    }

    /** Steps 1-4: look at the vessel, check, open files and build descriptors at temporary numbers. */
    void prepare() throws Exception {
        clock = new StepClock("restore into " + vessel);
        // 1. Block the vessel's signals while it is worked on.
        savedMask = ptrace.getSigmask(vessel);
        ptrace.setSigmask(vessel, ~0L);

        clock.lap("step 1");
        // 2. Look at the vessel: its vDSO block, which survives the transplant and holds our syscall gadget.
        own = proc.mappings(vessel);
        special = own.stream().filter(m -> isVdsoBlock(m.path())).toList();
        ProcFs.Mapping vdso = special.stream().filter(m -> m.path().equals("[vdso]")).findFirst()
                .orElseThrow(() -> new EngineException(Reason.INCOMPATIBLE, "the vessel has no vDSO"));
        remote = Remote.stepping(ptrace, vessel, Remote.findGadget(vessel, vdso.start(), vdso.end()));

        clock.lap("step 2");
        // 3. Check that this machine and vessel can take the image.
        imageSpecial = head.areas().stream()
                .filter(a -> a.kind() == MemoryArea.Kind.VDSO || a.kind() == MemoryArea.Kind.VVAR).toList();
        checkVdsoLayout(special, imageSpecial);
        byte[] ownXState = ptrace.getXState(vessel);
        for (ThreadState t : head.threads()) {
            xstates.add(fitXState(ownXState, t.xstate()));
        }
        checkThreadIds();
        Map<String, String> status = proc.status(vessel);
        vesselCreds = Credentials.fromStatus(status);
        vesselDispositions = Long.parseUnsignedLong(status.getOrDefault("SigCgt", "0"), 16)
                | Long.parseUnsignedLong(status.getOrDefault("SigIgn", "0"), 16);
        CredentialSetter.check(head.process().credentials(), vesselCreds);
        for (MemoryArea a : head.areas()) {
            if (a.kind() != MemoryArea.Kind.VSYSCALL && Long.compareUnsigned(a.end(), TASK_SIZE) > 0) {
                throw new EngineException(Reason.INCOMPATIBLE, String.format(
                        "memory area %x-%x lies above this machine's user address space", a.start(), a.end()));
            }
        }

        clock.lap("step 3");
        // 4. Prepare inside the vessel everything that can fail: deleted files and memfds re-created with
        //    their content (which follows AREAS in the image), files opened, working directory.
        mapWorkArea();
        ghosts = new GhostFiles(remote, vessel, proc, scratch, this::adopt, head.ghosts());
        openFiles();
        prepareSharedMemory();
        String cwd = head.process().cwd();
        if (remote.raw(Sys.SYS_CHDIR, putString(cwd)) < 0) {
            throw new EngineException(Reason.FILE_CHANGED, "the working directory " + cwd + " is gone");
        }
        // The userfaultfd belongs to the memory, not to what is mapped in it: made now, a refusal leaves the vessel as it was.
        filler = new PageFiller(remote, vessel);
        if (options.lazy() || options.fill().userfaultfd(PageFiller.eagerBytes(head.areas()))) {
            lazyRefusal = filler.open(scratch, options.lazy());
        }

        clock.lap("step 4");
    }

    /** Steps 5-7: the vessel's memory replaced by the image's areas, ready for pages. */
    void build() throws Exception {
        // 5. Point of no return: unregister the vessel's rseq (its area goes with the memory), then unmap all
        //    its memory but the vDSO block and the work area.
        pointOfNoReturn = true;
        long[] rseq = ptrace.getRseq(vessel);
        CallBatch unmaps = batch();
        if (rseq[0] != 0) {
            unmaps.add("rseq unregister", Sys.SYS_RSEQ, rseq[0], rseq[1], RSEQ_FLAG_UNREGISTER, rseq[2]);
        }
        for (ProcFs.Mapping m : own) {
            if (!isVdsoBlock(m.path()) && !m.path().equals("[vsyscall]")) {
                unmaps.add(String.format("munmap %x-%x", m.start(), m.end()), Sys.SYS_MUNMAP, m.start(),
                        m.end() - m.start());
            }
        }
        unmaps.run();

        clock.lap("step 5");
        // 6. Move the vDSO block to where the image had it.
        moveVdsoBlock(special, imageSpecial);

        clock.lap("step 6");
        // 7. Create every area, writable for now where pages are to be written into it.
        CallBatch creates = batch();
        Map<Integer, MemoryArea> mmaps = new LinkedHashMap<>();
        for (MemoryArea a : head.areas()) {
            createArea(a, creates, mmaps);
        }
        long[] placed = creates.run();
        for (Map.Entry<Integer, MemoryArea> e : mmaps.entrySet()) {
            if (placed[e.getKey()] != e.getValue().start()) {
                throw new SysException(String.format("mmap placed %x-%x at %x", e.getValue().start(),
                        e.getValue().end(), placed[e.getKey()]));
            }
        }

        clock.lap("step 7");
        // 8. Pages, as they arrive (fill); the image's digest is verified at its END record.
        filler.register(head.areas());
    }

    /** Whether the pages at this image address are left to the lazy phase (not written before the process runs). */
    boolean lazy(long address) {
        return filler.lazy(address);
    }

    /** The areas filled lazily, as {start, length} pairs. */
    List<long[]> lazyAreas() {
        return filler.lazyAreas();
    }

    /** The restorer's userfaultfd of the process, for the lazy phase (taken once, by the caller, who closes it). */
    int lazyUffd() {
        return filler.handOver();
    }

    /** Steps 9-15, once every page has arrived (or, lazily, is served): everything but memory, up to the registers. */
    void complete() throws Exception {
        String how = filler.lazy() ? "" : filler.copies() ? " (UFFDIO_COPY)" : " (process_vm_writev)";
        if (!filler.lazy()) {
            filler.close();
        }
        clock.lap("step 8" + how);
        // 9. Final protections.
        CallBatch protects = batch();
        for (MemoryArea a : head.areas()) {
            if (isCreated(a) && initialProt(a) != a.prot()) {
                protects.add(String.format("mprotect %x-%x", a.start(), a.end()), Sys.SYS_MPROTECT, a.start(),
                        a.length(), a.prot());
            }
        }

        // 10. The mm fields: code, data, brk, stack, arguments, environment, auxv, executable (in the
        //     same batch).
        ByteBuffer mm = mmMap();
        writeScratch(mm, 0);
        int setMm = protects.addRaw(Sys.SYS_PRCTL, Sys.PR_SET_MM, Sys.PR_SET_MM_MAP, scratch, 104, 0);
        setMm(mm, protects.run()[setMm]);

        clock.lap("steps 9-10");
        // 11. Threads: the leader is the vessel itself; the others are cloned into it, stopped at birth,
        //     with their own IDs where they are free. Then each thread's attributes.
        createThreads();
        for (int i = 0; i < head.threads().size(); i++) {
            setThreadAttributes(threadRemotes.get(i), head.threads().get(i));
        }

        clock.lap("step 11");
        // 12. Signal dispositions, then the signals that were pending.
        setSignals();

        clock.lap("step 12");
        // 13. Process attributes: name, umask, resource limits (lowered only: raising needs CAP_SYS_RESOURCE).
        CallBatch attributes = batch();
        byte[] comm = head.process().comm().getBytes(StandardCharsets.UTF_8);
        ByteBuffer name = scratchBuffer(16).put(comm, 0, Math.min(comm.length, 15)).put((byte) 0).flip();
        attributes.add("prctl(PR_SET_NAME)", Sys.SYS_PRCTL, Sys.PR_SET_NAME, attributes.put(name));
        attributes.add("umask", Sys.SYS_UMASK, head.process().umask());
        setRlimits(attributes);
        int capset = CredentialSetter.apply(attributes, head.process().credentials(), vesselCreds);
        CredentialSetter.checkCapset(attributes.run()[capset], head.process().credentials(), vesselCreds);

        clock.lap("step 13");
        // 14. File descriptors at their numbers; the temporary ones closed.
        placeFds();
        registerEpolls();

        clock.lap("step 14");
        // 15. Interval timers (they run from here), CPU state last, then the real signal masks.
        setItimers();
        remote.call("munmap work area", Sys.SYS_MUNMAP, scratch, WorkArea.BYTES);
        scratch = 0;
        for (int i = 0; i < head.threads().size(); i++) {
            ThreadState t = head.threads().get(i);
            int tid = threadIds.get(i);
            ptrace.setXState(tid, xstates.get(i));
            ptrace.setRegs(tid, restartedRegisters(t.regs()));
            ptrace.setSigmask(tid, t.sigmask());
        }
        clock.lap("step 15");
    }

    /** After the last word before it runs: its TCP connections leave repair mode (the original is gone by now). */
    void leaveTcpRepair() throws EngineException {
        TcpRepair.release(vessel, head.fds());
    }

    /**
     * Threads keep their IDs (glibc caches them: pthread_kill, joins and mutex owners depend on them),
     * the leader's too: the vessel must have the process's PID in its PID namespace, and every other ID
     * be free there. Checked before the point of no return so that a taken ID fails cleanly.
     */
    private void checkThreadIds() throws IOException, EngineException {
        if (head.threads().size() == 1) {
            return;
        }
        int pid = head.process().pid();
        int vesselPid = ids.inNamespace(vessel);
        if (vesselPid != pid) {
            // New IDs would leave glibc's cached ones dangling: pthread_kill and joins would hang or misfire.
            throw new EngineException(Reason.INCOMPATIBLE, "the process has " + head.threads().size()
                    + " threads, which must keep their IDs, but its PID " + pid + " is "
                    + (vessel == vesselPid ? "in use here (is the original still running?)" : "not the vessel's: "
                    + "the vessel is PID " + vesselPid + " in its PID namespace"));
        }
        for (int i = 1; i < head.threads().size(); i++) {
            int tid = head.threads().get(i).tid();
            if (!ids.free(tid)) {
                throw new EngineException(Reason.INCOMPATIBLE, "thread ID " + tid + " of the process is in use by "
                        + "another process in the vessel's PID namespace; cannot restore its threads with their IDs");
            }
        }
    }

    private void createThreads() throws Exception {
        threadIds.add(vessel);
        threadRemotes.add(remote);
        if (head.threads().size() == 1) {
            return;
        }
        ptrace.setOptions(vessel, Ptrace.O_EXITKILL | Ptrace.O_TRACECLONE);
        try {
            for (int i = 1; i < head.threads().size(); i++) {
                int wanted = head.threads().get(i).tid();
                long[] child;
                do {
                    ByteBuffer args = scratchBuffer(CLONE_ARGS_SIZE + 8);
                    args.putLong(0, CLONE_THREAD_FLAGS);
                    ids.prepare(args, scratch + CLONE_ARGS_SIZE, wanted);
                    writeScratch(args, 0);
                    child = remote.clone3Traced(scratch, CLONE_ARGS_SIZE);
                } while (child[0] < 0 && ids.retry(child[1]));
                if (child[0] < 0) {
                    throw new EngineException(Reason.INCOMPATIBLE, "cannot create thread " + wanted + ": "
                            + Sys.errno(child[1]));
                }
                int tid = (int) child[0];
                Ptrace.Status st = ptrace.waitFor(tid);
                if (!st.stopped()) {
                    throw new SysException("new thread " + tid + " " + st);
                }
                ids.check(tid, wanted, "thread " + wanted + " of process " + head.process().pid());
                ptrace.setSigmask(tid, ~0L);
                threadIds.add(tid);
                threadRemotes.add(Remote.stepping(ptrace, tid, remote.gadget()));
            }
        } finally {
            ptrace.setOptions(vessel, Ptrace.O_EXITKILL);
            remote.restoreRegisters();
        }
    }

    private void setThreadAttributes(Remote r, ThreadState t) throws Exception {
        CallBatch calls = new CallBatch(r, batchArea);
        calls.add("set_tid_address", Sys.SYS_SET_TID_ADDRESS, t.clearTid());
        if (t.robustList()[0] != 0) {
            calls.add("set_robust_list", Sys.SYS_SET_ROBUST_LIST, t.robustList()[0], t.robustList()[1]);
        }
        if (t.rseq()[0] != 0) {
            calls.add("rseq register", Sys.SYS_RSEQ, t.rseq()[0], t.rseq()[1], 0, t.rseq()[2]);
        }
        long[] ss = t.altstack();
        if ((ss[1] & SS_DISABLE) == 0) {
            ByteBuffer b = scratchBuffer(24);
            b.putLong(0, ss[0]).putInt(8, (int) (ss[1] & ~SS_ONSTACK)).putLong(16, ss[2]);
            calls.add("sigaltstack", Sys.SYS_SIGALTSTACK, calls.put(b), 0);
        }
        calls.run();
    }

    private static boolean isVdsoBlock(String name) {
        return name.equals("[vdso]") || name.equals("[vvar]") || name.equals("[vvar_vclock]");
    }

    private void checkVdsoLayout(List<ProcFs.Mapping> vessel, List<MemoryArea> image) throws EngineException {
        boolean same = vessel.size() == image.size();
        for (int i = 0; same && i < vessel.size(); i++) {
            same = vessel.get(i).path().equals(image.get(i).name())
                    && vessel.get(i).end() - vessel.get(i).start() == image.get(i).length();
        }
        if (!same) {
            throw new EngineException(Reason.INCOMPATIBLE, "the image's vDSO/vvar layout differs from this kernel's "
                    + "(dumped on kernel " + head.process().kernel() + ")");
        }
    }

    /** The image's XSAVE area, checked against and fitted to what this CPU and kernel enable. */
    private static byte[] fitXState(byte[] own, byte[] image) throws EngineException {
        if (image.length < XSTATE_BV + 64) {
            throw new EngineException(Reason.BAD_IMAGE, "the image's XSAVE area is too short");
        }
        ByteBuffer ownBuf = ByteBuffer.wrap(own).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer img = ByteBuffer.wrap(image.clone()).order(ByteOrder.LITTLE_ENDIAN);
        long enabled = ownBuf.getLong(XFEATURES_SW);
        long used = img.getLong(XSTATE_BV);
        if ((used & ~enabled) != 0 || image.length > own.length) {
            throw new EngineException(Reason.INCOMPATIBLE, String.format(
                    "the image uses CPU state components 0x%x that this machine does not enable (0x%x)", used, enabled));
        }
        img.putLong(XSTATE_BV, used & enabled);
        img.putLong(XSTATE_BV + 8, 0); // xcomp_bv: the kernel takes only the standard format
        return img.array();
    }

    private void openFiles() throws Exception {
        int maxFd = 2;
        for (FdEntry f : head.fds()) {
            maxFd = Math.max(maxFd, f.fd());
        }
        fdBase = maxFd + 1;
        nextFd = fdBase;
        ghosts.create(head.ghostData(), head.areas());
        Map<String, OpenedFile> mapped = new LinkedHashMap<>();
        for (MemoryArea a : head.areas()) {
            if (a.kind() == MemoryArea.Kind.FILE_PRIVATE || a.kind() == MemoryArea.Kind.FILE_SHARED) {
                int mode = a.shared() && a.hasVmFlag("mw") ? Sys.O_RDWR : Sys.O_RDONLY;
                mapped.putIfAbsent(mode + ":" + a.name(), new OpenedFile(a.name(), mode, a.file(), "mapped file"));
            }
        }
        if (ghosts.holds(head.process().exe())) {
            opened.put(Sys.O_RDONLY + ":" + head.process().exePath(),
                    ghosts.forExecutable(head.process().exe(), head.process().exePath()));
        } else {
            mapped.putIfAbsent(Sys.O_RDONLY + ":" + head.process().exePath(), new OpenedFile(
                    head.process().exePath(), Sys.O_RDONLY, head.process().exe(), "executable"));
        }
        openAll(mapped);
        FdFactory factory = new FdFactory();
        for (FdEntry f : head.fds()) {
            if (f.sameAs() >= 0 && fdTemps.containsKey(f.sameAs())) {
                fdTemps.put(f.fd(), fdTemps.get(f.sameAs()));
                continue;
            }
            ProcessTree.Share share = tree.share(head.process().pid(), f.fd());
            if (share != null) {
                // Another process of the tree made this open file description: take it from there.
                fdTemps.put(f.fd(), take(shared.descriptor(share.ownerPid(), share.ownerFd()), "fd " + f.fd()));
                continue;
            }
            switch (f.kind()) {
                case INHERITED -> { }
                case GHOST -> fdTemps.put(f.fd(), ghosts.open(f));
                case INOTIFY -> fdTemps.put(f.fd(), new Inotifies(remote, vessel, scratch, this::adopt).create(f));
                case FILE, DIRECTORY, CHAR_DEVICE -> {
                    int flags = f.flags() & ~(Sys.O_CREAT | Sys.O_EXCL | Sys.O_TRUNC);
                    int fd = open(f.path(), flags, "fd " + f.fd());
                    fdTemps.put(f.fd(), fd);
                    if (f.kind() == FdEntry.Kind.FILE) {
                        boolean writeOnly = (f.flags() & Sys.O_ACCMODE) == Sys.O_WRONLY;
                        checkSame(f.path(), fd, f.file(), "fd " + f.fd(), writeOnly);
                    }
                }
                default -> fdTemps.put(f.fd(), factory.create(f));
            }
        }
        factory.fillFifos();
        for (Map.Entry<Integer, Integer> t : fdTemps.entrySet()) {
            shared.putDescriptor(head.process().pid(), t.getKey(), new SharedObjects.Held(vessel, t.getValue()));
        }
    }

    /** Per shared memory object (see {@link SharedObjects#sharedMemory}): a descriptor of it here. */
    private final Map<String, Integer> sharedMemoryFds = new HashMap<>();

    /**
     * Memory several processes of the tree map together is made once, by the first, as a shared anonymous
     * mapping it opens through /proc/self/map_files and unmaps again; the descriptor keeps the object, and
     * every process maps it from there in step 7. Its name stays "/dev/zero (deleted)", as the original's.
     */
    private void prepareSharedMemory() throws Exception {
        for (MemoryArea a : head.areas()) {
            String key = shared.sharedMemory(a);
            if (key == null || sharedMemoryFds.containsKey(key)) {
                continue;
            }
            SharedObjects.Held made = shared.memory(key);
            if (made != null) {
                sharedMemoryFds.put(key, take(made, "shared memory at " + Long.toHexString(a.start())));
                continue;
            }
            long[] extent = shared.extent(key);
            long size = extent[1] - extent[0];
            long at = remote.call("mmap shared memory", Sys.SYS_MMAP, 0, size, Sys.PROT_READ | Sys.PROT_WRITE,
                    Sys.MAP_SHARED | Sys.MAP_ANONYMOUS, -1, 0);
            long fd = remote.raw(Sys.SYS_OPENAT, -100, putString(String.format("/proc/self/map_files/%x-%x", at,
                    at + size)), Sys.O_RDWR | Sys.O_CLOEXEC, 0);
            remote.call("munmap shared memory", Sys.SYS_MUNMAP, at, size);
            if (fd < 0) {
                throw new EngineException(Reason.INCOMPATIBLE, "cannot share memory between the processes of the "
                        + "tree: opening /proc/self/map_files in the vessel failed: " + Sys.errno(fd));
            }
            int here = adopt(fd);
            sharedMemoryFds.put(key, here);
            shared.putMemory(key, new SharedObjects.Held(vessel, here));
        }
    }

    /**
     * A copy here of a descriptor another vessel of the tree holds (pidfd_getfd): the same open file
     * description, so offsets, status flags and pipe and socket ends are shared as they were.
     */
    private int take(SharedObjects.Held held, String what) throws Exception {
        if (held == null) {
            throw new EngineException(Reason.BAD_IMAGE, "process " + head.process().pid() + " shares " + what
                    + " with a descriptor the image does not hold");
        }
        if (held.vessel() == vessel) {
            return adopt(remote.call("dup", SYS_DUP, held.fd()));
        }
        // The vessel's PID as the injected call sees it: in the vessels' PID namespace.
        long pidfd = remote.call("pidfd_open(" + held.vessel() + ")", SYS_PIDFD_OPEN,
                ids.inNamespace(held.vessel()), 0);
        long fd;
        try {
            fd = remote.call("pidfd_getfd(" + held.vessel() + ", " + held.fd() + ") for " + what, SYS_PIDFD_GETFD,
                    pidfd, held.fd(), 0);
        } finally {
            // Closed before the copy moves to a temporary number, which the pidfd may be sitting on.
            remote.raw(Sys.SYS_CLOSE, pidfd);
        }
        return adopt(fd);
    }

    /** Builds pipes, eventfds, timerfds, signalfds and epolls inside the vessel, at temporary numbers. */
    private final class FdFactory {
        private static final int SYS_PIPE2 = 293;
        private static final int SYS_EVENTFD2 = 290;
        private static final int SYS_TIMERFD_CREATE = 283;
        private static final int SYS_TIMERFD_SETTIME = 286;
        private static final int SYS_SIGNALFD4 = 289;
        private static final int SYS_EPOLL_CREATE1 = 291;
        private static final int SYS_IOCTL = 16;
        private static final int SYS_SOCKET = 41;
        private static final int SYS_BIND = 49;
        private static final int SYS_LISTEN = 50;
        private static final int SYS_SOCKETPAIR = 53;
        private static final int SYS_SETSOCKOPT = 54;
        private static final int SYS_CONNECT = 42;
        private static final int SYS_UNLINK = 87;
        private static final int SYS_NEWFSTATAT = 262;
        private static final int AF_UNIX = 1;
        private static final int SOCK_DGRAM = 2;
        /** A unix sockaddr with nothing after sun_family: an unnamed socket. */
        private static final int UNNAMED = 2;
        private static final int EADDRINUSE = 98;
        private static final int ECONNREFUSED = 111;
        private static final int AT_SYMLINK_NOFOLLOW = 0x100;
        /** Where in the scratch page a struct stat goes, and st_mode in it (x86_64). */
        private static final int STAT_AT = 512;
        private static final int ST_MODE = 24;
        private static final int S_IFMT = 0170000;
        private static final int S_IFSOCK = 0140000;
        private static final int F_SETPIPE_SZ = 1031;
        private static final int F_GETPIPE_SZ = 1032;
        private static final int FIONREAD = 0x541B;
        private static final int O_NONBLOCK = 04000;
        private static final long TFD_IOC_SET_TICKS = 0x40085400L;
        /** Per pipe (by its pipe:[inode] name): its read and write ends here. */
        private final Map<String, int[]> pipes = new HashMap<>();

        int create(FdEntry f) throws Exception {
            long[] p = f.params();
            int nonblock = f.flags() & O_NONBLOCK;
            return switch (f.kind()) {
                case PIPE -> pipeEnd(f);
                case FIFO -> fifo(f);
                case EVENTFD -> {
                    int fd = adopt(remote.call("eventfd2", SYS_EVENTFD2, 0, (p[1] != 0 ? 1 : 0) | nonblock | Sys.O_CLOEXEC));
                    if (p[0] != 0) {
                        ByteBuffer b = scratchBuffer(8);
                        b.putLong(0, p[0]);
                        writeScratch(b, 0);
                        remote.call("write eventfd", Sys.SYS_WRITE, fd, scratch, 8);
                    }
                    yield fd;
                }
                case TIMERFD -> {
                    int fd = adopt(remote.call("timerfd_create", SYS_TIMERFD_CREATE, p[0], nonblock | Sys.O_CLOEXEC));
                    if (p[3] != 0 || p[4] != 0) {
                        long[] left = lessTimeAway(p[3], p[4], 1_000_000_000L);
                        ByteBuffer b = scratchBuffer(32);
                        b.putLong(0, p[5]).putLong(8, p[6]).putLong(16, left[0]).putLong(24, left[1]);
                        writeScratch(b, 0);
                        remote.call("timerfd_settime", SYS_TIMERFD_SETTIME, fd, 0, scratch, 0);
                    }
                    if (p[1] != 0) {
                        ByteBuffer b = scratchBuffer(8);
                        b.putLong(0, p[1]);
                        writeScratch(b, 0);
                        remote.call("ioctl(TFD_IOC_SET_TICKS)", SYS_IOCTL, fd, TFD_IOC_SET_TICKS, scratch);
                    }
                    yield fd;
                }
                case SIGNALFD -> {
                    ByteBuffer b = scratchBuffer(8);
                    b.putLong(0, p[0]);
                    writeScratch(b, 0);
                    yield adopt(remote.call("signalfd4", SYS_SIGNALFD4, -1, scratch, 8, nonblock | Sys.O_CLOEXEC));
                }
                case EPOLL -> adopt(remote.call("epoll_create1", SYS_EPOLL_CREATE1, Sys.O_CLOEXEC));
                case SOCKET -> socket(f, nonblock);
                case TCP_ESTABLISHED -> {
                    long[] s = f.params();
                    int fd = adopt(remote.call("socket", SYS_SOCKET, s[0], s[1] | nonblock | Sys.O_CLOEXEC, s[2]));
                    TcpRepair.rebuild(vessel, fd, f);
                    yield fd;
                }
                case UNIX_SOCKET -> unixSocket(f, nonblock);
                case UNIX_PAIR -> unixPairEnd(f);
                case SOCKET_CLOSED -> {
                    // A connection cannot follow the process (without TCP repair): an end of file in its place.
                    remote.call("socketpair", SYS_SOCKETPAIR, 1, 1 | nonblock | Sys.O_CLOEXEC, 0, scratch);
                    ByteBuffer b = scratchBuffer(8);
                    Kernel.readMemory(vessel, scratch, b, 8);
                    remote.call("close", Sys.SYS_CLOSE, b.getInt(4));
                    yield adopt(b.getInt(0));
                }
                default -> throw new IllegalArgumentException(f.kind().name());
            };
        }

        /** Per socket inode of a unix pair: its end here. */
        private final Map<Long, Integer> pairEnds = new HashMap<>();

        private int unixPairEnd(FdEntry f) throws Exception {
            long[] p = f.params();
            String key = "socket-pair:" + Math.min(p[1], p[2]);
            SharedObjects.Held[] elsewhere = shared.ends(key);
            if (!pairEnds.containsKey(p[1]) && elsewhere != null) {
                // Made by another process of the tree: both ends from there, in the order they were made.
                long first = Math.min(p[1], p[2]);
                pairEnds.put(first, take(elsewhere[0], "unix socket " + f.path()));
                pairEnds.put(p[1] + p[2] - first, take(elsewhere[1], "unix socket " + f.path()));
            } else if (!pairEnds.containsKey(p[1])) {
                remote.call("socketpair", SYS_SOCKETPAIR, 1, p[0] | Sys.O_CLOEXEC, 0, scratch);
                ByteBuffer b = scratchBuffer(8);
                Kernel.readMemory(vessel, scratch, b, 8);
                long first = Math.min(p[1], p[2]);
                int[] made = adoptPair(b.getInt(0), b.getInt(4));
                pairEnds.put(first, made[0]);
                pairEnds.put(p[1] + p[2] - first, made[1]);
                shared.putEnds(key, new SharedObjects.Held(vessel, pairEnds.get(first)),
                        new SharedObjects.Held(vessel, pairEnds.get(p[1] + p[2] - first)));
            }
            int end = pairEnds.get(p[1]);
            // What was queued for this end is written into the other, where it waits to be read here.
            writeAll(pairEnds.get(p[2]), f.data(), "unix socket " + f.path());
            remote.call("fcntl(F_SETFL)", Sys.SYS_FCNTL, end, Sys.F_SETFL, f.flags() & ~Sys.O_ACCMODE);
            return end;
        }

        private void writeAll(int fd, byte[] content, String what) throws Exception {
            for (int off = 0; off < content.length; ) {
                int n = Math.min(content.length - off, (int) Sys.PAGE);
                ByteBuffer b = scratchBuffer(n);
                b.put(content, off, n).flip();
                writeScratch(b, 0);
                off += (int) remote.call("write into " + what, Sys.SYS_WRITE, fd, scratch, n);
            }
        }

        private int socket(FdEntry f, int nonblock) throws Exception {
            long[] p = f.params();
            int fd = adopt(remote.call("socket", SYS_SOCKET, p[0], p[1] | nonblock | Sys.O_CLOEXEC, p[2]));
            long[][] options = {{1, 2, p[4]}, {1, 15, p[5]}, {41, 26, p[6]}, {6, 1, p[7]}, {1, 9, p[8]}};
            for (long[] o : options) {
                if (o[2] > 0 && !(o[0] == 41 && p[0] != 10) && !(o[0] == 6 && p[1] != 1)) {
                    ByteBuffer v = scratchBuffer(4);
                    v.putInt(0, (int) o[2]);
                    writeScratch(v, 0);
                    remote.call("setsockopt", SYS_SETSOCKOPT, fd, o[0], o[1], scratch, 4);
                }
            }
            byte[] local = java.util.Arrays.copyOf(f.data(), (int) p[9]);
            int port = local.length >= 4 ? ((local[2] & 0xff) << 8) | (local[3] & 0xff) : 0;
            if (port != 0) {
                ByteBuffer a = scratchBuffer(local.length);
                a.put(local).flip();
                writeScratch(a, 0);
                long r = remote.raw(SYS_BIND, fd, scratch, local.length);
                if (r < 0) {
                    throw new EngineException(Reason.INCOMPATIBLE, "cannot bind the socket of fd " + f.fd() + " to port "
                            + port + " again: " + Sys.errno(r) + (r == -98 ? " (is the original still running?)" : ""));
                }
            }
            if (p[3] == 1) {
                remote.call("listen", SYS_LISTEN, fd, 4096);
            }
            byte[] peer = java.util.Arrays.copyOfRange(f.data(), (int) p[9], f.data().length);
            if (p[1] == SOCK_DGRAM && peer.length > 0) {
                connectTo(fd, peer, f);
            }
            return fd;
        }

        /** A unix socket bound to its name again (listening, or connected to its named peer). */
        private int unixSocket(FdEntry f, int nonblock) throws Exception {
            long[] p = f.params();
            byte[] local = java.util.Arrays.copyOf(f.data(), (int) p[2]);
            byte[] peer = java.util.Arrays.copyOfRange(f.data(), (int) p[2], f.data().length);
            int fd = adopt(remote.call("socket", SYS_SOCKET, AF_UNIX, p[0] | nonblock | Sys.O_CLOEXEC, 0));
            if (local.length > UNNAMED) {
                bindUnix(fd, (int) p[0], local, f);
            }
            if (p[1] == 1) {
                remote.call("listen", SYS_LISTEN, fd, 4096);
            }
            if (peer.length > UNNAMED) {
                connectTo(fd, peer, f);
            }
            return fd;
        }

        /**
         * Binds to the socket's name. A path still holding the dumped socket's file (a socket file outlives
         * its socket) is unlinked first, but only if it is a socket file that nothing listens on any more.
         */
        private void bindUnix(int fd, int type, byte[] local, FdEntry f) throws Exception {
            boolean path = local[2] != 0;
            if (path && local[2] != '/') {
                // A relative name was bound relative to the working directory, which step 4 sets only later.
                String cwd = head.process().cwd();
                if (remote.raw(Sys.SYS_CHDIR, putString(cwd)) < 0) {
                    throw new EngineException(Reason.FILE_CHANGED, "the working directory " + cwd + " is gone");
                }
            }
            long r = remote.raw(SYS_BIND, fd, putSockaddr(local), local.length);
            if (r == -EADDRINUSE && path && staleSocketFile(type, local)) {
                remote.call("unlink stale socket file", SYS_UNLINK, scratch + 2);
                r = remote.raw(SYS_BIND, fd, putSockaddr(local), local.length);
            }
            if (r < 0) {
                throw new EngineException(Reason.INCOMPATIBLE, "cannot bind the unix socket of fd " + f.fd() + " to "
                        + SocketAddress.describe(local) + " again: " + Sys.errno(r)
                        + (r == -EADDRINUSE ? " (a live socket or another file is there)" : ""));
            }
        }

        /** The path is a socket file, and connecting to it is refused: no socket is bound to it any more. */
        private boolean staleSocketFile(int type, byte[] local) throws Exception {
            putSockaddr(local);
            if (remote.raw(SYS_NEWFSTATAT, -100, scratch + 2, scratch + STAT_AT, AT_SYMLINK_NOFOLLOW) < 0) {
                return false;
            }
            ByteBuffer st = scratchBuffer(4);
            Kernel.readMemory(vessel, scratch + STAT_AT + ST_MODE, st, 4);
            if ((st.getInt(0) & S_IFMT) != S_IFSOCK) {
                return false;
            }
            long probe = remote.call("socket", SYS_SOCKET, AF_UNIX, type | Sys.O_CLOEXEC, 0);
            try {
                return remote.raw(SYS_CONNECT, probe, scratch, local.length) == -ECONNREFUSED;
            } finally {
                remote.call("close", Sys.SYS_CLOSE, probe);
            }
        }

        private void connectTo(int fd, byte[] peer, FdEntry f) throws Exception {
            long r = remote.raw(SYS_CONNECT, fd, putSockaddr(peer), peer.length);
            if (r < 0) {
                throw new EngineException(Reason.INCOMPATIBLE, "cannot connect the socket of fd " + f.fd() + " to "
                        + SocketAddress.describe(peer) + " again: " + Sys.errno(r));
            }
        }

        /** Writes a sockaddr, NUL-terminated (a unix path in it is then a C string at +2), at the scratch page. */
        private long putSockaddr(byte[] sa) throws SysException {
            ByteBuffer a = scratchBuffer(sa.length + 1);
            a.put(sa).put((byte) 0).flip();
            writeScratch(a, 0);
            return scratch;
        }

        /**
         * A FIFO reopened by path. The first descriptor of the tree on it opens it O_RDWR too, which never
         * blocks; as long as that helper stays open (until its vessel's temporaries are closed, once every
         * vessel has opened its descriptors) the read-only and write-only opens do not block or fail either,
         * and closing it afterwards leaves the FIFO with the readers and writers it had.
         */
        private int fifo(FdEntry f) throws Exception {
            String key = fifoKey(f);
            if (shared.fifo(key) == null) {
                int helper = open(f.path(), Sys.O_RDWR | O_NONBLOCK, "FIFO of fd " + f.fd());
                FileId now = FileIds.stat(proc.dir(vessel).resolve("fd").resolve(Integer.toString(helper)));
                if ((now.mode() & S_IFMT) != FileId.S_IFIFO) {
                    throw new EngineException(Reason.FILE_CHANGED, f.path() + " (fd " + f.fd() + ") is no longer "
                            + "a FIFO");
                }
                // Best effort, as for pipes: a size above /proc/sys/fs/pipe-max-size is refused to the unprivileged.
                remote.raw(Sys.SYS_FCNTL, helper, F_SETPIPE_SZ, f.params()[0]);
                shared.putFifo(key, new SharedObjects.Held(vessel, helper));
            }
            // Non-blocking first: should the helper be gone after all, a write-only open fails (ENXIO) rather
            // than hang the restore.
            int flags = f.flags() & ~(Sys.O_CREAT | Sys.O_EXCL | Sys.O_TRUNC);
            int fd = open(f.path(), flags | O_NONBLOCK, "fd " + f.fd());
            FileId now = FileIds.stat(proc.dir(vessel).resolve("fd").resolve(Integer.toString(fd)));
            if ((now.mode() & S_IFMT) != FileId.S_IFIFO) {
                throw new EngineException(Reason.FILE_CHANGED, f.path() + " (fd " + f.fd() + ") is no longer a FIFO");
            }
            if ((flags & O_NONBLOCK) == 0) {
                remote.call("fcntl(F_SETFL)", Sys.SYS_FCNTL, fd, Sys.F_SETFL, flags & ~Sys.O_ACCMODE);
            }
            return fd;
        }

        /**
         * Writes each FIFO's buffered bytes, once, through its helper: only one descriptor of the tree on
         * it carries them, which may be one this process took from another (inherited across fork).
         */
        void fillFifos() throws Exception {
            for (FdEntry f : head.fds()) {
                if (f.kind() != FdEntry.Kind.FIFO || f.data().length == 0) {
                    continue;
                }
                SharedObjects.Held helper = shared.fifo(fifoKey(f));
                if (helper == null) {
                    throw new EngineException(Reason.BAD_IMAGE, "fd " + f.fd() + " of process "
                            + head.process().pid() + " holds the bytes of FIFO " + f.path()
                            + ", which no descriptor of the tree opens");
                }
                int here = helper.vessel() == vessel ? helper.fd() : take(helper, "FIFO " + f.path());
                if (f.data().length > remote.raw(Sys.SYS_FCNTL, here, F_GETPIPE_SZ)) {
                    throw new EngineException(Reason.INCOMPATIBLE, "FIFO " + f.path() + " held " + f.data().length
                            + " bytes, more than it can hold here (see /proc/sys/fs/pipe-max-size)");
                }
                // A process outside the tree that kept the FIFO open kept its bytes in it too: writing them
                // again would hand them out twice.
                ByteBuffer count = scratchBuffer(4);
                remote.call("ioctl(FIONREAD) on FIFO " + f.path(), SYS_IOCTL, here, FIONREAD, scratch);
                Kernel.readMemory(vessel, scratch, count, 4);
                if (count.getInt(0) != 0) {
                    throw new EngineException(Reason.FILE_CHANGED, "FIFO " + f.path() + " holds " + count.getInt(0)
                            + " bytes already (a process outside the tree has it open), besides the "
                            + f.data().length + " the image holds for it");
                }
                writeAll(here, f.data(), "FIFO " + f.path());
            }
        }

        private String fifoKey(FdEntry f) {
            return f.file().dev() + ":" + f.file().ino();
        }

        private int pipeEnd(FdEntry f) throws Exception {
            int[] ends = pipes.get(f.path());
            SharedObjects.Held[] elsewhere = shared.ends(f.path());
            if (ends == null && elsewhere != null) {
                // Made by another process of the tree, which held an end first: both ends from there.
                ends = new int[] {take(elsewhere[0], "pipe " + f.path()), take(elsewhere[1], "pipe " + f.path())};
                pipes.put(f.path(), ends);
            } else if (ends == null) {
                remote.call("pipe2", SYS_PIPE2, scratch, Sys.O_CLOEXEC);
                ByteBuffer b = scratchBuffer(8);
                Kernel.readMemory(vessel, scratch, b, 8);
                ends = adoptPair(b.getInt(0), b.getInt(4));
                pipes.put(f.path(), ends);
                shared.putEnds(f.path(), new SharedObjects.Held(vessel, ends[0]), new SharedObjects.Held(vessel, ends[1]));
                remote.raw(Sys.SYS_FCNTL, ends[1], F_SETPIPE_SZ, f.params()[0]);
            }
            writeAll(ends[1], f.data(), "pipe " + f.path());
            int end = f.params()[1] != 0 ? ends[1] : ends[0];
            remote.call("fcntl(F_SETFL)", Sys.SYS_FCNTL, end, Sys.F_SETFL, f.flags() & ~Sys.O_ACCMODE);
            return end;
        }
    }

    /** Moves a descriptor the vessel just got to the next temporary number. */
    private int adopt(long fd) throws SysException {
        int target = nextFd++;
        if (fd != target) {
            remote.call("dup3", Sys.SYS_DUP3, fd, target, Sys.O_CLOEXEC);
            remote.call("close", Sys.SYS_CLOSE, fd);
        }
        return target;
    }

    /**
     * {@link #adopt} for the two descriptors one call made (pipe2, socketpair), in their order. The kernel
     * gives the lowest free numbers: with a free number below the temporaries, the first lands there and
     * the second may land on the next temporary number itself, which moving the first there would close.
     */
    private int[] adoptPair(int first, int second) throws SysException {
        if (second == nextFd) {
            int secondAt = adopt(second);
            return new int[] {adopt(first), secondAt};
        }
        int firstAt = adopt(first);
        return new int[] {firstAt, adopt(second)};
    }

    /** Registers every epoll's descriptors, once they all are at their numbers. */
    private void registerEpolls() throws Exception {
        for (FdEntry f : head.fds()) {
            if (f.kind() != FdEntry.Kind.EPOLL || tree.share(head.process().pid(), f.fd()) != null) {
                continue; // not an epoll, or one another process of the tree made and fills
            }
            long[] t = f.params();
            for (int i = 0; i + 2 < t.length; i += 3) {
                ByteBuffer b = scratchBuffer(12);
                b.putInt(0, (int) t[i + 1]).putLong(4, t[i + 2]);
                writeScratch(b, 0);
                remote.call("epoll_ctl(" + f.fd() + ", ADD, " + t[i] + ")", SYS_EPOLL_CTL, f.fd(), 1, t[i], scratch);
            }
        }
    }

    private record OpenedFile(String path, int mode, FileId expected, String what) {
    }

    /**
     * Opens the files the areas map and the executable, in one batch, each at the next temporary number
     * ({@link #adopt}); the kernel gives each the lowest free number, which is that number unless the
     * vessel has free numbers below the temporaries.
     */
    private void openAll(Map<String, OpenedFile> files) throws Exception {
        CallBatch opens = batch();
        for (OpenedFile f : files.values()) {
            opens.addRaw(Sys.SYS_OPENAT, -100, opens.put(ScratchPage.cString(f.path())), f.mode() | Sys.O_CLOEXEC, 0);
        }
        long[] fds = opens.run();
        int i = 0;
        EngineException failed = null;
        for (Map.Entry<String, OpenedFile> e : files.entrySet()) {
            long fd = fds[i++];
            if (fd < 0) {
                OpenedFile f = e.getValue();
                failed = failed != null ? failed : cannotReopen(f.path(), f.what(), fd);
                continue;
            }
            opened.put(e.getKey(), adoptOpened(fd, fds, i));
        }
        if (failed != null) {
            throw failed;
        }
        for (Map.Entry<String, OpenedFile> e : files.entrySet()) {
            OpenedFile f = e.getValue();
            checkSame(f.path(), opened.get(e.getKey()), f.expected(), f.what(), false);
        }
    }

    /** {@link #adopt} for one of several descriptors opened together; one of the later ones may sit at its number. */
    private int adoptOpened(long fd, long[] fds, int later) throws SysException {
        for (int k = later; k < fds.length; k++) {
            if (fds[k] == nextFd && fd != nextFd) {
                long away = remote.call("fcntl(F_DUPFD_CLOEXEC)", Sys.SYS_FCNTL, fds[k], Sys.F_DUPFD_CLOEXEC,
                        nextFd + fds.length + 1);
                remote.call("close", Sys.SYS_CLOSE, fds[k]);
                fds[k] = away;
            }
        }
        return adopt(fd);
    }

    private int open(String path, int flags, String what) throws Exception {
        long fd = remote.raw(Sys.SYS_OPENAT, -100, putString(path), flags | Sys.O_CLOEXEC, 0);
        if (fd < 0) {
            throw cannotReopen(path, what, fd);
        }
        return adopt(fd);
    }

    private static EngineException cannotReopen(String path, String what, long errno) {
        return new EngineException(Reason.FILE_CHANGED, "cannot reopen " + path + " (" + what + "): " + Sys.errno(errno));
    }

    /**
     * Refuses a file whose size or mtime changed since the dump, unless asked not to. A file the process
     * only writes (a log, often its stdout) may have been written meanwhile, as long as it did not shrink:
     * others write to it too, and what it holds does not change what the process does.
     */
    private void checkSame(String path, int fd, FileId expected, String what, boolean mayGrow)
            throws IOException, EngineException {
        FileId now = FileIds.stat(proc.dir(vessel).resolve("fd").resolve(Integer.toString(fd)));
        boolean grew = mayGrow && now.size() >= expected.size();
        if (!now.sameContentAs(expected) && !grew && !options.allowChangedFiles()) {
            throw new EngineException(Reason.FILE_CHANGED, path + " (" + what + ") changed since the dump (size "
                    + expected.size() + " -> " + now.size() + ", mtime " + expected.mtimeNanos() + " -> "
                    + now.mtimeNanos() + "); use --allow-changed-files to restore anyway");
        }
    }

    private void moveVdsoBlock(List<ProcFs.Mapping> from, List<MemoryArea> to) throws SysException {
        long oldStart = from.get(0).start();
        long oldEnd = from.get(from.size() - 1).end();
        long newStart = to.get(0).start();
        long newEnd = to.get(to.size() - 1).end();
        if (oldStart == newStart) {
            return;
        }
        long[] starts = from.stream().mapToLong(ProcFs.Mapping::start).toArray();
        if (newStart < oldEnd && oldStart < newEnd) {
            // Overlapping blocks: go through a free place first so no move lands on a part not yet moved.
            long temp = newEnd + (oldEnd - oldStart) < TASK_SIZE - (1L << 32) ? TASK_SIZE - (1L << 32) : 1L << 32;
            starts = moveEach(from, starts, temp);
        }
        moveEach(from, starts, newStart);
    }

    private long[] moveEach(List<ProcFs.Mapping> block, long[] starts, long destination) throws SysException {
        long base = starts[0];
        long[] moved = new long[starts.length];
        long gadget = remote.gadget();
        CallBatch moves = batch();
        for (int i = 0; i < starts.length; i++) {
            long len = block.get(i).end() - block.get(i).start();
            long target = destination + (starts[i] - base);
            if (block.get(i).path().equals("[vdso]")) {
                gadget = target + (remote.gadget() - starts[i]);
            }
            moves.add("mremap " + block.get(i).path(), Sys.SYS_MREMAP, starts[i], len, len,
                    Sys.MREMAP_MAYMOVE | Sys.MREMAP_FIXED, target);
            moved[i] = target;
        }
        // The batch runs from the work area, so the gadget in the vDSO may move under it.
        moves.run();
        remote.moveGadget(gadget);
        return moved;
    }

    private static boolean isCreated(MemoryArea a) {
        return switch (a.kind()) {
            case ANONYMOUS, HEAP, STACK, SHARED_ANONYMOUS, FILE_PRIVATE, FILE_SHARED, GHOST_PRIVATE, GHOST_SHARED -> true;
            case VDSO, VVAR, VSYSCALL -> false;
        };
    }

    private static int initialProt(MemoryArea a) {
        return holdsNoPages(a) ? a.prot() : a.prot() | Sys.PROT_READ | Sys.PROT_WRITE;
    }

    /** Shared file mappings: the file holds their content, the image none of their pages. */
    private static boolean holdsNoPages(MemoryArea a) {
        return a.kind() == MemoryArea.Kind.FILE_SHARED || a.kind() == MemoryArea.Kind.GHOST_SHARED;
    }

    /** Adds the calls that create {@code a} to {@code calls}; its mmap's index goes into {@code mmaps}. */
    private void createArea(MemoryArea a, CallBatch calls, Map<Integer, MemoryArea> mmaps) throws Exception {
        if (!isCreated(a)) {
            return;
        }
        boolean ghost = a.kind() == MemoryArea.Kind.GHOST_PRIVATE || a.kind() == MemoryArea.Kind.GHOST_SHARED;
        boolean file = ghost || a.kind() == MemoryArea.Kind.FILE_PRIVATE || a.kind() == MemoryArea.Kind.FILE_SHARED;
        int flags = Sys.MAP_FIXED | (a.shared() ? Sys.MAP_SHARED : Sys.MAP_PRIVATE);
        if (!file) {
            flags |= Sys.MAP_ANONYMOUS;
        }
        if (a.hasVmFlag("gd")) {
            flags |= Sys.MAP_GROWSDOWN;
        }
        if (a.hasVmFlag("nr")) {
            flags |= Sys.MAP_NORESERVE;
        }
        long fd = -1;
        long offset = file ? a.offset() : 0;
        if (ghost) {
            fd = ghosts.forArea(a);
        } else if (file) {
            int mode = a.shared() && a.hasVmFlag("mw") ? Sys.O_RDWR : Sys.O_RDONLY;
            fd = opened.get(mode + ":" + a.name());
        }
        String sharedMemory = shared.sharedMemory(a);
        if (sharedMemory != null) {
            flags &= ~Sys.MAP_ANONYMOUS;
            fd = sharedMemoryFds.get(sharedMemory);
            offset = a.offset() - shared.extent(sharedMemory)[0];
        }
        mmaps.put(calls.add(String.format("mmap %x-%x %s", a.start(), a.end(), a.name()), Sys.SYS_MMAP, a.start(),
                a.length(), initialProt(a), flags, fd, offset), a);
        String[][] advice = {{"dc", "" + MADV_DONTFORK}, {"wf", "" + MADV_WIPEONFORK}, {"hg", "" + MADV_HUGEPAGE},
            {"nh", "" + MADV_NOHUGEPAGE}, {"dd", "" + MADV_DONTDUMP}};
        for (String[] adv : advice) {
            if (a.hasVmFlag(adv[0])) {
                calls.addRaw(Sys.SYS_MADVISE, a.start(), a.length(), Integer.parseInt(adv[1]));
            }
        }
    }

    /** Writes one PAGES record of this process into it, once its CRC32C is checked. */
    void fill(ImageReader.Record r) throws Exception {
        fill(r.address(), r.pageCount(), r.checkedPages());
    }

    /** Writes {@code count} pages from {@code pages}' position at {@code address}. */
    void fill(long address, int count, ByteBuffer pages) throws Exception {
        int length = count * Format.PAGE_SIZE;
        MemoryArea a = head.areaAt(address);
        if (a == null || !isCreated(a) || holdsNoPages(a)
                || Long.compareUnsigned(address + length, a.end()) > 0) {
            throw new EngineException(Reason.BAD_IMAGE, String.format(
                    "pages at 0x%x of process %d lie outside any area that holds pages", address,
                    head.process().pid()));
        }
        filler.fill(a, address, pages, length);
        memoryBytes.addAndGet(length);
    }

    /** The struct prctl_mm_map of PR_SET_MM_MAP, the auxv after it, as it goes at the scratch page. */
    private ByteBuffer mmMap() {
        ProcessInfo p = head.process();
        ByteBuffer b = scratchBuffer(104 + p.auxv().length * 8);
        for (int i = 0; i < ProcessInfo.MM_FIELDS; i++) {
            b.putLong(i * 8, p.mm()[i]);
        }
        long auxvAt = scratch + 104;
        b.putLong(88, auxvAt);
        b.putInt(96, p.auxv().length * 8);
        int exeFd = opened.get(Sys.O_RDONLY + ":" + p.exePath());
        b.putInt(100, exeFd);
        for (int i = 0; i < p.auxv().length; i++) {
            b.putLong(104 + i * 8, p.auxv()[i]);
        }
        return b;
    }

    /** After PR_SET_MM_MAP with {@code b} (see {@link #mmMap}) gave {@code r}: again without the executable, or fails. */
    private void setMm(ByteBuffer b, long r) throws Exception {
        if (r == -1 || r == -16) {
            // EPERM: no CAP_CHECKPOINT_RESTORE here to change /proc/PID/exe; EBUSY: the vessel's own
            // executable is mapped again, as the process's (same binary). Either way keep the vessel's.
            b.putInt(100, -1);
            writeScratch(b, 0);
            r = remote.raw(Sys.SYS_PRCTL, Sys.PR_SET_MM, Sys.PR_SET_MM_MAP, scratch, 104, 0);
        }
        if (r < 0) {
            throw new SysException("prctl(PR_SET_MM_MAP)", (int) -r);
        }
    }

    private void setSignals() throws Exception {
        SignalState s = head.signals();
        if (tree.members().stream().anyMatch(m -> m.ppid() == head.process().pid())) {
            // Children re-created as zombies sent SIGCHLD while the tree was built: ignoring it discards them.
            // (The image's own pending SIGCHLD, if any, is queued again below.)
            ByteBuffer ign = scratchBuffer(32);
            ign.putLong(0, 1);
            writeScratch(ign, 0);
            remote.call("rt_sigaction(SIGCHLD, SIG_IGN)", Sys.SYS_RT_SIGACTION, SIGCHLD, scratch, 0, 8);
            writeScratch(scratchBuffer(32), 0);
            remote.call("rt_sigaction(SIGCHLD, SIG_DFL)", Sys.SYS_RT_SIGACTION, SIGCHLD, scratch, 0, 8);
        }
        CallBatch actions = batch();
        for (int sig = 1; sig <= SignalState.SIGNALS; sig++) {
            if (sig == Sys.SIGKILL || sig == Sys.SIGSTOP) {
                continue;
            }
            long[] act = new long[4];
            boolean set = (vesselDispositions & (1L << (sig - 1))) != 0; // the vessel's own, made default
            for (int k = 0; k < 4; k++) {
                act[k] = s.actions()[(sig - 1) * 4 + k];
                set |= act[k] != 0;
            }
            if (set) {
                ByteBuffer b = scratchBuffer(32);
                for (int k = 0; k < 4; k++) {
                    b.putLong(k * 8, act[k]);
                }
                actions.add("rt_sigaction(" + sig + ")", Sys.SYS_RT_SIGACTION, sig, actions.put(b), 0, 8);
            }
        }
        actions.run();
        boolean pending = !s.sharedPending().isEmpty() || head.threads().stream().anyMatch(t -> !t.pending().isEmpty());
        if (!pending) {
            return;
        }
        long self = remote.call("getpid", Sys.SYS_GETPID);
        for (int i = 0; i < head.threads().size(); i++) {
            long tid = i == 0 ? self : threadRemotes.get(i).call("gettid", Sys.SYS_GETTID);
            for (byte[] info : head.threads().get(i).pending()) {
                queue(info, tid, self);
            }
        }
        for (byte[] info : s.sharedPending()) {
            queue(info, -1, self);
        }
    }

    private void queue(byte[] info, long tid, long self) throws Exception {
        ByteBuffer b = scratchBuffer(info.length);
        b.put(info).flip();
        writeScratch(b, 0);
        int sig = ByteBuffer.wrap(info).order(ByteOrder.LITTLE_ENDIAN).getInt(0);
        if (tid > 0) {
            remote.call("rt_tgsigqueueinfo(" + sig + ")", Sys.SYS_RT_TGSIGQUEUEINFO, self, tid, sig, scratch);
        } else {
            remote.call("rt_sigqueueinfo(" + sig + ")", SYS_RT_SIGQUEUEINFO, self, sig, scratch);
        }
    }

    /**
     * Real time went on while the process was away: a timer that had 5 s left and was away 2 s has 3 s
     * left, as it would have had the process only been stopped. Never less than a microsecond: an overdue
     * timer fires at once.
     */
    private long[] lessTimeAway(long seconds, long fraction, long unitsPerSecond) {
        long awayNanos = Math.max(0, System.currentTimeMillis() - head.process().dumpedAtMillis()) * 1_000_000L;
        long left = seconds * 1_000_000_000L + fraction * (1_000_000_000L / unitsPerSecond) - awayNanos;
        left = Math.max(left, 1000);
        return new long[] {left / 1_000_000_000L, (left % 1_000_000_000L) / (1_000_000_000L / unitsPerSecond)};
    }

    private void setItimers() throws Exception {
        CallBatch calls = batch();
        long[] t = head.process().itimers().clone();
        for (int which = 0; which < 3; which++) {
            if (t[which * 4 + 2] == 0 && t[which * 4 + 3] == 0) {
                continue; // disarmed
            }
            if (which == 0) { // ITIMER_REAL counts real time; the CPU-time ones did not run while away
                long[] left = lessTimeAway(t[2], t[3], 1_000_000L);
                t[2] = left[0];
                t[3] = left[1];
            }
            ByteBuffer b = scratchBuffer(32);
            for (int k = 0; k < 4; k++) {
                b.putLong(k * 8, t[which * 4 + k]);
            }
            calls.add("setitimer(" + which + ")", SYS_SETITIMER, which, calls.put(b), 0);
        }
        calls.run();
    }

    private void setRlimits(CallBatch calls) throws Exception {
        long[] l = head.process().rlimits();
        long[][] current = proc.limits(vessel);
        for (int i = 0; i < l.length; i += 3) {
            int resource = (int) l[i];
            if (resource >= current.length) {
                continue;
            }
            long[] now = current[resource];
            long hard = Long.compareUnsigned(l[i + 2], now[1]) < 0 ? l[i + 2] : now[1];
            long soft = Long.compareUnsigned(l[i + 1], hard) < 0 ? l[i + 1] : hard;
            if (soft != now[0] || hard != now[1]) {
                ByteBuffer b = scratchBuffer(16);
                b.putLong(0, soft).putLong(8, hard);
                calls.add("prlimit64(" + resource + ")", Sys.SYS_PRLIMIT64, 0, resource, calls.put(b), 0);
            }
        }
    }

    private void placeFds() throws Exception {
        Set<Integer> wanted = new HashSet<>();
        Set<Integer> vesselFds = new HashSet<>(proc.fds(vessel));
        CallBatch calls = batch();
        for (FdEntry f : head.fds()) {
            wanted.add(f.fd());
            Integer temp = fdTemps.get(f.fd());
            if (temp != null) {
                calls.add("dup3 fd " + f.fd(), Sys.SYS_DUP3, temp, f.fd(), f.cloexec() ? Sys.O_CLOEXEC : 0);
                if (f.kind() == FdEntry.Kind.FILE && f.position() != 0) {
                    calls.add("lseek fd " + f.fd(), Sys.SYS_LSEEK, f.fd(), f.position(), 0);
                }
            } else if (vesselFds.contains(f.fd())) {
                calls.add("fcntl(F_SETFD) fd " + f.fd(), Sys.SYS_FCNTL, f.fd(), Sys.F_SETFD, f.cloexec() ? 1 : 0);
            }
        }
        if (nextFd > fdBase) {
            calls.add("close_range", Sys.SYS_CLOSE_RANGE, fdBase, 0xffffffffL, 0);
            nextFd = fdBase;
        }
        for (int fd : vesselFds) {
            if (fd < fdBase && !wanted.contains(fd)) {
                calls.add("close fd " + fd, Sys.SYS_CLOSE, fd);
            }
        }
        calls.run();
    }

    private void closeTemps() throws SysException {
        if (nextFd > fdBase) {
            remote.call("close_range", Sys.SYS_CLOSE_RANGE, fdBase, 0xffffffffL, 0);
            nextFd = fdBase;
        }
    }

    /** CRIU's rule for a process stopped inside a system call: restart it, or report EINTR. */
    static long[] restartedRegisters(long[] image) {
        long[] r = image.clone();
        if (r[Regs.ORIG_RAX] >= 0) {
            long rax = r[Regs.RAX];
            if (rax == -Sys.ERESTARTSYS || rax == -Sys.ERESTARTNOINTR || rax == -Sys.ERESTARTNOHAND) {
                r[Regs.RAX] = r[Regs.ORIG_RAX];
                r[Regs.RIP] -= 2;
            } else if (rax == -Sys.ERESTART_RESTARTBLOCK) {
                r[Regs.RAX] = -Sys.EINTR;
            }
        }
        r[Regs.ORIG_RAX] = -1;
        return r;
    }

    /** Steps 4-5: the work area, placed clear of the vessel's mappings and of the image's areas. */
    private void mapWorkArea() throws Exception {
        List<long[]> taken = new java.util.ArrayList<>();
        own.forEach(m -> taken.add(new long[] {m.start(), m.end()}));
        head.areas().forEach(a -> taken.add(new long[] {a.start(), a.end()}));
        long block = special.get(special.size() - 1).end() - special.get(0).start();
        for (long temp : new long[] {TASK_SIZE - (1L << 32), 1L << 32}) { // where moveVdsoBlock may pass
            taken.add(new long[] {temp, temp + block});
        }
        long at = WorkArea.place(taken, TASK_SIZE);
        long placed = remote.call("mmap work area", Sys.SYS_MMAP, at, WorkArea.BYTES, Sys.PROT_READ | Sys.PROT_WRITE,
                Sys.MAP_PRIVATE | Sys.MAP_ANONYMOUS | Sys.MAP_FIXED_NOREPLACE, -1, 0);
        if (placed != at) {
            remote.raw(Sys.SYS_MUNMAP, placed, WorkArea.BYTES);
            throw new EngineException(Reason.INCOMPATIBLE, String.format(
                    "the kernel placed the restorer's work area at 0x%x, not 0x%x (no MAP_FIXED_NOREPLACE)", placed, at));
        }
        scratch = placed;
        batchArea = CallBatch.prepare(remote, scratch + Sys.PAGE);
    }

    private CallBatch batch() {
        return new CallBatch(remote, batchArea);
    }

    private ByteBuffer scratchBuffer(int length) {
        return ByteBuffer.allocateDirect(length).order(ByteOrder.LITTLE_ENDIAN);
    }

    private void writeScratch(ByteBuffer b, int offset) throws SysException {
        int len = b.limit();
        b.position(0);
        if (Kernel.writeMemory(vessel, scratch + offset, b, len) != len) {
            throw new SysException("short write into the vessel's scratch page");
        }
    }

    /** Writes a NUL-terminated string at the start of the scratch page; returns its address. */
    private long putString(String s) throws EngineException, SysException {
        return ScratchPage.putString(vessel, scratch, s);
    }
}
