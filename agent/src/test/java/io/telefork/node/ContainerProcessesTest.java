package io.telefork.node;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Cgroup-line and /proc parsing on a /proc tree written by the test. */
class ContainerProcessesTest {

    static final String ID = "4f1e0c0b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a";
    static final String OTHER = "0000000000000000000000000000000000000000000000000000000000000001";

    @Test
    void containerIdsOfTheThreeRuntimes() {
        assertThat(ContainerProcesses.bareId("containerd://" + ID)).isEqualTo(ID);
        assertThat(ContainerProcesses.bareId("cri-o://" + ID)).isEqualTo(ID);
        assertThat(ContainerProcesses.bareId("docker://" + ID)).isEqualTo(ID);
        assertThat(ContainerProcesses.bareId(ID)).isEqualTo(ID);
        assertThatThrownBy(() -> ContainerProcesses.bareId("containerd://../../etc")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ContainerProcesses.bareId("rkt://" + ID)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ContainerProcesses.bareId(ID.substring(1))).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void cgroupLinesOfKubernetesRuntimes() {
        assertThat(ContainerProcesses.inContainer("4:memory:/node-b/kubepods/besteffort/pod1234-ab/" + ID, ID)).isTrue();
        assertThat(ContainerProcesses.inContainer("0::/kubepods.slice/kubepods-pod12.slice/cri-containerd-" + ID + ".scope", ID)).isTrue();
        assertThat(ContainerProcesses.inContainer("0::/kubepods.slice/crio-" + ID + ".scope", ID)).isTrue();
        assertThat(ContainerProcesses.inContainer("1:name=systemd:/system.slice/docker-" + ID + ".scope", ID)).isTrue();
        assertThat(ContainerProcesses.inContainer("4:memory:/libpod_parent/libpod-" + ID, ID)).isTrue();
        assertThat(ContainerProcesses.inContainer("4:memory:/kubepods/pod1/" + OTHER, ID)).isFalse();
        // The ID as part of a longer hex string is another container.
        assertThat(ContainerProcesses.inContainer("4:memory:/kubepods/pod1/a" + ID, ID)).isFalse();
        assertThat(ContainerProcesses.inContainer("4:memory:/kubepods/pod1/" + ID + "0", ID)).isFalse();
    }

    @Test
    void mainIsNamespacePidOneAndPlaceholderItsOnlyChild(@TempDir Path proc) throws IOException {
        // 100: the container's init (a shell), 101: its placeholder child, 102: another container,
        // 103: a process outside any container.
        process(proc, 100, 50, "sh", "100\t1", ID);
        process(proc, 101, 100, "sleep", "101\t7", ID);
        process(proc, 102, 50, "other", "102\t1", OTHER);
        process(proc, 103, 1, "init", "103", null);

        ContainerProcesses c = new ContainerProcesses(proc);
        assertThat(c.pids("containerd://" + ID)).containsExactly(100, 101);
        assertThat(c.main("containerd://" + ID)).get().extracting(ProcessInfo::pid).isEqualTo(100);
        assertThat(c.placeholder("containerd://" + ID)).get().extracting(ProcessInfo::pid).isEqualTo(101);
        assertThat(c.main("containerd://" + OTHER)).get().extracting(ProcessInfo::pid).isEqualTo(102);
        // Without children, the main process is its own placeholder.
        assertThat(c.placeholder("containerd://" + OTHER)).get().extracting(ProcessInfo::pid).isEqualTo(102);
        assertThat(c.main("containerd://" + ID.replace('4', '5'))).isEmpty();
    }

    @Test
    void twoChildrenMeanNoPlaceholder(@TempDir Path proc) throws IOException {
        process(proc, 200, 1, "sh", "200\t1", ID);
        process(proc, 201, 200, "a", "201\t2", ID);
        process(proc, 202, 200, "b", "202\t3", ID);
        assertThat(new ContainerProcesses(proc).placeholder(ID)).isEmpty();
    }

    @Test
    void credentialsAreRead(@TempDir Path proc) throws IOException {
        process(proc, 300, 1, "counter", "300\t1", ID);
        ProcessInfo p = ProcessInfo.read(proc, 300);
        assertThat(p.uid()).isEqualTo(1000);
        assertThat(p.gid()).isEqualTo(1001);
        assertThat(p.capEff()).isEqualTo("00000000a80425fb");
        assertThat(p.noNewPrivs()).isTrue();
        assertThat(p.seccomp()).isEqualTo(2);
        assertThat(p.state()).isEqualTo('S');
        assertThat(p.nsPid()).isEqualTo(1);
    }

    static void process(Path proc, int pid, int ppid, String comm, String nspid, String containerId) throws IOException {
        Path dir = Files.createDirectories(proc.resolve(Integer.toString(pid)));
        Files.writeString(dir.resolve("status"), String.join("\n",
                "Name:\t" + comm, "State:\tS (sleeping)", "Tgid:\t" + pid, "Pid:\t" + pid, "PPid:\t" + ppid,
                "Uid:\t1000\t1000\t1000\t1000", "Gid:\t1001\t1001\t1001\t1001", "NSpid:\t" + nspid,
                "CapEff:\t00000000a80425fb", "NoNewPrivs:\t1", "Seccomp:\t2", ""));
        String cg = containerId == null ? "0::/\n4:memory:/\n"
                : "4:memory:/kubepods/besteffort/pod6f0c/" + containerId + "\n1:name=systemd:/kubepods/besteffort/pod6f0c/" + containerId + "\n";
        Files.writeString(dir.resolve("cgroup"), cg);
    }
}
