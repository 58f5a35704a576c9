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
 * thread-safe. Page data is best handed in through {@link #pageBuffer()}: the SHA-256 of the stream is
 * then computed on another thread while this one goes on reading and writing.
 */
public final class ImageWriter implements AutoCloseable {

    /** What was written: the stream's length and the SHA-256 stored in its END record. */
    public record Summary(long bytes, String sha256, long pageBytes) {
    }

    private final WritableByteChannel out;
    /**
     * Incompressible memory (random, encrypted or already compressed data) costs the codec's time and gains
     * nothing; after this many runs in a row that did not shrink, runs are stored raw without trying...
     */
    static final int TRIED_IN_A_ROW = 8;
    /** ...except every this many, so that compressible memory further on is found again within 16 MiB. */
    static final int PROBE_EVERY = 16;

    private final Compression compression;
    private final DigestPipeline sha = new DigestPipeline();
    private final BufferPool pool = new BufferPool(4, Format.MAX_RUN_PAGES * Format.PAGE_SIZE);
    private final CRC32C crc = new CRC32C();
    private final ByteBuffer header = ByteBuffer.allocateDirect(Format.RECORD_HEADER_BYTES + Format.PAGES_PREFIX_BYTES)
            .order(ByteOrder.BIG_ENDIAN);
    private final List<PageIndex.Entry> index = new ArrayList<>();
    private ByteBuffer staging;
    private ByteBuffer compressed;
    /** Page runs in a row that did not compress: past {@link #TRIED_IN_A_ROW}, only every {@link #PROBE_EVERY}th is tried. */
    private int incompressible;
    private long offset;
    private long pageBytes;
    /** The process whose pages are being written (see {@link #beginPagesOf(int)}). */
    private int pagesOf;

    public ImageWriter(WritableByteChannel out, Compression compression) {
        this.out = out;
        this.compression = compression;
    }

    /** A buffer of {@link Format#MAX_RUN_PAGES} pages to fill and hand to {@link #writePages(long, BufferPool.Lease, int, int)}. */
    public BufferPool.Lease pageBuffer() {
        return pool.take();
    }

    /**
     * Writes pages [{@code from}, {@code from + length}) of a leased buffer as one run at {@code address}.
     * The lease stays with the caller, who releases it when done with the buffer.
     */
    public void writePages(long address, BufferPool.Lease lease, int from, int length) throws IOException {
        ByteBuffer run = lease.buffer().duplicate();
        run.limit(from + length).position(from);
        writePages(address, run, lease);
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
        emit(h);
    }

    /** A metadata record; stored uncompressed since it is small and read before anything else. */
    public void writeRecord(RecordType type, byte[] payload) throws IOException {
        if (type == RecordType.PAGES || type == RecordType.END) {
            throw new IllegalArgumentException(type + " has its own method");
        }
        ByteBuffer p = ByteBuffer.wrap(payload);
        writeFramed(type, Compression.NONE, payload.length, p);
    }

    /**
     * A run of whole pages starting at {@code address}: the buffer's remaining bytes, a multiple of the
     * page size and at most {@link Format#MAX_RUN_PAGES} pages. The buffer is consumed.
     */
    public void writePages(long address, ByteBuffer pages) throws IOException {
        writePages(address, pages, null);
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
            ByteBuffer stored = attempt ? compress(address, count, pages, raw) : null;
            if (stored != null) {
                incompressible = 0;
                writeFramed(RecordType.PAGES, compression, raw, stored);
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
        emit(header);
        if (lease != null) {
            emitLeased(pages, lease);
        } else {
            emit(pages);
        }
    }

    /** A PAGES_OF record: the page runs written from here on are process {@code pid}'s. */
    public void beginPagesOf(int pid) throws IOException {
        pagesOf = pid;
        writeRecord(RecordType.PAGES_OF, new Encoder().i32(pid).toByteArray());
    }

    /** Writes the page index and the END record with the SHA-256 of everything before it. */
    public Summary finish() throws IOException {
        List<PageIndex.Entry> sorted = new ArrayList<>(index);
        sorted.sort((a, b) -> a.pid() != b.pid() ? Integer.compare(a.pid(), b.pid())
                : Long.compareUnsigned(a.address(), b.address()));
        writeRecord(RecordType.INDEX, new PageIndex(sorted).encode());
        byte[] digest = sha.peek();
        byte[] payload = new Encoder().bytes(digest).i64(pageBytes).toByteArray();
        writeFramed(RecordType.END, Compression.NONE, payload.length, ByteBuffer.wrap(payload));
        return new Summary(offset, HexFormat.of().formatHex(digest), pageBytes);
    }

    private ByteBuffer compress(long address, int count, ByteBuffer pages, int raw) {
        // One staging buffer for the whole image: a direct buffer per run is freed only by a GC, which a
        // dump barely triggers; a few GiB of them outgrew an agent's memory limit (OOM-killed).
        if (staging == null || staging.capacity() < raw) {
            staging = ByteBuffer.allocateDirect(Format.PAGES_PREFIX_BYTES + Format.MAX_RUN_PAGES * Format.PAGE_SIZE);
        }
        ByteBuffer src = staging.clear();
        src.putLong(address).putInt(count).put(pages.duplicate()).flip();
        int bound = compression.maxCompressedLength(raw);
        if (compressed == null || compressed.capacity() < bound) {
            compressed = ByteBuffer.allocateDirect(bound);
        }
        compressed.clear();
        int n = compression.compress(src, compressed);
        if (n >= raw) {
            return null; // incompressible: storing it raw is smaller and faster to read
        }
        compressed.flip();
        return compressed;
    }

    private int payloadCrc(long address, int count, ByteBuffer pages) {
        crc.reset();
        ByteBuffer prefix = ByteBuffer.allocate(Format.PAGES_PREFIX_BYTES).putLong(address).putInt(count).flip();
        crc.update(prefix);
        crc.update(pages.duplicate());
        return (int) crc.getValue();
    }

    private void writeFramed(RecordType type, Compression codec, int raw, ByteBuffer payload) throws IOException {
        crc.reset();
        crc.update(payload.duplicate());
        header.clear();
        putRecordHeader(type, codec, raw, payload.remaining(), (int) crc.getValue());
        header.flip();
        emit(header);
        emit(payload);
    }

    private void putRecordHeader(RecordType type, Compression codec, int raw, int stored, int payloadCrc) {
        header.putShort((short) type.id()).put((byte) codec.id()).put((byte) 0).putInt(raw).putInt(stored)
                .putInt(payloadCrc);
    }

    @Override
    public void close() {
        sha.close();
    }

    /** Writes bytes the caller may reuse at once. */
    private void emit(ByteBuffer b) throws IOException {
        if (b.remaining() <= 4096) {
            sha.updateCopy(b);
        } else {
            sha.update(b, () -> { });
            sha.drain();
        }
        write(b);
    }

    /** Writes part of a leased buffer, hashed later; the hash holds the lease until done. */
    private void emitLeased(ByteBuffer b, BufferPool.Lease lease) throws IOException {
        lease.hold();
        sha.update(b, lease::release);
        write(b);
    }

    private void write(ByteBuffer b) throws IOException {
        int n = b.remaining();
        while (b.hasRemaining()) {
            if (out.write(b) < 0) {
                throw new IOException("image output closed");
            }
        }
        offset += n;
    }
}
