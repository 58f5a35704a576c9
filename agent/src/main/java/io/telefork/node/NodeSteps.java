package io.telefork.node;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.telefork.api.v1alpha1.ImageCompression;
import io.telefork.api.v1alpha1.ImageFiles;
import io.telefork.api.v1alpha1.ImageLocation;
import io.telefork.api.v1alpha1.ImageStorage;
import io.telefork.api.v1alpha1.NodeOperation;
import io.telefork.api.v1alpha1.NodeOperationSpec;
import io.telefork.api.v1alpha1.NodeOperationStatus;
import io.telefork.api.v1alpha1.ProcessIdentity;
import io.telefork.api.v1alpha1.Reason;
import io.telefork.engine.Commit;
import io.telefork.engine.DumpOptions;
import io.telefork.engine.DumpResult;
import io.telefork.engine.EngineException;
import io.telefork.engine.RestoreOptions;
import io.telefork.engine.RestoreResult;
import io.telefork.engine.StepClock;
import io.telefork.image.Compression;
import io.telefork.image.ImageDigest;
import io.telefork.image.Credentials;
import io.telefork.image.ImageFormatException;
import io.telefork.image.ImageReader;
import io.telefork.image.ImageTree;
import io.telefork.sys.Kernel;
import io.telefork.sys.Sys;
import io.telefork.sys.SysException;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * The three things an agent does for a NodeOperation, each a straight list of steps. Each either fills
 * the status with results or throws a {@link StepFailure} with the reason.
 */
final class NodeSteps {

    private final String nodeName;
    private final KubernetesClient client;
    private final ContainerProcesses containers;
    private final ImageStore images;
    private final Preflight preflight;
    private final ProcessEngine engine;
    private final AgentMetrics metrics;
    private final java.nio.file.Path procRoot;

    NodeSteps(String nodeName, KubernetesClient client, ContainerProcesses containers, ImageStore images,
              Preflight preflight, ProcessEngine engine, AgentMetrics metrics, java.nio.file.Path procRoot) {
        this.nodeName = nodeName;
        this.client = client;
        this.containers = containers;
        this.images = images;
        this.preflight = preflight;
        this.engine = engine;
        this.metrics = metrics;
        this.procRoot = procRoot;
    }

    void run(NodeOperation op, NodeOperationStatus out) throws StepFailure {
        NodeOperationSpec spec = op.getSpec();
        if (!nodeName.equals(spec.getNodeName())) {
            throw new StepFailure(Reason.WrongNode, "this is the agent of " + nodeName + ", not of " + spec.getNodeName());
        }
        String fileName;
        try {
            fileName = ImageFiles.fileName(op.getMetadata().getNamespace(), spec.getCheckpointName(), spec.getCheckpointUid());
        } catch (IllegalArgumentException e) {
            throw new StepFailure(Reason.InvalidSpec, e.getMessage());
        }
        try {
            switch (spec.getType()) {
                case Dump -> dump(op, fileName, out);
                case Restore -> restore(op, fileName, out);
                case DeleteImage -> {
                    images.delete(fileName);
                    out.setReason(Reason.ImageDeleted);
                    out.setMessage("deleted " + fileName);
                }
                case Resume -> resume(op, out);
            }
        } catch (IOException e) {
            throw new StepFailure(Reason.IOError, e.toString(), e);
        }
    }

