package io.telefork.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.telefork.image.Compression;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A process this JVM started with ProcessBuilder is waited for by the JDK's process reaper, which would take
 * the ptrace stops a dump waits for (the dump hung there before it was refused): the engine refuses it with
 * a reason, and leaves it running, untraced.
 */
class OwnChildIT {

    @TempDir
    Path tmp;

    @Test
    @Timeout(60)
    void aChildTheJdkWaitsForIsRefusedAndLeftAsItWas() throws Exception {
        Process sleep = new ProcessBuilder("sleep", "60").start();
        try {
            awaitSleeping(sleep.pid());
            Path image = tmp.resolve("child.img");
            try (FileChannel out = FileChannel.open(image, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                assertThatThrownBy(() -> new Engine().dump((int) sleep.pid(), out,
                        new DumpOptions(true, Compression.NONE, null, false, false, false, false, 0)))
                        .isInstanceOfSatisfying(EngineException.class,
                                e -> assertThat(e.reason()).isEqualTo(EngineException.Reason.NOT_DUMPABLE))
                        .hasMessageContaining("is a child of this process")
                        .hasMessageContaining("process reaper");
            }
            assertThat(sleep.isAlive()).as("the sleep after the refused dump").isTrue();
            assertThat(status(sleep.pid(), "TracerPid")).as("TracerPid of the sleep").isEqualTo("0");
            assertThat(status(sleep.pid(), "State")).as("state of the sleep").startsWith("S");
        } finally {
            sleep.destroyForcibly();
            assertThat(sleep.waitFor(10, TimeUnit.SECONDS)).isTrue();
        }
    }

    private static void awaitSleeping(long pid) throws Exception {
        long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!status(pid, "State").startsWith("S") || !Files.readString(Path.of("/proc/" + pid + "/comm")).startsWith("sleep")) {
            if (System.nanoTime() > end) {
                throw new AssertionError("sleep did not start");
            }
            Thread.sleep(10);
        }
    }

    private static String status(long pid, String key) throws IOException {
        return Files.readAllLines(Path.of("/proc/" + pid + "/status")).stream().filter(l -> l.startsWith(key + ":"))
                .map(l -> l.substring(key.length() + 1).trim()).findFirst().orElse("");
    }
}
