package io.telefork.operator;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.api.reconciler.Cleaner;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.DeleteControl;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.ErrorStatusUpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.telefork.api.v1alpha1.Checkpoint;
import io.telefork.api.v1alpha1.CheckpointStatus;
import io.telefork.api.v1alpha1.CheckpointSpec;
import io.telefork.api.v1alpha1.Condition;
import io.telefork.api.v1alpha1.ImageCompression;
import io.telefork.api.v1alpha1.ImageStorage;
import io.telefork.api.v1alpha1.Migration;
import io.telefork.api.v1alpha1.MigrationSpec;
import io.telefork.api.v1alpha1.MigrationStatus;
import io.telefork.api.v1alpha1.Names;
import io.telefork.api.v1alpha1.NodeOperation;
import io.telefork.api.v1alpha1.NodeOperationSpec;
import io.telefork.api.v1alpha1.NodeOperationStatus;
import io.telefork.api.v1alpha1.OperationStatus;
import io.telefork.api.v1alpha1.Phase;
import io.telefork.api.v1alpha1.Reason;
import io.telefork.api.v1alpha1.Restore;
import io.telefork.api.v1alpha1.RestoreSpec;

import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.List;

/**
 * Migration = a target pod prepared on the target node while the source runs, then a Checkpoint to the
 * shared volume, then a Restore into that pod, both owned by the Migration, then (only if the Restore
 * succeeded) deletion of the source pod. Unless leaveRunning, the
 * dump leaves the source process stopped rather than killed: killed, its container would be restarted
 * by kubelet and a fresh copy would run beside the migrated one. If the Restore fails, a Resume on the
 * source node lets the stopped process carry on where it was; the Migration ends Failed either way and
 * never touches the source pod.
 */
@ControllerConfiguration(name = MigrationReconciler.NAME, finalizerName = Names.SOURCE_FINALIZER)
public class MigrationReconciler implements Reconciler<Migration>, Cleaner<Migration> {

    static final String NAME = "migration";

    /** Long enough for kubelet to deliver SIGTERM, which a stopped source never acts on; then SIGKILL. */
    private static final long SOURCE_GRACE_SECONDS = 1;

    private final KubernetesClient client;
    private final PodResolver pods;
    private final NodeWork nodeWork;
    private final TargetPods targetPods;
    private final EventRecorder events;
    private final OperatorConfig config;

    public MigrationReconciler(KubernetesClient client, PodResolver pods, NodeWork nodeWork, TargetPods targetPods,
                               EventRecorder events, OperatorConfig config) {
        this.client = client;
        this.pods = pods;
        this.nodeWork = nodeWork;
        this.targetPods = targetPods;
        this.events = events;
        this.config = config;
    }

    @Override
    public List<EventSource<?, Migration>> prepareEventSources(EventSourceContext<Migration> context) {
        return List.of(Reconcilers.owned(Checkpoint.class, Migration.class, "migration-checkpoints", context),
                Reconcilers.owned(Restore.class, Migration.class, "migration-restores", context),
                Reconcilers.owned(NodeOperation.class, Migration.class, "migration-nodeoperations", context));
    }

    @Override
    public UpdateControl<Migration> reconcile(Migration mig, Context<Migration> context) {
        return Reconcilers.pass(client, mig, MigrationStatus::new, this::start, this::follow, config.pollInterval());
    }

