package io.telefork.engine;

import io.telefork.dump.Dumper;
import io.telefork.image.Compression;
import io.telefork.image.ImageReader;
import io.telefork.image.ImageWriter;
import io.telefork.restore.Restorer;
import io.telefork.restore.RestoredProcess;
import io.telefork.sys.Kernel;
import io.telefork.sys.Spawner;
import io.telefork.sys.Sys;
import io.telefork.sys.SysException;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The engine's API for the CLI and the node agent. Stateless: every call seizes what it needs and lets
 * it go again before returning.
 */
public final class Engine {

    /**
     * Writes the whole state of process {@code pid} to {@code out}. If this fails, the process resumes
     * exactly as it was found.
     */
    public DumpResult dump(int pid, WritableByteChannel out, DumpOptions options) throws EngineException {
        return dump(pid, out, options, Commit.NONE);
    }

    /** As {@link #dump(int, WritableByteChannel, DumpOptions)}, asking {@code commit} before the process is killed. */
    public DumpResult dump(int pid, WritableByteChannel out, DumpOptions options, Commit commit)
            throws EngineException {
        return new Dumper(options).dump(pid, out, commit);
    }

    /**
     * Restores an image into a new process spawned by (and a child of) the caller, sharing the caller's
     * stdin, stdout and stderr. The process runs when this returns.
     */
    public RestoredProcess restore(ReadableByteChannel in, RestoreOptions options) throws EngineException {
        return new Restorer(options).restoreSpawned(in);
    }

    /**
     * Transplants an image into an existing placeholder process (the "vessel"), for example the waiting
     * process of a container, so that the restored process lives in its namespaces and cgroups. On
     * failure before the point of no return the vessel is left as it was; after it, the vessel is killed.
     */
    public RestoreResult restoreInto(int vesselPid, ReadableByteChannel in, RestoreOptions options)
            throws EngineException {
        return new Restorer(options).restoreInto(vesselPid, in);
    }

    /**
     * As {@link #restoreInto(int, ReadableByteChannel, RestoreOptions)}, for a placeholder that is the only
     * child of a small init ({@code initPid}, e.g. a shell that waits for it): an image whose IDs must be
     * kept (a process tree, or threads) and whose first process had the init's PID in its namespace goes
     * into the init, the placeholder ended first; any other image goes into the placeholder.
     */
    public RestoreResult restoreInto(int placeholderPid, int initPid, ReadableByteChannel in, RestoreOptions options)
            throws EngineException {
        return new Restorer(options).restoreInto(placeholderPid, initPid, in);
    }

    /**
     * Loads and runs once, on a one-page image in memory, what every dump and restore needs first: JNA
     * and libc, each page codec's native library, the digest pipeline; then practises dumps and lazy
     * restores on throwaway {@code sleep}s until their code is compiled (about a second of one core). A
     * long-lived caller (the node agent) calls it at start, so that its operations do not pay for it while
     * a process waits.
     */
    public void warmUp() throws IOException {
        warmUpCodecs();
        practiceDump(Compression.NONE, PRACTICE_DUMPS);
        practiceRestore();
    }

