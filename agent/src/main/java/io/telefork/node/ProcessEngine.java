package io.telefork.node;

import io.telefork.engine.Commit;
import io.telefork.engine.DumpOptions;
import io.telefork.engine.DumpResult;
import io.telefork.engine.Engine;
import io.telefork.engine.EngineException;
import io.telefork.engine.RestoreOptions;
import io.telefork.engine.RestoreResult;

import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/** The two engine calls the agent makes; {@link #real()} is the engine itself. */
interface ProcessEngine {

    DumpResult dump(int pid, WritableByteChannel out, DumpOptions options, Commit commit) throws EngineException;

    /** Into the placeholder, or into {@code initPid} (its parent, 0 for none) for an image that had that PID. */
    RestoreResult restoreInto(int vesselPid, int initPid, ReadableByteChannel in, RestoreOptions options)
            throws EngineException;

    static ProcessEngine real() {
        return new ProcessEngine() {
            @Override
            public DumpResult dump(int pid, WritableByteChannel out, DumpOptions options, Commit commit)
                    throws EngineException {
                return new Engine().dump(pid, out, options, commit);
            }

            @Override
            public RestoreResult restoreInto(int vesselPid, int initPid, ReadableByteChannel in, RestoreOptions options)
                    throws EngineException {
                return new Engine().restoreInto(vesselPid, initPid, in, options);
            }
        };
    }
}
