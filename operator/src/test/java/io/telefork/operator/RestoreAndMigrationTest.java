package io.telefork.operator;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.common.QuarkusTestResource;
import io.telefork.api.v1alpha1.Checkpoint;
import io.telefork.api.v1alpha1.CheckpointSpec;
import io.telefork.api.v1alpha1.Condition;
import io.telefork.api.v1alpha1.ImageStorage;
import io.telefork.api.v1alpha1.Migration;
import io.telefork.api.v1alpha1.MigrationSpec;
import io.telefork.api.v1alpha1.NodeOperation;
import io.telefork.api.v1alpha1.Phase;
import io.telefork.api.v1alpha1.Reason;
import io.telefork.api.v1alpha1.Restore;
import io.telefork.api.v1alpha1.RestoreSpec;
import jakarta.inject.Inject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;


import java.time.Duration;
import java.util.List;

import static io.telefork.operator.Fixtures.WAIT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

@QuarkusTest
@QuarkusTestResource(ApiServerResource.class)
class RestoreAndMigrationTest {

    @Inject
    KubernetesClient client;

    Fixtures f;

    @BeforeEach
    void setUp() {
        f = new Fixtures(client);
    }

    private Checkpoint checkpoint(String name, String pod, ImageStorage storage) {
        CheckpointSpec spec = new CheckpointSpec();
        spec.setPodName(pod);
        spec.setStorage(storage);
        Checkpoint c = new Checkpoint();
        c.getMetadata().setName(name);
        c.setSpec(spec);
        return client.resources(Checkpoint.class).inNamespace(f.ns).resource(c).create();
    }

    private Checkpoint succeededCheckpoint(String name, String pod, ImageStorage storage) {
        checkpoint(name, pod, storage);
        NodeOperation op = await().atMost(WAIT).until(() -> f.nodeOperations(NodeOperation.Type.Dump).stream()
                .filter(o -> o.getSpec().getCheckpointName().equals(name)).findFirst().orElse(null), o -> o != null);
        f.dumpSucceeded(op);
        return await().atMost(WAIT).until(() -> client.resources(Checkpoint.class).inNamespace(f.ns).withName(name).get(),
                c -> c.getStatus() != null && c.getStatus().getPhase() == Phase.Succeeded);
    }

    private Restore restore(String name, String checkpoint, String targetPod, String targetNode) {
        RestoreSpec spec = new RestoreSpec();
        spec.setCheckpointName(checkpoint);
        spec.setTargetPod(targetPod);
        spec.setTargetNode(targetNode);
        Restore r = new Restore();
        r.getMetadata().setName(name);
        r.setSpec(spec);
        return client.resources(Restore.class).inNamespace(f.ns).resource(r).create();
    }

    private Restore awaitRestore(String name, Phase phase) {
        return await().atMost(WAIT).until(() -> client.resources(Restore.class).inNamespace(f.ns).withName(name).get(),
                r -> r != null && r.getStatus() != null && r.getStatus().getPhase() == phase);
    }

    private Migration awaitMigration(String name, Phase phase) {
        return await().atMost(WAIT).until(() -> client.resources(Migration.class).inNamespace(f.ns).withName(name).get(),
                m -> m != null && m.getStatus() != null && m.getStatus().getPhase() == phase);
    }

