package io.telefork.restore;

import io.telefork.image.Regs;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class RestartRulesTest {

    private static long[] stoppedIn(long syscall, long rax) {
        long[] r = new long[Regs.COUNT];
        r[Regs.ORIG_RAX] = syscall;
        r[Regs.RAX] = rax;
        r[Regs.RIP] = 0x1002;
        return r;
    }

    @Test
    void restartableCallIsReissued() {
        long[] r = Transplant.restartedRegisters(stoppedIn(0, -512));
        assertThat(r[Regs.RAX]).isEqualTo(0);
        assertThat(r[Regs.RIP]).isEqualTo(0x1000);
        assertThat(r[Regs.ORIG_RAX]).isEqualTo(-1);
    }

    @Test
    void restartBlockCallReportsEintr() {
        long[] r = Transplant.restartedRegisters(stoppedIn(230, -516));
        assertThat(r[Regs.RAX]).isEqualTo(-4);
        assertThat(r[Regs.RIP]).isEqualTo(0x1002);
        assertThat(r[Regs.ORIG_RAX]).isEqualTo(-1);
    }

    @Test
    void finishedCallAndUserCodeAreLeftAlone() {
        long[] r = Transplant.restartedRegisters(stoppedIn(1, 5));
        assertThat(r[Regs.RAX]).isEqualTo(5);
        assertThat(r[Regs.RIP]).isEqualTo(0x1002);
        long[] user = Transplant.restartedRegisters(stoppedIn(-1, -512));
        assertThat(user[Regs.RAX]).isEqualTo(-512);
        assertThat(user[Regs.RIP]).isEqualTo(0x1002);
    }
}
