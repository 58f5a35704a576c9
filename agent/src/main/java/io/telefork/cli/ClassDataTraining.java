package io.telefork.cli;

import io.telefork.engine.Engine;
import io.telefork.image.Compression;

import picocli.CommandLine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The training run behind agent/target/telefork.jsa, the class data (AppCDS) that the ./telefork launcher
 * starts the CLI with: run at package time under -XX:ArchiveClassesAtExit, it loads the classes commands
 * load (picocli's parsing and usage text, a dump through a copy-on-write twin, a lazy restore, each a practice
 * on a throwaway {@code sleep}), and the JVM writes them to the archive as it exits. A CLI command then
 * maps them instead of loading them (a lazy 256 MiB restore ran after 55-65 ms instead of 99-108).
 * Whatever fails here (no privilege to trace a process) only leaves classes out of the archive. An archive
 * serves only the JVM that made it, whose java command goes beside it (telefork.jsa.java).
 */
public final class ClassDataTraining {
    private ClassDataTraining() {
    }

    /** {@code args[0]}: a file to write this JVM's java command to (the launcher uses the archive only with it). */
    public static void main(String[] args) throws IOException {
        Path command = Path.of(ProcessHandle.current().info().command().orElseThrow()).toRealPath();
        Files.writeString(Path.of(args[0]), command + "\n");
        try {
            CommandLine cl = new CommandLine(new Main());
            cl.parseArgs("restore", "--lazy", "-v", "image");
            cl.getSubcommands().values().forEach(CommandLine::getUsageMessage);
            Engine engine = new Engine();
            engine.practiceDump(Compression.NONE);
            engine.practiceRestore();
        } catch (RuntimeException | LinkageError e) {
            System.err.println("telefork class data: training cut short (" + e + "); the archive holds what was loaded");
        }
        System.exit(0);
    }
}
