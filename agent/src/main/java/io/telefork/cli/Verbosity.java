package io.telefork.cli;

import picocli.CommandLine;
import picocli.CommandLine.Option;

/** {@code -v} / {@code -vv}, shared by every subcommand. */
public final class Verbosity {
    @Option(names = "-v", description = "More detail on stderr; -vv adds stack traces to errors.")
    boolean[] verbose = new boolean[0];

    int level() {
        return verbose.length;
    }

    static int level(CommandLine.ParseResult parsed) {
        CommandLine.ParseResult sub = parsed.subcommand();
        CommandLine.ParseResult p = sub != null ? sub : parsed;
        return p.matchedOptionValue("-v", new boolean[0]).length;
    }
}
