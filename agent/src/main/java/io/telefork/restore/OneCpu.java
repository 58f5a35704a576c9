package io.telefork.restore;

import io.telefork.sys.CpuPin;
import io.telefork.sys.Kernel;
import io.telefork.sys.SysException;

import java.util.Collection;

/**
 * A restore's tracer thread and its vessel on one CPU while the process is built ({@link CpuPin}): every
 * injected call is a ptrace resume and stop (2 vCPUs: 10.1-11.9 ms to a lazy restore's first instruction
 * pinned, 13.5-16.9 ms not).
 *
 * <p>Every task made from the vessel (its threads, a tree's processes) inherits the pin; {@link #release}
 * gives them the vessel's own CPUs back before they run, and {@link #close} the tracer thread its own.
 * Threads the tracer starts inherit its pin too, so the pages are copied {@link #unpinned} (an eager 1 GiB
 * restore took 600 ms with its two copying threads on one CPU, 480 ms without). Runs on the tracer thread.
 */
final class OneCpu implements AutoCloseable {
    private final CpuPin pin = new CpuPin();
    private final int vessel;

    private OneCpu(int vessel) {
        this.vessel = vessel;
    }

    /** Pins the calling (tracer) thread and {@code vessel} to the CPU the tracer runs on, if the vessel may run there. */
    static OneCpu pin(int vessel) {
        OneCpu cpu = new OneCpu(vessel);
        cpu.pin.add(vessel);
        return cpu;
    }

    /** Runs {@code work} with the tracer thread on its own CPUs, and the threads it starts on them too. */
    void unpinned(CpuPin.Work work) throws Exception {
        pin.apart(work);
    }

    /** Gives these tasks, the vessel or made from it, the vessel's own CPUs back. */
    void release(Collection<Integer> tasks) throws SysException {
        long[] mask = pin.ownMask(vessel);
        if (mask == null) {
            return;
        }
        for (int tid : tasks) {
            if (tid != vessel) {
                Kernel.setAffinity(tid, mask);
            }
        }
        if (tasks.contains(vessel)) {
            pin.release(vessel);
        }
    }

    /** Gives the tracer thread its own CPUs back (again: harmless), and the vessel if not released. */
    @Override
    public void close() {
        try {
            pin.close();
        } catch (SysException e) {
            // Only the vessel, unreleased, can be refused: a restore that failed, whose vessel is killed.
        }
    }
}
