/*
 * fpu_avx: register state survives a dump and restore.
 *
 * One asm block loads random values into the vector registers (zmm0-31 and k0-7 with AVX-512,
 * ymm0-15 with AVX, xmm0-15 otherwise), eight x87 stack registers, the x87 control word, MXCSR and
 * seven general-purpose registers, then prints READY and reads the go line with raw syscalls (so
 * that no libc code runs in between and touches a register), then stores every register back to
 * memory. The dump happens while the block is blocked in read(2). C code compares afterwards.
 * The kernel preserves all these registers across a syscall except rax, rcx and r11.
 */
#include "tftest.h"
#include <stddef.h>

struct state {
	uint8_t vin[32][64];
	uint8_t vout[32][64];
	uint64_t gin[7];  /* rbx r8 r9 r10 r12 r13 r14 */
	uint64_t gout[7];
	uint16_t kin[8];
	uint16_t kout[8];
	long double x87in[8];  /* 16-byte slots, 10 bytes used */
	long double x87out[8];
	uint32_t mxcsr_in, mxcsr_out, mxcsr_default;
	uint16_t cw_in, cw_out, cw_default, sw_before, sw_after;
	long wret, rret;
	char ready[8];
	char buf[64];
} __attribute__((aligned(64)));

static struct state st;

#define FL(n) "fldt %c[x87in]+" #n "*16(%%r15)\n\t"
#define FS(n) "fstpt %c[x87out]+" #n "*16(%%r15)\n\t"
#define GL(n, reg) "mov %c[gin]+" #n "*8(%%r15), %%" reg "\n\t"
#define GS(n, reg) "mov %%" reg ", %c[gout]+" #n "*8(%%r15)\n\t"

#define ASM_PRE                                                                         \
	"fninit\n\t"                                                                    \
	"fldcw %c[cw_in](%%r15)\n\t"                                                    \
	FL(0) FL(1) FL(2) FL(3) FL(4) FL(5) FL(6) FL(7)                                 \
	"fnstsw %c[sw_before](%%r15)\n\t"                                               \
	"ldmxcsr %c[mx_in](%%r15)\n\t"                                                  \
	GL(0, "rbx") GL(1, "r8") GL(2, "r9") GL(3, "r10") GL(4, "r12") GL(5, "r13") GL(6, "r14")

/* write(1, "READY\n", 6); read(0, buf, 63), both raw. */
#define ASM_SYSCALLS                                                                    \
	"mov $1, %%eax\n\t"                                                             \
	"mov $1, %%edi\n\t"                                                             \
	"lea %c[ready](%%r15), %%rsi\n\t"                                               \
	"mov $6, %%edx\n\t"                                                             \
	"syscall\n\t"                                                                   \
	"mov %%rax, %c[wret](%%r15)\n\t"                                                \
	"xor %%eax, %%eax\n\t"                                                          \
	"xor %%edi, %%edi\n\t"                                                          \
	"lea %c[buf](%%r15), %%rsi\n\t"                                                 \
	"mov $63, %%edx\n\t"                                                            \
	"syscall\n\t"                                                                   \
	"mov %%rax, %c[rret](%%r15)\n\t"

#define ASM_POST                                                                        \
	GS(0, "rbx") GS(1, "r8") GS(2, "r9") GS(3, "r10") GS(4, "r12") GS(5, "r13") GS(6, "r14") \
	"stmxcsr %c[mx_out](%%r15)\n\t"                                                 \
	"fnstcw %c[cw_out](%%r15)\n\t"                                                  \
	"fnstsw %c[sw_after](%%r15)\n\t"                                                \
	FS(0) FS(1) FS(2) FS(3) FS(4) FS(5) FS(6) FS(7)                                 \
	"ldmxcsr %c[mx_def](%%r15)\n\t"                                                 \
	"fldcw %c[cw_def](%%r15)\n\t"

