package io.telefork.operator;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.ErrorStatusUpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.telefork.api.v1alpha1.Checkpoint;
import io.telefork.api.v1alpha1.CheckpointStatus;
import io.telefork.api.v1alpha1.ImageFiles;
import io.telefork.api.v1alpha1.ImageLocation;
import io.telefork.api.v1alpha1.ImageStorage;
import io.telefork.api.v1alpha1.Names;
import io.telefork.api.v1alpha1.NodeOperation;
import io.telefork.api.v1alpha1.NodeOperationSpec;
import io.telefork.api.v1alpha1.NodeOperationStatus;
import io.telefork.api.v1alpha1.Phase;
import io.telefork.api.v1alpha1.Reason;
import io.telefork.api.v1alpha1.Restore;
import io.telefork.api.v1alpha1.RestoreSpec;
import io.telefork.api.v1alpha1.RestoreStatus;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * Restore: wait for the Checkpoint, find or make the target pod, wait for its placeholder to run, create
 * one Restore NodeOperation on the target's node, follow it.
 */
@ControllerConfiguration(name = RestoreReconciler.NAME)
public class RestoreReconciler implements Reconciler<Restore> {

    static final String NAME = "restore";

    private final KubernetesClient client;
    private final PodResolver pods;
    private final NodeWork nodeWork;
    private final TargetPods targetPods;
    private final EventRecorder events;
    private final OperatorConfig config;

    public RestoreReconciler(KubernetesClient client, PodResolver pods, NodeWork nodeWork, TargetPods targetPods,
                             EventRecorder events, OperatorConfig config) {
        this.client = client;
        this.pods = pods;
        this.nodeWork = nodeWork;
        this.targetPods = targetPods;
        this.events = events;
        this.config = config;
    }

    @Override
    public List<EventSource<?, Restore>> prepareEventSources(EventSourceContext<Restore> context) {
        return List.of(Reconcilers.owned(NodeOperation.class, Restore.class, "restore-nodeoperations", context));
    }

    @Override
    public UpdateControl<Restore> reconcile(Restore restore, Context<Restore> context) {
        return Reconcilers.pass(client, restore, RestoreStatus::new, this::start, this::follow, config.pollInterval());
    }

