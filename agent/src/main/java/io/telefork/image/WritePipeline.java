package io.telefork.image;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.Arrays;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;

/**
 * Writes an image's bytes to its channel in order, on a thread of its own: the thread that makes them
 * (reading a process's memory, checking each page for zeros, its CRC32C) reads the next run while the
 * last one is written. Writing 1 GiB into tmpfs (allocating its pages) takes about as long here as the
 * rest of a dump's page work, so the two overlap on two cores.
 *
 * <p>Small pieces (a record header, a small payload) are gathered until {@link #flush()} or a large piece,
 * which they go out with, in one system call where the channel gathers. At most {@link #IN_FLIGHT} writes wait at a time; the
 * caller waits beyond that, so a slow reader of a pipe or socket holds a dump back instead of its memory
 * piling up here. A write that fails fails every later call ({@link #check()}).
 */
final class WritePipeline implements AutoCloseable {
    static final int IN_FLIGHT = 8;
    /** Pieces up to this size are gathered rather than written on their own. */
    static final int SMALL = 64 << 10;

    private final WritableByteChannel out;
    private final OneThread thread = new OneThread("telefork-image-writer");
    private final Semaphore inFlight = new Semaphore(IN_FLIGHT);
    private byte[] gathered = new byte[4096];
    private int gatheredBytes;
    private volatile IOException failure;

    WritePipeline(WritableByteChannel out) {
        this.out = out;
    }

    /** Bytes the caller may reuse at once: copied if small, else written before this returns. */
    void copy(ByteBuffer b) throws IOException {
        if (b.remaining() <= SMALL) {
            gather(b);
        } else {
            ByteBuffer copy = ByteBuffer.allocate(b.remaining());
            copy.put(b.duplicate()).flip();
            owned(copy);
        }
    }

    /** Bytes that nobody changes any more, written after what came before. */
    void owned(ByteBuffer b) throws IOException {
        if (b.remaining() <= SMALL) {
            gather(b);
        } else {
            submit(b, () -> { });
        }
    }

    /**
     * Bytes that must not change until {@code done} has run, which it does once they are written (or
     * dropped after a failure): the caller's buffer goes back to its pool from there.
     */
    void lent(ByteBuffer b, Runnable done) throws IOException {
        submit(b, done);
    }

    /** Hands what is gathered to the writing thread, so that it is written without waiting for more. */
    void flush() throws IOException {
        submit(null, () -> { });
    }

    /** Waits until everything handed in is written; throws what failed. */
    void drain() throws IOException {
        flush();
        try {
            inFlight.acquire(IN_FLIGHT);
            inFlight.release(IN_FLIGHT);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while the image was written");
        }
        check();
    }

    /** Throws the failure of an earlier write, if one failed. */
    void check() throws IOException {
        IOException f = failure;
        if (f != null) {
            throw new IOException("writing the image: " + f.getMessage(), f);
        }
    }

    @Override
    public void close() {
        stop();
    }

    /**
     * Drops what is not written yet and waits for the write under way: true once no buffer handed in is
     * read any more (false if that took too long or the wait was interrupted).
     */
    boolean stop() {
        return thread.stop();
    }

    private void gather(ByteBuffer b) throws IOException {
        int n = b.remaining();
        if (gatheredBytes + n > SMALL) {
            flush();
        }
        if (gatheredBytes + n > gathered.length) {
            gathered = Arrays.copyOf(gathered, Math.max(gathered.length * 2, gatheredBytes + n));
        }
        b.duplicate().get(gathered, gatheredBytes, n);
        gatheredBytes += n;
    }

    /** Writes the gathered bytes, then {@code b} if not null, in one task. */
    private void submit(ByteBuffer b, Runnable done) throws IOException {
        try {
            check();
        } catch (IOException e) {
            done.run(); // the caller's buffer goes back to its pool all the same
            throw e;
        }
        ByteBuffer[] parts;
        ByteBuffer head = gatheredBytes == 0 ? null : ByteBuffer.wrap(Arrays.copyOf(gathered, gatheredBytes));
        gatheredBytes = 0;
        if (head == null && b == null) {
            done.run();
            return;
        }
        parts = head == null ? new ByteBuffer[] {b.duplicate()} : b == null ? new ByteBuffer[] {head}
                : new ByteBuffer[] {head, b.duplicate()};
        try {
            inFlight.acquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            done.run();
            throw new InterruptedIOException("interrupted while the image was written");
        }
        Runnable task = () -> {
            try {
                if (failure == null) {
                    writeFully(parts);
                }
            } catch (IOException e) {
                failure = e;
            } catch (RuntimeException e) {
                failure = new IOException(e.toString(), e);
            } finally {
                inFlight.release();
                done.run();
            }
        };
        try {
            thread.submit(task);
        } catch (RejectedExecutionException e) {
            inFlight.release();
            done.run();
            throw new IOException("the image writer was stopped", e);
        }
    }

    private void writeFully(ByteBuffer[] parts) throws IOException {
        ByteBuffer last = parts[parts.length - 1];
        if (out instanceof GatheringByteChannel g) {
            while (last.hasRemaining()) {
                if (g.write(parts) < 0) {
                    throw new IOException("image output closed");
                }
            }
            return;
        }
        for (ByteBuffer p : parts) {
            while (p.hasRemaining()) {
                if (out.write(p) < 0) {
                    throw new IOException("image output closed");
                }
            }
        }
    }
}
