package io.telefork.image;

import java.util.List;

/**
 * The process as a whole: identity, the mm fields that prctl(PR_SET_MM_MAP) restores, and the
 * per-process attributes that are not memory.
 *
 * @param pid        PID when dumped
 * @param comm       the task name (/proc/PID/comm)
 * @param cmdline    arguments as /proc/PID/cmdline showed them
 * @param exePath    /proc/PID/exe
 * @param exe        the executable's identity
 * @param cwd        working directory
 * @param umask      file creation mask
 * @param stopped    the process was in job-control stop (state T) and is restored stopped
 * @param mm         start_code, end_code, start_data, end_data, start_brk, brk, start_stack,
 *                   arg_start, arg_end, env_start, env_end
 * @param auxv       the auxiliary vector as (type, value) pairs
 * @param rlimits    (resource, soft, hard) triples
 * @param kernel     the release of the kernel it was dumped on (uname -r)
 * @param hostname   the host it was dumped on
 * @param dumpedAtMillis wall-clock time of the dump
 * @param credentials user and group IDs, capabilities, no_new_privs, seccomp mode
 * @param itimers    ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF: interval s, us, remaining s, us each
 */
public record ProcessInfo(int pid, String comm, List<String> cmdline, String exePath, FileId exe, String cwd,
                          int umask, boolean stopped, long[] mm, long[] auxv, long[] rlimits, String kernel,
                          String hostname, long dumpedAtMillis, Credentials credentials, long[] itimers) {

    public static final int MM_FIELDS = 11;
    public static final int MM_START_BRK = 4;
    public static final int MM_BRK = 5;

    /** The same process, numbered as another PID namespace (its own) sees it. */
    public ProcessInfo withPid(int newPid) {
        return new ProcessInfo(newPid, comm, cmdline, exePath, exe, cwd, umask, stopped, mm, auxv, rlimits, kernel,
                hostname, dumpedAtMillis, credentials, itimers);
    }

    /** The same process with its program break at {@code newBrk}. */
    public ProcessInfo withBrk(long newBrk) {
        long[] m = mm.clone();
        m[MM_BRK] = newBrk;
        return new ProcessInfo(pid, comm, cmdline, exePath, exe, cwd, umask, stopped, m, auxv, rlimits, kernel,
                hostname, dumpedAtMillis, credentials, itimers);
    }

    public byte[] encode() {
        Encoder e = new Encoder().i32(pid).string(comm).strings(cmdline).string(exePath);
        exe.encode(e);
        e.string(cwd).i32(umask).bool(stopped).longs(mm).longs(auxv).longs(rlimits)
                .string(kernel).string(hostname).i64(dumpedAtMillis);
        credentials.encode(e);
        return e.longs(itimers).toByteArray();
    }

    public static ProcessInfo decode(byte[] payload) throws ImageFormatException {
        Decoder d = new Decoder(payload);
        ProcessInfo p = new ProcessInfo(d.i32(), d.string(), d.strings(), d.string(), FileId.decode(d), d.string(),
                d.i32(), d.bool(), d.longs(), d.longs(), d.longs(), d.string(), d.string(), d.i64(),
                Credentials.decode(d), d.longs());
        d.expectEnd();
        if (p.mm.length != MM_FIELDS || p.rlimits.length % 3 != 0 || p.auxv.length % 2 != 0
                || p.itimers.length != 12) {
            throw new ImageFormatException("process record has malformed mm, auxv or rlimit fields");
        }
        return p;
    }
}