    @Test
    void restoreValidation() {
        restore("no-ckpt", "missing", "p", null);
        restore("both", "missing", "p", "node-a");
        assertThat(Fixtures.failedReason(awaitRestore("no-ckpt", Phase.Failed).getStatus())).isEqualTo(Reason.CheckpointNotFound);
        assertThat(Fixtures.failedReason(awaitRestore("both", Phase.Failed).getStatus())).isEqualTo(Reason.InvalidSpec);
        await().atMost(WAIT).untilAsserted(() -> assertThat(f.events("no-ckpt")).extracting(Event::getReason).contains("CheckpointNotFound"));

        f.runningPod("src", "node-a", "app");
        succeededCheckpoint("local", "src", ImageStorage.NodeLocal);
        restore("elsewhere", "local", null, "node-b");
        assertThat(Fixtures.failedReason(awaitRestore("elsewhere", Phase.Failed).getStatus())).isEqualTo(Reason.ImageNotReachable);
        restore("nonode", "local", null, "node-zz");
        assertThat(Fixtures.failedReason(awaitRestore("nonode", Phase.Failed).getStatus())).isEqualTo(Reason.NodeNotFound);
        assertThat(f.nodeOperations(NodeOperation.Type.Restore)).isEmpty();
    }

    @Test
    void restoreAppliedTogetherWithItsCheckpointWaitsForIt() {
        f.runningPod("src", "node-a", "app");
        f.runningPod("vessel", "node-a", "app");
        checkpoint("ck", "src", ImageStorage.NodeLocal);
        restore("r", "ck", "vessel", null);

        Restore waiting = awaitRestore("r", Phase.Pending);
        await().atMost(WAIT).until(() -> client.resources(Restore.class).inNamespace(f.ns).withName("r").get().getStatus()
                .condition("Ready").map(c -> c.getReason() == Reason.WaitingForCheckpoint).orElse(false));
        assertThat(waiting.getStatus().getPhase()).isEqualTo(Phase.Pending);
        assertThat(f.nodeOperations(NodeOperation.Type.Restore)).isEmpty();

        f.dumpSucceeded(f.awaitNodeOperation(NodeOperation.Type.Dump));
        NodeOperation op = f.awaitNodeOperation(NodeOperation.Type.Restore);
        assertThat(op.getSpec().getPodName()).isEqualTo("vessel");
    }

    @Test
    void restoreIntoAnExistingPodOnTheSameNode() {
        f.runningPod("src", "node-a", "app");
        succeededCheckpoint("ck", "src", ImageStorage.NodeLocal);
        Pod target = f.runningPod("vessel", "node-a", "app");
        restore("r", "ck", "vessel", null);

        NodeOperation op = f.awaitNodeOperation(NodeOperation.Type.Restore);
        assertThat(Fixtures.nodeLabel(op)).isEqualTo("node-a");
        assertThat(op.getSpec().getPodUid()).isEqualTo(target.getMetadata().getUid());
        assertThat(op.getSpec().getImage().getSha256()).isEqualTo("ab".repeat(32));
        assertThat(op.getSpec().getProcess().getUid()).isEqualTo(1000L);
        assertThat(op.getSpec().getLazy()).as("a Restore is eager unless its spec.lazy says otherwise").isFalse();
        f.succeeded(op, Reason.Restored);

        Restore r = awaitRestore("r", Phase.Succeeded);
        assertThat(r.getStatus().getRestoredPid()).isEqualTo(777);
        assertThat(r.getStatus().getOriginalPid()).isEqualTo(4242);
        assertThat(r.getStatus().getTargetPod()).isEqualTo("vessel");
        assertThat(r.getStatus().getTargetPodCreated()).isFalse();
        assertThat(f.nodeOperations(NodeOperation.Type.Restore)).hasSize(1);
    }

