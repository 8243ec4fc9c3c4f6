// SPDX-License-Identifier: GPL-2.0
/*
 * A QEMU TCG plugin that counts the instructions a whole x86_64 guest
 * executes, kernel and user space apart, and writes the running totals
 * each time the guest executes a marker instruction.
 *
 * Counting: every translated block adds its instruction count to the
 * kernel or the user counter when it runs (inline, no callback), decided
 * by the block's address: the upper half of the address space is the
 * kernel's. A block left early (an exception in its middle) counts whole.
 * The counters are shared by all vCPUs and not atomic: run the guest with
 * -accel tcg,thread=single so that vCPUs take turns on one host thread
 * and no addition is lost.
 *
 * Marker: the 8-byte long NOP "nopl 0xAB1Dxxxx(%rax,%rax,1)" (0f 1f 84 00
 * and a 32-bit displacement whose upper half is 0xAB1D). It does nothing
 * in the guest, on any CPU; here, it appends one line to the output file:
 *
 *	mark <n> <xxxx> <user instructions> <kernel instructions>
 *
 * where n counts markers from 0 and xxxx is the displacement's lower half,
 * a tag the guest chooses. Options: out=<file> (default: QEMU's log),
 * prof=<file>.
 *
 * Profile (prof=<file>): every translated block also adds its count to a
 * counter of its own start address (a second inline addition), and the
 * stretch from a marker with tag 1 to the next with tag 2 (bench_run's
 * fork and wait) is written to the profile file as
 *
 *	interval <n>
 *	<hex address> <instructions>	(every block address executed)
 *
 * with n the number of the closing marker, as in the "mark" lines. The
 * counter is per virtual address, not per process: the reader attributes
 * user addresses with the memory maps of the processes it cares about.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define MARK_MAGIC	0xab1du
#define KERNEL_START	0xffff800000000000ull

static uint64_t user_insns, kernel_insns;
static uint64_t nr_marks;
static FILE *out, *prof;

/*
 * The profile's counters: one per block start address, never freed nor
 * moved (the inline additions hold their addresses), found through an
 * open-addressing hash table of pointers that doubles when half full.
 */
struct site {
	uint64_t vaddr;
	uint64_t count;
	uint64_t base;		/* count at the interval's start */
};

#define SITES_PER_SLAB	4096

static struct site **table;
static size_t table_size, nr_sites;
static struct site *slab;
static size_t slab_used = SITES_PER_SLAB;
static struct site **all_sites;	/* in creation order, for the dumps */
static size_t all_size;

static size_t site_hash(uint64_t vaddr, size_t size)
{
	return (size_t)((vaddr * 0x9e3779b97f4a7c15ull) >> 17) & (size - 1);
}

static void table_insert(struct site **t, size_t size, struct site *s)
{
	size_t i = site_hash(s->vaddr, size);

	while (t[i])
		i = (i + 1) & (size - 1);
	t[i] = s;
}

static struct site *site_get(uint64_t vaddr)
{
	size_t i;
	struct site *s;

	if (table) {
		for (i = site_hash(vaddr, table_size); table[i];
		     i = (i + 1) & (table_size - 1))
			if (table[i]->vaddr == vaddr)
				return table[i];
	}
	if (2 * (nr_sites + 1) > table_size) {
		size_t n = table_size ? 2 * table_size : 1 << 16, j;
		struct site **t = calloc(n, sizeof(*t));

		if (!t)
			return NULL;
		for (j = 0; j < nr_sites; j++)
			table_insert(t, n, all_sites[j]);
		free(table);
		table = t;
		table_size = n;
	}
	if (nr_sites == all_size) {
		size_t n = all_size ? 2 * all_size : 1 << 16;
		struct site **a = realloc(all_sites, n * sizeof(*a));

		if (!a)
			return NULL;
		all_sites = a;
		all_size = n;
	}
	if (slab_used == SITES_PER_SLAB) {
		slab = calloc(SITES_PER_SLAB, sizeof(*slab));
		if (!slab)
			return NULL;
		slab_used = 0;
	}
	s = &slab[slab_used++];
	s->vaddr = vaddr;
	table_insert(table, table_size, s);
	all_sites[nr_sites++] = s;
	return s;
}

