/*
 * rseq_check: the restartable-sequences registration glibc made at start-up (glibc >= 2.35 registers
 * one per thread, inside the TLS block) is registered again in the restored process, at the same address.
 *
 * After go:
 *   1. the kernel still knows the registration: registering the same area again must fail with EBUSY
 *      (with no registration it would succeed, which the program reports and undoes);
 *   2. the kernel still updates it: cpu_id is overwritten with garbage, the program sleeps (a trip
 *      through the scheduler makes the kernel rewrite the area on the way back to user space), and then
 *      cpu_id must hold the current CPU again.
 */
#include "tftest.h"
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <time.h>

static struct rseq *area(void)
{
	return (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
}

int main(void)
{
	if (__rseq_size == 0)
		tf_die("glibc did not register rseq (GLIBC_TUNABLES=glibc.pthread.rseq=0?)");
	struct rseq *rs = area();
	if ((int)rs->cpu_id < 0)
		tf_die("rseq cpu_id is %d before READY", (int)rs->cpu_id);
	tf_info("rseq_check: area %p, __rseq_size %u\n", (void *)rs, __rseq_size);

	tf_ready();
	tf_wait_go();

	long r = syscall(SYS_rseq, rs, 32, 0, RSEQ_SIG);
	int e = errno;
	if (r == 0) {
		tf_check(0, "rseq was not registered after the restore: registering %p again succeeded", (void *)rs);
		syscall(SYS_rseq, rs, 32, RSEQ_FLAG_UNREGISTER, RSEQ_SIG);
	} else {
		tf_check(e == EBUSY, "registering rseq again failed with errno %d (%s), expected EBUSY (already registered"
			 " with the same arguments)", e, strerror(e));
	}

	for (int i = 0; i < 3; i++) {
		rs->cpu_id = (uint32_t)-77;
		struct timespec ts = { 0, 2 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		unsigned cpu = 0;
		syscall(SYS_getcpu, &cpu, NULL, NULL);
		uint32_t seen = rs->cpu_id;
		if (seen == cpu)
			break;
		/* a migration between the two reads is possible but not three times in a row */
		if (i == 2)
			tf_check(0, "the kernel does not update the rseq area: cpu_id is %d, the CPU is %u", (int)seen, cpu);
	}
	return tf_finish();
}
