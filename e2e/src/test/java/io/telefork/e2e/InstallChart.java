package io.telefork.e2e;

/**
 * Installs the chart on the e2e cluster as the tests do (helm-java, images imported, shared PVC), for
 * e2e/try-it.sh: {@code mvn -q test-compile exec:java} in e2e/.
 */
public final class InstallChart {

    private InstallChart() {
    }

    public static void main(String[] args) throws Exception {
        Cluster.installChart();
        System.exit(0); // the client's threads would keep the JVM alive
    }
}
