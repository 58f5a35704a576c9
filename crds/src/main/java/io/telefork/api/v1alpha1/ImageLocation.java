package io.telefork.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

import java.util.Objects;

/** Where an image file is and what it must hash to. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ImageLocation {

    @JsonPropertyDescription("NodeLocal (in the image directory of node) or Shared (on the shared volume).")
    private ImageStorage storage;

    @JsonPropertyDescription("The node whose image directory holds the file (the dumping node, also for Shared).")
    private String node;

    @JsonPropertyDescription("File name inside the image directory, derived from namespace, name and uid.")
    private String fileName;

    @JsonPropertyDescription("Size of the image file in bytes.")
    private Long sizeBytes;

    @JsonPropertyDescription("The image's digest (hex SHA-256 of its header and record headers, each of which holds its payload's CRC32C; of every byte before the END record for images of format 3 and older), as its END record holds it: checked before an eager restore reads the file, and by the engine as every restore reads it.")
    private String sha256;

    public ImageStorage getStorage() { return storage; }
    public void setStorage(ImageStorage storage) { this.storage = storage; }
    public String getNode() { return node; }
    public void setNode(String node) { this.node = node; }
    public String getFileName() { return fileName; }
    public void setFileName(String fileName) { this.fileName = fileName; }
    public Long getSizeBytes() { return sizeBytes; }
    public void setSizeBytes(Long sizeBytes) { this.sizeBytes = sizeBytes; }
    public String getSha256() { return sha256; }
    public void setSha256(String sha256) { this.sha256 = sha256; }

    @Override
    public boolean equals(Object o) {
        return o instanceof ImageLocation l && storage == l.storage && Objects.equals(node, l.node)
                && Objects.equals(fileName, l.fileName) && Objects.equals(sizeBytes, l.sizeBytes)
                && Objects.equals(sha256, l.sha256);
    }

    @Override
    public int hashCode() {
        return Objects.hash(storage, node, fileName, sizeBytes, sha256);
    }
}
