/* json.h - JSON text from json-glib trees. json-glib builds every
 * document postdesk writes; this module alone turns one into text, for
 * standard output and for the JSON postdesk stores (event details, address
 * lists), because json-glib 1.6 writes U+001F raw inside strings, which
 * strict parsers and SQLite's json_valid() reject. */
#ifndef POSTDESK_JSON_H
#define POSTDESK_JSON_H

#include <json-glib/json-glib.h>

#include "postdesk/common.h"

/* Appends 'node' as JSON text: pretty (two spaces per level, "key": value)
 * or compact (no white space). Every string is escaped strictly and
 * decodes to exactly its text; bytes that are not UTF-8 become U+FFFD. */
void pd_json_write (GString *out, JsonNode *node, bool pretty);

/* Compact JSON text of 'node' (transfer full). */
char *pd_json_to_text (JsonNode *node);

/* A compact JSON object of string members from key, value pairs ending in
 * NULL; a NULL value leaves its key out. For event details. (transfer full) */
char *pd_json_pairs (const char *first_key, ...) G_GNUC_NULL_TERMINATED;

#endif
