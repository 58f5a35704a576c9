package io.telefork.restore;

import io.telefork.image.Format;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * One process whose registered memory is being filled lazily through its userfaultfd: where each image
 * page lives in it now (the program may move or drop ranges with mremap, madvise and munmap while it
 * runs), and which image pages have been claimed for copying, so that the fault server and the pusher
 * never copy the same page twice. Pages are named by their image address ("source"); the layout maps
 * current address ranges to source ranges. Layout changes come only from the event handler, which
 * holds the server's write lock; lookups and claims happen under its read lock (claims are atomic).
 */
final class LazyTarget {
    private static final long PAGE = Format.PAGE_SIZE;

    private final int pid;
    /** The process of the image whose pages it holds (a forked child: its parent's). */
    private final int imagePid;
    private final int uffd;
    /** Current start -> {current start, source start, length}; disjoint. */
    private final TreeMap<Long, long[]> segments;
    /** Source area start -> one bit per page of the area, set once the page is claimed. */
    private final TreeMap<Long, Claims> claims;
    private volatile boolean gone;

    private record Claims(long start, int pages, AtomicLongArray bits) {
        Claims copy() {
            AtomicLongArray b = new AtomicLongArray(bits.length());
            for (int i = 0; i < bits.length(); i++) {
                b.set(i, bits.get(i));
            }
            return new Claims(start, pages, b);
        }
    }

    /**
     * Process {@code pid}, restored from the image's process {@code imagePid}, whose registered areas, given as
     * {start, length} pairs, still sit where the image had them.
     */
    LazyTarget(int pid, int imagePid, int uffd, List<long[]> areas) {
        this.pid = pid;
        this.imagePid = imagePid;
        this.uffd = uffd;
        this.segments = new TreeMap<>();
        this.claims = new TreeMap<>();
        for (long[] a : areas) {
            segments.put(a[0], new long[] {a[0], a[0], a[1]});
            int pages = (int) (a[1] / PAGE);
            claims.put(a[0], new Claims(a[0], pages, new AtomicLongArray((pages + 63) / 64)));
        }
    }

    private LazyTarget(int pid, int imagePid, int uffd, TreeMap<Long, long[]> segments, TreeMap<Long, Claims> claims) {
        this.pid = pid;
        this.imagePid = imagePid;
        this.uffd = uffd;
        this.segments = segments;
        this.claims = claims;
    }

    int pid() {
        return pid;
    }

    int imagePid() {
        return imagePid;
    }

    int uffd() {
        return uffd;
    }

    boolean gone() {
        return gone;
    }

    /** Its address space is gone (exited, or exec'd): nothing more to fill. */
    void markGone() {
        gone = true;
    }

    /**
     * The child of a fork: the same layout, and the same pages present (those claimed here, as no copy
     * is under way while events are handled; the caller re-claims for the child what was claimed but not
     * yet copied).
     */
    synchronized LazyTarget forked(int childPid, int childUffd) {
        TreeMap<Long, long[]> s = new TreeMap<>();
        for (Map.Entry<Long, long[]> e : segments.entrySet()) {
            s.put(e.getKey(), e.getValue().clone());
        }
        TreeMap<Long, Claims> c = new TreeMap<>();
        for (Map.Entry<Long, Claims> e : claims.entrySet()) {
            c.put(e.getKey(), e.getValue().copy());
        }
        return new LazyTarget(childPid, imagePid, childUffd, s, c);
    }

    /** The image address whose content belongs at {@code address} now, or -1 (none: zero-fill). */
    synchronized long source(long address) {
        Map.Entry<Long, long[]> e = segments.floorEntry(address);
        if (e == null || address >= e.getValue()[0] + e.getValue()[2]) {
            return -1;
        }
        return e.getValue()[1] + (address - e.getValue()[0]);
    }

    /** Where the source range lives now: {current, source, length} pieces, in source order. */
    synchronized List<long[]> placesOf(long source, long length) {
        List<long[]> out = new ArrayList<>();
        long end = source + length;
        for (long[] s : segments.values()) {
            long from = Math.max(source, s[1]);
            long to = Math.min(end, s[1] + s[2]);
            if (from < to) {
                out.add(new long[] {s[0] + (from - s[1]), from, to - from});
            }
        }
        out.sort((a, b) -> Long.compare(a[1], b[1]));
        return out;
    }

    /** madvise(DONTNEED), munmap: what was at [start, start + length) must not be filled any more. */
    synchronized void drop(long start, long length) {
        cut(start, length);
    }

    /** mremap: what was at [from, from + length) is now at [to, to + length). */
    synchronized void move(long from, long to, long length) {
        List<long[]> moved = cut(from, length);
        cut(to, length);
        for (long[] m : moved) {
            long at = to + (m[0] - from);
            segments.put(at, new long[] {at, m[1], m[2]});
        }
    }

    /** Removes [start, start + length) from the layout; returns the pieces that were there. */
    private List<long[]> cut(long start, long length) {
        long end = start + length;
        List<long[]> removed = new ArrayList<>();
        Long k = segments.floorKey(start);
        if (k == null) {
            k = start;
        }
        for (Map.Entry<Long, long[]> e : new ArrayList<>(segments.tailMap(k, true).entrySet())) {
            long[] s = e.getValue();
            long sEnd = s[0] + s[2];
            if (s[0] >= end) {
                break;
            }
            if (sEnd <= start) {
                continue;
            }
            segments.remove(e.getKey());
            if (s[0] < start) {
                segments.put(s[0], new long[] {s[0], s[1], start - s[0]});
            }
            if (sEnd > end) {
                segments.put(end, new long[] {end, s[1] + (end - s[0]), sEnd - end});
            }
            long from = Math.max(start, s[0]);
            long to = Math.min(end, sEnd);
            removed.add(new long[] {from, s[1] + (from - s[0]), to - from});
        }
        return removed;
    }

    /**
     * Claims the unclaimed pages of the source run [source, source + pages pages) (within one area);
     * returns which (bit i: page i of the run).
     */
    BitSet claim(long source, int pages) {
        Claims c = claimsOf(source);
        BitSet won = new BitSet(pages);
        if (c == null) {
            return won;
        }
        int first = (int) ((source - c.start) / PAGE);
        int i = 0;
        while (i < pages) {
            int bit = first + i;
            int word = bit >>> 6;
            int n = Math.min(pages - i, 64 - (bit & 63));
            long mask = (n == 64 ? -1L : ((1L << n) - 1)) << (bit & 63);
            while (true) {
                long old = c.bits.get(word);
                long fresh = mask & ~old;
                if (fresh == 0 || c.bits.compareAndSet(word, old, old | fresh)) {
                    for (int j = 0; j < n; j++) {
                        if ((fresh & (1L << ((bit + j) & 63))) != 0) {
                            won.set(i + j);
                        }
                    }
                    break;
                }
            }
            i += n;
        }
        return won;
    }

    private Claims claimsOf(long source) {
        Map.Entry<Long, Claims> e;
        synchronized (this) {
            e = claims.floorEntry(source);
        }
        if (e == null || source >= e.getValue().start + e.getValue().pages * PAGE) {
            return null;
        }
        return e.getValue();
    }
}
