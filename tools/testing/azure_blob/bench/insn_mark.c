// SPDX-License-Identifier: GPL-2.0
/*
 * insn_mark [TAG]: execute the marker instruction of the insn_count QEMU
 * plugin once, so that the plugin writes the guest's instruction totals at
 * this point. TAG (0-65535, default 0) is written with them. A long NOP:
 * harmless on a real CPU and under a QEMU without the plugin.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <stdio.h>
#include <stdlib.h>

#define MARK(t) asm volatile(".byte 0x0f, 0x1f, 0x84, 0x00\n\t" \
			     ".long 0xab1d0000 + " #t ::: "memory")

int main(int argc, char **argv)
{
	unsigned long tag = argc > 1 ? strtoul(argv[1], NULL, 0) : 0;

	/* The tag is part of the instruction: one marker per tag used. */
	switch (tag) {
	case 0: MARK(0); break;
	case 1: MARK(1); break;
	case 2: MARK(2); break;
	case 3: MARK(3); break;
	default:
		fprintf(stderr, "insn_mark: tag %lu: only 0-3\n", tag);
		return 2;
	}
	return 0;
}
