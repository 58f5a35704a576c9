package io.telefork.dump;

import io.telefork.engine.Commit;
import io.telefork.engine.DumpOptions;
import io.telefork.engine.DumpResult;
import io.telefork.engine.EngineException;
import io.telefork.engine.EngineException.Reason;
import io.telefork.engine.StepClock;
import io.telefork.image.FdEntry;
import io.telefork.image.GhostFile;
import io.telefork.image.ImageDigest;
import io.telefork.image.ImageFormatException;
import io.telefork.image.ImageWriter;
import io.telefork.image.LazyPlan;
import io.telefork.image.MemoryArea;
import io.telefork.image.ProcessTree;
import io.telefork.image.RecordType;
import io.telefork.image.Regs;
import io.telefork.image.ThreadState;
import io.telefork.proc.ProcFs;
import io.telefork.sys.JitThreads;
import io.telefork.sys.Kernel;
import io.telefork.sys.Ptrace;
import io.telefork.sys.Remote;
import io.telefork.sys.Sys;
import io.telefork.sys.SysException;
import io.telefork.sys.Tracer;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Dumps a process and all its descendants, every thread of each. The steps in {@link Session#run()} are
 * numbered; {@link Session#finish(boolean)} is the one cleanup path: on failure it puts every process back
 * exactly as it was found (registers, signal masks, running or stopped), on success it kills them all
 * unless asked to leave them running.
 */
public final class Dumper {
    /** Test-only: milliseconds a dump waits between its first look at the process and the freeze. */
    static final String PAUSE_ENV = "TELEFORK_TEST_DUMP_PAUSE_MS";

    private static final long CLONE_FILES = 0x400;
    private static final int SYS_WAIT4 = 61;
    private static final long WALL = 0x40000000L;
    private static final long WNOHANG = 1;
    /** Namespaces a restored child gets from its parent's vessel: a descendant must share the dumped process's. */
    private static final List<String> NAMESPACES = List.of("pid", "mnt", "net", "ipc", "uts", "user", "cgroup");

    private final DumpOptions options;
    private final ProcFs proc;
    private final boolean testPause;

    public Dumper(DumpOptions options) {
        this(options, new ProcFs(), true);
    }

    Dumper(DumpOptions options, ProcFs proc) {
        this(options, proc, true);
    }

    private Dumper(DumpOptions options, ProcFs proc, boolean testPause) {
        this.options = options;
        this.proc = proc;
        this.testPause = testPause;
    }

    /** A dumper for the engine's practice dumps, which the test pause ({@value #PAUSE_ENV}) leaves out. */
    public static Dumper forPractice(DumpOptions options) {
        return new Dumper(options, new ProcFs(), false);
    }

    public DumpResult dump(int pid, WritableByteChannel out, Commit commit) throws EngineException {
        long started = System.nanoTime();
        Validation.check(proc, pid);
        try (Tracer tracer = new Tracer("telefork-dump-" + pid)) {
            return tracer.call(ptrace -> new Session(ptrace, pid, out, started, commit).run());
        } catch (Exception e) {
            EngineException failed = translate(e);
            if (commit.copyMayRun()) {
                throw new EngineException(failed.reason(), failed.getMessage() + "; a copy may run from what was "
                        + "sent, so process " + pid + " is left stopped: resume it (kill -CONT " + pid + ") only once "
                        + "the copy is known to be dead, or kill it", e);
            }
            throw failed;
        }
    }

    private static EngineException translate(Exception e) {
        if (e instanceof EngineException ee) {
            return ee;
        }
        if (e instanceof SysException) {
            return new EngineException(Reason.SYSTEM, e.getMessage(), e);
        }
        if (e instanceof IOException) {
            return new EngineException(Reason.IO, "writing the image failed: " + e.getMessage(), e);
        }
        return new EngineException(Reason.SYSTEM, "dump failed: " + e, e);
    }

    private final class Session {
        private final Ptrace ptrace;
        private final int pid;
        private final WritableByteChannel out;
        private final long started;
        private final Commit commit;
        /** The live processes of the tree, frozen, parents before children; the dumped process first. */
        private final List<FrozenProcess> targets = new ArrayList<>();
        /** Every process of the tree, live or zombie, in the same order. */
        private final List<ProcessTree.Member> members = new ArrayList<>();
        private long frozenAt;
        private Instant frozenSince;
        private long frozenNanos;
        /** Established TCP connections kept in repair mode while the tree is dumped (--tcp-established). */
        private final FrozenConnections connections = new FrozenConnections(options.tcpEstablished());
        /** Pages of shared memory stored so far, so that no other mapping of the same object stores them again. */
        private final PageDumper.SharedPages sharedPages = new PageDumper.SharedPages();
        private ImageWriter writer;
        private NamespaceIds nsIds;
        private JitThreads jit = JitThreads.none();
        /** Per process, its copy-on-write twin: the twin's PID here and in the process's own namespace. */
        private final Map<FrozenProcess, long[]> twins = new java.util.LinkedHashMap<>();

        Session(Ptrace ptrace, int pid, WritableByteChannel out, long started, Commit commit) {
            this.ptrace = ptrace;
            this.pid = pid;
            this.out = out;
            this.started = started;
            this.commit = commit;
        }

        DumpResult run() throws Exception {
            boolean success = false;
            StepClock clock = new StepClock("dump " + pid);
            try {
                // 0. Everything that need not wait for the freeze: the writer (its threads, buffers, header),
                //    and for a copy-on-write twin the first process's smaps (its VmFlags), which takes tens
                //    of milliseconds per GiB, its areas and vDSO gadget; checked against the layout in the
                //    freeze and the twin after it.
                writer = new ImageWriter(out, options.compression());
                writer.writeHeader();
                ProcessReader.Before before = options.leaveRunning() && !options.fullFreeze()
                        ? ProcessReader.before(proc, pid) : null;
                pauseForTests();
                clock.lap("prepare");

                // 1. Freeze the process and every descendant, each before any is read: seize and interrupt
                //    every thread; a job-control-stopped process is woken first. Zombies are only recorded.
                //    This JVM's compilers yield their CPUs to the freeze until the processes run again.
                jit = JitThreads.idle();
                freezeTree();
                nsIds = NamespaceIds.of(proc, pid, members.stream().map(ProcessTree.Member::pid).toList());
                clock.lap("freeze " + targets.size() + " processes");

                // 2. Save every thread's signal mask. Signals are blocked only around each group of injected
                //    calls (which a signal would turn into signal-delivery stops) and unblocked right after
                //    it, so that a telefork killed meanwhile leaves no process with all its signals blocked.
                for (FrozenProcess t : targets) {
                    t.saveSignalMasks();
                }
                clock.lap("save signal masks");

                // 3. Per process: CPU state, what /proc tells, and what only the process itself can tell
                //    (brk(0), sigaction, sigaltstack, the tid address), injected through its vDSO. With
                //    twins, what a fork copies as it is (brk, sigaction, the leader's sigaltstack) is read
                //    from the twin instead, after the freeze.
                boolean withTwins = options.leaveRunning() && !options.fullFreeze()
                        && targets.stream().noneMatch(FrozenProcess::wasStopped);
                TreeFiles files = new TreeFiles();
                List<FrozenProcess.Captured> captured = new ArrayList<>();
                for (FrozenProcess t : targets) {
                    captured.add(t.capture(files, connections, options.ghostLimit(),
                            withTwins && t.pid() == pid ? before : null, withTwins));
                }
                clock.lap("registers, /proc, injected calls");

                // 4. Descriptors, once every process's are known: pipes and socket pairs between processes of
                //    the tree, and open file descriptions that several of them share (fork's inheritance).
                List<List<FdEntry>> fds = new ArrayList<>();
                for (FrozenProcess.Captured c : captured) {
                    fds.add(c.reader().fds());
                }
                List<ProcessTree.Share> shares = shares(fds);
                clock.lap("descriptors");

                // 5. Metadata records: the tree, then each live process's, each followed by the content of its
                //    deleted files and memfds. IDs as the processes' own PID namespace numbers them. All is
                //    read while frozen, but a twin's processes have their records written only once they run
                //    again, unless content that must be read in the freeze (deleted files, memory a twin does
                //    not hold) comes after them in the stream.
                byte[] treeRecord = new ProcessTree(List.copyOf(nsIds.members(members)), nsIds.shares(shares)).encode();
                boolean contentInFreeze = !withTwins || captured.stream().anyMatch(c -> !c.ghosts().files().isEmpty()
                        || c.areas().stream().anyMatch(a -> PageDumper.stores(a) && PageDumper.notInTwin(a)
                                && !c.reader().empty(a)));
                if (contentInFreeze) {
                    if (withTwins) {
                        for (int i = 0; i < captured.size(); i++) {
                            FrozenProcess.Captured c = captured.get(i);
                            captured.set(i, FrozenProcess.withInherited(c, c.process().inheritedHere(c.areas())));
                        }
                    }
                    writeMetadata(treeRecord, captured, fds);
                }
                clock.lap("metadata");
                if (!withTwins) {
                    jit.close(); // frozen till the end: the pages' code is welcome to be compiled meanwhile
                }

                // 6. Pages. Left running, every process runs on as soon as a copy-on-write twin of it
                //    exists, and most of its pages are read from the twin; only what a twin would not hold
                //    as it was (shared memory, MADV_DONTFORK, MADV_WIPEONFORK) is read while all are frozen.
                //    The pages of the areas a lazy restore fills after the processes run come last, after
                //    a LAZY record that lists them, so that a restore from the stream can let the
                //    processes run there while they still arrive.
                long memoryBytes = 0;
                List<PageDumper> dumpers = new ArrayList<>();
                Predicate<MemoryArea> eager = a -> !a.filledLazily();
                for (FrozenProcess.Captured c : captured) {
                    PageDumper pages = new PageDumper(proc, c.process().pid(), writer, options.progress(), sharedPages);
                    dumpers.add(pages);
                    Predicate<MemoryArea> inFreeze = withTwins ? PageDumper::notInTwin : eager;
                    if (contentInFreeze) {
                        memoryBytes += dumpPages(c, pages, inFreeze.and(a -> !c.reader().empty(a)), c.process().pid());
                    }
                }
                if (withTwins) {
                    for (FrozenProcess t : targets) {
                        forkTwin(t);
                    }
                    releaseAll();
                    clock.lap("pages outside the twins, twins");
                    if (!contentInFreeze) {
                        for (int i = 0; i < captured.size(); i++) {
                            FrozenProcess.Captured c = captured.get(i);
                            int twin = (int) twins.get(c.process())[0];
                            captured.set(i, FrozenProcess.withInherited(c, c.process().inheritedFromTwin(twin)));
                        }
                        writeMetadata(treeRecord, captured, fds);
                    }
                    for (FrozenProcess.Captured c : captured) {
                        if (c.reader().flagsFromBefore()) {
                            checkForkFlags(c, (int) twins.get(c.process())[0]);
                        }
                    }
                    for (int i = 0; i < captured.size(); i++) {
                        FrozenProcess.Captured c = captured.get(i);
                        memoryBytes += dumpPages(c, dumpers.get(i), fromTwin(c).and(eager), source(c));
                    }
                }
                for (int i = 0; i < captured.size(); i++) {
                    memoryBytes += dumpFirstTouched(captured.get(i), dumpers.get(i));
                }
                memoryBytes += dumpLazyAreas(captured, dumpers, withTwins);
                if (withTwins) {
                    disposeTwins();
                }
                clock.lap("pages");

                // 7. Index and END, flushed and read back before any process may be killed.
                ImageWriter.Summary summary = writer.finish();
                verifyWritten(summary);
                if (!options.leaveRunning() && !options.leaveStopped()) {
                    connections.checkQuiet(pid);
                }
                commit.confirm();
                options.progress().update(summary.bytes(), summary.bytes());
                clock.lap("index, end, verify");
                success = true;
                finish(true);
                clock.lap("release");
                return new DumpResult(pid, summary.bytes(), summary.sha256(), memoryBytes,
                        Duration.ofNanos(frozenNanos), Duration.ofNanos(System.nanoTime() - started), frozenSince);
            } finally {
                if (!success) {
                    finish(false);
                }
            }
        }

        /**
         * Freezes the process, then its children, their children and so on: a process's children are
         * listed only once it is frozen (a frozen process forks no more, and cannot reap), and the scan is
         * repeated over all of them until one finds nobody new.
         */
        private void freezeTree() throws Exception {
            FrozenProcess root = new FrozenProcess(ptrace, proc, pid);
            targets.add(root); // before it is frozen, so that the cleanup path releases whatever was seized
            root.freeze();
            frozenAt = System.nanoTime();
            frozenSince = Instant.now();
            members.add(member(pid, false));
            List<Integer> children = proc.children(pid);
            if (options.singleProcess() && !children.isEmpty()) {
                throw new EngineException(Reason.UNSUPPORTED, "process " + pid + " has child processes " + children
                        + "; a process tree cannot be restored into an existing process (a container's), only by "
                        + "telefork restore");
            }
            boolean found = true;
            while (found) {
                // Once more over all of them when one was found: a subreaper of the tree may have
                // been handed the orphans of a process that exited while the others were frozen.
                found = false;
                for (int i = 0; i < targets.size(); i++) {
                    FrozenProcess parent = targets.get(i);
                    for (int child : proc.children(parent.pid())) {
                        if (members.stream().anyMatch(m -> m.pid() == child)) {
                            continue;
                        }
                        members.add(member(child, !freezeChild(child)));
                        found = true;
                    }
                }
            }
            if (targets.size() > 1 || members.size() > 1) {
                checkTree();
            }
        }

        /** Freezes a child and adds it to the targets; false if it is a zombie, which cannot be frozen. */
        private boolean freezeChild(int child) throws Exception {
            if (isZombie(child)) {
                return false;
            }
            Map<String, String> status = proc.status(child);
            if (!"0".equals(status.getOrDefault("TracerPid", "0"))) {
                throw new EngineException(Reason.NOT_DUMPABLE, "process " + child + " (a descendant of " + pid
                        + ") is already traced by PID " + status.get("TracerPid"));
            }
            FrozenProcess t = new FrozenProcess(ptrace, proc, child);
            targets.add(t);
            try {
                t.freeze();
            } catch (EngineException e) {
                if (isZombie(child)) {
                    targets.remove(t);
                    return false; // it exited meanwhile; its frozen parent keeps it a zombie
                }
                throw e;
            }
            for (String ns : NAMESPACES) {
                String own = proc.readLink(child, "ns/" + ns);
                if (!own.equals(proc.readLink(pid, "ns/" + ns))) {
                    throw new EngineException(Reason.UNSUPPORTED, "process " + child + " (a descendant of " + pid
                            + ") is in another " + ns + " namespace (" + own + "); namespaces inside a tree are not "
                            + "supported yet");
                }
            }
            if (!Files.readString(proc.dir(child).resolve("timers")).trim().isEmpty()) {
                throw new EngineException(Reason.UNSUPPORTED, "process " + child + " (a descendant of " + pid
                        + ") has POSIX timers (timer_create); they are not supported yet");
            }
            return true;
        }

        private boolean isZombie(int p) {
            try {
                String state = proc.stat(p)[3];
                return state.equals("Z") || state.equals("X");
            } catch (IOException | RuntimeException e) {
                return false;
            }
        }

        private ProcessTree.Member member(int p, boolean zombie) throws IOException {
            String[] stat = proc.stat(p);
            int exitStatus = zombie ? Integer.parseInt(stat[52]) : 0;
            return new ProcessTree.Member(p, Integer.parseInt(stat[4]), Integer.parseInt(stat[5]),
                    Integer.parseInt(stat[6]), zombie, exitStatus, Integer.parseInt(stat[38]), stat[2]);
        }

        /**
         * A restore re-creates sessions and groups top-down: a process can lead a session it started, or
         * be in its parent's; a group must be led by a process of the tree or be the dumped process's own.
         */
        private void checkTree() throws EngineException {
            ProcessTree.Member root = members.get(0);
            Map<Integer, ProcessTree.Member> byPid = new java.util.HashMap<>();
            members.forEach(m -> byPid.put(m.pid(), m));
            for (ProcessTree.Member m : members.subList(1, members.size())) {
                ProcessTree.Member parent = byPid.get(m.ppid());
                if (m.sid() != m.pid() && m.sid() != parent.sid()) {
                    throw new EngineException(Reason.UNSUPPORTED, "process " + m.pid() + " is in session " + m.sid()
                            + ", which is neither its own nor its parent's; such a tree cannot be re-created");
                }
                ProcessTree.Member leader = byPid.get(m.pgid());
                boolean groupHere = m.pgid() == root.pgid() || (leader != null && leader.sid() == m.sid());
                if (!groupHere) {
                    throw new EngineException(Reason.UNSUPPORTED, "process " + m.pid() + " is in process group "
                            + m.pgid() + ", whose leader is outside the tree; such a group cannot be re-created");
                }
                if (m.pgid() == root.pgid() && m.sid() != root.sid()) {
                    throw new EngineException(Reason.UNSUPPORTED, "process " + m.pid() + " is in process group "
                            + m.pgid() + " but not in its session " + root.sid());
                }
            }
        }

        /**
         * Descriptors that are the same open file description as one of an earlier process (kcmp): they
         * are restored as that one, so that offsets and status flags stay shared across processes.
         */
        private List<ProcessTree.Share> shares(List<List<FdEntry>> fds) {
            List<ProcessTree.Share> shares = new ArrayList<>();
            Map<String, List<int[]>> firsts = new java.util.HashMap<>();
            for (int i = 0; i < targets.size(); i++) {
                int p = targets.get(i).pid();
                for (FdEntry f : fds.get(i)) {
                    if (f.kind() == FdEntry.Kind.INHERITED || f.sameAs() >= 0) {
                        continue; // from the restorer, or a dup of a lower descriptor of the same process
                    }
                    List<int[]> candidates = firsts.computeIfAbsent(f.path(), k -> new ArrayList<>());
                    int[] owner = null;
                    for (int[] c : candidates) {
                        if (c[0] != p && Kernel.sameFile(c[0], c[1], p, f.fd())) {
                            owner = c;
                            break;
                        }
                    }
                    if (owner == null) {
                        candidates.add(new int[] {p, f.fd()});
                    } else {
                        shares.add(new ProcessTree.Share(p, f.fd(), owner[0], owner[1]));
                    }
                }
            }
            return shares;
        }

        /** The tree's record, then each process's records followed by the content of its deleted files. */
        private void writeMetadata(byte[] treeRecord, List<FrozenProcess.Captured> captured, List<List<FdEntry>> fds)
                throws IOException {
            writer.writeRecord(RecordType.TREE, treeRecord);
            for (int i = 0; i < captured.size(); i++) {
                FrozenProcess.Captured c = captured.get(i);
                writer.writeRecord(RecordType.PROCESS, c.info().withPid(nsIds.id(c.info().pid())).encode());
                for (ThreadState t : c.threads()) {
                    writer.writeRecord(RecordType.THREAD, t.withTid(nsIds.id(t.tid())).encode());
                }
                writer.writeRecord(RecordType.SIGNALS, c.signals().encode());
                writer.writeRecord(RecordType.FILES, FdEntry.encodeAll(fds.get(i)));
                writer.writeRecord(RecordType.GHOSTS, GhostFile.encodeAll(c.ghosts().files()));
                writer.writeRecord(RecordType.AREAS, MemoryArea.encodeAll(c.areas()));
                c.ghosts().writeContent(writer);
            }
        }

        /** The pages of a process that {@code which} selects, read from {@code from} (it or its twin). */
        private long dumpPages(FrozenProcess.Captured c, PageDumper pages, Predicate<MemoryArea> which, int from)
                throws Exception {
            writer.beginPagesOf(nsIds.id(c.process().pid()));
            pages.plan(c.areas(), which, from);
            try (ProcessMemory memory = new ProcessMemory(from, proc.dir(from))) {
                return pages.dump(memory, which);
            }
        }

        /**
         * The pages of the lazily filled areas not written yet, every process's, after the LAZY record that
         * lists them in the order they come: each process's in one PAGES_OF group, its smallest areas first
         * (libc's own data, TLS: what a program touches as it runs on, before its big arrays), each area in
         * address order, as a restore from the stream relies on to know when a listed page is not coming
         * (it was all zero).
         */
        private long dumpLazyAreas(List<FrozenProcess.Captured> captured, List<PageDumper> dumpers, boolean withTwins)
                throws Exception {
            List<LazyPlan.Run> runs = new ArrayList<>();
            List<Predicate<MemoryArea>> which = new ArrayList<>();
            for (int i = 0; i < captured.size(); i++) {
                FrozenProcess.Captured c = captured.get(i);
                Predicate<MemoryArea> lazy = (withTwins ? fromTwin(c) : (Predicate<MemoryArea>) a -> !c.reader().empty(a))
                        .and(MemoryArea::filledLazily);
                which.add(lazy);
                dumpers.get(i).plan(c.areas(), lazy, source(c));
                int id = nsIds.id(c.process().pid());
                for (long[] r : dumpers.get(i).planned(lazy, true)) {
                    runs.add(new LazyPlan.Run(id, r[0], (int) r[1]));
                }
            }
            writer.writeRecord(RecordType.LAZY, new LazyPlan(runs).encode());
            long bytes = 0;
            for (int i = 0; i < captured.size(); i++) {
                FrozenProcess.Captured c = captured.get(i);
                writer.beginPagesOf(nsIds.id(c.process().pid()));
                try (ProcessMemory memory = new ProcessMemory(source(c), proc.dir(source(c)))) {
                    bytes += dumpers.get(i).dump(memory, which.get(i), true);
                }
            }
            return bytes;
        }

        /**
         * Before the LAZY record, so that a restore from the stream has them before the process runs: the
         * lazily filled pages its threads touch first (their TLS around fs_base, the top of a thread's stack,
         * the rseq area, which the restore's own rseq registration writes). A fault on any other page that
         * is still to come waits for it.
         */
        private long dumpFirstTouched(FrozenProcess.Captured c, PageDumper pages) throws Exception {
            List<Long> addresses = new ArrayList<>();
            for (ThreadState t : c.threads()) {
                // x86-64 TLS: the thread's struct at fs_base, its static TLS blocks (errno...) just below it.
                around(addresses, t.regs()[Regs.FS_BASE], 4, 2);
                // A thread's stack is private anonymous memory (the main thread's excepted): its top frames.
                around(addresses, t.regs()[Regs.RSP], 2, 4);
                if (t.rseq()[0] != 0) {
                    addresses.add(t.rseq()[0]);
                }
            }
            writer.beginPagesOf(nsIds.id(c.process().pid()));
            int from = source(c);
            try (ProcessMemory memory = new ProcessMemory(from, proc.dir(from))) {
                return pages.dumpFirstTouched(memory, c.areas(), from, addresses);
            }
        }

        /** The {@code below} pages before the page of {@code address}, it, and the {@code above - 1} after it. */
        private static void around(List<Long> addresses, long address, int below, int above) {
            if (address == 0) {
                return;
            }
            for (int k = -below; k < above; k++) {
                addresses.add(address + (long) k * Sys.PAGE);
            }
        }

        /** The areas read from a process's copy-on-write twin. */
        private static Predicate<MemoryArea> fromTwin(FrozenProcess.Captured c) {
            return a -> !c.reader().empty(a) && !PageDumper.notInTwin(a);
        }

        /** Where a process's remaining pages are read: its twin if it has one, else itself (frozen). */
        private int source(FrozenProcess.Captured c) {
            long[] twin = twins.get(c.process());
            return twin != null ? (int) twin[0] : c.process().pid();
        }

        /** A named pipe's channel has no position (lseek fails), nor anything to read back. */
        private static boolean seekable(FileChannel file) {
            try {
                file.position();
                return true;
            } catch (IOException e) {
                return false;
            }
        }

        private void verifyWritten(ImageWriter.Summary summary) throws IOException {
            if (!(out instanceof FileChannel file) || !seekable(file)) {
                return; // a pipe or socket: fully written is all that can be known here
            }
            file.force(true);
            String readBack;
            try {
                readBack = ImageDigest.endSha256(file, file.position());
            } catch (ImageFormatException e) {
                throw new IOException("the image file does not read back as written: " + e.getMessage(), e);
            }
            if (!readBack.equals(summary.sha256())) {
                throw new IOException("the image file does not read back as written");
            }
        }

        /**
         * Test-only ({@value #PAUSE_ENV} milliseconds): a pause between the first look at the process and
         * the freeze, announced on stderr, so that a test can change the process in between.
         */
        private void pauseForTests() throws InterruptedException {
            String v = testPause ? System.getenv(PAUSE_ENV) : null;
            long millis = v == null ? 0 : Long.parseLong(v.trim());
            if (millis > 0) {
                System.err.println("telefork: test: dump of " + pid + ": " + millis + " ms before the freeze");
                Thread.sleep(millis);
            }
        }

        /**
         * The VmFlags read before the freeze were still those at the fork for what a twin holds: an area not
         * marked dontfork is in the twin, and one not marked wipeonfork is not wiped there. Otherwise the
         * process changed them meanwhile (madvise), the twin lacks that content, and the dump fails (the
         * process runs on as it was; dumping again reads them in the freeze, or the twin has them right).
         */
        private void checkForkFlags(FrozenProcess.Captured c, int twin) throws IOException, EngineException {
            java.util.TreeMap<Long, ProcFs.Mapping> inTwin = new java.util.TreeMap<>();
            for (ProcFs.Mapping m : proc.mappings(twin)) {
                inTwin.put(m.start(), m);
            }
            for (MemoryArea a : c.areas()) {
                if (PageDumper.notInTwin(a)) {
                    continue; // read from the original in the freeze
                }
                Map.Entry<Long, ProcFs.Mapping> e = inTwin.floorEntry(a.start());
                boolean present = e != null && Long.compareUnsigned(a.start(), e.getValue().end()) < 0;
                if (!present || (" " + e.getValue().vmFlags() + " ").contains(" wf ")) {
                    throw new EngineException(Reason.SYSTEM, String.format("process %d changed how memory area %x-%x "
                            + "forks (madvise DONTFORK or WIPEONFORK) as the dump began; it runs on unchanged: dump "
                            + "again", c.process().pid(), a.start(), a.end()));
                }
            }
        }

        /** Injects a fork-like clone (no exit signal, so the application never hears of it), stopped at birth. */
        private void forkTwin(FrozenProcess t) throws SysException {
            Remote leader = t.remote(t.pid());
            ptrace.setOptions(t.pid(), Ptrace.O_TRACECLONE);
            long[] child;
            t.blockLeaderSignals();
            try {
                child = leader.cloneTraced(CLONE_FILES);
                twins.put(t, child);
                leader.restoreRegisters();
            } finally {
                t.unblockSignals();
            }
            Ptrace.Status st = ptrace.waitFor((int) child[0]);
            if (!st.stopped()) {
                throw new SysException("the twin of " + t.pid() + " " + st);
            }
            // Should telefork die now (an agent SIGKILLed), the twin dies with it instead of running on as
            // a second copy of the application; it is left a zombie of the original (exit signal 0).
            ptrace.setOptions((int) child[0], Ptrace.O_EXITKILL);
            ptrace.setOptions(t.pid(), 0);
        }

        /** Lets every process run again, children first, as each was found. */
        private void releaseAll() throws SysException {
            connections.thaw(); // before any thread runs again
            SysException failed = null;
            for (int i = targets.size() - 1; i >= 0; i--) {
                try {
                    targets.get(i).release();
                } catch (SysException e) {
                    failed = failed == null ? e : failed; // the others must be released all the same
                }
            }
            if (frozenAt != 0) {
                // The dumped process, released last, runs again only once its release (registers, signal
                // mask, scratch page, detach) is done.
                frozenNanos = System.nanoTime() - frozenAt;
                frozenAt = 0;
            }
            jit.close();
            if (failed != null) {
                throw failed;
            }
        }

        /**
         * Kills the twins and has each original reap its own (it is the original's child) in a second, short
         * freeze of its leader; if an original is gone meanwhile, init reaps its twin.
         */
        private void disposeTwins() throws Exception {
            Exception failed = null;
            for (FrozenProcess t : new ArrayList<>(twins.keySet())) {
                try {
                    long inTarget = killTwin(t);
                    if (t.refreezeLeader()) {
                        try {
                            waitTwinInTarget(t, inTarget);
                        } finally {
                            t.release();
                        }
                    }
                } catch (Exception e) {
                    failed = failed == null ? e : failed; // the others must be disposed of all the same
                }
            }
            if (failed != null) {
                throw failed;
            }
        }

        /** Kills a process's twin and collects its end here; returns its PID in the process's namespace. */
        private long killTwin(FrozenProcess t) throws SysException {
            long[] twin = twins.remove(t);
            Kernel.kill((int) twin[0], Sys.SIGKILL);
            Ptrace.Status st;
            do {
                st = ptrace.waitFor((int) twin[0]);
            } while (st.stopped());
            return twin[1];
        }

        private void waitTwinInTarget(FrozenProcess t, long twinInTarget) throws SysException {
            Remote r = t.remote(t.pid());
            t.blockLeaderSignals();
            try {
                for (int i = 0; i < 1000 && r.raw(SYS_WAIT4, twinInTarget, 0, WALL | WNOHANG, 0) == 0; i++) {
                    Thread.onSpinWait();
                }
                r.restoreRegisters();
            } finally {
                t.unblockSignals();
            }
        }

        /** The one cleanup path: kills the tree after a dump that was asked to, else lets it run as found. */
        private void finish(boolean success) {
            jit.close();
            if (frozenAt != 0) {
                frozenNanos = System.nanoTime() - frozenAt;
            }
            if (writer != null) {
                writer.close();
            }
            try {
                boolean frozen = targets.stream().anyMatch(FrozenProcess::frozen);
                if (!twins.isEmpty()) {
                    if (!frozen) {
                        disposeTwins();
                    } else {
                        for (FrozenProcess t : new ArrayList<>(twins.keySet())) {
                            waitTwinInTarget(t, killTwin(t));
                        }
                    }
                }
                if ((success && options.leaveStopped()) || (!success && commit.copyMayRun())) {
                    targets.forEach(FrozenProcess::stopOnRelease);
                } else if (success && !options.leaveRunning()) {
                    killTree();
                    connections.closeInRepair(); // the connections vanish without a FIN or RST
                    return;
                }
                releaseAll();
            } catch (Exception e) {
                // Nothing more can be done for it; the caller's error already says the dump failed.
                System.getLogger("telefork").log(System.Logger.Level.WARNING,
                        "could not fully release process " + pid + " and its descendants: " + e.getMessage());
            } finally {
                connections.thaw();
            }
        }

        /**
         * Kills the processes children first, each reaped at once by its still frozen parent (an injected
         * wait4), zombies too: none is left to an init that may reap orphans only now and then (about once
         * a second on some machines), so their PIDs are free for a restore as soon as the dump returns.
         */
        private void killTree() throws Exception {
            Map<Integer, FrozenProcess> byPid = new java.util.HashMap<>();
            targets.forEach(t -> byPid.put(t.pid(), t));
            for (int i = members.size() - 1; i > 0; i--) {
                ProcessTree.Member m = members.get(i);
                FrozenProcess t = byPid.get(m.pid());
                if (t != null) {
                    t.kill();
                }
                FrozenProcess parent = byPid.get(m.ppid());
                long child = pidInNamespace(m.pid());
                Remote r = parent.remote(parent.pid());
                parent.blockLeaderSignals();
                try {
                    r.raw(SYS_WAIT4, child, 0, WALL, 0);
                    r.restoreRegisters();
                } finally {
                    parent.unblockSignals();
                }
            }
            targets.get(0).kill();
        }

        /** A PID as the process's own PID namespace (and so its parent's) numbers it. */
        private long pidInNamespace(int p) {
            try {
                String[] ids = proc.status(p).getOrDefault("NSpid", Integer.toString(p)).trim().split("\\s+");
                return Long.parseLong(ids[ids.length - 1]);
            } catch (IOException | RuntimeException e) {
                return p;
            }
        }

    }
}
