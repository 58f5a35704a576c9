package io.telefork.node;

import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.telefork.api.v1alpha1.ImageCompression;
import io.telefork.api.v1alpha1.ImageLocation;
import io.telefork.api.v1alpha1.ImageStorage;
import io.telefork.api.v1alpha1.Names;
import io.telefork.api.v1alpha1.NodeOperation;
import io.telefork.api.v1alpha1.NodeOperationSpec;
import io.telefork.api.v1alpha1.NodeOperationStatus;
import io.telefork.api.v1alpha1.Phase;
import io.telefork.api.v1alpha1.Reason;
import io.telefork.image.ImageDigest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The agent's work loop driving the real engine on real processes in test-made cgroups, with the
 * Kubernetes API played by Fabric8's mock server in CRUD mode, or by a real API server when
 * -Dtelefork.kubeconfig=PATH is given (its CRDs must be installed; namespaces are made per test).
 */
@EnableKubernetesMockClient(crud = true)
class NodeAgentIT {

    static final String NODE = "it-node";
    static final Duration WAIT = Duration.ofSeconds(60);

    static KubernetesClient mockClient;

    KubernetesClient client;
    String ns;
    FakeContainers containers;
    AgentMain.Running agent;
    Path images;
    Path shared;

    @BeforeEach
    void setUp(@TempDir Path tmp) throws IOException {
        String kubeconfig = System.getProperty("telefork.kubeconfig");
        client = kubeconfig == null || kubeconfig.isBlank() ? mockClient
                : new KubernetesClientBuilder().withConfig(Config.fromKubeconfig(Files.readString(Path.of(kubeconfig)))).build();
        ns = "it-" + UUID.randomUUID().toString().substring(0, 8);
        if (client != mockClient) {
            client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
        } else {
            try (InputStream in = NodeAgentIT.class.getResourceAsStream("/META-INF/fabric8/nodeoperations.telefork.io-v1.yml")) {
                CustomResourceDefinition crd = client.apiextensions().v1().customResourceDefinitions().load(in).item();
                client.apiextensions().v1().customResourceDefinitions().resource(crd).createOr(r -> r.update());
            }
        }
        containers = new FakeContainers();
        images = tmp.resolve("images");
        shared = tmp.resolve("shared");
        agent = AgentMain.start(new AgentMain.Config(NODE, images, Optional.of(shared), Path.of("/proc"),
                Path.of("/sys/fs/cgroup"), 0), client, ProcessEngine.real());
        await().atMost(WAIT).until(agent.agent::ready);
    }

    @AfterEach
    void tearDown() throws Exception {
        agent.close();
        containers.close();
        if (client != mockClient) {
            client.namespaces().withName(ns).delete();
            client.close();
        }
    }

    /** A pod as the kubelet of {@code node} reports it: Running, with the container's ID. */
    Pod pod(String name, String node, String containerID) {
        Pod pod = client.pods().inNamespace(ns).resource(new PodBuilder().withNewMetadata().withName(name).endMetadata()
                .withNewSpec().withNodeName(node).addNewContainer().withName("app").withImage("x").endContainer().endSpec()
                .build()).create();
        PodStatus status = new PodStatus();
        status.setPhase("Running");
        status.getContainerStatuses().add(new ContainerStatusBuilder().withName("app").withContainerID(containerID)
                .withNewState().withNewRunning().endRunning().endState().build());
        pod.setStatus(status);
        return client.pods().inNamespace(ns).resource(pod).updateStatus();
    }

    NodeOperation op(String name, NodeOperation.Type type, String labelNode, NodeOperationSpec spec) {
        spec.setType(type);
        if (spec.getNodeName() == null) {
            spec.setNodeName(NODE);
        }
        NodeOperation op = new NodeOperation();
        op.getMetadata().setName(name);
        op.getMetadata().setNamespace(ns);
        op.getMetadata().setLabels(Map.of(Names.NODE_LABEL, labelNode));
        op.setSpec(spec);
        return client.resources(NodeOperation.class).inNamespace(ns).resource(op).create();
    }

    NodeOperationSpec spec(String checkpointName, String checkpointUid, Pod pod) {
        NodeOperationSpec s = new NodeOperationSpec();
        s.setCheckpointName(checkpointName);
        s.setCheckpointUid(checkpointUid);
        if (pod != null) {
            s.setPodName(pod.getMetadata().getName());
            s.setPodUid(pod.getMetadata().getUid());
            s.setContainerName("app");
            s.setContainerID(pod.getStatus().getContainerStatuses().get(0).getContainerID());
        }
        return s;
    }