    @Test
    void restoreOnANodeCreatesAPinnedPlaceholderPodFromTheCheckpointedSpec() {
        f.runningPod("src", "node-a", "app");
        succeededCheckpoint("ck", "src", ImageStorage.Shared);
        restore("r", "ck", null, "node-b");

        Pod target = await().atMost(WAIT).until(() -> client.pods().inNamespace(f.ns).withLabel(TargetPods.RESTORE_LABEL, "r").list().getItems(),
                l -> !l.isEmpty()).get(0);
        assertThat(target.getSpec().getNodeName()).isEqualTo("node-b");
        assertThat(target.getSpec().getRestartPolicy()).isEqualTo("Never");
        Container c = target.getSpec().getContainers().get(0);
        assertThat(c.getImage()).isEqualTo("example/counter:1");
        assertThat(c.getCommand()).first().isEqualTo("/bin/sh");
        assertThat(c.getCommand()).last().asString().contains("sleep").contains("exit $s");
        assertThat(awaitRestore("r", Phase.Pending).getStatus().condition("Ready").orElseThrow().getReason())
                .isIn(Reason.TargetPodStarting, Reason.TargetPodCreated, Reason.Accepted);
        assertThat(f.nodeOperations(NodeOperation.Type.Restore)).isEmpty();

        f.markRunning(target, "app");
        NodeOperation op = f.awaitNodeOperation(NodeOperation.Type.Restore);
        assertThat(op.getSpec().getNodeName()).isEqualTo("node-b");
        assertThat(op.getSpec().getPodName()).isEqualTo(target.getMetadata().getName());
        f.failed(op, Reason.MemoryLimitTooLow, "limit 32 MiB, image needs 64 MiB");

        Restore r = awaitRestore("r", Phase.Failed);
        assertThat(Fixtures.failedReason(r.getStatus())).isEqualTo(Reason.MemoryLimitTooLow);
        // The placeholder pod we made would wait forever: it goes.
        await().atMost(WAIT).until(() -> f.podGone(target.getMetadata().getName()));
    }

    private Migration migrate(String name, String pod, String node) {
        return migrate(name, pod, node, true);
    }

    private Migration migrate(String name, String pod, String node, boolean postCopy) {
        MigrationSpec spec = new MigrationSpec();
        spec.setPodName(pod);
        spec.setTargetNode(node);
        spec.setPostCopy(postCopy);
        Migration m = new Migration();
        m.getMetadata().setName(name);
        m.setSpec(spec);
        return client.resources(Migration.class).inNamespace(f.ns).resource(m).create();
    }

    /** The target pod a migration prepares before it dumps: on node-b, made Running by the test. */
    private Pod prepareTarget(String name) {
        Pod target = await().atMost(WAIT).alias("target pod of " + name).until(
                () -> client.pods().inNamespace(f.ns).withLabel(TargetPods.RESTORE_LABEL, name).list().getItems(),
                l -> !l.isEmpty()).get(0);
        assertThat(target.getSpec().getNodeName()).isEqualTo("node-b");
        assertThat(f.nodeOperations(NodeOperation.Type.Dump)).as("no dump before the target pod runs").isEmpty();
        f.markRunning(target, "app");
        return target;
    }

    /** Drives a migration up to the restore's node operation; returns it. */
    private NodeOperation migrateUntilRestore(String name) {
        Pod target = prepareTarget(name);
        NodeOperation dump = f.awaitNodeOperation(NodeOperation.Type.Dump);
        assertThat(dump.getSpec().getStorage()).isEqualTo(ImageStorage.Shared);
        assertThat(dump.getSpec().getLeaveRunning()).isFalse();
        assertThat(dump.getSpec().getLeaveStopped()).as("a migration's source waits stopped, not killed").isTrue();
        f.dumpSucceeded(dump);
        NodeOperation restore = f.awaitNodeOperation(NodeOperation.Type.Restore);
        assertThat(restore.getSpec().getPodName()).as("restored into the prepared pod").isEqualTo(target.getMetadata().getName());
        assertThat(restore.getSpec().getNodeName()).isEqualTo("node-b");
        return restore;
    }

