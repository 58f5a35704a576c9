package io.telefork.sys;

/** A system call, local or injected, that failed: carries the errno and what was being done. */
public class SysException extends Exception {
    private final int errno;

    public SysException(String what, int errno) {
        super(what + ": " + LibC.C.strerror(errno) + " (errno " + errno + ")");
        this.errno = errno;
    }

    public SysException(String message) {
        super(message);
        this.errno = 0;
    }

    public int errno() {
        return errno;
    }
}
