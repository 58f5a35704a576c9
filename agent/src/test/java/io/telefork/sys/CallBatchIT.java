package io.telefork.sys;

import io.telefork.proc.ProcFs;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Batches of system calls run in a real seized process, through the loop (the code page made executable)
 * and call by call (an area whose loop cannot run): same results, same stop at the first failure.
 */
class CallBatchIT {
    private static final int SYS_GETPID = 39;
    private static final int SYS_CLOSE = 3;
    private static final int SYS_PRCTL = 157;
    private static final int PR_SET_NAME = 15;

    private Tracer tracer;
    private int pid;

    @BeforeEach
    void spawn() throws Exception {
        tracer = new Tracer("call-batch-test");
        pid = Spawner.spawn(List.of("/bin/sleep", "1000"), Map.of());
        tracer.call(ptrace -> {
            ptrace.seize(pid, Ptrace.O_EXITKILL);
            ptrace.interrupt(pid);
            while (true) {
                Ptrace.Status st = ptrace.waitFor(pid);
                if (st.eventStop() && st.stopSignal() == Sys.SIGTRAP) {
                    break;
                }
                ptrace.cont(pid, st.eventStop() ? 0 : st.stopSignal());
            }
            ptrace.setSigmask(pid, ~0L);
            return null;
        });
    }

    @AfterEach
    void kill() {
        Spawner.killAndReap(pid);
        tracer.close();
    }

    @ParameterizedTest(name = "loop runs: {0}")
    @ValueSource(booleans = {true, false})
    void callsRunInOrderWithTheirData(boolean loop) throws Exception {
        long[] results = tracer.call(ptrace -> {
            Remote remote = remote(ptrace);
            CallBatch batch = new CallBatch(remote, area(remote, loop));
            // More calls than one table holds: the batch runs in parts, results keep their indexes.
            for (int i = 0; i < 150; i++) {
                batch.add("getpid", SYS_GETPID);
            }
            ByteBuffer name = ByteBuffer.allocateDirect(16).put("batched".getBytes(StandardCharsets.US_ASCII))
                    .put((byte) 0).flip();
            batch.add("prctl(PR_SET_NAME)", SYS_PRCTL, PR_SET_NAME, batch.put(name));
            batch.addRaw(SYS_CLOSE, 999);
            batch.add("getpid", SYS_GETPID);
            return batch.run();
        });
        assertThat(results).hasSize(153);
        for (int i = 0; i < 150; i++) {
            assertThat(results[i]).as("getpid #%d", i).isEqualTo(pid);
        }
        assertThat(results[150]).isZero();
        assertThat(results[151]).as("close(999), allowed to fail").isEqualTo(-9); // EBADF
        assertThat(results[152]).isEqualTo(pid);
        assertThat(Files.readString(Path.of("/proc/" + pid + "/comm")).trim()).isEqualTo("batched");
    }

    @ParameterizedTest(name = "loop runs: {0}")
    @ValueSource(booleans = {true, false})
    void aFailedCallEndsTheBatch(boolean loop) throws Exception {
        Path comm = Path.of("/proc/" + pid + "/comm");
        String before = Files.readString(comm);
        assertThatThrownBy(() -> tracer.call(ptrace -> {
            Remote remote = remote(ptrace);
            CallBatch batch = new CallBatch(remote, area(remote, loop));
            batch.add("getpid", SYS_GETPID);
            batch.add("close of a closed descriptor", SYS_CLOSE, 999);
            ByteBuffer name = ByteBuffer.allocateDirect(8).put("late".getBytes(StandardCharsets.US_ASCII))
                    .put((byte) 0).flip();
            batch.add("prctl(PR_SET_NAME)", SYS_PRCTL, PR_SET_NAME, batch.put(name));
            return batch.run();
        })).isInstanceOf(SysException.class)
                .hasMessageContaining("close of a closed descriptor in process " + pid)
                .hasMessageContaining("errno 9");
        assertThat(Files.readString(comm)).as("the call after the failed one did not run").isEqualTo(before);
        // The process is still usable for single calls.
        long self = tracer.call(ptrace -> remote(ptrace).raw(SYS_GETPID));
        assertThat(self).isEqualTo(pid);
    }

    private Remote remote(Ptrace ptrace) throws Exception {
        ProcFs.Mapping vdso = new ProcFs().mappings(pid).stream().filter(m -> m.path().equals("[vdso]"))
                .findFirst().orElseThrow();
        return Remote.stepping(ptrace, pid, Remote.findGadget(pid, vdso.start(), vdso.end()));
    }

    private CallBatch.Area area(Remote remote, boolean loop) throws SysException {
        long at = remote.call("mmap", Sys.SYS_MMAP, 0, CallBatch.AREA_BYTES, Sys.PROT_READ | Sys.PROT_WRITE,
                Sys.MAP_PRIVATE | Sys.MAP_ANONYMOUS, -1, 0);
        CallBatch.Area area = CallBatch.prepare(remote, at);
        assertThat(area.runs()).as("the code page was made executable").isTrue();
        return loop ? area : new CallBatch.Area(at, false);
    }
}
