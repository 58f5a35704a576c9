package io.telefork.operator;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.Mappers;
import io.telefork.api.v1alpha1.Phase;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ErrorStatusUpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.RetryInfo;
import io.telefork.api.v1alpha1.OperationStatus;
import io.telefork.api.v1alpha1.Reason;

import java.time.Duration;
import java.util.function.Supplier;

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
    static <R extends CustomResource<?, S>, S> boolean refresh(
            KubernetesClient client, R resource) {
        R fresh = (R) client.resources(resource.getClass()).inNamespace(resource.getMetadata().getNamespace())
                .withName(resource.getMetadata().getName()).get();
        if (fresh == null) {
            return false;
        }
        resource.setStatus(fresh.getStatus());
        return true;
    }

    /** A step of a pass: start from Pending, or follow while Running. */
    @FunctionalInterface
    interface Step<R, S> {
        void run(R resource, S status);
    }

    /**
     * The pass every reconciler makes: read the status fresh, fill in defaults, start from Pending, follow
     * while Running, and patch only what changed. Acting only from the phase a step belongs to is what
     * makes a repeated reconcile harmless.
     */
    static <R extends CustomResource<?, S>, S extends OperationStatus> UpdateControl<R> pass(
            KubernetesClient client, R resource, Supplier<S> fresh,
            Step<R, S> start, Step<R, S> follow, Duration poll) {
        if (!refresh(client, resource)) {
            return UpdateControl.noUpdate();
        }
        if (resource.getStatus() == null) {
            resource.setStatus(fresh.get());
        }
        String before = Statuses.fingerprint(resource.getStatus());
        S s = resource.getStatus();
        Statuses.init(resource, s);
        if (s.getPhase() == Phase.Pending) {
            start.run(resource, s);
        }
        if (s.getPhase() == Phase.Running) {
            follow.run(resource, s);
        }
        return finish(resource, s, before, poll);
    }

    /** Resources of {@code ownedType} that {@code owner} resources own, as an event source: their changes wake the owner. */
    static <O extends HasMetadata, R extends HasMetadata> EventSource<?, R>
            owned(Class<O> ownedType, Class<R> owner, String name,
                  EventSourceContext<R> context) {
        var config = InformerEventSourceConfiguration
                .from(ownedType, owner)
                .withName(name)
                .withSecondaryToPrimaryMapper(
                        Mappers.fromOwnerReferences(owner, false))
                .build();
        return new InformerEventSource<>(config, context);
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
    /** As {@link #onError(HasMetadata, OperationStatus, Context, Exception, EventRecorder)}, giving the resource a status first. */
    static <R extends CustomResource<?, S>, S extends OperationStatus> ErrorStatusUpdateControl<R> onError(
            R resource, Supplier<S> fresh, Context<R> context, Exception e, EventRecorder events) {
        if (resource.getStatus() == null) {
            resource.setStatus(fresh.get());
        }
        return onError(resource, resource.getStatus(), context, e, events);
    }

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
