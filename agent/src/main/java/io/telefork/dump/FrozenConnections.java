package io.telefork.dump;

import io.telefork.engine.EngineException;
import io.telefork.engine.EngineException.Reason;
import io.telefork.image.TcpConnection;
import io.telefork.sys.ConnectionLock;
import io.telefork.sys.Kernel;
import io.telefork.sys.Sockets;
import io.telefork.sys.SysException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Established TCP connections of the dumped process, read with TCP repair (--tcp-established).
 *
 * <p>The connections are first locked against their peers, all in one go ({@link ConnectionLock}: whatever
 * a peer sends is dropped, and sent again by it later, to the restored socket), then each is put into
 * repair mode through a copy
 * of its descriptor (pidfd_getfd) during the freeze, and stays there: a socket in repair mode sends
 * nothing when it is closed, no FIN and no RST, so when the dump kills the process the connections vanish
 * without the peer hearing of it, and the restore brings them back with the same sequence numbers. The
 * locks stay until the restore lifts them. When the process is to run on instead (--leave-running, or a
 * failed dump), locks and repair mode go before it runs. The copies are held until then.
 */
final class FrozenConnections {
    private static final int TCP_ESTABLISHED = 1;
    private static final int TCP_INFO_BYTES = 256;
    private static final int ATTEMPTS = 10;

    private final boolean enabled;
    /** Copies of the repaired sockets and the receive sequence read from each. */
    private final List<Held> held = new ArrayList<>();
    /** Every connection locked against its peer, held or not (one that closed meanwhile is not). */
    private final List<ConnectionLock.Connection> locked = new ArrayList<>();
    private int pid;

    private record Held(int fd, int mine, long recvNext, ConnectionLock.Connection connection, boolean reuseAddress) {
    }

    FrozenConnections(boolean enabled) {
        this.enabled = enabled;
    }

    boolean enabled() {
        return enabled;
    }

    /**
     * Locks every connection of {@code candidates} against its peer, in one run of iptables-restore: the
     * freeze pays for it, and a process may have many.
     */
    void lockAll(int pid, List<ConnectionLock.Connection> candidates) throws EngineException {
        this.pid = pid;
        List<ConnectionLock.Connection> fresh = new ArrayList<>();
        for (ConnectionLock.Connection c : candidates) {
            if (fresh.stream().noneMatch(c::sameAs) && locked.stream().noneMatch(c::sameAs)) {
                fresh.add(c);
            }
        }
        if (fresh.isEmpty()) {
            return;
        }
        try {
            new ConnectionLock(pid, fresh).lock();
        } catch (SysException e) {
            throw new EngineException(Reason.INCOMPATIBLE, "cannot keep the peers of the TCP connections of process "
                    + pid + " away while it is dumped: " + e.getMessage());
        }
        locked.addAll(fresh);
    }

    /**
     * Locks the connection behind {@code mine} (a copy of the process's {@code fd}) against its peer, puts
     * it into repair mode and reads it; holds {@code mine} from then on. Returns null when the connection is
     * not (or no longer) established: such a one is restored closed. On null or an error, {@code mine}
     * stays the caller's, and the connection is as it was.
     */
    TcpConnection freeze(int pid, int fd, int mine, long[] socket, byte[] local, byte[] peer) throws EngineException {
        try {
            if (state(mine) != TCP_ESTABLISHED) {
                return null;
            }
        } catch (SysException e) {
            throw new EngineException(Reason.SYSTEM, "cannot read the TCP connection of fd " + fd + " of process " + pid
                    + ": " + e.getMessage(), e);
        }
        ConnectionLock.Connection connection = new ConnectionLock.Connection(local, peer);
        lockAll(pid, List.of(connection)); // normally done already, with all the others
        try {
            Sockets.setInt(mine, Sockets.SOL_TCP, Sockets.TCP_REPAIR, Sockets.TCP_REPAIR_ON);
        } catch (SysException e) {
            throw new EngineException(Reason.INCOMPATIBLE, "cannot put the TCP connection of fd " + fd + " of process "
                    + pid + " into repair mode: " + e.getMessage()
                    + (e.errno() == 1 ? " (TCP_REPAIR needs CAP_NET_ADMIN in the socket's network namespace)" : ""));
        }
        Held h = new Held(fd, mine, -1, connection, socket[4] > 0);
        try {
            if (state(mine) != TCP_ESTABLISHED) {
                release(h); // the peer closed it meanwhile: not a connection to keep
                return null;
            }
            TcpConnection c = read(mine, socket, local, peer);
            held.add(new Held(fd, mine, (c.recvSeq() + c.received().length) & 0xffffffffL, connection,
                    h.reuseAddress()));
            return c;
        } catch (SysException e) {
            release(h);
            throw new EngineException(Reason.SYSTEM, "cannot read the TCP connection of fd " + fd + " of process " + pid
                    + ": " + e.getMessage(), e);
        }
    }

