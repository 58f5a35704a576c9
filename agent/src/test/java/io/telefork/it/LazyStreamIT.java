package io.telefork.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code telefork restore --lazy} from a stream (a named pipe here; stdin works the same): the process
 * runs once the image's LAZY record has arrived, and its private anonymous memory is copied in as the
 * rest streams in, while a fault on a page still to come waits for it. The stream is fed slowly where the
 * program's checks must run during the lazy phase.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class LazyStreamIT {
    private static final String PUSH_DELAY = "TELEFORK_TEST_LAZY_PUSH_DELAY_MS";

    @TempDir
    Path tmp;

    @RegisterExtension
    final Harness h = new Harness();

    /** Every dumpAndRestore case of {@link SelfCheckingProgramsIT}, process trees and threads included. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("io.telefork.it.SelfCheckingProgramsIT#dumpCases")
    void selfCheckingPrograms(SelfCheckingProgramsIT.Case c) throws Exception {
        Path image = h.dumpedProgram(tmp, c.program(), c.args(tmp), c.dumpOptions().toArray(String[]::new));
        Path pipe = fifo("image");
        Harness.Proc restore = h.restore(pipe, Map.of(PUSH_DELAY, "5"), "--lazy");
        Thread feeder = feed(image, pipe, Long.MAX_VALUE);
        restore.goAndExpectPass();
        feeder.join(10_000);
    }

    /**
     * The dump writes into the pipe that the restore reads: the copy runs before the dump has ended (its
     * first instruction comes before the last byte is written), and passes its checks, untouched pages
     * and pages written with zeros included.
     */
    @Test
    void runsWhileTheDumpStillWrites() throws Exception {
        Harness.Proc original = h.startProgram("mem_pattern", java.util.List.of("512"), Map.of("TF_EXPECT_RESTORE", "1"));
        Path pipe = fifo("image");
        Harness.Proc restore = h.restore(pipe, "--lazy", "-v");
        long started = System.nanoTime();
        Harness.Result dump = h.run("dump", "-v", Long.toString(original.pid()), pipe.toString());
        long dumpMillis = (System.nanoTime() - started) / 1_000_000;
        assertThat(dump.code()).as("dump into the pipe\nstderr: %s", dump.stderr()).isZero();
        original.awaitDeath(Duration.ofSeconds(10), "dump without --leave-running kills the process");
        restore.goAndExpectPass();
        Matcher m = Pattern.compile("lazy: running after ([0-9.]+) ms, every page in after ([0-9.]+) ms")
                .matcher(restore.stderr());
        assertThat(m.find()).as("restore -v stderr: %s", restore.stderr()).isTrue();
        double running = Double.parseDouble(m.group(1));
        double allIn = Double.parseDouble(m.group(2));
        assertThat(running).as("ms until the copy ran, vs. all pages in (%s ms) and the dump (%d ms)", allIn, dumpMillis)
                .isLessThan(allIn / 2);
    }

    /** A corrupt byte found while the process runs: it is killed, never left running with what it has. */
    @Test
    void corruptionFoundInTheStreamKillsTheProcess() throws Exception {
        Path image = h.dumpedProgram(tmp, "mem_pattern", java.util.List.of("64"), "--compress", "none");
        Harness.flipByte(image, 0.75);
        Path pipe = fifo("image");
        Harness.Proc restore = h.restore(pipe, "--lazy");
        feed(image, pipe, Long.MAX_VALUE);
        int code = restore.waitFor(Harness.CLI_TIMEOUT);
        assertThat(code).as("exit status of restore --lazy of a corrupt stream; stderr: %s", restore.stderr())
                .isEqualTo(6);
        assertThat(restore.stderr()).contains("killed during its lazy phase").contains("corrupt");
        assertThat(restore.lines()).doesNotContain("PASS");
    }

    /** The stream ends before its last page: the process, already running, is killed. */
    @Test
    void streamEndingEarlyKillsTheProcess() throws Exception {
        Path image = h.dumpedProgram(tmp, "mem_pattern", java.util.List.of("64"), "--compress", "none");
        Path pipe = fifo("image");
        Harness.Proc restore = h.restore(pipe, Map.of(PUSH_DELAY, "5"), "--lazy");
        feed(image, pipe, Files.size(image) * 3 / 4);
        int code = restore.waitFor(Harness.CLI_TIMEOUT);
        assertThat(code).as("exit status of restore --lazy of a cut stream; stderr: %s", restore.stderr())
                .isEqualTo(6);
        assertThat(restore.stderr()).contains("killed during its lazy phase").contains("truncated");
        assertThat(restore.lines()).doesNotContain("PASS");
    }

    /** An image of format 2 has no LAZY record: from a stream it is refused before anything is built. */
    @Test
    void refusesAnImageOfFormat2() throws Exception {
        Path image = h.dumpedProgram(tmp, "mem_pattern", java.util.List.of("16"));
        byte[] bytes = Files.readAllBytes(image);
        ByteBuffer header = ByteBuffer.wrap(bytes);
        assertThat(header.getShort(8)).as("format version").isEqualTo((short) 4);
        header.putShort(8, (short) 2);
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(bytes, 0, 20);
        header.putInt(20, (int) crc.getValue());
        Path old = tmp.resolve("format2.img");
        Files.write(old, bytes);
        Path pipe = fifo("image");
        Harness.Proc restore = h.restore(pipe, "--lazy");
        feed(old, pipe, Long.MAX_VALUE);
        int code = restore.waitFor(Harness.CLI_TIMEOUT);
        assertThat(code).as("exit status; stderr: %s", restore.stderr()).isEqualTo(8);
        assertThat(restore.stderr()).contains("needs an image of format 3 or later (this one is 2");
    }


    private Path fifo(String name) throws IOException, InterruptedException {
        Path p = tmp.resolve(name + ".fifo");
        Process mk = new ProcessBuilder("mkfifo", p.toString()).inheritIO().start();
        assertThat(mk.waitFor()).as("mkfifo " + p).isZero();
        return p;
    }

    /** Writes the first {@code limit} bytes of {@code image} into the pipe, 1 MiB at a time, then closes it. */
    private static Thread feed(Path image, Path pipe, long limit) {
        Thread t = new Thread(() -> {
            try (FileChannel in = FileChannel.open(image);
                 OutputStream out = Files.newOutputStream(pipe, StandardOpenOption.WRITE)) {
                ByteBuffer b = ByteBuffer.allocate(1 << 20);
                long left = Math.min(limit, in.size());
                while (left > 0) {
                    b.clear().limit((int) Math.min(b.capacity(), left));
                    int n = in.read(b);
                    if (n < 0) {
                        break;
                    }
                    out.write(b.array(), 0, n);
                    left -= n;
                }
            } catch (IOException e) {
                if (!String.valueOf(e.getMessage()).contains("Broken pipe")) {
                    throw new UncheckedIOException(e);
                }
            }
        }, "feed " + pipe.getFileName());
        t.setDaemon(true);
        t.start();
        return t;
    }
}
