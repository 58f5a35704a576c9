package io.telefork.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

/** A checkpoint of the main process of one container of one pod, written to an image file. */
@Group(Checkpoint.GROUP)
@Version(Checkpoint.VERSION)
@ShortNames("ckpt")
@AdditionalPrinterColumn(name = "Node", jsonPath = ".status.nodeName", type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(name = "Size", jsonPath = ".status.image.sizeBytes", type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(name = "Age", jsonPath = ".metadata.creationTimestamp", type = AdditionalPrinterColumn.Type.DATE)
public class Checkpoint extends CustomResource<CheckpointSpec, CheckpointStatus> implements Namespaced {
    public static final String GROUP = "telefork.io";
    public static final String VERSION = "v1alpha1";

    @Override
    @JsonPropertyDescription("What to checkpoint (a pod's container in this namespace) and where its image goes.")
    public CheckpointSpec getSpec() {
        return super.getSpec();
    }

    @Override
    @JsonPropertyDescription("Progress and result, written by the operator: phase, conditions, node, image location, size and digests, timings.")
    public CheckpointStatus getStatus() {
        return super.getStatus();
    }
}
