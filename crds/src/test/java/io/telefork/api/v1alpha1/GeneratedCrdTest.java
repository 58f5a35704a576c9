package io.telefork.api.v1alpha1;

import io.fabric8.crdv2.generator.CRDGenerator;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceColumnDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.fabric8.kubernetes.client.utils.Serialization;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** The chart's CRDs are exactly what the classes generate, and every field is documented. */
class GeneratedCrdTest {

    private static final Path CHART_CRDS = Path.of(System.getProperty("telefork.chart.crds", "../helm/telefork/crds"));

    @Test
    void chartCrdsAreExactlyWhatTheClassesGenerate(@TempDir Path dir) throws IOException {
        new CRDGenerator().inOutputDir(dir.toFile()).forCRDVersions("v1")
                .customResourceClasses(Checkpoint.class, Restore.class, Migration.class, NodeOperation.class)
                .generate();

        Set<String> generated = names(dir);
        assertThat(names(CHART_CRDS)).as("files in the chart's crds/").isEqualTo(generated);
        for (String name : generated) {
            assertThat(CHART_CRDS.resolve(name)).as(name).hasSameTextualContentAs(dir.resolve(name));
        }
    }

    @Test
    void everyFieldHasADescription() throws IOException {
        for (String name : names(CHART_CRDS)) {
            CustomResourceDefinition crd = load(name);
            JSONSchemaProps schema = crd.getSpec().getVersions().get(0).getSchema().getOpenAPIV3Schema();
            List<String> undocumented = new ArrayList<>();
            for (String top : List.of("spec", "status")) {
                collectUndocumented(top, schema.getProperties().get(top), undocumented, false);
            }
            assertThat(undocumented).as("fields without description in " + name).isEmpty();
        }
    }

    @Test
    void kindsAreNamespacedWithShortNamesAndStatusSubresource() throws IOException {
        Map<String, String> shortNames = Map.of(
                "checkpoints.telefork.io-v1.yml", "ckpt",
                "restores.telefork.io-v1.yml", "rst",
                "migrations.telefork.io-v1.yml", "mig",
                "nodeoperations.telefork.io-v1.yml", "nodeop");
        for (var e : shortNames.entrySet()) {
            CustomResourceDefinition crd = load(e.getKey());
            assertThat(crd.getSpec().getGroup()).isEqualTo("telefork.io");
            assertThat(crd.getSpec().getScope()).isEqualTo("Namespaced");
            assertThat(crd.getSpec().getNames().getShortNames()).containsExactly(e.getValue());
            assertThat(crd.getSpec().getVersions()).singleElement().satisfies(v -> {
                assertThat(v.getName()).isEqualTo("v1alpha1");
                assertThat(v.getSubresources().getStatus()).isNotNull();
            });
        }
    }

    @Test
    void getCheckpointShowsPodNodePhaseSizeAndAge() throws IOException {
        List<CustomResourceColumnDefinition> columns = load("checkpoints.telefork.io-v1.yml")
                .getSpec().getVersions().get(0).getAdditionalPrinterColumns();
        Map<String, String> byName = columns.stream()
                .collect(Collectors.toMap(CustomResourceColumnDefinition::getName, CustomResourceColumnDefinition::getJsonPath));
        assertThat(byName).containsEntry("Pod", ".spec.podName")
                .containsEntry("Node", ".status.nodeName")
                .containsEntry("Phase", ".status.phase")
                .containsEntry("Size", ".status.image.sizeBytes")
                .containsEntry("Age", ".metadata.creationTimestamp");
    }

    @Test
    void reasonsAreAnEnumInTheSchema() throws IOException {
        JSONSchemaProps reason = load("checkpoints.telefork.io-v1.yml").getSpec().getVersions().get(0)
                .getSchema().getOpenAPIV3Schema().getProperties().get("status").getProperties().get("conditions")
                .getItems().getSchema().getProperties().get("reason");
        assertThat(reason.getEnum()).hasSize(Reason.values().length);
    }

    private static void collectUndocumented(String path, JSONSchemaProps props, List<String> out, boolean top) {
        if (props == null) {
            return;
        }
        if (!top && (props.getDescription() == null || props.getDescription().isBlank())) {
            out.add(path);
        }
        if (props.getProperties() != null) {
            props.getProperties().forEach((k, v) -> collectUndocumented(path + "." + k, v, out, false));
        }
        if (props.getItems() != null && props.getItems().getSchema() != null
                && props.getItems().getSchema().getProperties() != null) {
            props.getItems().getSchema().getProperties()
                    .forEach((k, v) -> collectUndocumented(path + "[]." + k, v, out, false));
        }
    }

    private static CustomResourceDefinition load(String name) throws IOException {
        try (var in = Files.newInputStream(CHART_CRDS.resolve(name))) {
            return Serialization.unmarshal(in, CustomResourceDefinition.class);
        }
    }

    private static Set<String> names(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".yml")).collect(Collectors.toSet());
        }
    }
}
