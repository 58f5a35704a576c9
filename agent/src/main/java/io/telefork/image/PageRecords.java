package io.telefork.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.zip.CRC32C;

/**
 * Random access to the PAGES records of an image file, by the INDEX (a lazy restore fetches pages in
 * the order a process touches them, not the order of the stream). Every record fetched is checked
 * against its own CRC32C; the image's digest can only be checked by reading it in one pass
 * ({@link ImageReader}). Not thread-safe: one per thread that fetches.
 */
public final class PageRecords {
    private static final int MAX_PAGES_PAYLOAD = Format.PAGES_PREFIX_BYTES + Format.MAX_RUN_PAGES * Format.PAGE_SIZE;

    /** A fetched record: its first page's address, page count, and the pages (valid until the next fetch). */
    public record Pages(long address, int count, ByteBuffer pages) {
    }

    private static final int MAX_STORED = MAX_PAGES_PAYLOAD + 1024;

    private final FileChannel file;
    /** The image file mapped (records are used where they lie), or null: read with pread. */
    private final MappedImage mapped;
    private final ByteBuffer header = ByteBuffer.allocateDirect(Format.RECORD_HEADER_BYTES).order(ByteOrder.BIG_ENDIAN);
    /** Allocated at first use: a reader of a mapped file needs none, an uncompressed image no inflated one. */
    private ByteBuffer stored;
    private ByteBuffer inflated;
    private final CRC32C crc = new CRC32C();
    private long held = -1;
    private Pages last;

    public PageRecords(FileChannel file) {
        this.file = file;
        this.mapped = null;
    }

    /** Over a mapped image file, valid as long as its mapping (see {@link ImageReader#pageRecords}). */
    PageRecords(MappedImage mapped) {
        this.file = null;
        this.mapped = mapped;
    }

    private static final int TAIL_BYTES = 4 << 20;

    /**
     * The INDEX of the image: the record right before the END record, which ends the file. Its start is
     * found from its own length field (an INDEX of n entries is 4 + n entry sizes long) in the last few
     * MiB; failing that (a huge index), by walking the record headers from {@code from}.
     */
    public static PageIndex findIndex(FileChannel file, long from, int version) throws IOException {
        long size = file.size();
        int entry = version >= Format.FIRST_TREE_VERSION ? 24 : 20;
        long indexEnd = size - Format.END_RECORD_BYTES;
        for (int most = 256 << 10; most <= TAIL_BYTES; most *= 16) {
            PageIndex found = indexInTail(file, (int) Math.min(most, indexEnd - from), indexEnd, entry, version);
            if (found != null) {
                return found;
            }
        }
        return walkToIndex(file, from, version);
    }

    private static PageIndex indexInTail(FileChannel file, int tail, long indexEnd, int entry, int version)
            throws IOException {
        if (tail > Format.RECORD_HEADER_BYTES + 4) {
            ByteBuffer b = ByteBuffer.allocate(tail).order(ByteOrder.BIG_ENDIAN);
            // the INDEX record, if this tail holds it, is its last bytes
            readFully(file, b, indexEnd - tail);
            for (int n = 0; Format.RECORD_HEADER_BYTES + 4 + (long) entry * n <= tail; n++) {
                int length = 4 + entry * n;
                int at = tail - length - Format.RECORD_HEADER_BYTES;
                if (b.getShort(at) == RecordType.INDEX.id() && b.get(at + 2) == 0 && b.getInt(at + 4) == length
                        && b.getInt(at + 8) == length && b.getInt(at + Format.RECORD_HEADER_BYTES) == n) {
                    CRC32C c = new CRC32C();
                    c.update(b.array(), at + Format.RECORD_HEADER_BYTES, length);
                    if ((int) c.getValue() == b.getInt(at + 12)) {
                        byte[] payload = new byte[length];
                        b.get(at + Format.RECORD_HEADER_BYTES, payload);
                        return PageIndex.decode(payload, version);
                    }
                }
            }
        }
        return null;
    }

