package io.telefork.image;

import java.io.IOException;
import java.nio.channels.ReadableByteChannel;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An image read from end to end for inspection: its metadata, the bytes stored per memory area, and
 * whether every checksum verified (and if not, why).
 */
public record ImageSummary(int version, ImageHead head, Map<MemoryArea, Long> storedPerArea, long storedBytes,
                           long imageBytes, String sha256, boolean verified, String problem) {

    public static ImageSummary read(ReadableByteChannel in) throws IOException {
        try (ImageReader reader = new ImageReader(in)) {
            return read(reader);
        }
    }

    private static ImageSummary read(ImageReader reader) throws IOException {
        ImageHead head = ImageHead.read(reader);
        Map<MemoryArea, Long> stored = new LinkedHashMap<>();
        head.areas().forEach(a -> stored.put(a, 0L));
        long total = 0;
        try {
            ImageReader.Record r;
            while ((r = reader.next()) != null) {
                if (r.type() == RecordType.PAGES) {
                    long bytes = (long) r.pageCount() * Format.PAGE_SIZE;
                    MemoryArea a = head.areaAt(r.address());
                    if (a != null) {
                        stored.merge(a, bytes, Long::sum);
                    }
                    total += bytes;
                }
            }
        } catch (ImageFormatException e) {
            return new ImageSummary(reader.version(), head, stored, total, reader.offset(), null, false, e.getMessage());
        }
        return new ImageSummary(reader.version(), head, stored, total, reader.offset(), reader.end().sha256(), true,
                null);
    }
}
