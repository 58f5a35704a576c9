package io.telefork.image;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The TREE record: the dumped process and all its descendants, parents before their children (the first
 * member is the process the dump was asked for), and the open file descriptions that several of them share.
 *
 * @param members the processes, live or zombie
 * @param shares  descriptors restored as the same open file description as an earlier member's
 */
public record ProcessTree(List<Member> members, List<Share> shares) {

    /**
     * One process of the tree.
     *
     * @param pid        its PID
     * @param ppid       its parent's PID (for the first member: outside the image)
     * @param pgid       its process group
     * @param sid        its session
     * @param zombie     it had exited and was not yet reaped: only its exit status is kept
     * @param exitStatus for a zombie, the status its parent's wait will report (wait(2) encoding)
     * @param exitSignal the signal its parent gets when it ends (SIGCHLD, usually)
     * @param comm       its name
     */
    public record Member(int pid, int ppid, int pgid, int sid, boolean zombie, int exitStatus, int exitSignal,
                         String comm) {
    }

    /** Descriptor {@code fd} of {@code pid} is the open file description of {@code ownerFd} of {@code ownerPid}. */
    public record Share(int pid, int fd, int ownerPid, int ownerFd) {
    }

    public Member root() {
        return members.get(0);
    }

    public Member member(int pid) {
        for (Member m : members) {
            if (m.pid == pid) {
                return m;
            }
        }
        return null;
    }

    /** The share of (pid, fd), or null. */
    public Share share(int pid, int fd) {
        for (Share s : shares) {
            if (s.pid == pid && s.fd == fd) {
                return s;
            }
        }
        return null;
    }

    public byte[] encode() {
        Encoder e = new Encoder().i32(members.size());
        for (Member m : members) {
            e.i32(m.pid).i32(m.ppid).i32(m.pgid).i32(m.sid).bool(m.zombie).i32(m.exitStatus).i32(m.exitSignal)
                    .string(m.comm);
        }
        e.i32(shares.size());
        for (Share s : shares) {
            e.i32(s.pid).i32(s.fd).i32(s.ownerPid).i32(s.ownerFd);
        }
        return e.toByteArray();
    }

    /** Decodes and checks the structure: unique PIDs, parents before children, shares pointing backwards. */
    public static ProcessTree decode(byte[] payload) throws ImageFormatException {
        Decoder d = new Decoder(payload);
        int n = d.count(25);
        List<Member> members = new ArrayList<>(n);
        Map<Integer, Integer> order = new HashMap<>();
        for (int i = 0; i < n; i++) {
            Member m = new Member(d.i32(), d.i32(), d.i32(), d.i32(), d.bool(), d.i32(), d.i32(), d.string());
            if (m.pid <= 0 || order.putIfAbsent(m.pid, i) != null) {
                throw new ImageFormatException("TREE record names PID " + m.pid + " twice or is malformed");
            }
            if (i > 0 && (!order.containsKey(m.ppid) || order.get(m.ppid) >= i
                    || members.get(order.get(m.ppid)).zombie)) {
                throw new ImageFormatException("TREE record lists process " + m.pid + " before its parent " + m.ppid);
            }
            members.add(m);
        }
        if (members.isEmpty() || members.get(0).zombie) {
            throw new ImageFormatException("TREE record has no live first process");
        }
        int k = d.count(16);
        List<Share> shares = new ArrayList<>(k);
        for (int i = 0; i < k; i++) {
            Share s = new Share(d.i32(), d.i32(), d.i32(), d.i32());
            Integer at = order.get(s.pid);
            Integer ownerAt = order.get(s.ownerPid);
            if (at == null || ownerAt == null || ownerAt >= at) {
                throw new ImageFormatException("TREE record shares a descriptor of " + s.pid + " with " + s.ownerPid
                        + ", which does not come before it");
            }
            shares.add(s);
        }
        d.expectEnd();
        return new ProcessTree(List.copyOf(members), List.copyOf(shares));
    }

    /** The tree of a format 1 image: one process, its parent, group and session unknown (0). */
    static ProcessTree single(ProcessInfo p) {
        return new ProcessTree(List.of(new Member(p.pid(), 0, 0, 0, false, 0, 17, p.comm())), List.of());
    }

    /** The PIDs of the live members. */
    public Set<Integer> live() {
        Set<Integer> out = new HashSet<>();
        for (Member m : members) {
            if (!m.zombie) {
                out.add(m.pid);
            }
        }
        return out;
    }
}