    private static TcpConnection read(int mine, long[] socket, byte[] local, byte[] peer) throws SysException {
        byte[] info = Sockets.get(mine, Sockets.SOL_TCP, Sockets.TCP_INFO, TCP_INFO_BYTES, "TCP_INFO");
        ReceiveQueue recv = receiveQueue(mine);
        SendQueue send = sendQueue(mine);
        byte[] window = Sockets.get(mine, Sockets.SOL_TCP, Sockets.TCP_REPAIR_WINDOW, 20, "TCP_REPAIR_WINDOW");
        long[] w = new long[5];
        for (int i = 0; i < 5; i++) {
            w[i] = u32(window, i * 4);
        }
        // tcp_info: byte 5 tcpi_options, byte 6 snd_wscale (low nibble) and rcv_wscale (high nibble).
        return new TcpConnection(socket, local, peer, send.first(), recv.first(), send.unacked(), send.unsent(),
                recv.bytes(), Sockets.getInt(mine, Sockets.SOL_TCP, Sockets.TCP_MAXSEG), info[5] & 0xff, info[6] & 0x0f,
                (info[6] >> 4) & 0x0f, Sockets.getInt(mine, Sockets.SOL_TCP, Sockets.TCP_TIMESTAMP) & 0xffffffffL,
                w, Sockets.getInt(mine, Sockets.SOL_SOCKET, Sockets.SO_SNDBUF),
                Sockets.getInt(mine, Sockets.SOL_SOCKET, Sockets.SO_RCVBUF));
    }

    /** rcv_nxt, the sequence number of the first unread byte, the unread bytes. */
    private record ReceiveQueue(long next, long first, byte[] bytes) {
    }

    /** The sequence number of the oldest unacknowledged byte, the sent and the unsent bytes. */
    private record SendQueue(long first, byte[] unacked, byte[] unsent) {
    }

    private static int state(int mine) throws SysException {
        return Sockets.get(mine, Sockets.SOL_TCP, Sockets.TCP_INFO, 8, "TCP_INFO")[0] & 0xff;
    }

    /**
     * The receive queue, read until two reads of the next expected sequence number agree: the kernel
     * still takes in what the peer sends while the socket is in repair mode.
     */
    private static ReceiveQueue receiveQueue(int mine) throws SysException {
        Sockets.setInt(mine, Sockets.SOL_TCP, Sockets.TCP_REPAIR_QUEUE, Sockets.TCP_RECV_QUEUE);
        for (int i = 0; i < ATTEMPTS; i++) {
            long next = Sockets.getInt(mine, Sockets.SOL_TCP, Sockets.TCP_QUEUE_SEQ) & 0xffffffffL;
            int length = Sockets.ioctlInt(mine, Sockets.SIOCINQ);
            byte[] bytes = Sockets.peek(mine, length);
            if ((Sockets.getInt(mine, Sockets.SOL_TCP, Sockets.TCP_QUEUE_SEQ) & 0xffffffffL) == next) {
                return new ReceiveQueue(next, (next - length) & 0xffffffffL, bytes);
            }
        }
        throw new SysException("the receive queue kept changing while it was read (the peer is sending)");
    }

