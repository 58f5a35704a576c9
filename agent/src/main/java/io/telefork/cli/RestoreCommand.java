package io.telefork.cli;

import io.telefork.engine.Engine;
import io.telefork.engine.PageFill;
import io.telefork.engine.RestoreOptions;
import io.telefork.engine.RestoreResult;
import io.telefork.restore.RestoredProcess;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.channels.ReadableByteChannel;
import java.util.concurrent.Callable;

@Command(name = "restore", description = "Bring the process in FILE (- for stdin) back to life as a child of this "
        + "command, sharing its stdin, stdout and stderr; wait for it and exit with its status.")
final class RestoreCommand implements Callable<Integer> {
    @Option(names = "--detach", description = "Print the new PID and return at once.")
    boolean detach;

    @Option(names = "--allow-changed-files",
            description = "Restore even if files the process had open or mapped changed since the dump.")
    boolean allowChangedFiles;

    @Option(names = "--userfaultfd", negatable = true, description = "Fill anonymous memory with UFFDIO_COPY "
            + "(--userfaultfd) or process_vm_writev (--no-userfaultfd) before the process runs. Default: UFFDIO_COPY "
            + "for a process with 32 MiB of anonymous memory or more, where it is faster, else process_vm_writev. "
            + "Where the process may not have a userfaultfd, process_vm_writev is used either way.")
    Boolean userfaultfd;

    @Option(names = "--lazy", description = "Let the process run as soon as everything but its private anonymous "
            + "memory is in, and serve that memory on demand (userfaultfd) while the rest is pushed in; return "
            + "(or wait) once every page is in. The process stays traced meanwhile and dies if this command does. "
            + "From a file, pages are fetched as the process faults on them; from stdin or a pipe, they are copied "
            + "in as they arrive, and a fault on a page still to come waits for it.")
    boolean lazy;

    @Parameters(index = "0", paramLabel = "FILE")
    String file;

    @Mixin
    Verbosity verbosity;

    @Override
    public Integer call() throws Exception {
        ProgressLine progress = new ProgressLine(System.err, "restore");
        RestoredProcess p;
        try (ReadableByteChannel in = ImageInput.open(file)) {
            PageFill fill = userfaultfd == null ? PageFill.AUTO : userfaultfd ? PageFill.USERFAULTFD : PageFill.WRITE;
            p = new Engine().restore(in, new RestoreOptions(allowChangedFiles, progress, null, fill, lazy));
        }
        progress.end();
        RestoreResult r = p.result();
        if (verbosity.level() > 0) {
            System.err.printf("restored %d as %d: %d bytes of memory in %.1f ms%n", r.originalPid(), r.pid(),
                    r.memoryBytes(), r.allIn().toNanos() / 1e6);
            if (lazy) {
                System.err.printf("lazy: running after %.1f ms, every page in after %.1f ms (copied after %.1f ms, "
                        + "then the image's digest checked)%n", r.total().toNanos() / 1e6, r.allIn().toNanos() / 1e6,
                        r.copied().toNanos() / 1e6);
            }
        }
        if (detach) {
            System.out.println(r.pid());
            System.out.flush();
            return 0;
        }
        return p.waitFor();
    }
}