#define ASM_OPERANDS                                                                    \
	: [base] "r"(base), [vin] "i"(offsetof(struct state, vin)),                     \
	  [vout] "i"(offsetof(struct state, vout)), [gin] "i"(offsetof(struct state, gin)), \
	  [gout] "i"(offsetof(struct state, gout)), [kin] "i"(offsetof(struct state, kin)), \
	  [kout] "i"(offsetof(struct state, kout)),                                     \
	  [x87in] "i"(offsetof(struct state, x87in)),                                   \
	  [x87out] "i"(offsetof(struct state, x87out)),                                 \
	  [mx_in] "i"(offsetof(struct state, mxcsr_in)),                                \
	  [mx_out] "i"(offsetof(struct state, mxcsr_out)),                              \
	  [mx_def] "i"(offsetof(struct state, mxcsr_default)),                          \
	  [cw_in] "i"(offsetof(struct state, cw_in)),                                   \
	  [cw_out] "i"(offsetof(struct state, cw_out)),                                 \
	  [cw_def] "i"(offsetof(struct state, cw_default)),                             \
	  [sw_before] "i"(offsetof(struct state, sw_before)),                           \
	  [sw_after] "i"(offsetof(struct state, sw_after)),                             \
	  [wret] "i"(offsetof(struct state, wret)), [rret] "i"(offsetof(struct state, rret)), \
	  [ready] "i"(offsetof(struct state, ready)), [buf] "i"(offsetof(struct state, buf))

#define GPR_CLOBBERS "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", \
		     "r13", "r14", "cc", "memory"
#define XMM_CLOBBERS "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", \
		     "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"

#define V(insn, reg, n) insn " %c[vin]+" #n "*64(%%r15), %%" reg #n "\n\t"
#define VS(insn, reg, n) insn " %%" reg #n ", %c[vout]+" #n "*64(%%r15)\n\t"
#define V16(m, insn, reg) m(insn, reg, 0) m(insn, reg, 1) m(insn, reg, 2) m(insn, reg, 3) m(insn, reg, 4) \
	m(insn, reg, 5) m(insn, reg, 6) m(insn, reg, 7) m(insn, reg, 8) m(insn, reg, 9) m(insn, reg, 10) \
	m(insn, reg, 11) m(insn, reg, 12) m(insn, reg, 13) m(insn, reg, 14) m(insn, reg, 15)
#define V16HI(m, insn, reg) m(insn, reg, 16) m(insn, reg, 17) m(insn, reg, 18) m(insn, reg, 19) \
	m(insn, reg, 20) m(insn, reg, 21) m(insn, reg, 22) m(insn, reg, 23) m(insn, reg, 24) \
	m(insn, reg, 25) m(insn, reg, 26) m(insn, reg, 27) m(insn, reg, 28) m(insn, reg, 29) \
	m(insn, reg, 30) m(insn, reg, 31)
#define K(n) "kmovw %c[kin]+" #n "*2(%%r15), %%k" #n "\n\t"
#define KS(n) "kmovw %%k" #n ", %c[kout]+" #n "*2(%%r15)\n\t"

__attribute__((target("avx512f"), noinline))
static void run_avx512(void)
{
	register struct state *base asm("r15") = &st;
	asm volatile(ASM_PRE
		     V16(V, "vmovdqu64", "zmm") V16HI(V, "vmovdqu64", "zmm")
		     K(0) K(1) K(2) K(3) K(4) K(5) K(6) K(7)
		     ASM_SYSCALLS
		     V16(VS, "vmovdqu64", "zmm") V16HI(VS, "vmovdqu64", "zmm")
		     KS(0) KS(1) KS(2) KS(3) KS(4) KS(5) KS(6) KS(7)
		     ASM_POST
		     "vzeroupper\n\t"
		     :
		     ASM_OPERANDS
		     : GPR_CLOBBERS, XMM_CLOBBERS, "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21",
		       "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30",
		       "xmm31", "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7");
}

__attribute__((target("avx"), noinline))
static void run_avx(void)
{
	register struct state *base asm("r15") = &st;
	asm volatile(ASM_PRE
		     V16(V, "vmovdqu", "ymm")
		     ASM_SYSCALLS
		     V16(VS, "vmovdqu", "ymm")
		     ASM_POST
		     "vzeroupper\n\t"
		     :
		     ASM_OPERANDS
		     : GPR_CLOBBERS, XMM_CLOBBERS);
}

