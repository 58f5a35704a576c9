package io.telefork.image;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The digest an image's END record holds, as its reader or writer computes it.
 *
 * <p>From format 4 on it is the SHA-256 of the image header and of every record header before the END
 * record. Each record header holds its payload's CRC32C, which is checked on its own before the payload is
 * used, so the digest binds every byte of the image while hashing 16 bytes per record: a dump or restore
 * no longer waits for a hash of every page, which took one core 0.6 s per GiB here. Formats 1 to 3 hashed
 * every byte; their digest is computed as they defined it, on a thread of its own ({@link DigestPipeline}).
 */
final class ImageHash implements AutoCloseable {
    /** The first format version whose END holds the digest of the record headers. */
    static final int FIRST_HEADERS_VERSION = 4;

    /** Formats 1-3: every byte, on the pipeline's thread; else null. */
    private final DigestPipeline everyByte;
    /** Format 4 on: the headers, hashed in line; else null. */
    private final MessageDigest headers;

    private ImageHash(boolean everyByte) {
        this.everyByte = everyByte ? new DigestPipeline() : null;
        this.headers = everyByte ? null : sha256();
    }

    /** The digest of an image of format {@code version}. */
    static ImageHash forVersion(int version) {
        return new ImageHash(version < FIRST_HEADERS_VERSION);
    }

    /** True for formats 1 to 3, whose digest covers every byte of the stream. */
    boolean everyByte() {
        return everyByte != null;
    }

    /** The image header or a record header: hashed by every format. The caller may reuse the buffer at once. */
    void header(ByteBuffer view) {
        if (everyByte != null) {
            everyByte.updateCopy(view);
        } else {
            headers.update(view.duplicate());
        }
    }

    /**
     * A record's payload, which must not change until {@code done} has run: hashed only by formats 1-3
     * (from format 4 on, its CRC32C in the record header stands for it, and {@code done} runs at once).
     */
    void payload(ByteBuffer view, Runnable done) {
        if (everyByte != null) {
            everyByte.update(view, done);
        } else {
            done.run();
        }
    }

    /** As {@link #payload(ByteBuffer, Runnable)} for a buffer the caller may reuse at once. */
    void payloadCopy(ByteBuffer view) {
        if (everyByte != null) {
            everyByte.updateCopy(view);
        }
    }

    /** The digest of everything handed in so far, without ending it. */
    byte[] digest() {
        if (everyByte != null) {
            return everyByte.peek();
        }
        try {
            return ((MessageDigest) headers.clone()).digest();
        } catch (CloneNotSupportedException e) {
            throw new IllegalStateException("SHA-256 digests are cloneable", e);
        }
    }

    /** Drops what is not hashed yet: true once no payload handed in is being read any more. */
    boolean stop() {
        return everyByte == null || everyByte.stop();
    }

    @Override
    public void close() {
        stop();
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }
}
