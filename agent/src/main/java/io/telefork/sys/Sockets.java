package io.telefork.sys;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;

/**
 * Socket calls made on descriptors of this process: copies (pidfd_getfd) of a dumped process's or a
 * vessel's sockets. TCP repair is done here, from the restorer, because it needs CAP_NET_ADMIN in the
 * socket's network namespace, which the restorer has and a container's placeholder may not.
 */
public final class Sockets {
    public static final int SOL_SOCKET = 1;
    public static final int SOL_TCP = 6;
    public static final int SO_SNDBUF = 7;
    public static final int SO_RCVBUF = 8;
    public static final int SO_REUSEADDR = 2;
    public static final int SO_SNDBUFFORCE = 32;
    public static final int SO_RCVBUFFORCE = 33;
    public static final int TCP_MAXSEG = 2;
    public static final int TCP_INFO = 11;
    public static final int TCP_REPAIR = 19;
    public static final int TCP_REPAIR_QUEUE = 20;
    public static final int TCP_QUEUE_SEQ = 21;
    public static final int TCP_REPAIR_OPTIONS = 22;
    public static final int TCP_TIMESTAMP = 24;
    public static final int TCP_REPAIR_WINDOW = 29;
    public static final int TCP_RECV_QUEUE = 1;
    public static final int TCP_SEND_QUEUE = 2;
    public static final int TCP_REPAIR_ON = 1;
    public static final int TCP_REPAIR_OFF = 0;
    /** ioctls: bytes not yet read; bytes not yet acknowledged (sent or not); bytes not yet sent. */
    public static final long SIOCINQ = 0x541B;
    public static final long SIOCOUTQ = 0x5411;
    public static final long SIOCOUTQNSD = 0x894B;

    private static final int SYS_IOCTL = 16;
    private static final int SYS_SENDTO = 44;
    private static final int SYS_RECVFROM = 45;
    private static final int SYS_CONNECT = 42;
    private static final int SYS_BIND = 49;
    private static final int SYS_SETSOCKOPT = 54;
    private static final int SYS_GETSOCKOPT = 55;
    private static final int MSG_PEEK = 2;
    private static final int MSG_DONTWAIT = 0x40;
    private static final int EINTR = 4;

    private Sockets() {
    }

    public static int getInt(int fd, int level, int name) throws SysException {
        byte[] v = get(fd, level, name, 4, "getsockopt(" + level + ", " + name + ")");
        return (v[0] & 0xff) | (v[1] & 0xff) << 8 | (v[2] & 0xff) << 16 | (v[3] & 0xff) << 24;
    }

    public static void setInt(int fd, int level, int name, int value) throws SysException {
        set(fd, level, name, new byte[] {(byte) value, (byte) (value >> 8), (byte) (value >> 16), (byte) (value >> 24)},
                "setsockopt(" + level + ", " + name + ", " + value + ")");
    }

    /** getsockopt into a buffer of {@code max} bytes; returns as many bytes as the kernel gave. */
    public static byte[] get(int fd, int level, int name, int max, String what) throws SysException {
        try (Memory v = new Memory(max); Memory len = new Memory(4)) {
            v.clear(max);
            len.setInt(0, max);
            Kernel.syscall(SYS_GETSOCKOPT, fd, level, name, Pointer.nativeValue(v), Pointer.nativeValue(len), 0);
            return v.getByteArray(0, Math.min(max, len.getInt(0)));
        } catch (LastErrorException e) {
            throw new SysException(what, e.getErrorCode());
        }
    }

    public static void set(int fd, int level, int name, byte[] value, String what) throws SysException {
        try (Memory v = new Memory(Math.max(1, value.length))) {
            v.write(0, value, 0, value.length);
            Kernel.syscall(SYS_SETSOCKOPT, fd, level, name, Pointer.nativeValue(v), value.length, 0);
        } catch (LastErrorException e) {
            throw new SysException(what, e.getErrorCode());
        }
    }

    /** An ioctl that reports an int (SIOCINQ, SIOCOUTQ, SIOCOUTQNSD). */
    public static int ioctlInt(int fd, long request) throws SysException {
        try (Memory v = new Memory(4)) {
            v.setInt(0, 0);
            Kernel.syscall(SYS_IOCTL, fd, request, Pointer.nativeValue(v), 0, 0, 0);
            return v.getInt(0);
        } catch (LastErrorException e) {
            throw new SysException(String.format("ioctl(0x%x)", request), e.getErrorCode());
        }
    }

    /**
     * Exactly {@code length} queued bytes, without taking them (MSG_PEEK): of the receive queue, or in
     * TCP repair mode of whichever queue TCP_REPAIR_QUEUE selects.
     */
    public static byte[] peek(int fd, int length) throws SysException {
        if (length == 0) {
            return new byte[0];
        }
        try (Memory buf = new Memory(length)) {
            long n = Kernel.syscall(SYS_RECVFROM, fd, Pointer.nativeValue(buf), length, MSG_PEEK | MSG_DONTWAIT, 0, 0);
            if (n != length) {
                throw new SysException("peeking at a socket queue gave " + n + " of its " + length + " bytes");
            }
            return buf.getByteArray(0, length);
        } catch (LastErrorException e) {
            throw new SysException("peeking at a socket queue", e.getErrorCode());
        }
    }

    /** Sends all of {@code data}, in pieces of at most {@code chunk} bytes (without blocking). */
    public static void sendAll(int fd, byte[] data, int chunk, String what) throws SysException {
        try (Memory buf = new Memory(Math.max(1, Math.min(chunk, data.length)))) {
            int off = 0;
            while (off < data.length) {
                int n = Math.min(chunk, data.length - off);
                buf.write(0, data, off, n);
                try {
                    off += (int) Kernel.syscall(SYS_SENDTO, fd, Pointer.nativeValue(buf), n, MSG_DONTWAIT, 0, 0);
                } catch (LastErrorException e) {
                    if (e.getErrorCode() != EINTR) {
                        throw new SysException(what + " (" + off + " of " + data.length + " bytes written)",
                                e.getErrorCode());
                    }
                }
            }
        }
    }

    public static void bind(int fd, byte[] sockaddr) throws SysException {
        addressCall(SYS_BIND, fd, sockaddr, "bind");
    }

    public static void connect(int fd, byte[] sockaddr) throws SysException {
        addressCall(SYS_CONNECT, fd, sockaddr, "connect");
    }

    private static void addressCall(int nr, int fd, byte[] sockaddr, String what) throws SysException {
        try (Memory a = new Memory(Math.max(1, sockaddr.length))) {
            a.write(0, sockaddr, 0, sockaddr.length);
            Kernel.syscall(nr, fd, Pointer.nativeValue(a), sockaddr.length, 0, 0, 0);
        } catch (LastErrorException e) {
            throw new SysException(what, e.getErrorCode());
        }
    }
}