    @Test
    void failedMigrationNeverDeletesTheSourcePod() {
        Pod source = f.runningPod("src", "node-a", "app");
        migrate("m", "src", "node-b");
        NodeOperation restoreOp = migrateUntilRestore("m");
        f.failed(restoreOp, Reason.FileChanged, "/data/log changed size");

        // The source was left stopped by the dump: the Migration has its node's agent resume it first.
        NodeOperation resume = f.awaitNodeOperation(NodeOperation.Type.Resume);
        assertThat(resume.getSpec().getNodeName()).isEqualTo("node-a");
        assertThat(Fixtures.nodeLabel(resume)).isEqualTo("node-a");
        assertThat(resume.getSpec().getPid()).isEqualTo(4242);
        assertThat(resume.getSpec().getPodName()).isEqualTo("src");
        assertThat(resume.getSpec().getPodUid()).isEqualTo(source.getMetadata().getUid());
        assertThat(resume.getMetadata().getOwnerReferences()).extracting(o -> o.getKind()).containsExactly("Migration");
        Migration resuming = await().atMost(WAIT).until(() -> client.resources(Migration.class).inNamespace(f.ns).withName("m").get(),
                r -> r.getStatus().condition(Condition.READY).map(c -> c.getReason() == Reason.ResumingSource).orElse(false));
        assertThat(resuming.getStatus().getPhase()).isEqualTo(Phase.Running);
        assertThat(resuming.getStatus().getSourceResumed()).isNull();
        f.succeeded(resume, Reason.Resumed);

        Migration m = awaitMigration("m", Phase.Failed);
        assertThat(Fixtures.failedReason(m.getStatus())).isEqualTo(Reason.ChildFailed);
        assertThat(m.getStatus().getSourceResumed()).isTrue();
        assertThat(m.getStatus().condition(Condition.FAILED).orElseThrow().getMessage())
                .contains("/data/log changed size").contains("source process resumed");
        assertThat(m.getStatus().getSourcePodDeleted()).isNotEqualTo(Boolean.TRUE);
        assertThat(f.nodeOperations(NodeOperation.Type.Resume)).hasSize(1);
        await("the prepared target pod goes").atMost(WAIT).until(() -> f.podGone(restoreOp.getSpec().getPodName()));
        await().pollDelay(Duration.ofMillis(800)).atMost(WAIT).until(() -> true);
        Pod still = client.pods().inNamespace(f.ns).withName("src").get();
        assertThat(still).isNotNull();
        assertThat(still.getMetadata().getUid()).isEqualTo(source.getMetadata().getUid());
        assertThat(still.getMetadata().getDeletionTimestamp()).isNull();
    }

    @Test
    void aMigrationDeletedBeforeItsRestoreEndedResumesItsSource() {
        Pod source = f.runningPod("src", "node-a", "app");
        migrate("m", "src", "node-b");
        NodeOperation restoreOp = migrateUntilRestore("m");
        client.resources(Migration.class).inNamespace(f.ns).withName("m").delete();

        // While the restore may still bring up a copy, the source is neither resumed nor let go.
        await().pollDelay(Duration.ofMillis(800)).atMost(WAIT).until(() -> true);
        Migration deleting = client.resources(Migration.class).inNamespace(f.ns).withName("m").get();
        assertThat(deleting).as("held by its finalizer while the restore runs").isNotNull();
        assertThat(deleting.getMetadata().getDeletionTimestamp()).isNotNull();
        assertThat(f.nodeOperations(NodeOperation.Type.Resume)).isEmpty();

        f.failed(restoreOp, Reason.TakeoverNotConfirmed, "the placeholder exited");
        NodeOperation resume = f.awaitNodeOperation(NodeOperation.Type.Resume);
        assertThat(resume.getSpec().getPid()).isEqualTo(4242);
        assertThat(resume.getSpec().getPodUid()).isEqualTo(source.getMetadata().getUid());
        assertThat(client.resources(Migration.class).inNamespace(f.ns).withName("m").get()).as("kept until resumed").isNotNull();
        f.succeeded(resume, Reason.Resumed);

        await().atMost(WAIT).until(() -> client.resources(Migration.class).inNamespace(f.ns).withName("m").get() == null);
        assertThat(client.pods().inNamespace(f.ns).withName("src").get()).isNotNull();
    }

