package io.telefork.engine;

/**
 * How a restore puts anonymous memory in before the process runs. UFFDIO_COPY (through a userfaultfd made
 * in the process) fills fresh pages faster than process_vm_writev here (an eager 1 GiB restore: about 150
 * against 215 ms per copying thread, see the README's benchmark), but making the userfaultfd costs a few
 * injected calls, which only pay for themselves with enough memory. Where the process may not have a
 * userfaultfd (a seccomp profile, no privilege and no /dev/userfaultfd), process_vm_writev is used whatever
 * was asked.
 */
public enum PageFill {
    /** UFFDIO_COPY when the process's anonymous areas reach {@link #USERFAULTFD_FROM} bytes, else process_vm_writev. */
    AUTO,
    /** UFFDIO_COPY whatever the size. */
    USERFAULTFD,
    /** process_vm_writev only. */
    WRITE;

    /** Anonymous areas of this many bytes or more (the areas' lengths) are filled by UFFDIO_COPY under {@link #AUTO}. */
    public static final long USERFAULTFD_FROM = 32L << 20;

    /** Whether to fill by UFFDIO_COPY a process whose anonymous areas span {@code anonymousBytes}. */
    public boolean userfaultfd(long anonymousBytes) {
        return switch (this) {
            case AUTO -> anonymousBytes >= USERFAULTFD_FROM;
            case USERFAULTFD -> true;
            case WRITE -> false;
        };
    }
}
