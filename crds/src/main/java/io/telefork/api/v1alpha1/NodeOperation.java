package io.telefork.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * Internal: one step of node work (a dump, a restore, an image deletion, a resume) for the agent of one
 * node. The operator creates it, owned by the Checkpoint, Restore or Migration and labelled telefork.io/node; the agent
 * of that node performs it once and writes its status. It is the idempotency key: the operator never
 * creates a second one for the same step, and the agent never runs one that has left Pending.
 */
@Group(Checkpoint.GROUP)
@Version(Checkpoint.VERSION)
@ShortNames("nodeop")
@AdditionalPrinterColumn(name = "Type", jsonPath = ".spec.type", type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(name = "Node", jsonPath = ".spec.nodeName", type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(name = "Phase", jsonPath = ".status.phase", type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(name = "Reason", jsonPath = ".status.reason", type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(name = "Age", jsonPath = ".metadata.creationTimestamp", type = AdditionalPrinterColumn.Type.DATE)
public class NodeOperation extends CustomResource<NodeOperationSpec, NodeOperationStatus> implements Namespaced {

    /** What the agent is asked to do. */
    public enum Type {
        /** Dump a container's main process to an image (and copy it to the shared volume if asked). */
        Dump,
        /** Transplant an image into a container's placeholder process. */
        Restore,
        /** Delete a checkpoint's image files (node-local and shared). */
        DeleteImage,
        /** Let the process a Dump left stopped carry on (SIGCONT): a Migration whose restore failed. */
        Resume
    }

    @Override
    @JsonPropertyDescription("One step of node work, written by the operator.")
    public NodeOperationSpec getSpec() {
        return super.getSpec();
    }

    @Override
    @JsonPropertyDescription("The outcome, written only by the agent of spec.nodeName.")
    public NodeOperationStatus getStatus() {
        return super.getStatus();
    }
}
