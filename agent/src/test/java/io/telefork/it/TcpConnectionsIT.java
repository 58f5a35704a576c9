package io.telefork.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Connections to other processes. Established TCP connections kept across a dump and restore with {@code --tcp-established} (TCP repair),
 * with agent/src/test/c/tcp_established.c as one end and this test as the other, on 127.0.0.1: bytes in
 * flight both ways at the dump (queued unread at the program, and in its send queue, partly never sent
 * because this end reads nothing until after the restore) arrive complete and in order, the connection
 * carries more afterwards, and neither end sees a reset or an end of file.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class TcpConnectionsIT {
    private static final int IN_BYTES = 48 * 1024;
    private static final int MORE_BYTES = 256 * 1024;

    @TempDir
    Path tmp;

    @RegisterExtension
    final Harness h = new Harness();

    /** Without a dump: the program and this peer agree (else the test, not the engine, is wrong). */
    @Test
    void plain() throws Exception {
        try (Peer peer = new Peer()) {
            Harness.Proc p = peer.startProgram();
            peer.finish(p);
        }
    }

    @Test
    void connectionSurvivesDumpAndRestore() throws Exception {
        try (Peer peer = new Peer()) {
            Harness.Proc original = peer.startProgram();
            Path image = tmp.resolve("tcp.img");
            Harness.Result dump = h.dump(original.pid(), image, "--tcp-established");
            original.awaitDeath(Duration.ofSeconds(10), "dump kills the process");

            Harness.Result inspect = h.run("inspect", image.toString());
            assertThat(inspect.stdout()).as("inspect of %s (dump stderr %s)", image, dump.stderr())
                    .contains("TCP_ESTABLISHED").contains("127.0.0.1:" + peer.port());
            @SuppressWarnings("unchecked")
            Map<String, Object> json = (Map<String, Object>) Harness.Json.parse(h.run("inspect", "--json", image.toString())
                    .stdout());
            @SuppressWarnings("unchecked")
            Map<String, Object> socket = ((List<Map<String, Object>>) json.get("fds")).stream()
                    .filter(f -> "TCP_ESTABLISHED".equals(f.get("kind"))).map(f -> (Map<String, Object>) f.get("socket"))
                    .findFirst().orElseThrow();
            assertThat(socket).containsEntry("protocol", "tcp").containsEntry("peer", "127.0.0.1:" + peer.port())
                    .containsEntry("receiveQueue", (long) IN_BYTES);
            assertThat((Long) socket.get("unacked") + (Long) socket.get("unsent")).as("send queue").isPositive();
            assertThat(locks()).as("the dump's lock on the connection (the peer cannot reach it until the restore)")
                    .anyMatch(l -> l.contains("--sport " + peer.port()));

            Harness.Proc restored = h.restore(image);
            peer.finish(restored);
            assertThat(locks()).as("locks left after the restore").noneMatch(l -> l.contains("--sport " + peer.port()));
        }
    }

    /** telefork's netfilter rules: the locks of connections between a dump and a restore. */
    private static List<String> locks() throws Exception {
        Process p = new ProcessBuilder("iptables", "-w", "-S", "INPUT").redirectErrorStream(true).start();
        List<String> lines = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        assertThat(p.waitFor()).as("iptables -S INPUT: %s", lines).isZero();
        return lines.stream().filter(l -> l.contains("telefork")).toList();
    }

    /**
     * With --leave-running the connections leave repair mode before the process runs on: the original
     * carries on with its connection as if nothing happened.
     */
    @Test
    void leaveRunningKeepsTheOriginalsConnectionWorking() throws Exception {
        try (Peer peer = new Peer()) {
            Harness.Proc original = peer.startProgram();
            h.dump(original.pid(), tmp.resolve("tcp.img"), "--tcp-established", "--leave-running");
            assertThat(locks()).as("locks left by dump --leave-running").noneMatch(l -> l.contains("--sport " + peer.port()));
            peer.finish(original);
        }
    }

    /**
     * IPv6 (on ::1, locked with ip6tables), in another program: a python3 process whose connection has
     * bytes queued for it at the dump reads them after the restore and answers on the same connection.
     */
    @Test
    void ipv6ConnectionOfAPythonProcessIsKept() throws Exception {
        try (ServerSocket server = new ServerSocket()) {
            server.bind(new InetSocketAddress(InetAddress.getByName("::1"), 0));
            String program = "import socket, sys\n"
                    + "s = socket.create_connection(('::1', " + server.getLocalPort() + "))\n"
                    + "s.sendall(b'before')\n"
                    + "print('READY', flush=True)\n"
                    + "sys.stdin.readline()\n"
                    + "d = s.recv(100)\n"
                    + "s.sendall(d.upper())\n"
                    + "print('PASS' if d == b'queued' else 'FAIL: got %r' % d, flush=True)\n";
            Harness.Proc original = h.start("python3 ipv6", List.of("python3", "-c", program));
            try (Socket peer = server.accept()) {
                peer.setSoTimeout(20_000);
                assertThat(new String(peer.getInputStream().readNBytes(6), StandardCharsets.US_ASCII)).isEqualTo("before");
                original.awaitReady();
                peer.getOutputStream().write("queued".getBytes(StandardCharsets.US_ASCII));
                Thread.sleep(200); // let it arrive in the program's receive queue
                Path image = tmp.resolve("v6.img");
                h.dump(original.pid(), image, "--tcp-established");
                original.awaitDeath(Duration.ofSeconds(10), "dump kills the process");
                assertThat(h.run("inspect", image.toString()).stdout()).contains("tcp6 [0:0:0:0:0:0:0:1]:");
                Harness.Proc restored = h.restore(image);
                restored.writeLine("go");
                assertThat(new String(peer.getInputStream().readNBytes(6), StandardCharsets.US_ASCII))
                        .as("the answer over the kept connection (%s)", restored.describe()).isEqualTo("QUEUED");
                restored.expectPass();
            }
        }
    }

    /**
     * Without CAP_NET_ADMIN (dropped with setpriv) neither the lock nor TCP repair is permitted: the dump
     * refuses with exit 8 and one line saying why, and the process and its connection run on untouched.
     */
    @Test
    void withoutCapNetAdminTheDumpRefusesAndTheProcessRunsOn() throws Exception {
        try (Peer peer = new Peer()) {
            Harness.Proc original = peer.startProgram();
            Path image = tmp.resolve("tcp.img");
            List<String> cmd = new java.util.ArrayList<>(List.of("setpriv", "--inh-caps=-net_admin",
                    "--bounding-set=-net_admin"));
            cmd.addAll(Harness.cli("dump", "--tcp-established", Long.toString(original.pid()), image.toString()));
            Harness.Proc dump = h.start("dump without CAP_NET_ADMIN", cmd);
            dump.closeStdin();
            assertThat(dump.waitFor(Harness.CLI_TIMEOUT)).as("exit of %s", dump.describe()).isEqualTo(8);
            assertThat(dump.stderr().lines().filter(l -> l.startsWith("telefork: ")).toList()).singleElement()
                    .asString().contains("cannot keep the peers of the TCP connections of process " + original.pid())
                    .contains("Permission denied");
            assertThat(image).doesNotExist();
            assertThat(locks()).noneMatch(l -> l.contains("--sport " + peer.port()));
            peer.finish(original);
        }
    }

    /**
     * The default (--tcp-close): the connection comes back closed; the program reads end of file and the
     * peer, whose connection the dump did not reset either, sees end of file once the restored copy exits.
     */
    @Test
    void byDefaultTheConnectionComesBackClosed() throws Exception {
        try (Peer peer = new Peer()) {
            Harness.Proc original = peer.startProgram();
            Path image = tmp.resolve("tcp.img");
            h.dump(original.pid(), image, "--tcp-close");
            original.awaitDeath(Duration.ofSeconds(10), "dump kills the process");
            Harness.Proc restored = h.restore(image);
            restored.writeLine("go");
            assertThat(restored.waitFor(Harness.VERDICT_TIMEOUT)).as("exit of %s", restored.describe()).isOne();
            assertThat(restored.lines()).anyMatch(l -> l.startsWith("FAIL: reading the peer's queued bytes: end of file"));
        }
    }

    @Test
    void bothFlagsAreABadCommandLine() {
        Harness.Result r = h.run("dump", "--tcp-established", "--tcp-close", "1", tmp.resolve("x.img").toString());
        assertThat(r.code()).as("exit status of %s\nstderr: %s", r.command(), r.stderr()).isEqualTo(2);
        assertThat(r.stderr()).contains("mutually exclusive");
    }

    /**
     * A unix stream connection to another process (this test, listening on a path) comes back closed:
     * the restored program reads end of file and gets EPIPE ("reconnect semantics"), while its listening
     * and bound unix sockets are back on their names (agent/src/test/c/unix_sockets.c), and its datagram
     * socket connected to another process's named one (a python3 helper) is connected to it again.
     */
    @Test
    void unixConnectionToAnotherProcessComesBackClosed() throws Exception {
        Path outside = tmp.resolve("outside.sock");
        Path dir = Files.createDirectory(tmp.resolve("sockets"));
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(outside));
            CompletableFuture<SocketChannel> accepted = CompletableFuture.supplyAsync(() -> {
                try {
                    return server.accept();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            Path dgram = tmp.resolve("dgram.sock");
            Harness.Proc helper = h.start("dgram peer", List.of("python3", "-u", "-c", "import socket, sys\n"
                    + "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint('BOUND')\n"
                    + "while True:\n    print(s.recv(100).decode())\n", dgram.toString()));
            helper.awaitLine("BOUND", Duration.ofSeconds(10));
            Harness.Proc original = h.startProgram("unix_sockets", List.of(dir.toString(), outside.toString(),
                    dgram.toString()), Map.of("TF_EXPECT_RESTORE", "1"));
            try (SocketChannel ours = accepted.get(10, TimeUnit.SECONDS)) {
                Path image = tmp.resolve("unix.img");
                h.dump(original.pid(), image);
                original.awaitDeath(Duration.ofSeconds(10), "dump kills the process");
                assertThat(ours.read(java.nio.ByteBuffer.allocate(1))).as("our end, once the original is gone").isEqualTo(-1);
                assertThat(h.run("inspect", image.toString()).stdout()).contains("UNIX_SOCKET")
                        .contains(dir.resolve("l.sock").toString()).contains("listening");
                h.restore(image).goAndExpectPass();
                helper.awaitLine("hello-dgram", Duration.ofSeconds(10));
            }
        }
    }

    /**
     * A path socket file is replaced only when nothing is bound to it any more: if another process listens
     * on the path by the time of the restore, the restore fails (exit 8) and leaves that process's socket
     * alone.
     */
    @Test
    void aLiveSocketOnThePathIsLeftAlone() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("sockets"));
        Harness.Proc original = h.startProgram("unix_sockets", List.of(dir.toString()), Map.of());
        Path image = tmp.resolve("unix.img");
        h.dump(original.pid(), image);
        original.awaitDeath(Duration.ofSeconds(10), "dump kills the process");
        Path path = dir.resolve("l.sock");
        Files.delete(path); // the dumped socket's file; another process takes the path
        try (ServerSocketChannel other = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            other.bind(UnixDomainSocketAddress.of(path));
            Harness.Proc restore = h.restore(image);
            restore.closeStdin();
            assertThat(restore.waitFor(Harness.CLI_TIMEOUT)).as("exit of %s", restore.describe()).isEqualTo(8);
            assertThat(restore.stderr()).contains("cannot bind the unix socket of fd").contains(path.toString())
                    .contains("a live socket or another file is there");
            try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
                assertThat(other.accept()).as("the other process's socket still takes connections").isNotNull();
            }
        }
    }

    /** The test's end of the connection: accepts it, sends IN_BYTES at once, reads only when told. */
    private final class Peer implements AutoCloseable {
        final long seedOut = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);
        final long seedIn = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);
        final ServerSocket server = new ServerSocket();
        final CompletableFuture<Socket> accepted = new CompletableFuture<>();

        Peer() throws IOException {
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            Thread t = new Thread(() -> {
                try {
                    Socket s = server.accept();
                    s.setSoTimeout(60_000);
                    byte[] b = new byte[IN_BYTES];
                    for (int i = 0; i < IN_BYTES; i++) {
                        b[i] = streamByte(seedIn, i);
                    }
                    s.getOutputStream().write(b);
                    accepted.complete(s);
                } catch (IOException e) {
                    accepted.completeExceptionally(e);
                }
            }, "tcp peer");
            t.setDaemon(true);
            t.start();
        }

        int port() {
            return server.getLocalPort();
        }

        /** What the program wrote before READY (its WROTE line). */
        long wrote;

        Harness.Proc startProgram() {
            Harness.Proc p = h.startProgram("tcp_established", List.of(Integer.toString(port()), Long.toUnsignedString(seedOut),
                    Long.toUnsignedString(seedIn), Integer.toString(IN_BYTES), Integer.toString(MORE_BYTES)),
                    Map.of("TF_EXPECT_RESTORE", "1"));
            wrote = p.lines().stream().filter(l -> l.startsWith("WROTE ")).mapToLong(l -> Long.parseLong(l.substring(6)))
                    .findFirst().orElseThrow(() -> new AssertionError("no WROTE line: " + p.describe()));
            return p;
        }

        /** Go; read everything the program wrote (checked byte by byte), answer ok; the program must pass. */
        void finish(Harness.Proc program) throws Exception {
            Socket s = accepted.get(10, TimeUnit.SECONDS);
            program.writeLine("go");
            long total = wrote + MORE_BYTES;
            InputStream in = s.getInputStream();
            byte[] buf = new byte[1 << 16];
            long got = 0;
            while (got < total) {
                int n = in.read(buf, 0, (int) Math.min(buf.length, total - got));
                assertThat(n).as("bytes after %d of %d from the program (%s)", got, total, program.describe()).isPositive();
                for (int i = 0; i < n; i++) {
                    if (buf[i] != streamByte(seedOut, got + i)) {
                        throw new AssertionError("byte " + (got + i) + " of " + total + " differs");
                    }
                }
                got += n;
            }
            s.getOutputStream().write("ok".getBytes(StandardCharsets.US_ASCII));
            program.expectPass();
        }

        @Override
        public void close() throws Exception {
            server.close();
            if (accepted.isDone() && !accepted.isCompletedExceptionally()) {
                accepted.get().close();
            }
        }
    }

    /** tcp_established.c's stream_byte(). */
    static byte streamByte(long seed, long i) {
        long s = seed ^ ((i / 8 + 1) * 0x9E3779B97F4A7C15L);
        s |= 1;
        s ^= s >>> 12;
        s ^= s << 25;
        s ^= s >>> 27;
        return (byte) ((s * 0x2545F4914F6CDD1DL) >>> (8 * (i % 8)));
    }
}
