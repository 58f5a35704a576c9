package io.telefork.e2e;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static io.telefork.e2e.Cluster.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Issue 4's end-to-end tests on the real two-node cluster (e2e/cluster.sh, chart installed with
 * helm-java): checkpoint, restore on the same node, migration to the other node through the shared
 * volume, faults, RBAC. The tests share the cluster and run in order (2 and 3 use 1's pod).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TeleforkE2E {

    static final String NODE_A = "node-a";
    static final String NODE_B = "node-b";

    /** Numbers the counter had printed just before / just after the Checkpoint of test 1. */
    static long beforeCheckpoint = -1;
    static long afterCheckpoint = -1;
    /** Highest restartCount of the source pod's container seen while test 3's Migration ran. */
    static int sourceRestartsDuringMigration = -1;
    /** Test 3: the source's last number before the Migration, and the first one printed on node-b. */
    static long migrationBefore = -1;
    static long migrationFirstOnB = -1;
    /** Set by {@link #agentKilledMidDump()}: the interrupted Checkpoint's UID. */
    static String interruptedCheckpointUid;

    @BeforeAll
    static void setUp() throws Exception {
        installChart();
        ensureNamespace(NS);
    }

    @AfterEach
    void evidence(TestInfo info) {
        collect(info.getTestMethod().map(m -> m.getName()).orElse("test"));
    }

    @AfterAll
    static void tearDown() {
        collect("final");
    }

    @Test
    @Order(1)
    void checkpointSucceedsWithSizeAndDigest() throws Exception {
        long t0 = System.nanoTime();
        runPod(workloadPod(NS, "counter", NODE_A, "/counter", "/dev/null"));
        timing("test1: counter pod Running", t0);
        await("counter printed 3 numbers", Duration.ofSeconds(30), () -> lastNumber(NS, "counter") >= 3);
        beforeCheckpoint = lastNumber(NS, "counter");

        long t1 = System.nanoTime();
        create(example("checkpoint.yaml", NS));
        GenericKubernetesResource ckpt = waitFinal("Checkpoint", NS, "counter", Duration.ofSeconds(120));
        timing("test1: Checkpoint applied -> Succeeded", t1);
        afterCheckpoint = lastNumber(NS, "counter");
        Map<String, Object> st = status(ckpt);
        System.out.println("Checkpoint status: " + st);

        assertThat(phase(ckpt)).as("phase; status %s", st).isEqualTo("Succeeded");
        assertThat(st.get("nodeName")).isEqualTo(NODE_A);
        assertThat(((Number) path(st, "image.sizeBytes")).longValue()).isPositive();
        assertThat((String) path(st, "image.sha256")).matches("[0-9a-f]{64}");
        assertThat(condition(ckpt, "Ready")).hasValueSatisfying(c -> assertThat(c.get("status")).isEqualTo("True"));
        timing("test1: Checkpoint frozenMillis / dumpMillis", st.get("frozenMillis") + " ms / " + st.get("dumpMillis") + " ms");

        // The image is on node-a's own /var/lib/telefork (node-private in this harness), and its header and
        // record headers up to its END record (the last 60 bytes, which hold the digest) hash to
        // status.image.sha256 (image format 4: each record header holds its payload's CRC32C).
        String file = (String) path(st, "image.fileName");
        Path onA = STATE.resolve("nodes/node-a/telefork/images").resolve(file);
        Path onB = STATE.resolve("nodes/node-b/telefork/images").resolve(file);
        assertThat(onA).exists();
        assertThat(onB).doesNotExist();
        assertThat(Files.size(onA)).isEqualTo(((Number) path(st, "image.sizeBytes")).longValue());
        assertThat(headersSha256(onA)).isEqualTo(path(st, "image.sha256"));

        // leaveRunning: true: the original keeps counting.
        long now = afterCheckpoint;
        await("original counter goes on after the checkpoint", Duration.ofSeconds(10), () -> lastNumber(NS, "counter") > now);
        assertThat(pod(NS, "counter").getStatus().getContainerStatuses().get(0).getRestartCount()).isZero();
    }

    @Test
    @Order(2)
    void restoreOnSameNodeContinuesTheCount() throws Exception {
        long t0 = System.nanoTime();
        create(example("restore.yaml", NS, "NODE_NAME", NODE_A));
        GenericKubernetesResource rst = waitFinal("Restore", NS, "counter", Duration.ofSeconds(180));
        timing("test2: Restore applied -> Succeeded", t0);
        Map<String, Object> st = status(rst);
        System.out.println("Restore status: " + st);
        assertThat(phase(rst)).as("phase; status %s", st).isEqualTo("Succeeded");
        timing("test2: Restore restoreMillis", st.get("restoreMillis") + " ms");
        String target = (String) st.get("targetPod");
        assertThat(target).isNotBlank();
        Pod tp = pod(NS, target);
        assertThat(tp.getSpec().getNodeName()).isEqualTo(NODE_A);

        await("restored counter prints 3 numbers", Duration.ofSeconds(20), () -> numbers(log(NS, target)).size() >= 3);
        List<Long> got = numbers(log(NS, target));
        System.out.println("checkpoint taken between " + beforeCheckpoint + " and " + afterCheckpoint + "; restored pod printed " + got);
        // It goes on from the number it had when dumped: not from 0.
        assertThat(got.get(0)).isBetween(beforeCheckpoint, afterCheckpoint + 1);
        for (int i = 1; i < got.size(); i++) {
            assertThat(got.get(i)).isEqualTo(got.get(i - 1) + 1);
        }
        // The restored process is not PID 1 of its container and is alive; the placeholder sleep is gone.
        List<Long> pids = hostPids(containerId(tp));
        System.out.println("target container host PIDs " + pids);
        assertThat(pids).hasSize(2); // the placeholder shell and the restored counter

        forceDeletePod(NS, target);
    }

    @Test
    @Order(3)
    void migrationToNodeBThroughTheSharedVolume() throws Exception {
        long before = lastNumber(NS, "counter");
        String srcUid = pod(NS, "counter").getMetadata().getUid();
        // Watch, from a thread, the source pod and the Restore: record the Restore's phase at the moment
        // the source pod is first seen deleting or gone.
        AtomicReference<String> restorePhaseAtSourceDeletion = new AtomicReference<>();
        AtomicReference<Instant> sourceDeletionSeen = new AtomicReference<>();
        java.util.concurrent.atomic.AtomicInteger sourceRestarts = new java.util.concurrent.atomic.AtomicInteger();
        Thread watcher = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted() && sourceDeletionSeen.get() == null) {
                try {
                    GenericKubernetesResource mig = get("Migration", NS, "counter-move");
                    String rname = mig == null ? null : (String) status(mig).get("restoreName");
                    String rphase = rname == null ? null : phase(get("Restore", NS, rname));
                    Pod p = pod(NS, "counter");
                    if (p != null && srcUid.equals(p.getMetadata().getUid()) && p.getStatus().getContainerStatuses() != null) {
                        sourceRestarts.accumulateAndGet(p.getStatus().getContainerStatuses().get(0).getRestartCount(), Math::max);
                    }
                    if (p == null || !srcUid.equals(p.getMetadata().getUid()) || p.getMetadata().getDeletionTimestamp() != null) {
                        sourceDeletionSeen.set(Instant.now());
                        restorePhaseAtSourceDeletion.set(rphase == null ? "<none>" : rphase);
                    }
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    return;
                } catch (RuntimeException e) {
                    // retry
                }
            }
        }, "source-pod-watcher");
        watcher.setDaemon(true);
        watcher.start();

        long t0 = System.nanoTime();
        create(example("migrate.yaml", NS, "OTHER_NODE", NODE_B));
        GenericKubernetesResource mig = waitFinal("Migration", NS, "counter-move", Duration.ofSeconds(240));
        timing("test3: Migration applied -> Succeeded (seen by the test)", t0);
        Map<String, Object> st = status(mig);
        System.out.println("Migration status: " + st);
        assertThat(phase(mig)).as("phase; status %s", st).isEqualTo("Succeeded");
        timing("test3: Migration frozenMillis (the dump)", st.get("frozenMillis") + " ms");
        timing("test3: Migration downtimeMillis (source stopped -> copy running)", st.get("downtimeMillis") + " ms");
        // Post-copy (the default), the copy may run before the dump has ended: the downtime is not bounded
        // below by the dump's freeze any more.
        assertThat(((Number) st.get("downtimeMillis")).longValue()).as("downtime; status %s", st).isPositive();
        if (st.get("startTime") != null && st.get("completionTime") != null) {
            Duration total = Duration.between(Instant.parse((String) st.get("startTime")), Instant.parse((String) st.get("completionTime")));
            timing("test3: Migration total (status startTime -> completionTime)", total.toMillis() + " ms");
        }
        assertThat(st.get("sourceNode")).isEqualTo(NODE_A);
        assertThat(st.get("sourcePodDeleted")).isEqualTo(true);

        GenericKubernetesResource ckpt = get("Checkpoint", NS, (String) st.get("checkpointName"));
        assertThat(path(status(ckpt), "image.storage")).isEqualTo("Shared");
        GenericKubernetesResource rst = get("Restore", NS, (String) st.get("restoreName"));
        assertThat(phase(rst)).isEqualTo("Succeeded");
        assertThat(status(rst).get("lazy")).as("a single process migrates lazily by default; %s", status(rst)).isEqualTo(true);

        String target = (String) st.get("targetPod");
        Pod tp = pod(NS, target);
        assertThat(tp.getSpec().getNodeName()).isEqualTo(NODE_B);
        await("migrated counter prints 3 numbers", Duration.ofSeconds(20), () -> numbers(log(NS, target)).size() >= 3);
        List<Long> got = numbers(log(NS, target));
        migrationBefore = before;
        migrationFirstOnB = got.get(0);
        System.out.println("source printed up to " + before + " before the migration; node-b pod printed " + got);
        assertThat(got.get(0)).isGreaterThanOrEqualTo(before);

        // Source pod: gone, and its deletion was first seen only once the Restore had succeeded.
        await("source pod gone", Duration.ofSeconds(120), () -> {
            Pod p = pod(NS, "counter");
            return p == null || !srcUid.equals(p.getMetadata().getUid());
        });
        watcher.interrupt();
        sourceRestartsDuringMigration = sourceRestarts.get();
        System.out.println("source container restarts seen during the migration: " + sourceRestartsDuringMigration);
        System.out.println("source pod deletion first seen at " + sourceDeletionSeen.get() + "; Restore phase then: " + restorePhaseAtSourceDeletion.get());
        assertThat(restorePhaseAtSourceDeletion.get()).isEqualTo("Succeeded");
        forceDeletePod(NS, target);
    }

    /**
     * The dump of a Migration leaves the source process stopped (not killed), so kubelet never restarts
     * the source container: no second copy of the workload runs while the migrated one starts.
     */
    @Test
    @Order(4)
    void migrationDoesNotRestartTheSourceContainer() {
        assertThat(sourceRestartsDuringMigration).as("restarts of the source container seen during test 3's Migration").isZero();
    }

    /**
     * A Migration whose restore fails: the counter keeps its log in its container's own filesystem,
     * which the target container on node-b does not have, so the restore fails (the open file is gone).
     * The source process, left stopped by the dump, is resumed: it counts on from where it was, in the
     * same container (no restart), and the Migration ends Failed saying so.
     */
    @Test
    @Order(4)
    void failedMigrationResumesTheStoppedSource() {
        failedMigrationResumes("keeper", "test4b", "/counter", "/data/counter.log");
    }

    /** As 4b with a tree (a shell waiting for the counter): the dump left both stopped, both go on. */
    @Test
    @Order(4)
    void failedMigrationResumesTheStoppedSourceTree() {
        failedMigrationResumes("keeper-tree", "test4c", "/bin/sh", "-c", "/counter /data/counter.log & wait");
    }

    private void failedMigrationResumes(String name, String test, String... command) {
        runPod(workloadPod(NS, name, NODE_A, command));
        await(name + " printed 3 numbers", Duration.ofSeconds(30), () -> lastNumber(NS, name) >= 3);
        String uid = pod(NS, name).getMetadata().getUid();
        GenericKubernetesResource mig = resource("Migration", NS, name + "-move", Map.of("podName", name, "targetNode", NODE_B));
        long t0 = System.nanoTime();
        create(mig);
        GenericKubernetesResource done = waitFinal("Migration", NS, name + "-move", Duration.ofSeconds(180));
        timing(test + ": failing Migration applied -> Failed, source resumed", t0);
        Map<String, Object> st = status(done);
        System.out.println(name + "-move: " + st);
        assertThat(phase(done)).as("status %s", st).isEqualTo("Failed");
        assertThat(st.get("sourceResumed")).as("status %s", st).isEqualTo(true);
        assertThat(condition(done, "Failed").map(c -> (String) c.get("message")).orElse(""))
                .contains("/data/counter.log").contains("source process resumed");
        long atFailure = lastNumber(NS, name);
        await("resumed " + name + " counts on", Duration.ofSeconds(20), () -> lastNumber(NS, name) > atFailure + 1);
        Pod src = pod(NS, name);
        assertThat(src.getMetadata().getUid()).isEqualTo(uid);
        assertThat(src.getMetadata().getDeletionTimestamp()).isNull();
        assertThat(src.getStatus().getContainerStatuses().get(0).getRestartCount()).as("restarts of the source container").isZero();
        List<Long> all = numbers(log(NS, name));
        for (int i = 1; i < all.size(); i++) {
            assertThat(all.get(i)).as("number %d of %s: one sequence, never restarted", i, all).isEqualTo(all.get(i - 1) + 1);
        }
        forceDeletePod(NS, name);
    }

    @Test
    @Order(5)
    void validationFailures() throws Exception {
        SoftAssertions soft = new SoftAssertions();
        // A Checkpoint of a pod that does not exist: Failed, reason PodNotFound.
        long t0 = System.nanoTime();
        GenericKubernetesResource missing = example("checkpoint.yaml", NS, "podName: counter", "podName: no-such-pod");
        missing.getMetadata().setName("missing");
        create(missing);
        GenericKubernetesResource m = waitFinal("Checkpoint", NS, "missing", Duration.ofSeconds(60));
        timing("test5: Checkpoint of a missing pod -> Failed", t0);
        System.out.println("missing: " + status(m));
        soft.assertThat(phase(m)).isEqualTo("Failed");
        soft.assertThat(condition(m, "Failed").map(c -> c.get("reason"))).hasValue("PodNotFound");
        soft.assertThat(status(m).get("nodeOperation")).as("no node work for it").isNull();

        // A Restore of a Checkpoint that does not exist: Failed, CheckpointNotFound.
        GenericKubernetesResource noCkpt = example("restore.yaml", NS, "NODE_NAME", NODE_A, "checkpointName: counter", "checkpointName: no-such-checkpoint");
        noCkpt.getMetadata().setName("no-checkpoint");
        create(noCkpt);
        GenericKubernetesResource r = waitFinal("Restore", NS, "no-checkpoint", Duration.ofSeconds(60));
        System.out.println("no-checkpoint: " + status(r));
        soft.assertThat(phase(r)).isEqualTo("Failed");
        soft.assertThat(condition(r, "Failed").map(c -> c.get("reason"))).hasValue("CheckpointNotFound");

        // A Restore on node-b of test 1's NodeLocal Checkpoint (its image is on node-a only): ImageNotReachable,
        // and no target pod is made.
        GenericKubernetesResource wrongNode = example("restore.yaml", NS, "NODE_NAME", NODE_B);
        wrongNode.getMetadata().setName("local-image-elsewhere");
        create(wrongNode);
        r = waitFinal("Restore", NS, "local-image-elsewhere", Duration.ofSeconds(60));
        System.out.println("local-image-elsewhere: " + status(r));
        soft.assertThat(phase(r)).isEqualTo("Failed");
        soft.assertThat(condition(r, "Failed").map(c -> c.get("reason"))).hasValue("ImageNotReachable");
        soft.assertThat(client().pods().inNamespace(NS).withLabel("telefork.io/restore", "local-image-elsewhere").list().getItems()).isEmpty();

        // A Migration to the node the pod is already on: InvalidSpec; the pod is left alone.
        runPod(workloadPod(NS, "stay", NODE_A, "/counter", "/dev/null"));
        GenericKubernetesResource same = example("migrate.yaml", NS, "OTHER_NODE", NODE_A, "podName: counter", "podName: stay");
        same.getMetadata().setName("same-node");
        create(same);
        GenericKubernetesResource mg = waitFinal("Migration", NS, "same-node", Duration.ofSeconds(60));
        System.out.println("same-node: " + status(mg));
        soft.assertThat(phase(mg)).isEqualTo("Failed");
        soft.assertThat(condition(mg, "Failed").map(c -> c.get("reason"))).hasValue("InvalidSpec");
        Pod stay = pod(NS, "stay");
        soft.assertThat(stay.getMetadata().getDeletionTimestamp()).isNull();
        soft.assertThat(stay.getStatus().getContainerStatuses().get(0).getRestartCount()).isZero();
        forceDeletePod(NS, "stay");
        soft.assertAll();
    }

    /** A 1 GiB process (incompressible memory) checkpointed while it runs: frozen vs total time; then the
     * Checkpoint is deleted and its image file with it. */
    @Test
    @Order(6)
    void largeCheckpointWhileRunning() throws Exception {
        runPod(workloadPod(NS, "bighog", NODE_A, "/memhog", "1024"));
        await("bighog filled its memory", Duration.ofSeconds(120), () -> log(NS, "bighog").contains("filled"));
        // Zstd: its native library must load in the agent image (a missing libpthread once kept it from it).
        GenericKubernetesResource big = example("checkpoint.yaml", NS, "podName: counter", "podName: bighog",
                "compression: Lz4", "compression: Zstd");
        big.getMetadata().setName("big");
        long t0 = System.nanoTime();
        create(big);
        GenericKubernetesResource c = waitFinal("Checkpoint", NS, "big", Duration.ofSeconds(180));
        timing("test6: 1 GiB Checkpoint applied -> Succeeded", t0);
        Map<String, Object> st = status(c);
        assertThat(phase(c)).as("status %s", st).isEqualTo("Succeeded");
        timing("test6: 1 GiB Checkpoint memoryBytes / sizeBytes / frozenMillis / dumpMillis",
                st.get("memoryBytes") + " / " + path(st, "image.sizeBytes") + " / " + st.get("frozenMillis") + " ms / " + st.get("dumpMillis") + " ms");
        assertThat(((Number) st.get("memoryBytes")).longValue()).isGreaterThanOrEqualTo(1L << 30);
        Path file = STATE.resolve("nodes/node-a/telefork/images").resolve((String) path(st, "image.fileName"));
        assertThat(file).exists();
        // memhog prints "K HEX" lines: count them.
        long n = log(NS, "bighog").lines().count();
        await("bighog goes on", Duration.ofSeconds(10), () -> log(NS, "bighog").lines().count() > n);

        long t1 = System.nanoTime();
        kind("Checkpoint").inNamespace(NS).withName("big").delete();
        await("Checkpoint big deleted", Duration.ofSeconds(60), () -> get("Checkpoint", NS, "big") == null);
        timing("test6: Checkpoint delete (image deleted by the agent) ", t1);
        assertThat(file).doesNotExist();
        forceDeletePod(NS, "bighog");
    }

    /**
     * A 1 GiB process migrates to node-b: the figures a user waits on (freeze, downtime, total), and its
     * memory checked after the move: memhog prints, once a second, a word sampled across its whole area,
     * which this test computes from the generator.
     */
    @Test
    @Order(6)
    void largeMigrationKeepsItsMemory() {
        runPod(workloadPod(NS, "hog", NODE_A, "/memhog", "1024"));
        await("hog filled its memory and counts", Duration.ofSeconds(120), () -> memhogLines(log(NS, "hog")).size() >= 2);
        GenericKubernetesResource mig = resource("Migration", NS, "hog-move", Map.of("podName", "hog", "targetNode", NODE_B));
        long t0 = System.nanoTime();
        create(mig);
        GenericKubernetesResource done = waitFinal("Migration", NS, "hog-move", Duration.ofSeconds(300));
        timing("test6b: 1 GiB Migration applied -> Succeeded (seen by the test)", t0);
        Map<String, Object> st = status(done);
        assertThat(phase(done)).as("status %s", st).isEqualTo("Succeeded");
        timing("test6b: 1 GiB Migration frozenMillis / downtimeMillis", st.get("frozenMillis") + " ms / " + st.get("downtimeMillis") + " ms");
        Map<String, Object> rst = status(get("Restore", NS, (String) st.get("restoreName")));
        assertThat(rst.get("lazy")).as("restored lazily; %s", rst).isEqualTo(true);
        assertThat(((Number) st.get("downtimeMillis")).longValue()).as("post-copy: the copy runs before the dump of "
                + "its 1 GiB has ended, so the downtime is shorter than the source's freeze; status %s", st)
                .isLessThan(((Number) st.get("frozenMillis")).longValue());
        timing("test6b: 1 GiB Migration's Restore restoreMillis / memoryInMillis (all pages in)", rst.get("restoreMillis") + " ms / " + rst.get("memoryInMillis") + " ms");
        String target = (String) st.get("targetPod");
        await("migrated hog prints 3 lines", Duration.ofSeconds(30), () -> memhogLines(log(NS, target)).size() >= 3);
        List<long[]> lines = memhogLines(log(NS, target));
        assertThat(lines.get(0)[0]).as("the count goes on, not from 0").isPositive();
        long words = 1024L << 17;
        for (long[] line : lines) {
            assertThat(Long.toHexString(line[1])).as("word sampled at count %d on node-b", line[0])
                    .isEqualTo(Long.toHexString(memhogWord(line[0] * 1048573L % words)));
        }
        forceDeletePod(NS, target);
    }

    /** memhog's "K HEX" lines as {K, word}. */
    static List<long[]> memhogLines(String log) {
        return log.lines().filter(l -> l.matches("\\d+ [0-9a-f]+"))
                .map(l -> new long[] {Long.parseLong(l.split(" ")[0]), Long.parseUnsignedLong(l.split(" ")[1], 16)}).toList();
    }

    /** Word {@code index} of memhog's memory: its xorshift generator run that far. */
    static long memhogWord(long index) {
        long x = 88172645463325252L;
        for (long i = 0; i <= index; i++) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
        }
        return x;
    }

    @Test
    @Order(7)
    void agentKilledMidDump() throws Exception {
        SoftAssertions soft = new SoftAssertions();
        // The agent is SIGKILLed in the middle of a dump: the workload keeps running.
        runPod(workloadPod(NS, "memhog", NODE_A, "/memhog", "1536"));
        await("memhog filled its memory", Duration.ofSeconds(120), () -> log(NS, "memhog").contains("filled"));
        Pod hog = pod(NS, "memhog");
        List<Long> hogPids = hostPids(containerId(hog));
        assertThat(hogPids).hasSize(1);
        long hogPid = hogPids.get(0);

        GenericKubernetesResource big = example("checkpoint.yaml", NS, "podName: counter", "podName: memhog",
                "compression: Lz4", "compression: None");
        big.getMetadata().setName("killed-mid-dump");
        interruptedCheckpointUid = create(big).getMetadata().getUid();
        Pod agentA = client().pods().inNamespace(SYSTEM_NS).withLabel("app.kubernetes.io/component", "agent").list().getItems()
                .stream().filter(p -> NODE_A.equals(p.getSpec().getNodeName())).findFirst().orElseThrow();
        // Wait until node-a's agent works on it (its NodeOperation Running), then kill the agent's container.
        String nodeOp = waitFor("NodeOperation of killed-mid-dump Running", Duration.ofSeconds(60), () -> {
            GenericKubernetesResource c = get("Checkpoint", NS, "killed-mid-dump");
            String name = (String) status(c).get("nodeOperation");
            GenericKubernetesResource op = name == null ? null : get("NodeOperation", NS, name);
            return op != null && "Running".equals(phase(op)) ? name : null;
        }, n -> n != null);
        // Mid-dump: the original runs on, untraced, and its copy-on-write twin (a second process in the
        // container) is being read. That is where a dump spends nearly all its time; the freeze before
        // it is a few ms, and the engine cannot make a tracer's death harmless while it borrows the
        // process's registers for an injected call (README, limitations).
        waitFor("memhog released and its twin being read", Duration.ofSeconds(60), () -> {
            try {
                return hostPids(containerId(hog)).size() == 2 && "0".equals(procStatus(hogPid, "TracerPid"));
            } catch (IOException e) {
                return false;
            }
        }, ok -> ok);
        long tKill = System.nanoTime();
        String agentCid = containerId(agentA).replaceFirst("^[a-z-]+://", "");
        Process kill = new ProcessBuilder("ctr", "-a", STATE.resolve("nodes/node-a/containerd.sock").toString(),
                "-n", "k8s.io", "tasks", "kill", "-s", "SIGKILL", agentCid).inheritIO().start();
        assertThat(kill.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(kill.exitValue()).isZero();
        GenericKubernetesResource opAfterKill = get("NodeOperation", NS, nodeOp);
        System.out.println("agent killed; NodeOperation " + nodeOp + " phase at kill: " + phase(opAfterKill));

        // The workload: same process, not stopped, not traced, no extra process (a leftover twin), counting.
        sleep(2000);
        soft.assertThat(procStatus(hogPid, "State")).as("memhog state").doesNotStartWith("T").doesNotStartWith("t").isNotNull();
        soft.assertThat(procStatus(hogPid, "TracerPid")).as("memhog TracerPid").isEqualTo("0");
        // The twin dies with the agent (PTRACE_O_EXITKILL): at most a zombie is left, never a running copy.
        List<Long> after = hostPids(containerId(hog));
        soft.assertThat(after).as("processes in the memhog container after the kill").contains(hogPid).hasSizeLessThanOrEqualTo(2);
        for (long p : after) {
            if (p != hogPid) {
                String state = procStatus(p, "State");
                soft.assertThat(state).as("the twin %d after the kill", p).satisfiesAnyOf(
                        st -> assertThat(st).isNull(), st -> assertThat(st).startsWith("Z"));
            }
        }
        String l1 = log(NS, "memhog");
        sleep(2500);
        String l2 = log(NS, "memhog");
        soft.assertThat(l2.length()).as("memhog still prints").isGreaterThan(l1.length());
        soft.assertThat(pod(NS, "memhog").getStatus().getContainerStatuses().get(0).getRestartCount()).isZero();

        // The Checkpoint ends Failed (the restarted agent fails work it finds Running; never repeats it).
        GenericKubernetesResource k = waitFinal("Checkpoint", NS, "killed-mid-dump", Duration.ofSeconds(180));
        timing("test7: agent SIGKILL -> Checkpoint final", tKill);
        System.out.println("killed-mid-dump: phase " + phase(k) + " " + status(k));
        soft.assertThat(phase(k)).isEqualTo("Failed");
        soft.assertThat(condition(k, "Failed").map(c -> (String) c.get("message")).orElse("")).contains("agent restarted");
        // The restarted agent is Ready again.
        waitChartReady();
        forceDeletePod(NS, "memhog");
        soft.assertAll();
    }

    /**
     * KNOWN BUG (report: "an interrupted dump leaves its .partial file for ever"): the agent that fails
     * an operation it finds Running after a restart does not delete the half-written image, and the
     * Checkpoint's DeleteImage deletes only the final file names.
     */
    @Test
    @Order(8)
    void interruptedDumpLeavesNoPartialFile() throws Exception {
        assertThat(interruptedCheckpointUid).as("agentKilledMidDump ran").isNotNull();
        Path dir = STATE.resolve("nodes/node-a/telefork/images");
        System.out.println("files of killed-mid-dump on node-a after the failure: " + filesOf(dir, interruptedCheckpointUid));
        kind("Checkpoint").inNamespace(NS).withName("killed-mid-dump").delete();
        await("Checkpoint killed-mid-dump deleted (finalizer done)", Duration.ofSeconds(60),
                () -> get("Checkpoint", NS, "killed-mid-dump") == null);
        List<String> left = filesOf(dir, interruptedCheckpointUid);
        System.out.println("files of killed-mid-dump on node-a after deleting the Checkpoint: " + left);
        assertThat(left).as("image files (complete or partial) of the interrupted, then deleted, Checkpoint on node-a").isEmpty();
    }

    static List<String> filesOf(Path dir, String uid) throws java.io.IOException {
        try (var files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).filter(n -> n.contains(uid)).toList();
        }
    }

    @Test
    @Order(9)
    void rbac() throws Exception {
        KubernetesClient admin = client();
        // (a) A ServiceAccount without rights cannot create a Checkpoint.
        admin.serviceAccounts().inNamespace(NS).resource(new ServiceAccountBuilder()
                .withMetadata(new ObjectMetaBuilder().withName("no-rights").withNamespace(NS).build()).build()).create();
        GenericKubernetesResource c = example("checkpoint.yaml", NS);
        c.getMetadata().setName("forbidden");
        try (KubernetesClient asNobody = clientAs(NS, "no-rights")) {
            assertThatThrownBy(() -> asNobody.genericKubernetesResources(GROUP_VERSION, "Checkpoint").inNamespace(NS).resource(c).create())
                    .isInstanceOfSatisfying(KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(403));
        }
        assertThat(get("Checkpoint", NS, "forbidden")).isNull();
        // The agent's ServiceAccount cannot create Checkpoints or pods either (least privilege).
        try (KubernetesClient asAgent = clientAs(SYSTEM_NS, RELEASE + "-agent")) {
            assertThatThrownBy(() -> asAgent.genericKubernetesResources(GROUP_VERSION, "Checkpoint").inNamespace(NS).resource(c).create())
                    .isInstanceOfSatisfying(KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(403));
            assertThatThrownBy(() -> asAgent.pods().inNamespace(NS).resource(workloadPod(NS, "sneaky", NODE_A, "/counter")).create())
                    .isInstanceOfSatisfying(KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(403));
        }

        // (b) A Checkpoint in namespace X cannot name a pod in namespace Y.
        String x = "telefork-e2e-x";
        ensureNamespace(x);
        runPod(workloadPod(NS, "victim", NODE_A, "/counter", "/dev/null"));
        GenericKubernetesResource byName = example("checkpoint.yaml", x, "podName: counter", "podName: victim");
        byName.getMetadata().setName("cross-ns");
        create(byName);
        // "namespace/name" is refused by the CRD's schema (a DNS-1123 subdomain pattern) at admission.
        GenericKubernetesResource bySlash = example("checkpoint.yaml", x, "podName: counter", "podName: " + NS + "/victim");
        bySlash.getMetadata().setName("cross-ns-slash");
        assertThatThrownBy(() -> create(bySlash))
                .isInstanceOfSatisfying(KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(422));
        GenericKubernetesResource r1 = waitFinal("Checkpoint", x, "cross-ns", Duration.ofSeconds(60));
        System.out.println("cross-ns: " + status(r1));
        assertThat(phase(r1)).isEqualTo("Failed");
        assertThat(condition(r1, "Failed").map(cn -> cn.get("reason"))).hasValue("PodNotFound");
        // No node work was created for either, and the pod in Y was not touched.
        assertThat(kind("NodeOperation").inAnyNamespace().list().getItems().stream()
                .filter(o -> o.getMetadata().getNamespace().equals(x)).toList()).isEmpty();
        Pod v = pod(NS, "victim");
        assertThat(v.getStatus().getPhase()).isEqualTo("Running");
        assertThat(v.getStatus().getContainerStatuses().get(0).getRestartCount()).isZero();
        forceDeletePod(NS, "victim");
    }

    /** An image's END record: header, 32-byte digest with its length, page bytes. */
    private static final int END_RECORD_BYTES = 16 + 4 + 32 + 8;

    /**
     * The digest an image of format 4 ends with, computed here from the file: the SHA-256 of its 24-byte
     * header and of the 16-byte header of every record before the END record (type 8), each of which
     * says (at byte 8) how many payload bytes follow it. The END record must be the file's last 60 bytes.
     */
    static String headersSha256(Path file) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (var ch = java.nio.channels.FileChannel.open(file)) {
            long end = ch.size() - END_RECORD_BYTES;
            java.nio.ByteBuffer head = java.nio.ByteBuffer.allocate(24);
            ch.read(head, 0);
            assertThat(head.getShort(8)).as("image format version").isEqualTo((short) 4);
            md.update(head.flip());
            java.nio.ByteBuffer h = java.nio.ByteBuffer.allocate(16);
            long at = 24;
            while (at < end) {
                ch.read(h.clear(), at);
                md.update(h.flip());
                at += 16 + Integer.toUnsignedLong(h.getInt(8));
            }
            assertThat(at).as("the records end where the END record begins").isEqualTo(end);
            ch.read(h.clear(), at);
            assertThat(h.getShort(0)).as("END record type").isEqualTo((short) 8);
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /**
     * A pod pinned to node-a with a nodeSelector (the usual way) migrates: the target pod is made without
     * the source's node constraints (kubelet would reject it with "Predicate NodeAffinity failed"). If
     * the Migration fails anyway, the kept source must not have been restarted.
     */
    @Test
    @Order(10)
    void migrationOfNodeSelectorPinnedPod() {
        Pod p = workloadPod(NS, "pinned", null, "/counter", "/dev/null");
        p.getSpec().setNodeSelector(Map.of("telefork.io/e2e-node", NODE_A));
        runPod(p);
        await("pinned printed 3 numbers", Duration.ofSeconds(30), () -> lastNumber(NS, "pinned") >= 3);
        long before = lastNumber(NS, "pinned");
        GenericKubernetesResource mig = resource("Migration", NS, "pinned-move", Map.of("podName", "pinned", "targetNode", NODE_B));
        create(mig);
        GenericKubernetesResource done = waitFinal("Migration", NS, "pinned-move", Duration.ofSeconds(180));
        System.out.println("pinned-move: " + status(done));
        SoftAssertions soft = new SoftAssertions();
        soft.assertThat(phase(done)).as("Migration of a nodeSelector-pinned pod; status %s", status(done)).isEqualTo("Succeeded");
        if ("Failed".equals(phase(done))) {
            Pod src = pod(NS, "pinned");
            soft.assertThat(src).as("source pod kept").isNotNull();
            if (src != null) {
                soft.assertThat(src.getStatus().getContainerStatuses().get(0).getRestartCount())
                        .as("restarts of the kept source container (its process state is lost)").isZero();
                List<Long> now = numbers(log(NS, "pinned"));
                System.out.println("pinned printed " + before + " before; its current container printed " + now);
                soft.assertThat(now.isEmpty() ? -1 : now.get(0)).as("first number of the kept source container").isGreaterThanOrEqualTo(before);
            }
        }
        soft.assertAll();
    }

    /**
     * spec.targetPod: the Shared image that test 3's Migration made is restored a second time, on node-a,
     * into a pod made by the user whose container runs the operator's placeholder script.
     */
    @Test
    @Order(11)
    void restoreSharedImageIntoExistingPlaceholderPod() {
        assertThat(migrationFirstOnB).as("test 3 ran").isPositive();
        String placeholder = "trap 'kill -TERM $c 2>/dev/null' TERM INT; sleep 2147483647 & c=$!; "
                + "while :; do wait $c; s=$?; kill -0 $c 2>/dev/null || exit $s; done";
        runPod(workloadPod(NS, "vessel", NODE_A, "/bin/sh", "-c", placeholder));
        GenericKubernetesResource r = resource("Restore", NS, "into-vessel",
                Map.of("checkpointName", "counter-move", "targetPod", "vessel"));
        long t0 = System.nanoTime();
        create(r);
        GenericKubernetesResource done = waitFinal("Restore", NS, "into-vessel", Duration.ofSeconds(120));
        timing("test11: Restore into an existing placeholder pod -> Succeeded", t0);
        System.out.println("into-vessel: " + status(done));
        assertThat(phase(done)).as("status %s", status(done)).isEqualTo("Succeeded");
        assertThat(status(done).get("targetPod")).isEqualTo("vessel");
        await("vessel prints 3 numbers", Duration.ofSeconds(20), () -> numbers(log(NS, "vessel")).size() >= 3);
        List<Long> got = numbers(log(NS, "vessel"));
        System.out.println("migration: source up to " + migrationBefore + ", node-b from " + migrationFirstOnB + "; vessel printed " + got);
        assertThat(got.get(0)).isBetween(migrationBefore, migrationFirstOnB);
        forceDeletePod(NS, "vessel");
    }

    /**
     * A container whose main process has a child: a shell waiting for its counter. Checkpointed with both,
     * restored into a user's placeholder pod whose placeholder (sleep) is PID 1 of its container (the shell
     * takes the placeholder's PID, 1, as it had), then with targetNode into the operator's target pod (the
     * shell goes into the waiting placeholder shell, PID 1): each time the counter is forked again with the
     * PID it had in its own container and goes on counting.
     */
    @Test
    @Order(12)
    void treeOfAContainerRestoredIntoAPlaceholderPodKeepsItsPids() throws Exception {
        runPod(workloadPod(NS, "tree", NODE_A, "/bin/sh", "-c", "/counter /dev/null & wait"));
        await("tree's counter printed 3 numbers", Duration.ofSeconds(30), () -> lastNumber(NS, "tree") >= 3);
        Map<Long, String> source = nsPidsAndNames(hostPids(containerId(pod(NS, "tree"))));
        System.out.println("source container (namespace PID -> name): " + source);
        assertThat(source).hasSize(2).containsEntry(1L, "sh").containsValue("counter");
        long before = lastNumber(NS, "tree");

        succeeded("Checkpoint", "tree", Map.of("podName", "tree", "leaveRunning", true),
                "test12: Checkpoint of a shell and its child -> Succeeded");
        long after = lastNumber(NS, "tree");

        runPod(workloadPod(NS, "tree-vessel", NODE_A, "/bin/sleep", "2147483647"));
        succeeded("Restore", "tree-into-vessel", Map.of("checkpointName", "tree", "targetPod", "tree-vessel"),
                "test12: Restore of the tree into a placeholder pod -> Succeeded");

        await("the restored counter prints 3 numbers", Duration.ofSeconds(20),
                () -> numbers(log(NS, "tree-vessel")).size() >= 3);
        List<Long> got = numbers(log(NS, "tree-vessel"));
        System.out.println("checkpoint taken between " + before + " and " + after + "; restored tree printed " + got);
        assertThat(got.get(0)).isBetween(before, after + 1);
        Map<Long, String> restored = nsPidsAndNames(hostPids(containerId(pod(NS, "tree-vessel"))));
        System.out.println("target container (namespace PID -> name): " + restored);
        assertThat(restored).isEqualTo(source);
        forceDeletePod(NS, "tree-vessel");

        // The operator's target pod: the tree goes into its waiting shell (PID 1), whose sleep is ended; lazily,
        // each process served its own pages.
        GenericKubernetesResource onNode = succeeded("Restore", "tree-on-node",
                Map.of("checkpointName", "tree", "targetNode", NODE_A, "lazy", true),
                "test12: lazy Restore of the tree with targetNode -> Succeeded");
        assertThat(status(onNode).get("lazy")).as("status %s", status(onNode)).isEqualTo(true);
        String target = (String) status(onNode).get("targetPod");
        await("the tree in the operator's target pod prints 3 numbers", Duration.ofSeconds(20),
                () -> numbers(log(NS, target)).size() >= 3);
        List<Long> there = numbers(log(NS, target));
        assertThat(there.get(0)).isBetween(before, after + 1);
        Map<Long, String> inTarget = nsPidsAndNames(hostPids(containerId(pod(NS, target))));
        System.out.println("operator's target container (namespace PID -> name): " + inTarget);
        assertThat(inTarget).isEqualTo(source);
        forceDeletePod(NS, target);
        forceDeletePod(NS, "tree");
    }

    /**
     * A container whose main process (PID 1) has two worker threads: checkpointed, restored with
     * targetNode into the operator's target pod, where it goes into the placeholder's waiting shell (PID 1)
     * and its threads are made with their IDs; the workload itself checks each second that pthread_kill
     * still reaches them (glibc's cached IDs) and that they count on.
     */
    @Test
    @Order(13)
    void threadsOfAContainersMainProcessKeepTheirIds() throws Exception {
        runPod(workloadPod(NS, "threads", NODE_A, "/threads"));
        await("threads printed 3 numbers", Duration.ofSeconds(30), () -> lastNumber(NS, "threads") >= 3);
        List<Long> sourcePids = hostPids(containerId(pod(NS, "threads")));
        assertThat(sourcePids).hasSize(1);
        List<Long> tids = nsTids(sourcePids.get(0));
        System.out.println("source thread IDs in its namespace: " + tids);
        assertThat(tids).hasSize(3).contains(1L);
        long before = lastNumber(NS, "threads");

        succeeded("Checkpoint", "threads", Map.of("podName", "threads", "leaveRunning", true),
                "test13: Checkpoint of a process with threads -> Succeeded");
        long after = lastNumber(NS, "threads");

        GenericKubernetesResource done = succeeded("Restore", "threads-on-node",
                Map.of("checkpointName", "threads", "targetNode", NODE_A),
                "test13: Restore of a process with threads with targetNode -> Succeeded");
        String target = (String) status(done).get("targetPod");
        await("the restored threads print 3 numbers", Duration.ofSeconds(20), () -> numbers(log(NS, target)).size() >= 3);
        String log = log(NS, target);
        System.out.println("checkpoint taken between " + before + " and " + after + "; restored: " + log.replace('\n', ' '));
        assertThat(log).doesNotContain("bad");
        assertThat(numbers(log).get(0)).isBetween(before, after + 1);
        List<Long> targetPids = hostPids(containerId(pod(NS, target)));
        assertThat(targetPids).as("the placeholder's sleep is gone; the restored process is PID 1").hasSize(1);
        assertThat(nsTids(targetPids.get(0))).isEqualTo(tids);
        forceDeletePod(NS, target);
        forceDeletePod(NS, "threads");
    }

    /** Creates a resource in NS, waits for its end (timed as {@code what}) and insists that it Succeeded. */
    private static GenericKubernetesResource succeeded(String kind, String name, Map<String, Object> spec,
                                                       String what) {
        long t0 = System.nanoTime();
        create(resource(kind, NS, name, spec));
        GenericKubernetesResource done = waitFinal(kind, NS, name, Duration.ofSeconds(120));
        timing(what, t0);
        assertThat(phase(done)).as("status %s", status(done)).isEqualTo("Succeeded");
        return done;
    }

    /** A process's thread IDs in its own PID namespace, sorted. */
    private static List<Long> nsTids(long pid) throws IOException {
        List<Long> out = new java.util.ArrayList<>();
        try (java.util.stream.Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
            for (Path t : tasks.toList()) {
                out.add(nsPidsAndNames(List.of(Long.parseLong(t.getFileName().toString()))).keySet().iterator().next());
            }
        }
        out.sort(null);
        return out;
    }

    /** Each process's PID in its own PID namespace (last NSpid field) and its name. */
    private static Map<Long, String> nsPidsAndNames(List<Long> hostPids) throws IOException {
        Map<Long, String> out = new java.util.TreeMap<>();
        for (long pid : hostPids) {
            Path dir = Path.of("/proc", Long.toString(pid));
            String nspid = Files.readAllLines(dir.resolve("status")).stream().filter(l -> l.startsWith("NSpid:"))
                    .findFirst().orElseThrow();
            String[] f = nspid.split("\\s+");
            out.put(Long.parseLong(f[f.length - 1]), Files.readString(dir.resolve("comm")).trim());
        }
        return out;
    }
}
