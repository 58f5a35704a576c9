package io.telefork.restore;

import io.telefork.engine.Progress;
import io.telefork.image.Decoder;
import io.telefork.image.Format;
import io.telefork.image.ImageFormatException;
import io.telefork.image.ImageReader;
import io.telefork.image.LazyPlan;
import io.telefork.image.PageIndex;
import io.telefork.image.PageRecords;
import io.telefork.image.RecordType;
import io.telefork.sys.Kernel;
import io.telefork.sys.SysException;
import io.telefork.sys.Userfaultfd;

import com.sun.jna.Memory;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.BiPredicate;
import java.util.function.Supplier;

/**
 * Fills the registered memory of a running process through its userfaultfd: a fault server thread
 * answers its page faults (a 64 KiB granule around the fault, from the image file by its INDEX) and
 * follows its non-cooperative events (fork, mremap, madvise(DONTNEED), munmap); a pusher thread reads the
 * rest of the image in one pass, verifying it to its digest, and copies every record in. Both claim
 * pages in {@link LazyTarget} before copying, so no page is copied twice.
 *
 * <p>From a stream (no file to fetch pages from out of order) only the pusher copies: the fault server
 * answers a fault on a page that the image's LAZY record does not list, or that the stream has gone past
 * without (the pages come in the order of the record's runs), with a zero page, and leaves any other
 * fault waiting until the pusher has copied its page.
 *
 * <p>Ordering with the kernel: while an event is queued, UFFDIO_COPY fails with EAGAIN (mmap_changing),
 * and events are read only under the write lock, copies done only under the read lock: so a copy never
 * lands on a range whose move or removal has been read but not yet applied to the layout. A copy that
 * got EAGAIN keeps its claim and is retried after the events.
 */
final class LazyServer implements AutoCloseable {
    private static final long PAGE = Format.PAGE_SIZE;
    /** What one fault brings in: measured to balance fault latency against the number of faults. */
    private static final long GRANULE = 64 * 1024;
    private static final int MAX_MSGS = 64;
    /** Test-only: milliseconds the pusher waits after each record, so that tests can act during the lazy phase. */
    static final String PUSH_DELAY_ENV = "TELEFORK_TEST_LAZY_PUSH_DELAY_MS";

    /** A claimed, contiguous run of source pages of one target, from the PAGES record at {@code offset}. */
    private record Run(LazyTarget target, long source, int pages, long offset) {
    }

    private enum Copied { DONE, RETRY }

    /** Random access to the image's records, one per thread that fetches; null from a stream. */
    private final Supplier<PageRecords> records;
    private final PageIndex index;
    /** From a stream: the pages still to come, once the LAZY record is read. */
    private volatile LazyPlan plan;
    /** From a stream: where the pusher is in the LAZY record's runs of an image process. */
    private record Position(int run, long end) {
        static final Position START = new Position(-1, 0);
        static final Position DONE = new Position(Integer.MAX_VALUE, 0);

        /** Whether the stream has gone past the page at {@code address} of run {@code r}. */
        boolean past(int r, long address) {
            return run > r || (run == r && Long.compareUnsigned(address, end) < 0);
        }
    }

    private final Map<Integer, Position> pushedTo = new ConcurrentHashMap<>();
    /** From a stream: runs claimed for a child forked while the pusher copied them, which the pusher copies. */
    private final Queue<Run> owedByPusher = new ConcurrentLinkedQueue<>();
    private final BiPredicate<Integer, Long> lazyArea;
    private final Progress progress;
    private final long pushDelayMillis;
    private final List<LazyTarget> targets = new CopyOnWriteArrayList<>();
    private final ReentrantReadWriteLock layout = new ReentrantReadWriteLock();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final AtomicLong pushedBytes = new AtomicLong();
    private final AtomicLong faults = new AtomicLong();
    /** The pushers' runs waiting for a retry (each added and removed under the read lock). */
    private final java.util.Set<Run> pusherRetries = ConcurrentHashMap.newKeySet();
    private volatile boolean pushed;
    /** System.nanoTime() once the pusher has copied the last PAGES record (the image's END may still be ahead). */
    private volatile long copiedAt;
    private volatile boolean finished;
    private volatile boolean stopping;
    /** The pusher closes the userfaultfds as it ends: close() could not wait for it (see there). */
    private boolean closedByPusher;
    private Thread server;
    private Thread pusher;

