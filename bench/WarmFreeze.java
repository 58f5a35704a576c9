import io.telefork.engine.DumpOptions;
import io.telefork.engine.DumpResult;
import io.telefork.engine.Engine;
import io.telefork.engine.Progress;
import io.telefork.image.Compression;

import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;

/**
 * WarmFreeze WARM_PID WARM_RUNS PID RUNS IMAGE [agent]: in this one JVM, as the long-lived node agent dumps, first
 * WARM_RUNS dumps {@code --leave-running} of WARM_PID (a small process: they warm the JVM up without
 * touching the measured one, whose first dump is the only one that finds its huge pages whole), then
 * kills WARM_PID (SIGKILL) and makes RUNS dumps of PID, each to IMAGE (deleted after it), one second apart. For each dump of PID one line:
 * "dump N frozen_ms X engine_ms Y t0 NS t1 NS faults F", the engine's frozen and whole dump times, the
 * dump's start and end (epoch nanoseconds, the clock of holder's "pass" lines) and PID's minor faults
 * during it. With STEPS=1 in the environment, the engine's step times (what -vv shows) go to stderr too.
 * With "agent", the engine first warms up as the node agent does when it starts (Engine.warmUp).
 * Used by bench/freeze.sh with WARM=1.
 */
public final class WarmFreeze {
    public static void main(String[] args) throws Exception {
        StepLog.ifAsked();
        int warmPid = Integer.parseInt(args[0]);
        int warmRuns = Integer.parseInt(args[1]);
        int pid = Integer.parseInt(args[2]);
        int runs = Integer.parseInt(args[3]);
        Path image = Path.of(args[4]);
        Engine engine = new Engine();
        if (args.length > 5 && args[5].equals("agent")) {
            engine.warmUp(); // what the node agent does when it starts
        }
        DumpOptions leaveRunning = new DumpOptions(true, Compression.NONE, Progress.NONE, false, false, false,
                false, 0);
        for (int i = 0; i < warmRuns; i++) {
            dump(engine, warmPid, image, leaveRunning);
        }
        ProcessHandle warm = ProcessHandle.of(warmPid).orElseThrow();
        warm.destroyForcibly(); // it would take a core from the measured dumps
        warm.onExit().join();
        for (int run = 1; run <= runs; run++) {
            Thread.sleep(1000);
            long f0 = minorFaults(pid);
            long t0 = epochNanos();
            DumpResult r = dump(engine, pid, image, leaveRunning);
            long t1 = epochNanos();
            long f1 = minorFaults(pid);
            System.out.printf("dump %d frozen_ms %.2f engine_ms %.1f t0 %d t1 %d faults %d%n", run,
                    r.frozen().toNanos() / 1e6, r.total().toNanos() / 1e6, t0, t1, f1 - f0);
        }
    }

    private static DumpResult dump(Engine engine, int pid, Path image, DumpOptions options) throws Exception {
        try (FileChannel out = FileChannel.open(image, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            return engine.dump(pid, out, options);
        } finally {
            Files.deleteIfExists(image);
        }
    }

    private static long epochNanos() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }

    /** Field 10 of /proc/PID/stat, counted after the command name, which may hold spaces. */
    private static long minorFaults(int pid) throws Exception {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[7]);
    }
}
