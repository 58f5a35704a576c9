package io.telefork.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code telefork serve --listen 127.0.0.1:PORT --once} and {@code telefork send PID 127.0.0.1:PORT}: a
 * process sent over TCP is restored by the server and passes its checks there. The restored process
 * shares serve's stdio (as with restore), and serve --once exits with its exit status.
 *
 * <p>{@link #restoreStartsBeforeDumpEnds} checks that serve restores while the bytes arrive rather than
 * after the whole stream: while send is running, it samples how many bytes send has written so far
 * ({@code wchar} in /proc/PID/io) and how much memory the process being restored under serve holds
 * (RSS of serve's descendants). Streaming means that at some moment the restored process already holds
 * 64 MiB more than when it appeared while send still had more than 64 MiB to write. A server that first
 * receives everything and then restores cannot show that, whatever its timing or acknowledgements.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class SendServeIT {

    private static final long MIB = 1L << 20;

    @RegisterExtension
    final Harness h = new Harness();

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            return s.getLocalPort();
        }
    }

    /** True if a TCP socket listens on {@code port} (read from /proc/net/tcp*, without connecting to it:
     *  a connection would count as the one stream serve --once takes). */
    private static boolean listening(int port) {
        String wanted = String.format(":%04X", port);
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            try {
                for (String line : Files.readAllLines(Path.of(table))) {
                    String[] f = line.trim().split("\\s+");
                    if (f.length > 3 && f[1].endsWith(wanted) && f[3].equals("0A")) {
                        return true;
                    }
                }
            } catch (IOException e) {
                // no such table
            }
        }
        return false;
    }

    private Harness.Proc startServe(int port) {
        return startServe(port, Map.of());
    }

    private Harness.Proc startServe(int port, Map<String, String> env, String... options) {
        List<String> args = new ArrayList<>(List.of("serve", "--listen", "127.0.0.1:" + port, "--once"));
        args.addAll(List.of(options));
        Harness.Proc serve = h.start("telefork serve", Harness.cli(args.toArray(String[]::new)), env);
        await("serve listens on port " + port).atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50))
                .until(() -> {
                    if (!serve.process.isAlive()) {
                        throw new AssertionError("serve exited early: " + serve.describe());
                    }
                    return listening(port);
                });
        return serve;
    }

    @Test
    void sentProcessIsRestoredByServe() throws IOException {
        int port = freePort();
        Harness.Proc serve = startServe(port);
        Harness.Proc original = h.startProgram("mem_pattern", "64");

        Harness.Result send = h.run("send", Long.toString(original.pid()), "127.0.0.1:" + port);
        assertThat(send.code()).as("exit status of send\nstderr: %s\nserve: %s", send.stderr(), serve.describe())
                .isZero();
        original.awaitDeath(Duration.ofSeconds(10), "send without --leave-running kills the process");

        serve.goAndExpectPass();
    }

    /**
     * serve --lazy: the copy runs while the rest of its memory streams in; the sender's original stays
     * frozen until the server says every page is in, and only then dies.
     */
    @Test
    void sentProcessIsRestoredLazily() throws IOException {
        int port = freePort();
        Harness.Proc serve = startServe(port, Map.of(), "--lazy", "-v");
        Harness.Proc original = h.startProgram("mem_pattern", List.of("256"), Map.of("TF_EXPECT_RESTORE", "1"));

        Harness.Result send = h.run("send", Long.toString(original.pid()), "127.0.0.1:" + port);
        assertThat(send.code()).as("exit status of send\nstderr: %s\nserve: %s", send.stderr(), serve.describe())
                .isZero();
        original.awaitDeath(Duration.ofSeconds(10), "send without --leave-running kills the process");
        serve.goAndExpectPass();
    }

    /**
     * The server dies while its lazy copy runs (and dies with it): the sender cannot know that, so it
     * leaves its original stopped and says so; resumed, the original carries on as if never dumped.
     */
    @Test
    void serverKilledDuringTheLazyPhaseLeavesTheOriginalStopped() throws IOException {
        int port = freePort();
        Harness.Proc serve = startServe(port, Map.of("TELEFORK_TEST_LAZY_PUSH_DELAY_MS", "50"), "--lazy");
        Harness.Proc original = h.startProgram("mem_pattern", List.of("128"), Map.of("TF_EXPECT_RESTORE", "1"));

        Harness.Proc send = h.start("telefork send",
                Harness.cli("send", Long.toString(original.pid()), "127.0.0.1:" + port));
        send.closeStdin();
        long[] copy = new long[1];
        await("the copy runs under serve").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20))
                .until(() -> {
                    copy[0] = serve.process.children().mapToLong(ProcessHandle::pid).findFirst().orElse(0);
                    return copy[0] != 0 && Harness.status(copy[0], "Name").filter("mem_pattern"::equals).isPresent();
                });
        Harness.signal(serve.pid(), "KILL");
        int code = send.waitFor(Harness.CLI_TIMEOUT);
        assertThat(code).as("exit status of send\n%s", send.describe()).isEqualTo(10);
        assertThat(send.stderr()).contains("left stopped");
        await("the copy " + copy[0] + " dies with serve").atMost(Duration.ofSeconds(10))
                .pollInterval(Duration.ofMillis(20)).until(() -> !Harness.alive(copy[0]));
        assertThat(Harness.status(original.pid(), "State")).as("the original after send failed")
                .hasValueSatisfying(s -> assertThat(s).startsWith("T"));
        Harness.signal(original.pid(), "CONT");
        original.goAndExpectPass();
    }

    @Test
    void restoreStartsBeforeDumpEnds() throws IOException, InterruptedException {
        int port = freePort();
        Harness.Proc serve = startServe(port);
        Harness.Proc original = h.startProgram("mem_pattern", "256");

        Harness.Proc send = h.start("telefork send",
                Harness.cli("send", Long.toString(original.pid()), "127.0.0.1:" + port));
        send.closeStdin();
        List<long[]> samples = new ArrayList<>(); // {millis, bytes written by send, RSS growth under serve}
        Map<Long, Long> minRss = new HashMap<>();
        long t0 = System.nanoTime();
        while (send.process.isAlive() && System.nanoTime() - t0 < Harness.CLI_TIMEOUT.toNanos()) {
            long wchar = wchar(send.pid());
            long growth = 0;
            for (ProcessHandle d : serve.process.descendants().toList()) {
                long rss = rss(d.pid());
                if (rss < 0) {
                    continue;
                }
                long min = minRss.merge(d.pid(), rss, Math::min);
                growth = Math.max(growth, rss - min);
            }
            if (wchar >= 0) {
                samples.add(new long[] {(System.nanoTime() - t0) / 1_000_000, wchar, growth});
            }
            Thread.sleep(2);
        }
        int code = send.waitFor(Harness.CLI_TIMEOUT);
        assertThat(code).as("exit status of send\n%s\nserve: %s", send.describe(), serve.describe()).isZero();
        original.awaitDeath(Duration.ofSeconds(10), "send without --leave-running kills the process");
        serve.goAndExpectPass();

        long sent = samples.stream().mapToLong(s -> s[1]).max().orElse(0);
        int step = Math.max(1, samples.size() / 60);
        String table = IntStream.range(0, samples.size()).filter(i -> i % step == 0)
                .mapToObj(samples::get)
                .map(s -> s[0] + " ms: sent " + s[1] / MIB + " MiB, restored " + s[2] / MIB + " MiB")
                .collect(Collectors.joining("\n"));
        System.out.println("SendServeIT.restoreStartsBeforeDumpEnds samples:\n" + table);
        Assumptions.assumeTrue(sent >= 200 * MIB,
                "cannot observe send's progress: its wchar reached only " + sent / MIB + " MiB\n" + table);
        boolean overlapped = samples.stream().anyMatch(s -> s[2] >= 64 * MIB && s[1] <= sent - 64 * MIB);
        assertThat(overlapped)
                .as("a sample where serve's restored process had grown by >= 64 MiB while send still had >= 64 MiB"
                        + " of %d MiB to write (samples: time, bytes send had written, RSS growth under serve):\n%s",
                        sent / MIB, table)
                .isTrue();
    }

    /** Bytes written so far by a process (write(2) and friends, sockets included), -1 if unreadable. */
    private static long wchar(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "io"))) {
                if (line.startsWith("wchar:")) {
                    return Long.parseLong(line.substring(6).trim());
                }
            }
        } catch (IOException | NumberFormatException e) {
            // gone
        }
        return -1;
    }

    /** Resident memory of a process in bytes, -1 if it is gone. */
    private static long rss(long pid) {
        try {
            String[] f = Files.readString(Path.of("/proc", Long.toString(pid), "statm")).trim().split(" ");
            return Long.parseLong(f[1]) * 4096;
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }
}
