package io.telefork.operator;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.common.QuarkusTestResource;
import io.telefork.api.v1alpha1.Checkpoint;
import io.telefork.api.v1alpha1.CheckpointSpec;
import io.telefork.api.v1alpha1.ImageCompression;
import io.telefork.api.v1alpha1.Names;
import io.telefork.api.v1alpha1.NodeOperation;
import io.telefork.api.v1alpha1.Phase;
import io.telefork.api.v1alpha1.Reason;
import jakarta.inject.Inject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static io.telefork.operator.Fixtures.WAIT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

@QuarkusTest
@QuarkusTestResource(ApiServerResource.class)
class CheckpointReconcilerTest {

    @Inject
    KubernetesClient client;

    Fixtures f;

    @BeforeEach
    void setUp() {
        f = new Fixtures(client);
    }

    private Checkpoint create(String name, String pod, String container) {
        CheckpointSpec spec = new CheckpointSpec();
        spec.setPodName(pod);
        spec.setContainerName(container);
        Checkpoint c = new Checkpoint();
        c.getMetadata().setName(name);
        c.getMetadata().setNamespace(f.ns);
        c.setSpec(spec);
        return client.resources(Checkpoint.class).inNamespace(f.ns).resource(c).create();
    }

    private Checkpoint get(String name) {
        return client.resources(Checkpoint.class).inNamespace(f.ns).withName(name).get();
    }

    private Checkpoint awaitPhase(String name, Phase phase) {
        return await().atMost(WAIT).until(() -> get(name),
                c -> c != null && c.getStatus() != null && c.getStatus().getPhase() == phase);
    }

    @Test
    void missingPodFailsWithReasonAndWarningEventAndNoNodeWork() {
        create("c1", "no-such-pod", null);

        Checkpoint c = awaitPhase("c1", Phase.Failed);
        assertThat(Fixtures.failedReason(c.getStatus())).isEqualTo(Reason.PodNotFound);
        assertThat(c.getStatus().getCompletionTime()).isNotNull();
        await().atMost(WAIT).untilAsserted(() -> assertThat(f.events("c1"))
                .anySatisfy(e -> {
                    assertThat(e.getReason()).isEqualTo("PodNotFound");
                    assertThat(e.getType()).isEqualTo("Warning");
                }));
        assertThat(f.nodeOperations()).isEmpty();
    }

    @Test
    void containerMustBeNamedWhenThePodHasSeveralAndMustExist() {
        f.runningPod("two", "node-a", "app", "sidecar");
        create("ambiguous", "two", null);
        create("wrong", "two", "nope");

        assertThat(Fixtures.failedReason(awaitPhase("ambiguous", Phase.Failed).getStatus())).isEqualTo(Reason.ContainerAmbiguous);
        assertThat(Fixtures.failedReason(awaitPhase("wrong", Phase.Failed).getStatus())).isEqualTo(Reason.ContainerNotFound);
        await().atMost(WAIT).untilAsserted(() -> assertThat(f.events("wrong")).extracting(Event::getReason).contains("ContainerNotFound"));
        assertThat(f.nodeOperations()).isEmpty();
    }

    @Test
    void leaveStoppedNeedsLeaveRunningFalse() {
        f.runningPod("p", "node-a", "app");
        CheckpointSpec spec = new CheckpointSpec();
        spec.setPodName("p");
        spec.setLeaveStopped(true); // leaveRunning defaults to true
        Checkpoint c = new Checkpoint();
        c.getMetadata().setName("both");
        c.setSpec(spec);
        client.resources(Checkpoint.class).inNamespace(f.ns).resource(c).create();

        Checkpoint failed = awaitPhase("both", Phase.Failed);
        assertThat(Fixtures.failedReason(failed.getStatus())).isEqualTo(Reason.InvalidSpec);
        assertThat(failed.getStatus().condition(io.telefork.api.v1alpha1.Condition.FAILED).orElseThrow().getMessage())
                .contains("leaveStopped");
        assertThat(f.nodeOperations()).isEmpty();
    }

    @Test
    void ghostLimitReachesTheDumpInBytesAndABadOneIsRefused() {
        f.runningPod("p", "node-a", "app");
        for (String[] c : new String[][] {{"ok", "64Mi"}, {"bad", "lots"}}) {
            CheckpointSpec spec = new CheckpointSpec();
            spec.setPodName("p");
            spec.setGhostLimit(new io.fabric8.kubernetes.api.model.Quantity(c[1]));
            Checkpoint ck = new Checkpoint();
            ck.getMetadata().setName(c[0]);
            ck.setSpec(spec);
            client.resources(Checkpoint.class).inNamespace(f.ns).resource(ck).create();
        }
        NodeOperation dump = f.awaitNodeOperation(NodeOperation.Type.Dump);
        assertThat(dump.getSpec().getCheckpointName()).isEqualTo("ok");
        assertThat(dump.getSpec().getGhostLimitBytes()).isEqualTo(64L << 20);
        Checkpoint bad = awaitPhase("bad", Phase.Failed);
        assertThat(Fixtures.failedReason(bad.getStatus())).isEqualTo(Reason.InvalidSpec);
        assertThat(f.nodeOperations(NodeOperation.Type.Dump)).hasSize(1);
    }

    @Test
    void podThatIsNotRunningFails() {
        var pod = new io.fabric8.kubernetes.api.model.PodBuilder().withNewMetadata().withName("pending").withNamespace(f.ns).endMetadata()
                .withNewSpec().addNewContainer().withName("app").withImage("x").endContainer().endSpec().build();
        client.pods().inNamespace(f.ns).resource(pod).create();
        create("c", "pending", null);
        assertThat(Fixtures.failedReason(awaitPhase("c", Phase.Failed).getStatus())).isEqualTo(Reason.PodNotRunning);
    }

