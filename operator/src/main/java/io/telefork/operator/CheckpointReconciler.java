package io.telefork.operator;

import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.javaoperatorsdk.operator.api.reconciler.Cleaner;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.DeleteControl;
import io.javaoperatorsdk.operator.api.reconciler.ErrorStatusUpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.telefork.api.v1alpha1.Checkpoint;
import io.telefork.api.v1alpha1.CheckpointStatus;
import io.telefork.api.v1alpha1.ImageCompression;
import io.telefork.api.v1alpha1.ImageStorage;
import io.telefork.api.v1alpha1.Names;
import io.telefork.api.v1alpha1.NodeOperation;
import io.telefork.api.v1alpha1.NodeOperationSpec;
import io.telefork.api.v1alpha1.NodeOperationStatus;
import io.telefork.api.v1alpha1.Phase;
import io.telefork.api.v1alpha1.Reason;
import org.jboss.logging.Logger;

import java.util.List;

/**
 * Checkpoint: validate the pod, create one Dump NodeOperation on the pod's node, follow it, copy its
 * results into the status. A Dump is created only from Pending, under a name derived from the
 * Checkpoint's UID, so a repeated reconcile never dumps twice. The finalizer deletes the image files.
 */
@ControllerConfiguration(name = CheckpointReconciler.NAME, finalizerName = Names.FINALIZER)
public class CheckpointReconciler implements Reconciler<Checkpoint>, Cleaner<Checkpoint> {

    static final String NAME = "checkpoint";
    private static final Logger LOG = Logger.getLogger(CheckpointReconciler.class);

    private final KubernetesClient client;
    private final PodResolver pods;
    private final NodeWork nodeWork;
    private final EventRecorder events;
    private final OperatorConfig config;

    public CheckpointReconciler(KubernetesClient client, PodResolver pods, NodeWork nodeWork, EventRecorder events,
                                OperatorConfig config) {
        this.client = client;
        this.pods = pods;
        this.nodeWork = nodeWork;
        this.events = events;
        this.config = config;
    }

    @Override
    public List<EventSource<?, Checkpoint>> prepareEventSources(EventSourceContext<Checkpoint> context) {
        return List.of(Reconcilers.owned(NodeOperation.class, Checkpoint.class, "checkpoint-nodeoperations", context));
    }

    @Override
    public UpdateControl<Checkpoint> reconcile(Checkpoint ckpt, Context<Checkpoint> context) {
        return Reconcilers.pass(client, ckpt, CheckpointStatus::new, this::start, this::follow, config.pollInterval());
    }

