package io.telefork.restore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.telefork.engine.EngineException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The second page-writing thread of an eager restore: order, back-pressure and failures. */
class PageWritersTest {

    @Test
    void everyWriteHasRunInOrderOnceAwaitReturns() throws Exception {
        List<Integer> ran = Collections.synchronizedList(new ArrayList<>());
        try (PageWriters w = new PageWriters()) {
            for (int i = 0; i < 100; i++) {
                int n = i;
                w.submit(() -> ran.add(n));
            }
            w.await();
            assertThat(ran).hasSize(100).isSorted();
        }
    }

    @Test
    void noMoreThanTheQueuedNumberWaitAtATime() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger submitted = new AtomicInteger();
        try (PageWriters w = new PageWriters()) {
            Thread feeder = new Thread(() -> {
                try {
                    for (int i = 0; i < PageWriters.QUEUED + 3; i++) {
                        w.submit(release::await);
                        submitted.incrementAndGet();
                    }
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            feeder.start();
            Thread.sleep(300);
            assertThat(submitted.get()).as("submits that returned while the writes are held").isEqualTo(PageWriters.QUEUED);
            release.countDown();
            feeder.join(TimeUnit.SECONDS.toMillis(10));
            assertThat(submitted.get()).isEqualTo(PageWriters.QUEUED + 3);
            w.await();
        }
    }

    /** A failed write is what the restore fails with, as if written on the reading thread; later ones do not run. */
    @Test
    void theFirstFailureIsThrownAndLaterWritesDoNotRun() throws Exception {
        EngineException bad = new EngineException(EngineException.Reason.BAD_IMAGE, "pages outside any area");
        AtomicInteger after = new AtomicInteger();
        CountDownLatch queued = new CountDownLatch(1);
        try (PageWriters w = new PageWriters()) {
            w.submit(() -> {
                queued.await(); // fails only once the next write waits behind it
                throw bad;
            });
            w.submit(after::incrementAndGet);
            queued.countDown();
            assertThatThrownBy(w::await).isSameAs(bad);
            assertThatThrownBy(() -> w.submit(after::incrementAndGet)).isSameAs(bad);
        }
        assertThat(after.get()).isZero();
    }
}
