package io.telefork.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.PrinterColumn;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The status fields every telefork kind shares: one phase, conditions, failures, observedGeneration. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public abstract class OperationStatus {

    @PrinterColumn(name = "Phase", priority = 0)
    @JsonPropertyDescription("Pending, Running, Succeeded or Failed. Succeeded and Failed are final.")
    private Phase phase;

    @JsonPropertyDescription("Validated, Ready and Failed conditions with a machine-readable reason.")
    private List<Condition> conditions = new ArrayList<>();

    @JsonPropertyDescription("How many attempts failed with an error worth retrying; the operation fails at the backoff limit.")
    private Integer failures;

    @JsonPropertyDescription("metadata.generation that this status describes.")
    private Long observedGeneration;

    @JsonPropertyDescription("When the operator started working on it (RFC 3339).")
    private String startTime;

    @JsonPropertyDescription("When it reached Succeeded or Failed (RFC 3339).")
    private String completionTime;

    public Phase getPhase() { return phase; }
    public void setPhase(Phase phase) { this.phase = phase; }
    public List<Condition> getConditions() { return conditions; }
    public void setConditions(List<Condition> conditions) { this.conditions = conditions == null ? new ArrayList<>() : conditions; }
    public Integer getFailures() { return failures; }
    public void setFailures(Integer failures) { this.failures = failures; }
    public Long getObservedGeneration() { return observedGeneration; }
    public void setObservedGeneration(Long observedGeneration) { this.observedGeneration = observedGeneration; }
    public String getStartTime() { return startTime; }
    public void setStartTime(String startTime) { this.startTime = startTime; }
    public String getCompletionTime() { return completionTime; }
    public void setCompletionTime(String completionTime) { this.completionTime = completionTime; }

    public Optional<Condition> condition(String type) {
        return conditions.stream().filter(c -> type.equals(c.getType())).findFirst();
    }

    /**
     * Sets a condition; lastTransitionTime moves only when its status flips, so watchers can tell a new
     * transition from a repeated reconcile.
     */
    public void setCondition(Condition next, String now) {
        Optional<Condition> old = condition(next.getType());
        String since = old.filter(o -> o.getStatus().equals(next.getStatus()))
                .map(Condition::getLastTransitionTime).orElse(now);
        next.setLastTransitionTime(since);
        conditions.removeIf(c -> next.getType().equals(c.getType()));
        conditions.add(next);
    }
}
