package io.telefork.image;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;

/**
 * The LAZY record's content (format 3): the runs of pages that follow it in the stream, in the order they
 * come (per process, in one group). A restore that lets the processes run before those pages have arrived
 * answers a fault on a page outside every run with a zero page at once, and makes a fault on a page of a
 * run wait for it. A run may hold pages the stream leaves out after all (all zero when they were read):
 * once the stream is past such a page, it is zero.
 */
public final class LazyPlan {

    /** {@code pages} pages of process {@code pid} from {@code address}. */
    public record Run(int pid, long address, int pages) {
        long end() {
            return address + (long) pages * Format.PAGE_SIZE;
        }
    }

    /** Indexes of {@link #runs} sorted by pid, then address: for lookups by address. */
    private static int[] byAddress(List<Run> runs) {
        return IntStream.range(0, runs.size()).boxed()
                .sorted(Comparator.comparingInt((Integer i) -> runs.get(i).pid)
                        .thenComparing(i -> runs.get(i).address, Long::compareUnsigned))
                .mapToInt(Integer::intValue).toArray();
    }

    private final List<Run> runs;
    /** Indexes of the runs sorted by pid, then address. */
    private final int[] sorted;

    public LazyPlan(List<Run> runs) {
        this.runs = List.copyOf(runs);
        this.sorted = byAddress(this.runs);
    }

    /** The runs in the order their pages come. */
    public List<Run> runs() {
        return runs;
    }

    public byte[] encode() {
        Encoder e = new Encoder().i32(runs.size());
        for (Run r : runs) {
            e.i32(r.pid).i64(r.address).i32(r.pages);
        }
        return e.toByteArray();
    }

    /** Decodes a LAZY payload, insisting on each process's runs coming together, not empty, not overlapping. */
    public static LazyPlan decode(byte[] payload) throws ImageFormatException {
        Decoder d = new Decoder(payload);
        int n = d.count(16);
        List<Run> list = new ArrayList<>(n);
        java.util.Set<Integer> done = new java.util.HashSet<>();
        for (int i = 0; i < n; i++) {
            Run r = new Run(d.i32(), d.i64(), d.i32());
            if (r.pages <= 0 || r.address % Format.PAGE_SIZE != 0 || Long.compareUnsigned(r.end(), r.address) <= 0) {
                throw new ImageFormatException("LAZY record: run " + i + " is empty or unaligned");
            }
            if (i > 0 && list.get(i - 1).pid != r.pid && !done.add(list.get(i - 1).pid)) {
                throw new ImageFormatException("LAZY record: the runs of process " + list.get(i - 1).pid
                        + " do not come together");
            }
            list.add(r);
        }
        if (n > 0 && done.contains(list.get(n - 1).pid)) {
            throw new ImageFormatException("LAZY record: the runs of process " + list.get(n - 1).pid
                    + " do not come together");
        }
        d.expectEnd();
        LazyPlan plan = new LazyPlan(list);
        for (int k = 1; k < plan.sorted.length; k++) {
            Run a = list.get(plan.sorted[k - 1]);
            Run b = list.get(plan.sorted[k]);
            if (a.pid == b.pid && Long.compareUnsigned(b.address, a.end()) < 0) {
                throw new ImageFormatException("LAZY record: runs " + plan.sorted[k - 1] + " and " + plan.sorted[k]
                        + " overlap");
            }
        }
        return plan;
    }

    /** The index in {@link #runs} of the run that holds the page at {@code address} of process {@code pid}, or -1. */
    public int runOf(int pid, long address) {
        int lo = 0;
        int hi = sorted.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            Run r = runs.get(sorted[mid]);
            int byPid = Integer.compare(pid, r.pid);
            if (byPid < 0 || (byPid == 0 && Long.compareUnsigned(address, r.address) < 0)) {
                hi = mid - 1;
            } else if (byPid > 0 || Long.compareUnsigned(address, r.end()) >= 0) {
                lo = mid + 1;
            } else {
                return sorted[mid];
            }
        }
        return -1;
    }

    /** Whether the page at {@code address} of process {@code pid} is in one of the runs. */
    public boolean holds(int pid, long address) {
        return runOf(pid, address) >= 0;
    }

    public long pageBytes() {
        return runs.stream().mapToLong(r -> (long) r.pages * Format.PAGE_SIZE).sum();
    }
}
