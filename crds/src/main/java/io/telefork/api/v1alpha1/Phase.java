package io.telefork.api.v1alpha1;

/** Where an operation is in its life. Succeeded and Failed are terminal. */
public enum Phase {
    /** Accepted, not started: validation or a prerequisite (a pod to start) is pending. */
    Pending,
    /** Node work is in progress. */
    Running,
    /** Done; the status holds the results. */
    Succeeded,
    /** Given up; the Failed condition's reason says why. Never retried after this. */
    Failed;

    public boolean terminal() {
        return this == Succeeded || this == Failed;
    }
}
