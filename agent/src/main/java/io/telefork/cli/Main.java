package io.telefork.cli;

import io.telefork.engine.EngineException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;

/** The {@code telefork} command. Exit codes: see {@link EngineException.Reason} and the README. */
@Command(name = "telefork", mixinStandardHelpOptions = true, version = "telefork 0.1.0",
        description = "Checkpoint a running Linux process to an image and restore it, here or on another machine.",
        subcommands = {DumpCommand.class, RestoreCommand.class, InspectCommand.class, SendCommand.class,
            ServeCommand.class})
public final class Main {

    public static void main(String[] args) {
        System.exit(run(args));
    }

    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true);
        cl.setExecutionStrategy(parsed -> {
            Logging.configure(Verbosity.level(parsed));
            return new CommandLine.RunLast().execute(parsed);
        });
        cl.setExecutionExceptionHandler(Main::handle);
        return cl.execute(args);
    }

    private static int handle(Exception e, CommandLine cl, CommandLine.ParseResult parsed) {
        PrintWriter err = cl.getErr();
        if (e instanceof EngineException ee) {
            err.println("telefork: " + ee.getMessage());
            if (Verbosity.level(parsed) > 1 && ee.getCause() != null) {
                ee.getCause().printStackTrace(err);
            }
            err.flush();
            return ee.reason().exitCode();
        }
        err.println("telefork: " + e);
        if (Verbosity.level(parsed) > 1) {
            e.printStackTrace(err);
        }
        err.flush();
        return 1;
    }
}
