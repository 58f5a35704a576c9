package io.telefork.engine;

import io.telefork.dump.Dumper;
import io.telefork.restore.Restorer;
import io.telefork.restore.RestoredProcess;

import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/**
 * The engine's API for the CLI and the node agent. Stateless: every call seizes what it needs and lets
 * it go again before returning.
 */
public final class Engine {

    /**
     * Writes the whole state of process {@code pid} to {@code out}. If this fails, the process resumes
     * exactly as it was found.
     */
    public DumpResult dump(int pid, WritableByteChannel out, DumpOptions options) throws EngineException {
        return dump(pid, out, options, Commit.NONE);
    }

    /** As {@link #dump(int, WritableByteChannel, DumpOptions)}, asking {@code commit} before the process is killed. */
    public DumpResult dump(int pid, WritableByteChannel out, DumpOptions options, Commit commit)
            throws EngineException {
        return new Dumper(options).dump(pid, out, commit);
    }

    /**
     * Restores an image into a new process spawned by (and a child of) the caller, sharing the caller's
     * stdin, stdout and stderr. The process runs when this returns.
     */
    public RestoredProcess restore(ReadableByteChannel in, RestoreOptions options) throws EngineException {
        return new Restorer(options).restoreSpawned(in);
    }

    /**
     * Transplants an image into an existing placeholder process (the "vessel"), for example the waiting
     * process of a container, so that the restored process lives in its namespaces and cgroups. On
     * failure before the point of no return the vessel is left as it was; after it, the vessel is killed.
     */
    public RestoreResult restoreInto(int vesselPid, ReadableByteChannel in, RestoreOptions options)
            throws EngineException {
        return new Restorer(options).restoreInto(vesselPid, in);
    }
}
