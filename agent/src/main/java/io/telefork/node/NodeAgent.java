package io.telefork.node;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.telefork.api.v1alpha1.Names;
import io.telefork.api.v1alpha1.NodeOperation;
import io.telefork.api.v1alpha1.NodeOperationStatus;
import io.telefork.api.v1alpha1.Phase;
import io.telefork.api.v1alpha1.Reason;

import java.net.HttpURLConnection;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/**
 * The agent's work loop. Watches only the NodeOperations labelled with its node, and performs each one
 * at most once: it claims an operation by moving its status from Pending to Running with an optimistic
 * lock (a conflicting writer loses), and an operation found Running that this process did not claim was
 * interrupted by a restart, so it is failed rather than repeated. One operation at a time: a dump wants
 * the node's cores and disk to itself.
 */
final class NodeAgent implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(NodeAgent.class.getName());

    private final String nodeName;
    private final KubernetesClient client;
    private final NodeSteps steps;
    private final AgentMetrics metrics;
    private final LinkedBlockingQueue<String> queue = new LinkedBlockingQueue<>();
    private final Set<String> mine = ConcurrentHashMap.newKeySet();
    private final Thread worker;
    private volatile SharedIndexInformer<NodeOperation> informer;
    private volatile boolean running = true;

    NodeAgent(String nodeName, KubernetesClient client, NodeSteps steps, AgentMetrics metrics) {
        this.nodeName = nodeName;
        this.client = client;
        this.steps = steps;
        this.metrics = metrics;
        this.worker = new Thread(this::work, "telefork-node-worker");
        this.worker.setDaemon(true);
    }

    /** Starts the worker and the informer without waiting for the API server (readiness says when). */
    void start() {
        worker.start();
        SharedIndexInformer<NodeOperation> i = client.resources(NodeOperation.class).inAnyNamespace()
                .withLabel(Names.NODE_LABEL, nodeName)
                .runnableInformer(TimeUnit.MINUTES.toMillis(5));
        i.addEventHandler(new ResourceEventHandler<>() {
            @Override
            public void onAdd(NodeOperation op) {
                offer(op);
            }

            @Override
            public void onUpdate(NodeOperation old, NodeOperation op) {
                offer(op);
            }

            @Override
            public void onDelete(NodeOperation op, boolean unknownFinalState) {
            }
        });
        informer = i;
        i.start().whenComplete((ok, error) -> {
            if (error != null) {
                LOG.log(System.Logger.Level.ERROR, "cannot watch NodeOperations: " + error);
            }
        });
    }

    boolean live() {
        return running && worker.isAlive();
    }

    boolean ready() {
        SharedIndexInformer<NodeOperation> i = informer;
        return live() && i != null && i.hasSynced();
    }

    private void offer(NodeOperation op) {
        Phase phase = op.getStatus() == null ? null : op.getStatus().getPhase();
        String key = op.getMetadata().getNamespace() + "/" + op.getMetadata().getName();
        if (phase == null || phase == Phase.Pending || (phase == Phase.Running && !mine.contains(key))) {
            queue.offer(key);
        }
    }

    private void work() {
        while (running) {
            String key;
            try {
                key = queue.poll(1, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                return;
            }
            if (key == null) {
                continue;
            }
            try {
                handle(key);
            } catch (RuntimeException e) {
                // The API server was unreachable or the object changed under us: the next event retries.
                LOG.log(System.Logger.Level.WARNING, "node operation " + key + ": " + e);
            }
        }
    }

    private void handle(String key) {
        String ns = key.substring(0, key.indexOf('/'));
        String name = key.substring(key.indexOf('/') + 1);
        NodeOperation op = client.resources(NodeOperation.class).inNamespace(ns).withName(name).get();
        if (op == null || op.getSpec() == null || mine.contains(key)) {
            return;
        }
        Phase phase = op.getStatus() == null ? null : op.getStatus().getPhase();
        if (phase == Phase.Running) {
            // Claimed by an earlier run of this agent that did not finish: the process may be half-dumped
            // or the placeholder half-replaced, so repeating it is not safe.
            finish(op, Phase.Failed, Reason.SystemError, "the agent restarted while this was running; not repeated", null);
            return;
        }
        if (phase != null && phase != Phase.Pending) {
            return;
        }
        if (!nodeName.equals(op.getSpec().getNodeName())) {
            finish(op, Phase.Failed, Reason.WrongNode, "labelled for node " + nodeName + " but meant for " + op.getSpec().getNodeName(), null);
            return;
        }
        NodeOperation claimed = claim(op);
        if (claimed == null) {
            return;
        }
        mine.add(key);
        long t0 = System.nanoTime();
        NodeOperationStatus result = new NodeOperationStatus();
        String kind = op.getSpec().getType().name();
        try {
            steps.run(claimed, result);
            Duration took = Duration.ofNanos(System.nanoTime() - t0);
            result.setTotalMillis(took.toMillis());
            metrics.operation(kind, "Succeeded", took);
            finish(claimed, Phase.Succeeded, result.getReason(), result.getMessage(), result);
        } catch (StepFailure f) {
            Duration took = Duration.ofNanos(System.nanoTime() - t0);
            result.setTotalMillis(took.toMillis());
            metrics.operation(kind, f.reason().name(), took);
            LOG.log(System.Logger.Level.WARNING, kind + " " + key + " failed: " + f.reason() + ": " + f.getMessage());
            finish(claimed, Phase.Failed, f.reason(), f.getMessage(), result);
        } catch (RuntimeException e) {
            Duration took = Duration.ofNanos(System.nanoTime() - t0);
            metrics.operation(kind, Reason.SystemError.name(), took);
            LOG.log(System.Logger.Level.ERROR, kind + " " + key + " failed", e);
            finish(claimed, Phase.Failed, Reason.SystemError, e.toString(), result);
        } finally {
            mine.remove(key);
        }
    }

    /** Pending -> Running under the object's resourceVersion; null if someone else got there first. */
    private NodeOperation claim(NodeOperation op) {
        NodeOperationStatus s = new NodeOperationStatus();
        s.setPhase(Phase.Running);
        s.setStartTime(now());
        op.setStatus(s);
        try {
            return client.resources(NodeOperation.class).inNamespace(op.getMetadata().getNamespace()).resource(op).updateStatus();
        } catch (KubernetesClientException e) {
            if (e.getCode() == HttpURLConnection.HTTP_CONFLICT) {
                return null;
            }
            throw e;
        }
    }

    private void finish(NodeOperation op, Phase phase, Reason reason, String message, NodeOperationStatus result) {
        NodeOperationStatus s = result == null ? new NodeOperationStatus() : result;
        String started = op.getStatus() == null ? null : op.getStatus().getStartTime();
        s.setPhase(phase);
        s.setReason(reason);
        s.setMessage(message);
        s.setStartTime(started == null ? now() : started);
        s.setCompletionTime(now());
        UnaryOperator<NodeOperation> set = o -> {
            o.setStatus(s);
            return o;
        };
        // The result must not be lost to a conflict with an unrelated metadata change: retry on the latest.
        for (int attempt = 0; ; attempt++) {
            NodeOperation latest = client.resources(NodeOperation.class).inNamespace(op.getMetadata().getNamespace())
                    .withName(op.getMetadata().getName()).get();
            if (latest == null) {
                return;
            }
            try {
                client.resources(NodeOperation.class).inNamespace(op.getMetadata().getNamespace()).resource(set.apply(latest)).updateStatus();
                return;
            } catch (KubernetesClientException e) {
                if (e.getCode() != HttpURLConnection.HTTP_CONFLICT || attempt >= 5) {
                    throw e;
                }
            }
        }
    }

    private static String now() {
        return Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    }

    @Override
    public void close() {
        running = false;
        worker.interrupt();
        if (informer != null) {
            informer.close();
        }
    }
}
