package io.telefork.restore;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A second thread that writes page records into the processes beside the one reading the image (an eager
 * restore's, and a lazy restore's pusher): writing into fresh pages (allocating them) is most of that
 * time, as it is of {@code cp}'s, and two threads do it in parallel on two cores. Only for records whose pages stay where they are until the
 * restore ends (a mapped image file's uncompressed records); at most {@link #QUEUED} wait at a time.
 */
final class PageWriters implements AutoCloseable {
    static final int QUEUED = 4;

    /** A write of pages into a process. */
    interface Write {
        void run() throws Exception;
    }

    private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "telefork-page-writer");
        t.setDaemon(true);
        return t;
    });
    private final Semaphore queued = new Semaphore(QUEUED);
    private final AtomicReference<Exception> failure = new AtomicReference<>();
    private Future<?> last;

    /** Runs {@code write} on the other thread, after the writes handed in before it; throws an earlier one's failure. */
    void submit(Write write) throws Exception {
        check();
        queued.acquire();
        last = thread.submit(() -> {
            try {
                if (failure.get() == null) {
                    write.run();
                }
            } catch (Exception e) {
                failure.compareAndSet(null, e);
            } finally {
                queued.release();
            }
        });
    }

    /** Waits until every write handed in has run; throws the first that failed. */
    void await() throws Exception {
        if (last != null) {
            try {
                last.get();
            } catch (ExecutionException e) {
                throw new IllegalStateException("a page writer failed", e.getCause());
            }
        }
        check();
    }

    private void check() throws Exception {
        Exception e = failure.get();
        if (e != null) {
            throw e;
        }
    }

    /** Drops the writes not started and waits for the one under way, so that none runs after this. */
    @Override
    public void close() throws InterruptedException {
        thread.shutdownNow();
        thread.awaitTermination(1, TimeUnit.MINUTES);
    }
}
