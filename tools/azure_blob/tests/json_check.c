// SPDX-License-Identifier: MIT
/*
 * json_check - is a file one JSON text, and what does a top-level member
 * hold? For guests that have no python or jq; json-c does the parsing.
 *
 *   json_check FILE           exit 0 when FILE is valid JSON, else 1 with
 *                             the byte offset of the first error
 *   json_check FILE KEY       the same, and print the value of the
 *                             top-level object's member KEY in JSON
 *                             (strings with their quotes); exit 3 when
 *                             there is no such member
 *
 * json-c's strict mode with UTF-8 validation: no trailing commas, no
 * comments, no single quotes, valid UTF-8, nothing but white space after
 * the value, nesting up to 64 levels. It is laxer than RFC 8259 in a few
 * corners (raw control characters in strings, "1.", escaped lone
 * surrogates); the client's own suite checks azblob's JSON with Python's
 * stricter parser as well (tests/doctor.sh).
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#define MAX_DEPTH	64
#define MAX_SIZE	(16u << 20)

static int check(const char *name, const char *buf, size_t n, const char *key)
{
	struct json_tokener *tok = json_tokener_new_ex(MAX_DEPTH);
	enum json_tokener_error err;
	struct json_object *doc, *val;
	size_t end;
	int ret = 0;

	if (!tok)
		return 2;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
				    JSON_TOKENER_VALIDATE_UTF8);
	doc = json_tokener_parse_ex(tok, buf, n);
	err = json_tokener_get_error(tok);
	/* A bare number at the end of the text waits for more: end it. */
	if (!doc && err == json_tokener_continue) {
		doc = json_tokener_parse_ex(tok, "", 1);
		err = json_tokener_get_error(tok);
	}
	end = json_tokener_get_parse_end(tok);
	if (doc && err == json_tokener_success)
		while (end < n && strchr(" \t\r\n", buf[end]))
			end++;
	if (!doc || err != json_tokener_success || end < n) {
		fprintf(stderr, "json_check: %s: %s at byte %zu\n", name,
			doc ? "text after the value" :
			json_tokener_error_desc(err), end);
		ret = 1;
	} else if (key) {
		if (json_object_is_type(doc, json_type_object) &&
		    json_object_object_get_ex(doc, key, &val))
			printf("%s\n", json_object_to_json_string_ext(val,
				JSON_C_TO_STRING_PLAIN |
				JSON_C_TO_STRING_NOSLASHESCAPE));
		else
			ret = 3;
	}
	json_object_put(doc);
	json_tokener_free(tok);
	return ret;
}

int main(int argc, char **argv)
{
	char *buf;
	size_t n;
	FILE *f;
	int ret;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: json_check FILE [KEY]\n");
		return 2;
	}
	f = strcmp(argv[1], "-") ? fopen(argv[1], "rb") : stdin;
	if (!f) {
		perror(argv[1]);
		return 2;
	}
	buf = malloc(MAX_SIZE);
	if (!buf)
		return 2;
	n = fread(buf, 1, MAX_SIZE, f);
	if (f != stdin)
		fclose(f);
	if (n == MAX_SIZE) {
		fprintf(stderr, "json_check: %s: larger than %u bytes\n",
			argv[1], MAX_SIZE);
		free(buf);
		return 1;
	}
	ret = check(argv[1], buf, n, argc == 3 ? argv[2] : NULL);
	free(buf);
	return ret;
}