    /** 1 pod check, 2 main PID, 3 credentials, 4 dump to a file in the storage asked for. */
    private void dump(NodeOperation op, String fileName, NodeOperationStatus out) throws StepFailure, IOException {
        NodeOperationSpec spec = op.getSpec();
        StepClock clock = new StepClock("agent dump " + op.getMetadata().getName());
        checkPod(op);
        ProcessInfo main = containers.main(spec.getContainerID())
                .orElseThrow(() -> new StepFailure(Reason.NoSuchProcess, "no process of container " + spec.getContainerID() + " on this node"));
        out.setPid(main.pid());
        out.setProcess(main.identity());
        clock.lap("pod and process");

        boolean leaveRunning = Boolean.TRUE.equals(spec.getLeaveRunning());
        boolean leaveStopped = Boolean.TRUE.equals(spec.getLeaveStopped());
        if (leaveRunning && leaveStopped) {
            throw new StepFailure(Reason.InvalidSpec, "leaveRunning and leaveStopped exclude each other");
        }
        // The main process with all its descendants: a restore into a pod re-creates them in the placeholder's
        // PID namespace with the IDs they have in this one.
        checkAllUnderMain(spec.getContainerID(), main);
        DumpOptions options = new DumpOptions(leaveRunning, compression(spec.getCompression()), null, false, leaveStopped,
                false, false, spec.getGhostLimitBytes() == null ? 0 : spec.getGhostLimitBytes());
        // Written where the restore will read it: a copy afterwards would keep a migration's source stopped longer.
        ImageStorage storage = spec.getStorage() == ImageStorage.Shared ? ImageStorage.Shared : ImageStorage.NodeLocal;
        if (storage == ImageStorage.Shared && !images.hasShared()) {
            throw new StepFailure(Reason.ImageNotReachable, "no shared volume is mounted on node " + nodeName);
        }
        if (Boolean.TRUE.equals(spec.getPostCopy())) {
            awaitFollower(op);
            clock.lap("post-copy restore taken up");
        }
        DumpResult result;
        long written;
        try (ImageStore.Writing w = images.create(storage, fileName)) {
            try {
                // Post-copy, a restore may run the process from what is written before the dump ends: should
                // the dump fail, the process stays stopped until that copy is known to be dead.
                boolean postCopy = Boolean.TRUE.equals(spec.getPostCopy());
                result = engine.dump(main.pid(), w.channel(), options, postCopy ? FOLLOWED : Commit.NONE);
            } catch (EngineException e) {
                throw StepFailure.from(e);
            }
            written = w.commit();
        }
        clock.lap("engine dump, file committed to " + storage);
        ImageLocation image = new ImageLocation();
        image.setStorage(storage);
        image.setNode(nodeName);
        image.setFileName(fileName);
        image.setSizeBytes(written);
        image.setSha256(result.sha256());
        out.setImage(image);
        out.setMemoryBytes(result.memoryBytes());
        out.setFrozenMillis(result.frozen().toMillis());
        out.setFrozenAt(result.frozenSince().truncatedTo(ChronoUnit.MILLIS).toString());
        out.setReason(Reason.Dumped);
        out.setMessage("dumped PID " + main.pid() + " to " + storage + " " + fileName);
        metrics.imageBytes("dump", written);
        metrics.frozen(result.frozen());
    }

    /**
     * A dump of the main process takes its descendants; a process of the container outside that tree (one
     * started by kubectl exec, a child of the runtime's shim) would be left out of the image: refused.
     */
    private void checkAllUnderMain(String containerID, ProcessInfo main) throws StepFailure, IOException {
        java.util.Map<Integer, Integer> parents = new java.util.HashMap<>();
        for (int pid : containers.pids(containerID)) {
            try {
                parents.put(pid, ProcessInfo.read(procRoot, pid).ppid());
            } catch (IOException e) {
                // exited while we looked
            }
        }
        for (int pid : parents.keySet()) {
            int p = pid;
            while (p != main.pid() && parents.containsKey(p)) {
                p = parents.get(p);
            }
            if (p != main.pid()) {
                throw new StepFailure(Reason.Unsupported, "process " + pid + " of container " + containerID
                        + " is not a descendant of its main process " + main.pid() + " (started by exec?); "
                        + "only the main process and its descendants are checkpointed");
            }
        }
    }

