package io.telefork.operator;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.telefork.api.v1alpha1.Checkpoint;
import io.telefork.api.v1alpha1.Migration;
import io.telefork.api.v1alpha1.Restore;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The examples are what the README says: valid resources of our kinds that fit together. */
class ExamplesTest {

    static final Path EXAMPLES = Path.of(System.getProperty("telefork.chart", "../helm/telefork")).resolve("../../examples").normalize();

    private static <T> T load(String file, Class<T> type) throws IOException {
        return Serialization.unmarshal(Files.readString(EXAMPLES.resolve(file)), type);
    }

    @Test
    void examplesFitTogether() throws IOException {
        Pod counter = load("counter/counter.yaml", Pod.class);
        Checkpoint ckpt = load("checkpoint.yaml", Checkpoint.class);
        Restore restore = load("restore.yaml", Restore.class);
        Migration mig = load("migrate.yaml", Migration.class);

        assertThat(ckpt.getApiVersion()).isEqualTo("telefork.io/v1alpha1");
        assertThat(ckpt.getSpec().getPodName()).isEqualTo(counter.getMetadata().getName());
        assertThat(ckpt.getSpec().getContainerName()).isEqualTo(counter.getSpec().getContainers().get(0).getName());
        assertThat(restore.getSpec().getCheckpointName()).isEqualTo(ckpt.getMetadata().getName());
        assertThat(restore.getSpec().getTargetNode()).isEqualTo("NODE_NAME");
        assertThat(restore.getSpec().getTargetPod()).isNull();
        assertThat(mig.getSpec().getPodName()).isEqualTo(counter.getMetadata().getName());
        assertThat(mig.getSpec().getTargetNode()).isEqualTo("OTHER_NODE");
        for (String f : new String[] {"checkpoint.yaml", "restore.yaml", "migrate.yaml", "counter/counter.yaml"}) {
            assertThat(Files.readString(EXAMPLES.resolve(f))).as(f + " says what to run and watch").contains("#   kubectl");
        }
    }
}
