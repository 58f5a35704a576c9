import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A JVM workload for the integration tests: four worker threads count, the main thread prints
 * 1, 2, 3, ... every 200 ms up to the limit given, each line with "ok" while every worker is still
 * counting, then exits 0.
 */
public class ThreadedCounter {
    public static void main(String[] args) throws Exception {
        int limit = Integer.parseInt(args[0]);
        AtomicLongArray counts = new AtomicLongArray(4);
        ExecutorService pool = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r);
            t.setDaemon(true);
            return t;
        });
        for (int i = 0; i < 4; i++) {
            int me = i;
            pool.submit(() -> {
                while (true) {
                    counts.incrementAndGet(me);
                    Thread.sleep(5);
                }
            });
        }
        long[] last = new long[4];
        for (int n = 1; n <= limit; n++) {
            Thread.sleep(200);
            boolean all = true;
            for (int i = 0; i < 4; i++) {
                long c = counts.get(i);
                all &= c > last[i];
                last[i] = c;
            }
            System.out.println(n + (all ? " ok" : " stalled"));
        }
    }
}
