package io.telefork.sys;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Keeps a TCP connection's peer from reaching it while it is between a dump and a restore: a netfilter
 * rule (iptables, in the process's network namespace) drops every packet the peer sends to it.
 *
 * <p>Why: from the moment the dump has read a connection's queues until the restored socket leaves
 * repair mode, anything the peer sends would be acknowledged by a socket whose state is already in the
 * image (and so lost), or, once the dumped socket is gone, answered with a RST by the kernel (no socket
 * has that address pair). Dropped packets are simply sent again by the peer, to the restored socket. A
 * peer that only reads sends window updates, which count too.
 */
public final class ConnectionLock {
    /** Marks telefork's rules: {@code iptables -S INPUT | grep telefork} lists locks left behind. */
    public static final String COMMENT = "telefork: connection between dump and restore";
    private static final long TIMEOUT_SECONDS = 30;

    private final int pid;
    private final byte[] local;
    private final byte[] peer;

    /**
     * @param pid   a process in the connection's network namespace (the dumped process or the vessel)
     * @param local our end's sockaddr_in or sockaddr_in6
     * @param peer  the peer's
     */
    public ConnectionLock(int pid, byte[] local, byte[] peer) {
        this.pid = pid;
        this.local = local.clone();
        this.peer = peer.clone();
    }

    /** Inserts the rule: one run of iptables, which the process's freeze pays for. */
    public void lock() throws SysException {
        run(rule("-I"), false);
    }

    /** Inserts the rule unless it is there already (a restore finding the dump's lock). */
    public void ensureLocked() throws SysException {
        if (run(rule("-C"), true) != 0) {
            run(rule("-I"), false);
        }
    }

    /** Deletes the rule, every copy of it (a dump repeated without a restore in between inserts another). */
    public void unlock() throws SysException {
        while (run(rule("-D"), true) == 0) {
            // deleted one; look for another
        }
    }

    private List<String> rule(String action) throws SysException {
        boolean v6 = local.length >= 24 && local[0] == 10;
        List<String> cmd = new ArrayList<>();
        if (!sameNetworkNamespace()) {
            cmd.addAll(List.of("nsenter", "--net=/proc/" + pid + "/ns/net"));
        }
        cmd.addAll(List.of(v6 ? "ip6tables" : "iptables", "-w", action, "INPUT", "-p", "tcp",
                "-s", host(peer, v6), "--sport", Integer.toString(port(peer)),
                "-d", host(local, v6), "--dport", Integer.toString(port(local)),
                "-m", "comment", "--comment", COMMENT, "-j", "DROP"));
        return cmd;
    }

    private boolean sameNetworkNamespace() {
        try {
            return Files.readSymbolicLink(Path.of("/proc/self/ns/net"))
                    .equals(Files.readSymbolicLink(Path.of("/proc/" + pid + "/ns/net")));
        } catch (IOException e) {
            return false;
        }
    }

    /** Runs the command; its exit status, or an error when it cannot run or fails unexpectedly. */
    private static int run(List<String> cmd, boolean check) throws SysException {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new SysException(String.join(" ", cmd) + " did not finish in " + TIMEOUT_SECONDS + " s");
            }
            int code = p.exitValue();
            // -C and -D report a missing rule with status 1; anything else (2: bad rule, 4: no permission or
            // no netfilter) is an error.
            if (code != 0 && !(check && code == 1)) {
                throw new SysException(String.join(" ", cmd) + " failed (" + code + "): " + out);
            }
            return code;
        } catch (IOException e) {
            throw new SysException("cannot run " + cmd.get(0) + " to lock a TCP connection against its peer: "
                    + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SysException("interrupted while locking a TCP connection");
        }
    }

    private static String host(byte[] sa, boolean v6) throws SysException {
        try {
            return InetAddress.getByAddress(v6 ? Arrays.copyOfRange(sa, 8, 24) : Arrays.copyOfRange(sa, 4, 8))
                    .getHostAddress();
        } catch (UnknownHostException | IndexOutOfBoundsException e) {
            throw new SysException("not an IP socket address");
        }
    }

    private static int port(byte[] sa) {
        return (sa[2] & 0xff) << 8 | (sa[3] & 0xff);
    }
}