    /**
     * 1 pod check, 2 the container's main process is the one the dump left stopped, 3 SIGCONT to it and to
     * its descendants the dump left stopped too, 4 it runs. A process found running already was resumed
     * before (by this step interrupted, or by hand): done.
     */
    private void resume(NodeOperation op, NodeOperationStatus out) throws StepFailure, IOException {
        NodeOperationSpec spec = op.getSpec();
        checkPod(op);
        ProcessInfo main = containers.main(spec.getContainerID())
                .orElseThrow(() -> new StepFailure(Reason.NoSuchProcess, "no process of container " + spec.getContainerID() + " on this node"));
        if (spec.getPid() == null || main.pid() != spec.getPid()) {
            throw new StepFailure(Reason.NoSuchProcess, "the main process of container " + spec.getContainerID()
                    + " is PID " + main.pid() + ", not the dumped PID " + spec.getPid() + " (did the container restart?)");
        }
        out.setPid(main.pid());
        out.setReason(Reason.Resumed);
        List<Integer> stopped = new java.util.ArrayList<>();
        for (int pid : containers.pids(spec.getContainerID())) {
            try {
                if (pid != main.pid() && ProcessInfo.read(procRoot, pid).state() == 'T') {
                    stopped.add(pid);
                }
            } catch (IOException e) {
                // exited while we looked
            }
        }
        if (main.state() != 'T' && stopped.isEmpty()) {
            out.setMessage("PID " + main.pid() + " was already running (state " + main.state() + ")");
            return;
        }
        stopped.add(main.pid());
        for (int pid : stopped) {
            try {
                Kernel.kill(pid, Sys.SIGCONT);
            } catch (SysException e) {
                throw new StepFailure(Reason.SystemError, "SIGCONT to PID " + pid + ": " + e.getMessage());
            }
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        char state = ProcessInfo.read(procRoot, main.pid()).state();
        while (state == 'T' && System.nanoTime() < deadline) {
            sleep(20);
            state = ProcessInfo.read(procRoot, main.pid()).state();
        }
        if (state == 'T') {
            throw new StepFailure(Reason.SystemError, "PID " + main.pid() + " is still stopped after SIGCONT (traced by someone?)");
        }
        out.setMessage("resumed PID " + main.pid()
                + (stopped.size() > 1 ? " and " + (stopped.size() - 1) + " of its descendants" : ""));
    }

    /**
     * 1 pod check, 2 the image is here and hashes right, 3 the placeholder, 4 privileges and memory,
     * 5 transplant, 6 confirm the takeover.
     */
    /** How long a post-copy dump waits for its restore to be taken up by the target node's agent. */
    static final Duration FOLLOWER_WAIT = Duration.ofSeconds(30);

    /**
     * Post-copy: the process is stopped only once the restore that reads its image as it is written waits
     * for it, its pod and placeholder checked (or has ended), so that the copy is built while the dump has
     * just begun; the process runs on meanwhile. After {@link #FOLLOWER_WAIT} the dump goes on regardless.
     * (Waiting for the claim alone, the first Migration's downtime included the target's first pod check:
     * 0.66 s.)
     */
    private void awaitFollower(NodeOperation op) throws StepFailure {
        String uid = op.getSpec().getCheckpointUid();
        long deadline = System.nanoTime() + FOLLOWER_WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            boolean taken = client.resources(NodeOperation.class).inNamespace(op.getMetadata().getNamespace()).list()
                    .getItems().stream().anyMatch(o -> o.getSpec() != null && o.getSpec().getType() == NodeOperation.Type.Restore
                            && Boolean.TRUE.equals(o.getSpec().getPostCopy()) && Objects.equals(uid, o.getSpec().getCheckpointUid())
                            && o.getStatus() != null && o.getStatus().getPhase() != null
                            && (o.getStatus().getPhase().terminal() || o.getStatus().getReason() == Reason.WaitingForImage));
            if (taken) {
                return;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new StepFailure(Reason.SystemError, "interrupted while waiting for the post-copy restore");
            }
        }
    }

