package io.telefork.image;

import java.util.ArrayList;
import java.util.List;

/**
 * Where every run of pages sits in the stream, written after the last PAGES record so that a reader
 * with random access (a file) can fetch any page by address without reading the whole image.
 */
public record PageIndex(List<Entry> entries) {

    /** A run of {@code pages} pages starting at {@code address}, in the PAGES record at stream offset {@code offset}. */
    public record Entry(long address, int pages, long offset) {
    }

    public byte[] encode() {
        Encoder e = new Encoder().i32(entries.size());
        for (Entry x : entries) {
            e.i64(x.address).i32(x.pages).i64(x.offset);
        }
        return e.toByteArray();
    }

    public static PageIndex decode(byte[] payload) throws ImageFormatException {
        Decoder d = new Decoder(payload);
        int n = d.count(20);
        List<Entry> list = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            list.add(new Entry(d.i64(), d.i32(), d.i64()));
        }
        d.expectEnd();
        return new PageIndex(list);
    }

    /** The entry whose run holds {@code address}, or null. Entries are sorted by address. */
    public Entry find(long address) {
        int lo = 0;
        int hi = entries.size() - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            Entry e = entries.get(mid);
            if (Long.compareUnsigned(address, e.address) < 0) {
                hi = mid - 1;
            } else if (Long.compareUnsigned(address, e.address + (long) e.pages * Format.PAGE_SIZE) >= 0) {
                lo = mid + 1;
            } else {
                return e;
            }
        }
        return null;
    }
}
