package io.telefork.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * examples/pipeline.sh (a bash producer piping 1..N into a bash consumer that checks every number comes
 * once and in order): dumped mid-stream as one tree (bash, the producer, its sleep, the consumer, and the
 * numbers buffered in the pipe between them), restored, and the consumer ends with COUNT N and status 0.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class PipelineExampleIT {

    private static final Path SCRIPT = Harness.ROOT.resolve("examples/pipeline.sh");
    private static final int COUNT = 1000;

    @TempDir
    Path tmp;

    @RegisterExtension
    final Harness h = new Harness();

    @Test
    void dumpedMidStreamAndRestoredLosesNoNumber() {
        Harness.Proc original = h.start("pipeline.sh", List.of("bash", SCRIPT.toString(), Integer.toString(COUNT)));
        original.awaitLine("at 100", Duration.ofSeconds(20));
        Path image = tmp.resolve("pipeline.img");
        List<String> before = h.dumpKilling(original, image);
        assertThat(before).as("the pipeline was dumped mid-stream").doesNotContain("COUNT " + COUNT);

        Harness.Result inspect = h.run("inspect", image.toString());
        assertThat(inspect.code()).as("inspect\n%s", inspect.stderr()).isZero();
        assertThat(inspect.stdout()).as("bash with its producer and consumer subshells").containsPattern("processes [3-9]");

        Harness.Continued c = h.restoreToEnd(image, before, Duration.ofSeconds(60));
        assertThat(c.all()).as("output of the consumer, before and after: %s", c.restored().describe())
                .noneMatch(l -> l.startsWith("GAP")).endsWith("at " + COUNT, "COUNT " + COUNT);
        assertThat(c.restored().lines()).as("the restored consumer went on").isNotEmpty();
        assertThat(c.code()).as("exit status of the restored pipeline\n%s", c.restored().describe()).isZero();
    }
}
