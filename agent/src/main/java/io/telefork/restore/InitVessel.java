package io.telefork.restore;

import io.telefork.image.ImageTree;
import io.telefork.proc.ProcFs;
import io.telefork.sys.Kernel;
import io.telefork.sys.Ptrace;
import io.telefork.sys.Remote;
import io.telefork.sys.Sys;
import io.telefork.sys.SysException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A container's placeholder may be the only child of a small init (the operator's target pods: a shell
 * that waits for it, so that the restored process is not PID 1 and SIGTERM works). An image whose IDs
 * must be kept (a tree, or threads) and whose first process had the init's PID goes into the init
 * instead: into the placeholder, with its own PID, the first process would keep neither its own ID nor,
 * often, its children's (the placeholder holds the PID its first child wants). The placeholder is then
 * ended first, reaped by the init, and the SIGCHLD it queued there taken, so that the restored process
 * never sees a child it did not have.
 */
final class InitVessel {
    private static final int SYS_WAIT4 = 61;
    private static final int SYS_RT_SIGTIMEDWAIT = 128;
    private static final int SIGCHLD = 17;
    private static final int WALL = 0x40000000;

    private InitVessel() {
    }

    /** The process to restore into: {@code init} (0: none) when the image asks for its PID, else the placeholder. */
    static int choose(ImageTree image, int placeholder, int init, ProcFs proc) throws IOException {
        boolean keepsIds = !image.single() || image.root().threads().size() > 1;
        if (init <= 0 || init == placeholder || !keepsIds) {
            return placeholder;
        }
        int root = image.root().process().pid();
        boolean initHasIt = proc.idInOwnNamespace(init, "NSpid") == root;
        boolean placeholderHasIt = proc.idInOwnNamespace(placeholder, "NSpid") == root;
        return initHasIt && !placeholderHasIt ? init : placeholder;
    }

    /** Kills the placeholder and has the seized, interrupt-stopped init reap it; its SIGCHLD is taken too. */
    static void endPlaceholder(Ptrace ptrace, ProcFs proc, int init, int placeholder) throws IOException, SysException {
        int inNamespace = proc.idInOwnNamespace(placeholder, "NSpid");
        long mask = ptrace.getSigmask(init);
        ptrace.setSigmask(init, ~0L);
        ProcFs.Mapping vdso = proc.mappings(init).stream().filter(m -> m.path().equals("[vdso]")).findFirst()
                .orElseThrow(() -> new SysException("process " + init + " has no vDSO"));
        Remote r = new Remote(ptrace, init, Remote.findGadget(init, vdso.start(), vdso.end()));
        try {
            Kernel.kill(placeholder, Sys.SIGKILL);
            long reaped = r.raw(SYS_WAIT4, inNamespace, 0, WALL, 0);
            if (reaped != inNamespace) {
                throw new SysException("process " + init + " could not reap the placeholder " + placeholder + ": "
                        + (reaped < 0 ? Sys.errno(reaped) : "wait4 returned " + reaped));
            }
            long page = r.call("mmap", Sys.SYS_MMAP, 0, Sys.PAGE, Sys.PROT_READ | Sys.PROT_WRITE,
                    Sys.MAP_PRIVATE | Sys.MAP_ANONYMOUS, -1, 0);
            try {
                // sigset {SIGCHLD} at 0, a zero timeout at 8: takes the signal if it is pending, never waits.
                ByteBuffer b = ByteBuffer.allocateDirect(24).order(ByteOrder.LITTLE_ENDIAN);
                b.putLong(0, 1L << (SIGCHLD - 1)).putLong(8, 0).putLong(16, 0);
                Kernel.writeMemory(init, page, b, 24);
                r.raw(SYS_RT_SIGTIMEDWAIT, page, 0, page + 8, 8);
            } finally {
                r.raw(Sys.SYS_MUNMAP, page, Sys.PAGE);
            }
        } finally {
            r.restoreRegisters();
            ptrace.setSigmask(init, mask);
        }
    }
}
