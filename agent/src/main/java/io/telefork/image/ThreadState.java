package io.telefork.image;

import java.util.List;

/**
 * One thread's CPU and signal state.
 *
 * @param tid          thread ID when dumped
 * @param regs         user_regs_struct, in {@link Regs} order
 * @param xstate       the XSAVE area (NT_X86_XSTATE) as the kernel gave it: FPU, SSE, AVX, AVX-512
 * @param sigmask      blocked signals (bit n-1 for signal n)
 * @param rseq         rseq registration: address, length, signature; address 0 when none
 * @param altstack     sigaltstack: sp, flags, size
 * @param clearTid     set_tid_address value (PR_GET_TID_ADDRESS)
 * @param robustList   robust futex list head and length
 * @param pending      siginfo (128 bytes each) of signals pending for this thread
 */
public record ThreadState(int tid, long[] regs, byte[] xstate, long sigmask, long[] rseq, long[] altstack,
                          long clearTid, long[] robustList, List<byte[]> pending) {

    /** The same thread, numbered as another PID namespace (its own) sees it. */
    public ThreadState withTid(int newTid) {
        return new ThreadState(newTid, regs, xstate, sigmask, rseq, altstack, clearTid, robustList, pending);
    }

    /** The same thread with the alternate signal stack {@code newAltstack} (sp, flags, size). */
    public ThreadState withAltstack(long[] newAltstack) {
        return new ThreadState(tid, regs, xstate, sigmask, rseq, newAltstack, clearTid, robustList, pending);
    }

    public byte[] encode() {
        Encoder e = new Encoder().i32(tid).longs(regs).bytes(xstate).i64(sigmask).longs(rseq).longs(altstack)
                .i64(clearTid).longs(robustList).i32(pending.size());
        pending.forEach(e::bytes);
        return e.toByteArray();
    }

    public static ThreadState decode(byte[] payload) throws ImageFormatException {
        Decoder d = new Decoder(payload);
        int tid = d.i32();
        long[] regs = d.longs();
        byte[] xstate = d.bytes();
        long sigmask = d.i64();
        long[] rseq = d.longs();
        long[] altstack = d.longs();
        long clearTid = d.i64();
        long[] robust = d.longs();
        int n = d.count(4);
        List<byte[]> pending = new java.util.ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            pending.add(d.bytes());
        }
        d.expectEnd();
        if (regs.length != Regs.COUNT || rseq.length != 3 || altstack.length != 3 || robust.length != 2) {
            throw new ImageFormatException("thread record has malformed register or signal fields");
        }
        return new ThreadState(tid, regs, xstate, sigmask, rseq, altstack, clearTid, robust, pending);
    }
}
