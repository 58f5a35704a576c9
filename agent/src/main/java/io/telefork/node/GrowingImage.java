package io.telefork.node;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.Objects;

/**
 * An image file read while its dump still writes it (a post-copy restore): a stream that, at the end of
 * what is written so far, waits for more. The dump writes under a temporary name and renames the file
 * into place once complete, which an open descriptor does not notice; it deletes the temporary file if
 * it fails, which this stream notices (the file then has no name any more) and ends with an error, as it
 * does when nothing more is written for {@code stall}. The image's own END record tells its reader where
 * it ends: this stream never decides that.
 */
final class GrowingImage implements ReadableByteChannel {
    private static final long POLL_NANOS = 500_000;
    /** Waiting longer than this for more, it checks that the file still has a name. */
    private static final long NAME_CHECK_NANOS = 20_000_000;

    private final FileChannel file;
    private final Path partial;
    private final Path complete;
    private final Object identity;
    private final Duration stall;

    private GrowingImage(FileChannel file, Path partial, Path complete, Object identity, Duration stall) {
        this.file = file;
        this.partial = partial;
        this.complete = complete;
        this.identity = identity;
        this.stall = stall;
    }

    /**
     * Opens the image being written as {@code partial} (or already complete as {@code complete}), waiting
     * up to {@code appear} for the dump to create it.
     */
    static GrowingImage open(Path partial, Path complete, Duration appear, Duration stall)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + appear.toNanos();
        while (true) {
            for (Path p : new Path[] {partial, complete}) {
                try {
                    FileChannel ch = FileChannel.open(p, StandardOpenOption.READ);
                    Object id = Files.readAttributes(p, BasicFileAttributes.class).fileKey();
                    return new GrowingImage(ch, partial, complete, id, stall);
                } catch (NoSuchFileException e) {
                    // not yet, or renamed between the two attempts
                }
            }
            if (System.nanoTime() > deadline) {
                throw new NoSuchFileException(partial + " (nor " + complete.getFileName() + ") did not appear within "
                        + appear.toSeconds() + " s: has the dump started?");
            }
            Thread.sleep(2);
        }
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        long idleSince = System.nanoTime();
        while (true) {
            int n = file.read(dst);
            if (n != 0 && n != -1) {
                return n;
            }
            if (!dst.hasRemaining()) {
                return 0;
            }
            long idle = System.nanoTime() - idleSince;
            if (idle > NAME_CHECK_NANOS && !named()) {
                n = file.read(dst); // what was written before the name went
                if (n > 0) {
                    return n;
                }
                throw new IOException("the image's dump stopped writing it (its file was deleted: the dump failed)");
            }
            if (idle > stall.toNanos()) {
                throw new IOException("the image's dump wrote nothing for " + stall.toMillis() + " ms");
            }
            java.util.concurrent.locks.LockSupport.parkNanos(POLL_NANOS);
        }
    }

    /** Whether the file still has a name: the temporary one, or the final one once renamed. */
    private boolean named() {
        for (Path p : new Path[] {partial, complete}) {
            try {
                if (Objects.equals(identity, Files.readAttributes(p, BasicFileAttributes.class).fileKey())) {
                    return true;
                }
            } catch (IOException e) {
                // no such name
            }
        }
        return false;
    }

    @Override
    public boolean isOpen() {
        return file.isOpen();
    }

    @Override
    public void close() throws IOException {
        file.close();
    }
}
