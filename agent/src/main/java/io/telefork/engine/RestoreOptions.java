package io.telefork.engine;

/**
 * How to restore.
 *
 * @param allowChangedFiles proceed when a file the image refers to changed size or mtime since the dump
 * @param progress          receives bytes read
 * @param beforeResume      asked once the process is completely built, just before it runs; throwing
 *                          kills it instead (a migration waits here for the source to be gone)
 * @param fill              how anonymous memory is put in before the process runs (UFFDIO_COPY or
 *                          process_vm_writev, see {@link PageFill}); null: {@link PageFill#AUTO}
 * @param lazy              let the process run before its private anonymous memory is in, serving it on
 *                          demand through a userfaultfd while the rest is pushed; the restore returns once
 *                          every page is in (an image file only, not a stream)
 */
public record RestoreOptions(boolean allowChangedFiles, Progress progress, Commit beforeResume,
                             PageFill fill, boolean lazy) {

    public RestoreOptions {
        if (progress == null) {
            progress = Progress.NONE;
        }
        if (beforeResume == null) {
            beforeResume = Commit.NONE;
        }
        if (fill == null) {
            fill = PageFill.AUTO;
        }
    }

    public RestoreOptions(boolean allowChangedFiles, Progress progress, Commit beforeResume) {
        this(allowChangedFiles, progress, beforeResume, PageFill.AUTO, false);
    }

    public RestoreOptions(boolean allowChangedFiles, Progress progress) {
        this(allowChangedFiles, progress, Commit.NONE, PageFill.AUTO, false);
    }

    public static RestoreOptions defaults() {
        return new RestoreOptions(false, Progress.NONE, Commit.NONE, PageFill.AUTO, false);
    }
}
