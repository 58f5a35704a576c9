package io.telefork.image;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** Readable forms of the raw sockaddrs an image holds (little-endian family, as the kernel gives them). */
public final class SocketAddress {
    private static final int AF_UNIX = 1;
    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;

    private SocketAddress() {
    }

    /** "127.0.0.1:4242", "[::1]:4242", "/run/x.sock", "@abstract" (a leading NUL), "unnamed", or "" for none. */
    public static String describe(byte[] sa) {
        if (sa.length < 2) {
            return "";
        }
        int family = (sa[0] & 0xff) | (sa[1] & 0xff) << 8;
        try {
            if (family == AF_INET && sa.length >= 8) {
                return InetAddress.getByAddress(Arrays.copyOfRange(sa, 4, 8)).getHostAddress() + ":" + port(sa);
            }
            if (family == AF_INET6 && sa.length >= 24) {
                return "[" + InetAddress.getByAddress(Arrays.copyOfRange(sa, 8, 24)).getHostAddress() + "]:" + port(sa);
            }
        } catch (UnknownHostException e) {
            return "family " + family;
        }
        if (family == AF_UNIX) {
            if (sa.length == 2) {
                return "unnamed";
            }
            if (sa[2] == 0) {
                return "@" + new String(sa, 3, sa.length - 3, StandardCharsets.UTF_8).replace('\0', '@');
            }
            int end = 2;
            while (end < sa.length && sa[end] != 0) {
                end++;
            }
            return new String(sa, 2, end - 2, StandardCharsets.UTF_8);
        }
        return "family " + family;
    }

    private static int port(byte[] sa) {
        return (sa[2] & 0xff) << 8 | (sa[3] & 0xff);
    }
}
