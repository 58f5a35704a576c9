package io.telefork.operator;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.telefork.api.v1alpha1.Names;
import io.telefork.api.v1alpha1.Reason;
import jakarta.enterprise.context.ApplicationScoped;

import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Turns "pod X, container Y in namespace N" into the node, pod UID and container ID that node work needs,
 * or into the reason why it cannot. Only ever looks in the namespace it is given: a resource can name a
 * pod in its own namespace only.
 */
@ApplicationScoped
public class PodResolver {

    /** Container IDs the agent can find in /proc/PID/cgroup. */
    static final Pattern CONTAINER_ID = Pattern.compile("^(containerd|cri-o|docker)://[0-9a-f]{64}$");

    private final KubernetesClient client;

    public PodResolver(KubernetesClient client) {
        this.client = client;
    }

    /** Where a container runs. */
    public record Target(Pod pod, String nodeName, String podUid, String containerName, String containerID) {
    }

    /** Either a target or why there is none. */
    public record Resolution(Target target, Reason reason, String message) {
        static Resolution ok(Target t) {
            return new Resolution(t, null, null);
        }

        static Resolution invalid(Reason reason, String message) {
            return new Resolution(null, reason, message);
        }

        public boolean valid() {
            return target != null;
        }
    }

    public Resolution resolve(String namespace, String podName, String containerName) {
        if (!Names.isDnsSubdomain(podName)) {
            return Resolution.invalid(Reason.InvalidSpec, "pod name is not a valid name: " + podName);
        }
        Pod pod = client.pods().inNamespace(namespace).withName(podName).get();
        if (pod == null) {
            return Resolution.invalid(Reason.PodNotFound, "pod " + namespace + "/" + podName + " does not exist");
        }
        return resolve(pod, containerName);
    }

    public Resolution resolve(Pod pod, String containerName) {
        String where = pod.getMetadata().getNamespace() + "/" + pod.getMetadata().getName();
        if (pod.getMetadata().getDeletionTimestamp() != null) {
            return Resolution.invalid(Reason.PodNotRunning, "pod " + where + " is being deleted");
        }
        String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
        String node = pod.getSpec().getNodeName();
        if (!"Running".equals(phase) || node == null || node.isEmpty()) {
            return Resolution.invalid(Reason.PodNotRunning, "pod " + where + " is " + (phase == null ? "not started" : phase) + ", not Running on a node");
        }
        List<Container> containers = pod.getSpec().getContainers();
        String name = containerName;
        if (name == null || name.isEmpty()) {
            if (containers.size() != 1) {
                return Resolution.invalid(Reason.ContainerAmbiguous, "pod " + where + " has " + containers.size() + " containers: name one");
            }
            name = containers.get(0).getName();
        }
        final String wanted = name;
        if (containers.stream().noneMatch(c -> c.getName().equals(wanted))) {
            return Resolution.invalid(Reason.ContainerNotFound, "pod " + where + " has no container " + wanted);
        }
        Optional<ContainerStatus> status = pod.getStatus().getContainerStatuses() == null ? Optional.empty()
                : pod.getStatus().getContainerStatuses().stream().filter(s -> s.getName().equals(wanted)).findFirst();
        if (status.isEmpty() || status.get().getState() == null || status.get().getState().getRunning() == null) {
            return Resolution.invalid(Reason.ContainerNotRunning, "container " + wanted + " of pod " + where + " is not running");
        }
        String id = status.get().getContainerID();
        if (id == null || !CONTAINER_ID.matcher(id).matches()) {
            return Resolution.invalid(Reason.ContainerNotRunning, "container " + wanted + " of pod " + where + " has no usable container ID: " + id);
        }
        return Resolution.ok(new Target(pod, node, pod.getMetadata().getUid(), wanted, id));
    }
}
