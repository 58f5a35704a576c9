package io.telefork.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * Moves a pod's process to another node: a Checkpoint to the shared volume, a Restore on the target
 * node, and only after that succeeded, deletion of the source pod.
 */
@Group(Checkpoint.GROUP)
@Version(Checkpoint.VERSION)
@ShortNames("mig")
@AdditionalPrinterColumn(name = "Target", jsonPath = ".status.targetPod", type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(name = "Age", jsonPath = ".metadata.creationTimestamp", type = AdditionalPrinterColumn.Type.DATE)
public class Migration extends CustomResource<MigrationSpec, MigrationStatus> implements Namespaced {

    @Override
    @JsonPropertyDescription("The pod (in this namespace) to move and the node to move it to.")
    public MigrationSpec getSpec() {
        return super.getSpec();
    }

    @Override
    @JsonPropertyDescription("Progress and result, written by the operator: the Checkpoint and Restore it made, target pod, whether the source pod was deleted.")
    public MigrationStatus getStatus() {
        return super.getStatus();
    }
}
