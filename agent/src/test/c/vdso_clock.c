/*
 * vdso_clock: the vDSO still tells the time after a restore.
 *
 * The vDSO's clock functions read kernel data from the [vvar] pages next to it, at a fixed distance.
 * A restore must give the process a working vDSO at the address it was at (the code may hold pointers
 * into it; glibc does) with its [vvar] where that code expects it.
 *
 * After go: [vdso] in /proc/self/maps is at the address AT_SYSINFO_EHDR and the dump-time pointer
 * say; clock_gettime through glibc (the vDSO) agrees within 50 ms with the raw system call for
 * CLOCK_REALTIME, CLOCK_MONOTONIC and CLOCK_BOOTTIME; CLOCK_MONOTONIC did not go backwards across the
 * dump; gettimeofday and time agree with CLOCK_REALTIME; getcpu (vDSO) agrees with the system call.
 */
#include "tftest.h"
#include <sched.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

static unsigned long vdso_before;
static struct timespec mono_before;

static unsigned long vdso_in_maps(void)
{
	static char buf[1 << 16];
	if (tf_read_file("/proc/self/maps", buf, sizeof(buf)) < 0)
		return 0;
	char *line = strstr(buf, "[vdso]");
	if (!line)
		return 0;
	while (line > buf && line[-1] != '\n')
		line--;
	return strtoul(line, NULL, 16);
}

static double diff(const struct timespec *a, const struct timespec *b)
{
	return (double)(a->tv_sec - b->tv_sec) + (double)(a->tv_nsec - b->tv_nsec) / 1e9;
}

int main(void)
{
	vdso_before = getauxval(AT_SYSINFO_EHDR);
	if (vdso_before == 0 || vdso_in_maps() != vdso_before)
		tf_die("no vDSO, or not where AT_SYSINFO_EHDR says");
	clock_gettime(CLOCK_MONOTONIC, &mono_before);

	tf_ready();
	tf_wait_go();

	unsigned long at = getauxval(AT_SYSINFO_EHDR), mapped = vdso_in_maps();
	tf_check(mapped == vdso_before, "[vdso] is at 0x%lx in /proc/self/maps, was at 0x%lx", mapped, vdso_before);
	tf_check(at == vdso_before, "AT_SYSINFO_EHDR is 0x%lx, was 0x%lx", at, vdso_before);

	static const struct { clockid_t id; const char *name; } clocks[] = {
		{ CLOCK_REALTIME, "CLOCK_REALTIME" }, { CLOCK_MONOTONIC, "CLOCK_MONOTONIC" },
		{ CLOCK_BOOTTIME, "CLOCK_BOOTTIME" },
	};
	for (size_t i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++) {
		struct timespec v, s;
		int rv = clock_gettime(clocks[i].id, &v);
		syscall(SYS_clock_gettime, clocks[i].id, &s);
		tf_check(rv == 0 && v.tv_nsec >= 0 && v.tv_nsec < 1000000000L, "clock_gettime(%s) through the vDSO failed",
			 clocks[i].name);
		double d = diff(&v, &s);
		tf_check(d > -0.05 && d < 0.05, "%s: vDSO says %ld.%09ld, the system call %ld.%09ld", clocks[i].name,
			 (long)v.tv_sec, v.tv_nsec, (long)s.tv_sec, s.tv_nsec);
	}
	struct timespec mono;
	clock_gettime(CLOCK_MONOTONIC, &mono);
	tf_check(diff(&mono, &mono_before) >= 0, "CLOCK_MONOTONIC went back by %.3f s across the dump",
		 -diff(&mono, &mono_before));

	struct timespec rt;
	struct timeval tv;
	clock_gettime(CLOCK_REALTIME, &rt);
	gettimeofday(&tv, NULL);
	time_t t = time(NULL);
	double dtv = (double)(tv.tv_sec - rt.tv_sec) + ((double)tv.tv_usec * 1e3 - (double)rt.tv_nsec) / 1e9;
	tf_check(dtv > -0.05 && dtv < 0.05, "gettimeofday is %.3f s off CLOCK_REALTIME", dtv);
	tf_check(t - rt.tv_sec >= -1 && t - rt.tv_sec <= 1, "time() is %ld s off CLOCK_REALTIME", (long)(t - rt.tv_sec));

	for (int i = 0; i < 3; i++) {  /* sched_getcpu may use rseq or the vDSO; a migration in between is possible */
		int cpu = sched_getcpu();
		unsigned raw = 0;
		syscall(SYS_getcpu, &raw, NULL, NULL);
		if (cpu == (int)raw)
			break;
		if (i == 2)
			tf_check(0, "sched_getcpu says %d, the system call %u", cpu, raw);
	}
	return tf_finish();
}
