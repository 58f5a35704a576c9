package io.telefork.image;

import java.util.ArrayList;
import java.util.List;

/**
 * The LAZY record's content (format 3): the runs of pages that follow it in the stream, per process. A
 * restore that lets the processes run before those pages have arrived answers a fault on a page outside
 * every run with a zero page at once, and makes a fault on a page of a run wait for it. A run may hold
 * pages the stream leaves out after all (all zero when they were read): once the stream is past a run's
 * page without it, the page is zero.
 */
public record LazyPlan(List<Run> runs) {

    /** {@code pages} pages of process {@code pid} from {@code address}. */
    public record Run(int pid, long address, int pages) {
    }

    public LazyPlan {
        runs = List.copyOf(runs);
    }

    public byte[] encode() {
        Encoder e = new Encoder().i32(runs.size());
        for (Run r : runs) {
            e.i32(r.pid).i64(r.address).i32(r.pages);
        }
        return e.toByteArray();
    }

    /** Decodes a LAZY payload, insisting on runs sorted by pid, then address, and not overlapping. */
    public static LazyPlan decode(byte[] payload) throws ImageFormatException {
        Decoder d = new Decoder(payload);
        int n = d.count(16);
        List<Run> list = new ArrayList<>(n);
        Run last = null;
        for (int i = 0; i < n; i++) {
            Run r = new Run(d.i32(), d.i64(), d.i32());
            if (r.pages <= 0 || r.address % Format.PAGE_SIZE != 0
                    || (last != null && (r.pid < last.pid || (r.pid == last.pid
                    && Long.compareUnsigned(r.address, last.address + (long) last.pages * Format.PAGE_SIZE) < 0)))) {
                throw new ImageFormatException("LAZY record: run " + i + " is empty, unaligned or out of order");
            }
            list.add(r);
            last = r;
        }
        d.expectEnd();
        return new LazyPlan(list);
    }

    /** Whether the page at {@code address} of process {@code pid} is in one of the runs. */
    public boolean holds(int pid, long address) {
        int lo = 0;
        int hi = runs.size() - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            Run r = runs.get(mid);
            int byPid = Integer.compare(pid, r.pid);
            if (byPid < 0 || (byPid == 0 && Long.compareUnsigned(address, r.address) < 0)) {
                hi = mid - 1;
            } else if (byPid > 0 || Long.compareUnsigned(address, r.address + (long) r.pages * Format.PAGE_SIZE) >= 0) {
                lo = mid + 1;
            } else {
                return true;
            }
        }
        return false;
    }

    public long pageBytes() {
        return runs.stream().mapToLong(r -> (long) r.pages * Format.PAGE_SIZE).sum();
    }
}
