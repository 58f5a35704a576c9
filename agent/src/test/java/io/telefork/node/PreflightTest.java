package io.telefork.node;

import io.telefork.api.v1alpha1.ProcessIdentity;
import io.telefork.api.v1alpha1.Reason;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PreflightTest {

    static ProcessIdentity checkpointed(long uid, String caps, boolean nnp, int seccomp) {
        ProcessIdentity p = new ProcessIdentity();
        p.setComm("counter");
        p.setUid(uid);
        p.setGid(uid);
        p.setCapEff(caps);
        p.setNoNewPrivs(nnp);
        p.setSeccomp(seccomp);
        return p;
    }

    static ProcessInfo vessel(long uid, String caps, boolean nnp, int seccomp) {
        return new ProcessInfo(10, "sleep", 'S', 9, 2, uid, uid, caps, nnp, seccomp);
    }

    @Test
    void samePrivilegesOrFewerPass() {
        assertThatCode(() -> Preflight.privileges(checkpointed(1000, "00000000a80425fb", false, 2), vessel(1000, "00000000a80425fb", false, 2)))
                .doesNotThrowAnyException();
        assertThatCode(() -> Preflight.privileges(checkpointed(1000, "00000000a80425fb", false, 0), vessel(1000, "0000000000000000", true, 2)))
                .doesNotThrowAnyException();
        assertThatCode(() -> Preflight.privileges(checkpointed(0, "000001ffffffffff", false, 0), vessel(0, "000001ffffffffff", false, 0)))
                .doesNotThrowAnyException();
    }

    @Test
    void anyRaisedPrivilegeIsRefused() {
        for (ProcessInfo v : List.of(
                vessel(0, "0000000000000000", false, 2),             // root instead of 1000
                vessel(1000, "00000000a80425ff", false, 2),          // one capability more
                vessel(1000, "00000000a80425fb", false, 0))) {       // seccomp dropped
            assertThatThrownBy(() -> Preflight.privileges(checkpointed(1000, "00000000a80425fb", true, 2), v))
                    .isInstanceOf(StepFailure.class)
                    .extracting(e -> ((StepFailure) e).reason()).isEqualTo(Reason.PrivilegesRaised);
        }
        assertThatThrownBy(() -> Preflight.privileges(checkpointed(1000, "0", true, 0), vessel(1000, "0", false, 0)))
                .isInstanceOf(StepFailure.class);
    }

    @Test
    void memoryLimitOfV1AndV2(@TempDir Path root) throws IOException, StepFailure {
        Path v1 = Files.createDirectories(root.resolve("memory/kubepods/pod1/abc"));
        Files.writeString(v1.resolve("memory.limit_in_bytes"), "67108864\n");
        Files.writeString(v1.resolve("memory.usage_in_bytes"), "4194304\n");
        Path v2 = Files.createDirectories(root.resolve("kubepods.slice/x.scope"));
        Files.writeString(v2.resolve("memory.max"), "max\n");
        Preflight p = new Preflight(root);

        List<String> v1Lines = List.of("5:cpu:/kubepods/pod1/abc", "4:memory:/kubepods/pod1/abc");
        assertThat(p.memoryRoom(v1Lines)).contains(67108864L - 4194304L);
        p.memory(32L << 20, v1Lines);
        assertThatThrownBy(() -> p.memory(64L << 20, v1Lines)).isInstanceOf(StepFailure.class)
                .extracting(e -> ((StepFailure) e).reason()).isEqualTo(Reason.MemoryLimitTooLow);

        assertThat(p.memoryRoom(List.of("0::/kubepods.slice/x.scope"))).isEmpty();
        assertThat(p.memoryRoom(List.of("4:memory:/not/there"))).isEmpty();
    }
}
