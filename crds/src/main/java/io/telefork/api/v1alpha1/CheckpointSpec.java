package io.telefork.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.crd.generator.annotation.PrinterColumn;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class CheckpointSpec {

    @Required
    @Pattern(Names.DNS_SUBDOMAIN)
    @PrinterColumn(name = "Pod", priority = 0)
    @JsonPropertyDescription("Name of the running pod to checkpoint, in the Checkpoint's own namespace.")
    private String podName;

    @Pattern(Names.DNS_LABEL)
    @JsonPropertyDescription("Container whose main process is checkpointed. May be left out when the pod has one container.")
    private String containerName;

    @Default("true")
    @JsonPropertyDescription("Keep the process running after the dump (default true). If false it is killed once the image is complete and verified.")
    private Boolean leaveRunning = Boolean.TRUE;

    @Default("false")
    @JsonPropertyDescription("With leaveRunning false: keep the process after the dump, stopped (SIGSTOP), instead of killing it. A Migration sets this: its source waits stopped until the restore succeeded (the source pod is then deleted) or failed (the process is then resumed). Someone must resume or delete a pod left so.")
    private Boolean leaveStopped = Boolean.FALSE;

    @Default("false")
    @JsonPropertyDescription("With leaveStopped and storage Shared: a Restore may read the image while it is being written and run the process before the dump has ended (a Migration's post-copy). Should the dump then fail, the process is left stopped all the same (its copy may be running), for the Migration to resume once that Restore has failed too.")
    private Boolean postCopy = Boolean.FALSE;

    @Default("NodeLocal")
    @JsonPropertyDescription("Where the image is kept: NodeLocal (default; restorable on the same node) or Shared (written to the shared volume; restorable on any node).")
    private ImageStorage storage = ImageStorage.NodeLocal;

    @JsonPropertyDescription("Largest deleted-but-open file or memfd whose content the image may hold, as a quantity (e.g. 64Mi). Default 0: a process holding such a file is not checkpointed (Failed, reason Unsupported, naming the file and the size it needs).")
    private Quantity ghostLimit;

    @Default("Lz4")
    @JsonPropertyDescription("Compression of memory pages in the image: None, Lz4 (default) or Zstd.")
    private ImageCompression compression = ImageCompression.Lz4;

    public String getPodName() { return podName; }
    public void setPodName(String podName) { this.podName = podName; }
    public String getContainerName() { return containerName; }
    public void setContainerName(String containerName) { this.containerName = containerName; }
    public Quantity getGhostLimit() { return ghostLimit; }
    public void setGhostLimit(Quantity ghostLimit) { this.ghostLimit = ghostLimit; }
    public Boolean getLeaveStopped() { return leaveStopped; }
    public void setLeaveStopped(Boolean leaveStopped) { this.leaveStopped = leaveStopped; }
    public Boolean getPostCopy() { return postCopy; }
    public void setPostCopy(Boolean postCopy) { this.postCopy = postCopy; }
    public Boolean getLeaveRunning() { return leaveRunning; }
    public void setLeaveRunning(Boolean leaveRunning) { this.leaveRunning = leaveRunning; }
    public ImageStorage getStorage() { return storage; }
    public void setStorage(ImageStorage storage) { this.storage = storage; }
    public ImageCompression getCompression() { return compression; }
    public void setCompression(ImageCompression compression) { this.compression = compression; }
}
