package io.telefork.sys;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Tasks pinned to the CPU the calling (tracer) thread runs on, and the tracer with them, while it injects
 * calls into them or builds them: every ptrace resume and stop then passes that CPU straight from one to
 * the other, where otherwise each wakes the other CPU from idle, which on a VM can take longer than the
 * call itself.
 *
 * <p>Best effort: a task that may not run on that CPU (a container's cpuset), or that the kernel refuses to
 * move, is left as it is. {@link #close} gives every task pinned here its own CPUs back, and the tracer its
 * own; the pin can then be used again. Tasks made from a pinned task (its threads, its forks) inherit the
 * pin, and so do the threads the tracer starts while pinned. Not thread-safe: the tracer thread's.
 */
public final class CpuPin implements AutoCloseable {
    /** Work done with the tracer on its own CPUs. */
    @FunctionalInterface
    public interface Work {
        void run() throws Exception;
    }

    private static final int MASK_WORDS = 16;
    private static final int ESRCH = 3;

    /** The pinned tasks, with the CPUs each had. */
    private final Map<Integer, long[]> own = new LinkedHashMap<>();
    /** The one CPU, chosen with the first task pinned; null while none is. */
    private long[] one;
    private long[] tracerOwn;
    private boolean tracerPinned;

    /** Pins {@code tid}, and the calling thread with it the first time; false if {@code tid} is left as it is. */
    public boolean add(int tid) {
        if (own.containsKey(tid)) {
            return true;
        }
        try {
            long[] mask = Kernel.affinity(tid);
            if (one == null) {
                int cpu = Kernel.currentCpu();
                if (cpu / 64 >= MASK_WORDS || (mask[cpu / 64] & (1L << (cpu % 64))) == 0) {
                    return false;
                }
                long[] single = new long[MASK_WORDS];
                single[cpu / 64] = 1L << (cpu % 64);
                tracerOwn = Kernel.affinity(0);
                Kernel.setAffinity(0, single);
                one = single;
                tracerPinned = true;
            } else if (!overlaps(mask, one)) {
                return false;
            }
            try {
                Kernel.setAffinity(tid, one);
            } catch (SysException e) {
                if (own.isEmpty()) {
                    unpinTracer();
                    one = null;
                }
                return false;
            }
            own.put(tid, mask);
            return true;
        } catch (SysException e) {
            return false; // unpinned: slower injected calls, nothing else
        }
    }

    /** The CPUs {@code tid} had before it was pinned here; null if it is not pinned here. */
    public long[] ownMask(int tid) {
        return own.get(tid);
    }

    /** Gives {@code tid} its own CPUs back now; false if it was not pinned here. */
    public boolean release(int tid) throws SysException {
        long[] mask = own.get(tid);
        if (mask == null) {
            return false;
        }
        own.remove(tid);
        Kernel.setAffinity(tid, mask);
        return true;
    }

    /** Runs {@code work} with the tracer on its own CPUs (the pinned tasks stay pinned), and the threads it starts. */
    public void apart(Work work) throws Exception {
        if (!tracerPinned) {
            work.run();
            return;
        }
        unpinTracer();
        try {
            work.run();
        } finally {
            try {
                Kernel.setAffinity(0, one);
                tracerPinned = true;
            } catch (SysException e) {
                // Not pinned again: slower injected calls, nothing else.
            }
        }
    }

    /**
     * Gives every task still pinned here its own CPUs back, then the tracer its own. A task gone meanwhile
     * is skipped; the first other refusal is thrown once all were tried.
     */
    @Override
    public void close() throws SysException {
        SysException failed = null;
        List<Integer> tids = new ArrayList<>(own.keySet());
        for (int tid : tids) {
            try {
                release(tid);
            } catch (SysException e) {
                if (e.errno() != ESRCH && failed == null) {
                    failed = e;
                }
            }
        }
        own.clear();
        unpinTracer();
        one = null;
        if (failed != null) {
            throw failed;
        }
    }

    private void unpinTracer() {
        if (!tracerPinned) {
            return;
        }
        tracerPinned = false;
        try {
            Kernel.setAffinity(0, tracerOwn);
        } catch (SysException e) {
            // Its own mask, which it had a moment ago: only a CPU taken offline meanwhile can refuse it.
        }
    }

    private static boolean overlaps(long[] a, long[] b) {
        for (int i = 0; i < Math.min(a.length, b.length); i++) {
            if ((a[i] & b[i]) != 0) {
                return true;
            }
        }
        return false;
    }
}
