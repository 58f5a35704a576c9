package io.telefork.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class RestoreStatus extends OperationStatus {

    @JsonPropertyDescription("The pod the process was restored into.")
    private String targetPod;

    @JsonPropertyDescription("The container of targetPod.")
    private String targetContainer;

    @JsonPropertyDescription("Whether the operator created targetPod (true) or it was given in the spec (false).")
    private Boolean targetPodCreated;

    @JsonPropertyDescription("Node of the target pod.")
    private String nodeName;

    @JsonPropertyDescription("Runtime ID of the target container.")
    private String containerID;

    @JsonPropertyDescription("Host PID of the restored process (it is the placeholder's PID).")
    private Integer restoredPid;

    @JsonPropertyDescription("The PID the process had when it was checkpointed.")
    private Integer originalPid;

    @JsonPropertyDescription("Bytes of memory written into the restored process.")
    private Long memoryBytes;

    @JsonPropertyDescription("Wall time of the restore on the node, in milliseconds (image read, checks, transplant).")
    private Long restoreMillis;

    @JsonPropertyDescription("When the restored process was let run (RFC 3339, milliseconds, the node's clock).")
    private String resumedAt;

    @JsonPropertyDescription("Whether the process ran before its memory was all in (spec.lazy).")
    private Boolean lazy;

    @JsonPropertyDescription("From the restore's start on the node until every page of the process was in, in milliseconds.")
    private Long memoryInMillis;

    @JsonPropertyDescription("Name of the NodeOperation that performs the restore.")
    private String nodeOperation;

    public String getResumedAt() { return resumedAt; }
    public Boolean getLazy() { return lazy; }
    public void setLazy(Boolean lazy) { this.lazy = lazy; }
    public Long getMemoryInMillis() { return memoryInMillis; }
    public void setMemoryInMillis(Long memoryInMillis) { this.memoryInMillis = memoryInMillis; }
    public void setResumedAt(String resumedAt) { this.resumedAt = resumedAt; }
    public String getTargetPod() { return targetPod; }
    public void setTargetPod(String targetPod) { this.targetPod = targetPod; }
    public String getTargetContainer() { return targetContainer; }
    public void setTargetContainer(String targetContainer) { this.targetContainer = targetContainer; }
    public Boolean getTargetPodCreated() { return targetPodCreated; }
    public void setTargetPodCreated(Boolean targetPodCreated) { this.targetPodCreated = targetPodCreated; }
    public String getNodeName() { return nodeName; }
    public void setNodeName(String nodeName) { this.nodeName = nodeName; }
    public String getContainerID() { return containerID; }
    public void setContainerID(String containerID) { this.containerID = containerID; }
    public Integer getRestoredPid() { return restoredPid; }
    public void setRestoredPid(Integer restoredPid) { this.restoredPid = restoredPid; }
    public Integer getOriginalPid() { return originalPid; }
    public void setOriginalPid(Integer originalPid) { this.originalPid = originalPid; }
    public Long getMemoryBytes() { return memoryBytes; }
    public void setMemoryBytes(Long memoryBytes) { this.memoryBytes = memoryBytes; }
    public Long getRestoreMillis() { return restoreMillis; }
    public void setRestoreMillis(Long restoreMillis) { this.restoreMillis = restoreMillis; }
    public String getNodeOperation() { return nodeOperation; }
    public void setNodeOperation(String nodeOperation) { this.nodeOperation = nodeOperation; }
}
