package io.telefork.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

/** Brings a Checkpoint back to life in a container, on the same node or another one. */
@Group(Checkpoint.GROUP)
@Version(Checkpoint.VERSION)
@ShortNames("rst")
@AdditionalPrinterColumn(name = "Target", jsonPath = ".status.targetPod", type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(name = "Node", jsonPath = ".status.nodeName", type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(name = "Age", jsonPath = ".metadata.creationTimestamp", type = AdditionalPrinterColumn.Type.DATE)
public class Restore extends CustomResource<RestoreSpec, RestoreStatus> implements Namespaced {

    @Override
    @JsonPropertyDescription("Which Checkpoint (in this namespace) to bring back, and where: an existing placeholder pod or a node.")
    public RestoreSpec getSpec() {
        return super.getSpec();
    }

    @Override
    @JsonPropertyDescription("Progress and result, written by the operator: phase, conditions, target pod and node, restored PID, timings.")
    public RestoreStatus getStatus() {
        return super.getStatus();
    }
}
