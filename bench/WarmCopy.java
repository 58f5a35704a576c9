import io.telefork.engine.Commit;
import io.telefork.engine.DumpOptions;
import io.telefork.engine.DumpResult;
import io.telefork.engine.Engine;
import io.telefork.engine.PageFill;
import io.telefork.engine.Progress;
import io.telefork.engine.RestoreOptions;
import io.telefork.engine.RestoreResult;
import io.telefork.image.Compression;
import io.telefork.restore.RestoredProcess;

import java.io.File;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;

/**
 * WarmCopy HOLDER MIB IMAGE RUNS [agent]: in this one JVM, as the long-lived node agent dumps and restores,
 * RUNS times: starts {@code HOLDER MIB} (bench/holder.c: MIB MiB of pseudo-random memory), dumps it to
 * IMAGE through the engine's API (a plain dump: the process is killed once the image is written), copies
 * IMAGE with {@code cp} to IMAGE.copy (the bytes' own cost), then restores IMAGE eagerly and kills the
 * restored process. One line per run: "run N dump_ms X frozen_ms Y restore_ms Z cp_ms C", the engine's
 * own times (the dump's whole time and its freeze; the restore's time until the process runs) and the
 * wall time of {@code cp}. With "agent", the engine first warms up as the node agent does when it starts
 * (Engine.warmUp). FILL in the environment (auto, userfaultfd or write: io.telefork.engine.PageFill) says how
 * the restore fills memory. With STEPS=1 in the environment, the engine's step times go to stderr too.
 * Used by bench/warm-copy.sh.
 */
public final class WarmCopy {
    public static void main(String[] args) throws Exception {
        StepLog.ifAsked();
        String holder = args[0];
        String mib = args[1];
        Path image = Path.of(args[2]);
        Path copy = Path.of(args[2] + ".copy");
        int runs = Integer.parseInt(args[3]);
        Engine engine = new Engine();
        if (args.length > 4 && args[4].equals("agent")) {
            engine.warmUp(); // what the node agent does when it starts
        }
        DumpOptions plain = new DumpOptions(false, Compression.NONE, Progress.NONE, false, false, false, false, 0);
        String fill = System.getenv().getOrDefault("FILL", "auto");
        RestoreOptions eager = new RestoreOptions(false, Progress.NONE, Commit.NONE,
                PageFill.valueOf(fill.toUpperCase(java.util.Locale.ROOT)), false);
        Path out = Files.createTempFile("warm-copy", ".out");
        try {
            for (int run = 1; run <= runs; run++) {
                ProcessHandle target = start(holder, mib, out);
                DumpResult d;
                try (FileChannel img = FileChannel.open(image, StandardOpenOption.CREATE, StandardOpenOption.READ,
                        StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                    d = engine.dump((int) target.pid(), img, plain);
                } finally {
                    target.destroyForcibly(); // gone already, unless the dump failed
                    target.onExit().join();
                }
                double cp = cp(image, copy);
                RestoreResult r;
                RestoredProcess p;
                try (FileChannel in = FileChannel.open(image)) {
                    p = engine.restore(in, eager);
                }
                r = p.result();
                ProcessHandle.of(r.pid()).ifPresent(ProcessHandle::destroyForcibly);
                p.waitFor();
                System.out.printf("run %d dump_ms %.1f frozen_ms %.1f restore_ms %.1f cp_ms %.1f%n", run,
                        d.total().toNanos() / 1e6, d.frozen().toNanos() / 1e6, r.total().toNanos() / 1e6, cp);
                Files.deleteIfExists(image);
            }
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(image);
            Files.deleteIfExists(copy);
        }
    }

    /**
     * The holder, once it has touched its memory (its READY line), with descriptors 0-2 only. Started
     * detached (by a shell that exits), never as a child of this JVM: the JDK's process reaper waits on its
     * children, and would take the ptrace stops the engine waits for (the engine refuses to dump a child
     * of its own JVM for that reason).
     */
    private static ProcessHandle start(String holder, String mib, Path out) throws Exception {
        Files.writeString(out, "");
        Process sh = new ProcessBuilder("sh", "-c", "\"$0\" \"$1\" < /dev/null > \"$2\" 2>&1 & echo $!", holder, mib,
                out.toString()).redirectErrorStream(true).start();
        String pid = new String(sh.getInputStream().readAllBytes()).trim();
        sh.waitFor();
        ProcessHandle p = ProcessHandle.of(Long.parseLong(pid)).orElseThrow();
        for (int i = 0; i < 600 && !Files.readString(out).contains("READY"); i++) {
            if (!p.isAlive()) {
                throw new IllegalStateException("holder exited: " + Files.readString(out));
            }
            Thread.sleep(50);
        }
        if (!Files.readString(out).contains("READY")) {
            p.destroyForcibly();
            throw new IllegalStateException("holder not ready after 30 s");
        }
        return p;
    }

    /** Wall time of `cp FROM TO`, in ms; TO removed after. */
    private static double cp(Path from, Path to) throws Exception {
        long t0 = System.nanoTime();
        Process cp = new ProcessBuilder("cp", from.toString(), to.toString()).inheritIO().start();
        if (!cp.waitFor(60, TimeUnit.SECONDS) || cp.exitValue() != 0) {
            throw new IllegalStateException("cp failed");
        }
        double ms = (System.nanoTime() - t0) / 1e6;
        Files.deleteIfExists(to);
        return ms;
    }
}
