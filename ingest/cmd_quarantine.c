/* cmd_quarantine.c - mail postdesk could not handle, kept with its raw bytes:
 *   postdesk quarantine list [--json] [--all]
 *   postdesk quarantine show [--raw] ID
 *   postdesk quarantine retry ID */
#include <stdio.h>
#include <string.h>

#include "postdesk/cmd.h"
#include "postdesk/output.h"
#include "postdesk/pipeline.h"
#include "postdesk/text.h"

static int
fail (GError *err)
{
  int rc = pd_cmd_fail (err);
  g_error_free (err);
  return rc;
}

/* A quarantine id: > 0, or 0 when 'text' is not a number, or -1 when it is
 * a number too large for any entry (which then does not exist). */
static gint64
parse_id (const char *text)
{
  if (*text == '\0')
    return 0;
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p))
      return 0;
  guint64 n = 0;
  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXINT64, &n, NULL))
    return -1;
  return (gint64) n;
}

/* The entry named by the one argument of show and retry, with its raw
 * bytes; 0, or the exit status after saying why not. */
static int
open_entry (const pd_global_t *g, const char *cmd, pd_store_mode_t mode, int argc, char **argv, pd_config_t **cfg,
            pd_store_t **store, pd_quarantine_item_t **q, GBytes **raw)
{
  gint64 id = argc == 2 ? parse_id (argv[1]) : 0;
  if (id < 0)
    {
      g_autofree char *shown = pd_text_short (argv[1], 40);
      fprintf (stderr, "postdesk: no quarantine entry %s\n", shown);
      return 1;
    }
  if (id == 0)
    {
      fprintf (stderr, "postdesk quarantine %s: give one quarantine ID (a number from 'quarantine list')\n", cmd);
      return 2;
    }
  int rc = pd_cmd_open (g, mode, cfg, store);
  if (rc != 0)
    return rc;
  GError *err = NULL;
  if (!pd_store_quarantine_get (*store, id, q, raw, &err))
    return fail (err);
  return 0;
}

static JsonNode *
quarantine_json (gconstpointer item, gconstpointer unused)
{
  (void) unused;
  return pd_json_quarantine_item (item);
}

static int
quarantine_list (const pd_global_t *g, int argc, char **argv)
{
  gboolean json = FALSE, all = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "print a JSON array", NULL },
    { "all", 0, 0, G_OPTION_ARG_NONE, &all, "include entries already released into a ticket", NULL },
    G_OPTION_ENTRY_NULL,
  };
  int rc;
  if (!pd_cmd_parse_options ("quarantine list", "", "Lists mail held in the quarantine, with the reason.",
                             entries, &argc, &argv, &rc))
    return rc;
  if (argc != 1)
    {
      g_autofree char *shown = pd_text_short (argv[1], 40);
      fprintf (stderr, "postdesk quarantine list: unexpected argument '%s'\n", shown);
      return 2;
    }
  g_autoptr (pd_config_t) cfg = NULL;
  g_autoptr (pd_store_t) store = NULL;
  if ((rc = pd_cmd_open (g, PD_STORE_READ, &cfg, &store)) != 0)
    return rc;
  GError *err = NULL;
  g_autoptr (GPtrArray) items = NULL;
  if (!pd_store_quarantine_list (store, all, &items, &err))
    return fail (err);
  if (json)
    {
      pd_json_print_list (items, quarantine_json, NULL);
      return 0;
    }
  printf ("%-6s %-20s %-10s %-9s %s\n", "ID", "RECEIVED", "SIZE", "STATUS", "REASON");
  for (guint i = 0; i < items->len; i++)
    {
      const pd_quarantine_item_t *q = g_ptr_array_index (items, i);
      g_autofree char *at = pd_time_format (q->received_at);
      /* A reason may quote the message (a header it could not read). */
      g_autofree char *status = pd_text_line (q->status);
      g_autofree char *reason = pd_text_line (q->reason);
      printf ("%-6" G_GINT64_FORMAT " %-20s %-10" G_GINT64_FORMAT " %-9s %s\n", q->id, at, q->size, status, reason);
    }
  return 0;
}

