package io.telefork.restore;

import io.telefork.sys.Kernel;
import io.telefork.sys.SysException;

import java.util.Collection;

/**
 * A restore's tracer thread and its vessel on one CPU while the process is built. Every injected call
 * is a ptrace resume and stop: on one CPU, the CPU passes straight from the tracer to the vessel and
 * back, where otherwise each resume wakes the other CPU from idle, which on a VM can take longer than the
 * call (2 vCPUs: 10.1-11.9 ms to a lazy restore's first instruction pinned, 13.5-16.9 ms not).
 *
 * <p>Best effort: where the vessel may not run on the tracer's CPU (a container's cpuset), or the kernel
 * refuses, nothing is pinned. Every task made from the vessel (its threads, a tree's processes) inherits
 * the pin; {@link #release} gives them the vessel's own CPUs back before they run, and {@link #close}
 * the tracer thread its own. Threads the tracer starts inherit its pin too, so the pages are copied
 * {@link #unpinned} (an eager 1 GiB restore took 600 ms with its two copying threads on one CPU, 480 ms
 * without). Runs on the tracer thread.
 */
final class OneCpu implements AutoCloseable {
    private static final int MASK_WORDS = 16;

    /** Work done while the tracer is not pinned. */
    @FunctionalInterface
    interface Work {
        void run() throws Exception;
    }

    private final long[] tracerMask;
    private final long[] vesselMask;
    private final long[] pinned;
    private boolean tracerPinned;

    private OneCpu(long[] tracerMask, long[] vesselMask, long[] pinned) {
        this.tracerMask = tracerMask;
        this.vesselMask = vesselMask;
        this.pinned = pinned;
        this.tracerPinned = tracerMask != null;
    }

    /** Pins the calling (tracer) thread and {@code vessel} to the CPU the tracer runs on, if the vessel may run there. */
    static OneCpu pin(int vessel) {
        long[] tracer;
        long[] own;
        long[] one = new long[MASK_WORDS];
        try {
            tracer = Kernel.affinity(0);
            own = Kernel.affinity(vessel);
            int cpu = Kernel.currentCpu();
            if (cpu / 64 >= MASK_WORDS || (own[cpu / 64] & (1L << (cpu % 64))) == 0) {
                return new OneCpu(null, null, null);
            }
            one[cpu / 64] = 1L << (cpu % 64);
            Kernel.setAffinity(0, one);
        } catch (SysException e) {
            return new OneCpu(null, null, null);
        }
        try {
            Kernel.setAffinity(vessel, one);
        } catch (SysException e) {
            OneCpu none = new OneCpu(tracer, null, null);
            none.close();
            return none;
        }
        return new OneCpu(tracer, own, one);
    }

    /** Runs {@code work} with the tracer thread on its own CPUs, and the threads it starts on them too. */
    void unpinned(Work work) throws Exception {
        if (!tracerPinned || vesselMask == null) {
            work.run();
            return;
        }
        close();
        try {
            work.run();
        } finally {
            try {
                Kernel.setAffinity(0, pinned);
                tracerPinned = true;
            } catch (SysException e) {
                // Not pinned again: slower injected calls, nothing else.
            }
        }
    }

    /** Gives these tasks, the vessel or made from it, the vessel's own CPUs back. */
    void release(Collection<Integer> tasks) throws SysException {
        if (vesselMask == null) {
            return;
        }
        for (int tid : tasks) {
            Kernel.setAffinity(tid, vesselMask);
        }
    }

    /** Gives the tracer thread its own CPUs back (again: harmless). */
    @Override
    public void close() {
        if (tracerPinned) {
            tracerPinned = false;
            try {
                Kernel.setAffinity(0, tracerMask);
            } catch (SysException e) {
                // Its own mask, which it had a moment ago: only a CPU taken offline meanwhile can refuse it.
            }
        }
    }
}
