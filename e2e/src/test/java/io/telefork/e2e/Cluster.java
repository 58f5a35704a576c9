package io.telefork.e2e;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.Release;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.dsl.MixedOperation;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceList;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * The cluster of e2e/cluster.sh, seen from the host: the admin client, the chart install, the test
 * workload and small helpers (waits, logs, host PIDs of containers, timings).
 */
final class Cluster {

    static final Path REPO = Path.of(System.getProperty("telefork.repo", "..")).toAbsolutePath().normalize();
    static final Path KUBECONFIG = Path.of(System.getenv().getOrDefault("KUBECONFIG", "/var/lib/telefork-e2e/admin.kubeconfig"));
    static final Path STATE = Path.of(System.getenv().getOrDefault("KUBE_E2E_STATE", "/var/lib/telefork-e2e"));
    static final String SYSTEM_NS = "telefork-system";
    static final String RELEASE = "telefork";
    static final String SHARED_CLAIM = "telefork-shared";
    static final String NS = "telefork-e2e";
    static final String WORKLOAD_IMAGE = "telefork-e2e/counter-sh:1";
    static final String GROUP_VERSION = "telefork.io/v1alpha1";
    static final Path OUT = Path.of("target", "e2e");

    private static KubernetesClient client;
    private static final Map<String, String> TIMINGS = new LinkedHashMap<>();

    private Cluster() {
    }

    static synchronized KubernetesClient client() {
        if (client == null) {
            client = new KubernetesClientBuilder().withConfig(config()).build();
        }
        return client;
    }

    static Config config() {
        try {
            return Config.fromKubeconfig(Files.readString(KUBECONFIG));
        } catch (IOException e) {
            throw new IllegalStateException("no kubeconfig " + KUBECONFIG + " (is the cluster up?)", e);
        }
    }

    /** A client that acts as ServiceAccount ns/name (impersonation by the admin). */
    static KubernetesClient clientAs(String ns, String serviceAccount) {
        Config c = new ConfigBuilder(config())
                .withImpersonateUsername("system:serviceaccount:" + ns + ":" + serviceAccount)
                .withImpersonateGroups("system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated")
                .build();
        return new KubernetesClientBuilder().withConfig(c).build();
    }

    static MixedOperation<GenericKubernetesResource, GenericKubernetesResourceList, Resource<GenericKubernetesResource>> kind(String kind) {
        return client().genericKubernetesResources(GROUP_VERSION, kind);
    }

