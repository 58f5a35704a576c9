package io.telefork.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.crd.generator.annotation.PrinterColumn;

/** Exactly one of targetPod and targetNode says where the process comes back. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class RestoreSpec {

    @Required
    @Pattern(Names.DNS_SUBDOMAIN)
    @PrinterColumn(name = "Checkpoint", priority = 0)
    @JsonPropertyDescription("Name of a Succeeded Checkpoint in the Restore's own namespace.")
    private String checkpointName;

    @Pattern(Names.DNS_SUBDOMAIN)
    @JsonPropertyDescription("An existing running pod whose container runs a placeholder process to transplant into. Set this or targetNode.")
    private String targetPod;

    @Pattern(Names.DNS_LABEL)
    @JsonPropertyDescription("Container of targetPod (default: the checkpointed container's name, or the only container).")
    private String targetContainer;

    @Pattern(Names.DNS_SUBDOMAIN)
    @JsonPropertyDescription("Node to restore on: the operator creates the target pod from the checkpointed pod's spec, pinned to it. Set this or targetPod.")
    private String targetNode;

    @Default("false")
    @JsonPropertyDescription("Restore even if a file the process had open changed size or mtime since the checkpoint.")
    private Boolean allowChangedFiles = Boolean.FALSE;

    @Default("false")
    @JsonPropertyDescription("Let the process run before its memory is in: its pages are served on demand (userfaultfd) while the rest is pushed, and the Restore succeeds once every page is in. Should the restore fail meanwhile (a corrupt image, the agent gone), the process dies rather than run on with pages missing.")
    private Boolean lazy = Boolean.FALSE;

    public String getCheckpointName() { return checkpointName; }
    public void setCheckpointName(String checkpointName) { this.checkpointName = checkpointName; }
    public String getTargetPod() { return targetPod; }
    public void setTargetPod(String targetPod) { this.targetPod = targetPod; }
    public String getTargetContainer() { return targetContainer; }
    public void setTargetContainer(String targetContainer) { this.targetContainer = targetContainer; }
    public String getTargetNode() { return targetNode; }
    public void setTargetNode(String targetNode) { this.targetNode = targetNode; }
    public Boolean getAllowChangedFiles() { return allowChangedFiles; }
    public void setAllowChangedFiles(Boolean allowChangedFiles) { this.allowChangedFiles = allowChangedFiles; }
    public Boolean getLazy() { return lazy; }
    public void setLazy(Boolean lazy) { this.lazy = lazy; }
}
