package io.telefork.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.crd.generator.annotation.PrinterColumn;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class MigrationSpec {

    @Required
    @Pattern(Names.DNS_SUBDOMAIN)
    @PrinterColumn(name = "Pod", priority = 0)
    @JsonPropertyDescription("The running pod to move, in the Migration's own namespace.")
    private String podName;

    @Pattern(Names.DNS_LABEL)
    @JsonPropertyDescription("Container whose process moves. May be left out when the pod has one container.")
    private String containerName;

    @Required
    @Pattern(Names.DNS_SUBDOMAIN)
    @PrinterColumn(name = "To", priority = 0)
    @JsonPropertyDescription("Node to move to.")
    private String targetNode;

    @Default("false")
    @JsonPropertyDescription("Keep the source process running during the move (default false: it stays stopped (SIGSTOP) from the dump on, so two copies never write the same volume, and is resumed if the restore fails). The source pod is deleted only after the restore succeeded.")
    private Boolean leaveRunning = Boolean.FALSE;

    @JsonPropertyDescription("As for a Checkpoint: largest deleted-but-open file or memfd whose content the image may hold (e.g. 64Mi; default 0).")
    private Quantity ghostLimit;

    @Default("Lz4")
    @JsonPropertyDescription("Compression of memory pages in the image: None, Lz4 (default) or Zstd.")
    private ImageCompression compression = ImageCompression.Lz4;

    @Default("true")
    @JsonPropertyDescription("Delete the source pod after the restore succeeded (default true). Never deleted when anything failed.")
    private Boolean deleteSourcePod = Boolean.TRUE;

    @Default("true")
    @JsonPropertyDescription("Restore lazily (default true): the process runs on the target node before its memory is all in, which shortens the downtime; the source stays stopped until every page is in and is resumed if anything fails before.")
    private Boolean lazy = Boolean.TRUE;

    @Default("true")
    @JsonPropertyDescription("With lazy (and without leaveRunning): restore while the dump still writes the image (default true). The copy runs on the target node as soon as everything but its private anonymous memory has been written, so the downtime does not grow with the memory; the rest follows as it is written. If the dump fails, the source is resumed once the copy is dead.")
    private Boolean postCopy = Boolean.TRUE;

    public String getPodName() { return podName; }
    public void setPodName(String podName) { this.podName = podName; }
    public String getContainerName() { return containerName; }
    public void setContainerName(String containerName) { this.containerName = containerName; }
    public String getTargetNode() { return targetNode; }
    public void setTargetNode(String targetNode) { this.targetNode = targetNode; }
    public Boolean getLeaveRunning() { return leaveRunning; }
    public void setLeaveRunning(Boolean leaveRunning) { this.leaveRunning = leaveRunning; }
    public Quantity getGhostLimit() { return ghostLimit; }
    public void setGhostLimit(Quantity ghostLimit) { this.ghostLimit = ghostLimit; }
    public ImageCompression getCompression() { return compression; }
    public void setCompression(ImageCompression compression) { this.compression = compression; }
    public Boolean getDeleteSourcePod() { return deleteSourcePod; }
    public void setDeleteSourcePod(Boolean deleteSourcePod) { this.deleteSourcePod = deleteSourcePod; }
    public Boolean getLazy() { return lazy; }
    public void setLazy(Boolean lazy) { this.lazy = lazy; }
    public Boolean getPostCopy() { return postCopy; }
    public void setPostCopy(Boolean postCopy) { this.postCopy = postCopy; }
}
