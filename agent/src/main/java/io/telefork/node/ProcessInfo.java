package io.telefork.node;

import io.telefork.api.v1alpha1.ProcessIdentity;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * What /proc/PID/status says about a process that the agent needs: parent, state, the PID inside its
 * own PID namespace, and its credentials.
 */
record ProcessInfo(int pid, String comm, char state, int ppid, int nsPid, long uid, long gid, String capEff,
                   boolean noNewPrivs, int seccomp) {

    static ProcessInfo read(Path procRoot, int pid) throws IOException {
        Path dir = procRoot.resolve(Integer.toString(pid));
        List<String> lines = Files.readAllLines(dir.resolve("status"));
        String comm = null;
        char state = '?';
        int ppid = 0;
        int nsPid = pid;
        long uid = -1;
        long gid = -1;
        String capEff = null;
        boolean nnp = false;
        int seccomp = 0;
        for (String line : lines) {
            int colon = line.indexOf(':');
            if (colon < 0) {
                continue;
            }
            String key = line.substring(0, colon);
            String value = line.substring(colon + 1).trim();
            switch (key) {
                case "Name" -> comm = value;
                case "State" -> state = value.isEmpty() ? '?' : value.charAt(0);
                case "PPid" -> ppid = Integer.parseInt(value);
                // The last field is the PID in the innermost PID namespace: 1 for a container's init.
                case "NSpid" -> {
                    String[] f = value.split("\\s+");
                    nsPid = Integer.parseInt(f[f.length - 1]);
                }
                // Real, effective, saved, filesystem: privileges are the effective one.
                case "Uid" -> uid = Long.parseLong(value.split("\\s+")[1]);
                case "Gid" -> gid = Long.parseLong(value.split("\\s+")[1]);
                case "CapEff" -> capEff = value;
                case "NoNewPrivs" -> nnp = "1".equals(value);
                case "Seccomp" -> seccomp = Integer.parseInt(value);
                default -> { }
            }
        }
        return new ProcessInfo(pid, comm, state, ppid, nsPid, uid, gid, capEff, nnp, seccomp);
    }

    ProcessIdentity identity() {
        ProcessIdentity p = new ProcessIdentity();
        p.setComm(comm);
        p.setUid(uid);
        p.setGid(gid);
        p.setCapEff(capEff);
        p.setNoNewPrivs(noNewPrivs);
        p.setSeccomp(seccomp);
        return p;
    }
}
