package io.telefork.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * Writes an image in one pass to any channel (file, pipe, socket). Call {@link #writeHeader()}, the
 * metadata records, the page runs, then {@link #finish()} (or {@link #close()} to abandon). Not
 * thread-safe. The END record's digest covers the header and the record headers ({@link ImageHash}), each of
 * which holds its payload's CRC32C, so the pages are read once, for their CRC32C, on their way out. The
 * bytes are written on a thread of their own ({@link WritePipeline}): page runs are best handed in through
 * {@link #pageBuffer()}, whose buffers go back to the pool once written, so that the caller fills the next
 * while one is written.
 */
public final class ImageWriter implements AutoCloseable {

    /** What was written: the stream's length and the digest (SHA-256, hex) stored in its END record. */
    public record Summary(long bytes, String sha256, long pageBytes) {
    }

    private final WritePipeline out;
    /**
     * Incompressible memory (random, encrypted or already compressed data) costs the codec's time and gains
     * nothing; after this many runs in a row that did not shrink, runs are stored raw without trying...
     */
    static final int TRIED_IN_A_ROW = 8;
    /** ...except every this many, so that compressible memory further on is found again within 16 MiB. */
    static final int PROBE_EVERY = 16;

    private final Compression compression;
    private final ImageHash hash = ImageHash.forVersion(Format.VERSION);
    private final BufferPool pool = new BufferPool(4, Format.MAX_RUN_PAGES * Format.PAGE_SIZE);
    private final CRC32C crc = new CRC32C();
    private final ByteBuffer header = ByteBuffer.allocateDirect(Format.RECORD_HEADER_BYTES + Format.PAGES_PREFIX_BYTES)
            .order(ByteOrder.BIG_ENDIAN);
    private final List<PageIndex.Entry> index = new ArrayList<>();
    private ByteBuffer staging;
    /** Buffers for compressed runs, lent to the writing thread like page buffers; made at the first. */
    private BufferPool compressed;
    /** Page runs in a row that did not compress: past {@link #TRIED_IN_A_ROW}, only every {@link #PROBE_EVERY}th is tried. */
    private int incompressible;
    private long offset;
    private long pageBytes;
    /** The process whose pages are being written (see {@link #beginPagesOf(int)}). */
    private int pagesOf;

    public ImageWriter(WritableByteChannel out, Compression compression) {
        this.out = new WritePipeline(out);
        this.compression = compression;
    }

    /** A buffer of {@link Format#MAX_RUN_PAGES} pages to fill and hand to {@link #writePages(long, BufferPool.Lease, int, int)}. */
    public BufferPool.Lease pageBuffer() {
        return pool.take();
    }

    /**
     * Writes pages [{@code from}, {@code from + length}) of a leased buffer as one run at {@code address}.
     * The lease stays with the caller, who releases it when done with the buffer; the writer holds it too
     * until the run is written, so the caller must not change those pages once handed in.
     */
    public void writePages(long address, BufferPool.Lease lease, int from, int length) throws IOException {
        ByteBuffer run = lease.buffer().duplicate();
        run.limit(from + length).position(from);
        writePages(address, run, lease);
        out.flush();
    }

    public long bytesWritten() {
        return offset;
    }

    public void writeHeader() throws IOException {
        ByteBuffer h = ByteBuffer.allocate(Format.HEADER_BYTES);
        h.put(Format.MAGIC).putShort((short) Format.VERSION).putShort((short) Format.ARCH_X86_64)
                .putInt(Format.PAGE_SIZE).putInt(0);
        crc.reset();
        crc.update(h.array(), 0, h.position());
        h.putInt((int) crc.getValue()).flip();
        hash.header(h);
        write(h);
        out.flush();
    }

    /**
     * A metadata record; stored uncompressed since it is small and read before anything else. The payload
     * is the writer's from here on: the caller must not change it.
     */
    public void writeRecord(RecordType type, byte[] payload) throws IOException {
        if (type == RecordType.PAGES || type == RecordType.END) {
            throw new IllegalArgumentException(type + " has its own method");
        }
        ByteBuffer p = ByteBuffer.wrap(payload);
        writeFramed(type, Compression.NONE, payload.length, p, null);
        out.flush();
    }

    /**
     * A run of whole pages starting at {@code address}: the buffer's remaining bytes, a multiple of the
     * page size and at most {@link Format#MAX_RUN_PAGES} pages. The buffer is consumed.
     */
    public void writePages(long address, ByteBuffer pages) throws IOException {
        writePages(address, pages, null);
        out.flush();
    }

    private void writePages(long address, ByteBuffer pages, BufferPool.Lease lease) throws IOException {
        int length = pages.remaining();
        if (length == 0 || length % Format.PAGE_SIZE != 0 || length > Format.MAX_RUN_PAGES * Format.PAGE_SIZE) {
            throw new IllegalArgumentException("bad page run length " + length);
        }
        int count = length / Format.PAGE_SIZE;
        index.add(new PageIndex.Entry(pagesOf, address, count, offset));
        pageBytes += length;
        int raw = Format.PAGES_PREFIX_BYTES + length;
        if (compression != Compression.NONE) {
            boolean attempt = incompressible < TRIED_IN_A_ROW || (incompressible - TRIED_IN_A_ROW) % PROBE_EVERY == 0;
            BufferPool.Lease stored = attempt ? compress(address, count, pages, raw) : null;
            if (stored != null) {
                incompressible = 0;
                writeFramed(RecordType.PAGES, compression, raw, stored.buffer(), stored);
                pages.position(pages.limit());
                return;
            }
            incompressible++;
        }
        // Uncompressed: the prefix goes with the record header, the pages straight from the caller's buffer.
        int payloadCrc = payloadCrc(address, count, pages);
        header.clear();
        putRecordHeader(RecordType.PAGES, Compression.NONE, raw, raw, payloadCrc);
        header.putLong(address).putInt(count).flip();
        write(header);
        if (lease != null) {
            lease.hold();
            int n = pages.remaining();
            out.lent(pages, lease::release);
            offset += n;
        } else {
            write(pages);
        }
        pages.position(pages.limit());
    }

    /** A PAGES_OF record: the page runs written from here on are process {@code pid}'s. */
    public void beginPagesOf(int pid) throws IOException {
        pagesOf = pid;
        writeRecord(RecordType.PAGES_OF, new Encoder().i32(pid).toByteArray());
    }

    /** Writes the page index and the END record with the digest of everything before it. */
    public Summary finish() throws IOException {
        List<PageIndex.Entry> sorted = new ArrayList<>(index);
        sorted.sort((a, b) -> a.pid() != b.pid() ? Integer.compare(a.pid(), b.pid())
                : Long.compareUnsigned(a.address(), b.address()));
        writeRecord(RecordType.INDEX, new PageIndex(sorted).encode());
        byte[] digest = hash.digest();
        byte[] payload = new Encoder().bytes(digest).i64(pageBytes).toByteArray();
        writeFramed(RecordType.END, Compression.NONE, payload.length, ByteBuffer.wrap(payload), null);
        out.drain();
        return new Summary(offset, HexFormat.of().formatHex(digest), pageBytes);
    }

    /** The run compressed into a lent buffer (its one hold is the caller's), or null if it would not shrink. */
    private BufferPool.Lease compress(long address, int count, ByteBuffer pages, int raw) {
        // One staging buffer for the whole image: a direct buffer per run is freed only by a GC, which a
        // dump barely triggers; a few GiB of them outgrew an agent's memory limit (OOM-killed).
        if (staging == null || staging.capacity() < raw) {
            staging = ByteBuffer.allocateDirect(Format.PAGES_PREFIX_BYTES + Format.MAX_RUN_PAGES * Format.PAGE_SIZE);
        }
        ByteBuffer src = staging.clear();
        src.putLong(address).putInt(count).put(pages.duplicate()).flip();
        if (compressed == null) {
            compressed = new BufferPool(2, compression.maxCompressedLength(
                    Format.PAGES_PREFIX_BYTES + Format.MAX_RUN_PAGES * Format.PAGE_SIZE));
        }
        BufferPool.Lease out = compressed.take();
        int n = compression.compress(src, out.buffer());
        if (n >= raw) {
            out.release();
            return null; // incompressible: storing it raw is smaller and faster to read
        }
        out.buffer().flip();
        return out;
    }

    private int payloadCrc(long address, int count, ByteBuffer pages) {
        crc.reset();
        ByteBuffer prefix = ByteBuffer.allocate(Format.PAGES_PREFIX_BYTES).putLong(address).putInt(count).flip();
        crc.update(prefix);
        crc.update(pages.duplicate());
        return (int) crc.getValue();
    }

    /**
     * A record of one payload: in a buffer of {@code lent}, whose one hold goes with it to the writing
     * thread, or, if null, one that nobody changes any more.
     */
    private void writeFramed(RecordType type, Compression codec, int raw, ByteBuffer payload, BufferPool.Lease lent)
            throws IOException {
        crc.reset();
        crc.update(payload.duplicate());
        header.clear();
        putRecordHeader(type, codec, raw, payload.remaining(), (int) crc.getValue());
        header.flip();
        write(header);
        int n = payload.remaining();
        if (lent == null) {
            out.owned(payload);
        } else {
            out.lent(payload, lent::release);
        }
        offset += n;
    }

    private void putRecordHeader(RecordType type, Compression codec, int raw, int stored, int payloadCrc) {
        header.putShort((short) type.id()).put((byte) codec.id()).put((byte) 0).putInt(raw).putInt(stored)
                .putInt(payloadCrc);
        hash.header(header.duplicate().flip());
    }

    /** Abandons the image: what is not written yet is dropped. */
    @Override
    public void close() {
        out.close();
        hash.close();
    }

    /** Bytes the caller may reuse at once. */
    private void write(ByteBuffer b) throws IOException {
        int n = b.remaining();
        out.copy(b);
        b.position(b.limit());
        offset += n;
    }
}