    /**
     * Pending: validate, then create the target pod on the target node. The dump waits for it: a pod takes
     * seconds to start, and started while the source still runs, those seconds are not downtime.
     */
    private void start(Migration mig, MigrationStatus s) {
        String ns = mig.getMetadata().getNamespace();
        MigrationSpec spec = mig.getSpec();
        Checkpoint existing = client.resources(Checkpoint.class).inNamespace(ns).withName(mig.getMetadata().getName()).get();
        if (existing != null && !ownedBy(existing, mig)) {
            fail(mig, s, Reason.InvalidSpec, "a Checkpoint named " + mig.getMetadata().getName() + " exists and is not this Migration's", true);
            return;
        }
        if (spec == null || spec.getTargetNode() == null) {
            fail(mig, s, Reason.InvalidSpec, "spec.podName and spec.targetNode are required", true);
            return;
        }
        String targetName = TargetPods.name(mig);
        if (existing != null) {
            // Created before a status patch was lost: adopt it.
            s.setTargetPod(targetName);
            s.setCheckpointName(existing.getMetadata().getName());
            Statuses.validated(s);
            Statuses.progress(s, Phase.Running, Reason.CheckpointCreated, "checkpoint " + existing.getMetadata().getName() + " created");
            return;
        }
        PodResolver.Resolution r = pods.resolve(ns, spec.getPodName(), spec.getContainerName());
        if (!r.valid()) {
            fail(mig, s, r.reason(), r.message(), true);
            return;
        }
        if (r.target().nodeName().equals(spec.getTargetNode())) {
            fail(mig, s, Reason.InvalidSpec, "pod " + spec.getPodName() + " already runs on " + spec.getTargetNode(), true);
            return;
        }
        if (client.nodes().withName(spec.getTargetNode()).get() == null) {
            fail(mig, s, Reason.NodeNotFound, "node " + spec.getTargetNode() + " does not exist", true);
            return;
        }
        s.setSourceNode(r.target().nodeName());
        if (client.pods().inNamespace(ns).withName(targetName).get() == null) {
            client.pods().inNamespace(ns).resource(targetPods.build(mig, r.target().pod(), r.target().containerName())).create();
            events.normal(mig, Reason.TargetPodCreated, "preparing pod " + targetName + " on node " + spec.getTargetNode()
                    + " while pod " + spec.getPodName() + " runs on");
        }
        s.setTargetPod(targetName);
        Statuses.validated(s);
        Statuses.progress(s, Phase.Running, Reason.TargetPodStarting, "preparing pod " + targetName + " on node " + spec.getTargetNode());
    }

    /** Running, before the dump: once the target pod runs, checkpoint the source (still running now). */
    private void dumpWhenTargetReady(Migration mig, MigrationStatus s) {
        String ns = mig.getMetadata().getNamespace();
        MigrationSpec spec = mig.getSpec();
        PodResolver.Resolution source = pods.resolve(ns, spec.getPodName(), spec.getContainerName());
        if (!source.valid()) {
            fail(mig, s, source.reason(), source.message(), false);
            return;
        }
        Pod pod = client.pods().inNamespace(ns).withName(s.getTargetPod()).get();
        PodResolver.Resolution target = pod == null
                ? new PodResolver.Resolution(null, Reason.TargetPodNotUsable, "target pod " + s.getTargetPod() + " is gone")
                : pods.resolve(pod, source.target().containerName());
        if (!target.valid()) {
            String phase = pod == null || pod.getStatus() == null ? null : pod.getStatus().getPhase();
            boolean ended = pod == null || "Failed".equals(phase) || "Succeeded".equals(phase) || pod.getMetadata().getDeletionTimestamp() != null;
            Instant created = pod == null || pod.getMetadata().getCreationTimestamp() == null ? Instant.now()
                    : Instant.parse(pod.getMetadata().getCreationTimestamp());
            boolean late = Duration.between(created, Instant.now()).compareTo(config.targetPodStartTimeout()) > 0;
            if (ended || late || target.reason() == Reason.ContainerNotFound) {
                fail(mig, s, Reason.TargetPodNotUsable, target.message() + "; source pod untouched", false);
            } else {
                Statuses.progress(s, Phase.Running, Reason.TargetPodStarting, target.message());
            }
            return;
        }
        CheckpointSpec cs = new CheckpointSpec();
        cs.setPodName(spec.getPodName());
        cs.setContainerName(source.target().containerName());
        cs.setLeaveRunning(Boolean.TRUE.equals(spec.getLeaveRunning()));
        cs.setLeaveStopped(!Boolean.TRUE.equals(spec.getLeaveRunning()));
        cs.setPostCopy(!Boolean.TRUE.equals(spec.getLeaveRunning()) && !Boolean.FALSE.equals(spec.getLazy())
                && !Boolean.FALSE.equals(spec.getPostCopy()));
        cs.setStorage(ImageStorage.Shared);
        cs.setGhostLimit(spec.getGhostLimit());
        cs.setCompression(spec.getCompression() == null ? ImageCompression.Lz4 : spec.getCompression());
        Checkpoint ckpt = new Checkpoint();
        ckpt.setSpec(cs);
        own(ckpt, mig);
        client.resources(Checkpoint.class).inNamespace(ns).resource(ckpt).create();
        events.normal(mig, Reason.CheckpointCreated, "pod " + s.getTargetPod() + " ready on node " + spec.getTargetNode()
                + "; checkpointing pod " + spec.getPodName() + " on node " + s.getSourceNode());
        s.setCheckpointName(mig.getMetadata().getName());
        Statuses.progress(s, Phase.Running, Reason.CheckpointCreated, "checkpoint " + mig.getMetadata().getName() + " created");
        if (Boolean.TRUE.equals(cs.getPostCopy())) {
            // Post-copy: the restore goes to the target node at once; the source's agent stops the process
            // only once the target's agent has taken it up.
            createRestore(mig, s, mig.getMetadata().getName(), source.target().containerName());
        }
    }

