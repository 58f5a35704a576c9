package io.telefork.operator;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.telefork.api.v1alpha1.Condition;
import io.telefork.api.v1alpha1.OperationStatus;
import io.telefork.api.v1alpha1.Phase;
import io.telefork.api.v1alpha1.Reason;

import java.time.Instant;
import java.time.temporal.ChronoUnit;

/** Status transitions shared by all reconcilers, so that every kind fails and succeeds the same way. */
final class Statuses {

    private Statuses() {
    }

    static String now() {
        return Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    }

    /** Fills a fresh status: Pending, startTime, observedGeneration. */
    static void init(HasMetadata owner, OperationStatus s) {
        if (s.getPhase() == null) {
            s.setPhase(Phase.Pending);
            s.setStartTime(now());
            s.setFailures(0);
            s.setCondition(new Condition(Condition.READY, false, Reason.Accepted, "accepted"), now());
        }
        s.setObservedGeneration(owner.getMetadata().getGeneration());
    }

    static void progress(OperationStatus s, Phase phase, Reason reason, String message) {
        s.setPhase(phase);
        s.setCondition(new Condition(Condition.READY, false, reason, message), now());
    }

    static void validated(OperationStatus s) {
        s.setCondition(new Condition(Condition.VALIDATED, true, Reason.Accepted, "spec and referenced objects are valid"), now());
    }

    static void succeed(OperationStatus s, Reason reason, String message) {
        s.setPhase(Phase.Succeeded);
        s.setCompletionTime(now());
        s.setCondition(new Condition(Condition.READY, true, reason, message), now());
    }

    /** The one way anything fails: phase Failed, Ready=False and Failed=True with the reason. */
    static void fail(OperationStatus s, Reason reason, String message, boolean validation) {
        s.setPhase(Phase.Failed);
        s.setCompletionTime(now());
        if (validation) {
            s.setCondition(new Condition(Condition.VALIDATED, false, reason, message), now());
        }
        s.setCondition(new Condition(Condition.READY, false, reason, message), now());
        s.setCondition(new Condition(Condition.FAILED, true, reason, message), now());
    }

    /** A stable text form, to patch only when something changed. */
    static String fingerprint(Object status) {
        return status == null ? "" : Serialization.asJson(status);
    }
}
