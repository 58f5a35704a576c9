package io.telefork.restore;

import io.telefork.sys.Kernel;
import io.telefork.sys.Ptrace;
import io.telefork.sys.Sys;
import io.telefork.sys.SysException;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.locks.LockSupport;

/**
 * Keeps a lazily restored process seized with PTRACE_O_EXITKILL while it runs, so that it dies with
 * this restorer rather than run on with missing pages turned to zeros: every thread and every process it
 * creates meanwhile is traced too (TRACECLONE, TRACEFORK, TRACEVFORK), and every stop is passed on so
 * that it behaves as untraced: signals re-injected, group-stops left in place with PTRACE_LISTEN. Runs on
 * the tracer thread that seized the process.
 */
final class LazyTracer {
    private static final int OPTIONS = Ptrace.O_EXITKILL | Ptrace.O_TRACECLONE | Ptrace.O_TRACEFORK
            | Ptrace.O_TRACEVFORK;
    private static final int ECHILD = 10;
    private static final int SIGTSTP = 20;
    private static final int SIGTTIN = 21;
    private static final int SIGTTOU = 22;
    private static final long DETACH_WAIT_NANOS = 10_000_000_000L;
    private static final long MIN_PAUSE_NANOS = 100_000;
    private static final long MAX_PAUSE_NANOS = 2_000_000;

    private final Ptrace ptrace;
    private final int root;
    private final Set<Integer> tids = new LinkedHashSet<>();
    private Integer rootStatus;

    LazyTracer(Ptrace ptrace, int root, List<Integer> threads) {
        this.ptrace = ptrace;
        this.root = root;
        tids.addAll(threads);
    }

    /** The root's exit status if it ended while traced (this tracer, its parent, reaped it), else null. */
    Integer rootStatus() {
        return rootStatus;
    }

    /** Lets every thread run (or the {@code stopped} processes stop, as dumped), still traced: children first. */
    void start(List<Integer> stopped) throws SysException {
        for (int tid : tids) {
            ptrace.setOptions(tid, OPTIONS);
        }
        for (int pid : stopped) {
            Kernel.kill(pid, Sys.SIGSTOP);
        }
        List<Integer> order = new ArrayList<>(tids);
        for (int i = order.size() - 1; i >= 0; i--) {
            ptrace.cont(order.get(i), 0);
        }
    }

    /**
     * Passes on the tracees' stops until {@code server} has every page in or failed. Each tracee is
     * polled (waitpid(-1) would also reap children that are not this restorer's business); the pause
     * between rounds grows while nothing happens, so that a process with many threads does not cost a
     * core, at the price of a signal's delivery being delayed by up to that pause.
     */
    void follow(LazyServer server) throws SysException {
        long pause = MIN_PAUSE_NANOS;
        while (!server.finished()) {
            if (step()) {
                pause = MIN_PAUSE_NANOS;
            } else {
                LockSupport.parkNanos(pause);
                pause = Math.min(MAX_PAUSE_NANOS, pause * 2);
            }
        }
    }

    /** Handles what each tracee reported; false when none had anything. */
    private boolean step() throws SysException {
        boolean any = false;
        for (int tid : new ArrayList<>(tids)) {
            Ptrace.Status st = poll(tid);
            if (st != null) {
                any = true;
                handle(tid, st);
            }
        }
        return any;
    }

    private Ptrace.Status poll(int tid) throws SysException {
        try {
            return ptrace.poll(tid);
        } catch (SysException e) {
            if (e.errno() == ECHILD) {
                tids.remove(tid); // gone and collected
                return null;
            }
            throw e;
        }
    }

    private void handle(int tid, Ptrace.Status st) throws SysException {
        if (!st.stopped()) {
            tids.remove(tid);
            if (tid == root) {
                rootStatus = st.shellStatus();
            }
            return;
        }
        try {
            int event = st.event();
            if (event == Ptrace.EVENT_FORK || event == Ptrace.EVENT_VFORK || event == Ptrace.EVENT_CLONE) {
                tids.add((int) ptrace.getEventMsg(tid));
                ptrace.cont(tid, 0);
            } else if (event == Ptrace.EVENT_STOP) {
                if (isStopSignal(st.stopSignal())) {
                    ptrace.listen(tid);
                } else {
                    ptrace.cont(tid, 0); // a new tracee's first stop, or an interrupt
                }
            } else if (event != 0) {
                ptrace.cont(tid, 0);
            } else {
                ptrace.cont(tid, st.stopSignal()); // signal-delivery stop: deliver it
            }
        } catch (SysException e) {
            if (e.errno() != 3) { // ESRCH: killed meanwhile; its end is reported next
                throw e;
            }
        }
    }

    private static boolean isStopSignal(int sig) {
        return sig == Sys.SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
    }

    /** Every page is in: lets every tracee go, each from a stop, with the signal it was about to get. */
    void detachAll() throws SysException {
        for (int tid : new ArrayList<>(tids)) {
            try {
                ptrace.interrupt(tid);
            } catch (SysException e) {
                // ended meanwhile: its end is collected below
            }
        }
        long deadline = System.nanoTime() + DETACH_WAIT_NANOS;
        while (!tids.isEmpty()) {
            boolean any = false;
            for (int tid : new ArrayList<>(tids)) {
                Ptrace.Status st = poll(tid);
                if (st == null) {
                    continue;
                }
                any = true;
                if (!st.stopped()) {
                    handle(tid, st);
                    continue;
                }
                int event = st.event();
                if (event == Ptrace.EVENT_FORK || event == Ptrace.EVENT_VFORK || event == Ptrace.EVENT_CLONE) {
                    int child = (int) ptrace.getEventMsg(tid);
                    if (tids.add(child)) {
                        // it starts stopped; it is let go from that stop
                    }
                }
                int signal = event == 0 ? st.stopSignal() : 0;
                try {
                    ptrace.detach(tid, signal);
                } catch (SysException e) {
                    if (e.errno() != 3) {
                        throw e;
                    }
                }
                tids.remove(tid);
            }
            if (!any) {
                if (System.nanoTime() > deadline) {
                    throw new SysException("threads " + tids + " did not stop to be let go");
                }
                LockSupport.parkNanos(100_000);
            }
        }
    }

    /** Something failed while pages were missing: every tracee dies (and ends reported, the root reaped). */
    void killAll() {
        for (int tid : new ArrayList<>(tids)) {
            try {
                Kernel.kill(tid, Sys.SIGKILL);
            } catch (SysException e) {
                // gone already
            }
        }
        long deadline = System.nanoTime() + DETACH_WAIT_NANOS;
        while (!tids.isEmpty() && System.nanoTime() < deadline) {
            for (int tid : new ArrayList<>(tids)) {
                try {
                    Ptrace.Status st = poll(tid);
                    if (st != null && !st.stopped()) {
                        tids.remove(tid);
                    }
                } catch (SysException e) {
                    tids.remove(tid);
                }
            }
            LockSupport.parkNanos(100_000);
        }
    }
}
