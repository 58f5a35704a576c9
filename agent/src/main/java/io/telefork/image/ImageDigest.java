package io.telefork.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.zip.CRC32C;

/**
 * An image file's identity without reading it as an image: the SHA-256 that its END record (the file's
 * last bytes) holds for everything before it, which is the digest a dump reports. Checking a file against
 * it before a restore reads it is the check the restore itself makes at the END, done in advance.
 */
public final class ImageDigest {
    private static final int BUFFER = 1 << 20;

    private ImageDigest() {
    }

    /** The SHA-256 (hex) the file's END record holds; only the END record itself is checked (its CRC32C). */
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

    /** Checks that the file's END record names SHA-256 {@code expected} (not that the bytes hash to it). */
    public static void checkEnd(FileChannel file, String expected) throws IOException {
        String end = endSha256(file);
        if (!end.equals(expected)) {
            throw new ImageFormatException("the file is another image (SHA-256 " + end + "), not " + expected);
        }
    }

    /**
     * Checks that the file is the image with SHA-256 {@code expected}: its END record names it, and
     * everything before the END record hashes to it.
     */
    public static void verify(FileChannel file, String expected) throws IOException {
        checkEnd(file, expected);
        MessageDigest md = sha256();
        long left = file.size() - Format.END_RECORD_BYTES;
        ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER);
        long at = 0;
        while (at < left) {
            buf.clear().limit((int) Math.min(BUFFER, left - at));
            int n = file.read(buf, at);
            if (n < 0) {
                throw new ImageFormatException("the file shrank while it was read");
            }
            buf.flip();
            md.update(buf);
            at += n;
        }
        String actual = HexFormat.of().formatHex(md.digest());
        if (!actual.equals(expected)) {
            throw new ImageFormatException("the image is corrupt: its bytes hash to " + actual + ", its END record says "
                    + expected);
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
