package io.telefork.operator;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesList;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.client.utils.Serialization;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/** The chart renders and lints (Helm itself, as a native library), and says what it should. */
class HelmChartTest {

    static final Path CHART = Path.of(System.getProperty("telefork.chart", "../helm/telefork"));

    @Test
    void lintsCleanInStrictMode() {
        LintResult lint = new Helm(CHART).lint().strict().call();
        assertThat(lint.isFailed()).as(String.join("\n", lint.getMessages())).isFalse();
    }

    @Test
    void chartCarriesTheGeneratedCrds() throws Exception {
        try (var files = Files.list(CHART.resolve("crds"))) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder(
                    "checkpoints.telefork.io-v1.yml", "restores.telefork.io-v1.yml",
                    "migrations.telefork.io-v1.yml", "nodeoperations.telefork.io-v1.yml");
        }
    }

    @Test
    void agentIsAPrivilegedHostPidDaemonSetOnItsNodeWithTheImageDirectory() {
        List<HasMetadata> objects = render(false);
        DaemonSet ds = one(objects, DaemonSet.class);
        PodSpec pod = ds.getSpec().getTemplate().getSpec();
        assertThat(pod.getHostPID()).isTrue();
        var c = pod.getContainers().get(0);
        assertThat(c.getSecurityContext().getPrivileged()).isTrue();
        EnvVar node = c.getEnv().stream().filter(e -> e.getName().equals("NODE_NAME")).findFirst().orElseThrow();
        assertThat(node.getValueFrom().getFieldRef().getFieldPath()).isEqualTo("spec.nodeName");
        assertThat(pod.getVolumes()).filteredOn(v -> v.getHostPath() != null)
                .anySatisfy(v -> assertThat(v.getHostPath().getPath()).isEqualTo("/var/lib/telefork/images"));
        assertThat(pod.getVolumes()).noneMatch(v -> v.getPersistentVolumeClaim() != null);
        assertThat(c.getEnv()).noneMatch(e -> e.getName().equals("TELEFORK_SHARED_DIR"));
        assertThat(c.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/readyz");
        assertThat(c.getImage()).isEqualTo("telefork/agent:0.1.0-SNAPSHOT");
    }

    @Test
    void sharedClaimIsMountedByEveryAgentWhenNamed() {
        DaemonSet ds = one(render(true), DaemonSet.class);
        PodSpec pod = ds.getSpec().getTemplate().getSpec();
        assertThat(pod.getVolumes()).filteredOn(v -> v.getPersistentVolumeClaim() != null)
                .singleElement().satisfies(v -> assertThat(v.getPersistentVolumeClaim().getClaimName()).isEqualTo("telefork-images"));
        assertThat(pod.getContainers().get(0).getEnv()).anySatisfy(e -> {
            assertThat(e.getName()).isEqualTo("TELEFORK_SHARED_DIR");
            assertThat(e.getValue()).isEqualTo("/var/lib/telefork/shared");
        });
        assertThat(pod.getNodeSelector()).containsEntry("telefork.io/agent", "yes");
    }

    @Test
    void agentRbacIsOnlyWhatItUses() {
        List<HasMetadata> objects = render(false);
        ClusterRole agent = objects.stream().filter(o -> o instanceof ClusterRole && o.getMetadata().getName().endsWith("-agent"))
                .map(ClusterRole.class::cast).findFirst().orElseThrow();
        Set<String> grants = agent.getRules().stream().flatMap(HelmChartTest::grants).collect(Collectors.toSet());
        assertThat(grants).containsExactlyInAnyOrder(
                "telefork.io/nodeoperations:get", "telefork.io/nodeoperations:list", "telefork.io/nodeoperations:watch",
                "telefork.io/nodeoperations/status:update", "telefork.io/nodeoperations/status:patch",
                "/pods:get");

        ClusterRole operator = objects.stream().filter(o -> o instanceof ClusterRole && o.getMetadata().getName().endsWith("-operator"))
                .map(ClusterRole.class::cast).findFirst().orElseThrow();
        Set<String> op = operator.getRules().stream().flatMap(HelmChartTest::grants).collect(Collectors.toSet());
        assertThat(op).contains("telefork.io/checkpoints/status:patch", "telefork.io/nodeoperations:create", "/pods:create",
                "/pods:delete", "/events:create", "/nodes:get");
        assertThat(op).noneMatch(g -> g.contains("secrets") || g.contains("*"));
        assertThat(one(objects, Deployment.class).getSpec().getTemplate().getSpec().getSecurityContext().getRunAsNonRoot()).isTrue();
    }

    private static java.util.stream.Stream<String> grants(PolicyRule r) {
        return r.getApiGroups().stream().flatMap(g -> r.getResources().stream().flatMap(res -> r.getVerbs().stream()
                .map(v -> g + "/" + res + ":" + v)));
    }

    private static List<HasMetadata> render(boolean shared) {
        var t = new Helm(CHART).template().withName("tf").withNamespace("telefork-system");
        if (shared) {
            t = t.set("storage.sharedClaimName", "telefork-images").set("agent.nodeSelector.telefork\\.io/agent", "yes");
        }
        String yaml = t.call();
        assertThat(yaml).contains("kind: DaemonSet").contains("kind: Deployment");
        Object parsed = Serialization.unmarshal(new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8)));
        if (parsed instanceof KubernetesList list) {
            return list.getItems();
        }
        if (parsed instanceof List<?> l) {
            return l.stream().map(HasMetadata.class::cast).toList();
        }
        return List.of((HasMetadata) parsed);
    }

    private static <T> T one(List<HasMetadata> objects, Class<T> type) {
        List<T> found = objects.stream().filter(type::isInstance).map(type::cast).toList();
        assertThat(found).hasSize(1);
        return found.get(0);
    }
}
