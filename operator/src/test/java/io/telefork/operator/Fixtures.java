package io.telefork.operator;

import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.telefork.api.v1alpha1.Condition;
import io.telefork.api.v1alpha1.ImageLocation;
import io.telefork.api.v1alpha1.ImageStorage;
import io.telefork.api.v1alpha1.Names;
import io.telefork.api.v1alpha1.NodeOperation;
import io.telefork.api.v1alpha1.NodeOperationStatus;
import io.telefork.api.v1alpha1.OperationStatus;
import io.telefork.api.v1alpha1.Phase;
import io.telefork.api.v1alpha1.ProcessIdentity;
import io.telefork.api.v1alpha1.Reason;

import java.io.InputStream;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

import static org.awaitility.Awaitility.await;

/**
 * Builds the world a reconciler sees (nodes, running pods) and plays the agent's part by writing
 * NodeOperation status, against the mock API server or a real one.
 */
final class Fixtures {

    static final Duration WAIT = Duration.ofSeconds(20);

    final KubernetesClient client;
    final String ns;

    Fixtures(KubernetesClient client) {
        this.client = client;
        this.ns = "t-" + Long.toHexString(ThreadLocalRandom.current().nextLong() & 0xffffffffL);
        client.namespaces().resource(new io.fabric8.kubernetes.api.model.NamespaceBuilder()
                .withNewMetadata().withName(ns).endMetadata().build()).create();
        ensureNodeOperationCrd();
        node("node-a");
        node("node-b");
    }

    private void ensureNodeOperationCrd() {
        // The operator applies the CRDs of its primary kinds in tests; NodeOperation is not one of them.
        try (InputStream in = Fixtures.class.getResourceAsStream("/META-INF/fabric8/nodeoperations.telefork.io-v1.yml")) {
            CustomResourceDefinition crd = client.apiextensions().v1().customResourceDefinitions().load(in).item();
            client.apiextensions().v1().customResourceDefinitions().resource(crd).createOr(r -> r.update());
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    void node(String name) {
        client.nodes().resource(new NodeBuilder().withNewMetadata().withName(name).endMetadata().build()).createOr(r -> r.update());
    }

    /** A pod that the kubelet of node reports Running, with one running container per name. */
    Pod runningPod(String name, String node, String... containers) {
        PodBuilder b = new PodBuilder().withNewMetadata().withName(name).withNamespace(ns).endMetadata()
                .withNewSpec().withNodeName(node).withRestartPolicy("Always").endSpec();
        for (String c : containers) {
            b.editSpec().addNewContainer().withName(c).withImage("example/counter:1").withCommand("/counter").endContainer().endSpec();
        }
        Pod pod = client.pods().inNamespace(ns).resource(b.build()).create();
        return markRunning(pod, containers);
    }

    Pod markRunning(Pod pod, String... containers) {
        pod = client.pods().inNamespace(ns).withName(pod.getMetadata().getName()).get();
        var status = new io.fabric8.kubernetes.api.model.PodStatus();
        status.setPhase("Running");
        for (String c : containers) {
            status.getContainerStatuses().add(new ContainerStatusBuilder().withName(c).withReady(true)
                    .withContainerID("containerd://" + hex64())
                    .withNewState().withNewRunning().withStartedAt("2026-11-29T00:00:00Z").endRunning().endState().build());
        }
        pod.setStatus(status);
        return client.pods().inNamespace(ns).resource(pod).updateStatus();
    }

    static String hex64() {
        return (UUID.randomUUID().toString() + UUID.randomUUID()).replace("-", "");
    }

    /** Deleted, or (on a real API server without a kubelet to confirm it) being deleted. */
    boolean podGone(String name) {
        Pod p = client.pods().inNamespace(ns).withName(name).get();
        return p == null || p.getMetadata().getDeletionTimestamp() != null;
    }

    List<NodeOperation> nodeOperations() {
        return client.resources(NodeOperation.class).inNamespace(ns).list().getItems();
    }

    List<NodeOperation> nodeOperations(NodeOperation.Type type) {
        return nodeOperations().stream().filter(o -> o.getSpec().getType() == type).toList();
    }

    NodeOperation awaitNodeOperation(NodeOperation.Type type) {
        return await().atMost(WAIT).until(() -> nodeOperations(type), l -> !l.isEmpty()).get(0);
    }

    /** Plays the agent: a dump that succeeded. */
    void dumpSucceeded(NodeOperation op) {
        NodeOperationStatus s = new NodeOperationStatus();
        s.setPhase(Phase.Succeeded);
        s.setReason(Reason.Dumped);
        s.setPid(4242);
        ProcessIdentity p = new ProcessIdentity();
        p.setComm("counter");
        p.setUid(1000L);
        p.setGid(1000L);
        p.setCapEff("0000000000000000");
        s.setProcess(p);
        ImageLocation img = new ImageLocation();
        img.setStorage(op.getSpec().getStorage() == null ? ImageStorage.NodeLocal : op.getSpec().getStorage());
        img.setNode(op.getSpec().getNodeName());
        img.setFileName(ns + "_" + op.getSpec().getCheckpointName() + "_" + op.getSpec().getCheckpointUid() + ".tfimg");
        img.setSizeBytes(123456L);
        img.setSha256("ab".repeat(32));
        s.setImage(img);
        s.setMemoryBytes(1L << 20);
        s.setFrozenMillis(12L);
        s.setTotalMillis(80L);
        s.setFrozenAt("2026-01-01T00:00:00.100Z");
        writeStatus(op, s);
    }

    void succeeded(NodeOperation op, Reason reason) {
        NodeOperationStatus s = new NodeOperationStatus();
        s.setPhase(Phase.Succeeded);
        s.setReason(reason);
        s.setPid(777);
        s.setOriginalPid(4242);
        s.setTotalMillis(50L);
        s.setResumedAt("2026-01-01T00:00:01.350Z");
        writeStatus(op, s);
    }

    void failed(NodeOperation op, Reason reason, String message) {
        failed(op, reason, message, null);
    }

    /** Failed, having found process {@code pid} first (a dump that stopped it, for instance). */
    void failed(NodeOperation op, Reason reason, String message, Integer pid) {
        NodeOperationStatus s = new NodeOperationStatus();
        s.setPhase(Phase.Failed);
        s.setReason(reason);
        s.setMessage(message);
        s.setPid(pid);
        writeStatus(op, s);
    }

    private void writeStatus(NodeOperation op, NodeOperationStatus s) {
        NodeOperation fresh = client.resources(NodeOperation.class).inNamespace(ns).withName(op.getMetadata().getName()).get();
        fresh.setStatus(s);
        client.resources(NodeOperation.class).inNamespace(ns).resource(fresh).updateStatus();
    }

    List<Event> events(String involvedName) {
        return client.v1().events().inNamespace(ns).list().getItems().stream()
                .filter(e -> involvedName.equals(e.getInvolvedObject().getName())).toList();
    }

    static Reason failedReason(OperationStatus s) {
        return s.condition(Condition.FAILED).map(Condition::getReason).orElse(null);
    }

    static String nodeLabel(NodeOperation op) {
        return op.getMetadata().getLabels().get(Names.NODE_LABEL);
    }
}
