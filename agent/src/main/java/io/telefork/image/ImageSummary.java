package io.telefork.image;

import java.io.IOException;
import java.nio.channels.ReadableByteChannel;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An image read from end to end for inspection: its metadata, the bytes stored per memory area of the
 * first process and per process, and whether every checksum verified (and if not, why).
 */
public record ImageSummary(int version, ImageTree tree, Map<MemoryArea, Long> storedPerArea,
                           Map<Integer, Long> storedPerProcess, long storedBytes, long imageBytes, String sha256,
                           boolean verified, String problem) {

    /** The first process: the one the dump was asked for. */
    public ImageHead head() {
        return tree.root();
    }

    public static ImageSummary read(ReadableByteChannel in) throws IOException {
        try (ImageReader reader = new ImageReader(in)) {
            return read(reader);
        }
    }

    private static ImageSummary read(ImageReader reader) throws IOException {
        ImageTree tree = ImageTree.read(reader);
        ImageHead root = tree.root();
        Map<MemoryArea, Long> stored = new LinkedHashMap<>();
        root.areas().forEach(a -> stored.put(a, 0L));
        Map<Integer, Long> perProcess = new LinkedHashMap<>();
        tree.heads().forEach(h -> perProcess.put(h.process().pid(), 0L));
        int owner = root.process().pid();
        long total = 0;
        try {
            ImageReader.Record r;
            while ((r = reader.next()) != null) {
                if (r.type() == RecordType.PAGES_OF) {
                    owner = new Decoder(r.payload()).i32();
                } else if (r.type() == RecordType.PAGES) {
                    long bytes = (long) r.pageCount() * Format.PAGE_SIZE;
                    MemoryArea a = owner == root.process().pid() ? root.areaAt(r.address()) : null;
                    if (a != null) {
                        stored.merge(a, bytes, Long::sum);
                    }
                    perProcess.merge(owner, bytes, Long::sum);
                    total += bytes;
                }
            }
        } catch (ImageFormatException e) {
            return new ImageSummary(reader.version(), tree, stored, perProcess, total, reader.offset(), null, false,
                    e.getMessage());
        }
        return new ImageSummary(reader.version(), tree, stored, perProcess, total, reader.offset(),
                reader.end().sha256(), true, null);
    }
}