    private void follow(Migration mig, MigrationStatus s) {
        if (s.getCheckpointName() == null) {
            dumpWhenTargetReady(mig, s);
            return;
        }
        String ns = mig.getMetadata().getNamespace();
        Checkpoint ckpt = client.resources(Checkpoint.class).inNamespace(ns).withName(s.getCheckpointName()).get();
        if (ckpt == null) {
            fail(mig, s, Reason.ChildFailed, "checkpoint " + s.getCheckpointName() + " disappeared", false);
            return;
        }
        // Post-copy: the Restore runs beside the dump, reading the image as it is written; both must end
        // before the source may go or be resumed (a failed post-copy dump leaves the source stopped).
        boolean postCopy = Boolean.TRUE.equals(ckpt.getSpec().getPostCopy());
        CheckpointStatus cks = ckpt.getStatus();
        Restore restore = client.resources(Restore.class).inNamespace(ns).withName(mig.getMetadata().getName()).get();
        if (postCopy) {
            if (restore == null && cks != null && cks.getPhase() == Phase.Failed) {
                afterFailure(mig, s, ckpt, "checkpoint", cks);
                return;
            }
        } else if (!childDone(mig, s, cks, "checkpoint")) {
            return;
        }
        if (cks != null && cks.getPhase() == Phase.Succeeded) {
            s.setFrozenMillis(cks.getFrozenMillis());
        }
        if (s.getSourceNode() == null && cks != null) {
            s.setSourceNode(cks.getNodeName());
        }
        if (restore == null) {
            createRestore(mig, s, ckpt.getMetadata().getName(), cks == null ? null : cks.getContainerName());
            return;
        }
        s.setRestoreName(restore.getMetadata().getName());
        OperationStatus rs = restore.getStatus();
        if (postCopy && !(ended(rs) && ended(cks))) {
            return;
        }
        if (rs != null && rs.getPhase() == Phase.Failed) {
            afterFailure(mig, s, ckpt, "restore", rs);
            return;
        }
        if (!childDone(mig, s, rs, "restore")) {
            return;
        }
        s.setTargetPod(restore.getStatus().getTargetPod());
        s.setDowntimeMillis(downtime(ckpt, restore));
        // Only here, with the Restore Succeeded, may the source go.
        if (!Boolean.FALSE.equals(mig.getSpec().getDeleteSourcePod()) && !Boolean.TRUE.equals(s.getSourcePodDeleted())) {
            deleteSourcePod(mig, ckpt);
            s.setSourcePodDeleted(true);
        }
        Statuses.succeed(s, Reason.Restored, "running in pod " + s.getTargetPod() + " on node " + mig.getSpec().getTargetNode());
        events.normal(mig, Reason.Restored, "migrated to pod " + s.getTargetPod() + " on node " + mig.getSpec().getTargetNode());
    }

    /** The Migration's Restore into its target pod. */
    private void createRestore(Migration mig, MigrationStatus s, String checkpointName, String container) {
        RestoreSpec rs = new RestoreSpec();
        rs.setCheckpointName(checkpointName);
        rs.setTargetPod(s.getTargetPod());
        rs.setTargetContainer(container);
        rs.setLazy(!Boolean.FALSE.equals(mig.getSpec().getLazy()));
        Restore restore = new Restore();
        restore.setSpec(rs);
        own(restore, mig);
        client.resources(Restore.class).inNamespace(mig.getMetadata().getNamespace()).resource(restore).create();
        s.setRestoreName(mig.getMetadata().getName());
        Statuses.progress(s, Phase.Running, Reason.RestoreCreated, "restore " + mig.getMetadata().getName() + " created");
        events.normal(mig, Reason.RestoreCreated, "restoring on node " + mig.getSpec().getTargetNode());
    }

    private static boolean ended(OperationStatus status) {
        return status != null && status.getPhase() != null && status.getPhase().terminal();
    }

