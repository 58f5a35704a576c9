package io.telefork.node;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * /healthz, /readyz and /metrics for the kubelet's probes and Prometheus. Read-only: the operator never
 * talks to the agent through it (all work goes through the Kubernetes API).
 */
final class HealthServer implements AutoCloseable {

    private final HttpServer server;

    HealthServer(InetSocketAddress address, BooleanSupplier live, BooleanSupplier ready, Supplier<String> metrics) throws IOException {
        server = HttpServer.create(address, 16);
        server.createContext("/healthz", ex -> answer(ex, live.getAsBoolean() ? 200 : 503, "text/plain", live.getAsBoolean() ? "ok\n" : "not live\n"));
        server.createContext("/readyz", ex -> answer(ex, ready.getAsBoolean() ? 200 : 503, "text/plain", ready.getAsBoolean() ? "ok\n" : "not ready\n"));
        server.createContext("/metrics", ex -> answer(ex, 200, "text/plain; version=0.0.4; charset=utf-8", metrics.get()));
        server.setExecutor(Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "telefork-http");
            t.setDaemon(true);
            return t;
        }));
    }

    void start() {
        server.start();
    }

    int port() {
        return server.getAddress().getPort();
    }

    private static void answer(HttpExchange ex, int code, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        if (!"GET".equals(ex.getRequestMethod()) && !"HEAD".equals(ex.getRequestMethod())) {
            code = 405;
            bytes = new byte[0];
        }
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(code, bytes.length == 0 ? -1 : bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