    @Test
    void aFailedResumeIsReportedInTheMigrationsFailure() {
        f.runningPod("src", "node-a", "app");
        migrate("m", "src", "node-b");
        f.failed(migrateUntilRestore("m"), Reason.MemoryLimitTooLow, "needs 2 GiB");
        f.failed(f.awaitNodeOperation(NodeOperation.Type.Resume), Reason.NoSuchProcess, "the container restarted");

        Migration m = awaitMigration("m", Phase.Failed);
        assertThat(m.getStatus().getSourceResumed()).isFalse();
        assertThat(m.getStatus().condition(Condition.FAILED).orElseThrow().getMessage())
                .contains("needs 2 GiB").contains("resuming the source process failed (NoSuchProcess): the container restarted");
    }

    @Test
    void aTargetPodThatCannotRunFailsTheMigrationBeforeTheSourceIsTouched() {
        f.runningPod("src", "node-a", "app");
        migrate("m", "src", "node-b");
        Pod target = await().atMost(WAIT).until(
                () -> client.pods().inNamespace(f.ns).withLabel(TargetPods.RESTORE_LABEL, "m").list().getItems(),
                l -> !l.isEmpty()).get(0);
        target.setStatus(new io.fabric8.kubernetes.api.model.PodStatusBuilder().withPhase("Failed").build());
        client.pods().inNamespace(f.ns).resource(target).updateStatus();

        Migration m = awaitMigration("m", Phase.Failed);
        assertThat(Fixtures.failedReason(m.getStatus())).isEqualTo(Reason.TargetPodNotUsable);
        assertThat(f.nodeOperations()).as("no node work at all").isEmpty();
        await().atMost(WAIT).until(() -> f.podGone(target.getMetadata().getName()));
        assertThat(client.pods().inNamespace(f.ns).withName("src").get()).isNotNull();
    }

    @Test
    void failedDumpFailsTheMigrationAndKeepsTheSource() {
        f.runningPod("src", "node-a", "app");
        migrate("m", "src", "node-b", false);
        Pod target = prepareTarget("m");
        f.failed(f.awaitNodeOperation(NodeOperation.Type.Dump), Reason.NotDumpable, "zombie");
        assertThat(Fixtures.failedReason(awaitMigration("m", Phase.Failed).getStatus())).isEqualTo(Reason.ChildFailed);
        await().atMost(WAIT).until(() -> f.podGone(target.getMetadata().getName()));
        assertThat(f.nodeOperations(NodeOperation.Type.Restore)).isEmpty();
        assertThat(f.nodeOperations(NodeOperation.Type.Resume)).as("a failed dump leaves the process running: nothing to resume").isEmpty();
        assertThat(client.pods().inNamespace(f.ns).withName("src").get()).isNotNull();
    }

    /**
     * Post-copy (the default): the Restore is handed to the target node while the dump still runs, to read
     * the image as it is written; the source goes only once both have succeeded.
     */
    @Test
    void postCopyRestoresWhileTheDumpRuns() {
        f.runningPod("src", "node-a", "app");
        migrate("m", "src", "node-b");
        Pod target = prepareTarget("m");
        NodeOperation dump = f.awaitNodeOperation(NodeOperation.Type.Dump);
        assertThat(dump.getSpec().getPostCopy()).as("a failed post-copy dump must leave the source stopped").isTrue();
        NodeOperation restoreOp = f.awaitNodeOperation(NodeOperation.Type.Restore);
        assertThat(restoreOp.getSpec().getPostCopy()).isTrue();
        assertThat(restoreOp.getSpec().getLazy()).isTrue();
        assertThat(restoreOp.getSpec().getPodName()).isEqualTo(target.getMetadata().getName());
        assertThat(restoreOp.getSpec().getImage().getStorage()).isEqualTo(ImageStorage.Shared);
        assertThat(restoreOp.getSpec().getImage().getFileName()).isEqualTo(f.ns + "_m_"
                + dump.getSpec().getCheckpointUid() + ".tfimg");
        assertThat(restoreOp.getSpec().getImage().getSha256()).as("not known while the dump runs").isNull();

        f.succeeded(restoreOp, Reason.Restored);
        await().during(Duration.ofMillis(700)).atMost(WAIT).until(() -> client.resources(Migration.class)
                .inNamespace(f.ns).withName("m").get().getStatus().getPhase() == Phase.Running);
        assertThat(client.pods().inNamespace(f.ns).withName("src").get()).as("the dump still runs").isNotNull();
        f.dumpSucceeded(dump);
        Migration m = awaitMigration("m", Phase.Succeeded);
        assertThat(m.getStatus().getDowntimeMillis()).isEqualTo(1250L);
        await().atMost(WAIT).until(() -> f.podGone("src"));
        assertThat(f.nodeOperations(NodeOperation.Type.Resume)).isEmpty();
    }

