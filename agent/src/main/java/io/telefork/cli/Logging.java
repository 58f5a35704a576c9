package io.telefork.cli;

import java.util.logging.ConsoleHandler;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;

/** -vv shows the engine's debug log (step timings) on stderr; otherwise only warnings. */
final class Logging {
    private static final Logger TELEFORK = Logger.getLogger("io.telefork");

    private Logging() {
    }

    static void configure(int verbosity) {
        System.setProperty("java.util.logging.SimpleFormatter.format", "telefork: %5$s%6$s%n");
        Logger root = Logger.getLogger("");
        for (var h : root.getHandlers()) {
            root.removeHandler(h);
        }
        ConsoleHandler handler = new ConsoleHandler();
        handler.setFormatter(new SimpleFormatter());
        Level level = verbosity >= 2 ? Level.FINE : Level.WARNING;
        handler.setLevel(level);
        root.setLevel(Level.WARNING);
        root.addHandler(handler);
        // Keep a reference: the logging framework holds loggers weakly and would forget the level.
        TELEFORK.setLevel(level);
    }
}
