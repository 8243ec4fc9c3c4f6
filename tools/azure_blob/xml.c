// SPDX-License-Identifier: MIT
/*
 * libazblob: List Blobs and error bodies, parsed with libxml2.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include "internal.h"

static xmlNode *child(xmlNode *n, const char *name)
{
	for (n = n ? n->children : NULL; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE &&
		    !strcmp((const char *)n->name, name))
			return n;
	return NULL;
}

static void text_into(xmlNode *n, char *out, size_t cap)
{
	xmlChar *t;

	out[0] = '\0';
	if (!n)
		return;
	t = xmlNodeGetContent(n);
	if (t) {
		snprintf(out, cap, "%s", (const char *)t);
		xmlFree(t);
	}
}

static char *text_dup(xmlNode *n)
{
	xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
	char *s;

	if (!t)
		return azb_xstrdup("");
	s = azb_xstrdup((const char *)t);
	xmlFree(t);
	return s;
}

static xmlDoc *read_doc(const char *xml, size_t len)
{
	/* Skip a UTF-8 byte order mark; Azure sends one. */
	if (len >= 3 && !memcmp(xml, "\xef\xbb\xbf", 3)) {
		xml += 3;
		len -= 3;
	}
	return xmlReadMemory(xml, (int)len, "list.xml", NULL,
			     XML_PARSE_NONET | XML_PARSE_NOERROR |
			     XML_PARSE_NOWARNING);
}

int azb_parse_list_xml(const char *xml, size_t len,
		       struct azb_list_page *page, struct azb_error *err)
{
	xmlDoc *doc;
	xmlNode *root, *blobs, *n;
	size_t cap = 16;

	memset(page, 0, sizeof(*page));
	if (len > INT32_MAX)
		goto bad_nodoc;
	doc = read_doc(xml, len);
	if (!doc)
		goto bad_nodoc;
	root = xmlDocGetRootElement(doc);
	if (!root || strcmp((const char *)root->name, "EnumerationResults"))
		goto bad;
	page->items = azb_xmalloc(cap * sizeof(*page->items));
	blobs = child(root, "Blobs");
	for (n = blobs ? blobs->children : NULL; n; n = n->next) {
		struct azb_list_item *it;
		xmlNode *props;
		char num[32];
		char *end;

		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (strcmp((const char *)n->name, "Blob") &&
		    strcmp((const char *)n->name, "BlobPrefix"))
			continue;
		if (!child(n, "Name"))
			goto bad;
		if (page->n == cap) {
			cap *= 2;
			page->items = realloc(page->items,
					      cap * sizeof(*page->items));
			if (!page->items)
				abort();
		}
		it = &page->items[page->n++];
		memset(it, 0, sizeof(*it));
		it->name = text_dup(child(n, "Name"));
		if (!strcmp((const char *)n->name, "BlobPrefix")) {
			it->is_prefix = 1;
			continue;
		}
		props = child(n, "Properties");
		text_into(child(props, "Content-Length"), num, sizeof(num));
		it->size = strtoull(num, &end, 10);
		if (!num[0] || *end)
			goto bad;
		text_into(child(props, "Etag"), it->etag, sizeof(it->etag));
		text_into(child(props, "Last-Modified"), it->last_modified,
			  sizeof(it->last_modified));
		text_into(child(props, "Content-MD5"), it->content_md5,
			  sizeof(it->content_md5));
	}
	n = child(root, "NextMarker");
	page->next_marker = text_dup(n);
	xmlFreeDoc(doc);
	return 0;
bad:
	xmlFreeDoc(doc);
bad_nodoc:
	azb_list_page_free(page);
	azb_seterr(err, AZB_EHTTP, "malformed List Blobs response");
	return -EPROTO;
}

void azb_list_page_free(struct azb_list_page *page)
{
	size_t i;

	for (i = 0; i < page->n; i++)
		free(page->items[i].name);
	free(page->items);
	free(page->next_marker);
	memset(page, 0, sizeof(*page));
}

int azb_parse_error_xml(const char *xml, size_t len, char *code,
			size_t code_cap, char *msg, size_t msg_cap)
{
	xmlDoc *doc;
	xmlNode *root;

	if (!len || len > INT32_MAX)
		return -EINVAL;
	doc = read_doc(xml, len);
	if (!doc)
		return -EINVAL;
	root = xmlDocGetRootElement(doc);
	if (!root || strcmp((const char *)root->name, "Error")) {
		xmlFreeDoc(doc);
		return -EINVAL;
	}
	text_into(child(root, "Code"), code, code_cap);
	text_into(child(root, "Message"), msg, msg_cap);
	/* The message often spans lines (RequestId, Time): keep line one. */
	msg[strcspn(msg, "\r\n")] = '\0';
	xmlFreeDoc(doc);
	return 0;
}
