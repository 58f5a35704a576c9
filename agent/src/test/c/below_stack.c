/*
 * below_stack: the bytes below the stack pointer, past the red zone, are as the program left them.
 *
 * The x86-64 ABI leaves the memory below rsp - 128 to whoever runs next on the stack (a signal handler),
 * so C code cannot rely on it; but a dump that borrows it as scratch space for the system calls it
 * injects (telefork does, when the stack pointer's page has room) must put it back all the same, in the
 * process it leaves running as in the image. The program moves rsp to the middle of a page, fills the
 * 256 bytes below its red zone with a pattern and waits for "go" in a read system call made right there
 * (assembly, so that nothing else touches the stack in between), then compares the pattern.
 *
 * After go: the read got "go"; none of the 32 words changed.
 */
#include "tftest.h"

/* read(0, buf, len) with the pattern below the red zone: the read's result, and words changed in *bad. */
static long read_with_pattern(char *buf, long len, unsigned long seed, long *bad)
{
	register long result __asm__("r8");
	register long changed __asm__("r13");
	__asm__ volatile(
		"mov %%rsp, %%r12\n\t"
		"mov %%rsp, %%rax\n\t"
		"sub $2048, %%rax\n\t"
		"and $4095, %%rax\n\t"
		"sub %%rax, %%rsp\n\t"          /* rsp lowered to 2048 bytes into its page */
		"xor %%r9d, %%r9d\n\t"
		"1:\n\t"
		"lea (%%rbx, %%r9), %%r10\n\t"
		"mov %%r10, -384(%%rsp, %%r9, 8)\n\t"
		"inc %%r9\n\t"
		"cmp $32, %%r9\n\t"
		"jb 1b\n\t"
		"xor %%eax, %%eax\n\t"          /* read(0, rsi, rdx) */
		"xor %%edi, %%edi\n\t"
		"syscall\n\t"
		"mov %%rax, %%r8\n\t"
		"xor %%r13d, %%r13d\n\t"
		"xor %%r9d, %%r9d\n\t"
		"2:\n\t"
		"lea (%%rbx, %%r9), %%r10\n\t"
		"cmp %%r10, -384(%%rsp, %%r9, 8)\n\t"
		"je 3f\n\t"
		"inc %%r13\n\t"
		"3:\n\t"
		"inc %%r9\n\t"
		"cmp $32, %%r9\n\t"
		"jb 2b\n\t"
		"mov %%r12, %%rsp\n\t"
		: "=r"(result), "=r"(changed)
		: "b"(seed), "S"(buf), "d"(len)
		: "rax", "rdi", "rcx", "r9", "r10", "r11", "r12", "memory", "cc");
	*bad = changed;
	return result;
}

int main(void)
{
	char line[64] = { 0 };
	long bad = -1;
	tf_ready();
	long n = read_with_pattern(line, sizeof(line) - 1, 0x5a5aa5a5c3c30000UL, &bad);
	tf_check(n >= 3 && strncmp(line, "go\n", 3) == 0, "expected the line \"go\" on stdin, read returned %ld", n);
	tf_check(bad == 0, "%ld of the 32 words below the red zone changed while the program waited", bad);
	return tf_finish();
}
