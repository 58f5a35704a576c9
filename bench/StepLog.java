import java.util.logging.ConsoleHandler;
import java.util.logging.Level;
import java.util.logging.Logger;

/** For the warm benchmarks: with STEPS=1 in the environment, the engine's step times (what -vv shows) on stderr. */
final class StepLog {
    private StepLog() {
    }

    static void ifAsked() {
        if ("1".equals(System.getenv("STEPS"))) {
            Logger steps = Logger.getLogger("io.telefork.steps");
            ConsoleHandler h = new ConsoleHandler();
            h.setLevel(Level.FINE);
            steps.setLevel(Level.FINE);
            steps.addHandler(h);
        }
    }
}
