package io.telefork.node;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.time.Duration;

/** The agent's Prometheus metrics: operations by kind and result, image bytes, durations, frozen time. */
final class AgentMetrics {

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

    void operation(String kind, String result, Duration took) {
        Counter.builder("telefork_operations").description("Node operations performed, by kind and result")
                .tag("kind", kind).tag("result", result).register(registry).increment();
        Timer.builder("telefork_operation_duration").description("Wall time of node operations")
                .tag("kind", kind).tag("result", result).register(registry).record(took);
    }

    void imageBytes(String kind, long bytes) {
        DistributionSummary.builder("telefork_image_bytes").description("Size of images written or read")
                .baseUnit("bytes").tag("kind", kind).register(registry).record(bytes);
    }

    void frozen(Duration frozen) {
        Timer.builder("telefork_frozen").description("How long dumped processes were stopped")
                .register(registry).record(frozen);
    }

    String scrape() {
        return registry.scrape();
    }
}