    /** The send queue. Acknowledgements may shrink it while it is read: read until two reads agree. */
    private static SendQueue sendQueue(int mine) throws SysException {
        Sockets.setInt(mine, Sockets.SOL_TCP, Sockets.TCP_REPAIR_QUEUE, Sockets.TCP_SEND_QUEUE);
        long writeSeq = Sockets.getInt(mine, Sockets.SOL_TCP, Sockets.TCP_QUEUE_SEQ) & 0xffffffffL;
        for (int i = 0; i < ATTEMPTS; i++) {
            int queued = Sockets.ioctlInt(mine, Sockets.SIOCOUTQ);
            int unsent = Sockets.ioctlInt(mine, Sockets.SIOCOUTQNSD);
            byte[] bytes;
            try {
                bytes = Sockets.peek(mine, queued);
            } catch (SysException e) {
                continue; // shrank between the ioctl and the peek
            }
            if (Sockets.ioctlInt(mine, Sockets.SIOCOUTQ) == queued && Sockets.ioctlInt(mine, Sockets.SIOCOUTQNSD) == unsent) {
                // The queue runs from snd_una to write_seq; its last `unsent` bytes never left.
                return new SendQueue((writeSeq - queued) & 0xffffffffL, Arrays.copyOf(bytes, queued - unsent),
                        Arrays.copyOfRange(bytes, queued - unsent, queued));
            }
        }
        throw new SysException("the send queue kept changing while it was read");
    }

    private static long u32(byte[] b, int at) {
        return (b[at] & 0xffL) | (b[at + 1] & 0xffL) << 8 | (b[at + 2] & 0xffL) << 16 | (b[at + 3] & 0xffL) << 24;
    }

    /**
     * Fails when a connection took in bytes after it was read: they were acknowledged to the peer but are
     * not in the image, so killing the process now would lose them. Called just before the kill.
     */
    void checkQuiet(int pid) throws EngineException {
        for (Held h : held) {
            try {
                Sockets.setInt(h.mine, Sockets.SOL_TCP, Sockets.TCP_REPAIR_QUEUE, Sockets.TCP_RECV_QUEUE);
                long now = Sockets.getInt(h.mine, Sockets.SOL_TCP, Sockets.TCP_QUEUE_SEQ) & 0xffffffffL;
                if (now != h.recvNext) {
                    throw new EngineException(Reason.SYSTEM, "the TCP connection of fd " + h.fd + " of process " + pid
                            + " received " + ((now - h.recvNext) & 0xffffffffL) + " bytes during the dump; the process "
                            + "was left running (dump again when its peer is quiet)");
                }
            } catch (SysException e) {
                throw new EngineException(Reason.SYSTEM, "cannot check the TCP connection of fd " + h.fd + ": "
                        + e.getMessage(), e);
            }
        }
    }

    /** The process runs on: the peers let through again, repair mode off, copies closed. */
    void thaw() {
        unlock(locked);
        locked.clear();
        for (Held h : held) {
            release(h);
            Kernel.close(h.mine);
        }
        held.clear();
    }

    /** Takes one connection out of repair mode; the kernel sends a window probe as it leaves. */
    private static void release(Held h) {
        try {
            Sockets.setInt(h.mine, Sockets.SOL_TCP, Sockets.TCP_REPAIR, Sockets.TCP_REPAIR_OFF);
            if (h.reuseAddress) {
                // Leaving repair mode cleared it; the application had set it.
                Sockets.setInt(h.mine, Sockets.SOL_SOCKET, Sockets.SO_REUSEADDR, 1);
            }
        } catch (SysException e) {
            System.getLogger("telefork").log(System.Logger.Level.WARNING,
                    "could not take the TCP connection of fd " + h.fd + " out of repair mode: " + e.getMessage());
        }
    }

    private void unlock(List<ConnectionLock.Connection> connections) {
        if (connections.isEmpty()) {
            return;
        }
        try {
            new ConnectionLock(pid, connections).unlock();
        } catch (SysException e) {
            System.getLogger("telefork").log(System.Logger.Level.WARNING,
                    "could not remove the locks of the TCP connections of process " + pid + ": " + e.getMessage());
        }
    }

    /**
     * The process is dead or dying: the copies go while the sockets are in repair mode, silently. The
     * locks stay until the restore: the peer must not reach the connection's addresses before then.
     */
    void closeInRepair() {
        // Connections that were locked but are not kept (they closed meanwhile) need no lock.
        unlock(locked.stream().filter(c -> held.stream().noneMatch(h -> h.connection.sameAs(c))).toList());
        locked.clear();
        for (Held h : held) {
            Kernel.close(h.mine);
        }
        held.clear();
    }
}
