/* SPDX-License-Identifier: MIT */
/*
 * TAP output for the client's C tests: CHECK(cond, fmt, ...) prints one
 * "ok N - ..." or "not ok N - ..." line, SKIP(fmt, ...) one skipped test.
 * The including test reads the totals from tests and failed.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#ifndef AZB_TESTS_TAP_H
#define AZB_TESTS_TAP_H

#include <stdio.h>

static int tests, failed;

#define CHECK(cond, ...) \
	do { \
		tests++; \
		if (cond) { \
			printf("ok %d - ", tests); \
		} else { \
			failed++; \
			printf("not ok %d - ", tests); \
		} \
		printf(__VA_ARGS__); \
		printf("\n"); \
	} while (0)

#define SKIP(...) \
	do { \
		tests++; \
		printf("ok %d - ", tests); \
		printf(__VA_ARGS__); \
		printf(" # SKIP\n"); \
	} while (0)

#endif /* AZB_TESTS_TAP_H */
