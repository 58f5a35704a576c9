/**
 * bench/run.sh's JVM target: fills MIB MiB of Java heap with pseudo-random (incompressible) longs in
 * 128 KiB arrays (1 MiB ones would be G1 humongous objects, two regions each), starts four threads that
 * keep counting, prints READY and waits until killed.
 */
public class JvmHeap {
    private static long[][] heap;
    private static final long[] COUNTS = new long[4];

    public static void main(String[] args) throws Exception {
        int mib = Integer.parseInt(args[0]);
        heap = new long[mib * 8][];
        long x = 0x9E3779B97F4A7C15L ^ ProcessHandle.current().pid();
        for (int i = 0; i < heap.length; i++) {
            long[] a = new long[1 << 14];
            for (int j = 0; j < a.length; j++) {
                x ^= x << 13;
                x ^= x >>> 7;
                x ^= x << 17;
                a[j] = x;
            }
            heap[i] = a;
        }
        for (int t = 0; t < COUNTS.length; t++) {
            int me = t;
            Thread th = new Thread(() -> {
                while (true) {
                    COUNTS[me]++;
                    try {
                        Thread.sleep(5);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            th.setDaemon(true);
            th.start();
        }
        System.out.println("READY");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
