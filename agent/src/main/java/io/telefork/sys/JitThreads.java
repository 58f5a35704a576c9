package io.telefork.sys;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * This JVM's JIT compiler threads, made SCHED_IDLE for a moment (a freeze), so that they run only on a CPU
 * nobody else wants. Without it, a compile that the last dump queued ran on the tracer's CPU during the
 * next freeze and held the tracer off for milliseconds at a time while the other CPU was idle (2 vCPUs,
 * perf sched: 2-3.5 ms waits behind a C2 compiler thread in a 15 ms freeze). {@link #close} gives each its
 * own policy back. Best effort: a thread that refuses, or is gone, is skipped.
 */
public final class JitThreads implements AutoCloseable {
    private static final int SCHED_IDLE = 5;
    private static final int CAP_SYS_NICE = 23;
    private static final Path TASKS = Path.of("/proc/self/task");

    /** The threads made idle, with the policy and priority each had. */
    private final Map<Integer, int[]> own = new LinkedHashMap<>();

    private JitThreads() {
    }

    /** Nothing made idle. */
    public static JitThreads none() {
        return new JitThreads();
    }

    /**
     * Makes this JVM's compiler threads (C1, C2) idle until {@link #close}; none without CAP_SYS_NICE, which
     * the way back from SCHED_IDLE needs.
     */
    public static JitThreads idle() {
        JitThreads jit = new JitThreads();
        if (!canNice()) {
            return jit;
        }
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(TASKS)) {
            for (Path task : tasks) {
                String comm;
                try {
                    comm = Files.readString(task.resolve("comm"));
                } catch (IOException e) {
                    continue; // ended meanwhile
                }
                if (comm.startsWith("C1 Compiler") || comm.startsWith("C2 Compiler")) {
                    jit.makeIdle(Integer.parseInt(task.getFileName().toString()));
                }
            }
        } catch (IOException e) {
            // no /proc: nothing made idle
        }
        return jit;
    }

    private static boolean canNice() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("CapEff:")) {
                    return (Long.parseUnsignedLong(line.substring(7).trim(), 16) & (1L << CAP_SYS_NICE)) != 0;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // unknown: not tried
        }
        return false;
    }

    private void makeIdle(int tid) {
        try {
            int[] policy = Kernel.scheduler(tid);
            if (policy[0] == SCHED_IDLE) {
                // Idle already, for another dump of this JVM (the node agent runs several at
                // once): that one gives it back; taking SCHED_IDLE as its own could leave it idle for good.
                return;
            }
            Kernel.setScheduler(tid, SCHED_IDLE, 0);
            own.put(tid, policy);
        } catch (SysException e) {
            // left as it is
        }
    }

    /** Gives every thread made idle its own policy back. */
    @Override
    public void close() {
        for (Map.Entry<Integer, int[]> e : own.entrySet()) {
            try {
                Kernel.setScheduler(e.getKey(), e.getValue()[0], e.getValue()[1]);
            } catch (SysException ex) {
                // gone, or a policy it may no longer have: it runs as SCHED_IDLE, which only slows compiles
            }
        }
        own.clear();
    }
}
