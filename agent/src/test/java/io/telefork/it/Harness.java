package io.telefork.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Runs the telefork CLI and the self-checking test programs (agent/src/test/c) for the integration tests,
 * and cleans up every process it started: create one per test and {@link #close()} it afterwards.
 *
 * <p>The CLI is run through the ./telefork launcher with the test JVM's own java. Paths come from the
 * system properties set by failsafe: {@code telefork.jar}, {@code telefork.testbin}, {@code telefork.root}.
 *
 * <p>One trap shapes the API: when a {@link Process} exits, the JDK closes our end of its stdin pipe and
 * drains and closes its stdout pipe. A process restored with {@code restore --detach} shares restore's
 * stdio but outlives it, so its output cannot be read through restore's {@link Process} pipes:
 * {@link #restoreDetached} redirects stdio to files instead.
 */
final class Harness implements AutoCloseable, AfterEachCallback {

    static final Path ROOT = Path.of(System.getProperty("telefork.root", "..")).toAbsolutePath().normalize();
    static final Path JAR = Path.of(System.getProperty("telefork.jar",
            ROOT.resolve("agent/target/telefork.jar").toString()));
    static final Path TESTBIN = Path.of(System.getProperty("telefork.testbin",
            ROOT.resolve("agent/target/test-bin").toString()));

    /** Upper bound for one CLI command (a dump or restore of 256 MiB takes about a second). */
    static final Duration CLI_TIMEOUT = Duration.ofSeconds(60);
    /** Upper bound for a test program to print READY (mem_pattern fills 256 MiB first). */
    static final Duration READY_TIMEOUT = Duration.ofSeconds(30);
    /** Upper bound for a restored program to print its verdict after go. */
    static final Duration VERDICT_TIMEOUT = Duration.ofSeconds(30);

    private final List<Proc> procs = new ArrayList<>();
    private final List<Long> foreignPids = new ArrayList<>();

    static String java() {
        return ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    }

    /**
     * The CLI as users run it, through the ./telefork launcher (its JVM flags), on this build's jar and the
     * test JVM's java; env and the launcher exec, so the command's PID is the CLI's JVM.
     */
    static List<String> cli(String... args) {
        List<String> cmd = new ArrayList<>(List.of("env", "TELEFORK_JAR=" + JAR, "TELEFORK_JAVA=" + java(),
                ROOT.resolve("telefork").toString()));
        cmd.addAll(Arrays.asList(args));
        return cmd;
    }

    static Path program(String name) {
        return TESTBIN.resolve(name);
    }

    // ---------------------------------------------------------------------------------------------
    // Starting processes

    /** Starts a command with stdin and stdout as pipes read and written by the test. */
    Proc start(String name, List<String> command, Map<String, String> env) {
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().putAll(env);
        try {
            Proc p = new Proc(name, pb.start());
            synchronized (procs) {
                procs.add(p);
            }
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + command, e);
        }
    }

    Proc start(String name, List<String> command) {
        return start(name, command, Map.of());
    }

    /** Starts test program {@code name} from the test-bin directory and waits for its READY line. */
    Proc startProgram(String name, List<String> args, Map<String, String> env) {
        List<String> cmd = new ArrayList<>();
        cmd.add(program(name).toString());
        cmd.addAll(args);
        Proc p = start(name, cmd, env);
        p.awaitReady();
        return p;
    }

    Proc startProgram(String name, String... args) {
        return startProgram(name, List.of(args), Map.of());
    }

    /** Runs a CLI command to its end, stdout and stderr captured. */
    Result run(String... args) {
        return run(CLI_TIMEOUT, args);
    }

    Result run(Duration timeout, String... args) {
        Proc p = start("telefork " + args[0], cli(args));
        p.closeStdin();
        int code = p.waitFor(timeout);
        return new Result(code, String.join("\n", p.lines()), p.stderr(), String.join(" ", args));
    }

    /** Dumps {@code pid} to {@code image} and insists that it worked. */
    Result dump(long pid, Path image, String... options) {
        List<String> args = new ArrayList<>(List.of("dump"));
        args.addAll(Arrays.asList(options));
        args.add(Long.toString(pid));
        args.add(image.toString());
        Result r = run(args.toArray(String[]::new));
        assertThat(r.code).as("exit status of %s\nstderr: %s", r.command, r.stderr).isZero();
        assertThat(image).as("image written by " + r.command).isNotEmptyFile();
        return r;
    }

    /**
     * Starts self-checking program {@code program} (told to expect a restore), dumps it to {@code dir}
     * (which kills it) and returns the image.
     */
    Path dumpedProgram(Path dir, String program, List<String> args, String... dumpOptions) {
        Proc original = startProgram(program, args, Map.of("TF_EXPECT_RESTORE", "1"));
        Path image = dir.resolve(program + ".img");
        dump(original.pid(), image, dumpOptions);
        original.awaitDeath(Duration.ofSeconds(10), "dump without --leave-running kills the process");
        return image;
    }

    /** Inverts the byte at {@code where} (0..1) of the file's length. */
    static void flipByte(Path file, double where) throws IOException {
        try (java.nio.channels.FileChannel f = java.nio.channels.FileChannel.open(file,
                java.nio.file.StandardOpenOption.WRITE, java.nio.file.StandardOpenOption.READ)) {
            long at = (long) (f.size() * where);
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(1);
            f.read(b, at);
            b.put(0, (byte) ~b.get(0)).position(0);
            f.write(b, at);
        }
    }

    /** Dumps a workload that prints as it goes (which kills it); returns what it printed until then. */
    List<String> dumpKilling(Proc original, Path image) {
        dump(original.pid(), image);
        original.awaitDeath(Duration.ofSeconds(10), "dump kills " + original.name);
        return original.awaitEof(Duration.ofSeconds(5));
    }

    /** What a workload printed before its dump, and its restored process, run to its end with {@code code}. */
    record Continued(List<String> before, Proc restored, int code) {
        /** Everything printed, before the dump and after the restore. */
        List<String> all() {
            List<String> all = new ArrayList<>(before);
            all.addAll(restored.lines());
            return all;
        }
    }

    /** Restores {@code image} (stdin closed) and waits up to {@code timeout} for the restored process to end. */
    Continued restoreToEnd(Path image, List<String> before, Duration timeout, String... options) {
        Proc restored = restore(image, options);
        restored.closeStdin();
        return new Continued(before, restored, restored.waitFor(timeout));
    }

    /** Starts {@code telefork restore [options] image} with stdio pipes (the restored program's stdio). */
    Proc restore(Path image, String... options) {
        return restore(image, Map.of(), options);
    }

    /** As {@link #restore(Path, String...)}, with extra environment variables for the restore's JVM. */
    Proc restore(Path image, Map<String, String> env, String... options) {
        List<String> args = new ArrayList<>(List.of("restore"));
        args.addAll(Arrays.asList(options));
        args.add(image.toString());
        return start("telefork restore", cli(args.toArray(String[]::new)), env);
    }

    /**
     * Runs {@code telefork restore --detach image} with stdin read from a file holding {@code stdinText}
     * and stdout/stderr written to files in {@code dir}, waits for it and returns the restored PID.
     */
    Detached restoreDetached(Path image, Path dir, String stdinText) {
        return restoreDetached(image, dir, stdinText, new String[0]);
    }

    /** As {@link #restoreDetached(Path, Path, String)}, with restore options (e.g. --allow-changed-files). */
    Detached restoreDetached(Path image, Path dir, String stdinText, String... options) {
        try {
            Path in = dir.resolve("restore-stdin.txt");
            Path out = dir.resolve("restore-stdout.txt");
            Path err = dir.resolve("restore-stderr.txt");
            Files.writeString(in, stdinText);
            List<String> args = new ArrayList<>(List.of("restore", "--detach"));
            args.addAll(Arrays.asList(options));
            args.add(image.toString());
            ProcessBuilder pb = new ProcessBuilder(cli(args.toArray(String[]::new)))
                    .redirectInput(in.toFile()).redirectOutput(out.toFile()).redirectError(err.toFile());
            Process p = pb.start();
            if (!p.waitFor(CLI_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("restore --detach did not return within " + CLI_TIMEOUT
                        + "\nstderr: " + Files.readString(err));
            }
            String stdout = Files.readString(out);
            String stderr = Files.readString(err);
            assertThat(p.exitValue()).as("exit status of restore --detach\nstdout: %s\nstderr: %s", stdout, stderr)
                    .isZero();
            String first = stdout.lines().findFirst().orElse("");
            assertThat(first).as("first stdout line of restore --detach (the PID)\nstderr: %s", stderr)
                    .matches("[0-9]+");
            long pid = Long.parseLong(first);
            synchronized (foreignPids) {
                foreignPids.add(pid);
            }
            return new Detached(pid, out, err);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** Remembers a process that is not our child, to be killed by {@link #close()}. */
    void adopt(long pid) {
        synchronized (foreignPids) {
            foreignPids.add(pid);
        }
    }

    /** A test's field {@code @RegisterExtension final Harness h}: cleaned up after each test. */
    @Override
    public void afterEach(ExtensionContext context) {
        close();
    }

    /** Kills everything this harness started (and their descendants). */
    @Override
    public void close() {
        List<Proc> ps;
        synchronized (procs) {
            ps = new ArrayList<>(procs);
        }
        for (Proc p : ps) {
            p.kill();
        }
        synchronized (foreignPids) {
            for (long pid : foreignPids) {
                ProcessHandle.of(pid).ifPresent(h -> {
                    h.descendants().forEach(ProcessHandle::destroyForcibly);
                    h.destroyForcibly();
                });
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Looking at processes from outside

    /** Sends a signal with kill(1), e.g. {@code signal(pid, "STOP")}. */
    static void signal(long pid, String sig) {
        try {
            Process p = new ProcessBuilder("kill", "-" + sig, Long.toString(pid)).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor()).as("kill -%s %d: %s", sig, pid, out).isZero();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** The state letter of /proc/PID/stat (R, S, T, t, Z, ...), empty if the process is gone. */
    static Optional<Character> state(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            return Optional.of(stat.charAt(stat.lastIndexOf(')') + 2));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** One field of /proc/PID/status, e.g. {@code status(pid, "TracerPid")} -> "0". */
    static Optional<String> status(long pid, String field) {
        try {
            return Files.readAllLines(Path.of("/proc", Long.toString(pid), "status")).stream()
                    .filter(l -> l.startsWith(field + ":"))
                    .map(l -> l.substring(field.length() + 1).trim())
                    .findFirst();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** True while the process exists and is not a zombie. */
    static boolean alive(long pid) {
        return state(pid).map(s -> s != 'Z' && s != 'X').orElse(false);
    }

    /** A PID no process has right now (racy in theory, fine with pid_max 32768 and few processes). */
    static long unusedPid() {
        for (long pid = 32000; pid > 1000; pid--) {
            if (!Files.exists(Path.of("/proc", Long.toString(pid))) && ProcessHandle.of(pid).isEmpty()) {
                return pid;
            }
        }
        throw new AssertionError("no unused PID found");
    }

    // ---------------------------------------------------------------------------------------------

    /** The outcome of a CLI command run to its end. */
    record Result(int code, String stdout, String stderr, String command) {

        /** The error line (starting with "telefork: ") a failed command must print on stderr. */
        void assertFailedWith(int expected) {
            assertThat(code).as("exit status of telefork %s\nstdout: %s\nstderr: %s", command, stdout, stderr)
                    .isEqualTo(expected);
            assertThat(stderr.lines().filter(l -> l.startsWith("telefork: ")).count())
                    .as("error lines starting with 'telefork: ' on stderr of telefork %s:\n%s", command, stderr)
                    .isEqualTo(1);
        }
    }

    /** A process restored with --detach: its PID and the files holding its (and restore's) output. */
    record Detached(long pid, Path stdout, Path stderr) {

        List<String> lines() {
            try {
                return Files.readAllLines(stdout);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        String describe() {
            try {
                return "restored process " + pid + "\nstdout: " + Files.readString(stdout) + "\nstderr: "
                        + Files.readString(stderr);
            } catch (IOException e) {
                return "restored process " + pid + " (" + e + ")";
            }
        }
    }

    /**
     * A process started by the harness. Its stdout is read line by line in the background (lines are
     * kept, and consumed in order by {@link #awaitLine}); stderr is collected whole.
     */
    static final class Proc {
        final String name;
        final Process process;
        private final List<String> lines = new ArrayList<>();
        private final StringBuffer stderr = new StringBuffer();
        private boolean eof;
        private int cursor;
        private final Thread errReader;

        Proc(String name, Process process) {
            this.name = name;
            this.process = process;
            Thread outReader = new Thread(() -> readLines(process.getInputStream()), name + " stdout");
            errReader = new Thread(() -> readAll(process.getErrorStream()), name + " stderr");
            outReader.setDaemon(true);
            errReader.setDaemon(true);
            outReader.start();
            errReader.start();
        }

        private void readLines(InputStream in) {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    synchronized (this) {
                        lines.add(line);
                        notifyAll();
                    }
                }
            } catch (IOException e) {
                // the stream was closed under us (process killed): treat as the end
            } finally {
                synchronized (this) {
                    eof = true;
                    notifyAll();
                }
            }
        }

        private void readAll(InputStream in) {
            byte[] buf = new byte[8192];
            try (in) {
                int n;
                while ((n = in.read(buf)) > 0) {
                    stderr.append(new String(buf, 0, n, StandardCharsets.UTF_8));
                }
            } catch (IOException e) {
                // closed under us
            }
        }

        long pid() {
            return process.pid();
        }

        synchronized List<String> lines() {
            return new ArrayList<>(lines);
        }

        String stderr() {
            return stderr.toString();
        }

        String describe() {
            return name + " (pid " + process.pid() + (process.isAlive() ? ", running" : ", exit " + process.exitValue())
                    + ")\nstdout: " + lines() + "\nstderr: " + stderr();
        }

        /**
         * Waits for the next stdout line (after those already consumed) that matches, consuming it and every
         * line before it. Fails if the output ends first or a line starting with "FAIL" shows up.
         */
        synchronized String awaitLine(Predicate<String> wanted, Duration timeout, String what) {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                while (cursor < lines.size()) {
                    String line = lines.get(cursor++);
                    if (wanted.test(line)) {
                        return line;
                    }
                    if (line.startsWith("FAIL")) {
                        throw new AssertionError("waiting for " + what + ", got: " + line + "\n" + describe());
                    }
                }
                long left = deadline - System.nanoTime();
                if (eof || left <= 0) {
                    throw new AssertionError((eof ? "output ended" : "timed out after " + timeout)
                            + " while waiting for " + what + "\n" + describe());
                }
                try {
                    wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new AssertionError(e);
                }
            }
        }

        String awaitLine(String exact, Duration timeout) {
            return awaitLine(exact::equals, timeout, "the line '" + exact + "'");
        }

        void awaitReady() {
            awaitLine("READY", READY_TIMEOUT);
        }

        /** Waits until stdout has ended (every writer closed it) and returns all its lines. */
        synchronized List<String> awaitEof(Duration timeout) {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (!eof) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("stdout did not end within " + timeout + "\n" + describe());
                }
                try {
                    wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new AssertionError(e);
                }
            }
            return new ArrayList<>(lines);
        }

        void writeLine(String line) {
            try {
                OutputStream out = process.getOutputStream();
                out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
            } catch (IOException e) {
                throw new AssertionError("cannot write '" + line + "' to " + describe(), e);
            }
        }

        void closeStdin() {
            try {
                process.getOutputStream().close();
            } catch (IOException e) {
                // already closed
            }
        }

        /** Waits for the exit status (128+signal for a killed process); kills the process on timeout. */
        int waitFor(Duration timeout) {
            try {
                if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                    String d = describe();
                    kill();
                    throw new AssertionError("did not exit within " + timeout + ": " + d);
                }
                errReader.join(5000); // let the stderr reader finish, so stderr() is complete
                awaitEof(Duration.ofSeconds(5));
                return process.exitValue();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }

        /**
         * Writes go, waits for the exit and asserts the self-checking program's verdict: exit status 0, a
         * PASS line and no FAIL line on stdout.
         */
        void goAndExpectPass() {
            writeLine("go");
            expectPass();
        }

        /** The verdict of a program that has been told to go. */
        void expectPass() {
            int code = waitFor(VERDICT_TIMEOUT.plus(CLI_TIMEOUT));
            List<String> out = lines();
            assertThat(out).as("stdout of %s", describe()).noneMatch(l -> l.startsWith("FAIL"));
            assertThat(out).as("stdout of %s", describe()).contains("PASS");
            assertThat(code).as("exit status of %s", describe()).isZero();
        }

        /** Waits until the process has gone (it was killed by a dump, for instance). */
        void awaitDeath(Duration timeout, String why) {
            await(why + ": " + name + " (pid " + pid() + ") should be gone").atMost(timeout)
                    .pollInterval(Duration.ofMillis(20)).until(() -> !process.isAlive());
        }

        void kill() {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            try {
                process.waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    // ---------------------------------------------------------------------------------------------

    /** A small JSON reader for the output of {@code inspect --json}: objects become LinkedHashMaps,
     *  arrays Lists, numbers Long or Double, and true/false/null Boolean or null. */
    static final class Json {
        private final String s;
        private int i;

        private Json(String s) {
            this.s = s;
        }

        static Object parse(String text) {
            Json j = new Json(text);
            Object v = j.value();
            j.ws();
            if (j.i != j.s.length()) {
                throw j.error("trailing text");
            }
            return v;
        }

        private IllegalArgumentException error(String what) {
            return new IllegalArgumentException(what + " at offset " + i + " of JSON: "
                    + s.substring(Math.max(0, i - 40), Math.min(s.length(), i + 40)));
        }

        private void ws() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }

        private Object value() {
            ws();
            if (i >= s.length()) {
                throw error("unexpected end");
            }
            char c = s.charAt(i);
            switch (c) {
                case '{':
                    return object();
                case '[':
                    return array();
                case '"':
                    return string();
                default:
                    if (s.startsWith("true", i)) {
                        i += 4;
                        return Boolean.TRUE;
                    }
                    if (s.startsWith("false", i)) {
                        i += 5;
                        return Boolean.FALSE;
                    }
                    if (s.startsWith("null", i)) {
                        i += 4;
                        return null;
                    }
                    return number();
            }
        }

        private Map<String, Object> object() {
            Map<String, Object> m = new LinkedHashMap<>();
            i++;
            ws();
            if (s.charAt(i) == '}') {
                i++;
                return m;
            }
            while (true) {
                ws();
                String key = string();
                ws();
                expect(':');
                m.put(key, value());
                ws();
                if (s.charAt(i) == ',') {
                    i++;
                } else {
                    expect('}');
                    return m;
                }
            }
        }

        private List<Object> array() {
            List<Object> l = new ArrayList<>();
            i++;
            ws();
            if (s.charAt(i) == ']') {
                i++;
                return l;
            }
            while (true) {
                l.add(value());
                ws();
                if (s.charAt(i) == ',') {
                    i++;
                } else {
                    expect(']');
                    return l;
                }
            }
        }

        private void expect(char c) {
            if (i >= s.length() || s.charAt(i) != c) {
                throw error("expected '" + c + "'");
            }
            i++;
        }

        private String string() {
            expect('"');
            StringBuilder b = new StringBuilder();
            while (true) {
                if (i >= s.length()) {
                    throw error("unterminated string");
                }
                char c = s.charAt(i++);
                if (c == '"') {
                    return b.toString();
                }
                if (c != '\\') {
                    b.append(c);
                    continue;
                }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n' -> b.append('\n');
                    case 't' -> b.append('\t');
                    case 'r' -> b.append('\r');
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'u' -> {
                        b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                        i += 4;
                    }
                    default -> b.append(e);
                }
            }
        }

        private Object number() {
            int start = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) {
                i++;
            }
            String n = s.substring(start, i);
            if (n.isEmpty()) {
                throw error("unexpected character");
            }
            if (n.contains(".") || n.contains("e") || n.contains("E")) {
                return Double.parseDouble(n);
            }
            return Long.parseLong(n);
        }
    }
}