    /** The codec part of {@link #warmUp()}: no process involved. */
    void warmUpCodecs() throws IOException {
        Kernel.getpid();
        for (Compression c : Compression.values()) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (ImageWriter w = new ImageWriter(Channels.newChannel(bytes), c)) {
                w.writeHeader();
                ByteBuffer page = ByteBuffer.allocateDirect((int) Sys.PAGE);
                page.put(0, (byte) 1);
                w.writePages(Sys.PAGE * 16, page);
                w.finish();
            }
            try (ImageReader r = new ImageReader(Channels.newChannel(new ByteArrayInputStream(bytes.toByteArray())))) {
                while (r.next() != null) {
                    // every record read and checked, the END digest verified
                }
            }
        }
    }

    /**
     * Dumps a throwaway child process ({@code sleep}), left running, into nothing, so that what a fresh
     * JVM pays on first use (JNA bindings, class loading, interpreted code) is paid here and not while a
     * process is frozen: measured on a process writing to 2 GiB, the freeze of a {@code --leave-running}
     * dump was 345-445 ms from a cold JVM and 106-163 ms from one that had dumped once. Later practices
     * get the code compiled (see {@link #PRACTICE_DUMPS}). False if there is no {@code sleep} to run or
     * the practice failed; the real dump then only pays those costs itself.
     */
    public boolean practiceDump(Compression compression) {
        return practiceDump(compression, 1);
    }

    /** As {@link #practiceDump(Compression)}, {@code times} dumps of one {@code sleep}. */
    public boolean practiceDump(Compression compression, int times) {
        return practice(sleeps -> {
            int sleep = sleeps.next();
            for (int i = 0; i < times; i++) {
                Dumper.forPractice(new DumpOptions(true, compression, Progress.NONE, false, false, false, false, 0))
                        .dump(sleep, new Discard(), Commit.NONE);
            }
            return true;
        });
    }

    /**
     * Dumps a throwaway child ({@code sleep}) to a temporary file and restores it lazily into others, the
     * way the node agent restores into a pod's placeholder, {@link #PRACTICE_RESTORES} times from the file
     * and once from a stream (post-copy), so that the agent's real restores do not pay the JVM's first-use
     * costs while a workload waits, nor run interpreted code: the first instruction of a 2 GiB lazy restore
     * came 180 ms after its start in a cold JVM, 11-13 ms after one practice and 7.2-10.8 ms after these
     * (bench/warm-lazy.sh with and without AGENT=1). About a second of one core, at the agent's start.
     * False if it could not be done; the real restores then only pay those costs themselves.
     */
    public boolean practiceRestore() {
        return practice(sleeps -> {
            int source = sleeps.next();
            int vessel = sleeps.next();
            Path image = Files.createTempFile("telefork-practice-", ".img");
            try {
                try (FileChannel out = FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                    dump(source, out, new DumpOptions(true, Compression.NONE, Progress.NONE, false, false, false, false,
                            0));
                }
                RestoreOptions lazily = new RestoreOptions(false, Progress.NONE, Commit.NONE, PageFill.AUTO, true);
                boolean fromFile;
                try (FileChannel in = FileChannel.open(image, StandardOpenOption.READ)) {
                    fromFile = restoreInto(vessel, in, lazily).lazy();
                }
                // Again and again: a restore runs most of its code once, which the JIT compiles only after
                // repetitions.
                for (int i = 1; i < PRACTICE_RESTORES && fromFile; i++) {
                    int next = sleeps.next();
                    try (FileChannel in = FileChannel.open(image, StandardOpenOption.READ)) {
                        fromFile = restoreInto(next, in, lazily).lazy();
                    }
                    sleeps.end(next);
                }
                // Again from a stream, as a post-copy Migration restores: that path (the LAZY record, the stream pusher)
                // is then no workload's first use. (Its cold cost was not measured apart.)
                try (ReadableByteChannel in = Channels.newChannel(Files.newInputStream(image))) {
                    return restoreInto(sleeps.next(), in, lazily).lazy() && fromFile;
                }
            } finally {
                Files.deleteIfExists(image);
            }
        });
    }

    /**
     * Practice dumps, to get the freeze's code compiled, which the JIT does only after repetitions: a 2 GiB
     * process with huge pages was frozen 5-13 ms after 10 dumps of a small one, 3.6-6.2 ms after 40.
     */
    static final int PRACTICE_DUMPS = 30;

    /** Restores of the practice image from a file, to get the restore's code compiled. */
    static final int PRACTICE_RESTORES = 20;

    /** Child {@code sleep}s for a practice, each killed and reaped when it ends. */
    private static final class Sleeps {
        private final List<Integer> pids = new java.util.ArrayList<>();

        int next() throws SysException, IOException, InterruptedException {
            int pid = spawnSleep();
            pids.add(pid);
            return pid;
        }

        void end(int pid) {
            pids.remove(Integer.valueOf(pid));
            Spawner.killAndReap(pid);
        }
    }

    private interface Practice {
        boolean run(Sleeps sleeps) throws EngineException, SysException, IOException, InterruptedException;
    }

    /** Runs a practice on throwaway children; false if it failed (nothing but speed is at stake). */
    private static boolean practice(Practice p) {
        Sleeps sleeps = new Sleeps();
        try {
            return p.run(sleeps);
        } catch (EngineException | SysException | IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            sleeps.pids.forEach(Spawner::killAndReap);
        }
    }

    /** A child {@code sleep 60}, once it runs sleep (not the JVM's fork of itself any more). */
    private static int spawnSleep() throws SysException, IOException, InterruptedException {
        Path sleep = Stream.of("/usr/bin/sleep", "/bin/sleep").map(Path::of).filter(Files::isExecutable).findFirst()
                .orElseThrow(() -> new IOException("no sleep to practice on"));
        // posix_spawn, not ProcessBuilder: the JDK's reaper thread would swallow the ptrace stops.
        int pid = Spawner.spawn(List.of(sleep.toString(), "60"), Map.of());
        Path exe = Path.of("/proc", Integer.toString(pid), "exe");
        long deadline = System.nanoTime() + 2_000_000_000L;
        while (!sleep.toRealPath().equals(exe.toRealPath())) {
            if (System.nanoTime() > deadline) {
                Spawner.killAndReap(pid);
                throw new IOException("the practice sleep did not start");
            }
            Thread.sleep(1);
        }
        return pid;
    }

    /** Takes every byte and keeps none. */
    private static final class Discard implements WritableByteChannel {
        private boolean open = true;

        @Override
        public int write(ByteBuffer src) {
            int n = src.remaining();
            src.position(src.limit());
            return n;
        }

        @Override
        public boolean isOpen() {
            return open;
        }

        @Override
        public void close() {
            open = false;
        }
    }
}
