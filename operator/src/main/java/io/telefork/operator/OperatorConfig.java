package io.telefork.operator;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.time.Duration;

/** Settings under telefork.operator.* (the Helm chart sets them through environment variables). */
@ConfigMapping(prefix = "telefork.operator")
public interface OperatorConfig {

    /** How often to look again while waiting for node work or a pod, besides watch events. */
    @WithDefault("5s")
    Duration pollInterval();

    /**
     * The placeholder that a restore target container runs until the agent takes it over. It runs as a
     * child of a small shell so that the restored process is not PID 1 (which would ignore SIGTERM), and
     * the shell forwards SIGTERM/SIGINT and exits with the child's status, so the container's exit status
     * is the restored process's.
     */
    @WithDefault("trap 'kill -TERM $c 2>/dev/null' TERM INT; sleep 2147483647 & c=$!; while :; do wait $c; s=$?; kill -0 $c 2>/dev/null || exit $s; done")
    String placeholderScript();

    /** The shell that runs {@link #placeholderScript()} in the target container's image. */
    @WithDefault("/bin/sh")
    String placeholderShell();

    /** How long a restore target pod may take to start its placeholder before the Restore fails. */
    @WithDefault("5m")
    Duration targetPodStartTimeout();
}
