import io.telefork.engine.Commit;
import io.telefork.engine.Engine;
import io.telefork.engine.Progress;
import io.telefork.engine.RestoreOptions;
import io.telefork.engine.RestoreResult;
import io.telefork.restore.RestoredProcess;

import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * WarmLazy IMAGE RUNS [agent]: restores IMAGE lazily RUNS times in this one JVM through the engine's API (as the
 * node agent would), killing each restored process before the next, and prints one line per run:
 * "run N first_ms X copied_ms Y allin_ms Z" (the engine's own times from the restore's start to the
 * process's first instruction, to the last page copied in, and to every page in with the image
 * verified). Run 1 is the cold JVM a CLI restore has; run 2 on, the warm one of a long-lived agent.
 * With "agent", the engine first warms up as the node agent does when it starts (Engine.warmUp).
 * With STEPS=1 in the environment, the engine's step times (what -vv shows) go to stderr too.
 * Used by bench/warm-lazy.sh.
 */
public final class WarmLazy {
    public static void main(String[] args) throws Exception {
        StepLog.ifAsked();
        Path image = Path.of(args[0]);
        int runs = Integer.parseInt(args[1]);
        Engine engine = new Engine();
        if (args.length > 2 && args[2].equals("agent")) {
            long t0 = System.nanoTime();
            engine.warmUp(); // what the node agent does when it starts
            System.err.printf("Engine.warmUp took %.0f ms%n", (System.nanoTime() - t0) / 1e6);
        }
        RestoreOptions lazy = new RestoreOptions(false, Progress.NONE, Commit.NONE, null, true);
        for (int run = 1; run <= runs; run++) {
            RestoredProcess p;
            try (FileChannel in = FileChannel.open(image)) {
                p = engine.restore(in, lazy);
            }
            RestoreResult r = p.result();
            System.out.printf("run %d first_ms %.1f copied_ms %.1f allin_ms %.1f%n", run,
                    r.total().toNanos() / 1e6, r.copied().toNanos() / 1e6, r.allIn().toNanos() / 1e6);
            ProcessHandle.of(r.pid()).ifPresent(ProcessHandle::destroyForcibly);
            p.waitFor();
        }
    }
}
