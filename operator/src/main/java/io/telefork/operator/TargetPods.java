package io.telefork.operator;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.telefork.api.v1alpha1.Checkpoint;
import io.telefork.api.v1alpha1.Migration;
import io.telefork.api.v1alpha1.Restore;
import jakarta.enterprise.context.ApplicationScoped;

import java.util.List;
import java.util.Map;

/**
 * Makes a restore target pod from the checkpointed pod's spec: same image, env, volumes and security
 * context, pinned to the target node, restartPolicy Never, and the checkpointed container's command
 * replaced by a placeholder that waits to be taken over by the agent.
 */
@ApplicationScoped
public class TargetPods {

    public static final String RESTORE_LABEL = "telefork.io/restore";
    public static final String CHECKPOINT_LABEL = "telefork.io/checkpoint";
    private static final String SA_VOLUME_PREFIX = "kube-api-access-";

    private final OperatorConfig config;

    public TargetPods(OperatorConfig config) {
        this.config = config;
    }

    /** The target pod of a Restore or Migration: named after it, unique per UID. */
    public static String name(HasMetadata owner) {
        String base = owner.getMetadata().getName();
        if (base.length() > 40) {
            base = base.substring(0, 40).replaceAll("[-.]+$", "");
        }
        return base + "-" + NodeWork.shortHash(owner.getMetadata().getUid() + "/pod");
    }

    public Pod build(Restore restore, Checkpoint ckpt, String node, String containerName) {
        PodSpec spec = Serialization.jsonMapper().convertValue(ckpt.getStatus().getPodSpec(), PodSpec.class);
        return build(name(restore), restore.getMetadata().getNamespace(), restore.getMetadata().getName(),
                ckpt.getMetadata().getName(), spec, node, containerName);
    }

    /**
     * A Migration's target pod, made from the source pod's live spec before the dump; its Checkpoint and
     * Restore are named as the Migration, so the labels are those a Restore would give it.
     */
    public Pod build(Migration mig, Pod source, String containerName) {
        return build(name(mig), mig.getMetadata().getNamespace(), mig.getMetadata().getName(), mig.getMetadata().getName(),
                Serialization.clone(source.getSpec()), mig.getSpec().getTargetNode(), containerName);
    }

    private Pod build(String name, String namespace, String restoreName, String checkpointName, PodSpec spec,
                      String node, String containerName) {
        spec.setNodeName(node);
        // The pod is pinned by nodeName; the source's node selection would make kubelet reject it on
        // another node (NodeAffinity predicate), so it does not come along.
        spec.setNodeSelector(null);
        if (spec.getAffinity() != null) {
            spec.getAffinity().setNodeAffinity(null);
        }
        spec.setRestartPolicy("Never");
        // Init containers already did their work for the process being restored; running them again
        // could change the volumes it has open.
        spec.setInitContainers(null);
        // The service-account volume is added again by the API server for the new pod.
        if (spec.getVolumes() != null) {
            spec.getVolumes().removeIf(v -> v.getName().startsWith(SA_VOLUME_PREFIX));
        }
        for (Container c : spec.getContainers()) {
            if (c.getVolumeMounts() != null) {
                c.getVolumeMounts().removeIf(m -> m.getName().startsWith(SA_VOLUME_PREFIX));
            }
            if (c.getName().equals(containerName)) {
                c.setCommand(List.of(config.placeholderShell(), "-c", config.placeholderScript()));
                c.setArgs(null);
                // A liveness or startup probe would kill the placeholder while it waits for the image.
                c.setLivenessProbe(null);
                c.setStartupProbe(null);
            }
        }
        Pod pod = new Pod();
        pod.setApiVersion("v1");
        pod.setKind("Pod");
        pod.setMetadata(new io.fabric8.kubernetes.api.model.ObjectMeta());
        pod.getMetadata().setName(name);
        pod.getMetadata().setNamespace(namespace);
        // No owner reference: the restored workload must outlive the Restore object that brought it back.
        pod.getMetadata().setLabels(Map.of(
                RESTORE_LABEL, labelValue(restoreName),
                CHECKPOINT_LABEL, labelValue(checkpointName)));
        pod.setSpec(spec);
        return pod;
    }

    private static String labelValue(String name) {
        return name.length() <= 63 ? name : NodeWork.shortHash(name);
    }
}
