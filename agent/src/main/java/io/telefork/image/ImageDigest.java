package io.telefork.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.zip.CRC32C;

/**
 * An image file's identity without reading it as an image: the digest (SHA-256, see {@link ImageHash}) that
 * its END record (the file's last bytes) holds for everything before it, which is the digest a dump
 * reports. Checking a file against it before a restore reads it is the check the restore itself makes at
 * the END, done in advance.
 */
public final class ImageDigest {
    private static final int BUFFER = 1 << 20;

    private ImageDigest() {
    }

    /** The digest (hex) the file's END record holds; only the END record itself is checked (its CRC32C). */
    public static String endSha256(FileChannel file) throws IOException {
        return endSha256(file, file.size());
    }

    /** As {@link #endSha256(FileChannel)}, for an image that ends at byte {@code end} of the file. */
    public static String endSha256(FileChannel file, long end) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(Format.END_RECORD_BYTES).order(ByteOrder.BIG_ENDIAN);
        long at = end - Format.END_RECORD_BYTES;
        if (at < 0) {
            throw new ImageFormatException("the file is too short to be an image");
        }
        while (b.hasRemaining()) {
            if (file.read(b, at + b.position()) < 0) {
                throw new ImageFormatException("the file shrank while it was read");
            }
        }
        int length = Format.END_RECORD_BYTES - Format.RECORD_HEADER_BYTES;
        CRC32C c = new CRC32C();
        c.update(b.array(), Format.RECORD_HEADER_BYTES, length);
        if (b.getShort(0) != RecordType.END.id() || b.getInt(4) != length || b.getInt(8) != length
                || b.getInt(Format.RECORD_HEADER_BYTES) != 32 || (int) c.getValue() != b.getInt(12)) {
            throw new ImageFormatException("the file does not end with an image's END record (truncated or corrupt)");
        }
        byte[] digest = new byte[32];
        b.get(Format.RECORD_HEADER_BYTES + 4, digest);
        return HexFormat.of().formatHex(digest);
    }

    /** Checks that the file's END record names digest {@code expected} (not that the bytes hash to it). */
    public static void checkEnd(FileChannel file, String expected) throws IOException {
        String end = endSha256(file);
        if (!end.equals(expected)) {
            throw new ImageFormatException("the file is another image (digest " + end + "), not " + expected);
        }
    }

    /**
     * Checks that the file is the image with digest {@code expected}: its END record names it, and the
     * image before the END record hashes to it as its format defines the digest (from format 4 on: the
     * header and record headers, every record's payload checked against its CRC32C; before: every byte).
     */
    public static void verify(FileChannel file, String expected) throws IOException {
        checkEnd(file, expected);
        String actual = HexFormat.of().formatHex(digest(file, file.size() - Format.END_RECORD_BYTES));
        if (!actual.equals(expected)) {
            throw new ImageFormatException("the image is corrupt: its bytes hash to " + actual + ", its END record says "
                    + expected);
        }
    }

    private static byte[] digest(FileChannel file, long end) throws IOException {
        ByteBuffer head = ByteBuffer.allocate(Format.HEADER_BYTES);
        readFully(file, head, 0);
        head.flip();
        if (!Arrays.equals(Arrays.copyOf(head.array(), Format.MAGIC.length), Format.MAGIC)) {
            throw new ImageFormatException("the image is corrupt or not a telefork image (bad magic)");
        }
        int version = head.getShort(Format.MAGIC.length) & 0xffff;
        if (version > Format.VERSION) {
            throw new ImageFormatException("image format version " + version + " is newer than this telefork reads ("
                    + Format.VERSION + "): upgrade telefork");
        }
        MessageDigest md = ImageHash.sha256();
        ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER);
        if (version < ImageHash.FIRST_HEADERS_VERSION) {
            for (long at = 0; at < end; at += buf.limit()) {
                buf.clear().limit((int) Math.min(BUFFER, end - at));
                readFully(file, buf, at);
                md.update(buf.flip());
            }
            return md.digest();
        }
        md.update(head);
        ByteBuffer header = ByteBuffer.allocate(Format.RECORD_HEADER_BYTES);
        CRC32C crc = new CRC32C();
        long at = Format.HEADER_BYTES;
        while (at < end) {
            long record = at;
            header.clear().limit((int) Math.min(Format.RECORD_HEADER_BYTES, end - at));
            readFully(file, header, at);
            md.update(header.flip());
            int stored = header.limit() == Format.RECORD_HEADER_BYTES ? header.getInt(8) : -1;
            at += Format.RECORD_HEADER_BYTES;
            if (stored < 0 || stored > end - at) {
                throw new ImageFormatException("record at byte " + record + " has implausible lengths (corrupt image)");
            }
            crc.reset();
            for (long to = at + stored; at < to; at += buf.limit()) {
                buf.clear().limit((int) Math.min(BUFFER, to - at));
                readFully(file, buf, at);
                crc.update(buf.flip());
            }
            if ((int) crc.getValue() != header.getInt(12)) {
                throw new ImageFormatException("record at byte " + record + " fails its checksum (corrupt image)");
            }
        }
        return md.digest();
    }

    private static void readFully(FileChannel file, ByteBuffer b, long at) throws IOException {
        int start = b.position();
        while (b.hasRemaining()) {
            if (file.read(b, at + b.position() - start) < 0) {
                throw new ImageFormatException("the file shrank while it was read");
            }
        }
    }
}
