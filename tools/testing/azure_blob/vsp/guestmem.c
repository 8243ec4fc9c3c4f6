// SPDX-License-Identifier: GPL-2.0
/*
 * Reference VSP: access to guest RAM.
 *
 * QEMU backs the guest's RAM with a shared file (memory-backend-file,
 * share=on). The guest reports its System RAM ranges in the mailbox; this
 * file translates guest physical addresses with them: RAM below 4 GiB sits
 * at file offset == GPA, RAM above 4 GiB follows the low RAM in the file
 * (QEMU's pc layout). Every translation is checked against the reported
 * ranges and the file size.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vsp.h"

#define FOUR_GIB	(1ull << 32)

struct ram_range {
	uint64_t start, len, file_off;
};

extern const char *vsp_ram_path;

static uint8_t *ram_map;
static uint64_t ram_size;
static struct ram_range ranges[VMBUS_EMU_MAX_RAM];
static unsigned int nr_ranges;

void guest_mem_detach(void)
{
	nr_ranges = 0;
}

static int map_file(void)
{
	struct stat st;
	int fd;

	if (ram_map)
		return 0;
	fd = open(vsp_ram_path, O_RDWR);
	if (fd < 0) {
		vsp_log("guest RAM %s: %s", vsp_ram_path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || st.st_size <= 0) {
		vsp_log("guest RAM %s: bad size", vsp_ram_path);
		close(fd);
		return -1;
	}
	ram_map = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       fd, 0);
	close(fd);
	if (ram_map == MAP_FAILED) {
		ram_map = NULL;
		vsp_log("guest RAM mmap: %s", strerror(errno));
		return -1;
	}
	ram_size = st.st_size;
	vsp_log("guest RAM %s mapped, %llu MiB", vsp_ram_path,
		(unsigned long long)(ram_size >> 20));
	return 0;
}

int guest_mem_attach(const struct vmbus_emu_mailbox *mb)
{
	uint32_t n = mb->nr_ram;
	uint64_t high_end = FOUR_GIB, low_file, prev_end = 0;
	unsigned int i;

	nr_ranges = 0;
	if (map_file())
		return -1;
	if (n == 0 || n > VMBUS_EMU_MAX_RAM) {
		vsp_log("guest reported %u RAM ranges", n);
		return -1;
	}
	for (i = 0; i < n; i++) {
		uint64_t s = mb->ram[i].start, l = mb->ram[i].len;

		if (!l || s + l < s || s < prev_end ||
		    (s < FOUR_GIB && s + l > FOUR_GIB)) {
			vsp_log("bad RAM range %u: %#llx+%#llx", i,
				(unsigned long long)s, (unsigned long long)l);
			return -1;
		}
		prev_end = s + l;
		if (s >= FOUR_GIB && s + l > high_end)
			high_end = s + l;
	}
	if (high_end - FOUR_GIB > ram_size) {
		vsp_log("high RAM larger than the RAM file");
		return -1;
	}
	low_file = ram_size - (high_end - FOUR_GIB);
	for (i = 0; i < n; i++) {
		struct ram_range *r = &ranges[i];

		r->start = mb->ram[i].start;
		r->len = mb->ram[i].len;
		r->file_off = r->start < FOUR_GIB ? r->start :
			      low_file + (r->start - FOUR_GIB);
		if ((r->start < FOUR_GIB && r->start + r->len > low_file) ||
		    r->file_off + r->len > ram_size) {
			vsp_log("RAM range %#llx+%#llx outside the RAM file (%llu bytes)",
				(unsigned long long)r->start,
				(unsigned long long)r->len,
				(unsigned long long)ram_size);
			return -1;
		}
		vsp_log("guest RAM range %u: gpa %#llx len %#llx file %#llx", i,
			(unsigned long long)r->start,
			(unsigned long long)r->len,
			(unsigned long long)r->file_off);
	}
	nr_ranges = n;
	return 0;
}

void *guest_ptr(uint64_t gpa, uint64_t len)
{
	unsigned int i;

	if (gpa + len < gpa)
		return NULL;
	for (i = 0; i < nr_ranges; i++) {
		const struct ram_range *r = &ranges[i];

		if (gpa >= r->start && gpa + len <= r->start + r->len)
			return ram_map + r->file_off + (gpa - r->start);
	}
	return NULL;
}
