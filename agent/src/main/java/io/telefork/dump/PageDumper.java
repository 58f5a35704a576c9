package io.telefork.dump;

import io.telefork.engine.Progress;
import io.telefork.image.BufferPool;
import io.telefork.image.Format;
import io.telefork.image.ImageWriter;
import io.telefork.image.MemoryArea;
import io.telefork.proc.ProcFs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Writes the pages worth storing: populated pages (pagemap) of anonymous memory, pages of private file
 * mappings that differ from the file, never all-zero anonymous pages, never shared file pages.
 */
final class PageDumper {
    private static final int PAGE = Format.PAGE_SIZE;
    private static final int RUN = Format.MAX_RUN_PAGES;

    private final ProcFs proc;
    private final int pid;
    private List<MemoryArea> areas = List.of();
    /** Pages written by {@link #dumpFirstTouched}, which no later plan includes. */
    private final java.util.TreeSet<Long> firstTouched = new java.util.TreeSet<>();
    private long[][] maps;
    private final ImageWriter writer;
    private final Progress progress;
    private final ByteBuffer zero = ByteBuffer.allocateDirect(PAGE);
    private final SharedPages sharedPages;
    private long estimate;

    PageDumper(ProcFs proc, int pid, ImageWriter writer, Progress progress, SharedPages sharedPages) {
        this.proc = proc;
        this.pid = pid;
        this.writer = writer;
        this.progress = progress;
        this.sharedPages = sharedPages;
    }

    /**
     * The pages of shared memory objects already stored, per object (its inode), by object page offset:
     * a page that several mappings of one object have populated, in one process or several of a tree, is
     * stored once (a restore makes the object once, see FORMAT.md).
     */
    static final class SharedPages {
        private final Map<Long, BitSet> stored = new HashMap<>();

        /** True the first time a page is claimed. */
        boolean claim(MemoryArea a, int pageInArea) {
            BitSet pages = stored.computeIfAbsent(a.file().ino(), k -> new BitSet());
            int at = (int) (a.offset() / PAGE) + pageInArea;
            if (pages.get(at)) {
                return false;
            }
            pages.set(at);
            return true;
        }
    }

    /**
     * Reads, from process {@code from}'s pagemap, which pages the areas {@code which} selects have
     * populated. The frozen process, or after the fork its copy-on-write twin, whose page tables hold the
     * same anonymous pages: reading them there keeps the page-table walk out of the freeze.
     */
    void plan(List<MemoryArea> areas, Predicate<MemoryArea> which, int from) throws IOException {
        if (maps == null) {
            this.areas = areas;
            maps = new long[areas.size()][];
        }
        for (int i = 0; i < areas.size(); i++) {
            MemoryArea a = areas.get(i);
            if (stores(a) && which.test(a)) {
                maps[i] = proc.pagemap(from, a.start(), a.end());
                for (long page : firstTouched.subSet(a.start(), a.end())) {
                    maps[i][(int) ((page - a.start()) / PAGE)] = 0; // written already
                }
                if (a.kind() == MemoryArea.Kind.SHARED_ANONYMOUS && a.file().ino() != 0) {
                    for (int k = 0; k < maps[i].length; k++) {
                        if (wanted(a, maps[i][k]) && !sharedPages.claim(a, k)) {
                            maps[i][k] = 0; // stored with an earlier mapping of the same object
                        }
                    }
                }
                for (long e : maps[i]) {
                    if (wanted(a, e)) {
                        estimate += PAGE;
                    }
                }
            }
        }
    }

    /** Writes the planned pages of the areas {@code which} selects, read from {@code memory}. */
    long dump(MemorySource memory, Predicate<MemoryArea> which) throws IOException {
        return dump(memory, which, false);
    }

    /** As {@link #dump(MemorySource, Predicate)}; {@code smallFirst}: the areas by size, smallest first. */
    long dump(MemorySource memory, Predicate<MemoryArea> which, boolean smallFirst) throws IOException {
        long stored = 0;
        for (int i : order(smallFirst)) {
            if (maps[i] != null && which.test(areas.get(i))) {
                stored += dumpArea(memory, areas.get(i), maps[i]);
            }
        }
        return stored;
    }

    /** Area indexes in address order, or by size (then address). */
    private int[] order(boolean smallFirst) {
        java.util.stream.IntStream all = java.util.stream.IntStream.range(0, areas.size());
        if (!smallFirst) {
            return all.toArray();
        }
        return all.boxed().sorted(java.util.Comparator.comparingLong((Integer i) -> areas.get(i).length())
                .thenComparingInt(i -> i)).mapToInt(Integer::intValue).toArray();
    }

