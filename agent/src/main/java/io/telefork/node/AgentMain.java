package io.telefork.node;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;

import io.fabric8.kubernetes.client.utils.Serialization;
import io.telefork.api.v1alpha1.NodeOperation;
import io.telefork.api.v1alpha1.NodeOperationSpec;
import io.telefork.api.v1alpha1.NodeOperationStatus;
import io.telefork.engine.Engine;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;

/**
 * The node agent daemon: {@code java -cp telefork.jar io.telefork.node.AgentMain}. Configured by
 * environment (the DaemonSet sets it):
 * <ul>
 * <li>NODE_NAME (required, from the downward API spec.nodeName): the only node whose work it does</li>
 * <li>TELEFORK_IMAGE_DIR: node-local image directory (default /var/lib/telefork/images)</li>
 * <li>TELEFORK_SHARED_DIR: mount point of the shared ReadWriteMany volume (unset: none)</li>
 * <li>TELEFORK_PROC: the host's /proc (default /proc; the pod runs with hostPID)</li>
 * <li>TELEFORK_CGROUP_ROOT: the host's cgroup mount (default /sys/fs/cgroup)</li>
 * <li>TELEFORK_HTTP_PORT: port of /healthz, /readyz and /metrics (default 9400)</li>
 * </ul>
 * The Kubernetes client finds its credentials as usual: in-cluster service account, or KUBECONFIG.
 */
public final class AgentMain {

    /** v1alpha1 is telefork's own API version: no warning about it from every informer. Held here so
     * that java.util.logging does not forget the level with a garbage-collected logger. */
    private static final java.util.logging.Logger VERSION_WARNINGS =
            java.util.logging.Logger.getLogger("io.fabric8.kubernetes.client.dsl.internal.VersionUsageUtils");

    /** Everything the agent is configured with. */
    record Config(String nodeName, Path imageDir, Optional<Path> sharedDir, Path procRoot, Path cgroupRoot, int httpPort) {

        static Config fromEnv(Map<String, String> env) {
            String node = env.get("NODE_NAME");
            if (node == null || node.isBlank()) {
                throw new IllegalArgumentException("NODE_NAME must be set (downward API: spec.nodeName)");
            }
            String shared = env.get("TELEFORK_SHARED_DIR");
            return new Config(node,
                    Path.of(env.getOrDefault("TELEFORK_IMAGE_DIR", "/var/lib/telefork/images")),
                    shared == null || shared.isBlank() ? Optional.empty() : Optional.of(Path.of(shared)),
                    Path.of(env.getOrDefault("TELEFORK_PROC", "/proc")),
                    Path.of(env.getOrDefault("TELEFORK_CGROUP_ROOT", "/sys/fs/cgroup")),
                    Integer.parseInt(env.getOrDefault("TELEFORK_HTTP_PORT", "9400")));
        }
    }

    /** A running agent: the work loop and its HTTP endpoints. */
    static final class Running implements AutoCloseable {
        final NodeAgent agent;
        final HealthServer http;
        final AgentMetrics metrics;

        Running(NodeAgent agent, HealthServer http, AgentMetrics metrics) {
            this.agent = agent;
            this.http = http;
            this.metrics = metrics;
        }

        @Override
        public void close() {
            http.close();
            agent.close();
        }
    }

    private AgentMain() {
    }

    /** Maps the chart's log level names onto java.util.logging, which the agent logs through. */
    private static void logLevel(String name) {
        java.util.logging.Level level = switch (name.toUpperCase()) {
            case "TRACE" -> java.util.logging.Level.FINEST;
            case "DEBUG" -> java.util.logging.Level.FINE;
            case "WARN" -> java.util.logging.Level.WARNING;
            case "ERROR" -> java.util.logging.Level.SEVERE;
            default -> java.util.logging.Level.INFO;
        };
        VERSION_WARNINGS.setLevel(java.util.logging.Level.SEVERE);
        java.util.logging.Logger root = java.util.logging.Logger.getLogger("");
        root.setLevel(level);
        for (var h : root.getHandlers()) {
            h.setLevel(level);
        }
    }

    static Running start(Config config, KubernetesClient client, ProcessEngine engine) throws IOException {
        ImageStore images = new ImageStore(config.imageDir(), config.sharedDir());
        images.init();
        AgentMetrics metrics = new AgentMetrics();
        NodeSteps steps = new NodeSteps(config.nodeName(), client, new ContainerProcesses(config.procRoot()), images,
                new Preflight(config.cgroupRoot()), engine, metrics, config.procRoot());
        NodeAgent agent = new NodeAgent(config.nodeName(), client, steps, metrics);
        HealthServer http = new HealthServer(new InetSocketAddress(config.httpPort()), agent::live, agent::ready, metrics::scrape);
        // Probes answer from the start; /readyz turns 200 once the informer has synced.
        http.start();
        agent.start();
        return new Running(agent, http, metrics);
    }

    public static void main(String[] args) throws Exception {
        logLevel(System.getenv().getOrDefault("TELEFORK_LOG_LEVEL", "INFO"));
        Config config = Config.fromEnv(System.getenv());
        KubernetesClient client = new KubernetesClientBuilder().build();
        Running running = start(config, client, ProcessEngine.real());
        Thread warmUp = new Thread(() -> {
            try {
                new Engine().warmUp();
                new ContainerProcesses(config.procRoot()).main("containerd://" + "0".repeat(64));
                // Jackson's (de)serializers for the kinds the agent reads and writes, built once here.
                NodeOperation sample = new NodeOperation();
                sample.setSpec(new NodeOperationSpec());
                sample.setStatus(new NodeOperationStatus());
                Serialization.unmarshal(Serialization.asJson(sample), NodeOperation.class);
            } catch (IOException | RuntimeException | LinkageError e) {
                // Only the first operation's speed is at stake; it will report real problems itself.
                System.getLogger(AgentMain.class.getName()).log(System.Logger.Level.WARNING, "warm-up: " + e);
            }
        }, "telefork-warm-up");
        warmUp.setDaemon(true);
        warmUp.start();
        System.getLogger(AgentMain.class.getName()).log(System.Logger.Level.INFO,
                "telefork agent for node " + config.nodeName() + " started; images in " + config.imageDir()
                        + config.sharedDir().map(p -> ", shared volume at " + p).orElse(", no shared volume")
                        + "; http on :" + running.http.port());
        CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            running.close();
            client.close();
            stop.countDown();
        }));
        stop.await();
    }
}