    private void start(Restore restore, RestoreStatus s) {
        String ns = restore.getMetadata().getNamespace();
        NodeOperation existing = nodeWork.get(ns, NodeWork.name(restore, NodeOperation.Type.Restore));
        if (existing != null) {
            s.setNodeOperation(existing.getMetadata().getName());
            s.setNodeName(existing.getSpec().getNodeName());
            s.setTargetPod(existing.getSpec().getPodName());
            s.setTargetContainer(existing.getSpec().getContainerName());
            s.setContainerID(existing.getSpec().getContainerID());
            Statuses.progress(s, Phase.Running, Reason.NodeWorkCreated, "restore handed to the agent on node " + existing.getSpec().getNodeName());
            return;
        }
        RestoreSpec spec = restore.getSpec();
        if (spec == null || spec.getCheckpointName() == null) {
            fail(restore, s, Reason.InvalidSpec, "spec.checkpointName is required", true);
            return;
        }
        boolean hasPod = spec.getTargetPod() != null && !spec.getTargetPod().isEmpty();
        boolean hasNode = spec.getTargetNode() != null && !spec.getTargetNode().isEmpty();
        if (hasPod == hasNode) {
            fail(restore, s, Reason.InvalidSpec, "set exactly one of spec.targetPod and spec.targetNode", true);
            return;
        }
        if (!Names.isDnsSubdomain(spec.getCheckpointName())) {
            fail(restore, s, Reason.InvalidSpec, "spec.checkpointName is not a valid name", true);
            return;
        }
        // Only ever the Restore's own namespace.
        Checkpoint ckpt = client.resources(Checkpoint.class).inNamespace(ns).withName(spec.getCheckpointName()).get();
        if (ckpt == null) {
            fail(restore, s, Reason.CheckpointNotFound, "checkpoint " + ns + "/" + spec.getCheckpointName() + " does not exist", true);
            return;
        }
        CheckpointStatus cs = ckpt.getStatus();
        boolean postCopy = whileDumping(ckpt, spec, hasPod);
        if (!postCopy && (cs == null || cs.getPhase() == null || !cs.getPhase().terminal())) {
            Statuses.progress(s, Phase.Pending, Reason.WaitingForCheckpoint, "waiting for checkpoint " + spec.getCheckpointName());
            return;
        }
        if (!postCopy && (cs.getPhase() == Phase.Failed || cs.getImage() == null)) {
            fail(restore, s, Reason.CheckpointNotSucceeded, "checkpoint " + spec.getCheckpointName() + " failed", true);
            return;
        }
        ImageLocation image = postCopy ? growingImage(ckpt) : cs.getImage();
        String container = spec.getTargetContainer() != null ? spec.getTargetContainer()
                : cs == null ? null : cs.getContainerName();
        PodResolver.Resolution target;
        if (hasNode) {
            if (client.nodes().withName(spec.getTargetNode()).get() == null) {
                fail(restore, s, Reason.NodeNotFound, "node " + spec.getTargetNode() + " does not exist", true);
                return;
            }
            if (!reachable(image, spec.getTargetNode())) {
                fail(restore, s, Reason.ImageNotReachable, "the image is on node " + cs.getImage().getNode()
                        + " only (storage NodeLocal); checkpoint with storage: Shared to restore on " + spec.getTargetNode(), true);
                return;
            }
            if (cs.getPodSpec() == null) {
                fail(restore, s, Reason.CheckpointNotSucceeded, "checkpoint " + spec.getCheckpointName() + " recorded no pod spec", true);
                return;
            }
            Pod pod = client.pods().inNamespace(ns).withName(TargetPods.name(restore)).get();
            if (pod == null) {
                pod = client.pods().inNamespace(ns).resource(targetPods.build(restore, ckpt, spec.getTargetNode(), container)).create();
                events.normal(restore, Reason.TargetPodCreated, "created target pod " + pod.getMetadata().getName() + " on node " + spec.getTargetNode());
            }
            s.setTargetPod(pod.getMetadata().getName());
            s.setTargetPodCreated(true);
            s.setNodeName(spec.getTargetNode());
            target = pods.resolve(pod, container);
            if (!target.valid()) {
                String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
                boolean ended = "Failed".equals(phase) || "Succeeded".equals(phase) || pod.getMetadata().getDeletionTimestamp() != null;
                Instant created = pod.getMetadata().getCreationTimestamp() == null ? Instant.now()
                        : Instant.parse(pod.getMetadata().getCreationTimestamp());
                boolean late = Duration.between(created, Instant.now()).compareTo(config.targetPodStartTimeout()) > 0;
                if (ended || late || target.reason() == Reason.ContainerNotFound) {
                    fail(restore, s, Reason.TargetPodNotUsable, target.message(), false);
                    deleteCreatedPod(restore, s);
                } else {
                    Statuses.progress(s, Phase.Pending, Reason.TargetPodStarting, target.message());
                }
                return;
            }
        } else {
            target = pods.resolve(ns, spec.getTargetPod(), container);
            if (!target.valid()) {
                fail(restore, s, target.reason(), target.message(), true);
                return;
            }
            s.setTargetPodCreated(false);
            if (!reachable(image, target.target().nodeName())) {
                fail(restore, s, Reason.ImageNotReachable, "the image is on node " + cs.getImage().getNode()
                        + " only; target pod runs on " + target.target().nodeName(), true);
                return;
            }
        }
        PodResolver.Target t = target.target();
        if (postCopy && t.nodeName().equals(sourceNode(ckpt))) {
            // One agent does one operation at a time: on the dump's own node, the restore waits for its end.
            Statuses.progress(s, Phase.Pending, Reason.WaitingForCheckpoint, "waiting for checkpoint "
                    + spec.getCheckpointName() + " (restoring on the node that dumps it)");
            return;
        }
        NodeOperationSpec op = new NodeOperationSpec();
        op.setNodeName(t.nodeName());
        op.setCheckpointName(ckpt.getMetadata().getName());
        op.setCheckpointUid(ckpt.getMetadata().getUid());
        op.setPodName(t.pod().getMetadata().getName());
        op.setPodUid(t.podUid());
        op.setContainerName(t.containerName());
        op.setContainerID(t.containerID());
        op.setImage(image);
        op.setPostCopy(postCopy);
        op.setProcess(cs == null ? null : cs.getProcess());
        op.setMemoryBytes(cs == null ? null : cs.getMemoryBytes());
        op.setAllowChangedFiles(Boolean.TRUE.equals(spec.getAllowChangedFiles()));
        op.setLazy(Boolean.TRUE.equals(spec.getLazy()));
        NodeOperation created = nodeWork.ensure(restore, NodeOperation.Type.Restore, op);
        s.setTargetPod(t.pod().getMetadata().getName());
        s.setTargetContainer(t.containerName());
        s.setNodeName(t.nodeName());
        s.setContainerID(t.containerID());
        s.setNodeOperation(created.getMetadata().getName());
        Statuses.validated(s);
        Statuses.progress(s, Phase.Running, Reason.NodeWorkCreated, "restore handed to the agent on node " + t.nodeName());
        events.normal(restore, Reason.NodeWorkCreated, "restoring into container " + t.containerName() + " of pod "
                + t.pod().getMetadata().getName() + " on node " + t.nodeName());
    }