__attribute__((noinline))
static void run_sse(void)
{
	register struct state *base asm("r15") = &st;
	asm volatile(ASM_PRE
		     V16(V, "movdqu", "xmm")
		     ASM_SYSCALLS
		     V16(VS, "movdqu", "xmm")
		     ASM_POST
		     :
		     ASM_OPERANDS
		     : GPR_CLOBBERS, XMM_CLOBBERS);
}

int main(void)
{
	uint64_t s = tf_seed();
	for (int r = 0; r < 32; r++)
		for (int i = 0; i < 64; i += 8) {
			uint64_t v = tf_next(&s);
			memcpy(&st.vin[r][i], &v, 8);
		}
	for (int i = 0; i < 7; i++)
		st.gin[i] = tf_next(&s);
	for (int i = 0; i < 8; i++) {
		st.kin[i] = (uint16_t)tf_next(&s);
		/* finite, normal, full 64-bit mantissa, different signs and exponents */
		st.x87in[i] = (long double)tf_next(&s) / 3.0L * (i % 2 ? -1.0L : 1.0L) / (long double)(1ULL << (i * 7));
	}
	st.cw_in = 0x0e7f;        /* round toward zero, 53-bit precision, exceptions masked */
	st.cw_default = 0x037f;
	st.mxcsr_in = 0xffe1;     /* FTZ, round toward zero, DAZ, masks, sticky PE and IE flags */
	st.mxcsr_default = 0x1f80;
	memcpy(st.ready, "READY\n", 6);

	const char *level;
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f")) {
		level = "avx512";
		run_avx512();
	} else if (__builtin_cpu_supports("avx")) {
		level = "avx";
		run_avx();
	} else {
		level = "sse";
		run_sse();
	}
	tf_info("fpu_avx: checked %s, x87, mxcsr and general-purpose registers\n", level);

	tf_check(st.wret == 6, "write(READY) returned %ld", st.wret);
	tf_check(st.rret == 3 && memcmp(st.buf, "go\n", 3) == 0, "raw read of the go line returned %ld", st.rret);
	int nvec = strcmp(level, "avx512") == 0 ? 32 : 16;
	int width = strcmp(level, "avx512") == 0 ? 64 : strcmp(level, "avx") == 0 ? 32 : 16;
	for (int r = 0; r < nvec; r++)
		for (int i = 0; i < width; i++)
			if (st.vout[r][i] != st.vin[r][i]) {
				tf_check(0, "vector register %d byte %d: 0x%02x, expected 0x%02x", r, i,
					 st.vout[r][i], st.vin[r][i]);
				break;
			}
	static const char *const gname[7] = { "rbx", "r8", "r9", "r10", "r12", "r13", "r14" };
	for (int i = 0; i < 7; i++)
		tf_check(st.gout[i] == st.gin[i], "%s is 0x%llx, expected 0x%llx", gname[i],
			 (unsigned long long)st.gout[i], (unsigned long long)st.gin[i]);
	if (strcmp(level, "avx512") == 0)
		for (int i = 0; i < 8; i++)
			tf_check(st.kout[i] == st.kin[i], "k%d is 0x%x, expected 0x%x", i, st.kout[i], st.kin[i]);
	for (int i = 0; i < 8; i++)  /* popped in reverse order of the pushes */
		tf_check(memcmp(&st.x87out[i], &st.x87in[7 - i], 10) == 0, "x87 st(%d) differs", i);
	tf_check(st.cw_out == st.cw_in, "x87 control word 0x%x, expected 0x%x", st.cw_out, st.cw_in);
	tf_check(st.sw_after == st.sw_before, "x87 status word 0x%x, expected 0x%x", st.sw_after, st.sw_before);
	tf_check(st.mxcsr_out == st.mxcsr_in, "MXCSR 0x%x, expected 0x%x", st.mxcsr_out, st.mxcsr_in);
	return tf_finish();
}