    /**
     * @param processes the restored processes, one per process of the image
     * @param lazyArea  whether an address of an image process is in an area filled lazily (the others were
     *                  written before the processes ran, and the pusher skips their records)
     */
    LazyServer(Supplier<PageRecords> records, PageIndex index, List<LazyTarget> processes,
               BiPredicate<Integer, Long> lazyArea,
               Progress progress, long pushDelayMillis) {
        this.records = records;
        this.index = index;
        this.lazyArea = lazyArea;
        if ((records == null) != (index == null)) {
            throw new IllegalArgumentException("records and an index, or neither (a stream)");
        }
        this.progress = progress;
        this.pushDelayMillis = pushDelayMillis;
        targets.addAll(processes);
    }

    /** From a stream: filled by the pusher alone, whose pages are listed in the LAZY record. */
    static LazyServer fromStream(List<LazyTarget> processes, BiPredicate<Integer, Long> lazyArea, Progress progress,
                                 long pushDelayMillis) {
        return new LazyServer(null, null, processes, lazyArea, progress, pushDelayMillis);
    }

    private boolean streaming() {
        return records == null;
    }

    /** From a stream, before the processes run: the LAZY record, which lists the pages still to come. */
    void expect(LazyPlan rest) {
        plan = rest;
    }

    /** From a stream, before the processes run: a record of a lazily filled area that came before the LAZY record. */
    void pushNow(int pid, ImageReader.Record r) throws Exception {
        pushToAll(pid, r);
    }