    /**
     * Whether to restore while the checkpoint's dump still writes its image: a lazy restore into a pod of a
     * post-copy checkpoint (a Migration's) that has not ended yet. Its agent takes the work up before the
     * dump stops the process (the source's agent waits for that), and then waits for the image.
     */
    private static boolean whileDumping(Checkpoint ckpt, RestoreSpec spec, boolean intoPod) {
        CheckpointStatus cs = ckpt.getStatus();
        return intoPod && Boolean.TRUE.equals(ckpt.getSpec().getPostCopy()) && Boolean.TRUE.equals(spec.getLazy())
                && (cs == null || cs.getPhase() == null || !cs.getPhase().terminal());
    }

    /** The node whose agent dumps the checkpoint: as recorded, or else its pod's. */
    private String sourceNode(Checkpoint ckpt) {
        if (ckpt.getStatus() != null && ckpt.getStatus().getNodeName() != null) {
            return ckpt.getStatus().getNodeName();
        }
        Pod pod = client.pods().inNamespace(ckpt.getMetadata().getNamespace()).withName(ckpt.getSpec().getPodName()).get();
        return pod == null || pod.getSpec() == null ? null : pod.getSpec().getNodeName();
    }

    /** Where a post-copy checkpoint's image is being written: the shared volume, under its usual name. */
    private static ImageLocation growingImage(Checkpoint ckpt) {
        ImageLocation image = new ImageLocation();
        image.setStorage(ImageStorage.Shared);
        image.setNode(ckpt.getStatus() == null ? null : ckpt.getStatus().getNodeName());
        image.setFileName(ImageFiles.fileName(ckpt.getMetadata().getNamespace(), ckpt.getMetadata().getName(),
                ckpt.getMetadata().getUid()));
        return image;
    }

    static boolean reachable(ImageLocation image, String node) {
        return image.getStorage() == ImageStorage.Shared || node.equals(image.getNode());
    }

    private void follow(Restore restore, RestoreStatus s) {
        NodeOperation op = nodeWork.get(restore.getMetadata().getNamespace(), s.getNodeOperation());
        if (op == null) {
            fail(restore, s, Reason.SystemError, "node operation " + s.getNodeOperation() + " disappeared", false);
            return;
        }
        NodeOperationStatus os = op.getStatus();
        if (os == null || os.getPhase() == null || !os.getPhase().terminal()) {
            return;
        }
        if (os.getPhase() == Phase.Failed) {
            fail(restore, s, os.getReason() == null ? Reason.SystemError : os.getReason(), os.getMessage(), false);
            deleteCreatedPod(restore, s);
            return;
        }
        s.setRestoredPid(os.getPid());
        s.setOriginalPid(os.getOriginalPid());
        s.setMemoryBytes(os.getMemoryBytes());
        s.setRestoreMillis(os.getTotalMillis());
        s.setResumedAt(os.getResumedAt());
        s.setLazy(os.getLazy());
        s.setMemoryInMillis(os.getMemoryInMillis());
        Statuses.succeed(s, Reason.Restored, "restored as PID " + os.getPid() + " in pod " + s.getTargetPod());
        events.normal(restore, Reason.Restored, "restored PID " + os.getOriginalPid() + " as PID " + os.getPid()
                + " in pod " + s.getTargetPod() + " on node " + s.getNodeName() + " in " + os.getTotalMillis() + " ms");
    }

    /** A placeholder pod we made for a restore that failed would wait forever: remove it. */
    private void deleteCreatedPod(Restore restore, RestoreStatus s) {
        if (Boolean.TRUE.equals(s.getTargetPodCreated()) && s.getTargetPod() != null) {
            client.pods().inNamespace(restore.getMetadata().getNamespace()).withName(s.getTargetPod()).delete();
        }
    }

    private void fail(Restore restore, RestoreStatus s, Reason reason, String message, boolean validation) {
        Statuses.fail(s, reason, message, validation);
        events.warning(restore, reason, message);
    }

    @Override
    public ErrorStatusUpdateControl<Restore> updateErrorStatus(Restore restore, Context<Restore> context, Exception e) {
        return Reconcilers.onError(restore, RestoreStatus::new, context, e, events);
    }
}
