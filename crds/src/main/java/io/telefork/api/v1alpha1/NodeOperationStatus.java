package io.telefork.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** Written only by the agent of spec.nodeName. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class NodeOperationStatus {

    @JsonPropertyDescription("Pending, Running, Succeeded or Failed. The agent runs an operation only from Pending (or no status).")
    private Phase phase;

    @JsonPropertyDescription("Why it succeeded or failed.")
    private Reason reason;

    @JsonPropertyDescription("Human-readable detail of the reason.")
    private String message;

    @JsonPropertyDescription("When the agent started it (RFC 3339).")
    private String startTime;

    @JsonPropertyDescription("When the agent finished it (RFC 3339).")
    private String completionTime;

    @JsonPropertyDescription("Host PID of the dumped process, or of the placeholder restored into.")
    private Integer pid;

    @JsonPropertyDescription("Restore: the PID the process had when it was dumped.")
    private Integer originalPid;

    @JsonPropertyDescription("Dump: credentials of the dumped process.")
    private ProcessIdentity process;

    @JsonPropertyDescription("Dump: the image written (location, size, digests).")
    private ImageLocation image;

    @JsonPropertyDescription("Bytes of process memory dumped or restored.")
    private Long memoryBytes;

    @JsonPropertyDescription("Dump: how long the process was stopped, in milliseconds.")
    private Long frozenMillis;

    @JsonPropertyDescription("Wall time of the whole step on the node, in milliseconds.")
    private Long totalMillis;

    @JsonPropertyDescription("Dump: when the process was stopped (RFC 3339, milliseconds, the node's clock).")
    private String frozenAt;

    @JsonPropertyDescription("Restore: when the restored process was let run (RFC 3339, milliseconds, the node's clock).")
    private String resumedAt;

    @JsonPropertyDescription("Restore: whether the process ran before its memory was all in (a lazy restore).")
    private Boolean lazy;

    @JsonPropertyDescription("Restore: from the step's start until every page of the process was in, in milliseconds.")
    private Long memoryInMillis;

    public String getFrozenAt() { return frozenAt; }
    public void setFrozenAt(String frozenAt) { this.frozenAt = frozenAt; }
    public String getResumedAt() { return resumedAt; }
    public Boolean getLazy() { return lazy; }
    public void setLazy(Boolean lazy) { this.lazy = lazy; }
    public Long getMemoryInMillis() { return memoryInMillis; }
    public void setMemoryInMillis(Long memoryInMillis) { this.memoryInMillis = memoryInMillis; }
    public void setResumedAt(String resumedAt) { this.resumedAt = resumedAt; }
    public Phase getPhase() { return phase; }
    public void setPhase(Phase phase) { this.phase = phase; }
    public Reason getReason() { return reason; }
    public void setReason(Reason reason) { this.reason = reason; }
    public String getMessage() { return message; }
    public void setMessage(String message) { this.message = message; }
    public String getStartTime() { return startTime; }
    public void setStartTime(String startTime) { this.startTime = startTime; }
    public String getCompletionTime() { return completionTime; }
    public void setCompletionTime(String completionTime) { this.completionTime = completionTime; }
    public Integer getPid() { return pid; }
    public void setPid(Integer pid) { this.pid = pid; }
    public Integer getOriginalPid() { return originalPid; }
    public void setOriginalPid(Integer originalPid) { this.originalPid = originalPid; }
    public ProcessIdentity getProcess() { return process; }
    public void setProcess(ProcessIdentity process) { this.process = process; }
    public ImageLocation getImage() { return image; }
    public void setImage(ImageLocation image) { this.image = image; }
    public Long getMemoryBytes() { return memoryBytes; }
    public void setMemoryBytes(Long memoryBytes) { this.memoryBytes = memoryBytes; }
    public Long getFrozenMillis() { return frozenMillis; }
    public void setFrozenMillis(Long frozenMillis) { this.frozenMillis = frozenMillis; }
    public Long getTotalMillis() { return totalMillis; }
    public void setTotalMillis(Long totalMillis) { this.totalMillis = totalMillis; }
}
