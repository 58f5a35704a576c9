package io.telefork.operator;

import io.quarkus.test.kubernetes.client.KubernetesServerTestResource;

import java.util.Map;

/**
 * The API server the operator tests run against: Fabric8's mock server in CRUD mode, or a real one when
 * -Dtelefork.kubeconfig=PATH is given (an API server with etcd is enough: the tests play the kubelet and
 * the agent; pods need the namespace's default ServiceAccount, so run the controller-manager or disable
 * the ServiceAccount admission plugin).
 */
public class ApiServerResource extends KubernetesServerTestResource {

    static final String KUBECONFIG = System.getProperty("telefork.kubeconfig", "");

    static boolean real() {
        return !KUBECONFIG.isBlank();
    }

    @Override
    public Map<String, String> start() {
        if (!real()) {
            return super.start();
        }
        // Fabric8's Config, which the Quarkus client starts from, reads this.
        System.setProperty("kubeconfig", KUBECONFIG);
        return Map.of();
    }

    @Override
    public void inject(TestInjector testInjector) {
        if (!real()) {
            super.inject(testInjector);
        }
    }

    @Override
    public void stop() {
        if (!real()) {
            super.stop();
        }
    }
}
