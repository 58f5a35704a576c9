package io.telefork.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.zip.CRC32C;

/**
 * Reads an image in one pass from any channel, verifying every record's CRC32C as it goes and the
 * END record's digest ({@link ImageHash}) when it gets there. A reader never hands out the content of a
 * record it has not verified (after {@link #deferPageChecks()}, a page record's content is verified by
 * whoever takes it, see {@link Record#checkedPages()}); the stream as a whole is verified only once
 * {@link #next()} has returned the END record.
 *
 * <p>A reader of a mapped file ({@link #mapped(FileChannel)}) hands out PAGES records as views of the
 * mapping instead of copies. For formats 1 to 3, whose digest is the SHA-256 of every byte, it hashes the
 * whole file up to its END record on a thread of its own from the first PAGES record on, instead of record
 * by record as they are read: the reader's consumer can copy pages ahead of the hash.
 */
public final class ImageReader implements AutoCloseable {

    /**
     * A verified record. For PAGES, {@link #pages()} is valid only until the next call to {@link #next()}
     * (a mapped file's uncompressed record: until {@link #close()}). After {@link #deferPageChecks()}, such
     * a record's CRC32C is checked by {@link #checkedPages()}, on whichever thread takes the record;
     * {@link #pages()} refuses it until then.
     */
    public record Record(RecordType type, byte[] payload, long address, int pageCount, ByteBuffer pages,
                         long offset, int storedLength, Compression codec, PendingCheck check) {

        /** The pages; for a record whose check was deferred, only once {@link #checkedPages()} has passed. */
        @Override
        public ByteBuffer pages() {
            if (check != null && !check.passed) {
                throw new IllegalStateException("PAGES record at byte " + offset + " is not checked yet");
            }
            return pages;
        }

        /** The pages, once the record's CRC32C is checked (here, if {@link #deferPageChecks()} left it). */
        public ByteBuffer checkedPages() throws ImageFormatException {
            if (check != null) {
                check.run();
            }
            return pages;
        }
    }

    /** The CRC32C check of a PAGES record left to the thread that takes it ({@link #deferPageChecks()}). */
    public static final class PendingCheck {
        private final ByteBuffer payload;
        private final int expected;
        private final long offset;
        private volatile boolean passed;

        private PendingCheck(ByteBuffer payload, int expected, long offset) {
            this.payload = payload;
            this.expected = expected;
            this.offset = offset;
        }

        private void run() throws ImageFormatException {
            if (passed) {
                return;
            }
            CRC32C crc = new CRC32C();
            crc.update(payload.duplicate());
            if ((int) crc.getValue() != expected) {
                throw new ImageFormatException(RecordType.PAGES + " record at byte " + offset
                        + " fails its checksum (corrupt image)");
            }
            passed = true;
        }
    }

    /** The END record's content: its digest (SHA-256, hex) and the bytes of pages the image holds. */
    public record End(String sha256, long pageBytes) {
    }

    private static final int MAX_PAGES_PAYLOAD = Format.PAGES_PREFIX_BYTES + Format.MAX_RUN_PAGES * Format.PAGE_SIZE;

    /** What the hashing thread of a mapped reader takes at a time. */
    private static final int HASH_CHUNK = 1 << 20;

    private final ReadableByteChannel in;
    /** The mapped file, or null when reading a stream. */
    private final MappedImage mapped;
    /** Mapped, formats 1-3: the bytes handed to the hashing thread, from the start of the file. */
    private long hashed;
    private final ImageHash hash;
    private final CRC32C crc = new CRC32C();
    private final ByteBuffer header = ByteBuffer.allocateDirect(Format.RECORD_HEADER_BYTES).order(ByteOrder.BIG_ENDIAN);
    private final BufferPool pool;
    private BufferPool.Lease held;
    /** For compressed PAGES records, allocated at the first (1 MiB, zeroed: not before a restore needs it). */
    private ByteBuffer inflated;
    private final int version;
    private long offset;
    private End end;
    private boolean deferPageChecks;

    public ImageReader(ReadableByteChannel in) throws IOException {
        this(in, null);
    }

    /**
     * A reader of a whole image file, mapped rather than read: its PAGES records are views of the file
     * (valid until {@link #close()}); a format 1-3 file's SHA-256 of every byte is computed beside whatever
     * the caller does with them. The file must start with the image and end with its END
     * record, and must not shrink before {@link #close()} (see {@link MappedImage}).
     */
    public static ImageReader mapped(FileChannel file) throws IOException {
        MappedImage m = new MappedImage(file);
        try {
            return new ImageReader(null, m);
        } catch (IOException | RuntimeException e) {
            m.close();
            throw e;
        }
    }

