package io.telefork.image;

import java.util.ArrayList;
import java.util.List;

/**
 * One open file descriptor.
 *
 * @param fd       its number
 * @param kind     how it is brought back
 * @param path     the path it was opened by (for INHERITED, what /proc/PID/fd showed, e.g. pipe:[123])
 * @param flags    open flags (fdinfo flags: O_ACCMODE, O_APPEND, O_NONBLOCK, ...)
 * @param cloexec  FD_CLOEXEC was set
 * @param position file offset
 * @param file     the file's identity and state
 */
public record FdEntry(int fd, Kind kind, String path, int flags, boolean cloexec, long position, FileId file) {

    /** How a descriptor is restored. */
    public enum Kind {
        /** A regular file, reopened by path at the same offset. */
        FILE,
        /** A directory, reopened by path. */
        DIRECTORY,
        /** A character device such as /dev/null, reopened by path. */
        CHAR_DEVICE,
        /** A pipe, socket or terminal leading outside the process: taken from the restorer at the same number. */
        INHERITED
    }

    public static byte[] encodeAll(List<FdEntry> fds) {
        Encoder e = new Encoder().i32(fds.size());
        for (FdEntry f : fds) {
            e.i32(f.fd).u8(f.kind.ordinal()).string(f.path).i32(f.flags).bool(f.cloexec).i64(f.position);
            f.file.encode(e);
        }
        return e.toByteArray();
    }

    public static List<FdEntry> decodeAll(byte[] payload) throws ImageFormatException {
        Decoder d = new Decoder(payload);
        int n = d.count(4);
        List<FdEntry> fds = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int fd = d.i32();
            int kind = d.u8();
            if (kind >= Kind.values().length) {
                throw new ImageFormatException("unknown file descriptor kind " + kind);
            }
            fds.add(new FdEntry(fd, Kind.values()[kind], d.string(), d.i32(), d.bool(), d.i64(), FileId.decode(d)));
        }
        d.expectEnd();
        return fds;
    }
}
