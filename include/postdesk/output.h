/* output.h - what commands print: the JSON contract (json-glib builds every
 * document; nothing is escaped by hand) and the text views for people. */
#ifndef POSTDESK_OUTPUT_H
#define POSTDESK_OUTPUT_H

#include <json-glib/json-glib.h>

#include "postdesk/mime.h"
#include "postdesk/store.h"

/* "SUP-42" (transfer full). */
char *pd_ticket_ref (const char *prefix, gint64 id);

/* `postdesk parse --json` (transfer full). */
JsonNode *pd_json_parsed_message (const pd_message_t *msg);
/* A ticket; 'messages' (of pd_stored_message_t*) adds "messages" when not
 * NULL (transfer full). */
JsonNode *pd_json_ticket (const pd_ticket_t *t, const char *prefix, const GPtrArray *messages);
JsonNode *pd_json_outbox_item (const pd_outbox_item_t *o);
JsonNode *pd_json_quarantine_item (const pd_quarantine_item_t *q);

/* Prints 'node' pretty to standard output, with a final newline. */
void pd_json_print (JsonNode *node);

/* Prints a JSON array of 'items', each turned into JSON by 'to_json'
 * (called with the item and 'data'). */
typedef JsonNode *(*pd_json_fn) (gconstpointer item, gconstpointer data);
void pd_json_print_list (const GPtrArray *items, pd_json_fn to_json, gconstpointer data);

/* Text views. */
void pd_print_parsed_message (const pd_message_t *msg);
void pd_print_ticket (const pd_ticket_t *t, const char *prefix, const GPtrArray *messages);
void pd_print_ticket_table (const GPtrArray *tickets, const char *prefix);

#endif
