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

    /** A connection by its addresses: our end's and the peer's sockaddr_in or sockaddr_in6. */
    public record Connection(byte[] local, byte[] peer) {
        /** The same two addresses (a record compares arrays by identity). */
        public boolean sameAs(Connection o) {
            return Arrays.equals(local, o.local) && Arrays.equals(peer, o.peer);
        }

        boolean v6() {
            return local.length >= 24 && local[0] == 10;
        }
    }

    private final int pid;
    private final List<Connection> connections;

    /**
     * @param pid         a process in the connections' network namespace (the dumped process or the vessel)
     * @param connections what to lock
     */
    public ConnectionLock(int pid, List<Connection> connections) {
        this.pid = pid;
        this.connections = List.copyOf(connections);
    }

    public ConnectionLock(int pid, byte[] local, byte[] peer) {
        this(pid, List.of(new Connection(local.clone(), peer.clone())));
    }

    /**
     * Inserts the rules: one run of iptables-restore per address family, whatever the number of
     * connections, since the process's freeze pays for it.
     */
    public void lock() throws SysException {
        batch("-I");
    }

    /** Inserts each rule unless it is there already (a restore finding the dump's lock). */
    public void ensureLocked() throws SysException {
        for (Connection c : connections) {
            if (run(command(c.v6(), "-C", c), null, true) != 0) {
                run(command(c.v6(), "-I", c), null, false);
            }
        }
    }

    /**
     * Deletes the rules: in one batch when each is there once, else one by one, every copy (a dump
     * repeated without a restore in between inserts another).
     */
    public void unlock() throws SysException {
        try {
            batch("-D");
        } catch (SysException e) {
            for (Connection c : connections) {
                while (run(command(c.v6(), "-D", c), null, true) == 0) {
                    // deleted one; look for another
                }
            }
        }
    }

    private void batch(String action) throws SysException {
        for (boolean v6 : new boolean[] {false, true}) {
            StringBuilder input = new StringBuilder("*filter\n");
            int n = 0;
            for (Connection c : connections) {
                if (c.v6() == v6) {
                    input.append(action).append(' ').append(String.join(" ", quoted(spec(c)))).append('\n');
                    n++;
                }
            }
            if (n > 0) {
                List<String> cmd = namespace();
                cmd.addAll(List.of(v6 ? "ip6tables-restore" : "iptables-restore", "-w", "--noflush"));
                run(cmd, input.append("COMMIT\n").toString(), false);
            }
        }
    }

    private List<String> command(boolean v6, String action, Connection c) throws SysException {
        List<String> cmd = namespace();
        cmd.addAll(List.of(v6 ? "ip6tables" : "iptables", "-w", action));
        cmd.addAll(spec(c));
        return cmd;
    }

    private static List<String> spec(Connection c) throws SysException {
        boolean v6 = c.v6();
        return List.of("INPUT", "-p", "tcp", "-s", host(c.peer(), v6), "--sport", Integer.toString(port(c.peer())),
                "-d", host(c.local(), v6), "--dport", Integer.toString(port(c.local())),
                "-m", "comment", "--comment", COMMENT, "-j", "DROP");
    }

    /** iptables-restore reads words; the comment holds spaces. */
    private static List<String> quoted(List<String> words) {
        return words.stream().map(w -> w.contains(" ") ? '"' + w + '"' : w).toList();
    }

    private List<String> namespace() {
        List<String> cmd = new ArrayList<>();
        if (!sameNetworkNamespace()) {
            cmd.addAll(List.of("nsenter", "--net=/proc/" + pid + "/ns/net"));
        }
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

    /** Runs the command (with {@code input} on its stdin); its exit status, or an error when it fails. */
    private static int run(List<String> cmd, String input, boolean check) throws SysException {
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
            if (input == null) {
                pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            }
            Process p = pb.start();
            try (var in = p.getOutputStream()) {
                if (input != null) {
                    in.write(input.getBytes(StandardCharsets.UTF_8));
                }
            }
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
