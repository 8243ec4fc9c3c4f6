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
 * a tag the guest chooses. Options: out=<file> (default: QEMU's log).
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
static FILE *out;

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
