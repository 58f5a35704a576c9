package io.telefork.restore;

import io.telefork.engine.EngineException;
import io.telefork.proc.ProcFs;
import io.telefork.sys.Kernel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The choice of a clone's ID, on a /proc laid out by the test: this JVM in one PID namespace, a container in another. */
class TaskIdsTest {
    private static final int VESSEL = 4000;
    private static final long EPERM = -1;
    private static final long EEXIST = -17;

    @TempDir
    Path proc;

    private void task(int hostPid, String ns, String nspid, int... threads) throws IOException {
        Path dir = Files.createDirectories(proc.resolve(Integer.toString(hostPid)));
        Files.createDirectories(dir.resolve("ns"));
        Files.createSymbolicLink(dir.resolve("ns/pid"), Path.of(ns));
        Files.writeString(dir.resolve("status"), "Name:\tx\nNSpid:\t" + nspid + "\n");
        Files.createDirectories(dir.resolve("task").resolve(Integer.toString(hostPid)));
        for (int t : threads) {
            Files.createDirectories(dir.resolve("task").resolve(Integer.toString(t)));
        }
    }

    private TaskIds container() throws IOException {
        task(Kernel.getpid(), "pid:[1]", Integer.toString(Kernel.getpid()));
        task(VESSEL, "pid:[2]", VESSEL + "\t1", 4001);
        Path thread = Files.createDirectories(proc.resolve("4001"));
        Files.writeString(thread.resolve("status"), "NSpid:\t4001\t3\n");
        task(4100, "pid:[2]", "4100\t9");
        task(4200, "pid:[1]", "4200");
        return new TaskIds(null, new ProcFs(proc), VESSEL);
    }

    @Test
    void idsInUseAreThoseOfTheNamespacesTasksAsItNumbersThem() throws IOException {
        TaskIds ids = container();
        assertThat(ids.inUse()).containsExactlyInAnyOrder(1, 3, 9);
        assertThat(ids.inNamespace(VESSEL)).isEqualTo(1);
        assertThat(ids.free(2)).isTrue();
        assertThat(ids.free(9)).isFalse();
    }

    @Test
    void setTidFirstThenTheAllocatorOnlyWhenSetTidIsRefusedInAnotherNamespace() throws Exception {
        TaskIds ids = container();
        ByteBuffer args = ByteBuffer.allocate(TaskIds.CLONE_ARGS_SIZE + 8).order(ByteOrder.LITTLE_ENDIAN);
        ids.prepare(args, 0x1000 + TaskIds.CLONE_ARGS_SIZE, 7);
        assertThat(args.getLong(64)).isEqualTo(0x1000 + TaskIds.CLONE_ARGS_SIZE);
        assertThat(args.getLong(72)).isEqualTo(1);
        assertThat(args.getInt(TaskIds.CLONE_ARGS_SIZE)).isEqualTo(7);
        assertThat(ids.retry(EEXIST)).as("a taken ID is not retried").isFalse();
        assertThat(ids.retry(EPERM)).isTrue();
        assertThat(ids.retry(EPERM)).as("only once").isFalse();
    }

    @Test
    void inItsOwnNamespaceTheRestorerNeverSteersTheAllocator() throws IOException {
        task(Kernel.getpid(), "pid:[1]", Integer.toString(Kernel.getpid()));
        task(VESSEL, "pid:[1]", Integer.toString(VESSEL));
        TaskIds ids = new TaskIds(null, new ProcFs(proc), VESSEL);
        assertThat(ids.retry(EPERM)).isFalse();
        assertThat(ids.free(VESSEL)).isFalse();
        assertThat(ids.free(VESSEL + 1)).isTrue();
    }

    @Test
    void aCloneThatGotAnotherIdIsRefused() throws IOException {
        TaskIds ids = container();
        assertThatThrownBy(() -> ids.check(4100, 8, "process 8 (worker)")).isInstanceOf(EngineException.class)
                .hasMessage("process 8 (worker) got ID 9 instead of 8 in its PID namespace (did another process of "
                        + "the namespace start meanwhile?)");
    }
}
