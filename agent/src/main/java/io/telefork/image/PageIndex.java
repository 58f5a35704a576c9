package io.telefork.image;

import java.util.ArrayList;
import java.util.List;

/**
 * Where every run of pages sits in the stream, written after the last PAGES record so that a reader
 * with random access (a file) can fetch any page of any process by address without reading the whole image.
 */
public record PageIndex(List<Entry> entries) {

    /**
     * A run of {@code pages} pages of process {@code pid} starting at {@code address}, in the PAGES record at
     * stream offset {@code offset}. Format 1 images hold one process and no PIDs in their index: pid is 0.
     */
    public record Entry(int pid, long address, int pages, long offset) {
    }

    public byte[] encode() {
        Encoder e = new Encoder().i32(entries.size());
        for (Entry x : entries) {
            e.i32(x.pid).i64(x.address).i32(x.pages).i64(x.offset);
        }
        return e.toByteArray();
    }

    /** Decodes an INDEX payload of the given format version. */
    public static PageIndex decode(byte[] payload, int version) throws ImageFormatException {
        Decoder d = new Decoder(payload);
        boolean withPid = version >= Format.FIRST_TREE_VERSION;
        int n = d.count(withPid ? 24 : 20);
        List<Entry> list = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            list.add(new Entry(withPid ? d.i32() : 0, d.i64(), d.i32(), d.i64()));
        }
        d.expectEnd();
        return new PageIndex(list);
    }

    public static PageIndex decode(byte[] payload) throws ImageFormatException {
        return decode(payload, Format.VERSION);
    }

    /** The entry of the first process in the index whose run holds {@code address}, or null. */
    public Entry find(long address) {
        return entries.isEmpty() ? null : find(entries.get(0).pid, address);
    }

    /** The entry of process {@code pid} whose run holds {@code address}, or null. Sorted by pid, then address. */
    public Entry find(int pid, long address) {
        int lo = 0;
        int hi = entries.size() - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            Entry e = entries.get(mid);
            int byPid = Integer.compare(pid, e.pid);
            if (byPid < 0 || (byPid == 0 && Long.compareUnsigned(address, e.address) < 0)) {
                hi = mid - 1;
            } else if (byPid > 0 || Long.compareUnsigned(address, e.address + (long) e.pages * Format.PAGE_SIZE) >= 0) {
                lo = mid + 1;
            } else {
                return e;
            }
        }
        return null;
    }
}