static void prof_start(void)
{
	size_t i;

	for (i = 0; i < nr_sites; i++)
		all_sites[i]->base = all_sites[i]->count;
}

static void prof_dump(void)
{
	size_t i;

	fprintf(prof, "interval %" PRIu64 "\n", nr_marks);
	for (i = 0; i < nr_sites; i++) {
		struct site *s = all_sites[i];

		if (s->count != s->base)
			fprintf(prof, "%" PRIx64 " %" PRIu64 "\n", s->vaddr,
				s->count - s->base);
	}
	fflush(prof);
}

static void emit(const char *line)
{
	if (out) {
		fputs(line, out);
		fflush(out);
	} else {
		qemu_plugin_outs(line);
	}
}

static void mark_exec(unsigned int vcpu, void *udata)
{
	char line[128];

	(void)vcpu;
	if (prof && (uintptr_t)udata == 1)
		prof_start();
	else if (prof && (uintptr_t)udata == 2)
		prof_dump();
	snprintf(line, sizeof(line), "mark %" PRIu64 " %04x %" PRIu64 " %" PRIu64 "\n",
		 nr_marks++, (unsigned int)(uintptr_t)udata, user_insns,
		 kernel_insns);
	emit(line);
}

/* The tag of a marker instruction, or -1 for any other instruction. */
static long marker_tag(struct qemu_plugin_insn *insn)
{
	const uint8_t *b = qemu_plugin_insn_data(insn);
	uint32_t disp;

	if (qemu_plugin_insn_size(insn) != 8 || b[0] != 0x0f || b[1] != 0x1f ||
	    b[2] != 0x84 || b[3] != 0x00)
		return -1;
	disp = (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 |
	       (uint32_t)b[7] << 24;
	if (disp >> 16 != MARK_MAGIC)
		return -1;
	return disp & 0xffff;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t n = qemu_plugin_tb_n_insns(tb), i;
	uint64_t *counter = qemu_plugin_tb_vaddr(tb) >= KERNEL_START ?
			    &kernel_insns : &user_insns;

	(void)id;
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
						 counter, n);
	if (prof) {
		struct site *s = site_get(qemu_plugin_tb_vaddr(tb));

		if (s)
			qemu_plugin_register_vcpu_tb_exec_inline(tb,
					QEMU_PLUGIN_INLINE_ADD_U64, &s->count, n);
	}
	if (counter == &kernel_insns)
		return;
	for (i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		long tag = marker_tag(insn);

		if (tag >= 0)
			qemu_plugin_register_vcpu_insn_exec_cb(insn, mark_exec,
						QEMU_PLUGIN_CB_NO_REGS,
						(void *)(uintptr_t)tag);
	}
}

static void at_exit(qemu_plugin_id_t id, void *udata)
{
	char line[128];

	(void)id;
	(void)udata;
	snprintf(line, sizeof(line), "exit %" PRIu64 " %" PRIu64 "\n",
		 user_insns, kernel_insns);
	emit(line);
	if (out)
		fclose(out);
	if (prof)
		fclose(prof);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
					   const qemu_info_t *info,
					   int argc, char **argv)
{
	int i;

	if (strcmp(info->target_name, "x86_64")) {
		fprintf(stderr, "insn_count: x86_64 guests only, not %s\n",
			info->target_name);
		return -1;
	}
	for (i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "out=", 4)) {
			out = fopen(argv[i] + 4, "w");
			if (!out) {
				perror(argv[i] + 4);
				return -1;
			}
		} else if (!strncmp(argv[i], "prof=", 5)) {
			prof = fopen(argv[i] + 5, "w");
			if (!prof) {
				perror(argv[i] + 5);
				return -1;
			}
		} else {
			fprintf(stderr, "insn_count: unknown option %s\n",
				argv[i]);
			return -1;
		}
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	qemu_plugin_register_atexit_cb(id, at_exit, NULL);
	return 0;
}