    private ImageReader(ReadableByteChannel in, MappedImage mapped) throws IOException {
        this.in = in;
        this.mapped = mapped;
        this.pool = mapped == null ? new BufferPool(4, MAX_PAGES_PAYLOAD) : null;
        ByteBuffer h = ByteBuffer.allocate(Format.HEADER_BYTES);
        readFully(h, "header");
        byte[] magic = Arrays.copyOf(h.array(), Format.MAGIC.length);
        if (!Arrays.equals(magic, Format.MAGIC)) {
            throw new ImageFormatException("not a telefork image (bad magic)");
        }
        h.position(Format.MAGIC.length);
        version = h.getShort() & 0xffff;
        int arch = h.getShort() & 0xffff;
        int pageSize = h.getInt();
        h.getInt();
        int headerCrc = h.getInt();
        crc.reset();
        crc.update(h.array(), 0, Format.HEADER_BYTES - 4);
        if ((int) crc.getValue() != headerCrc) {
            throw new ImageFormatException("image header checksum mismatch");
        }
        if (version > Format.VERSION) {
            throw new ImageFormatException("image format version " + version + " is newer than this telefork reads ("
                    + Format.VERSION + "): upgrade telefork");
        }
        if (version < 1) {
            throw new ImageFormatException("image format version " + version + " is invalid");
        }
        if (arch != Format.ARCH_X86_64) {
            throw new ImageFormatException("image is for ELF machine " + arch + ", this is x86_64 (62)");
        }
        if (pageSize != Format.PAGE_SIZE) {
            throw new ImageFormatException("image page size " + pageSize + " differs from " + Format.PAGE_SIZE);
        }
        hash = ImageHash.forVersion(version);
        if (hashesRecords()) {
            hash.header(h.flip());
        }
    }

    /** Whether records are hashed one by one as they are read (else the whole mapped file at once). */
    private boolean hashesRecords() {
        return mapped == null || !hash.everyByte();
    }

    /**
     * Random access to this image's PAGES records by their offsets: by the mapping if this reader maps
     * the file (valid until {@link #close()}), else by reading {@code file}. One per thread.
     */
    public PageRecords pageRecords(FileChannel file) {
        return mapped != null ? new PageRecords(mapped) : new PageRecords(file);
    }

    public int version() {
        return version;
    }

    /**
     * Whether record {@code r}'s pages stay where they are until {@link #close()} (a mapped file's
     * uncompressed record), rather than only until the next {@link #next()}.
     */
    public boolean stays(Record r) {
        return mapped != null && r.codec() == Compression.NONE;
    }

    /**
     * From here on, a mapped file's uncompressed PAGES records are handed out before their CRC32C is
     * checked: whoever takes one gets its pages from {@link Record#checkedPages()}, which checks them first.
     * So the check is made by the thread that copies the pages, while this one reads on: the CRC pass over
     * the mapping (its page faults included) is split between the copying threads instead of lying on the
     * reader's. Other records are checked as before.
     */
    public void deferPageChecks() {
        deferPageChecks = true;
    }

    /** Bytes consumed so far. */
    public long offset() {
        return offset;
    }

    /** The END record once reached, else null. */
    public End end() {
        return end;
    }

