package io.telefork.image;

import java.util.ArrayList;
import java.util.List;

/**
 * Process-wide signal state.
 *
 * @param actions       for signals 1..64, four longs each: handler, flags, restorer, mask
 *                      (SIGKILL and SIGSTOP are recorded as default)
 * @param sharedPending siginfo (128 bytes each) of signals pending for the whole process
 */
public record SignalState(long[] actions, List<byte[]> sharedPending) {
    public static final int SIGNALS = 64;

    public long handler(int sig) {
        return actions[(sig - 1) * 4];
    }

    public byte[] encode() {
        Encoder e = new Encoder().longs(actions).i32(sharedPending.size());
        sharedPending.forEach(e::bytes);
        return e.toByteArray();
    }

    public static SignalState decode(byte[] payload) throws ImageFormatException {
        Decoder d = new Decoder(payload);
        long[] actions = d.longs();
        int n = d.count(4);
        List<byte[]> pending = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            pending.add(d.bytes());
        }
        d.expectEnd();
        if (actions.length != SIGNALS * 4) {
            throw new ImageFormatException("signal record has " + actions.length / 4 + " actions, not 64");
        }
        return new SignalState(actions, pending);
    }
}