    /**
     * The Restore failed (or a post-copy dump, whose Restore was never made). A source the dump left
     * stopped is resumed first (one Resume NodeOperation on its node, owned by the Migration); the
     * Migration fails once that is over, saying whether it worked.
     */
    private void afterFailure(Migration mig, MigrationStatus s, Checkpoint ckpt, String what, OperationStatus failed) {
        String cause = what + " failed (" + failed.condition(Condition.FAILED).map(Condition::getReason).orElse(null)
                + "): " + failed.condition(Condition.FAILED).map(Condition::getMessage).orElse("");
        if (!Boolean.TRUE.equals(ckpt.getSpec().getLeaveStopped()) || ckpt.getStatus().getPid() == null) {
            fail(mig, s, Reason.ChildFailed, cause + "; source pod kept", false); // never stopped
            return;
        }
        boolean first = s.getResumeOperation() == null;
        NodeOperation op = resumeSource(mig, ckpt);
        s.setResumeOperation(op.getMetadata().getName());
        NodeOperationStatus os = op.getStatus();
        if (os == null || os.getPhase() == null || !os.getPhase().terminal()) {
            String message = cause + "; resuming the stopped source process on node " + ckpt.getStatus().getNodeName();
            Statuses.progress(s, Phase.Running, Reason.ResumingSource, message);
            if (first) {
                events.warning(mig, Reason.ResumingSource, message);
            }
            return;
        }
        s.setSourceResumed(os.getPhase() == Phase.Succeeded);
        fail(mig, s, Reason.ChildFailed, cause + (os.getPhase() == Phase.Succeeded
                ? "; source process resumed, source pod kept"
                : "; resuming the source process failed (" + os.getReason() + "): " + os.getMessage()), false);
    }

    /** The one Resume NodeOperation of this Migration: the source node's agent sends the dumped PID SIGCONT. */
    private NodeOperation resumeSource(Migration mig, Checkpoint ckpt) {
        var cst = ckpt.getStatus();
        NodeOperationSpec spec = new NodeOperationSpec();
        spec.setNodeName(cst.getNodeName());
        spec.setCheckpointName(ckpt.getMetadata().getName());
        spec.setCheckpointUid(ckpt.getMetadata().getUid());
        spec.setPodName(ckpt.getSpec().getPodName());
        spec.setPodUid(cst.getPodUid());
        spec.setContainerName(cst.getContainerName());
        spec.setContainerID(cst.getContainerID());
        spec.setPid(cst.getPid());
        return nodeWork.ensure(mig, NodeOperation.Type.Resume, spec);
    }

    /** The checkpointed source pod, if it is still that pod (same UID). */
    private void deleteSourcePod(Migration mig, Checkpoint ckpt) {
        String ns = mig.getMetadata().getNamespace();
        Pod source = client.pods().inNamespace(ns).withName(ckpt.getSpec().getPodName()).get();
        if (source != null && source.getMetadata().getUid().equals(ckpt.getStatus().getPodUid())) {
            client.pods().inNamespace(ns).resource(source).withGracePeriod(SOURCE_GRACE_SECONDS).delete();
            events.normal(mig, Reason.SourcePodDeleted, "deleted source pod " + source.getMetadata().getName());
        }
    }

