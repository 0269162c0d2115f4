/* cmd.h - the commands. Each lives in its own ingest/cmd_*.c and only glues
 * modules together; main.c picks one by name. A command returns the exit
 * status: 0 success, 1 runtime failure, 2 usage or configuration error. */
#ifndef POSTDESK_CMD_H
#define POSTDESK_CMD_H

#include "postdesk/config.h"
#include "postdesk/store.h"

typedef struct {
  const char *config_path;  /* borrowed: --config, or NULL */
} pd_global_t;

typedef int (*pd_cmd_fn) (const pd_global_t *g, int argc, char **argv);

int pd_cmd_init (const pd_global_t *g, int argc, char **argv);
int pd_cmd_parse (const pd_global_t *g, int argc, char **argv);
int pd_cmd_ingest (const pd_global_t *g, int argc, char **argv);
int pd_cmd_tickets (const pd_global_t *g, int argc, char **argv);
int pd_cmd_outbox (const pd_global_t *g, int argc, char **argv);
int pd_cmd_quarantine (const pd_global_t *g, int argc, char **argv);
int pd_cmd_rules (const pd_global_t *g, int argc, char **argv);

/* Shared by the commands (cmd_common.c). */

/* Parses a command's options; on error prints "postdesk CMD: message" and
 * returns false with *status = 2. --help prints and exits 0. */
bool pd_cmd_parse_options (const char *name, const char *params, const char *summary,
                           const GOptionEntry *entries, int *argc, char ***argv, int *status);

/* Finds and loads the configuration, then opens (creating and migrating)
 * its database: returns 0 with *cfg and *store set (transfer full), or the
 * exit status after printing why (2 configuration, 1 database). */
int pd_cmd_open (const pd_global_t *g, pd_config_t **cfg, pd_store_t **store);

/* Prints "postdesk: <message>" to stderr and returns the exit status for it. */
int pd_cmd_fail (const GError *err);

/* A ticket id from "42" or "SUP-42"; 0 when it is neither. */
gint64 pd_cmd_ticket_id (const char *text, const char *prefix);

#endif
