package io.telefork.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * nginx (Debian's package, installed by .ci/run) as a tree: a master and 2 workers sharing the listening
 * socket on 127.0.0.1, a shared anonymous memory zone, a socket pair (channel) between the master and each
 * worker, an epoll and an eventfd in each worker, signal handlers, log files open for append. The master's
 * PID is dumped with its workers; after the restore the same page is served on the same port, the master
 * has the same 2 workers (same PIDs), and a graceful stop (SIGQUIT) still takes the whole tree down.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class NginxIT {

    private static final Path NGINX = Path.of("/usr/sbin/nginx");

    @TempDir
    Path tmp;

    private final Harness h = new Harness();
    private final String token = "telefork-nginx-" + UUID.randomUUID();
    private int port;
    private Path conf;
    /** The master's PID once started, for {@link #cleanUp()}. */
    private long master = -1;

    @BeforeEach
    void writeConfig() throws IOException {
        assertThat(NGINX).as("nginx (apt-get install nginx; .ci/run does)").isExecutable();
        port = freePort();
        // The workers run as nobody when the master runs as root: they must be able to read the page.
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path html = Files.createDirectories(tmp.resolve("html"));
        Files.setPosixFilePermissions(html, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path index = Files.writeString(html.resolve("index.html"), token + "\n");
        Files.setPosixFilePermissions(index, PosixFilePermissions.fromString("rw-r--r--"));
        Files.createDirectories(tmp.resolve("logs"));
        conf = tmp.resolve("nginx.conf");
        Files.writeString(conf, String.join("\n",
                "daemon off;",
                "master_process on;",
                "worker_processes 2;",
                "error_log " + tmp.resolve("logs/error.log") + " info;",
                "pid " + tmp.resolve("nginx.pid") + ";",
                "events { worker_connections 64; }",
                "http {",
                "    access_log " + tmp.resolve("logs/access.log") + ";",
                "    client_body_temp_path " + tmp.resolve("client_body") + ";",
                "    proxy_temp_path " + tmp.resolve("proxy") + ";",
                "    fastcgi_temp_path " + tmp.resolve("fastcgi") + ";",
                "    uwsgi_temp_path " + tmp.resolve("uwsgi") + ";",
                "    scgi_temp_path " + tmp.resolve("scgi") + ";",
                "    server {",
                "        listen 127.0.0.1:" + port + ";",
                "        root " + html + ";",
                "    }",
                "}",
                ""));
    }

    @AfterEach
    void cleanUp() {
        if (master > 0 && cmdline(master).startsWith("nginx")) {
            killTree(master);
        }
        h.close();
    }

    /**
     * SIGKILL to the master first, then to its workers: a master that sees a worker die starts another
     * one (Harness.Proc.kill kills the descendants first, and this new worker would be left holding the port).
     */
    private static void killTree(long master) {
        ProcessHandle.of(master).ifPresent(m -> {
            List<ProcessHandle> workers = m.descendants().toList();
            m.destroyForcibly();
            workers.forEach(ProcessHandle::destroyForcibly);
        });
    }

    @Test
    void masterAndWorkersServeTheSamePageAfterRestore() throws Exception {
        Harness.Proc nginx = startNginx();
        List<Long> workers = awaitWorkers(master);
        for (int i = 0; i < 5; i++) {
            assertThat(get()).isEqualTo(token);
        }
        Map<String, String> shared = sharedZone(master, workers);
        String workerUid = Harness.status(workers.get(0), "Uid").orElseThrow();

        Path image = tmp.resolve("nginx.img");
        h.dump(master, image);
        nginx.awaitDeath(Duration.ofSeconds(10), "dump kills nginx");
        awaitGone(master, workers);
        assertThat(refused()).as("nobody listens on port %d after the dump: %s", port, listeners()).isTrue();

        Harness.Detached restored = h.restoreDetached(image, tmp, "");
        assertRestoredAsBefore(restored, master, workers, shared, workerUid);
    }

    /**
     * With --leave-running the original tree serves on during and after the dump. Once it is killed, the
     * image is restored and serves. nginx appended to its access log after the dump, which the restore
     * accepts without --allow-changed-files: a file open write-only may have grown.
     */
    @Test
    void leaveRunningThenRestoreTheImage() throws Exception {
        Harness.Proc nginx = startNginx();
        List<Long> workers = awaitWorkers(master);
        assertThat(get()).isEqualTo(token);
        Map<String, String> shared = sharedZone(master, workers);
        String workerUid = Harness.status(workers.get(0), "Uid").orElseThrow();

        Path image = tmp.resolve("nginx.img");
        AtomicBoolean dumping = new AtomicBoolean(true);
        AtomicInteger served = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread client = new Thread(() -> {
            while (dumping.get()) {
                try {
                    String body = get();
                    if (!token.equals(body)) {
                        throw new AssertionError("during the dump nginx served " + body);
                    }
                    served.incrementAndGet();
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                    return;
                }
            }
        }, "client during dump");
        client.start();
        try {
            h.dump(master, image, "--leave-running");
        } finally {
            dumping.set(false);
            client.join(30_000);
        }
        assertThat(failure.get()).as("a request during the dump failed").isNull();
        assertThat(served.get()).as("requests answered while the dump ran").isPositive();
        for (int i = 0; i < 5; i++) {
            assertThat(get()).as("the original serves on after the dump").isEqualTo(token);
        }
        assertThat(children(master)).as("the original master's workers").isEqualTo(workers);

        killTree(master);
        nginx.awaitDeath(Duration.ofSeconds(10), "SIGKILL");
        awaitGone(master, workers);
        assertThat(refused()).as("nobody listens on port %d once the original is killed: %s", port, listeners())
                .isTrue();

        Harness.Detached restored = h.restoreDetached(image, tmp, "");
        assertRestoredAsBefore(restored, master, workers, shared, workerUid);
    }

    private Harness.Proc startNginx() throws InterruptedException {
        Harness.Proc nginx = h.start("nginx", List.of(NGINX.toString(), "-c", conf.toString(), "-p", tmp + "/"));
        nginx.closeStdin();
        master = nginx.pid();
        long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (true) {
            try {
                if (token.equals(get())) {
                    return nginx;
                }
            } catch (IOException e) {
                // not listening yet
            }
            if (System.nanoTime() > end) {
                throw new AssertionError("nginx on port " + port + " did not serve the page; stderr: "
                        + nginx.stderr() + "\nerror.log: " + errorLog());
            }
            Thread.sleep(100);
        }
    }

    /** Waits for the master's 2 worker processes; their PIDs, sorted. */
    private List<Long> awaitWorkers(long master) {
        await("nginx master " + master + " has 2 workers").atMost(Duration.ofSeconds(20))
                .pollInterval(Duration.ofMillis(50)).until(() -> children(master).size() == 2);
        List<Long> workers = children(master);
        for (long w : workers) {
            assertThat(cmdline(w)).as("process %d", w).startsWith("nginx: worker process");
        }
        return workers;
    }

    private void assertServesWithItsWorkers(long master, List<Long> workers, Harness.Detached restored)
            throws IOException {
        for (int i = 0; i < 20; i++) {
            assertThat(get()).as("request %d after the restore; %s\nerror.log: %s", i, restored.describe(), errorLog())
                    .isEqualTo(token);
        }
        assertThat(children(master)).as("the restored master's workers").isEqualTo(workers);
        for (long w : workers) {
            assertThat(Harness.alive(w)).as("worker %d", w).isTrue();
            assertThat(cmdline(w)).as("worker %d", w).startsWith("nginx: worker process");
        }
        assertThat(cmdline(master)).startsWith("nginx: master process");
        assertThat(Files.readString(tmp.resolve("nginx.pid")).trim()).isEqualTo(Long.toString(master));
        assertThat(errorLog()).as("error.log").doesNotContain("[alert]", "[crit]", "[emerg]");
    }

    /** SIGQUIT to the restored master: it stops its workers through their channels and exits. */
    private void assertGracefulStop(long master, List<Long> workers) {
        Harness.signal(master, "QUIT");
        await("the restored nginx tree stops on SIGQUIT").atMost(Duration.ofSeconds(20))
                .pollInterval(Duration.ofMillis(50))
                .until(() -> !Harness.alive(master) && workers.stream().noneMatch(Harness::alive));
        assertThat(errorLog()).contains("exiting");
    }

    /**
     * The MAP_SHARED areas of the master (address range to device and inode), which every worker must map
     * at the same addresses onto the same object: nginx's shared zone (accept mutex, counters).
     */
    private static Map<String, String> sharedZone(long master, List<Long> workers) throws IOException {
        Map<String, String> zone = sharedMappings(master);
        assertThat(zone).as("MAP_SHARED areas of the nginx master %d", master).isNotEmpty();
        for (long w : workers) {
            assertThat(sharedMappings(w)).as("MAP_SHARED areas of worker %d, shared with the master", w)
                    .containsAllEntriesOf(zone);
        }
        return zone;
    }

    private static Map<String, String> sharedMappings(long pid) throws IOException {
        Map<String, String> areas = new TreeMap<>();
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "maps"))) {
            String[] f = line.trim().split("\\s+", 6);
            if (f[1].charAt(3) == 's' && f.length == 6 && !f[5].startsWith("/usr/") && !f[5].startsWith("/lib")) {
                areas.put(f[0], f[3] + " " + f[4]);
            }
        }
        return areas;
    }

    private static void awaitGone(long master, List<Long> workers) {
        List<Long> all = new ArrayList<>(workers);
        all.add(master);
        await("nginx master and workers " + all + " are gone").atMost(Duration.ofSeconds(10))
                .pollInterval(Duration.ofMillis(20))
                .until(() -> all.stream().noneMatch(pid -> Files.exists(Path.of("/proc", Long.toString(pid)))));
    }

    private static List<Long> children(long pid) {
        List<Long> kids = new ArrayList<>();
        try (var tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
            for (Path task : (Iterable<Path>) tasks::iterator) {
                for (String c : Files.readString(task.resolve("children")).trim().split("\\s+")) {
                    if (!c.isEmpty()) {
                        kids.add(Long.parseLong(c));
                    }
                }
            }
        } catch (IOException e) {
            return List.of();
        }
        kids.sort(null);
        return kids;
    }

    private static String cmdline(long pid) {
        try {
            return Files.readString(Path.of("/proc", Long.toString(pid), "cmdline")).replace('\0', ' ');
        } catch (IOException e) {
            return "";
        }
    }

    private String errorLog() {
        try {
            return Files.readString(tmp.resolve("logs/error.log"));
        } catch (IOException e) {
            return "(" + e + ")";
        }
    }

    /** GET / on 127.0.0.1:port; the body, if the status is 200. */
    private String get() throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write(("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            String response = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            int split = response.indexOf("\r\n\r\n");
            if (!response.startsWith("HTTP/1.1 200 ") || split < 0) {
                throw new AssertionError("not a 200 response from nginx: " + response);
            }
            return response.substring(split + 4).trim();
        }
    }

    private boolean refused() {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 2_000);
            return false;
        } catch (IOException e) {
            return true;
        }
    }

    /** Who listens on the port, as ss(8) says (for failure messages). */
    private String listeners() {
        try {
            Process p = new ProcessBuilder("ss", "-ltnpe", "sport = :" + port).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor(10, TimeUnit.SECONDS);
            return out;
        } catch (IOException e) {
            return "(" + e + ")";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "(interrupted)";
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress("127.0.0.1", 0));
            return s.getLocalPort();
        }
    }

    /**
     * The restored tree is the dumped one: the master's PID, the same workers serving the page, the shared
     * zone at the same addresses, the workers' credentials; and it stops gracefully.
     */
    private void assertRestoredAsBefore(Harness.Detached restored, long master, List<Long> workers,
                                        Map<String, String> shared, String workerUid) throws Exception {
        assertThat(restored.pid()).isEqualTo(master);
        workers.forEach(h::adopt);
        assertServesWithItsWorkers(master, workers, restored);
        assertThat(sharedZone(master, workers).keySet()).as("the shared zone's addresses").isEqualTo(shared.keySet());
        for (long w : workers) {
            assertThat(Harness.status(w, "Uid")).as("credentials of worker %d", w).contains(workerUid);
        }
        assertGracefulStop(master, workers);
    }
}
