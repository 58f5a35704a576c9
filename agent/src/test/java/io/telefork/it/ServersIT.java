package io.telefork.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Servers with their listening sockets and their state. First a real one: redis-server (Debian's package, installed by .ci/run) with a million keys of 1000 bytes (about 1 GB; the data set's DEBUG DIGEST compared), a listening TCP
 * socket on 127.0.0.1, background threads, an epoll and an internal pipe. Dumped, restored: every key is
 * there, it answers on the same port, and a client that was connected across the dump sees its
 * connection closed (telefork's default for established connections) and can reconnect; with
 * --tcp-established it keeps its connection.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ServersIT {

    @TempDir
    Path tmp;

    @RegisterExtension
    final Harness h = new Harness();

    /** Also restored with {@code --lazy}: redis answers while its data set is still being paged in. */
    @ParameterizedTest(name = "restore {0}")
    @ValueSource(strings = {"(eager)", "--lazy"})
    void keysAndPortSurviveAndOldClientsReconnect(String mode) throws Exception {
        Path server = Path.of("/usr/bin/redis-server");
        assertThat(server).as("redis-server (apt-get install redis-server; .ci/run does)").isExecutable();
        int port = freePort();
        Harness.Proc redis = h.start("redis-server", List.of(server.toString(), "--port", Integer.toString(port),
                "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--enable-debug-command", "yes",
                "--dir", tmp.toString(), "--logfile", tmp.resolve("redis.log").toString()));
        redis.closeStdin();
        awaitPong(port);
        // About 1 GB: a million keys of 1000 bytes; the digest of the whole data set is compared.
        assertThat(command(port, "DEBUG", "POPULATE", "1000000", "key", "1000")).isEqualTo("+OK");
        assertThat(command(port, "SET", "greeting", "hello from before the dump")).isEqualTo("+OK");
        assertThat(command(port, "DBSIZE")).isEqualTo(":1000001");
        String digest = command(port, "DEBUG", "DIGEST");
        assertThat(digest).matches("\\+[0-9a-f]{40}");

        try (Socket old = connect(port)) {
            send(old, "PING");
            assertThat(readLine(old)).isEqualTo("+PONG");

            Path image = tmp.resolve("redis.img");
            h.dump(redis.pid(), image);
            redis.awaitDeath(Duration.ofSeconds(10), "dump kills redis");

            if (mode.startsWith("--")) {
                h.restoreDetached(image, tmp, "", mode);
            } else {
                h.restoreDetached(image, tmp, "");
            }
            awaitPong(port);
            assertThat(command(port, "DBSIZE")).isEqualTo(":1000001");
            assertThat(command(port, "DEBUG", "DIGEST")).as("digest of every key and value").isEqualTo(digest);
            assertThat(command(port, "GET", "greeting")).isEqualTo("$26");
            assertThat(command(port, "GET", "key:123456")).startsWith("$");

            send(old, "PING");
            assertThat(old.getInputStream().read()).as("the connection open across the dump is closed").isEqualTo(-1);
        }
        try (Socket again = connect(port)) {
            send(again, "PING");
            assertThat(readLine(again)).isEqualTo("+PONG");
        }
    }

    /**
     * With --tcp-established a client's connection to redis survives the dump and restore: the same
     * connection (same CLIENT ID, its SELECTed database still selected) answers, and a command sent while
     * redis was gone (after the dump, before the restore) is answered once it is back: the dump's lock
     * dropped it, and the client's kernel sent it again.
     */
    @Test
    void clientKeepsItsConnectionWithTcpEstablished() throws Exception {
        int port = freePort();
        Harness.Proc redis = h.start("redis-server", List.of("/usr/bin/redis-server", "--port", Integer.toString(port),
                "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--enable-debug-command", "yes",
                "--dir", tmp.toString(), "--logfile", tmp.resolve("redis.log").toString()));
        redis.closeStdin();
        awaitPong(port);
        assertThat(command(port, "DEBUG", "POPULATE", "20000", "key", "64")).isEqualTo("+OK");

        try (Socket kept = connect(port)) {
            BufferedReader in = new BufferedReader(new InputStreamReader(kept.getInputStream(), StandardCharsets.UTF_8));
            send(kept, "CLIENT", "ID");
            String id = in.readLine();
            assertThat(id).startsWith(":");
            send(kept, "SELECT", "3");
            assertThat(in.readLine()).isEqualTo("+OK");
            send(kept, "SET", "only-in-db-3", "kept");
            assertThat(in.readLine()).isEqualTo("+OK");

            Path image = tmp.resolve("redis.img");
            h.dump(redis.pid(), image, "--tcp-established");
            redis.awaitDeath(Duration.ofSeconds(10), "dump kills redis");
            send(kept, "PING"); // to nobody, for now

            h.restoreDetached(image, tmp, "");
            assertThat(in.readLine()).as("the answer to the PING sent while redis was away").isEqualTo("+PONG");
            send(kept, "CLIENT", "ID");
            assertThat(in.readLine()).as("the same client connection").isEqualTo(id);
            send(kept, "GET", "only-in-db-3");
            assertThat(in.readLine()).isEqualTo("$4");
            assertThat(in.readLine()).isEqualTo("kept");
            assertThat(command(port, "DBSIZE")).isEqualTo(":20000");
        }
    }

    /**
     * A JVM HTTP server (com.sun.net.httpserver: a listening socket, a selector, a thread pool) keeps
     * serving on its port after a restore, its request counter going on from where it was.
     */
    @Test
    void jvmHttpServerServesOnWithItsState() throws Exception {
        Path classes = tmp.resolve("classes");
        Files.createDirectories(classes);
        Path source = Path.of(getClass().getResource("/workloads/HitCounter.java").toURI());
        assertThat(javax.tools.ToolProvider.getSystemJavaCompiler().run(null, null, null, "-d", classes.toString(),
                source.toString())).isZero();
        int port = freePort();
        Harness.Proc server = h.start("HitCounter", List.of(Harness.java(), "-Xmx64m", "-cp", classes.toString(),
                "HitCounter", Integer.toString(port)));
        server.closeStdin();
        server.awaitLine("listening", Duration.ofSeconds(30));
        assertThat(httpGet(port)).isEqualTo("hits 1");
        assertThat(httpGet(port)).isEqualTo("hits 2");

        Path image = tmp.resolve("http.img");
        h.dump(server.pid(), image);
        server.awaitDeath(Duration.ofSeconds(10), "dump kills the server");
        h.restoreDetached(image, tmp, "");

        assertThat(httpGet(port)).isEqualTo("hits 3");
        assertThat(httpGet(port)).isEqualTo("hits 4");
    }

    private static String httpGet(int port) throws IOException {
        java.net.HttpURLConnection c = (java.net.HttpURLConnection) new java.net.URL("http://127.0.0.1:" + port + "/")
                .openConnection();
        c.setConnectTimeout(10_000);
        c.setReadTimeout(10_000);
        try (var in = c.getInputStream()) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } finally {
            c.disconnect();
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress("127.0.0.1", 0));
            return s.getLocalPort();
        }
    }

    private static Socket connect(int port) throws IOException {
        Socket s = new Socket("127.0.0.1", port);
        s.setSoTimeout(30_000); // DEBUG POPULATE of a million keys answers only when done
        return s;
    }

    private static void awaitPong(int port) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (System.nanoTime() < end) {
            try {
                if ("+PONG".equals(command(port, "PING"))) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            }
            Thread.sleep(100);
        }
        throw new AssertionError("redis on port " + port + " did not answer PING");
    }

    /** One command in the inline protocol; the first line of the reply. */
    private static String command(int port, String... words) throws IOException {
        try (Socket s = connect(port)) {
            send(s, words);
            return readLine(s);
        }
    }

    private static void send(Socket s, String... words) throws IOException {
        StringBuilder b = new StringBuilder("*").append(words.length).append("\r\n");
        for (String w : words) {
            byte[] bytes = w.getBytes(StandardCharsets.UTF_8);
            b.append('$').append(bytes.length).append("\r\n").append(w).append("\r\n");
        }
        OutputStream out = s.getOutputStream();
        out.write(b.toString().getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static String readLine(Socket s) throws IOException {
        BufferedReader r = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
        return r.readLine();
    }
}
