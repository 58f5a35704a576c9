package io.telefork.cli;

import io.telefork.engine.Engine;
import io.telefork.engine.EngineException;
import io.telefork.engine.RestoreOptions;
import io.telefork.restore.RestoredProcess;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.Callable;

/**
 * The receiving end of {@code telefork send}. Protocol: the sender streams an image; the server
 * restores it as it arrives and, once the process is built but before it runs, answers READY (or
 * FAILED); the sender then kills its original (unless --leave-running) and answers GO; only then does
 * the copy run. So the two never run at once unless asked to, and a failure on either side before GO
 * leaves the original running.
 *
 * <p>With {@code --lazy} the server says LAZY as it accepts; the copy runs as soon as everything but its
 * private anonymous memory is in (the image's LAZY record), while the rest still streams in: the server
 * says RUNNING then, and DONE once every page is in and the image verified, or FAILED once the copy is
 * dead. The sender's original stays frozen meanwhile and is killed only on DONE; on FAILED it runs on;
 * if the connection ends without either, it is left stopped (whether the copy runs is unknown there).
 */
@Command(name = "serve", description = "Accept processes sent with `telefork send` and restore each as its image "
        + "streams in. Restored processes share this command's stdin, stdout and stderr.")
final class ServeCommand implements Callable<Integer> {
    static final byte READY = 1;
    static final byte FAILED = 2;
    static final byte GO = 3;
    static final byte RUNNING = 4;
    static final byte DONE = 5;
    static final byte LAZY = 6;

    @Option(names = "--listen", required = true, paramLabel = "HOST:PORT", converter = HostPort.class,
            description = "Address to listen on (port 0 picks a free one; the chosen address is printed).")
    InetSocketAddress listen;

    @Option(names = "--once", description = "Serve one process, wait for it, and exit with its status.")
    boolean once;

    @Option(names = "--allow-changed-files", description = "As for restore.")
    boolean allowChangedFiles;

    @Option(names = "--lazy", description = "Let each process run as soon as everything but its private anonymous "
            + "memory has arrived, and fill that memory as it streams in (a fault on a page still to come waits "
            + "for it). The sender's original stays frozen until every page is in.")
    boolean lazy;

    @Mixin
    Verbosity verbosity;

    @Override
    public Integer call() throws Exception {
        try (ServerSocketChannel server = ServerSocketChannel.open()) {
            server.bind(listen);
            InetSocketAddress bound = (InetSocketAddress) server.getLocalAddress();
            System.err.println("telefork: listening on " + bound.getHostString() + ":" + bound.getPort());
            System.err.flush();
            while (true) {
                RestoredProcess p;
                try (SocketChannel client = server.accept()) {
                    p = receive(client);
                }
                if (p == null) {
                    if (once) {
                        return 1;
                    }
                    continue;
                }
                if (once) {
                    return p.waitFor();
                }
                Thread reaper = new Thread(() -> reap(p), "reaper-" + p.pid());
                reaper.setDaemon(true);
                reaper.start();
            }
        }
    }

    private RestoredProcess receive(SocketChannel client) throws IOException {
        String from = String.valueOf(client.getRemoteAddress());
        if (verbosity.level() > 0) {
            System.err.println("telefork: receiving a process from " + from);
        }
        try {
            if (lazy) {
                send(client, LAZY);
            }
            RestoredProcess p = new Engine().restore(client, new RestoreOptions(allowChangedFiles, null,
                    lazy ? () -> send(client, RUNNING) : () -> handshake(client), null, lazy));
            if (lazy) {
                try {
                    send(client, DONE);
                } catch (IOException e) {
                    // The sender is gone; it leaves its original stopped, as it cannot know that the copy runs.
                    System.err.println("telefork: could not tell the sender from " + from + " that its process runs "
                            + "here: " + e.getMessage() + "; its original is left stopped there");
                }
            }
            System.err.printf("telefork: restored %d from %s as %d (%.1f ms)%n", p.result().originalPid(), from,
                    p.pid(), p.result().total().toNanos() / 1e6);
            return p;
        } catch (EngineException e) {
            System.err.println("telefork: restore of a process from " + from + " failed: " + e.getMessage());
            try {
                client.write(ByteBuffer.wrap(new byte[] {FAILED}));
            } catch (IOException ignored) {
                // the sender is gone already; its dump fails on the closed connection and keeps the original
            }
            return null;
        }
    }

    private static void send(SocketChannel client, byte b) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(new byte[] {b});
        while (buf.hasRemaining()) {
            client.write(buf);
        }
    }

    private static void handshake(SocketChannel client) throws IOException {
        send(client, READY);
        ByteBuffer go = ByteBuffer.allocate(1);
        while (go.hasRemaining()) {
            if (client.read(go) < 0) {
                throw new IOException("the sender went away before confirming; its original may still run");
            }
        }
        if (go.get(0) != GO) {
            throw new IOException("the sender did not confirm");
        }
    }

    private static void reap(RestoredProcess p) {
        try {
            int status = p.waitFor();
            System.err.println("telefork: process " + p.pid() + " exited with status " + status);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
