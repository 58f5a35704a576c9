package io.telefork.sys;

import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The one platform thread that does every ptrace request and wait for the tracees it seized (ptrace
 * is per thread, and another thread's waitpid would steal their stops). Work is handed to it as
 * closures that receive the {@link Ptrace} bound to it.
 */
public final class Tracer implements AutoCloseable {

    /** Work that runs on the tracer thread. */
    @FunctionalInterface
    public interface Task<T> {
        T run(Ptrace ptrace) throws Exception;
    }

    private final ExecutorService thread;
    private final Ptrace ptrace;

    public Tracer(String name) {
        Thread[] holder = new Thread[1];
        this.thread = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            holder[0] = t;
            return t;
        });
        try {
            // Start the thread now so that the Ptrace object can be bound to it.
            thread.submit(() -> { }).get();
        } catch (InterruptedException | ExecutionException e) {
            throw new IllegalStateException("tracer thread did not start", e);
        }
        this.ptrace = new Ptrace(holder[0]);
    }

    /** Runs {@code task} on the tracer thread and waits for it; its exception is rethrown as is. */
    public <T> T call(Task<T> task) throws Exception {
        Future<T> f = thread.submit((Callable<T>) () -> task.run(ptrace));
        try {
            return f.get();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof Exception ex) {
                throw ex;
            }
            throw (Error) cause;
        }
    }

    @Override
    public void close() {
        thread.shutdown();
    }
}
