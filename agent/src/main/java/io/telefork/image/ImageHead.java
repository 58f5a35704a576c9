package io.telefork.image;

import java.io.IOException;
import java.util.List;

/** The metadata records at the front of an image, which a restore needs before the first page arrives. */
public record ImageHead(ProcessInfo process, ThreadState thread, SignalState signals, List<FdEntry> fds,
                        List<MemoryArea> areas) {

    /** Reads PROCESS, THREAD, SIGNALS, FILES and AREAS, in that order, from a fresh reader. */
    public static ImageHead read(ImageReader reader) throws IOException {
        ProcessInfo process = ProcessInfo.decode(expect(reader, RecordType.PROCESS));
        ThreadState thread = ThreadState.decode(expect(reader, RecordType.THREAD));
        SignalState signals = SignalState.decode(expect(reader, RecordType.SIGNALS));
        List<FdEntry> fds = FdEntry.decodeAll(expect(reader, RecordType.FILES));
        List<MemoryArea> areas = MemoryArea.decodeAll(expect(reader, RecordType.AREAS));
        return new ImageHead(process, thread, signals, fds, areas);
    }

    private static byte[] expect(ImageReader reader, RecordType type) throws IOException {
        ImageReader.Record r = reader.next();
        if (r == null || r.type() != type) {
            throw new ImageFormatException("expected a " + type + " record at byte " + (r == null ? reader.offset()
                    : r.offset()) + ", found " + (r == null ? "the end" : r.type()));
        }
        return r.payload();
    }

    /** The area holding {@code address}, or null. */
    public MemoryArea areaAt(long address) {
        int lo = 0;
        int hi = areas.size() - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            MemoryArea a = areas.get(mid);
            if (Long.compareUnsigned(address, a.start()) < 0) {
                hi = mid - 1;
            } else if (Long.compareUnsigned(address, a.end()) >= 0) {
                lo = mid + 1;
            } else {
                return a;
            }
        }
        return null;
    }
}