    /**
     * A Migration deleted while it runs must not strand its source stopped. Its children stay while the
     * finalizer holds: a dump or restore in progress is waited for; then a restored copy means the
     * source goes as it would have, and no copy means the source is resumed.
     */
    @Override
    public DeleteControl cleanup(Migration mig, Context<Migration> context) {
        if (!Reconcilers.refresh(client, mig)) {
            return DeleteControl.defaultDelete();
        }
        MigrationStatus s = mig.getStatus();
        if (s == null || s.getPhase() == null || s.getPhase().terminal()) {
            return DeleteControl.defaultDelete(); // never started, or ended with its source resumed or gone
        }
        if (s.getCheckpointName() == null) {
            deletePreparedPod(mig, s); // the source was never touched
            return DeleteControl.defaultDelete();
        }
        String ns = mig.getMetadata().getNamespace();
        DeleteControl later = DeleteControl.noFinalizerRemoval().rescheduleAfter(config.pollInterval().toMillis());
        Checkpoint ckpt = client.resources(Checkpoint.class).inNamespace(ns).withName(s.getCheckpointName()).get();
        if (ckpt == null || !ownedBy(ckpt, mig) || !Boolean.TRUE.equals(ckpt.getSpec().getLeaveStopped())) {
            deletePreparedPod(mig, s);
            return DeleteControl.defaultDelete();
        }
        Phase dumped = ckpt.getStatus() == null ? null : ckpt.getStatus().getPhase();
        if (dumped == null || !dumped.terminal()) {
            return later; // the dump's end decides whether the source is stopped
        }
        boolean postCopy = Boolean.TRUE.equals(ckpt.getSpec().getPostCopy());
        if (dumped == Phase.Failed && (!postCopy || ckpt.getStatus().getPid() == null)) {
            deletePreparedPod(mig, s);
            return DeleteControl.defaultDelete(); // a failed dump released the process as it was
        }
        Restore restore = client.resources(Restore.class).inNamespace(ns).withName(mig.getMetadata().getName()).get();
        Phase restored = restore == null || restore.getStatus() == null ? null : restore.getStatus().getPhase();
        if (restore != null && ownedBy(restore, mig) && (restored == null || !restored.terminal())) {
            return later; // a copy may be about to run: it must be one or the other, never both
        }
        if (restored == Phase.Succeeded) {
            if (!Boolean.FALSE.equals(mig.getSpec().getDeleteSourcePod())) {
                deleteSourcePod(mig, ckpt);
            }
            return DeleteControl.defaultDelete();
        }
        NodeOperationStatus os = resumeSource(mig, ckpt).getStatus();
        if (os == null || os.getPhase() == null || !os.getPhase().terminal()) {
            return later;
        }
        deletePreparedPod(mig, s);
        if (os.getPhase() == Phase.Succeeded) {
            events.normal(mig, Reason.Resumed, "Migration deleted before its restore: source process resumed on node "
                    + ckpt.getStatus().getNodeName());
        } else {
            events.warning(mig, os.getReason() == null ? Reason.SystemError : os.getReason(),
                    "Migration deleted before its restore; resuming the source process failed: " + os.getMessage());
        }
        return DeleteControl.defaultDelete();
    }

    /** From the source stopping to the copy running, when the source stayed stopped in between. */
    private static Long downtime(Checkpoint ckpt, Restore restore) {
        String from = ckpt.getStatus().getFrozenAt();
        String to = restore.getStatus().getResumedAt();
        if (!Boolean.TRUE.equals(ckpt.getSpec().getLeaveStopped()) || from == null || to == null) {
            return null;
        }
        try {
            return Duration.between(Instant.parse(from), Instant.parse(to)).toMillis();
        } catch (DateTimeParseException e) {
            return null; // written by an agent of another version: no figure rather than a wrong one
        }
    }

    /** True when the child succeeded; fails the Migration when it failed; false while it runs. */
    private boolean childDone(Migration mig, MigrationStatus s, OperationStatus child, String what) {
        if (child == null || child.getPhase() == null || !child.getPhase().terminal()) {
            return false;
        }
        if (child.getPhase() == Phase.Failed) {
            Reason cause = child.condition(Condition.FAILED).map(Condition::getReason).orElse(null);
            fail(mig, s, Reason.ChildFailed, what + " failed (" + cause + "): "
                    + child.condition(Condition.FAILED).map(Condition::getMessage).orElse("") + "; source pod kept", false);
            return false;
        }
        return true;
    }

    private static void own(HasMetadata child, Migration mig) {
        child.getMetadata().setName(mig.getMetadata().getName());
        child.getMetadata().setNamespace(mig.getMetadata().getNamespace());
        child.getMetadata().setOwnerReferences(List.of(new OwnerReferenceBuilder()
                .withApiVersion(mig.getApiVersion()).withKind(mig.getKind()).withName(mig.getMetadata().getName())
                .withUid(mig.getMetadata().getUid()).withController(true).withBlockOwnerDeletion(true).build()));
    }

    private static boolean ownedBy(HasMetadata child, Migration mig) {
        return child.getMetadata().getOwnerReferences() != null && child.getMetadata().getOwnerReferences().stream()
                .anyMatch(o -> mig.getMetadata().getUid().equals(o.getUid()));
    }

    private void fail(Migration mig, MigrationStatus s, Reason reason, String message, boolean validation) {
        Statuses.fail(s, reason, message, validation);
        events.warning(mig, reason, message);
        deletePreparedPod(mig, s);
    }

    /** The target pod made for a Migration that did not happen would wait forever: remove it. */
    private void deletePreparedPod(Migration mig, MigrationStatus s) {
        if (s.getTargetPod() != null) {
            client.pods().inNamespace(mig.getMetadata().getNamespace()).withName(s.getTargetPod()).delete();
        }
    }

    @Override
    public ErrorStatusUpdateControl<Migration> updateErrorStatus(Migration mig, Context<Migration> context, Exception e) {
        return Reconcilers.onError(mig, MigrationStatus::new, context, e, events);
    }
}
