package io.telefork.engine;

/**
 * A dump or restore that could not be done, with a machine-readable reason for callers (the CLI maps it
 * to an exit code, the node agent to a status condition) and a one-line message for people.
 */
public class EngineException extends Exception {

    /** Why an operation failed. The CLI's exit codes are documented per reason in the README. */
    public enum Reason {
        /** The PID does not name a live process. */
        NO_SUCH_PROCESS(3),
        /** The process is a kernel thread, a zombie, or the caller itself. */
        NOT_DUMPABLE(4),
        /** The process has a feature this version cannot checkpoint (threads, a socket, ...). */
        UNSUPPORTED(5),
        /** The image is truncated, corrupted, of another architecture or of a newer format. */
        BAD_IMAGE(6),
        /** A file the image refers to is gone or changed since the dump. */
        FILE_CHANGED(7),
        /** The target machine or vessel cannot take the image (address in use, vdso size, privileges). */
        INCOMPATIBLE(8),
        /** A system call failed unexpectedly. */
        SYSTEM(9),
        /** Reading or writing the image failed (disk full, broken pipe, network). */
        IO(10);

        private final int exitCode;

        Reason(int exitCode) {
            this.exitCode = exitCode;
        }

        public int exitCode() {
            return exitCode;
        }
    }

    private final Reason reason;

    public EngineException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public EngineException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
