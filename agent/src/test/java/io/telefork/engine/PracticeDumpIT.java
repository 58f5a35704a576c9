package io.telefork.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.telefork.image.Compression;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The practice dump that warms a fresh JVM before a short freeze: it really dumps (a child sleep,
 * through the whole twin path) and leaves nothing behind, neither the sleep nor its twin; and the node
 * agent's practice restore.
 */
class PracticeDumpIT {

    @Test
    void practiceDumpRunsAndLeavesNoProcess() throws IOException {
        List<Long> before = childrenOfThisJvm();
        for (Compression c : Compression.values()) {
            assertThat(new Engine().practiceDump(c)).as("practice dump with %s", c).isTrue();
        }
        assertThat(childrenOfThisJvm()).as("children of this JVM (a sleep or its twin left behind)")
                .containsExactlyInAnyOrderElementsOf(before);
    }

    /** The agent's practice restore: lazily into a spawned sleep, which is gone afterwards, as is the image. */
    @Test
    void practiceRestoreRunsLazilyAndLeavesNothing() throws IOException {
        List<Long> before = childrenOfThisJvm();
        List<Path> imagesBefore = practiceImages();
        assertThat(new Engine().practiceRestore()).as("practice restore").isTrue();
        assertThat(childrenOfThisJvm()).as("children of this JVM (a sleep left behind)")
                .containsExactlyInAnyOrderElementsOf(before);
        assertThat(practiceImages()).as("practice images left in the temporary directory").isEqualTo(imagesBefore);
    }

    private static List<Path> practiceImages() throws IOException {
        try (Stream<Path> files = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return files.filter(f -> f.getFileName().toString().startsWith("telefork-practice-")).sorted().toList();
        }
    }

    /** From /proc, not ProcessHandle: the practice's sleep is spawned outside the JDK's process API. */
    private static List<Long> childrenOfThisJvm() throws IOException {
        long self = ProcessHandle.current().pid();
        try (Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(self), "task"))) {
            return tasks.flatMap(t -> {
                try {
                    String kids = Files.readString(t.resolve("children")).trim();
                    return kids.isEmpty() ? Stream.empty() : Stream.of(kids.split(" ")).map(Long::parseLong);
                } catch (IOException e) {
                    return Stream.empty();
                }
            }).toList();
        }
    }
}
