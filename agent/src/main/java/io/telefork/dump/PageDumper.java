package io.telefork.dump;

import io.telefork.engine.Progress;
import io.telefork.image.BufferPool;
import io.telefork.image.Format;
import io.telefork.image.ImageWriter;
import io.telefork.image.MemoryArea;
import io.telefork.proc.ProcFs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * Writes the pages worth storing: populated pages (pagemap) of anonymous memory, pages of private file
 * mappings that differ from the file, never all-zero anonymous pages, never shared file pages.
 */
final class PageDumper {
    private static final int PAGE = Format.PAGE_SIZE;
    private static final int RUN = Format.MAX_RUN_PAGES;

    private final ProcFs proc;
    private final int pid;
    private final MemorySource memory;
    private final ImageWriter writer;
    private final Progress progress;
    private final ByteBuffer zero = ByteBuffer.allocateDirect(PAGE);
    private long estimate;

    PageDumper(ProcFs proc, int pid, MemorySource memory, ImageWriter writer, Progress progress) {
        this.proc = proc;
        this.pid = pid;
        this.memory = memory;
        this.writer = writer;
        this.progress = progress;
    }

    /** Returns bytes of page data stored. */
    long dump(List<MemoryArea> areas) throws IOException {
        long[][] maps = new long[areas.size()][];
        for (int i = 0; i < areas.size(); i++) {
            MemoryArea a = areas.get(i);
            if (stores(a)) {
                maps[i] = proc.pagemap(pid, a.start(), a.end());
                for (long e : maps[i]) {
                    if (wanted(a, e)) {
                        estimate += PAGE;
                    }
                }
            }
        }
        long stored = 0;
        for (int i = 0; i < areas.size(); i++) {
            if (maps[i] != null) {
                stored += dumpArea(areas.get(i), maps[i]);
            }
        }
        return stored;
    }

    static boolean stores(MemoryArea a) {
        return switch (a.kind()) {
            case ANONYMOUS, HEAP, STACK, SHARED_ANONYMOUS, FILE_PRIVATE -> true;
            case FILE_SHARED, VDSO, VVAR, VSYSCALL -> false;
        };
    }

    private static boolean wanted(MemoryArea a, long entry) {
        boolean populated = (entry & (ProcFs.PM_PRESENT | ProcFs.PM_SWAPPED)) != 0;
        if (a.kind() == MemoryArea.Kind.FILE_PRIVATE) {
            // A page still shared with the page cache is the file's; a private copy is anonymous.
            return populated && (entry & ProcFs.PM_FILE) == 0;
        }
        return populated;
    }

    private long dumpArea(MemoryArea a, long[] map) throws IOException {
        boolean readable = (a.prot() & MemoryArea.PROT_READ) != 0;
        boolean skipZero = a.kind() != MemoryArea.Kind.FILE_PRIVATE;
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
        ByteBuffer buffer = lease.buffer();
        long stored = 0;
        int runStart = -1;
        for (int p = 0; p <= pages; p++) {
            boolean keep = p < pages && !(skipZero && isZero(buffer, p));
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

    private boolean isZero(ByteBuffer buffer, int page) {
        ByteBuffer view = buffer.duplicate();
        view.position(page * PAGE).limit((page + 1) * PAGE);
        return view.mismatch(zero.duplicate().clear()) == -1;
    }
}