    NodeOperationStatus awaitDone(String name) {
        return await().atMost(WAIT).until(() -> {
            NodeOperation o = client.resources(NodeOperation.class).inNamespace(ns).withName(name).get();
            return o == null ? null : o.getStatus();
        }, s -> s != null && s.getPhase() != null && s.getPhase().terminal());
    }

    @Test
    void dumpsToTheSharedVolumeRestoresIntoAPlaceholderAndDeletesTheImage(@TempDir Path tmp) throws Exception {
        String srcId = containers.container();
        String dstId = containers.container();
        long source = containers.start(srcId, "exec sleep 1234");
        // The placeholder is another program (a copy of sleep under another name), as in a real target
        // container where it is the image's shell or sleep and the workload is something else.
        Path placeholder = Files.copy(Path.of("/bin/sleep"), tmp.resolve("placeholder"));
        Files.setPosixFilePermissions(placeholder, PosixFilePermissions.fromString("rwxr-xr-x"));
        long vessel = containers.start(dstId, "exec " + placeholder + " 4321");
        assertThat(ProcessInfo.read(Path.of("/proc"), (int) vessel).comm()).isEqualTo("placeholder");
        Pod src = pod("src", NODE, srcId);
        Pod dst = pod("dst", NODE, dstId);
        String uid = UUID.randomUUID().toString();

        NodeOperationSpec d = spec("ck", uid, src);
        d.setLeaveRunning(false);
        d.setStorage(ImageStorage.Shared);
        d.setCompression(ImageCompression.Lz4);
        op("ck-dump", NodeOperation.Type.Dump, NODE, d);
        NodeOperationStatus dumped = awaitDone("ck-dump");
        assertThat(dumped.getPhase()).as("%s: %s", dumped.getReason(), dumped.getMessage()).isEqualTo(Phase.Succeeded);
        assertThat(dumped.getPid()).isEqualTo((int) source);
        assertThat(dumped.getProcess().getComm()).isEqualTo("sleep");
        assertThat(dumped.getImage().getStorage()).isEqualTo(ImageStorage.Shared);
        assertThat(dumped.getImage().getNode()).isEqualTo(NODE);
        Path file = shared.resolve(dumped.getImage().getFileName());
        assertThat(dumped.getImage().getFileName()).isEqualTo(ns + "_ck_" + uid + ".tfimg");
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file)) {
            ImageDigest.verify(ch, dumped.getImage().getSha256());
        }
        assertThat(Files.size(file)).isEqualTo(dumped.getImage().getSizeBytes());
        assertThat(dumped.getImage().getSha256()).matches("[0-9a-f]{64}");
        assertThat(java.time.Instant.parse(dumped.getFrozenAt())).isBetween(java.time.Instant.now().minusSeconds(60), java.time.Instant.now());
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(images))).isEqualTo("rwx------");
        try (var local = Files.list(images)) {
            assertThat(local).as("a Shared image is written to the shared volume only").isEmpty();
        }
        await().atMost(WAIT).until(() -> FakeContainers.state(source) == 0 || FakeContainers.state(source) == 'Z');

        NodeOperationSpec r = spec("ck", uid, dst);
        r.setImage(dumped.getImage());
        r.setProcess(dumped.getProcess());
        r.setMemoryBytes(dumped.getMemoryBytes());
        op("ck-restore", NodeOperation.Type.Restore, NODE, r);
        NodeOperationStatus restored = awaitDone("ck-restore");
        assertThat(restored.getPhase()).as("%s: %s", restored.getReason(), restored.getMessage()).isEqualTo(Phase.Succeeded);
        assertThat(restored.getPid()).isEqualTo((int) vessel);
        assertThat(restored.getOriginalPid()).isEqualTo((int) source);
        assertThat(java.time.Instant.parse(restored.getResumedAt())).isAfter(java.time.Instant.parse(dumped.getFrozenAt()));
        // The placeholder's memory is now the dumped process's: its argument area says so.
        assertThat(FakeContainers.cmdline(vessel)).isEqualTo("sleep 1234");
        assertThat(ProcessInfo.read(Path.of("/proc"), (int) vessel).comm()).isEqualTo("sleep");
        Thread.sleep(300);
        assertThat(FakeContainers.state(vessel)).isIn('S', 'R');
        assertThat(new ContainerProcesses(Path.of("/proc")).main(dstId)).get().extracting(ProcessInfo::pid).isEqualTo((int) vessel);

        op("ck-delete", NodeOperation.Type.DeleteImage, NODE, spec("ck", uid, null));
        assertThat(awaitDone("ck-delete").getPhase()).isEqualTo(Phase.Succeeded);
        assertThat(file).doesNotExist();

        String metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + agent.http.port() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
        assertThat(metrics).contains("telefork_operations_total{kind=\"Dump\",result=\"Succeeded\"} 1.0")
                .contains("telefork_operations_total{kind=\"Restore\",result=\"Succeeded\"} 1.0")
                .contains("telefork_frozen_seconds_count");
        int ready = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + agent.http.port() + "/readyz")).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
        assertThat(ready).isEqualTo(200);
    }

    /** A sleep dumped to the node-local directory, and a restore of it prepared for a placeholder sleep. */
    private record Dumped(long source, long vessel, NodeOperationStatus status, NodeOperationSpec restore) {
        Path file(Path images) {
            return images.resolve(status.getImage().getFileName());
        }
    }

    private Dumped dumpedWithAPlaceholder(String name, String sourceArg, String vesselArg) throws Exception {
        String srcId = containers.container();
        String dstId = containers.container();
        long source = containers.start(srcId, "exec sleep " + sourceArg);
        long vessel = containers.start(dstId, "exec sleep " + vesselArg);
        Pod src = pod("src", NODE, srcId);
        Pod dst = pod("dst", NODE, dstId);
        String uid = UUID.randomUUID().toString();
        op(name + "-d", NodeOperation.Type.Dump, NODE, spec("ck", uid, src));
        NodeOperationStatus dumped = awaitDone(name + "-d");
        assertThat(dumped.getPhase()).as("%s: %s", dumped.getReason(), dumped.getMessage()).isEqualTo(Phase.Succeeded);
        NodeOperationSpec r = spec("ck", uid, dst);
        r.setImage(dumped.getImage());
        r.setProcess(dumped.getProcess());
        return new Dumped(source, vessel, dumped, r);
    }

    private static void flipMiddleByte(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length / 2] ^= 1;
        Files.write(file, bytes);
    }

    @Test
    void aCorruptImageIsRefusedBeforeThePlaceholderIsTouched() throws Exception {
        Dumped d = dumpedWithAPlaceholder("corrupt", "1235", "4322");
        flipMiddleByte(d.file(images));

        op("r", NodeOperation.Type.Restore, NODE, d.restore());
        NodeOperationStatus failed = awaitDone("r");
        assertThat(failed.getPhase()).isEqualTo(Phase.Failed);
        assertThat(failed.getReason()).isEqualTo(Reason.ChecksumMismatch);
        assertThat(FakeContainers.cmdline(d.vessel())).isEqualTo("sleep 4322");
    }

    /**
     * Post-copy between two nodes (two agents sharing the volume): the restore is handed to node-b before
     * the dump is even started, opens the image as soon as the dump creates it and reads it as it is
     * written; the process runs in node-b's placeholder, the source waits stopped.
     */
    @Test
    void postCopyRestoresOnAnotherNodeFromTheImageBeingWritten(@TempDir Path tmp) throws Exception {
        AgentMain.Running other = AgentMain.start(new AgentMain.Config("node-b", tmp.resolve("images-b"), Optional.of(shared),
                Path.of("/proc"), Path.of("/sys/fs/cgroup"), 0), client, ProcessEngine.real());
        try {
            await().atMost(WAIT).until(other.agent::ready);
            String srcId = containers.container();
            String dstId = containers.container();
            long source = containers.start(srcId, "exec sleep 1239");
            long vessel = containers.start(dstId, "exec sleep 4325");
            Pod src = pod("src", NODE, srcId);
            Pod dst = pod("dst", "node-b", dstId);
            String uid = UUID.randomUUID().toString();

            NodeOperationSpec r = spec("ck", uid, dst);
            r.setNodeName("node-b");
            r.setLazy(true);
            r.setPostCopy(true);
            ImageLocation growing = new ImageLocation();
            growing.setStorage(ImageStorage.Shared);
            growing.setFileName(ns + "_ck_" + uid + ".tfimg");
            r.setImage(growing);
            op("pc-r", NodeOperation.Type.Restore, "node-b", r);
            Thread.sleep(200); // the restore waits for the image

            NodeOperationSpec d = spec("ck", uid, src);
            d.setLeaveRunning(false);
            d.setLeaveStopped(true);
            d.setPostCopy(true);
            d.setStorage(ImageStorage.Shared);
            op("pc-d", NodeOperation.Type.Dump, NODE, d);
            NodeOperationStatus dumped = awaitDone("pc-d");
            assertThat(dumped.getPhase()).as("%s: %s", dumped.getReason(), dumped.getMessage()).isEqualTo(Phase.Succeeded);
            assertThat(dumped.getTotalMillis()).as("the dump started on the restore's word that it waits for the image, "
                    + "not after its wait ran out").isLessThan(NodeSteps.FOLLOWER_WAIT.toMillis());
            NodeOperationStatus restored = awaitDone("pc-r");
            assertThat(restored.getPhase()).as("%s: %s", restored.getReason(), restored.getMessage()).isEqualTo(Phase.Succeeded);
            assertThat(restored.getLazy()).isTrue();
            assertThat(restored.getOriginalPid()).isEqualTo((int) source);
            assertThat(FakeContainers.cmdline(vessel)).isEqualTo("sleep 1239");
            Thread.sleep(300);
            assertThat(FakeContainers.state(vessel)).isIn('S', 'R');
            assertThat(FakeContainers.tracerPid(vessel)).isZero();
            assertThat(FakeContainers.state(source)).as("the source waits stopped").isEqualTo('T');
        } finally {
            other.close();
        }
    }

    /**
     * A lazy restore skips hashing the whole file first (the engine verifies every byte while the process
     * runs): it checks that the file's END record names the image's SHA-256, refusing another image with the
     * placeholder untouched.
     */
    @Test
    void restoresLazilyAfterCheckingThatTheFileIsTheImage() throws Exception {
        Dumped d = dumpedWithAPlaceholder("lazy", "1237", "4323");
        long source = d.source();
        long vessel = d.vessel();
        NodeOperationStatus dumped = d.status();
        NodeOperationSpec r = d.restore();
        r.setLazy(true);
        String sha256 = dumped.getImage().getSha256();
        r.getImage().setSha256(sha256.substring(1) + (sha256.charAt(0) == '0' ? "1" : "0"));
        op("lazy-wrong", NodeOperation.Type.Restore, NODE, r);
        NodeOperationStatus wrong = awaitDone("lazy-wrong");
        assertThat(wrong.getPhase()).isEqualTo(Phase.Failed);
        assertThat(wrong.getReason()).isEqualTo(Reason.ChecksumMismatch);
        assertThat(wrong.getMessage()).contains(sha256);
        assertThat(FakeContainers.cmdline(vessel)).isEqualTo("sleep 4323");

        r.getImage().setSha256(sha256);
        op("lazy-r", NodeOperation.Type.Restore, NODE, r);
        NodeOperationStatus restored = awaitDone("lazy-r");
        assertThat(restored.getPhase()).as("%s: %s", restored.getReason(), restored.getMessage()).isEqualTo(Phase.Succeeded);
        assertThat(restored.getLazy()).isTrue();
        assertThat(restored.getOriginalPid()).isEqualTo((int) source);
        assertThat(restored.getMemoryInMillis()).isPositive();
        assertThat(java.time.Instant.parse(restored.getResumedAt())).isAfter(java.time.Instant.parse(dumped.getFrozenAt()));
        assertThat(FakeContainers.cmdline(vessel)).isEqualTo("sleep 1237");
        Thread.sleep(300);
        assertThat(FakeContainers.state(vessel)).isIn('S', 'R');
        assertThat(FakeContainers.tracerPid(vessel)).isZero();
    }

    /**
     * A lazy restore reads the image's pages after its END record was checked: a corrupt page is found by
     * its record's CRC32C (or the whole image's SHA-256) and the restored process dies rather than run with
     * it; the operation fails with the cause.
     */
    @Test
    void aLazyRestoreOfACorruptImageFailsAndTheProcessNeverRunsWithIt() throws Exception {
        Dumped d = dumpedWithAPlaceholder("lazy-bad", "1238", "4324");
        long vessel = d.vessel();
        flipMiddleByte(d.file(images));
        NodeOperationSpec r = d.restore();
        r.setLazy(true);
        op("lazy-bad-r", NodeOperation.Type.Restore, NODE, r);
        NodeOperationStatus failed = awaitDone("lazy-bad-r");
        assertThat(failed.getPhase()).isEqualTo(Phase.Failed);
        assertThat(failed.getReason()).as(failed.getMessage()).isEqualTo(Reason.BadImage);
        await().atMost(WAIT).until(() -> FakeContainers.state(vessel) == 0 || FakeContainers.state(vessel) == 'Z');
    }

    @Test
    void refusesWorkForOtherNodesAndNeverRepeatsInterruptedWork() throws Exception {
        String id = containers.container();
        long pid = containers.start(id, "exec sleep 1236");
        Pod elsewhere = pod("elsewhere", "other-node", id);
        String uid = UUID.randomUUID().toString();

        // Labelled for us, but the pod is on another node.
        op("foreign-pod", NodeOperation.Type.Dump, NODE, spec("a", uid, elsewhere));
        // Labelled for us, meant for another node.
        NodeOperationSpec mislabelled = spec("b", uid, elsewhere);
        mislabelled.setNodeName("other-node");
        op("mislabelled", NodeOperation.Type.Dump, NODE, mislabelled);
        // Another node's work: this agent does not even see it.
        NodeOperationSpec theirs = spec("c", uid, elsewhere);
        theirs.setNodeName("other-node");
        op("theirs", NodeOperation.Type.Dump, "other-node", theirs);

        assertThat(awaitDone("foreign-pod").getReason()).isEqualTo(Reason.WrongNode);
        assertThat(awaitDone("mislabelled").getReason()).isEqualTo(Reason.WrongNode);

        // Work that an earlier agent claimed (Running) and did not finish: failed, not done again.
        Pod here = pod("here", NODE, id);
        NodeOperation interrupted = op("interrupted", NodeOperation.Type.Dump, "nobody", spec("d", uid, here));
        NodeOperationStatus running = new NodeOperationStatus();
        running.setPhase(Phase.Running);
        interrupted.setStatus(running);
        interrupted = client.resources(NodeOperation.class).inNamespace(ns).resource(interrupted).updateStatus();
        interrupted.getMetadata().setLabels(Map.of(Names.NODE_LABEL, NODE));
        client.resources(NodeOperation.class).inNamespace(ns).resource(interrupted).update();
        NodeOperationStatus s = awaitDone("interrupted");
        assertThat(s.getPhase()).isEqualTo(Phase.Failed);
        assertThat(s.getReason()).isEqualTo(Reason.SystemError);
        assertThat(s.getMessage()).contains("not repeated");

        Thread.sleep(500);
        assertThat(client.resources(NodeOperation.class).inNamespace(ns).withName("theirs").get().getStatus()).isNull();
        try (var files = Files.list(images)) {
            assertThat(files).isEmpty();
        }
        assertThat(FakeContainers.cmdline(pid)).isEqualTo("sleep 1236");
    }

    /** A migration's source: dumped and left stopped, then (its restore having failed) resumed. */
    @Test
    void aDumpLeavesTheProcessStoppedAndAResumeLetsItCarryOn() throws Exception {
        String id = containers.container();
        long pid = containers.start(id, "exec sleep 1237");
        Pod src = pod("src", NODE, id);
        String uid = UUID.randomUUID().toString();

        NodeOperationSpec d = spec("ck", uid, src);
        d.setLeaveRunning(false);
        d.setLeaveStopped(true);
        op("stop-dump", NodeOperation.Type.Dump, NODE, d);
        NodeOperationStatus dumped = awaitDone("stop-dump");
        assertThat(dumped.getPhase()).as("%s: %s", dumped.getReason(), dumped.getMessage()).isEqualTo(Phase.Succeeded);
        Thread.sleep(300);
        assertThat(FakeContainers.state(pid)).as("state of the dumped process").isEqualTo('T');

        NodeOperationSpec wrong = spec("ck", uid, src);
        wrong.setPid((int) pid + 100000);
        op("resume-wrong", NodeOperation.Type.Resume, NODE, wrong);
        NodeOperationStatus refused = awaitDone("resume-wrong");
        assertThat(refused.getPhase()).isEqualTo(Phase.Failed);
        assertThat(refused.getReason()).isEqualTo(Reason.NoSuchProcess);
        assertThat(FakeContainers.state(pid)).as("state after a refused resume").isEqualTo('T');

        NodeOperationSpec r = spec("ck", uid, src);
        r.setPid(dumped.getPid());
        op("resume", NodeOperation.Type.Resume, NODE, r);
        NodeOperationStatus resumed = awaitDone("resume");
        assertThat(resumed.getPhase()).as("%s: %s", resumed.getReason(), resumed.getMessage()).isEqualTo(Phase.Succeeded);
        assertThat(resumed.getReason()).isEqualTo(Reason.Resumed);
        assertThat(FakeContainers.state(pid)).as("state after the resume").isIn('S', 'R');
        assertThat(FakeContainers.cmdline(pid)).isEqualTo("sleep 1237");
    }
}
