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
 *                     its memory from a copy-on-write twin while it runs on (a twin per process of a tree)
 * @param leaveStopped keep the process after the dump, stopped by SIGSTOP, instead of killing it: a
 *                     migration's source waits so until its copy runs elsewhere (then it is killed) or
 *                     the restore failed (then SIGCONT lets it carry on, nothing lost)
 * @param tcpEstablished keep established TCP connections (TCP repair: sequence numbers, queues, options),
 *                     recorded per connection in the image; otherwise they are restored closed
 * @param singleProcess refuse a process with children instead of dumping its tree: for images that are
 *                     to be restored into an existing process (a container's placeholder), which can
 *                     only take one process
 * @param ghostLimit   largest deleted-but-open file or memfd, in bytes, whose content is saved in the image;
 *                     a larger one makes the dump fail (0: every such file does)
 */
public record DumpOptions(boolean leaveRunning, Compression compression, Progress progress, boolean fullFreeze,
                          boolean leaveStopped, boolean tcpEstablished, boolean singleProcess, long ghostLimit) {

    public DumpOptions {
        if (leaveRunning && leaveStopped) {
            throw new IllegalArgumentException("leave running or leave stopped, not both");
        }
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
}
