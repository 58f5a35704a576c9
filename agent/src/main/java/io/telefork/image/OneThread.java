package io.telefork.image;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * One named daemon thread that runs what is handed to it in order: the thread of {@link DigestPipeline}
 * and of {@link WritePipeline}, which hold buffers their callers lent them until the thread is done.
 */
final class OneThread {
    private final ExecutorService executor;

    OneThread(String name) {
        executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
    }

    /** Runs {@code task} after everything handed in before it; rejected once stopped. */
    Future<?> submit(Runnable task) {
        return executor.submit(task);
    }

    /**
     * Drops the tasks not started and waits for the one under way: true once none runs any more, so that
     * nothing lent to them is read after this (false if that took over 10 s or the wait was interrupted).
     */
    boolean stop() {
        executor.shutdownNow();
        try {
            return executor.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