    /** Post-copy: tells the dump's agent, through this operation's status, that the restore waits for the image. */
    private void announceWaiting(NodeOperation op) {
        try {
            NodeOperation latest = client.resources(NodeOperation.class).inNamespace(op.getMetadata().getNamespace())
                    .withName(op.getMetadata().getName()).get();
            if (latest == null || latest.getStatus() == null) {
                return;
            }
            latest.getStatus().setReason(Reason.WaitingForImage);
            latest.getStatus().setMessage("pod and placeholder checked; waiting for the image being written");
            client.resources(NodeOperation.class).inNamespace(op.getMetadata().getNamespace()).resource(latest)
                    .updateStatus();
        } catch (RuntimeException e) {
            // The dump then starts after its wait runs out (FOLLOWER_WAIT): later, never wrong.
            System.getLogger("telefork").log(System.Logger.Level.WARNING, "could not say that "
                    + op.getMetadata().getName() + " waits for its image: " + e.getMessage());
        }
    }

    /** The commit of a post-copy dump, whose image a restore reads as it is written. */
    private static final Commit FOLLOWED = new Commit() {
        @Override
        public void confirm() {
        }

        @Override
        public boolean copyMayRun() {
            return true;
        }
    };

    /** How long a post-copy restore waits for the dump to create the image, and for it to grow. */
    static final Duration POST_COPY_APPEAR = Duration.ofSeconds(60);
    static final Duration POST_COPY_STALL = Duration.ofSeconds(30);

    private void restore(NodeOperation op, String fileName, NodeOperationStatus out) throws StepFailure, IOException {
        NodeOperationSpec spec = op.getSpec();
        StepClock clock = new StepClock("agent restore " + op.getMetadata().getName());
        Instant stepStart = Instant.now();
        checkPod(op);
        ImageLocation image = spec.getImage();
        boolean postCopy = Boolean.TRUE.equals(spec.getPostCopy());
        if (image == null || (image.getSha256() == null && !postCopy)) {
            throw new StepFailure(Reason.InvalidSpec, "the operation names no image digest");
        }
        if (postCopy && (image.getStorage() != ImageStorage.Shared || !Boolean.TRUE.equals(spec.getLazy()))) {
            throw new StepFailure(Reason.InvalidSpec, "postCopy needs a lazy restore of an image in Shared storage");
        }
        ImageStorage storage = image.getStorage() == null ? ImageStorage.NodeLocal : image.getStorage();
        if (storage == ImageStorage.NodeLocal && !nodeName.equals(image.getNode())) {
            throw new StepFailure(Reason.ImageNotReachable, "the image is in the node-local directory of " + image.getNode());
        }
        if (storage == ImageStorage.Shared && !images.hasShared()) {
            throw new StepFailure(Reason.ImageNotReachable, "no shared volume is mounted on node " + nodeName);
        }
        Path file = images.path(storage, fileName);
        if (!postCopy && !Files.isRegularFile(file)) {
            throw new StepFailure(Reason.ImageNotReachable, "image " + fileName + " is not in " + storage + " storage on " + nodeName);
        }
        boolean lazy = Boolean.TRUE.equals(spec.getLazy());
        // Lazily, the engine verifies every record against the image's digest while the process runs, and
        // kills it on a mismatch (a migration's source is still there to resume): here, only that the file is that
        // image. Eagerly, all of it before the engine reads a byte: a corrupt image must not get past the point of
        // no return. Post-copy, the file is still being written: the engine checks its END record when it gets
        // there, and the file's name (the checkpoint's UID) says whose image it is.
        if (!postCopy) {
            verify(file, image.getSha256(), !lazy);
        }
        clock.lap(postCopy ? "pod check" : lazy ? "pod check, image's END record" : "pod check, image digest");

        ProcessInfo vessel = awaitPlaceholder(spec.getContainerID());
        // The placeholder's parent when it is the container's main process (the operator's waiting shell):
        // a tree whose first process was its container's main process goes there, with its PID.
        ProcessInfo init = containers.main(spec.getContainerID()).filter(m -> m.pid() == vessel.ppid()).orElse(null);
        List<String> cgroupsBefore = containers.cgroups(vessel.pid());
        preflight.memory(spec.getMemoryBytes() == null ? 0 : spec.getMemoryBytes(), cgroupsBefore);
        if (postCopy) {
            announceWaiting(op);
        }
        // Post-copy, the checkpoint has not recorded the process's credentials yet: the image has, first thing.
        Preflight.privileges(postCopy ? identityInImage(file) : spec.getProcess(), vessel);
        clock.lap("placeholder, preflight");

        RestoreResult result;
        try (ReadableByteChannel in = postCopy ? growing(file) : FileChannel.open(file, StandardOpenOption.READ)) {
            Instant engineStart = Instant.now();
            result = engine.restoreInto(vessel.pid(), init == null ? 0 : init.pid(), in,
                    new RestoreOptions(Boolean.TRUE.equals(spec.getAllowChangedFiles()), null, null, null, lazy));
            Instant allIn = Instant.now();
            out.setResumedAt((result.lazy() ? engineStart.plus(result.total()) : allIn).truncatedTo(ChronoUnit.MILLIS).toString());
            out.setLazy(result.lazy());
            out.setMemoryInMillis(Duration.between(stepStart, allIn).toMillis());
        } catch (EngineException e) {
            throw StepFailure.from(e);
        }
        clock.lap(result.lazy() ? "engine restore (running after " + result.total().toMillis() + " ms, every page in after "
                + result.allIn().toMillis() + " ms)" : "engine restore");
        confirm(init != null && result.pid() == init.pid() ? init : vessel, result.pid(),
                spec.getProcess() == null ? null : spec.getProcess().getComm(), cgroupsBefore);
        clock.lap("takeover confirmed");
        out.setPid(result.pid());
        out.setOriginalPid(result.originalPid());
        out.setMemoryBytes(result.memoryBytes());
        out.setReason(Reason.Restored);
        out.setMessage("restored PID " + result.originalPid() + " into " + (result.pid() == vessel.pid()
                ? "placeholder PID " + vessel.pid() : "the placeholder's parent, PID " + result.pid())
                + (result.lazy() ? " lazily: running after " + result.total().toMillis() + " ms, every page in after "
                        + result.allIn().toMillis() + " ms" : "")
                + (result.lazyRefusal() != null ? " eagerly, as it could not be lazily: " + result.lazyRefusal() : ""));
        if (Files.isRegularFile(file)) {
            metrics.imageBytes("restore", Files.size(file));
        }
    }

