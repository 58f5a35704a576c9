package io.telefork.engine;

import io.telefork.image.Compression;

/**
 * How to dump.
 *
 * @param leaveRunning keep the process running after the dump; otherwise it is killed, but only once
 *                     the image is completely written, flushed and verified
 * @param compression  how page data is compressed in the image
 * @param progress     receives bytes written
 * @param fullFreeze   with leaveRunning: keep the process stopped for the whole dump instead of reading
 *                     its memory from a copy-on-write twin while it runs on
 * @param ghostLimit   largest deleted-but-open file or memfd, in bytes, whose content is saved in the image;
 *                     a larger one makes the dump fail (0: every such file does)
 */
public record DumpOptions(boolean leaveRunning, Compression compression, Progress progress, boolean fullFreeze,
                          long ghostLimit) {

    public DumpOptions {
        if (compression == null) {
            compression = Compression.NONE;
        }
        if (progress == null) {
            progress = Progress.NONE;
        }
        if (ghostLimit < 0) {
            throw new IllegalArgumentException("negative ghost limit " + ghostLimit);
        }
    }

    public DumpOptions(boolean leaveRunning, Compression compression, Progress progress, boolean fullFreeze) {
        this(leaveRunning, compression, progress, fullFreeze, 0);
    }

    public DumpOptions(boolean leaveRunning, Compression compression, Progress progress) {
        this(leaveRunning, compression, progress, false, 0);
    }

    public static DumpOptions defaults() {
        return new DumpOptions(false, Compression.NONE, Progress.NONE, false, 0);
    }
}
