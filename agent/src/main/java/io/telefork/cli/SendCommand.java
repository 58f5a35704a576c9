package io.telefork.cli;

import io.telefork.engine.Commit;
import io.telefork.engine.DumpOptions;
import io.telefork.engine.DumpResult;
import io.telefork.engine.Engine;
import io.telefork.engine.EngineException;
import io.telefork.image.Compression;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.LinkedBlockingQueue;

@Command(name = "send", description = "Dump process PID straight into a `telefork serve` at HOST:PORT, which "
        + "restores it as the bytes arrive.")
final class SendCommand implements Callable<Integer> {
    @Option(names = "--leave-running", description = "Let the process run on here too.")
    boolean leaveRunning;

    @Option(names = "--compress", paramLabel = "none|lz4|zstd", defaultValue = "none",
            description = "Compress page data (default: ${DEFAULT-VALUE}).")
    Compression compression;

    @Option(names = "--ghost-limit", paramLabel = "SIZE", defaultValue = "0", converter = ByteSize.class,
            description = "Save the content of deleted-but-open files and memfds up to SIZE each (e.g. 1M, 64M) in the "
                    + "image; a larger one makes the dump fail (default: ${DEFAULT-VALUE}: every such file does).")
    long ghostLimit;

    @Parameters(index = "0", paramLabel = "PID")
    int pid;

    @Parameters(index = "1", paramLabel = "HOST:PORT", converter = HostPort.class)
    InetSocketAddress address;

    @Mixin
    Verbosity verbosity;

    @Override
    public Integer call() throws Exception {
        ProgressLine progress = new ProgressLine(System.err, "send");
        DumpResult r;
        try (SocketChannel socket = SocketChannel.open(address)) {
            Receiver receiver = new Receiver(socket);
            // The process is killed only once the server has said that the image arrived whole and restored.
            r = new Engine().dump(pid, socket, new DumpOptions(leaveRunning, compression, progress, false, false, false,
                    false, ghostLimit), receiver);
            if (!receiver.lazy) {
                // The source is gone (or, with --leave-running, meant to run on): let the copy run.
                socket.write(ByteBuffer.wrap(new byte[] {ServeCommand.GO}));
            }
        } catch (IOException e) {
            throw new EngineException(EngineException.Reason.IO, "sending to " + address + " failed: "
                    + e.getMessage(), e);
        }
        progress.end();
        if (verbosity.level() > 0) {
            System.err.printf("sent %d: %d bytes in %.1f ms (frozen %.1f ms)%n", r.pid(), r.imageBytes(),
                    r.total().toNanos() / 1e6, r.frozen().toNanos() / 1e6);
        }
        return 0;
    }

    /**
     * The server's words (see {@link ServeCommand}), read as they come on a thread of their own: a lazy
     * server says so as it accepts, and from then on its copy may run before the image has all arrived,
     * until it says DONE or FAILED.
     */
    private static final class Receiver implements Commit {
        private final SocketChannel socket;
        private final BlockingQueue<Integer> words = new LinkedBlockingQueue<>();
        private volatile boolean lazy;
        private volatile boolean copyDead;

        Receiver(SocketChannel socket) {
            this.socket = socket;
            Thread t = new Thread(this::listen, "telefork-send-replies");
            t.setDaemon(true);
            t.start();
        }

        private void listen() {
            ByteBuffer b = ByteBuffer.allocate(1);
            try {
                while (true) {
                    b.clear();
                    if (socket.read(b) < 0) {
                        break;
                    }
                    byte w = b.get(0);
                    if (w == ServeCommand.LAZY) {
                        lazy = true;
                    } else {
                        words.add((int) w);
                    }
                }
            } catch (IOException e) {
                // the connection is gone: as an end without a word
            }
            words.add(-1);
        }

        @Override
        public boolean copyMayRun() {
            return lazy && !copyDead;
        }

        @Override
        public void confirm() throws IOException {
            int first = next();
            if (first == ServeCommand.READY) {
                return;
            }
            if (first == ServeCommand.RUNNING) {
                first = next();
                if (first == ServeCommand.DONE) {
                    return;
                }
            }
            if (first == ServeCommand.FAILED) {
                copyDead = true;
                throw new IOException("the server could not restore the process (see its log)");
            }
            throw new IOException(first < 0 ? "the server closed the connection without restoring the process"
                    : "the server answered " + first + ", which this telefork does not know");
        }

        private int next() throws IOException {
            try {
                return words.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for the server");
            }
        }
    }
}