    /** The credentials of the image's first process, read from the image as soon as its metadata is written. */
    private static ProcessIdentity identityInImage(Path file) throws StepFailure, IOException {
        try (ReadableByteChannel in = growing(file); ImageReader reader = new ImageReader(in)) {
            io.telefork.image.ProcessInfo p = ImageTree.read(reader).root().process();
            Credentials c = p.credentials();
            ProcessIdentity id = new ProcessIdentity();
            id.setComm(p.comm());
            id.setUid(c.uids()[1]);
            id.setGid(c.gids()[1]);
            id.setCapEff(String.format("%016x", c.caps()[Credentials.CAP_EFFECTIVE]));
            id.setNoNewPrivs(c.noNewPrivs());
            id.setSeccomp(c.seccomp());
            return id;
        } catch (ImageFormatException e) {
            throw new StepFailure(Reason.BadImage, "the image being written is not one: " + e.getMessage(), e);
        }
    }

    /** The image as its dump writes it: the stream waits at its end for more (see {@link GrowingImage}). */
    private static ReadableByteChannel growing(Path file) throws StepFailure, IOException {
        try {
            return GrowingImage.open(ImageStore.partial(file), file, POST_COPY_APPEAR, POST_COPY_STALL);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new StepFailure(Reason.ImageNotReachable, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StepFailure(Reason.SystemError, "interrupted while waiting for the image");
        }
    }

    private static void verify(Path file, String sha256, boolean everyByte) throws StepFailure, IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            if (everyByte) {
                ImageDigest.verify(ch, sha256);
            } else {
                ImageDigest.checkEnd(ch, sha256);
            }
        } catch (ImageFormatException e) {
            throw new StepFailure(Reason.ChecksumMismatch, file.getFileName() + ": " + e.getMessage());
        }
    }

    /**
     * The placeholder of a target container. The operator's target pods run it as the only child of a
     * shell, which the runtime may report running a moment before the shell has forked it: wait a little
     * for that child before settling for a childless main process (a user's own placeholder pod).
     */
    private ProcessInfo awaitPlaceholder(String containerID) throws StepFailure, IOException {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(3);
        while (true) {
            java.util.Optional<ProcessInfo> main = containers.main(containerID);
            java.util.Optional<ProcessInfo> p = containers.placeholder(containerID);
            boolean childFound = p.isPresent() && main.isPresent() && p.get().pid() != main.get().pid();
            if (childFound || System.nanoTime() > deadline) {
                return p.orElseThrow(() -> new StepFailure(Reason.TargetPodNotUsable,
                        "no single placeholder process in container " + containerID));
            }
            sleep(100);
        }
    }

    private static void sleep(long millis) throws StepFailure {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StepFailure(Reason.SystemError, "interrupted");
        }
    }

    /** The process in the placeholder's place is the restored one, alive, where the placeholder was. */
    private void confirm(ProcessInfo vessel, int pid, String comm, List<String> cgroupsBefore) throws StepFailure, IOException {
        ProcessInfo now;
        try {
            now = ProcessInfo.read(procRoot, pid);
        } catch (IOException e) {
            throw new StepFailure(Reason.TakeoverNotConfirmed, "restored PID " + pid + " is gone");
        }
        if (now.state() == 'Z' || now.state() == 'X') {
            throw new StepFailure(Reason.TakeoverNotConfirmed, "restored PID " + pid + " exited at once");
        }
        if (pid != vessel.pid() || now.nsPid() != vessel.nsPid()) {
            throw new StepFailure(Reason.TakeoverNotConfirmed, "restored PID " + pid + " is not the placeholder PID " + vessel.pid());
        }
        if (comm != null && !comm.equals(now.comm())) {
            throw new StepFailure(Reason.TakeoverNotConfirmed, "PID " + pid + " is " + now.comm() + ", expected " + comm);
        }
        if (!containers.cgroups(pid).equals(cgroupsBefore)) {
            throw new StepFailure(Reason.TakeoverNotConfirmed, "PID " + pid + " left the placeholder's cgroups");
        }
    }

    /** The pod is the one the operator meant (same UID), on this node, with the same container running. */
    private void checkPod(NodeOperation op) throws StepFailure {
        NodeOperationSpec spec = op.getSpec();
        Pod pod = client.pods().inNamespace(op.getMetadata().getNamespace()).withName(spec.getPodName()).get();
        if (pod == null || !Objects.equals(pod.getMetadata().getUid(), spec.getPodUid())) {
            throw new StepFailure(Reason.PodNotFound, "pod " + spec.getPodName() + " with uid " + spec.getPodUid() + " does not exist");
        }
        if (!nodeName.equals(pod.getSpec().getNodeName())) {
            throw new StepFailure(Reason.WrongNode, "pod " + spec.getPodName() + " runs on " + pod.getSpec().getNodeName() + ", not on " + nodeName);
        }
        ContainerStatus cs = pod.getStatus() == null || pod.getStatus().getContainerStatuses() == null ? null
                : pod.getStatus().getContainerStatuses().stream().filter(c -> c.getName().equals(spec.getContainerName())).findFirst().orElse(null);
        if (cs == null || !Objects.equals(cs.getContainerID(), spec.getContainerID())
                || cs.getState() == null || cs.getState().getRunning() == null) {
            throw new StepFailure(Reason.ContainerNotRunning, "container " + spec.getContainerName() + " (" + spec.getContainerID() + ") is no longer running");
        }
    }

    private static Compression compression(ImageCompression c) {
        if (c == null) {
            return Compression.LZ4;
        }
        return switch (c) {
            case None -> Compression.NONE;
            case Lz4 -> Compression.LZ4;
            case Zstd -> Compression.ZSTD;
        };
    }
}