    /** Pending: validate, then hand the dump to the node's agent. */
    private void start(Checkpoint ckpt, CheckpointStatus s) {
        String ns = ckpt.getMetadata().getNamespace();
        NodeOperation existing = nodeWork.get(ns, NodeWork.name(ckpt, NodeOperation.Type.Dump));
        if (existing != null) {
            // Created before a status patch was lost: adopt it, never make a second one.
            adopt(s, existing);
            return;
        }
        var spec = ckpt.getSpec();
        if (spec == null) {
            fail(ckpt, s, Reason.InvalidSpec, "spec is missing", true);
            return;
        }
        boolean leaveRunning = spec.getLeaveRunning() == null || spec.getLeaveRunning();
        boolean leaveStopped = Boolean.TRUE.equals(spec.getLeaveStopped());
        if (leaveRunning && leaveStopped) {
            fail(ckpt, s, Reason.InvalidSpec, "leaveStopped needs leaveRunning: false", true);
            return;
        }
        boolean postCopy = Boolean.TRUE.equals(spec.getPostCopy());
        if (postCopy && (!leaveStopped || spec.getStorage() != ImageStorage.Shared)) {
            fail(ckpt, s, Reason.InvalidSpec, "postCopy needs leaveStopped: true and storage: Shared", true);
            return;
        }
        long ghostLimit;
        try {
            ghostLimit = spec.getGhostLimit() == null ? 0 : Quantity.getAmountInBytes(spec.getGhostLimit()).longValueExact();
        } catch (ArithmeticException | IllegalArgumentException e) {
            fail(ckpt, s, Reason.InvalidSpec, "spec.ghostLimit " + spec.getGhostLimit() + " is not a size in bytes (e.g. 64Mi)", true);
            return;
        }
        if (ghostLimit < 0) {
            fail(ckpt, s, Reason.InvalidSpec, "spec.ghostLimit must not be negative", true);
            return;
        }
        PodResolver.Resolution r = pods.resolve(ns, spec.getPodName(), spec.getContainerName());
        if (!r.valid()) {
            fail(ckpt, s, r.reason(), r.message(), true);
            return;
        }
        PodResolver.Target t = r.target();
        NodeOperationSpec op = new NodeOperationSpec();
        op.setNodeName(t.nodeName());
        op.setCheckpointName(ckpt.getMetadata().getName());
        op.setCheckpointUid(ckpt.getMetadata().getUid());
        op.setPodName(t.pod().getMetadata().getName());
        op.setPodUid(t.podUid());
        op.setContainerName(t.containerName());
        op.setContainerID(t.containerID());
        op.setLeaveRunning(leaveRunning);
        op.setLeaveStopped(leaveStopped);
        op.setPostCopy(postCopy);
        op.setGhostLimitBytes(ghostLimit);
        op.setCompression(spec.getCompression() == null ? ImageCompression.Lz4 : spec.getCompression());
        op.setStorage(spec.getStorage() == null ? ImageStorage.NodeLocal : spec.getStorage());
        NodeOperation created = nodeWork.ensure(ckpt, NodeOperation.Type.Dump, op);

        s.setNodeName(t.nodeName());
        s.setPodUid(t.podUid());
        s.setContainerName(t.containerName());
        s.setContainerID(t.containerID());
        s.setPodSpec(Serialization.jsonMapper().valueToTree(snapshot(t.pod().getSpec())));
        s.setNodeOperation(created.getMetadata().getName());
        Statuses.validated(s);
        Statuses.progress(s, Phase.Running, Reason.NodeWorkCreated, "dump handed to the agent on node " + t.nodeName());
        events.normal(ckpt, Reason.NodeWorkCreated, "dumping container " + t.containerName() + " of pod " + t.pod().getMetadata().getName() + " on node " + t.nodeName());
    }

    private void adopt(CheckpointStatus s, NodeOperation op) {
        NodeOperationSpec spec = op.getSpec();
        s.setNodeName(spec.getNodeName());
        s.setPodUid(spec.getPodUid());
        s.setContainerName(spec.getContainerName());
        s.setContainerID(spec.getContainerID());
        s.setNodeOperation(op.getMetadata().getName());
        Statuses.progress(s, Phase.Running, Reason.NodeWorkCreated, "dump handed to the agent on node " + spec.getNodeName());
    }

    /** Running: wait for the agent's verdict. */
    private void follow(Checkpoint ckpt, CheckpointStatus s) {
        NodeOperation op = nodeWork.get(ckpt.getMetadata().getNamespace(), s.getNodeOperation());
        if (op == null) {
            fail(ckpt, s, Reason.SystemError, "node operation " + s.getNodeOperation() + " disappeared", false);
            return;
        }
        NodeOperationStatus os = op.getStatus();
        if (os == null || os.getPhase() == null || !os.getPhase().terminal()) {
            return;
        }
        s.setPid(os.getPid()); // a failed post-copy dump leaves it stopped, to be resumed by its PID
        if (os.getPhase() == Phase.Failed) {
            fail(ckpt, s, os.getReason() == null ? Reason.SystemError : os.getReason(), os.getMessage(), false);
            return;
        }
        s.setProcess(os.getProcess());
        s.setImage(os.getImage());
        s.setMemoryBytes(os.getMemoryBytes());
        s.setFrozenMillis(os.getFrozenMillis());
        s.setDumpMillis(os.getTotalMillis());
        s.setFrozenAt(os.getFrozenAt());
        String size = os.getImage() == null ? "?" : os.getImage().getSizeBytes() + " bytes";
        Statuses.succeed(s, Reason.Dumped, "image of " + size + " written");
        events.normal(ckpt, Reason.Dumped, "dumped PID " + os.getPid() + " on " + s.getNodeName() + ": " + size
                + ", frozen " + os.getFrozenMillis() + " ms");
    }

