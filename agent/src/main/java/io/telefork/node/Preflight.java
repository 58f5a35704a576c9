package io.telefork.node;

import io.telefork.api.v1alpha1.ProcessIdentity;
import io.telefork.api.v1alpha1.Reason;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The agent's checks before a restore touches the placeholder (the engine adds its own: seccomp probe,
 * files reopened and compared, address ranges). The restored process keeps the placeholder's
 * credentials, seccomp filter and cgroups, so those must not give it more than it had, and the memory
 * cgroup must have room for the image's pages (they are charged to it while being written).
 */
final class Preflight {

    private final Path cgroupRoot;

    Preflight(Path cgroupRoot) {
        this.cgroupRoot = cgroupRoot;
    }

    /** Refuses a placeholder with more privileges than the checkpointed process had. */
    static void privileges(ProcessIdentity checkpointed, ProcessInfo vessel) throws StepFailure {
        if (checkpointed == null) {
            throw new StepFailure(Reason.PrivilegesRaised, "the checkpoint recorded no credentials to compare with");
        }
        if (vessel.uid() == 0 && !Long.valueOf(0).equals(checkpointed.getUid())) {
            throw new StepFailure(Reason.PrivilegesRaised, "placeholder runs as root, the checkpointed process as uid " + checkpointed.getUid());
        }
        if (vessel.gid() == 0 && !Long.valueOf(0).equals(checkpointed.getGid())) {
            throw new StepFailure(Reason.PrivilegesRaised, "placeholder runs with gid 0, the checkpointed process with gid " + checkpointed.getGid());
        }
        BigInteger had = caps(checkpointed.getCapEff());
        BigInteger has = caps(vessel.capEff());
        if (!has.andNot(had).equals(BigInteger.ZERO)) {
            throw new StepFailure(Reason.PrivilegesRaised, "placeholder has capabilities " + has.andNot(had).toString(16)
                    + " that the checkpointed process did not have");
        }
        if (Boolean.TRUE.equals(checkpointed.getNoNewPrivs()) && !vessel.noNewPrivs()) {
            throw new StepFailure(Reason.PrivilegesRaised, "the checkpointed process had no_new_privs, the placeholder has not");
        }
        if (checkpointed.getSeccomp() != null && checkpointed.getSeccomp() > 0 && vessel.seccomp() == 0) {
            throw new StepFailure(Reason.PrivilegesRaised, "the checkpointed process ran under seccomp, the placeholder does not");
        }
    }

    private static BigInteger caps(String hex) {
        return hex == null || hex.isEmpty() ? BigInteger.ZERO : new BigInteger(hex, 16);
    }

    /**
     * Free room in the placeholder's memory cgroup (v1 or v2), or empty when it has no limit or the
     * hierarchy is not visible to the agent.
     */
    Optional<Long> memoryRoom(List<String> cgroupLines) throws IOException {
        for (String line : cgroupLines) {
            String[] f = line.split(":", 3);
            if (f.length < 3) {
                continue;
            }
            boolean v1 = List.of(f[1].split(",")).contains("memory");
            boolean v2 = f[0].equals("0") && f[1].isEmpty();
            Path dir;
            String limitFile;
            String usageFile;
            if (v1) {
                dir = cgroupRoot.resolve("memory").resolve(f[2].substring(1));
                limitFile = "memory.limit_in_bytes";
                usageFile = "memory.usage_in_bytes";
            } else if (v2) {
                dir = cgroupRoot.resolve(f[2].substring(1));
                limitFile = "memory.max";
                usageFile = "memory.current";
            } else {
                continue;
            }
            if (!Files.isReadable(dir.resolve(limitFile))) {
                continue;
            }
            String limit = Files.readString(dir.resolve(limitFile)).trim();
            if (limit.equals("max")) {
                return Optional.empty();
            }
            long max = Long.parseLong(limit);
            // cgroup v1 reports "no limit" as a huge page-rounded number.
            if (max >= Long.MAX_VALUE / 2) {
                return Optional.empty();
            }
            long used = Files.isReadable(dir.resolve(usageFile)) ? Long.parseLong(Files.readString(dir.resolve(usageFile)).trim()) : 0;
            return Optional.of(max - used);
        }
        return Optional.empty();
    }

    void memory(long imageMemoryBytes, List<String> cgroupLines) throws StepFailure, IOException {
        Optional<Long> room = memoryRoom(cgroupLines);
        if (room.isPresent() && room.get() < imageMemoryBytes) {
            throw new StepFailure(Reason.MemoryLimitTooLow, "the target's memory cgroup has " + room.get()
                    + " bytes free, the image needs " + imageMemoryBytes);
        }
    }
}