    @Test
    void dumpsExactlyOnceAndReportsTheAgentsResults() {
        var pod = f.runningPod("counter", "node-a", "counter");
        Checkpoint c = create("c", "counter", null);

        NodeOperation op = f.awaitNodeOperation(NodeOperation.Type.Dump);
        assertThat(Fixtures.nodeLabel(op)).isEqualTo("node-a");
        assertThat(op.getSpec().getNodeName()).isEqualTo("node-a");
        assertThat(op.getSpec().getContainerID()).isEqualTo(pod.getStatus().getContainerStatuses().get(0).getContainerID());
        assertThat(op.getSpec().getPodUid()).isEqualTo(pod.getMetadata().getUid());
        assertThat(op.getSpec().getCheckpointUid()).isEqualTo(c.getMetadata().getUid());
        assertThat(op.getSpec().getLeaveRunning()).isTrue();
        assertThat(op.getMetadata().getOwnerReferences()).singleElement()
                .satisfies(o -> assertThat(o.getUid()).isEqualTo(c.getMetadata().getUid()));
        Checkpoint running = awaitPhase("c", Phase.Running);
        assertThat(running.getStatus().getNodeName()).isEqualTo("node-a");
        assertThat(running.getStatus().getPodSpec()).isNotNull();

        // Many reconciles (polling at 200 ms, plus a spec change that bumps the generation) while the
        // agent works: still one dump.
        Checkpoint edited = get("c");
        edited.getSpec().setCompression(ImageCompression.Zstd);
        client.resources(Checkpoint.class).inNamespace(f.ns).resource(edited).update();
        await().pollDelay(Duration.ofMillis(1500)).atMost(WAIT).until(() -> true);
        assertThat(f.nodeOperations()).hasSize(1);

        f.dumpSucceeded(op);
        Checkpoint done = awaitPhase("c", Phase.Succeeded);
        assertThat(done.getStatus().getImage().getSizeBytes()).isEqualTo(123456L);
        assertThat(done.getStatus().getImage().getSha256()).isEqualTo("ab".repeat(32));
        assertThat(done.getStatus().getImage().getNode()).isEqualTo("node-a");
        assertThat(done.getStatus().getFrozenMillis()).isEqualTo(12L);
        assertThat(done.getStatus().getPid()).isEqualTo(4242);
        assertThat(done.getStatus().getProcess().getComm()).isEqualTo("counter");
        assertThat(done.getStatus().getObservedGeneration()).isEqualTo(done.getMetadata().getGeneration());
        assertThat(done.getMetadata().getFinalizers()).contains(Names.FINALIZER);
        await().atMost(WAIT).untilAsserted(() -> assertThat(f.events("c")).extracting(Event::getReason).contains("Dumped"));

        await().pollDelay(Duration.ofMillis(1000)).atMost(WAIT).until(() -> true);
        assertThat(f.nodeOperations()).hasSize(1);
        assertThat(get("c").getStatus().getPhase()).isEqualTo(Phase.Succeeded);
    }

    @Test
    void agentFailureEndsFailedWithTheAgentsReason() {
        f.runningPod("p", "node-b", "app");
        create("c", "p", null);
        NodeOperation op = f.awaitNodeOperation(NodeOperation.Type.Dump);
        f.failed(op, Reason.Unsupported, "the process has 2 threads");

        Checkpoint c = awaitPhase("c", Phase.Failed);
        assertThat(Fixtures.failedReason(c.getStatus())).isEqualTo(Reason.Unsupported);
        await().atMost(WAIT).untilAsserted(() -> assertThat(f.events("c")).anySatisfy(e -> {
            assertThat(e.getReason()).isEqualTo("Unsupported");
            assertThat(e.getMessage()).contains("2 threads");
        }));
        assertThat(f.nodeOperations()).hasSize(1);
    }

    @Test
    void finalizerDeletesTheImageFilesThroughTheAgentBeforeTheCheckpointGoes() {
        f.runningPod("p", "node-a", "app");
        Checkpoint c = create("c", "p", null);
        f.dumpSucceeded(f.awaitNodeOperation(NodeOperation.Type.Dump));
        awaitPhase("c", Phase.Succeeded);

        client.resources(Checkpoint.class).inNamespace(f.ns).withName("c").delete();
        NodeOperation del = f.awaitNodeOperation(NodeOperation.Type.DeleteImage);
        assertThat(del.getSpec().getNodeName()).isEqualTo("node-a");
        assertThat(del.getSpec().getCheckpointUid()).isEqualTo(c.getMetadata().getUid());
        assertThat(Fixtures.nodeLabel(del)).isEqualTo("node-a");
        // Held by the finalizer until the agent reports the files gone.
        await().pollDelay(Duration.ofMillis(800)).atMost(WAIT).until(() -> true);
        assertThat(get("c")).isNotNull();
        assertThat(get("c").getMetadata().getDeletionTimestamp()).isNotNull();

        f.succeeded(del, Reason.ImageDeleted);
        await().atMost(WAIT).until(() -> get("c") == null);
    }

    @Test
    void checkpointThatNeverDumpedIsDeletedWithoutNodeWork() {
        create("c", "missing", null);
        awaitPhase("c", Phase.Failed);
        client.resources(Checkpoint.class).inNamespace(f.ns).withName("c").delete();
        await().atMost(WAIT).until(() -> get("c") == null);
        assertThat(f.nodeOperations()).isEmpty();
    }
}
