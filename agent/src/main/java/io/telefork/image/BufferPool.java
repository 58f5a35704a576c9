package io.telefork.image;

import java.nio.ByteBuffer;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A few large direct buffers passed between the I/O thread and the hashing thread. A buffer goes back
 * to the pool once every holder (the caller, each pending hash of a part of it) has let it go.
 */
public final class BufferPool {
    private final BlockingQueue<Lease> free;

    BufferPool(int buffers, int size) {
        free = new ArrayBlockingQueue<>(buffers);
        for (int i = 0; i < buffers; i++) {
            free.add(new Lease(ByteBuffer.allocateDirect(size)));
        }
    }

    /** Takes a buffer, waiting for one to come back if all are in use. */
    public Lease take() {
        try {
            Lease l = free.take();
            l.holders.set(1);
            l.buffer.clear();
            return l;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for a buffer", e);
        }
    }

    /** One buffer on loan. */
    public final class Lease {
        private final ByteBuffer buffer;
        private final AtomicInteger holders = new AtomicInteger();

        private Lease(ByteBuffer buffer) {
            this.buffer = buffer;
        }

        public ByteBuffer buffer() {
            return buffer;
        }

        void hold() {
            holders.incrementAndGet();
        }

        /** Lets go of one hold; the last one returns the buffer to the pool. */
        public void release() {
            if (holders.decrementAndGet() == 0) {
                free.add(this);
            }
        }
    }
}
