package io.telefork.image;

import com.github.luben.zstd.Zstd;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4FastDecompressor;

import java.nio.ByteBuffer;
import java.util.Locale;

/** How a record's payload is stored. The id is what the stream carries. */
public enum Compression {
    NONE(0),
    LZ4(1),
    ZSTD(2);

    /** zstd level 1: the fast end, since a dump is judged by its speed first. */
    private static final int ZSTD_LEVEL = 1;

    private final int id;

    Compression(int id) {
        this.id = id;
    }

    public int id() {
        return id;
    }

    public static Compression fromId(int id) throws ImageFormatException {
        for (Compression c : values()) {
            if (c.id == id) {
                return c;
            }
        }
        throw new ImageFormatException("unknown compression id " + id);
    }

    public static Compression parse(String name) {
        return valueOf(name.toUpperCase(Locale.ROOT));
    }

    /** Bound on the compressed size of {@code rawLength} bytes. */
    int maxCompressedLength(int rawLength) {
        return switch (this) {
            case NONE -> rawLength;
            case LZ4 -> lz4().maxCompressedLength(rawLength);
            case ZSTD -> (int) Zstd.compressBound(rawLength);
        };
    }

    /** Compresses src (position..limit) into dst (from its position); returns the compressed length. */
    int compress(ByteBuffer src, ByteBuffer dst) {
        return switch (this) {
            case NONE -> throw new IllegalStateException("NONE does not compress");
            case LZ4 -> {
                int before = dst.position();
                lz4().compress(src.duplicate(), dst);
                yield dst.position() - before;
            }
            case ZSTD -> {
                long n = Zstd.compressDirectByteBuffer(dst, dst.position(), dst.remaining(),
                        src, src.position(), src.remaining(), ZSTD_LEVEL);
                if (Zstd.isError(n)) {
                    throw new IllegalStateException("zstd: " + Zstd.getErrorName(n));
                }
                dst.position(dst.position() + (int) n);
                yield (int) n;
            }
        };
    }

    /** Decompresses src (position..limit) into exactly rawLength bytes at dst's position. */
    void decompress(ByteBuffer src, ByteBuffer dst, int rawLength) throws ImageFormatException {
        try {
            switch (this) {
                case NONE -> throw new IllegalStateException("NONE does not decompress");
                case LZ4 -> {
                    LZ4FastDecompressor d = LZ4Factory.fastestInstance().fastDecompressor();
                    int read = d.decompress(src, src.position(), dst, dst.position(), rawLength);
                    if (read != src.remaining()) {
                        throw new ImageFormatException("lz4 payload has trailing bytes");
                    }
                    dst.position(dst.position() + rawLength);
                }
                case ZSTD -> {
                    long n = Zstd.decompressDirectByteBuffer(dst, dst.position(), rawLength,
                            src, src.position(), src.remaining());
                    if (Zstd.isError(n) || n != rawLength) {
                        throw new ImageFormatException("zstd payload does not decompress to " + rawLength + " bytes");
                    }
                    dst.position(dst.position() + rawLength);
                }
            }
        } catch (net.jpountz.lz4.LZ4Exception e) {
            throw new ImageFormatException("lz4 payload is corrupt: " + e.getMessage());
        }
    }

    private static LZ4Compressor lz4() {
        return LZ4Factory.fastestInstance().fastCompressor();
    }
}
