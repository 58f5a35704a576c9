package io.telefork.restore;

import io.telefork.engine.EngineException;
import io.telefork.engine.EngineException.Reason;
import io.telefork.sys.Kernel;
import io.telefork.sys.Sys;
import io.telefork.sys.SysException;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** The page mapped in a vessel for the arguments of the calls injected into it. */
final class ScratchPage {

    private ScratchPage() {
    }

    /** Writes {@code s} as a C string at the start of the page and returns the page's address. */
    static long putString(int vessel, long scratch, String s) throws EngineException, SysException {
        ByteBuffer b = cString(s);
        int len = b.remaining();
        if (Kernel.writeMemory(vessel, scratch, b, len) != len) {
            throw new SysException("short write into the vessel's scratch page");
        }
        return scratch;
    }

    /** {@code s} as a C string (NUL-terminated) in a direct buffer, refused when it would not fit a page. */
    static ByteBuffer cString(String s) throws EngineException {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        if (bytes.length >= Sys.PAGE) {
            throw new EngineException(Reason.UNSUPPORTED, "path too long: " + s.substring(0, 64) + "...");
        }
        return ByteBuffer.allocateDirect(bytes.length + 1).put(bytes).put((byte) 0).flip();
    }
}
