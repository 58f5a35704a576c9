package io.telefork.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The socket parts of the FILES record: a kept TCP connection's layout, and how addresses read. */
class SocketRecordsTest {
    private static final FileId NO_FILE = new FileId(0, 0, 0, 0, 0);
    private static final byte[] LOCAL = {2, 0, 0x1f, (byte) 0x90, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    private static final byte[] PEER = {2, 0, (byte) 0xc3, 0x50, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};

    private static TcpConnection connection() {
        return new TcpConnection(new long[] {2, 1, 6, 0, 1, 0, 0, 1, 0}, LOCAL, PEER, 0xfffffff0L, 12345,
                "sent".getBytes(StandardCharsets.US_ASCII), "unsent!".getBytes(StandardCharsets.US_ASCII),
                "to read".getBytes(StandardCharsets.US_ASCII), 65483, 7, 10, 9, 0x12345678L,
                new long[] {1, 2, 3, 4, 5}, 4096, 8192);
    }

    @Test
    void keptConnectionRoundTripsThroughTheFilesRecord() throws Exception {
        TcpConnection c = connection();
        FdEntry f = new FdEntry(7, FdEntry.Kind.TCP_ESTABLISHED, "socket:[99]", 2, true, 0, NO_FILE, c.params(),
                c.data());
        FdEntry back = FdEntry.decodeAll(FdEntry.encodeAll(List.of(f))).get(0);
        TcpConnection r = TcpConnection.of(back);
        assertThat(r.socket()).containsExactly(c.socket());
        assertThat(r.local()).isEqualTo(LOCAL);
        assertThat(r.peer()).isEqualTo(PEER);
        assertThat(r.sendSeq()).isEqualTo(0xfffffff0L);
        assertThat(r.recvSeq()).isEqualTo(12345);
        assertThat(new String(r.unacked(), StandardCharsets.US_ASCII)).isEqualTo("sent");
        assertThat(new String(r.unsent(), StandardCharsets.US_ASCII)).isEqualTo("unsent!");
        assertThat(new String(r.received(), StandardCharsets.US_ASCII)).isEqualTo("to read");
        assertThat(List.of(r.mss(), r.options(), r.sendWscale(), r.recvWscale(), r.sendBuffer(), r.recvBuffer()))
                .containsExactly(65483, 7, 10, 9, 4096, 8192);
        assertThat(r.timestamp()).isEqualTo(0x12345678L);
        assertThat(r.window()).containsExactly(1, 2, 3, 4, 5);
    }

    @Test
    void lengthsThatDoNotAddUpAreABadImage() {
        TcpConnection c = connection();
        byte[] shorter = Arrays.copyOf(c.data(), c.data().length - 1);
        FdEntry f = new FdEntry(7, FdEntry.Kind.TCP_ESTABLISHED, "socket:[99]", 2, true, 0, NO_FILE, c.params(),
                shorter);
        assertThatThrownBy(() -> TcpConnection.of(f)).isInstanceOf(ImageFormatException.class)
                .hasMessageContaining("fd 7");
        long[] negative = c.params();
        negative[15] = -1;
        FdEntry g = new FdEntry(7, FdEntry.Kind.TCP_ESTABLISHED, "socket:[99]", 2, true, 0, NO_FILE, negative,
                c.data());
        assertThatThrownBy(() -> TcpConnection.of(g)).isInstanceOf(ImageFormatException.class);
        FdEntry other = new FdEntry(7, FdEntry.Kind.SOCKET, "socket:[99]", 2, true, 0, NO_FILE, c.params(), c.data());
        assertThatThrownBy(() -> TcpConnection.of(other)).isInstanceOf(ImageFormatException.class);
    }

    @Test
    void addressesReadAsPeopleWriteThem() {
        assertThat(SocketAddress.describe(LOCAL)).isEqualTo("127.0.0.1:8080");
        byte[] v6 = new byte[28];
        v6[0] = 10;
        v6[2] = 0x1f;
        v6[3] = (byte) 0x90;
        v6[23] = 1;
        assertThat(SocketAddress.describe(v6)).isEqualTo("[0:0:0:0:0:0:0:1]:8080");
        assertThat(SocketAddress.describe(unix("/run/app.sock\0"))).isEqualTo("/run/app.sock");
        assertThat(SocketAddress.describe(unix("\0abstract"))).isEqualTo("@abstract");
        assertThat(SocketAddress.describe(new byte[] {1, 0})).isEqualTo("unnamed");
        assertThat(SocketAddress.describe(new byte[0])).isEmpty();
    }

    private static byte[] unix(String path) {
        byte[] p = path.getBytes(StandardCharsets.UTF_8);
        byte[] sa = new byte[2 + p.length];
        sa[0] = 1;
        System.arraycopy(p, 0, sa, 2, p.length);
        return sa;
    }
}
