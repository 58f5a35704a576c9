package io.telefork.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class MigrationStatus extends OperationStatus {

    @JsonPropertyDescription("The Checkpoint this Migration created (owned by it).")
    private String checkpointName;

    @JsonPropertyDescription("The Restore this Migration created (owned by it).")
    private String restoreName;

    @JsonPropertyDescription("Node the source pod ran on.")
    private String sourceNode;

    @JsonPropertyDescription("The pod the process now runs in.")
    private String targetPod;

    @JsonPropertyDescription("Whether the source pod was deleted (only ever after the restore succeeded).")
    private Boolean sourcePodDeleted;

    @JsonPropertyDescription("How long the source process was stopped for the dump, in milliseconds.")
    private Long frozenMillis;

    @JsonPropertyDescription("Downtime of the workload: from the source process stopping for the dump to the restored process running on the target node, in milliseconds (from the two agents' clocks).")
    private Long downtimeMillis;

    @JsonPropertyDescription("Whether the source process, which the dump left stopped, was resumed after the restore failed.")
    private Boolean sourceResumed;

    @JsonPropertyDescription("The Resume NodeOperation that lets the source process carry on after a failed restore.")
    private String resumeOperation;

    public String getCheckpointName() { return checkpointName; }
    public void setCheckpointName(String checkpointName) { this.checkpointName = checkpointName; }
    public String getRestoreName() { return restoreName; }
    public void setRestoreName(String restoreName) { this.restoreName = restoreName; }
    public String getSourceNode() { return sourceNode; }
    public void setSourceNode(String sourceNode) { this.sourceNode = sourceNode; }
    public String getTargetPod() { return targetPod; }
    public void setTargetPod(String targetPod) { this.targetPod = targetPod; }
    public Boolean getSourcePodDeleted() { return sourcePodDeleted; }
    public void setSourcePodDeleted(Boolean sourcePodDeleted) { this.sourcePodDeleted = sourcePodDeleted; }
    public Boolean getSourceResumed() { return sourceResumed; }
    public void setSourceResumed(Boolean sourceResumed) { this.sourceResumed = sourceResumed; }
    public String getResumeOperation() { return resumeOperation; }
    public void setResumeOperation(String resumeOperation) { this.resumeOperation = resumeOperation; }
    public Long getDowntimeMillis() { return downtimeMillis; }
    public void setDowntimeMillis(Long downtimeMillis) { this.downtimeMillis = downtimeMillis; }
    public Long getFrozenMillis() { return frozenMillis; }
    public void setFrozenMillis(Long frozenMillis) { this.frozenMillis = frozenMillis; }
}