    /** Installs the chart once per cluster (idempotent: skipped when the operator Deployment exists). */
    static synchronized void installChart() throws Exception {
        KubernetesClient k = client();
        if (k.apps().deployments().inNamespace(SYSTEM_NS).withName(RELEASE + "-operator").get() != null) {
            waitChartReady();
            return;
        }
        if (k.namespaces().withName(SYSTEM_NS).get() == null) {
            k.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(SYSTEM_NS).endMetadata().build()).create();
        }
        long t0 = System.nanoTime();
        Release r = new Helm(REPO.resolve("helm/telefork"))
                .install()
                .withName(RELEASE)
                .withNamespace(SYSTEM_NS)
                .withKubeConfig(KUBECONFIG)
                .set("images.operator.pullPolicy", "Never")
                .set("images.agent.pullPolicy", "Never")
                .set("storage.sharedClaimName", SHARED_CLAIM)
                .set("operator.pollInterval", "1s")
                .set("logLevel", System.getProperty("telefork.e2e.logLevel", "INFO"))
                .call();
        System.out.println("helm install: " + r.getName() + " " + r.getStatus() + " revision " + r.getRevision());
        waitChartReady();
        timing("helm install + operator and agents ready", t0);
    }

    static void waitChartReady() {
        KubernetesClient k = client();
        k.apps().deployments().inNamespace(SYSTEM_NS).withName(RELEASE + "-operator")
                .waitUntilCondition(d -> d != null && d.getStatus() != null && d.getStatus().getReadyReplicas() != null
                        && d.getStatus().getReadyReplicas() >= 1, 180, java.util.concurrent.TimeUnit.SECONDS);
        k.apps().daemonSets().inNamespace(SYSTEM_NS).withName(RELEASE + "-agent")
                .waitUntilCondition(d -> d != null && d.getStatus() != null && d.getStatus().getNumberReady() != null
                        && d.getStatus().getNumberReady() == 2, 180, java.util.concurrent.TimeUnit.SECONDS);
    }

    static void ensureNamespace(String ns) {
        if (client().namespaces().withName(ns).get() == null) {
            client().namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
        }
        // Pods need the namespace's default ServiceAccount (made by the controller manager).
        await("default ServiceAccount in " + ns, Duration.ofSeconds(60),
                () -> client().serviceAccounts().inNamespace(ns).withName("default").get() != null);
    }

    /** A single-container pod running COMMAND in the workload image, pinned to NODE (spec.nodeName). */
    static Pod workloadPod(String ns, String name, String node, String... command) {
        return new PodBuilder()
                .withNewMetadata().withName(name).withNamespace(ns).addToLabels("app", name).endMetadata()
                .withNewSpec()
                .withNodeName(node)
                .withTerminationGracePeriodSeconds(2L)
                .addNewContainer()
                .withName("counter")
                .withImage(WORKLOAD_IMAGE)
                .withImagePullPolicy("Never")
                .withCommand(command)
                .addNewEnv().withName("PATH").withValue("/bin:/").endEnv()
                .endContainer()
                .endSpec()
                .build();
    }

    static Pod runPod(Pod pod) {
        String ns = pod.getMetadata().getNamespace();
        client().pods().inNamespace(ns).resource(pod).create();
        return client().pods().inNamespace(ns).withName(pod.getMetadata().getName())
                .waitUntilCondition(p -> p != null && p.getStatus() != null && "Running".equals(p.getStatus().getPhase())
                        && p.getStatus().getContainerStatuses() != null
                        && p.getStatus().getContainerStatuses().stream().allMatch(c -> Boolean.TRUE.equals(c.getReady())),
                        120, java.util.concurrent.TimeUnit.SECONDS);
    }

    /** A telefork resource of {@code kind} with {@code spec}, to be created. */
    static GenericKubernetesResource resource(String kind, String ns, String name, Map<String, Object> spec) {
        GenericKubernetesResource r = new GenericKubernetesResource();
        r.setApiVersion(GROUP_VERSION);
        r.setKind(kind);
        r.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(ns).build());
        r.setAdditionalProperty("spec", spec);
        return r;
    }

    /** Loads an example YAML from the repository (after text replacements) into namespace NS. */
    static GenericKubernetesResource example(String file, String ns, String... replacements) throws IOException {
        String yaml = Files.readString(REPO.resolve("examples").resolve(file));
        for (int i = 0; i + 1 < replacements.length; i += 2) {
            yaml = yaml.replace(replacements[i], replacements[i + 1]);
        }
        List<HasMetadata> items = client().load(new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8))).items();
        GenericKubernetesResource r = client().getKubernetesSerialization().convertValue(items.get(0), GenericKubernetesResource.class);
        r.getMetadata().setNamespace(ns);
        return r;
    }

    static GenericKubernetesResource create(GenericKubernetesResource r) {
        return kind(r.getKind()).inNamespace(r.getMetadata().getNamespace()).resource(r).create();
    }

    static GenericKubernetesResource get(String kind, String ns, String name) {
        return kind(kind).inNamespace(ns).withName(name).get();
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> status(GenericKubernetesResource r) {
        Object s = r == null ? null : r.getAdditionalProperties().get("status");
        return s instanceof Map ? (Map<String, Object>) s : Map.of();
    }

    @SuppressWarnings("unchecked")
    static Object path(Map<String, Object> m, String dotted) {
        Object cur = m;
        for (String p : dotted.split("\\.")) {
            if (!(cur instanceof Map)) {
                return null;
            }
            cur = ((Map<String, Object>) cur).get(p);
        }
        return cur;
    }

    static String phase(GenericKubernetesResource r) {
        return (String) status(r).get("phase");
    }

    /** Waits until KIND/NAME's phase is one of the final phases; returns the resource. */
    static GenericKubernetesResource waitFinal(String kind, String ns, String name, Duration timeout) {
        GenericKubernetesResource[] last = new GenericKubernetesResource[1];
        await(kind + " " + ns + "/" + name + " Succeeded or Failed", timeout, () -> {
            last[0] = get(kind, ns, name);
            String p = phase(last[0]);
            return "Succeeded".equals(p) || "Failed".equals(p);
        }, () -> String.valueOf(last[0] == null ? null : status(last[0])));
        return last[0];
    }

    @SuppressWarnings("unchecked")
    static Optional<Map<String, Object>> condition(GenericKubernetesResource r, String type) {
        Object cs = status(r).get("conditions");
        if (!(cs instanceof List)) {
            return Optional.empty();
        }
        return ((List<Map<String, Object>>) cs).stream().filter(c -> type.equals(c.get("type"))).findFirst();
    }

    static void await(String what, Duration timeout, Supplier<Boolean> check) {
        await(what, timeout, check, () -> "");
    }

    static void await(String what, Duration timeout, Supplier<Boolean> check, Supplier<String> onTimeout) {
        Instant end = Instant.now().plus(timeout);
        RuntimeException lastError = null;
        while (Instant.now().isBefore(end)) {
            try {
                if (Boolean.TRUE.equals(check.get())) {
                    return;
                }
                lastError = null;
            } catch (RuntimeException e) {
                lastError = e;
            }
            sleep(250);
        }
        throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting for " + what + " " + onTimeout.get(), lastError);
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static String log(String ns, String pod) {
        String l = client().pods().inNamespace(ns).withName(pod).getLog();
        return l == null ? "" : l;
    }

    /** The numbers a counter printed, in order (lines that are a plain decimal number). */
    static List<Long> numbers(String log) {
        List<Long> out = new ArrayList<>();
        for (String line : log.split("\n")) {
            if (line.matches("\\d+")) {
                out.add(Long.parseLong(line));
            }
        }
        return out;
    }

    static long lastNumber(String ns, String pod) {
        List<Long> n = numbers(log(ns, pod));
        return n.isEmpty() ? -1 : n.get(n.size() - 1);
    }

    /** Host PIDs of the processes in the container with this runtime ID (containerd://HEX or HEX). */
    static List<Long> hostPids(String containerId) throws IOException {
        String id = containerId.replaceFirst("^[a-z-]+://", "");
        List<Long> out = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : (Iterable<Path>) procs::iterator) {
                String n = p.getFileName().toString();
                if (!n.matches("\\d+")) {
                    continue;
                }
                try {
                    String cg = Files.readString(p.resolve("cgroup"));
                    if (cg.contains("/" + id + "\n") || cg.contains("/" + id + "/")) {
                        out.add(Long.parseLong(n));
                    }
                } catch (IOException ignored) {
                    // gone
                }
            }
        }
        return out;
    }

    static String procStatus(long pid, String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith(field + ":")) {
                    return line.substring(field.length() + 1).trim();
                }
            }
        } catch (IOException e) {
            return null;
        }
        return null;
    }

    static String containerId(Pod pod) {
        return pod.getStatus().getContainerStatuses().get(0).getContainerID();
    }

    static Pod pod(String ns, String name) {
        return client().pods().inNamespace(ns).withName(name).get();
    }

    static void forceDeletePod(String ns, String name) {
        client().pods().inNamespace(ns).withName(name).withGracePeriod(0).delete();
    }

    static <T> T waitFor(String what, Duration timeout, Supplier<T> get, Predicate<T> ok) {
        Object[] last = new Object[1];
        await(what, timeout, () -> {
            T v = get.get();
            last[0] = v;
            return ok.test(v);
        }, () -> String.valueOf(last[0]));
        @SuppressWarnings("unchecked") T v = (T) last[0];
        return v;
    }

    static synchronized void timing(String what, long startNanos) {
        timing(what, String.format("%.1f s", (System.nanoTime() - startNanos) / 1e9));
    }

    static synchronized void timing(String what, String value) {
        TIMINGS.put(what, value);
        System.out.println("TIMING " + what + ": " + value);
        try {
            Files.createDirectories(OUT);
            StringBuilder sb = new StringBuilder();
            TIMINGS.forEach((k, v) -> sb.append(k).append('\t').append(v).append('\n'));
            Files.writeString(OUT.resolve("timings.tsv"), sb.toString());
        } catch (IOException e) {
            System.err.println("cannot write timings: " + e);
        }
    }

    /** Saves the operator's and agents' logs and the telefork resources to target/e2e (evidence). */
    static void collect(String label) {
        try {
            Files.createDirectories(OUT);
            KubernetesClient k = client();
            for (Pod p : k.pods().inNamespace(SYSTEM_NS).list().getItems()) {
                String name = p.getMetadata().getName();
                try {
                    Files.writeString(OUT.resolve(label + "-" + name + ".log"),
                            k.pods().inNamespace(SYSTEM_NS).withName(name).getLog());
                } catch (RuntimeException e) {
                    Files.writeString(OUT.resolve(label + "-" + name + ".log"), "no log: " + e);
                }
            }
            StringBuilder sb = new StringBuilder();
            for (String kind : List.of("Checkpoint", "Restore", "Migration", "NodeOperation")) {
                for (GenericKubernetesResource r : kind(kind).inAnyNamespace().list().getItems()) {
                    sb.append("---\n").append(k.getKubernetesSerialization().asYaml(r));
                }
            }
            for (Pod p : k.pods().inAnyNamespace().list().getItems()) {
                sb.append("# pod ").append(p.getMetadata().getNamespace()).append('/').append(p.getMetadata().getName())
                        .append(" node=").append(p.getSpec().getNodeName()).append(" phase=").append(p.getStatus().getPhase())
                        .append(" deleting=").append(p.getMetadata().getDeletionTimestamp()).append('\n');
            }
            Files.writeString(OUT.resolve(label + "-resources.yaml"), sb.toString());
        } catch (Exception e) {
            System.err.println("collect " + label + ": " + e);
        }
    }
}
