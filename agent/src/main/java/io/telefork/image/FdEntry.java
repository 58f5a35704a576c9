package io.telefork.image;

import java.util.ArrayList;
import java.util.List;

/**
 * One open file descriptor.
 *
 * @param fd       its number
 * @param kind     how it is brought back
 * @param path     the path it was opened by; for other kinds what /proc/PID/fd showed (pipe:[123],
 *                 anon_inode:[eventfd], ...), which also identifies the pipe both ends belong to
 * @param flags    open flags (fdinfo flags: O_ACCMODE, O_APPEND, O_NONBLOCK, ...)
 * @param cloexec  FD_CLOEXEC was set
 * @param position file offset
 * @param file     the file's identity and state
 * @param params   numbers that describe the kind's state (see {@link Kind})
 * @param data     bytes the kind holds: for a pipe's read end, what was buffered in the pipe
 * @param sameAs   the lower descriptor this one shares its open file description with (dup, fork), or -1:
 *                 restored as a dup of it, so that offset and status flags stay shared
 */
public record FdEntry(int fd, Kind kind, String path, int flags, boolean cloexec, long position, FileId file,
                      long[] params, byte[] data, int sameAs) {

    /** How a descriptor is restored. */
    public enum Kind {
        /** A regular file, reopened by path at the same offset. */
        FILE,
        /** A directory, reopened by path. */
        DIRECTORY,
        /** A character device such as /dev/null, reopened by path. */
        CHAR_DEVICE,
        /** A pipe, socket or terminal on fds 0-2 leading outside the process tree: taken from the restorer at the same number. */
        INHERITED,
        /**
         * One end of a pipe whose both ends the process tree holds (one process or two); {@code path} names the
         * pipe across processes. params: pipe size, 1 for the write end.
         */
        PIPE,
        /** params: counter, 1 in semaphore mode. */
        EVENTFD,
        /**
         * params: clock id, expirations not yet read, settime flags, remaining seconds and nanoseconds,
         * interval seconds and nanoseconds.
         */
        TIMERFD,
        /** params: the signal mask. */
        SIGNALFD,
        /** params: (target fd, events, data) per registered descriptor. */
        EPOLL,
        /**
         * A bound or listening TCP or UDP socket, re-created on the same address and port. params: family,
         * type, protocol, listening (1/0), SO_REUSEADDR, SO_REUSEPORT, IPV6_V6ONLY, TCP_NODELAY,
         * SO_KEEPALIVE, length of the local sockaddr; data: the local sockaddr, then the peer's when a UDP
         * socket is connected (connected again at restore).
         */
        SOCKET,
        /**
         * A connection that cannot follow the process: an established TCP connection dumped without
         * --tcp-established, a unix stream socket whose peer is outside the process or gone. Restored as a
         * socket whose peer has closed (reads see end of file, writes EPIPE), so that the application drops
         * it and its client reconnects. params and data as for SOCKET (plus the peer), or none.
         */
        SOCKET_CLOSED,
        /**
         * One end of a unix stream socket pair whose both ends the process tree holds (a selector's wake-up
         * pair, or a pair between a parent and its child). params: socket type, this end's inode, the other end's inode; data: the bytes
         * queued for reading at this end.
         */
        UNIX_PAIR,
        /**
         * An established TCP connection dumped with --tcp-established, rebuilt with TCP repair: same
         * addresses, sequence numbers, options, window and queued bytes. Layout: {@link TcpConnection}.
         */
        TCP_ESTABLISHED,
        /**
         * A unix socket bound to a name (a path or an abstract name), listening or not, or a datagram
         * socket connected to a named peer: re-created, bound to the same name (and connected to the same
         * peer). params: type, listening (1/0), length of the local sockaddr; data: the local sockaddr,
         * then the peer's (empty when not connected).
         */
        UNIX_SOCKET,
        /**
         * A deleted file or a memfd (version 2): its {@link GhostFile} is the one with the same device and
         * inode; reopened from the re-created file with the same flags and offset.
         */
        GHOST,
        /**
         * An inotify instance (version 2). params: (watch descriptor, mask) per watch, by watch descriptor;
         * data: the watched paths in the same order, each ending in a NUL byte. Events not yet read are
         * not kept.
         */
        INOTIFY,
        /**
         * A named pipe (mkfifo), reopened by path with the same flags; {@code file} identifies it (device and
         * inode) across descriptors and processes. params: pipe size; data: the bytes buffered in it, on the
         * first descriptor of the tree on that FIFO only (empty on the others).
         */
        FIFO
    }

    public FdEntry(int fd, Kind kind, String path, int flags, boolean cloexec, long position, FileId file) {
        this(fd, kind, path, flags, cloexec, position, file, new long[0], new byte[0], -1);
    }

    public FdEntry(int fd, Kind kind, String path, int flags, boolean cloexec, long position, FileId file,
                   long[] params, byte[] data) {
        this(fd, kind, path, flags, cloexec, position, file, params, data, -1);
    }

    public FdEntry sharing(int lower) {
        return new FdEntry(fd, kind, path, flags, cloexec, position, file, params, data, lower);
    }

    public static byte[] encodeAll(List<FdEntry> fds) {
        Encoder e = new Encoder().i32(fds.size());
        for (FdEntry f : fds) {
            e.i32(f.fd).u8(f.kind.ordinal()).string(f.path).i32(f.flags).bool(f.cloexec).i64(f.position);
            f.file.encode(e);
            e.longs(f.params).bytes(f.data).i32(f.sameAs);
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
            fds.add(new FdEntry(fd, Kind.values()[kind], d.string(), d.i32(), d.bool(), d.i64(), FileId.decode(d),
                    d.longs(), d.bytes(), d.i32()));
        }
        d.expectEnd();
        return fds;
    }
}
