package io.telefork.image;

import java.util.Arrays;

/**
 * What TCP repair needs to rebuild an established connection: how a {@link FdEntry.Kind#TCP_ESTABLISHED}
 * entry's params and data are laid out.
 *
 * @param socket     family, type, protocol, listening, SO_REUSEADDR, SO_REUSEPORT, IPV6_V6ONLY, TCP_NODELAY,
 *                   SO_KEEPALIVE: the first nine params, as for {@link FdEntry.Kind#SOCKET}
 * @param local      the local sockaddr
 * @param peer       the peer's sockaddr
 * @param sendSeq    sequence number of the first byte of the send queue (the oldest unacknowledged one)
 * @param recvSeq    sequence number of the first byte of the receive queue (the oldest unread one)
 * @param unacked    the send queue's first bytes, sent but not acknowledged
 * @param unsent     the send queue's remaining bytes, never sent
 * @param received   the receive queue: received and acknowledged, not yet read by the application
 * @param mss        TCP_MAXSEG
 * @param options    tcpi_options of TCP_INFO: 1 timestamps, 2 SACK, 4 window scaling
 * @param sendWscale the peer's window scale
 * @param recvWscale ours
 * @param timestamp  TCP_TIMESTAMP: the connection's timestamp clock, which must not go back
 * @param window     TCP_REPAIR_WINDOW: snd_wl1, snd_wnd, max_window, rcv_wnd, rcv_wup
 * @param sendBuffer SO_SNDBUF
 * @param recvBuffer SO_RCVBUF
 */
public record TcpConnection(long[] socket, byte[] local, byte[] peer, long sendSeq, long recvSeq, byte[] unacked,
                            byte[] unsent, byte[] received, int mss, int options, int sendWscale, int recvWscale,
                            long timestamp, long[] window, int sendBuffer, int recvBuffer) {

    public static final int OPT_TIMESTAMPS = 1;
    public static final int OPT_SACK = 2;
    public static final int OPT_WSCALE = 4;
    private static final int SOCKET_PARAMS = 9;
    private static final int PARAMS = 28;

    public long[] params() {
        long[] p = Arrays.copyOf(socket, PARAMS);
        p[9] = local.length;
        p[10] = peer.length;
        p[11] = sendSeq;
        p[12] = recvSeq;
        p[13] = unacked.length;
        p[14] = unsent.length;
        p[15] = received.length;
        p[16] = mss;
        p[17] = options;
        p[18] = sendWscale;
        p[19] = recvWscale;
        p[20] = timestamp;
        System.arraycopy(window, 0, p, 21, 5);
        p[26] = sendBuffer;
        p[27] = recvBuffer;
        return p;
    }

    public byte[] data() {
        byte[] d = new byte[local.length + peer.length + received.length + unacked.length + unsent.length];
        int at = 0;
        for (byte[] part : new byte[][] {local, peer, received, unacked, unsent}) {
            System.arraycopy(part, 0, d, at, part.length);
            at += part.length;
        }
        return d;
    }

    public static TcpConnection of(FdEntry f) throws ImageFormatException {
        long[] p = f.params();
        if (f.kind() != FdEntry.Kind.TCP_ESTABLISHED || p.length != PARAMS) {
            throw new ImageFormatException("fd " + f.fd() + " is not a TCP connection record");
        }
        long total = 0;
        for (int i : new int[] {9, 10, 13, 14, 15}) {
            if (p[i] < 0 || p[i] > f.data().length) {
                throw new ImageFormatException("TCP connection of fd " + f.fd() + " has a malformed length");
            }
            total += p[i];
        }
        if (total != f.data().length) {
            throw new ImageFormatException("TCP connection of fd " + f.fd() + " holds " + f.data().length
                    + " bytes, its lengths say " + total);
        }
        int at = 0;
        byte[][] parts = new byte[5][];
        int[] lengths = {(int) p[9], (int) p[10], (int) p[15], (int) p[13], (int) p[14]};
        for (int i = 0; i < parts.length; i++) {
            parts[i] = Arrays.copyOfRange(f.data(), at, at + lengths[i]);
            at += lengths[i];
        }
        return new TcpConnection(Arrays.copyOf(p, SOCKET_PARAMS), parts[0], parts[1], p[11], p[12], parts[3], parts[4],
                parts[2], (int) p[16], (int) p[17], (int) p[18], (int) p[19], p[20], Arrays.copyOfRange(p, 21, 26),
                (int) p[26], (int) p[27]);
    }
}