static int
quarantine_show (const pd_global_t *g, int argc, char **argv)
{
  gboolean raw_only = FALSE;
  GOptionEntry entries[] = {
    { "raw", 0, 0, G_OPTION_ARG_NONE, &raw_only, "print only the message's raw bytes", NULL },
    G_OPTION_ENTRY_NULL,
  };
  int rc;
  if (!pd_cmd_parse_options ("quarantine show", "ID",
                             "Shows why a message is held, then the message with control characters\n"
                             "and bytes that are not UTF-8 shown as \\xNN; --raw prints the bytes\n"
                             "exactly as received.",
                             entries, &argc, &argv, &rc))
    return rc;
  g_autoptr (pd_config_t) cfg = NULL;
  g_autoptr (pd_store_t) store = NULL;
  g_autoptr (pd_quarantine_item_t) q = NULL;
  g_autoptr (GBytes) raw = NULL;
  if ((rc = open_entry (g, "show", PD_STORE_READ, argc, argv, &cfg, &store, &q, &raw)) != 0)
    return rc;
  gsize len;
  const char *bytes = g_bytes_get_data (raw, &len);
  if (raw_only)
    {
      /* Asked for the bytes exactly as received: to save or to pipe. */
      fwrite (bytes, 1, len, stdout);
      return 0;
    }
  g_autofree char *at = pd_time_format (q->received_at);
  g_autofree char *status = pd_text_line (q->status);
  g_autofree char *reason = pd_text_line (q->reason);
  printf ("Quarantine: %" G_GINT64_FORMAT "\nStatus: %s\nReason: %s\nReceived: %s\nSize: %" G_GINT64_FORMAT
          " bytes\n",
          q->id, status, reason, at, q->size);
  if (q->mailbox != NULL)
    {
      g_autofree char *mailbox = pd_text_line (q->mailbox);
      printf ("Mailbox: %s\n", mailbox);
    }
  if (q->origin != NULL)
    {
      g_autofree char *origin = pd_text_line (q->origin);
      printf ("Origin: %s\n", origin);
    }
  if (q->ticket_id > 0)
    {
      g_autofree char *ref = pd_ticket_ref (cfg->ticket_prefix, q->ticket_id);
      printf ("Ticket: %s\n", ref);
    }
  /* Held mail is what postdesk could not handle, often binary or hostile:
   * shown for reading, with every control character and every byte that
   * is not UTF-8 made visible (see text.h), never raw. */
  g_autofree char *shown = pd_text_block (bytes, len);
  printf ("\n%s", shown);
  if (len > 0 && bytes[len - 1] != '\n')
    printf ("\n");
  return 0;
}

static int
quarantine_retry (const pd_global_t *g, int argc, char **argv)
{
  int rc;
  if (!pd_cmd_parse_options ("quarantine retry", "ID",
                             "Runs a held message through ingest again, after a fix (a larger\n"
                             "max_message_bytes, a newer postdesk). It becomes a ticket or stays held\n"
                             "with the new reason.",
                             NULL, &argc, &argv, &rc))
    return rc;
  g_autoptr (pd_config_t) cfg = NULL;
  g_autoptr (pd_store_t) store = NULL;
  g_autoptr (pd_quarantine_item_t) q = NULL;
  g_autoptr (GBytes) raw = NULL;
  if ((rc = open_entry (g, "retry", PD_STORE_WRITE, argc, argv, &cfg, &store, &q, &raw)) != 0)
    return rc;
  gint64 id = q->id;
  GError *err = NULL;
  if (strcmp (q->status, "held") != 0)
    {
      g_autofree char *ref = pd_ticket_ref (cfg->ticket_prefix, q->ticket_id);
      printf ("quarantine %" G_GINT64_FORMAT " was already released into %s\n", id, ref);
      return 0;
    }
  g_autoptr (pd_pipeline_t) pipeline = pd_pipeline_new (cfg, store);
  pd_arrival_t arrival = {
    .received_at = q->received_at,
    .mailbox = q->mailbox,
    .origin = q->origin,
    /* An entry that holds only the first bytes of a message stays held. */
    .true_size = q->size,
  };
  gsize len;
  const char *bytes = g_bytes_get_data (raw, &len);
  pd_outcome_t outcome;
  gint64 result = 0;
  /* The release happens in the same transaction as the ticket it becomes. */
  bool ok = pd_pipeline_ingest (pipeline, bytes, len, &arrival, &outcome, &result, &err)
            && (outcome == PD_OUTCOME_QUARANTINED || pd_store_quarantine_release (store, id, result, &err))
            && pd_pipeline_flush (pipeline, &err);
  if (!ok)
    return fail (err);
  if (outcome == PD_OUTCOME_QUARANTINED)
    {
      g_autoptr (pd_quarantine_item_t) again = NULL;
      g_autoptr (GBytes) unused = NULL;
      if (!pd_store_quarantine_get (store, id, &again, &unused, &err))
        return fail (err);
      g_autofree char *reason = pd_text_line (again->reason);
      fprintf (stderr, "postdesk: quarantine %" G_GINT64_FORMAT " is still held: %s\n", id, reason);
      return 1;
    }
  g_autofree char *ref = pd_ticket_ref (cfg->ticket_prefix, result);
  printf ("quarantine %" G_GINT64_FORMAT " released: %s (%s)\n", id, ref,
          outcome == PD_OUTCOME_NEW_TICKET ? "new ticket"
          : outcome == PD_OUTCOME_THREADED ? "threaded"
                                           : "already stored");
  return 0;
}

int
pd_cmd_quarantine (const pd_global_t *g, int argc, char **argv)
{
  if (argc >= 2 && strcmp (argv[1], "list") == 0)
    return quarantine_list (g, argc - 1, argv + 1);
  if (argc >= 2 && strcmp (argv[1], "show") == 0)
    return quarantine_show (g, argc - 1, argv + 1);
  if (argc >= 2 && strcmp (argv[1], "retry") == 0)
    return quarantine_retry (g, argc - 1, argv + 1);
  return pd_cmd_unknown_subcommand ("quarantine", argc >= 2 ? argv[1] : NULL,
                                    "Usage: postdesk quarantine list [--json] [--all]\n"
                                    "       postdesk quarantine show [--raw] ID\n"
                                    "       postdesk quarantine retry ID\n");
}
