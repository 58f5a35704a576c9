package io.telefork.restore;

import io.telefork.engine.EngineException;
import io.telefork.engine.EngineException.Reason;
import io.telefork.image.Credentials;
import io.telefork.sys.CallBatch;
import io.telefork.sys.Sys;
import io.telefork.sys.SysException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Gives the restored process the credentials it was dumped with, and never more than its vessel had:
 * a root restorer does not turn a user's process into root's, and a placeholder without privileges
 * cannot be made to hold them.
 */
final class CredentialSetter {
    private static final int SYS_SETRESUID = 117;
    private static final int SYS_SETRESGID = 119;
    private static final int SYS_SETGROUPS = 116;
    private static final int SYS_SETFSUID = 122;
    private static final int SYS_SETFSGID = 123;
    private static final int SYS_CAPSET = 126;
    private static final int PR_SET_DUMPABLE = 4;
    private static final int PR_CAPBSET_DROP = 24;
    private static final int PR_SET_NO_NEW_PRIVS = 38;
    private static final int PR_CAP_AMBIENT = 47;
    private static final int PR_CAP_AMBIENT_CLEAR_ALL = 4;
    private static final int CAP_SETGID = 6;
    private static final int CAP_SETUID = 7;
    private static final int CAP_SETPCAP = 8;
    private static final int CAPABILITY_VERSION_3 = 0x20080522;

    private CredentialSetter() {
    }

    /** Before the point of no return: can the vessel become what the image was, without gaining anything? */
    static void check(Credentials image, Credentials vessel) throws EngineException {
        if (image.seccomp() != 0 && vessel.seccomp() == 0) {
            throw new EngineException(Reason.INCOMPATIBLE, "the process ran under a seccomp filter (mode "
                    + image.seccomp() + ") and the vessel has none: restoring it would lift its sandbox");
        }
        long vesselCaps = vessel.caps()[Credentials.CAP_EFFECTIVE];
        boolean idsDiffer = !Arrays.equals(image.uids(), vessel.uids()) || !Arrays.equals(image.gids(), vessel.gids())
                || !Arrays.equals(image.groups(), vessel.groups());
        if (idsDiffer && ((vesselCaps >>> CAP_SETUID) & 1) == 0) {
            throw new EngineException(Reason.INCOMPATIBLE, "the process ran as uid " + image.uids()[1] + " gid "
                    + image.gids()[1] + "; the vessel runs as uid " + vessel.uids()[1] + " gid " + vessel.gids()[1]
                    + " and cannot change that");
        }
        long gained = image.caps()[Credentials.CAP_PERMITTED] & ~vessel.caps()[Credentials.CAP_PERMITTED];
        if (gained != 0 && Arrays.equals(image.uids(), vessel.uids())) {
            System.getLogger("io.telefork").log(System.Logger.Level.WARNING, String.format(
                    "the vessel lacks capabilities 0x%x that the process had; it runs without them", gained));
        }
    }

    /**
     * After everything that needs the vessel's privileges: adds to {@code calls} what lowers them to the
     * image's. Returns the index of the capset call, whose result goes to {@link #checkCapset}.
     */
    static int apply(CallBatch calls, Credentials image, Credentials vessel) throws SysException {
        long vesselCaps = vessel.caps()[Credentials.CAP_EFFECTIVE];
        if (((vesselCaps >>> CAP_SETPCAP) & 1) != 0) {
            long drop = vessel.caps()[Credentials.CAP_BOUNDING] & ~image.caps()[Credentials.CAP_BOUNDING];
            for (int cap = 0; cap < 64; cap++) {
                if (((drop >>> cap) & 1) != 0) {
                    calls.add("prctl(PR_CAPBSET_DROP, " + cap + ")", Sys.SYS_PRCTL, PR_CAPBSET_DROP, cap);
                }
            }
        }
        if (!Arrays.equals(image.groups(), vessel.groups()) && ((vesselCaps >>> CAP_SETGID) & 1) != 0) {
            long[] g = image.groups();
            ByteBuffer b = ByteBuffer.allocateDirect(Math.max(4, g.length * 4)).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < g.length; i++) {
                b.putInt(i * 4, (int) g[i]);
            }
            calls.add("setgroups", SYS_SETGROUPS, g.length, calls.put(b));
        }
        long[] gid = image.gids();
        if (!Arrays.equals(gid, vessel.gids())) {
            calls.add("setresgid", SYS_SETRESGID, gid[0], gid[1], gid[2]);
            calls.addRaw(SYS_SETFSGID, gid[3]);
        }
        long[] uid = image.uids();
        if (!Arrays.equals(uid, vessel.uids())) {
            calls.add("setresuid", SYS_SETRESUID, uid[0], uid[1], uid[2]);
            calls.addRaw(SYS_SETFSUID, uid[3]);
            // Changing IDs made the process non-dumpable, which the original was not.
            calls.add("prctl(PR_SET_DUMPABLE)", Sys.SYS_PRCTL, PR_SET_DUMPABLE, 1, 0, 0, 0);
        }
        // Only ever lowers: capset refuses permitted bits the process does not hold.
        long[] caps = image.caps();
        long prm = caps[Credentials.CAP_PERMITTED] & vessel.caps()[Credentials.CAP_PERMITTED];
        long eff = caps[Credentials.CAP_EFFECTIVE] & prm;
        long inh = caps[Credentials.CAP_INHERITABLE];
        ByteBuffer b = ByteBuffer.allocateDirect(8 + 24).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, CAPABILITY_VERSION_3).putInt(4, 0);
        b.putInt(8, (int) eff).putInt(12, (int) prm).putInt(16, (int) inh);
        b.putInt(20, (int) (eff >>> 32)).putInt(24, (int) (prm >>> 32)).putInt(28, (int) (inh >>> 32));
        long header = calls.put(b);
        int capset = calls.addRaw(SYS_CAPSET, header, header + 8);
        if (caps[Credentials.CAP_AMBIENT] == 0) {
            calls.addRaw(Sys.SYS_PRCTL, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        }
        if (image.noNewPrivs() && !vessel.noNewPrivs()) {
            calls.add("prctl(PR_SET_NO_NEW_PRIVS)", Sys.SYS_PRCTL, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        }
        return capset;
    }

    /** A failed capset matters where the IDs stayed: where they changed, the kernel already lowered the capabilities. */
    static void checkCapset(long result, Credentials image, Credentials vessel) throws SysException {
        if (result < 0 && Arrays.equals(image.uids(), vessel.uids())) {
            throw new SysException("capset", (int) -result);
        }
    }
}
