package io.telefork.api.v1alpha1;

/**
 * The one list of machine-readable reasons used in status conditions and in Kubernetes Events of all
 * telefork kinds. People read the condition's message; programs and alerts match these.
 */
public enum Reason {
    // progress
    Accepted,
    NodeWorkCreated,
    TargetPodCreated,
    TargetPodStarting,
    WaitingForCheckpoint,
    /** A post-copy restore's agent has checked its pod and placeholder and waits for the image being written. */
    WaitingForImage,
    Dumped,
    Restored,
    ImageDeleted,
    SourcePodDeleted,
    CheckpointCreated,
    RestoreCreated,
    ResumingSource,
    Resumed,
    Retrying,

    // validation: the spec names something that is not there or not allowed
    InvalidSpec,
    PodNotFound,
    PodNotRunning,
    ContainerNotFound,
    ContainerNotRunning,
    ContainerAmbiguous,
    CheckpointNotFound,
    CheckpointNotSucceeded,
    NodeNotFound,
    ImageNotReachable,
    TargetPodNotUsable,

    // node work failures, mapped from the engine's reasons and the agent's own checks
    NoSuchProcess,
    NotDumpable,
    Unsupported,
    BadImage,
    FileChanged,
    Incompatible,
    PrivilegesRaised,
    MemoryLimitTooLow,
    ChecksumMismatch,
    TakeoverNotConfirmed,
    WrongNode,
    SystemError,
    IOError,

    // lifecycle
    BackoffLimitExceeded,
    ChildFailed,
    Deleted
}