    /** A post-copy dump that fails once the source was stopped leaves it so; it is resumed once the copy is dead. */
    @Test
    void failedPostCopyDumpResumesTheSourceOnceTheRestoreFailedToo() {
        f.runningPod("src", "node-a", "app");
        migrate("m", "src", "node-b");
        prepareTarget("m");
        NodeOperation dump = f.awaitNodeOperation(NodeOperation.Type.Dump);
        NodeOperation restoreOp = f.awaitNodeOperation(NodeOperation.Type.Restore);
        f.failed(dump, Reason.IOError, "disk full", 4242);
        await().during(Duration.ofMillis(700)).atMost(WAIT).until(() -> f.nodeOperations(NodeOperation.Type.Resume)
                .isEmpty());
        f.failed(restoreOp, Reason.IOError, "the image's dump stopped writing it");
        NodeOperation resume = f.awaitNodeOperation(NodeOperation.Type.Resume);
        assertThat(resume.getSpec().getNodeName()).isEqualTo("node-a");
        assertThat(resume.getSpec().getPid()).isEqualTo(4242);
        f.succeeded(resume, Reason.Resumed);
        Migration m = awaitMigration("m", Phase.Failed);
        assertThat(m.getStatus().getSourceResumed()).isTrue();
        assertThat(client.pods().inNamespace(f.ns).withName("src").get()).isNotNull();
    }

    @Test
    void successfulMigrationDeletesTheSourcePodAfterTheRestore() {
        f.runningPod("src", "node-a", "app");
        migrate("m", "src", "node-b");
        NodeOperation restoreOp = migrateUntilRestore("m");
        assertThat(restoreOp.getSpec().getLazy()).as("a Migration restores lazily by default").isTrue();
        assertThat(client.pods().inNamespace(f.ns).withName("src").get()).isNotNull();
        f.succeeded(restoreOp, Reason.Restored);

        Migration m = awaitMigration("m", Phase.Succeeded);
        assertThat(m.getStatus().getSourcePodDeleted()).isTrue();
        assertThat(m.getStatus().getDowntimeMillis()).as("source frozen at .100, copy running at 1.350").isEqualTo(1250L);
        assertThat(m.getStatus().getSourceNode()).isEqualTo("node-a");
        assertThat(m.getStatus().getTargetPod()).isEqualTo(restoreOp.getSpec().getPodName());
        await().atMost(WAIT).until(() -> f.podGone("src"));
        assertThat(f.nodeOperations(NodeOperation.Type.Dump)).hasSize(1);
        assertThat(f.nodeOperations(NodeOperation.Type.Restore)).hasSize(1);
    }

    @Test
    void migrationToTheSameNodeIsRefused() {
        f.runningPod("src", "node-a", "app");
        migrate("m", "src", "node-a");
        assertThat(Fixtures.failedReason(awaitMigration("m", Phase.Failed).getStatus())).isEqualTo(Reason.InvalidSpec);
        assertThat(f.nodeOperations()).isEmpty();
    }
}
