package io.telefork.sys;

import com.sun.jna.LastErrorException;
import com.sun.jna.ptr.IntByReference;

/** Waiting for an untraced child, from any thread. */
public final class Waiter {
    private Waiter() {
    }

    /** Returns the child's exit code, or 128 + the terminating signal. */
    public static int waitForChild(int pid) {
        IntByReference status = new IntByReference();
        while (true) {
            try {
                LibC.C.waitpid(pid, status, 0);
                Ptrace.Status st = new Ptrace.Status(status.getValue());
                if (!st.stopped()) {
                    return st.shellStatus();
                }
            } catch (LastErrorException e) {
                if (e.getErrorCode() != Sys.EINTR) {
                    throw new IllegalStateException("waitpid(" + pid + "): " + LibC.C.strerror(e.getErrorCode()));
                }
            }
        }
    }
}
