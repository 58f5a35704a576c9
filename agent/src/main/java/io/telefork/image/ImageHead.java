package io.telefork.image;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The metadata records at the front of an image, which a restore needs before the first page arrives.
 * {@code threads} holds one THREAD record per thread, the thread-group leader first.
 */
public record ImageHead(ProcessInfo process, List<ThreadState> threads, SignalState signals, List<FdEntry> fds,
                        List<GhostFile> ghosts, List<MemoryArea> areas, List<GhostFile.Chunk> ghostData) {

    /** The thread-group leader, whose TID is the process's PID. */
    public ThreadState thread() {
        return threads.get(0);
    }

    /**
     * Reads PROCESS, one or more THREAD, SIGNALS, FILES, GHOSTS (from version 2 on), AREAS and the
     * GHOST_DATA records that follow (the content of the process's deleted files and memfds, bounded by
     * the dump's --ghost-limit, held in memory: in a tree the next process's head follows), in that order.
     */
    public static ImageHead read(ImageReader reader) throws IOException {
        return read(reader, reader.next());
    }

    /** As {@link #read(ImageReader)}, the PROCESS record already read. */
    static ImageHead read(ImageReader reader, ImageReader.Record first) throws IOException {
        ProcessInfo process = ProcessInfo.decode(expect(first, reader, RecordType.PROCESS));
        List<ThreadState> threads = new ArrayList<>();
        ImageReader.Record r = reader.next();
        threads.add(ThreadState.decode(expect(r, reader, RecordType.THREAD)));
        while ((r = reader.next()) != null && r.type() == RecordType.THREAD) {
            threads.add(ThreadState.decode(r.payload()));
        }
        SignalState signals = SignalState.decode(expect(r, reader, RecordType.SIGNALS));
        List<FdEntry> fds = FdEntry.decodeAll(expect(reader.next(), reader, RecordType.FILES));
        List<GhostFile> ghosts = reader.version() >= 2
                ? GhostFile.decodeAll(expect(reader.next(), reader, RecordType.GHOSTS)) : List.of();
        List<MemoryArea> areas = MemoryArea.decodeAll(expect(reader.next(), reader, RecordType.AREAS));
        if (threads.get(0).tid() != process.pid()) {
            throw new ImageFormatException("the first THREAD record is not the thread-group leader");
        }
        long chunks = ghosts.stream().mapToLong(GhostFile::chunks).sum();
        List<GhostFile.Chunk> data = new ArrayList<>();
        for (long n = 0; n < chunks; n++) {
            ImageReader.Record g = reader.next();
            GhostFile.Chunk c = GhostFile.Chunk.decode(expect(g, reader, RecordType.GHOST_DATA));
            if (c.index() < 0 || c.index() >= ghosts.size()
                    || c.offset() < 0 || c.offset() + c.length() > ghosts.get(c.index()).file().size()) {
                throw new ImageFormatException("content of a deleted file or memfd lies outside it (record at byte "
                        + g.offset() + ")");
            }
            data.add(c);
        }
        return new ImageHead(process, List.copyOf(threads), signals, fds, List.copyOf(ghosts), areas, List.copyOf(data));
    }

    static byte[] expect(ImageReader.Record r, ImageReader reader, RecordType type) throws IOException {
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
