package io.telefork.restore;

import io.telefork.engine.EngineException;
import io.telefork.engine.EngineException.Reason;
import io.telefork.image.FdEntry;
import io.telefork.image.ImageFormatException;
import io.telefork.image.SocketAddress;
import io.telefork.image.TcpConnection;
import io.telefork.sys.ConnectionLock;
import io.telefork.sys.Kernel;
import io.telefork.sys.Sockets;
import io.telefork.sys.SysException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Rebuilds established TCP connections (dumped with --tcp-established) in sockets the vessel created, so
 * that they live in its network namespace. The work is done on copies of them (pidfd_getfd) here, in the
 * restorer: TCP repair needs CAP_NET_ADMIN, which a container's placeholder may lack. Each socket stays in
 * repair mode, where it sends nothing, until {@link #release} just before the process runs.
 */
final class TcpRepair {
    private static final int EPERM = 1;
    private static final int EADDRINUSE = 98;
    private static final int EADDRNOTAVAIL = 99;
    private static final int TCPOPT_MSS = 2;
    private static final int TCPOPT_WINDOW = 3;
    private static final int TCPOPT_SACK_PERM = 4;
    private static final int TCPOPT_TIMESTAMP = 8;
    private static final int CHUNK = 64 * 1024;
    private static final int MAX_USER_MSS = 32767;
    private static final int BUFFER_SLACK = 256 * 1024;

    private TcpRepair() {
    }

    /**
     * Turns the fresh socket {@code vesselFd} of the vessel into the connection of image entry {@code f}.
     * The order is the kernel's: sequence numbers while closed, then bind and connect (which in repair
     * mode sends no SYN), then the options of an established connection, the queues, the windows.
     */
    static void rebuild(int vessel, int vesselFd, FdEntry f) throws EngineException {
        TcpConnection c;
        try {
            c = TcpConnection.of(f);
        } catch (ImageFormatException e) {
            throw new EngineException(Reason.BAD_IMAGE, "bad image: " + e.getMessage(), e);
        }
        try {
            // The dump's lock, or a new one where the dump's is not (another network namespace): the peer stays
            // away until release(). Checked here, before the vessel is given up, so that a missing iptables fails
            // the restore while it still can fail cleanly.
            new ConnectionLock(vessel, c.local(), c.peer()).ensureLocked();
        } catch (SysException e) {
            throw new EngineException(Reason.INCOMPATIBLE, "cannot keep the peer of the TCP connection of fd " + f.fd()
                    + " away until the process runs: " + e.getMessage());
        }
        int mine;
        try {
            mine = Kernel.stealFd(vessel, vesselFd);
        } catch (SysException e) {
            throw new EngineException(Reason.SYSTEM, "cannot reach the vessel's socket for fd " + f.fd() + ": "
                    + e.getMessage(), e);
        }
        String what = "the TCP connection of fd " + f.fd() + " (" + SocketAddress.describe(c.local()) + " -> "
                + SocketAddress.describe(c.peer()) + ")";
        try {
            // Options first: SO_REUSEADDR would replace the port reuse repair mode grants (a connection
            // accepted by a listening socket shares its port, and the listening socket is back already).
            long[] s = c.socket();
            int[][] options = {{1, 2, (int) s[4]}, {1, 15, (int) s[5]}, {41, 26, (int) s[6]}, {6, 1, (int) s[7]},
                {1, 9, (int) s[8]}};
            for (int[] o : options) {
                if (o[2] > 0 && !(o[0] == 41 && s[0] != 10)) {
                    Sockets.setInt(mine, o[0], o[1], o[2]);
                }
            }
            try {
                Sockets.setInt(mine, Sockets.SOL_TCP, Sockets.TCP_REPAIR, Sockets.TCP_REPAIR_ON);
            } catch (SysException e) {
                throw new EngineException(Reason.INCOMPATIBLE, "cannot rebuild " + what + ": " + e.getMessage()
                        + (e.errno() == EPERM ? " (TCP_REPAIR needs CAP_NET_ADMIN in the socket's network namespace)" : ""));
            }
            int sending = c.unacked().length + c.unsent().length;
            if (sending > 0) {
                Sockets.setInt(mine, Sockets.SOL_SOCKET, Sockets.SO_SNDBUFFORCE,
                        Math.max(c.sendBuffer() / 2, sending * 2 + BUFFER_SLACK));
            }
            if (c.received().length > 0) {
                Sockets.setInt(mine, Sockets.SOL_SOCKET, Sockets.SO_RCVBUFFORCE,
                        Math.max(c.recvBuffer() / 2, c.received().length * 2 + BUFFER_SLACK));
            }
            if (c.mss() > 0) {
                // connect() works out the segment size from this cap; set only later (TCP_REPAIR_OPTIONS), the
                // connection would go on in segments of the default 536 bytes. The kernel takes at most 32767
                // here (loopback's 65483 cannot be given).
                Sockets.setInt(mine, Sockets.SOL_TCP, Sockets.TCP_MAXSEG, Math.min(c.mss(), MAX_USER_MSS));
            }
            queue(mine, Sockets.TCP_SEND_QUEUE);
            Sockets.setInt(mine, Sockets.SOL_TCP, Sockets.TCP_QUEUE_SEQ, (int) c.sendSeq());
            queue(mine, Sockets.TCP_RECV_QUEUE);
            Sockets.setInt(mine, Sockets.SOL_TCP, Sockets.TCP_QUEUE_SEQ, (int) c.recvSeq());
            try {
                Sockets.bind(mine, c.local());
                Sockets.connect(mine, c.peer());
            } catch (SysException e) {
                boolean taken = e.errno() == EADDRINUSE || e.errno() == EADDRNOTAVAIL;
                throw new EngineException(Reason.INCOMPATIBLE, "cannot rebuild " + what + ": " + e.getMessage()
                        + (taken ? " (is the original still running, or another connection on these addresses?)" : ""));
            }
            Sockets.set(mine, Sockets.SOL_TCP, Sockets.TCP_REPAIR_OPTIONS, repairOptions(c), "TCP_REPAIR_OPTIONS");
            if ((c.options() & TcpConnection.OPT_TIMESTAMPS) != 0) {
                Sockets.setInt(mine, Sockets.SOL_TCP, Sockets.TCP_TIMESTAMP, (int) c.timestamp());
            }
            queue(mine, Sockets.TCP_RECV_QUEUE);
            Sockets.sendAll(mine, c.received(), CHUNK, "refilling the receive queue");
            // Only what was sent before goes in now, marked as sent; the unsent rest is sent normally in release().
            queue(mine, Sockets.TCP_SEND_QUEUE);
            Sockets.sendAll(mine, c.unacked(), CHUNK, "refilling the send queue");
            ByteBuffer w = ByteBuffer.allocate(20).order(ByteOrder.nativeOrder());
            for (long v : c.window()) {
                w.putInt((int) v);
            }
            Sockets.set(mine, Sockets.SOL_TCP, Sockets.TCP_REPAIR_WINDOW, w.array(), "TCP_REPAIR_WINDOW");
            queue(mine, 0);
        } catch (SysException e) {
            throw new EngineException(Reason.SYSTEM, "cannot rebuild " + what + ": " + e.getMessage(), e);
        } finally {
            Kernel.close(mine);
        }
    }

    /**
     * The last word before the process runs: the dump's lock on each rebuilt connection is lifted, the
     * connection leaves repair mode (the kernel sends a window probe, so the peer learns our window at
     * once), and its never-sent bytes are queued for sending, in order, before the application can write
     * more.
     */
    static void release(int vessel, List<FdEntry> fds) throws EngineException {
        List<FdEntry> kept = new ArrayList<>();
        List<TcpConnection> connections = new ArrayList<>();
        List<ConnectionLock.Connection> locked = new ArrayList<>();
        try {
            for (FdEntry f : fds) {
                if (f.kind() == FdEntry.Kind.TCP_ESTABLISHED && f.sameAs() < 0) {
                    TcpConnection c = TcpConnection.of(f);
                    kept.add(f);
                    connections.add(c);
                    locked.add(new ConnectionLock.Connection(c.local(), c.peer()));
                }
            }
            if (!locked.isEmpty()) {
                // The peers may reach them again: the sockets are whole, and what a peer resends they take in.
                new ConnectionLock(vessel, locked).unlock();
            }
        } catch (SysException | ImageFormatException e) {
            throw new EngineException(Reason.SYSTEM, "cannot lift the locks of the TCP connections: " + e.getMessage(), e);
        }
        for (int i = 0; i < kept.size(); i++) {
            FdEntry f = kept.get(i);
            TcpConnection c = connections.get(i);
            try {
                int mine = Kernel.stealFd(vessel, f.fd());
                try {
                    Sockets.setInt(mine, Sockets.SOL_TCP, Sockets.TCP_REPAIR, Sockets.TCP_REPAIR_OFF);
                    if (c.socket()[4] > 0) {
                        // Leaving repair mode cleared it; the application had set it.
                        Sockets.setInt(mine, Sockets.SOL_SOCKET, Sockets.SO_REUSEADDR, 1);
                    }
                    Sockets.sendAll(mine, c.unsent(), CHUNK, "sending the bytes never sent");
                } finally {
                    Kernel.close(mine);
                }
            } catch (SysException e) {
                throw new EngineException(Reason.SYSTEM, "cannot take the TCP connection of fd " + f.fd()
                        + " out of repair mode: " + e.getMessage(), e);
            }
        }
    }

    private static void queue(int mine, int which) throws SysException {
        Sockets.setInt(mine, Sockets.SOL_TCP, Sockets.TCP_REPAIR_QUEUE, which);
    }

    /** struct tcp_repair_opt {u32 code; u32 value} per option the connection negotiated. */
    private static byte[] repairOptions(TcpConnection c) {
        ByteBuffer b = ByteBuffer.allocate(32).order(ByteOrder.nativeOrder());
        b.putInt(TCPOPT_MSS).putInt(c.mss());
        if ((c.options() & TcpConnection.OPT_WSCALE) != 0) {
            b.putInt(TCPOPT_WINDOW).putInt(c.sendWscale() | c.recvWscale() << 16);
        }
        if ((c.options() & TcpConnection.OPT_SACK) != 0) {
            b.putInt(TCPOPT_SACK_PERM).putInt(0);
        }
        if ((c.options() & TcpConnection.OPT_TIMESTAMPS) != 0) {
            b.putInt(TCPOPT_TIMESTAMP).putInt(0);
        }
        return java.util.Arrays.copyOf(b.array(), b.position());
    }
}