    /**
     * Writes the populated pages at {@code addresses} that lie in lazily filled areas, zero or not: the
     * pages a restored process touches as it starts (its threads' TLS and rseq areas), which a lazy restore
     * from a stream writes before the process runs. Their areas, planned after this, leave them out.
     */
    long dumpFirstTouched(MemorySource memory, List<MemoryArea> all, int from, java.util.Collection<Long> addresses)
            throws IOException {
        java.util.TreeSet<Long> pages = new java.util.TreeSet<>();
        for (long address : addresses) {
            pages.add(address & -PAGE);
        }
        pages.removeAll(firstTouched);
        long stored = 0;
        for (long page : pages) {
            int i = 0;
            while (i < all.size() && !all.get(i).contains(page)) {
                i++;
            }
            MemoryArea a = i < all.size() ? all.get(i) : null;
            boolean planned = maps != null && i < maps.length && maps[i] != null; // written in the freeze
            if (a == null || planned || !a.filledLazily() || (a.prot() & MemoryArea.PROT_READ) == 0
                    || !wanted(a, proc.pagemap(from, page, page + PAGE)[0])) {
                continue;
            }
            BufferPool.Lease lease = writer.pageBuffer();
            try {
                memory.read(page, lease.buffer(), PAGE, true);
                writer.writePages(page, lease, 0, PAGE);
                firstTouched.add(page);
                stored += PAGE;
            } finally {
                lease.release();
            }
        }
        return stored;
    }

    /**
     * The runs of pages planned for the areas {@code which} selects, as {address, pages} pairs in the order
     * {@link #dump(MemorySource, Predicate, boolean)} writes them (it leaves out pages that turn out all zero).
     */
    List<long[]> planned(Predicate<MemoryArea> which, boolean smallFirst) {
        List<long[]> runs = new java.util.ArrayList<>();
        for (int i : order(smallFirst)) {
            MemoryArea a = areas.get(i);
            long[] map = maps[i];
            if (map == null || !which.test(a)) {
                continue;
            }
            for (int k = 0; k < map.length; ) {
                if (!wanted(a, map[k])) {
                    k++;
                    continue;
                }
                int j = k;
                while (j < map.length && wanted(a, map[j])) {
                    j++;
                }
                runs.add(new long[] {a.start() + (long) k * PAGE, j - k});
                k = j;
            }
        }
        return runs;
    }

    /**
     * Areas whose content a copy-on-write twin does not hold as it was at the fork: MAP_SHARED (live in
     * both), MADV_DONTFORK (absent from the twin) and MADV_WIPEONFORK (zero in the twin).
     */
    static boolean notInTwin(MemoryArea a) {
        return a.shared() || a.hasVmFlag("sh") || a.hasVmFlag("dc") || a.hasVmFlag("wf");
    }

    static boolean stores(MemoryArea a) {
        return switch (a.kind()) {
            case ANONYMOUS, HEAP, STACK, SHARED_ANONYMOUS, FILE_PRIVATE, GHOST_PRIVATE -> true;
            case FILE_SHARED, GHOST_SHARED, VDSO, VVAR, VSYSCALL -> false;
        };
    }

    private static boolean wanted(MemoryArea a, long entry) {
        boolean populated = (entry & (ProcFs.PM_PRESENT | ProcFs.PM_SWAPPED)) != 0;
        if (isPrivateFile(a)) {
            // A page still shared with the page cache is the file's; a private copy is anonymous.
            return populated && (entry & ProcFs.PM_FILE) == 0;
        }
        return populated;
    }

    /** MAP_PRIVATE of a file: a page may differ from the file's even when zero. */
    private static boolean isPrivateFile(MemoryArea a) {
        return a.kind() == MemoryArea.Kind.FILE_PRIVATE || a.kind() == MemoryArea.Kind.GHOST_PRIVATE;
    }

    private long dumpArea(MemorySource memory, MemoryArea a, long[] map) throws IOException {
        boolean readable = (a.prot() & MemoryArea.PROT_READ) != 0;
        boolean skipZero = !isPrivateFile(a);
        long stored = 0;
        int i = 0;
        while (i < map.length) {
            if (!wanted(a, map[i])) {
                i++;
                continue;
            }
            int j = i;
            while (j < map.length && j - i < RUN && wanted(a, map[j])) {
                j++;
            }
            long address = a.start() + (long) i * PAGE;
            int length = (j - i) * PAGE;
            BufferPool.Lease lease = writer.pageBuffer();
            try {
                memory.read(address, lease.buffer(), length, readable);
                stored += writeNonZero(lease, address, j - i, skipZero);
            } finally {
                lease.release();
            }
            progress.update(writer.bytesWritten(), estimate);
            i = j;
        }
        return stored;
    }

    /** Writes the buffer's first {@code pages} pages as runs, leaving out all-zero pages if asked. */
    private long writeNonZero(BufferPool.Lease lease, long address, int pages, boolean skipZero) throws IOException {
        ByteBuffer page = lease.buffer().duplicate();
        long stored = 0;
        int runStart = -1;
        for (int p = 0; p <= pages; p++) {
            boolean keep = p < pages && !(skipZero && isZero(page, p));
            if (keep && runStart < 0) {
                runStart = p;
            } else if (!keep && runStart >= 0) {
                writer.writePages(address + (long) runStart * PAGE, lease, runStart * PAGE, (p - runStart) * PAGE);
                stored += (long) (p - runStart) * PAGE;
                runStart = -1;
            }
        }
        return stored;
    }

    /** Whether page {@code index} of the buffer is all zero; {@code view} is moved over it (no allocation per page). */
    private boolean isZero(ByteBuffer view, int index) {
        view.limit((index + 1) * PAGE).position(index * PAGE);
        return view.mismatch(zero) == -1;
    }
}