    /** The next record, or null once the END record has been read and the image's digest verified. */
    public Record next() throws IOException {
        if (held != null) {
            held.release();
            held = null;
        }
        if (end != null) {
            return null;
        }
        long recordOffset = offset;
        header.clear();
        readFully(header, "record header");
        header.flip();
        byte[] beforeRecord = header.getShort(0) == RecordType.END.id() ? digestBefore(recordOffset) : null;
        if (hashesRecords()) {
            hash.header(header);
        }
        int typeId = header.getShort() & 0xffff;
        Compression codec = Compression.fromId(header.get() & 0xff);
        header.get();
        int raw = header.getInt();
        int storedLength = header.getInt();
        int expectedCrc = header.getInt();
        RecordType type = RecordType.fromId(typeId);
        int limit = type == RecordType.PAGES ? MAX_PAGES_PAYLOAD : Format.MAX_METADATA_BYTES;
        if (raw < 0 || storedLength < 0 || raw > limit || storedLength > limit + 1024
                || (codec == Compression.NONE && raw != storedLength)) {
            throw new ImageFormatException("record at byte " + recordOffset + " has implausible lengths");
        }
        ByteBuffer payload;
        if (type == RecordType.PAGES) {
            if (storedLength > MAX_PAGES_PAYLOAD) {
                throw new ImageFormatException("record at byte " + recordOffset + " has implausible lengths");
            }
            if (mapped != null) {
                if (hash.everyByte()) {
                    hashWholeFile();
                }
                payload = mapped.view(offset, storedLength);
                if (payload == null) {
                    throw truncated(type + " record", 0);
                }
                offset += storedLength;
            } else {
                held = pool.take();
                payload = held.buffer();
            }
        } else {
            payload = ByteBuffer.allocate(storedLength);
        }
        if (held != null || mapped == null || type != RecordType.PAGES) {
            payload.clear().limit(storedLength);
            readFully(payload, type + " record");
            payload.flip();
        }
        if (held != null) {
            held.hold();
            hash.payload(payload, held::release);
        } else if (mapped == null) {
            hash.payloadCopy(payload);
        }
        PendingCheck pending = null;
        if (deferPageChecks && type == RecordType.PAGES && mapped != null && codec == Compression.NONE) {
            pending = new PendingCheck(payload.duplicate(), expectedCrc, recordOffset); // before the prefix is read from it
        } else {
            crc.reset();
            crc.update(payload.duplicate());
            if ((int) crc.getValue() != expectedCrc) {
                throw new ImageFormatException(type + " record at byte " + recordOffset + " fails its checksum (corrupt image)");
            }
        }
        ByteBuffer body = payload;
        if (codec != Compression.NONE) {
            if (type != RecordType.PAGES) {
                throw new ImageFormatException("metadata record at byte " + recordOffset + " is compressed");
            }
            if (inflated == null) {
                inflated = ByteBuffer.allocateDirect(MAX_PAGES_PAYLOAD);
            }
            inflated.clear();
            codec.decompress(payload, inflated, raw);
            inflated.flip();
            body = inflated;
        }
        if (type == RecordType.PAGES) {
            if (raw < Format.PAGES_PREFIX_BYTES + Format.PAGE_SIZE
                    || (raw - Format.PAGES_PREFIX_BYTES) % Format.PAGE_SIZE != 0) {
                throw new ImageFormatException("PAGES record at byte " + recordOffset + " has a bad length");
            }
            body.order(ByteOrder.BIG_ENDIAN);
            long address = body.getLong();
            int count = body.getInt();
            if (count != (raw - Format.PAGES_PREFIX_BYTES) / Format.PAGE_SIZE || address % Format.PAGE_SIZE != 0) {
                throw new ImageFormatException("PAGES record at byte " + recordOffset + " is inconsistent");
            }
            return new Record(type, null, address, count, body.slice(), recordOffset, storedLength, codec, pending);
        }
        byte[] bytes = new byte[payload.remaining()];
        payload.get(bytes);
        if (type == RecordType.END) {
            Decoder d = new Decoder(bytes);
            byte[] digest = d.bytes();
            long pageBytes = d.i64();
            hash.close();
            if (!Arrays.equals(digest, beforeRecord)) {
                throw new ImageFormatException("image SHA-256 mismatch: the image is corrupt");
            }
            end = new End(HexFormat.of().formatHex(digest), pageBytes);
        }
        return new Record(type, bytes, 0, 0, null, recordOffset, storedLength, codec, null);
    }

    /**
     * Mapped: hands the whole file up to its END record to the hashing thread, at the first PAGES record
     * (not before: the metadata before it is what a restore needs first, and the CPU with it).
     */
    private void hashWholeFile() {
        if (hashed > 0) {
            return;
        }
        long to = Math.max(0, mapped.size() - Format.END_RECORD_BYTES);
        for (long at = 0; at < to; at += HASH_CHUNK) {
            hash.payload(mapped.view(at, (int) Math.min(HASH_CHUNK, to - at)), () -> { });
        }
        hashed = to;
    }

    /** The digest of the image before its END record at {@code endOffset}. */
    private byte[] digestBefore(long endOffset) throws ImageFormatException {
        if (hashesRecords() || (hashed > 0 && endOffset == hashed)) {
            return hash.digest();
        }
        // Mapped, formats 1-3, and the END record is not where the end of the file puts it: hash up to it here.
        MessageDigest d = ImageHash.sha256();
        for (long at = 0; at < endOffset; at += HASH_CHUNK) {
            ByteBuffer v = mapped.view(at, (int) Math.min(HASH_CHUNK, endOffset - at));
            if (v == null) {
                throw truncated("END record", 0);
            }
            d.update(v);
        }
        return d.digest();
    }

    @Override
    public void close() {
        boolean idle = hash.stop();
        if (mapped != null && idle) {
            mapped.close(); // otherwise left to the garbage collector: the hashing thread may still read it
        }
    }

    private ImageFormatException truncated(String what, int into) {
        return new ImageFormatException("image is truncated: ends in the " + what + " at byte " + (offset + into));
    }

    private void readFully(ByteBuffer b, String what) throws IOException {
        if (mapped != null) {
            if (offset + b.remaining() > mapped.size()) {
                throw truncated(what, (int) Math.max(0, mapped.size() - offset));
            }
            while (b.hasRemaining()) {
                int n = Math.min(b.remaining(), HASH_CHUNK);
                b.put(mapped.view(offset, n));
                offset += n;
            }
            return;
        }
        int start = b.position();
        while (b.hasRemaining()) {
            int n = in.read(b);
            if (n < 0) {
                throw new ImageFormatException("image is truncated: ends in the " + what + " at byte "
                        + (offset + b.position() - start));
            }
        }
        offset += b.position() - start;
    }
}