    static long pushDelayFromEnvironment() {
        String v = System.getenv(PUSH_DELAY_ENV);
        try {
            return v == null ? 0 : Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** Starts answering faults: needed before the process runs already, as injected calls touch its memory. */
    void startServing() {
        server = new Thread(this::serve, "telefork-lazy-faults");
        server.setDaemon(true);
        server.start();
    }

    /**
     * Starts the pusher on {@code reader}, positioned at the first page record (from a stream: the first
     * after the LAZY record, before the processes run, as their last injected calls may need its pages).
     */
    void startPushing(ImageReader reader) {
        if (pusher != null) {
            return;
        }
        pusher = new Thread(() -> push(reader), "telefork-lazy-pusher");
        pusher.setDaemon(true);
        pusher.start();
    }

    /**
     * Every page is in (or the processes are gone) and the whole image verified, or something failed:
     * see {@link #failure()}.
     */
    boolean finished() {
        return (finished && pushed) || failure.get() != null;
    }

    Throwable failure() {
        return failure.get();
    }

    long pushedBytes() {
        return pushedBytes.get();
    }

    /** System.nanoTime() when the pusher had copied its last record, or 0. */
    long copiedAt() {
        return copiedAt;
    }

    long faults() {
        return faults.get();
    }

    /**
     * Stops both threads and lets go of every userfaultfd: missing pages become zero-fill-on-demand. A
     * pusher blocked on a stream that sends nothing more is not waited for: it closes the userfaultfds
     * itself once its read returns, so that it never copies into a descriptor number reused meanwhile.
     */
    @Override
    public void close() {
        stopping = true;
        join(server, 0);
        boolean pusherEnded = join(pusher, streaming() ? 1000 : 0);
        synchronized (this) {
            if (!pusherEnded) {
                closedByPusher = true;
                return;
            }
        }
        closeAll();
    }

    private void closeAll() {
        for (LazyTarget t : targets) {
            Kernel.close(t.uffd());
        }
        targets.clear();
    }

    /** Whether the thread has ended (0: waits as long as it takes). */
    private static boolean join(Thread t, long millis) {
        if (t == null) {
            return true;
        }
        try {
            t.join(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return !t.isAlive();
    }

    private void fail(Throwable e) {
        failure.compareAndSet(null, e);
        stopping = true;
    }

    // ---------------------------------------------------------------- the pusher

    /**
     * The pusher: reads the image's records in one pass (each checked against its CRC32C, the digest at the
     * END) and copies the pages of the lazy areas in. From a file, every other record is copied by a second
     * thread ({@link PageWriters}), as copying into fresh pages is most of the work; a stream's records
     * last only until the next is read.
     */
    private void push(ImageReader reader) {
        reader.deferPageChecks(); // each record checked by the thread that copies it
        try (PageWriters helper = new PageWriters()) {
            ImageReader.Record r;
            int pid = targets.get(0).imagePid(); // an image of version 1 has no PAGES_OF: one process
            Integer group = null;
            boolean other = false;
            while (!stopping && (r = reader.next()) != null && !stopping) {
                if (r.type() == RecordType.PAGES_OF) {
                    pid = new Decoder(r.payload()).i32();
                    if (streaming()) {
                        if (group != null) {
                            pushedTo.put(group, Position.DONE);
                        }
                        if (pushedTo.putIfAbsent(pid, Position.START) != null) {
                            throw new ImageFormatException("a second group of pages of process " + pid
                                    + " after the LAZY record, at byte " + r.offset());
                        }
                        group = pid;
                    }
                } else if (r.type() == RecordType.PAGES) {
                    if (lazyArea.test(pid, r.address())) {
                        other = !other;
                        if (!streaming() && other && reader.stays(r)) {
                            int of = pid;
                            ImageReader.Record record = r;
                            helper.submit(() -> pushCounted(of, record));
                        } else {
                            Position next = streaming() ? advance(pid, r) : null;
                            pushCounted(pid, r);
                            if (next != null) {
                                pushedTo.put(pid, next);
                            }
                        }
                    } else if (streaming()) {
                        throw new ImageFormatException("PAGES record at byte " + r.offset() + " comes after the "
                                + "LAZY record but holds memory that is filled before the process runs");
                    } else {
                        // Filled before the process ran, and checked then; checked here too, as its address
                        // was read unchecked: a corrupt one must not send a lazy record past the pusher.
                        r.checkedPages();
                    }
                    progress.update(reader.offset(), -1);
                } else if (r.type() != RecordType.INDEX && r.type() != RecordType.END
                        && !(r.type() == RecordType.LAZY && !streaming())) {
                    throw new ImageFormatException("unexpected " + r.type() + " record among pages");
                }
            }
            helper.await();
            pushed = true;
        } catch (Throwable e) {
            fail(e);
        } finally {
            synchronized (this) {
                if (closedByPusher) {
                    closeAll();
                }
            }
        }
    }

    /** Copies record {@code r} into every process restored from image process {@code pid}, and counts it. */
    private void pushCounted(int pid, ImageReader.Record r) throws Exception {
        boolean any = pushToAll(pid, r);
        pushedBytes.addAndGet((long) r.pageCount() * PAGE);
        copiedAt = System.nanoTime();
        if (pushDelayMillis > 0 && any) {
            Thread.sleep(pushDelayMillis);
        }
    }

    /**
     * From a stream: where the pusher is once it has copied record {@code r}, which must lie in a run of the
     * LAZY record that does not come before the last one's (and within the same run, after it).
     */
    private Position advance(int pid, ImageReader.Record r) throws ImageFormatException {
        LazyPlan rest = plan;
        int run = rest.runOf(pid, r.address());
        long end = r.address() + r.pageCount() * PAGE;
        Position at = pushedTo.getOrDefault(pid, Position.START);
        if (run < 0 || rest.runOf(pid, end - PAGE) != run || at.past(run, r.address())) {
            throw new ImageFormatException("PAGES record at byte " + r.offset() + " is not where the LAZY record "
                    + "says the pages come");
        }
        return new Position(run, end);
    }

    /**
     * Copies a record into every live process restored from image process {@code pid}; false if there is
     * none. A process forked while the record goes in is given it too: forked from one that had not had
     * it yet, it lacks its pages, and from a stream nobody else will bring them.
     */
    private boolean pushToAll(int pid, ImageReader.Record r) throws Exception {
        java.util.Set<LazyTarget> done = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        ByteBuffer pages = r.checkedPages();
        boolean more = true;
        while (more) {
            more = false;
            for (LazyTarget t : targets) {
                if (!t.gone() && t.imagePid() == pid && done.add(t)) {
                    pushRecord(t, r.address(), r.pageCount(), pages, r.offset());
                    more = true;
                }
            }
        }
        return !done.isEmpty();
    }

    private void pushRecord(LazyTarget t, long address, int count, ByteBuffer pages, long offset) throws Exception {
        layout.readLock().lock();
        try {
            BitSet won = t.claim(address, count);
            for (int i = won.nextSetBit(0); i >= 0; ) {
                int end = won.nextClearBit(i);
                pushRun(new Run(t, address + i * PAGE, end - i, offset), address, count, pages);
                i = end >= count ? -1 : won.nextSetBit(end);
            }
            // Forked meanwhile: the child lacks what was claimed here but not copied at the fork.
            Run owed;
            while ((owed = owedByPusher.poll()) != null) {
                pushRun(owed, address, count, pages);
            }
        } finally {
            layout.readLock().unlock();
        }
    }

    /** Copies a run of the record at {@code address}, waiting out the events that hold it up (under the read lock). */
    private void pushRun(Run run, long address, int count, ByteBuffer pages) throws SysException {
        LazyTarget t = run.target();
        ByteBuffer data = pages.duplicate().position((int) (run.source() - address));
        Run retry = null;
        while (copyRun(run, data) == Copied.RETRY && !t.gone() && !stopping) {
            // What a fork now must give the child: this run and every page claimed after it in the record.
            if (retry != null) {
                pusherRetries.remove(retry);
            }
            retry = new Run(t, run.source(), (int) ((address + count * PAGE - run.source()) / PAGE), run.offset());
            pusherRetries.add(retry);
            layout.readLock().unlock();
            LockSupport.parkNanos(50_000);
            layout.readLock().lock();
        }
        if (retry != null) {
            pusherRetries.remove(retry);
        }
    }

    // ---------------------------------------------------------------- the fault server

    private record Fault(LazyTarget target, long address) {
    }

    private void serve() {
        PageRecords records = streaming() ? null : this.records.get();
        Deque<Fault> pending = new ArrayDeque<>();
        Deque<Run> owed = new ArrayDeque<>();
        try (Memory msgs = new Memory((long) Userfaultfd.MSG_BYTES * MAX_MSGS)) {
            while (!stopping) {
                List<LazyTarget> live = targets.stream().filter(t -> !t.gone()).toList();
                if (live.isEmpty() || (pushed && owed.isEmpty() && pending.isEmpty())) {
                    break;
                }
                int[] fds = live.stream().mapToInt(LazyTarget::uffd).toArray();
                Userfaultfd.poll(fds, pending.isEmpty() && owed.isEmpty() ? 20 : 1);

                layout.writeLock().lock();
                try {
                    for (LazyTarget t : live) {
                        int n;
                        while ((n = Userfaultfd.read(t.uffd(), msgs)) > 0) {
                            for (int i = 0; i < n; i++) {
                                handle(t, msgs, (long) i * Userfaultfd.MSG_BYTES, pending, owed);
                            }
                        }
                    }
                } finally {
                    layout.writeLock().unlock();
                }

                layout.readLock().lock();
                try {
                    for (int k = owed.size(); k > 0; k--) {
                        Run run = owed.poll();
                        if (run.target().gone()) {
                            continue;
                        }
                        PageRecords.Pages rec = records.fetch(run.offset());
                        ByteBuffer data = rec.pages().duplicate().position((int) (run.source() - rec.address()));
                        if (copyRun(run, data) == Copied.RETRY) {
                            owed.add(run);
                        }
                    }
                    for (int k = pending.size(); k > 0; k--) {
                        Fault f = pending.poll();
                        if (!f.target().gone() && !serveFault(f, records, owed)) {
                            pending.add(f);
                        }
                    }
                } finally {
                    layout.readLock().unlock();
                }
            }
            if (!stopping) {
                finished = true;
            }
        } catch (Throwable e) {
            fail(e);
        }
    }

    private void handle(LazyTarget t, Memory msgs, long at, Deque<Fault> pending, Deque<Run> owed) {
        int event = msgs.getByte(at) & 0xff;
        switch (event) {
            case Userfaultfd.EVENT_PAGEFAULT -> {
                faults.incrementAndGet();
                pending.add(new Fault(t, msgs.getLong(at + 16)));
            }
            case Userfaultfd.EVENT_FORK -> {
                LazyTarget child = t.forked(0, msgs.getInt(at + 8));
                // Claimed in the parent but not copied yet: the child's copy of the claim is owed to it.
                List<Run> unfinished = new ArrayList<>(owed);
                unfinished.addAll(pusherRetries);
                for (Run r : unfinished) {
                    if (r.target() == t) {
                        (streaming() ? owedByPusher : owed).add(new Run(child, r.source(), r.pages(), r.offset()));
                    }
                }
                targets.add(child);
            }
            case Userfaultfd.EVENT_REMAP -> t.move(msgs.getLong(at + 8), msgs.getLong(at + 16), msgs.getLong(at + 24));
            case Userfaultfd.EVENT_REMOVE, Userfaultfd.EVENT_UNMAP -> {
                long start = msgs.getLong(at + 8);
                long end = msgs.getLong(at + 16);
                t.drop(start, end - start);
                // A thread waiting on a page of that range retries, and finds it zero (or gone).
                Userfaultfd.wake(t.uffd(), start, end - start);
            }
            default -> {
                // other events are not enabled
            }
        }
    }

    /** Serves one fault; false when it must be tried again after the next events. */
    private boolean serveFault(Fault f, PageRecords records, Deque<Run> owed) throws Exception {
        LazyTarget t = f.target();
        long page = f.address() & -PAGE;
        long source = t.source(page);
        if (streaming()) {
            LazyPlan rest = plan;
            if (rest == null) {
                return false; // the process does not run yet: the LAZY record is read before it does
            }
            int run = source < 0 ? -1 : rest.runOf(t.imagePid(), source);
            if (run >= 0 && !pushed && !pushedTo.getOrDefault(t.imagePid(), Position.START).past(run, source)) {
                return false; // still to come: the pusher's copy wakes the thread, or the stream passes it by
            }
        }
        PageIndex.Entry e = source < 0 || streaming() ? null : index.find(t.imagePid(), source);
        if (e == null) {
            // Not in the image (never populated, or dropped by the program since), or copied meanwhile: zero
            // (EEXIST when copied).
            long r = Userfaultfd.zeroPage(t.uffd(), page, PAGE);
            if (r == -Userfaultfd.EAGAIN) {
                return false;
            }
            if (r == -Userfaultfd.ESRCH) {
                t.markGone();
            } else if (r == -Userfaultfd.ENOENT) {
                Userfaultfd.wake(t.uffd(), page, PAGE);
            } else if (r < 0 && r != -Userfaultfd.EEXIST) {
                throw new SysException(String.format("UFFDIO_ZEROPAGE at 0x%x", page), (int) -r);
            }
            return true;
        }
        long recordEnd = e.address() + e.pages() * PAGE;
        long from = Math.max(e.address(), source & -GRANULE);
        long to = Math.min(recordEnd, (source & -GRANULE) + GRANULE);
        int pages = (int) ((to - from) / PAGE);
        BitSet won = t.claim(from, pages);
        if (won.isEmpty()) {
            return true; // being copied by the pusher, whose copy wakes the faulting thread
        }
        PageRecords.Pages rec = records.fetch(e);
        for (int i = won.nextSetBit(0); i >= 0; ) {
            int end = won.nextClearBit(i);
            Run run = new Run(t, from + i * PAGE, end - i, e.offset());
            ByteBuffer data = rec.pages().duplicate().position((int) (run.source() - rec.address()));
            if (copyRun(run, data) == Copied.RETRY) {
                owed.add(run);
            }
            i = end >= pages ? -1 : won.nextSetBit(end);
        }
        return true;
    }

    // ---------------------------------------------------------------- copying

    /** Copies a claimed run to wherever its pages live now; {@code data} is positioned at its first page. */
    private Copied copyRun(Run run, ByteBuffer data) throws SysException {
        LazyTarget t = run.target();
        for (long[] piece : t.placesOf(run.source(), run.pages() * PAGE)) {
            int offset = data.position() + (int) (piece[1] - run.source());
            if (copyPiece(t, piece[0], data, offset, piece[2]) == Copied.RETRY) {
                return Copied.RETRY;
            }
            if (t.gone()) {
                return Copied.DONE;
            }
        }
        return Copied.DONE;
    }

    private Copied copyPiece(LazyTarget t, long address, ByteBuffer data, int offset, long length)
            throws SysException {
        long done = 0;
        while (done < length) {
            ByteBuffer src = data.duplicate().position((int) (offset + done));
            long r = Userfaultfd.copy(t.uffd(), address + done, src, (int) (length - done));
            if (r > 0) {
                done += r;
                continue;
            }
            int err = (int) -r;
            if (err == Userfaultfd.EAGAIN) {
                return Copied.RETRY;
            }
            if (err == Userfaultfd.ESRCH) {
                t.markGone();
                return Copied.DONE;
            }
            if (err == Userfaultfd.EEXIST) {
                done += PAGE; // there already: copied before a retry, or the program's own
                continue;
            }
            if (length - done > PAGE && (err == Userfaultfd.ENOENT || err == 22)) {
                // The range spans areas now (mprotect split it, or part is unmapped): page by page.
                long one = Userfaultfd.copy(t.uffd(), address + done, src, (int) PAGE);
                if (one == -Userfaultfd.EAGAIN) {
                    return Copied.RETRY;
                }
                if (one > 0 || one == -Userfaultfd.EEXIST || one == -Userfaultfd.ENOENT) {
                    done += PAGE;
                    continue;
                }
                err = (int) -one;
            } else if (err == Userfaultfd.ENOENT) {
                done += PAGE; // unmapped: its unmap event drops it from the layout
                continue;
            }
            throw new SysException(String.format("UFFDIO_COPY at 0x%x", address + done), err);
        }
        return Copied.DONE;
    }
}
