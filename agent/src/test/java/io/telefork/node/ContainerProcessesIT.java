package io.telefork.node;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Container ID to host PID on real processes in cgroups the test creates. */
class ContainerProcessesIT {

    private final ContainerProcesses finder = new ContainerProcesses(Path.of("/proc"));

    @Test
    void findsTheProcessOfEachContainerAndNothingElse() throws Exception {
        try (FakeContainers fc = new FakeContainers()) {
            String a = fc.container();
            String b = fc.container();
            long pa = fc.start(a, "exec sleep 611");
            long pb = fc.start(b, "exec sleep 612");

            assertThat(finder.pids(a)).containsExactly((int) pa);
            assertThat(finder.pids(b)).containsExactly((int) pb);
            assertThat(finder.main(a)).get().extracting(ProcessInfo::pid).isEqualTo((int) pa);
            assertThat(finder.placeholder(b)).get().extracting(ProcessInfo::pid).isEqualTo((int) pb);
            String unknown = "cri-o://" + "e".repeat(64);
            assertThat(finder.pids(unknown)).isEmpty();
            assertThat(finder.main(unknown)).isEmpty();
        }
    }

    @Test
    void placeholderIsTheOnlyChildOfTheContainersShell() throws Exception {
        try (FakeContainers fc = new FakeContainers()) {
            String c = fc.container();
            String dir = fc.dir(c).getFileName().toString();
            // The shell waits until it is in the container, so that its child starts there too.
            long sh = fc.start(c, "while ! grep -q " + dir + " /proc/self/cgroup; do sleep 0.05; done; sleep 613 & wait");

            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                ProcessInfo p = finder.placeholder(c).orElseThrow();
                assertThat(p.ppid()).isEqualTo((int) sh);
                assertThat(FakeContainers.cmdline(p.pid())).isEqualTo("sleep 613");
            });
            assertThat(finder.main(c)).get().extracting(ProcessInfo::pid).isEqualTo((int) sh);
        }
    }
}
