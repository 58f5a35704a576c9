package io.telefork.cli;

import io.telefork.engine.DumpOptions;
import io.telefork.engine.DumpResult;
import io.telefork.engine.Engine;
import io.telefork.engine.EngineException;
import io.telefork.image.Compression;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.Callable;

@Command(name = "dump", description = "Write the whole state of process PID to FILE (- for stdout). "
        + "The process is killed once the image is written and verified, unless --leave-running or --leave-stopped.")
final class DumpCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--leave-running", description = "Let the process run on after the dump.")
    boolean leaveRunning;

    @Option(names = "--leave-stopped", description = "Keep the process after the dump, stopped (SIGSTOP): "
            + "kill it once its copy runs elsewhere, or let it carry on with SIGCONT.")
    boolean leaveStopped;

    @Option(names = "--freeze", description = "With --leave-running: keep the process stopped for the whole dump "
            + "instead of reading its memory from a copy-on-write twin while it runs on.")
    boolean fullFreeze;

    @ArgGroup(exclusive = true)
    TcpMode tcp = new TcpMode();

    /** What becomes of established TCP connections; recorded per connection in the image. */
    static final class TcpMode {
        @Option(names = "--tcp-established", description = "Keep established TCP connections open across the dump "
                + "and restore (TCP repair; needs CAP_NET_ADMIN; the restore needs the connection's local address "
                + "free, i.e. the original gone).")
        boolean established;

        @Option(names = "--tcp-close", description = "Restore established TCP connections closed: the application "
                + "reads end of file and its clients reconnect (the default).")
        boolean close;
    }

    @Option(names = "--compress", paramLabel = "none|lz4|zstd", defaultValue = "none",
            description = "Compress page data (default: ${DEFAULT-VALUE}).")
    Compression compression;

    @Option(names = "--ghost-limit", paramLabel = "SIZE", defaultValue = "0", converter = ByteSize.class,
            description = "Save the content of deleted-but-open files and memfds up to SIZE each (e.g. 1M, 64M) in the "
                    + "image; a larger one makes the dump fail (default: ${DEFAULT-VALUE}: every such file does).")
    long ghostLimit;

    @Parameters(index = "0", paramLabel = "PID")
    int pid;

    @Parameters(index = "1", paramLabel = "FILE")
    String file;

    @Mixin
    Verbosity verbosity;

    @Override
    public Integer call() throws Exception {
        if (leaveRunning && leaveStopped) {
            throw new ParameterException(spec.commandLine(), "--leave-running and --leave-stopped exclude each other");
        }
        if (fullFreeze && !leaveRunning) {
            throw new ParameterException(spec.commandLine(), "--freeze only applies with --leave-running");
        }
        ProgressLine progress = new ProgressLine(System.err, "dump");
        DumpOptions options = new DumpOptions(leaveRunning, compression, progress, fullFreeze, leaveStopped,
                tcp.established, false, ghostLimit);
        DumpResult r;
        if (leaveRunning && !fullFreeze) {
            // The process stands still only for a moment: not one spent on this JVM's first calls, nor in
            // code not compiled yet. Ten practices take ~0.2 s more than one here, and freeze a 2 GiB
            // process 45-49 ms instead of 55-58 (bench/freeze.sh, by turns).
            new Engine().practiceDump(compression, 10);
        }
        if (file.equals("-")) {
            try (FileChannel stdout = new FileOutputStream(FileDescriptor.out).getChannel()) {
                r = new Engine().dump(pid, Cli.writeStream(stdout), options);
            }
        } else {
            Path path = Path.of(file);
            // Only a regular file is an image to take back: never a device (/dev/null), a FIFO or a symlink.
            boolean removable = Files.notExists(path, LinkOption.NOFOLLOW_LINKS)
                    || Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS);
            boolean ok = false;
            try (FileChannel out = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.READ, StandardOpenOption.TRUNCATE_EXISTING)) {
                r = new Engine().dump(pid, out, options);
                ok = true;
            } catch (IOException e) {
                throw new EngineException(EngineException.Reason.IO, "cannot write " + file + ": " + e.getMessage(), e);
            } finally {
                if (!ok && removable) {
                    Files.deleteIfExists(path); // never leave a partial image behind
                }
            }
        }
        progress.end();
        if (verbosity.level() > 0) {
            System.err.printf("dumped %d: %d bytes (%d of memory) in %.1f ms (frozen %.1f ms), sha256 %s%n", r.pid(),
                    r.imageBytes(), r.memoryBytes(), r.total().toNanos() / 1e6, r.frozen().toNanos() / 1e6, r.sha256());
        }
        return 0;
    }
}
