/* cmd.h - the commands. Each lives in its own ingest/cmd_*.c and only glues
 * modules together; main.c picks one by name. A command returns the exit
 * status: 0 success, 1 runtime failure, 2 usage or configuration error. */
#ifndef POSTDESK_CMD_H
#define POSTDESK_CMD_H

#include "postdesk/config.h"
#include "postdesk/reload.h"
#include "postdesk/store.h"

typedef struct {
  const char *config_path;  /* borrowed: --config, or NULL */
} pd_global_t;

typedef int (*pd_cmd_fn) (const pd_global_t *g, int argc, char **argv);

int pd_cmd_init (const pd_global_t *g, int argc, char **argv);
int pd_cmd_parse (const pd_global_t *g, int argc, char **argv);
int pd_cmd_ingest (const pd_global_t *g, int argc, char **argv);
int pd_cmd_fetch (const pd_global_t *g, int argc, char **argv);
int pd_cmd_tickets (const pd_global_t *g, int argc, char **argv);
int pd_cmd_outbox (const pd_global_t *g, int argc, char **argv);
int pd_cmd_quarantine (const pd_global_t *g, int argc, char **argv);
int pd_cmd_rules (const pd_global_t *g, int argc, char **argv);
int pd_cmd_run (const pd_global_t *g, int argc, char **argv);
int pd_cmd_send (const pd_global_t *g, int argc, char **argv);
int pd_cmd_templates (const pd_global_t *g, int argc, char **argv);
int pd_cmd_suppressed (const pd_global_t *g, int argc, char **argv);

/* Shared by the commands (cmd_common.c). */

/* Parses a command's options; on error prints "postdesk CMD: message" and
 * returns false with *status = 2. --help prints and exits 0. */
bool pd_cmd_parse_options (const char *name, const char *params, const char *summary,
                           const GOptionEntry *entries, int *argc, char ***argv, int *status);

/* Finds and loads the configuration, then opens its database in 'mode'
 * (only commands that store mail create one): returns 0 with *cfg and
 * *store set (transfer full), or the exit status after printing why (2
 * configuration, 1 database). */
int pd_cmd_open (const pd_global_t *g, pd_store_mode_t mode, pd_config_t **cfg, pd_store_t **store);

/* Loads the configured severity rules for a command that classifies mail:
 * the holder (transfer full), or NULL with every problem printed and
 * *status 2, since a broken rule file is a configuration error. */
pd_reloadable_t *pd_cmd_load_rules (const pd_config_t *cfg, int *status);
/* The same for the templates of the mail postdesk sends. */
pd_reloadable_t *pd_cmd_load_templates (const pd_config_t *cfg, int *status);

/* The folder a check command reads: 'given' (from the command line) when
 * not NULL, else the configured rules or templates folder. NULL, after
 * printing why, with *status 2 when the configuration cannot be loaded.
 * (transfer full) */
typedef enum { PD_CMD_FOLDER_RULES, PD_CMD_FOLDER_TEMPLATES } pd_cmd_folder_t;
char *pd_cmd_folder (const pd_global_t *g, const char *given, pd_cmd_folder_t which, int *status);

/* Prints "postdesk: <message>" to stderr, as one line without control
 * characters, and returns the exit status for it. */
int pd_cmd_fail (const GError *err);

/* A ticket id from "42", "SUP-42" or "sup-042". *ref is the reference as
 * typed, normalised to "SUP-42" (transfer full), or NULL when 'text' is not
 * a ticket reference at all. Returns 0 when it is not, or when the number
 * is too large for any ticket (then *ref is set: "no such ticket"). */
gint64 pd_cmd_ticket_id (const char *text, const char *prefix, char **ref);

/* For a command with subcommands given none it knows ('given', NULL when
 * there is none): --help prints 'usage' to stdout and returns 0; anything
 * else says what is wrong, prints 'usage' to stderr and returns 2. */
int pd_cmd_unknown_subcommand (const char *cmd, const char *given, const char *usage);

#endif
