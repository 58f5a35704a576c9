package io.telefork.operator;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ErrorStatusUpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.RetryInfo;
import io.telefork.api.v1alpha1.OperationStatus;
import io.telefork.api.v1alpha1.Reason;

import java.time.Duration;

/** What every reconciler does at the end of a pass and on an error. */
final class Reconcilers {

    private Reconcilers() {
    }

    /**
     * The status as the API server has it now. The SDK hands a reconcile its cached copy, which can lag
     * behind our own last status patch; building on a stale status and patching it back would drop
     * fields written in between (the patch replaces the whole status).
     */
    @SuppressWarnings("unchecked")
    static <R extends io.fabric8.kubernetes.client.CustomResource<?, S>, S> boolean refresh(
            io.fabric8.kubernetes.client.KubernetesClient client, R resource) {
        R fresh = (R) client.resources(resource.getClass()).inNamespace(resource.getMetadata().getNamespace())
                .withName(resource.getMetadata().getName()).get();
        if (fresh == null) {
            return false;
        }
        resource.setStatus(fresh.getStatus());
        return true;
    }

    /** Patches only when the status changed; looks again later until the phase is final. */
    static <R extends HasMetadata> UpdateControl<R> finish(R resource, OperationStatus s, String before, Duration poll) {
        UpdateControl<R> control = Statuses.fingerprint(s).equals(before) ? UpdateControl.noUpdate() : UpdateControl.patchStatus(resource);
        if (!s.getPhase().terminal()) {
            control.rescheduleAfter(poll);
        }
        return control;
    }

    /**
     * The one error path: an exception from a reconcile (the API server unreachable, a conflict) counts
     * as a failure and is retried with the SDK's exponential backoff; at the last attempt the resource
     * fails for good with BackoffLimitExceeded.
     */
    static <R extends HasMetadata> ErrorStatusUpdateControl<R> onError(R resource, OperationStatus s, Context<R> context,
                                                                        Exception e, EventRecorder events) {
        if (s.getPhase() != null && s.getPhase().terminal()) {
            return ErrorStatusUpdateControl.<R>noStatusUpdate().withNoRetry();
        }
        Statuses.init(resource, s);
        s.setFailures((s.getFailures() == null ? 0 : s.getFailures()) + 1);
        boolean last = context.getRetryInfo().map(RetryInfo::isLastAttempt).orElse(false);
        if (last) {
            String message = "gave up after " + s.getFailures() + " failures: " + e.getMessage();
            Statuses.fail(s, Reason.BackoffLimitExceeded, message, false);
            events.warning(resource, Reason.BackoffLimitExceeded, message);
            return ErrorStatusUpdateControl.patchStatus(resource).withNoRetry();
        }
        events.warning(resource, Reason.Retrying, "attempt " + s.getFailures() + " failed: " + e.getMessage());
        return ErrorStatusUpdateControl.patchStatus(resource);
    }
}