    private void fail(Checkpoint ckpt, CheckpointStatus s, Reason reason, String message, boolean validation) {
        Statuses.fail(s, reason, message, validation);
        events.warning(ckpt, reason, message);
    }

    /**
     * The parts of the pod spec a restore target pod is made from; scheduling decisions of the old pod
     * (nodeName) are dropped, the target gets its own.
     */
    private static PodSpec snapshot(PodSpec spec) {
        PodSpec copy = Serialization.clone(spec);
        copy.setNodeName(null);
        return copy;
    }

    @Override
    public ErrorStatusUpdateControl<Checkpoint> updateErrorStatus(Checkpoint ckpt, Context<Checkpoint> context, Exception e) {
        return Reconcilers.onError(ckpt, CheckpointStatus::new, context, e, events);
    }

    /** Deletes the image files through the agent that holds them, then lets the Checkpoint go. */
    @Override
    public DeleteControl cleanup(Checkpoint ckpt, Context<Checkpoint> context) {
        // A stale cached status could lack the image's node: never let go of the files on that account.
        if (!Reconcilers.refresh(client, ckpt)) {
            return DeleteControl.defaultDelete();
        }
        CheckpointStatus s = ckpt.getStatus();
        String ns = ckpt.getMetadata().getNamespace();
        String node = s == null ? null : s.getNodeName();
        if (s != null && s.getNodeOperation() != null) {
            NodeOperation dump = nodeWork.get(ns, s.getNodeOperation());
            boolean dumpInProgress = dump != null && (dump.getStatus() == null || dump.getStatus().getPhase() == null
                    || !dump.getStatus().getPhase().terminal());
            if (dumpInProgress && nodeExists(node)) {
                // Deleting while the agent still writes would race it: wait for the dump to end.
                return DeleteControl.noFinalizerRemoval().rescheduleAfter(config.pollInterval().toMillis());
            }
        }
        if (node == null || s.getNodeOperation() == null) {
            return DeleteControl.defaultDelete();
        }
        if (!nodeExists(node)) {
            events.warning(ckpt, Reason.NodeNotFound, "node " + node + " is gone: its image files cannot be deleted");
            return DeleteControl.defaultDelete();
        }
        NodeOperationSpec spec = new NodeOperationSpec();
        spec.setNodeName(node);
        spec.setCheckpointName(ckpt.getMetadata().getName());
        spec.setCheckpointUid(ckpt.getMetadata().getUid());
        NodeOperation del = nodeWork.ensure(ckpt, NodeOperation.Type.DeleteImage, spec);
        NodeOperationStatus ds = del.getStatus();
        if (ds == null || ds.getPhase() == null || !ds.getPhase().terminal()) {
            return DeleteControl.noFinalizerRemoval().rescheduleAfter(config.pollInterval().toMillis());
        }
        if (ds.getPhase() == Phase.Failed) {
            LOG.warnf("image files of %s/%s not deleted: %s", ns, ckpt.getMetadata().getName(), ds.getMessage());
            events.warning(ckpt, ds.getReason() == null ? Reason.SystemError : ds.getReason(),
                    "image files not deleted: " + ds.getMessage());
        } else {
            events.normal(ckpt, Reason.ImageDeleted, "image files deleted on node " + node);
        }
        return DeleteControl.defaultDelete();
    }

    private boolean nodeExists(String node) {
        return node != null && client.nodes().withName(node).get() != null;
    }
}
