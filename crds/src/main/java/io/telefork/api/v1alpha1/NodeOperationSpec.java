package io.telefork.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class NodeOperationSpec {

    @Required
    @JsonPropertyDescription("Dump, Restore, DeleteImage or Resume.")
    private NodeOperation.Type type;

    @Required
    @Pattern(Names.DNS_SUBDOMAIN)
    @JsonPropertyDescription("The node whose agent performs this; every other agent ignores it.")
    private String nodeName;

    @Required
    @Pattern(Names.DNS_SUBDOMAIN)
    @JsonPropertyDescription("The Checkpoint whose image this is about (same namespace).")
    private String checkpointName;

    @Required
    @Pattern("^[0-9a-fA-F-]{1,64}$")
    @JsonPropertyDescription("UID of that Checkpoint. Image file names derive from namespace, name and this uid only.")
    private String checkpointUid;

    @Pattern(Names.DNS_SUBDOMAIN)
    @JsonPropertyDescription("Dump: the source pod. Restore: the target pod.")
    private String podName;

    @JsonPropertyDescription("UID of podName; the agent refuses a pod that is not this one.")
    private String podUid;

    @Pattern(Names.DNS_LABEL)
    @JsonPropertyDescription("Container in podName.")
    private String containerName;

    @JsonPropertyDescription("Runtime ID of the container (containerd://, cri-o:// or docker:// and 64 hex digits).")
    private String containerID;

    @JsonPropertyDescription("Dump: keep the process running afterwards.")
    private Boolean leaveRunning;

    @JsonPropertyDescription("Dump: keep the process afterwards, stopped (SIGSTOP), instead of killing it.")
    private Boolean leaveStopped;

    @JsonPropertyDescription("Dump: largest deleted-but-open file or memfd, in bytes, whose content the image may hold (0 or absent: none).")
    private Long ghostLimitBytes;

    @JsonPropertyDescription("Resume: the host PID the Dump left stopped; the agent refuses to resume any other process.")
    private Integer pid;

    @JsonPropertyDescription("Dump: compression of memory pages.")
    private ImageCompression compression;

    @JsonPropertyDescription("Dump: where the image is written: NodeLocal or Shared (the shared volume, directly).")
    private ImageStorage storage;

    @JsonPropertyDescription("Restore: the image to read, with the digest it must have.")
    private ImageLocation image;

    @JsonPropertyDescription("Restore: credentials of the checkpointed process; a placeholder with more is refused.")
    private ProcessIdentity process;

    @JsonPropertyDescription("Restore: memory of the checkpointed process, checked against the target's memory limit.")
    private Long memoryBytes;

    @JsonPropertyDescription("Restore: proceed when an open file changed size or mtime since the dump.")
    private Boolean allowChangedFiles;

    @JsonPropertyDescription("Restore: let the processes run before their memory is in, serving their pages on demand while the rest is pushed; the operation succeeds once every page is in.")
    private Boolean lazy;

    @JsonPropertyDescription("Dump: a restore may read the image as it is written (post-copy): a failed dump leaves the process stopped. Restore: read the image while the dump still writes it, lazily, the process running once everything but its private anonymous memory is in.")
    private Boolean postCopy;

    public NodeOperation.Type getType() { return type; }
    public void setType(NodeOperation.Type type) { this.type = type; }
    public String getNodeName() { return nodeName; }
    public void setNodeName(String nodeName) { this.nodeName = nodeName; }
    public String getCheckpointName() { return checkpointName; }
    public void setCheckpointName(String checkpointName) { this.checkpointName = checkpointName; }
    public String getCheckpointUid() { return checkpointUid; }
    public void setCheckpointUid(String checkpointUid) { this.checkpointUid = checkpointUid; }
    public String getPodName() { return podName; }
    public void setPodName(String podName) { this.podName = podName; }
    public String getPodUid() { return podUid; }
    public void setPodUid(String podUid) { this.podUid = podUid; }
    public String getContainerName() { return containerName; }
    public void setContainerName(String containerName) { this.containerName = containerName; }
    public String getContainerID() { return containerID; }
    public void setContainerID(String containerID) { this.containerID = containerID; }
    public Boolean getLeaveStopped() { return leaveStopped; }
    public void setLeaveStopped(Boolean leaveStopped) { this.leaveStopped = leaveStopped; }
    public Long getGhostLimitBytes() { return ghostLimitBytes; }
    public void setGhostLimitBytes(Long ghostLimitBytes) { this.ghostLimitBytes = ghostLimitBytes; }
    public Integer getPid() { return pid; }
    public void setPid(Integer pid) { this.pid = pid; }
    public Boolean getLeaveRunning() { return leaveRunning; }
    public void setLeaveRunning(Boolean leaveRunning) { this.leaveRunning = leaveRunning; }
    public ImageCompression getCompression() { return compression; }
    public void setCompression(ImageCompression compression) { this.compression = compression; }
    public ImageStorage getStorage() { return storage; }
    public void setStorage(ImageStorage storage) { this.storage = storage; }
    public ImageLocation getImage() { return image; }
    public void setImage(ImageLocation image) { this.image = image; }
    public ProcessIdentity getProcess() { return process; }
    public void setProcess(ProcessIdentity process) { this.process = process; }
    public Long getMemoryBytes() { return memoryBytes; }
    public void setMemoryBytes(Long memoryBytes) { this.memoryBytes = memoryBytes; }
    public Boolean getAllowChangedFiles() { return allowChangedFiles; }
    public void setAllowChangedFiles(Boolean allowChangedFiles) { this.allowChangedFiles = allowChangedFiles; }
    public Boolean getLazy() { return lazy; }
    public void setLazy(Boolean lazy) { this.lazy = lazy; }
    public Boolean getPostCopy() { return postCopy; }
    public void setPostCopy(Boolean postCopy) { this.postCopy = postCopy; }
}
