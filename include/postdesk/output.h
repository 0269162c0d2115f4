/* output.h - what commands print: the JSON contract (json-glib builds every
 * document as a tree, pd_json_print alone turns it into text) and the text
 * views for people, which show message text only through text.h. Write
 * errors are not checked here: main.c checks standard output once, after
 * the command. */
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
/* One entry of `postdesk suppressed list --json` (transfer full). */
JsonNode *pd_json_suppression (const pd_suppression_t *s);

/* Prints 'node' pretty to standard output, with a final newline. The
 * document is strict JSON whatever its strings hold: every control
 * character is escaped, and text that is not UTF-8 becomes U+FFFD. */
void pd_json_print (JsonNode *node);

/* Prints a JSON array of 'items', each turned into JSON by 'to_json'
 * (called with the item and 'data'). */
typedef JsonNode *(*pd_json_fn) (gconstpointer item, gconstpointer data);
void pd_json_print_list (const GPtrArray *items, pd_json_fn to_json, gconstpointer data);

/* True when standard output is a terminal: text views then show times in
 * the local zone. */
bool pd_output_is_terminal (void);

/* Text views. Every value from a message is one line without controls
 * (bodies keep their newlines); times are UTC except on a terminal. The
 * table fits $COLUMNS or the terminal's width, and has no width limit
 * when written to a file or a pipe without $COLUMNS. */
void pd_print_parsed_message (const pd_message_t *msg);
void pd_print_ticket (const pd_ticket_t *t, const char *prefix, const GPtrArray *messages);
void pd_print_ticket_table (const GPtrArray *tickets, const char *prefix);

#endif
