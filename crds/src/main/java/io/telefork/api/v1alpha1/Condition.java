package io.telefork.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Required;

import java.util.Objects;

/** A Kubernetes-style condition whose reason is one of {@link Reason}. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class Condition {

    /** The condition types telefork sets. */
    public static final String READY = "Ready";
    public static final String FAILED = "Failed";
    public static final String VALIDATED = "Validated";

    @Required
    @JsonPropertyDescription("Condition type: Validated, Ready (the operation succeeded) or Failed.")
    private String type;

    @Required
    @JsonPropertyDescription("\"True\", \"False\" or \"Unknown\".")
    private String status;

    @JsonPropertyDescription("Machine-readable reason, one of a fixed list shared with the Events.")
    private Reason reason;

    @JsonPropertyDescription("Human-readable detail. Programs should match the reason, not this.")
    private String message;

    @JsonPropertyDescription("When status last changed (RFC 3339); unchanged while the status stays the same.")
    private String lastTransitionTime;

    @JsonPropertyDescription("metadata.generation of the resource this condition was computed from.")
    private Long observedGeneration;

    public Condition() {
    }

    public Condition(String type, boolean status, Reason reason, String message) {
        this.type = type;
        this.status = status ? "True" : "False";
        this.reason = reason;
        this.message = message;
    }

    public String getType() { return type; }
    public void setType(String type) { this.type = type; }
    public String getStatus() { return status; }
    public void setStatus(String status) { this.status = status; }
    public Reason getReason() { return reason; }
    public void setReason(Reason reason) { this.reason = reason; }
    public String getMessage() { return message; }
    public void setMessage(String message) { this.message = message; }
    public String getLastTransitionTime() { return lastTransitionTime; }
    public void setLastTransitionTime(String lastTransitionTime) { this.lastTransitionTime = lastTransitionTime; }
    public Long getObservedGeneration() { return observedGeneration; }
    public void setObservedGeneration(Long observedGeneration) { this.observedGeneration = observedGeneration; }

    @Override
    public boolean equals(Object o) {
        return o instanceof Condition c && Objects.equals(type, c.type) && Objects.equals(status, c.status)
                && reason == c.reason && Objects.equals(message, c.message)
                && Objects.equals(lastTransitionTime, c.lastTransitionTime)
                && Objects.equals(observedGeneration, c.observedGeneration);
    }

    @Override
    public int hashCode() {
        return Objects.hash(type, status, reason, message, lastTransitionTime, observedGeneration);
    }

    @Override
    public String toString() {
        return type + "=" + status + " (" + reason + ": " + message + ")";
    }
}
