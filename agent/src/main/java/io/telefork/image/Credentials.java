package io.telefork.image;

import java.util.Map;

/**
 * Who the process ran as and what it was allowed: the restore never lets it run with more.
 *
 * @param uids     real, effective, saved, filesystem user IDs
 * @param gids     real, effective, saved, filesystem group IDs
 * @param groups   supplementary groups
 * @param caps     inheritable, permitted, effective, bounding, ambient capability sets
 * @param noNewPrivs the no_new_privs bit
 * @param seccomp  0 none, 1 strict, 2 filter
 */
public record Credentials(long[] uids, long[] gids, long[] groups, long[] caps, boolean noNewPrivs, int seccomp) {

    public static final int CAP_INHERITABLE = 0;
    public static final int CAP_PERMITTED = 1;
    public static final int CAP_EFFECTIVE = 2;
    public static final int CAP_BOUNDING = 3;
    public static final int CAP_AMBIENT = 4;

    /** Reads them from /proc/PID/status fields. */
    public static Credentials fromStatus(Map<String, String> status) {
        String groups = status.getOrDefault("Groups", "").trim();
        long[] g = groups.isEmpty() ? new long[0]
                : java.util.Arrays.stream(groups.split("\\s+")).mapToLong(Long::parseLong).toArray();
        long[] caps = new long[5];
        String[] names = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"};
        for (int i = 0; i < 5; i++) {
            caps[i] = Long.parseUnsignedLong(status.getOrDefault(names[i], "0"), 16);
        }
        return new Credentials(ids(status.get("Uid")), ids(status.get("Gid")), g, caps,
                "1".equals(status.getOrDefault("NoNewPrivs", "0")),
                Integer.parseInt(status.getOrDefault("Seccomp", "0")));
    }

    private static long[] ids(String field) {
        return java.util.Arrays.stream(field.trim().split("\\s+")).mapToLong(Long::parseLong).toArray();
    }

    void encode(Encoder e) {
        e.longs(uids).longs(gids).longs(groups).longs(caps).bool(noNewPrivs).i32(seccomp);
    }

    static Credentials decode(Decoder d) throws ImageFormatException {
        Credentials c = new Credentials(d.longs(), d.longs(), d.longs(), d.longs(), d.bool(), d.i32());
        if (c.uids.length != 4 || c.gids.length != 4 || c.caps.length != 5) {
            throw new ImageFormatException("credentials record is malformed");
        }
        return c;
    }
}