    private static PageIndex walkToIndex(FileChannel file, long from, int version) throws IOException {
        ByteBuffer h = ByteBuffer.allocateDirect(Format.RECORD_HEADER_BYTES).order(ByteOrder.BIG_ENDIAN);
        long at = from;
        long size = file.size();
        while (at + Format.RECORD_HEADER_BYTES <= size) {
            h.clear();
            readFully(file, h, at);
            int type = h.getShort(0) & 0xffff;
            int raw = h.getInt(4);
            int storedLength = h.getInt(8);
            if (storedLength < 0 || at + Format.RECORD_HEADER_BYTES + storedLength > size) {
                throw new ImageFormatException("record at byte " + at + " has implausible lengths");
            }
            if (type == RecordType.INDEX.id()) {
                if (raw != storedLength || storedLength > Format.MAX_METADATA_BYTES) {
                    throw new ImageFormatException("INDEX record at byte " + at + " has implausible lengths");
                }
                ByteBuffer payload = ByteBuffer.allocate(storedLength);
                readFully(file, payload, at + Format.RECORD_HEADER_BYTES);
                CRC32C c = new CRC32C();
                c.update(payload.array(), 0, storedLength);
                if ((int) c.getValue() != h.getInt(12)) {
                    throw new ImageFormatException("INDEX record at byte " + at + " fails its checksum (corrupt image)");
                }
                return PageIndex.decode(payload.array(), version);
            }
            if (type == RecordType.END.id()) {
                break;
            }
            at += Format.RECORD_HEADER_BYTES + storedLength;
        }
        throw new ImageFormatException("the image has no INDEX record (truncated?)");
    }

    /** The PAGES record of an INDEX entry, decompressed, checked, and insisting that it is the entry's. */
    public Pages fetch(PageIndex.Entry e) throws IOException {
        Pages p = fetch(e.offset());
        if (p.address() != e.address() || p.count() != e.pages()) {
            throw new ImageFormatException(String.format("the INDEX says the record at byte %d holds %d pages at "
                    + "0x%x, but it holds %d at 0x%x", e.offset(), e.pages(), e.address(), p.count(), p.address()));
        }
        return p;
    }

    /** The PAGES record whose header is at {@code offset}, decompressed and checked. */
    public Pages fetch(long offset) throws IOException {
        if (offset == held) {
            return last;
        }
        held = -1;
        header.clear();
        if (mapped != null) {
            ByteBuffer h = mapped.view(offset, Format.RECORD_HEADER_BYTES);
            if (h == null) {
                throw new ImageFormatException("image is truncated: ends at byte " + mapped.size());
            }
            header.put(h).flip();
        } else {
            readFully(file, header, offset);
        }
        int type = header.getShort(0) & 0xffff;
        Compression codec = Compression.fromId(header.get(2) & 0xff);
        int raw = header.getInt(4);
        int storedLength = header.getInt(8);
        if (type != RecordType.PAGES.id() || raw < Format.PAGES_PREFIX_BYTES + Format.PAGE_SIZE
                || raw > MAX_PAGES_PAYLOAD || storedLength < 0 || storedLength > MAX_STORED
                || (raw - Format.PAGES_PREFIX_BYTES) % Format.PAGE_SIZE != 0
                || (codec == Compression.NONE && raw != storedLength)) {
            throw new ImageFormatException("the INDEX points at byte " + offset + ", which holds no valid PAGES record");
        }
        ByteBuffer payload;
        if (mapped != null) {
            payload = mapped.view(offset + Format.RECORD_HEADER_BYTES, storedLength);
            if (payload == null) {
                throw new ImageFormatException("image is truncated: ends at byte " + mapped.size());
            }
        } else {
            if (stored == null) {
                stored = ByteBuffer.allocateDirect(MAX_STORED);
            }
            payload = stored;
            payload.clear().limit(storedLength);
            readFully(file, payload, offset + Format.RECORD_HEADER_BYTES);
        }
        crc.reset();
        crc.update(payload.duplicate());
        if ((int) crc.getValue() != header.getInt(12)) {
            throw new ImageFormatException("PAGES record at byte " + offset + " fails its checksum (corrupt image)");
        }
        ByteBuffer body = payload;
        if (codec != Compression.NONE) {
            if (inflated == null) {
                inflated = ByteBuffer.allocateDirect(MAX_PAGES_PAYLOAD);
            }
            inflated.clear();
            codec.decompress(payload, inflated, raw);
            inflated.flip();
            body = inflated;
        }
        body.order(ByteOrder.BIG_ENDIAN);
        long address = body.getLong(body.position());
        int count = body.getInt(body.position() + 8);
        if (count != (raw - Format.PAGES_PREFIX_BYTES) / Format.PAGE_SIZE || address % Format.PAGE_SIZE != 0) {
            throw new ImageFormatException("PAGES record at byte " + offset + " is inconsistent");
        }
        ByteBuffer pages = body.duplicate().position(body.position() + Format.PAGES_PREFIX_BYTES).slice();
        last = new Pages(address, count, pages);
        held = offset;
        return last;
    }

    private static void readFully(FileChannel file, ByteBuffer b, long at) throws IOException {
        long pos = at;
        while (b.hasRemaining()) {
            int n = file.read(b, pos);
            if (n < 0) {
                throw new ImageFormatException("image is truncated: ends at byte " + pos);
            }
            pos += n;
        }
        b.flip();
    }
}
