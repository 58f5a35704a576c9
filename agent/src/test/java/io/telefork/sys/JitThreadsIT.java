package io.telefork.sys;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * This JVM's own compiler threads, made SCHED_IDLE for a freeze and given their policy back after it, as
 * the kernel reports them (sched_getscheduler), while every other thread is left alone.
 */
class JitThreadsIT {
    private static final int SCHED_OTHER = 0;
    private static final int SCHED_IDLE = 5;

    @Test
    void compilerThreadsIdleOnlyWhileAsked() throws Exception {
        Map<Integer, String> before = policies();
        assertThat(before).as("this JVM's compiler threads").containsValue("C1 Compiler " + SCHED_OTHER);

        try (JitThreads jit = JitThreads.idle()) {
            Map<Integer, String> during = policies();
            for (Map.Entry<Integer, String> t : before.entrySet()) {
                String now = during.get(t.getKey());
                if (now == null) {
                    continue; // ended meanwhile
                }
                boolean compiler = t.getValue().startsWith("C1 Compiler") || t.getValue().startsWith("C2 Compiler");
                assertThat(now).as("thread %d", t.getKey())
                        .isEqualTo(compiler ? t.getValue().replace(" " + SCHED_OTHER, " " + SCHED_IDLE) : t.getValue());
            }
        }

        Map<Integer, String> after = policies();
        for (Map.Entry<Integer, String> t : before.entrySet()) {
            if (after.containsKey(t.getKey())) {
                assertThat(after.get(t.getKey())).as("thread %d after", t.getKey()).isEqualTo(t.getValue());
            }
        }
    }

    /** Two dumps of the node agent at once: whichever ends last, the compilers are not left idle. */
    @Test
    void overlappingUsesNeverLeaveThemIdle() throws Exception {
        Map<Integer, String> before = policies();
        JitThreads first = JitThreads.idle();
        JitThreads second = JitThreads.idle();
        first.close();
        second.close();
        Map<Integer, String> after = policies();
        for (Map.Entry<Integer, String> t : before.entrySet()) {
            if (after.containsKey(t.getKey())) {
                assertThat(after.get(t.getKey())).as("thread %d after both", t.getKey()).isEqualTo(t.getValue());
            }
        }
    }

    /** Per thread of this JVM: its name's first 11 characters and its policy. */
    private static Map<Integer, String> policies() throws IOException {
        Map<Integer, String> out = new HashMap<>();
        try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
            for (Path task : tasks.toList()) {
                int tid = Integer.parseInt(task.getFileName().toString());
                try {
                    String comm = Files.readString(task.resolve("comm")).strip();
                    out.put(tid, comm.substring(0, Math.min(11, comm.length())) + " " + Kernel.scheduler(tid)[0]);
                } catch (IOException | SysException e) {
                    // ended meanwhile
                }
            }
        }
        return out;
    }
}
