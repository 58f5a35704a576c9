package io.telefork.engine;

import io.telefork.image.Compression;

/**
 * How to dump.
 *
 * @param leaveRunning keep the process running after the dump; otherwise it is killed, but only once
 *                     the image is completely written, flushed and verified
 * @param compression  how page data is compressed in the image
 * @param progress     receives bytes written
 */
public record DumpOptions(boolean leaveRunning, Compression compression, Progress progress) {

    public DumpOptions {
        if (compression == null) {
            compression = Compression.NONE;
        }
        if (progress == null) {
            progress = Progress.NONE;
        }
    }

    public static DumpOptions defaults() {
        return new DumpOptions(false, Compression.NONE, Progress.NONE);
    }
}
