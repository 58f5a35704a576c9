package io.telefork.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.PreserveUnknownFields;

import com.fasterxml.jackson.databind.JsonNode;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class CheckpointStatus extends OperationStatus {

    @JsonPropertyDescription("Node the pod ran on, where the dump was done.")
    private String nodeName;

    @JsonPropertyDescription("UID of the checkpointed pod.")
    private String podUid;

    @JsonPropertyDescription("The checkpointed container.")
    private String containerName;

    @JsonPropertyDescription("Runtime ID of the container, e.g. containerd://<64 hex>.")
    private String containerID;

    @JsonPropertyDescription("Host PID of the dumped process.")
    private Integer pid;

    @JsonPropertyDescription("Credentials of the dumped process; a restore refuses a placeholder with more.")
    private ProcessIdentity process;

    @JsonPropertyDescription("Where the image file is, its size and digest.")
    private ImageLocation image;

    @JsonPropertyDescription("Bytes of process memory stored in the image, before compression.")
    private Long memoryBytes;

    @JsonPropertyDescription("How long the process was stopped, in milliseconds.")
    private Long frozenMillis;

    @JsonPropertyDescription("Wall time of the dump on the node, in milliseconds.")
    private Long dumpMillis;

    @JsonPropertyDescription("When the process was stopped for the dump (RFC 3339, milliseconds, the node's clock).")
    private String frozenAt;

    @JsonPropertyDescription("Name of the NodeOperation that performs the dump.")
    private String nodeOperation;

    @PreserveUnknownFields
    @JsonPropertyDescription("The checkpointed pod's spec at checkpoint time, from which a Restore with a targetNode makes its target pod.")
    private JsonNode podSpec;

    public String getFrozenAt() { return frozenAt; }
    public void setFrozenAt(String frozenAt) { this.frozenAt = frozenAt; }
    public String getNodeName() { return nodeName; }
    public void setNodeName(String nodeName) { this.nodeName = nodeName; }
    public String getPodUid() { return podUid; }
    public void setPodUid(String podUid) { this.podUid = podUid; }
    public String getContainerName() { return containerName; }
    public void setContainerName(String containerName) { this.containerName = containerName; }
    public String getContainerID() { return containerID; }
    public void setContainerID(String containerID) { this.containerID = containerID; }
    public Integer getPid() { return pid; }
    public void setPid(Integer pid) { this.pid = pid; }
    public ProcessIdentity getProcess() { return process; }
    public void setProcess(ProcessIdentity process) { this.process = process; }
    public ImageLocation getImage() { return image; }
    public void setImage(ImageLocation image) { this.image = image; }
    public Long getMemoryBytes() { return memoryBytes; }
    public void setMemoryBytes(Long memoryBytes) { this.memoryBytes = memoryBytes; }
    public Long getFrozenMillis() { return frozenMillis; }
    public void setFrozenMillis(Long frozenMillis) { this.frozenMillis = frozenMillis; }
    public Long getDumpMillis() { return dumpMillis; }
    public void setDumpMillis(Long dumpMillis) { this.dumpMillis = dumpMillis; }
    public String getNodeOperation() { return nodeOperation; }
    public void setNodeOperation(String nodeOperation) { this.nodeOperation = nodeOperation; }
    public JsonNode getPodSpec() { return podSpec; }
    public void setPodSpec(JsonNode podSpec) { this.podSpec = podSpec; }
}
