package io.telefork.node;

import io.telefork.api.v1alpha1.Reason;
import io.telefork.engine.EngineException;

/** A node step that cannot be done, with the reason the NodeOperation's status will carry. */
final class StepFailure extends Exception {

    private final Reason reason;

    StepFailure(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    StepFailure(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    Reason reason() {
        return reason;
    }

    static StepFailure from(EngineException e) {
        Reason r = switch (e.reason()) {
            case NO_SUCH_PROCESS -> Reason.NoSuchProcess;
            case NOT_DUMPABLE -> Reason.NotDumpable;
            case UNSUPPORTED -> Reason.Unsupported;
            case BAD_IMAGE -> Reason.BadImage;
            case FILE_CHANGED -> Reason.FileChanged;
            case INCOMPATIBLE -> Reason.Incompatible;
            case SYSTEM -> Reason.SystemError;
            case IO -> Reason.IOError;
        };
        return new StepFailure(r, e.getMessage(), e);
    }
}
