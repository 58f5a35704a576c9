package io.telefork.dump;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Where a dump reads page contents from: the stopped process itself today, a frozen copy-on-write twin
 * of it later. Implementations fill {@code length} bytes at {@code dst}'s position (a direct buffer).
 */
public interface MemorySource {
    void read(long address, ByteBuffer dst, int length, boolean readable) throws IOException;
}
