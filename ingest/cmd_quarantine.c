/* cmd_quarantine.c - mail postdesk could not handle, kept with its raw bytes:
 *   postdesk quarantine list [--json] [--all]
 *   postdesk quarantine show [--raw] ID
 *   postdesk quarantine retry ID */
#include <stdio.h>
#include <string.h>

#include "postdesk/cmd.h"
#include "postdesk/output.h"
#include "postdesk/pipeline.h"

static int
fail (GError *err)
{
  int rc = pd_cmd_fail (err);
  g_error_free (err);
  return rc;
}

static gint64
parse_id (const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p))
      return 0;
  return g_ascii_strtoll (text, NULL, 10);
}

/* The entry named by the one argument of show and retry, with its raw
 * bytes; 0, or the exit status after saying why not. */
static int
open_entry (const pd_global_t *g, const char *cmd, int argc, char **argv, pd_config_t **cfg,
            pd_store_t **store, pd_quarantine_item_t **q, GBytes **raw)
{
  gint64 id = argc == 2 ? parse_id (argv[1]) : 0;
  if (id <= 0)
    {
      fprintf (stderr, "postdesk quarantine %s: give one quarantine ID (a number from 'quarantine list')\n", cmd);
      return 2;
    }
  int rc = pd_cmd_open (g, cfg, store);
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
      fprintf (stderr, "postdesk quarantine list: unexpected argument '%s'\n", argv[1]);
      return 2;
    }
  g_autoptr (pd_config_t) cfg = NULL;
  g_autoptr (pd_store_t) store = NULL;
  if ((rc = pd_cmd_open (g, &cfg, &store)) != 0)
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
      printf ("%-6" G_GINT64_FORMAT " %-20s %-10" G_GINT64_FORMAT " %-9s %s\n", q->id, at, q->size, q->status,
              q->reason);
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
                             "Shows why a message is held, then its raw bytes exactly as received.",
                             entries, &argc, &argv, &rc))
    return rc;
  g_autoptr (pd_config_t) cfg = NULL;
  g_autoptr (pd_store_t) store = NULL;
  g_autoptr (pd_quarantine_item_t) q = NULL;
  g_autoptr (GBytes) raw = NULL;
  if ((rc = open_entry (g, "show", argc, argv, &cfg, &store, &q, &raw)) != 0)
    return rc;
  if (!raw_only)
    {
      g_autofree char *at = pd_time_format (q->received_at);
      printf ("Quarantine: %" G_GINT64_FORMAT "\nStatus: %s\nReason: %s\nReceived: %s\nSize: %" G_GINT64_FORMAT
              " bytes\n",
              q->id, q->status, q->reason, at, q->size);
      if (q->mailbox != NULL)
        printf ("Mailbox: %s\n", q->mailbox);
      if (q->origin != NULL)
        printf ("Origin: %s\n", q->origin);
      if (q->ticket_id > 0)
        {
          g_autofree char *ref = pd_ticket_ref (cfg->ticket_prefix, q->ticket_id);
          printf ("Ticket: %s\n", ref);
        }
      printf ("\n");
    }
  gsize len;
  const char *bytes = g_bytes_get_data (raw, &len);
  fwrite (bytes, 1, len, stdout);
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
  if ((rc = open_entry (g, "retry", argc, argv, &cfg, &store, &q, &raw)) != 0)
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
      fprintf (stderr, "postdesk: quarantine %" G_GINT64_FORMAT " is still held: %s\n", id, again->reason);
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
  bool help = argc >= 2 && (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0);
  fprintf (help ? stdout : stderr,
           "Usage: postdesk quarantine list [--json] [--all]\n"
           "       postdesk quarantine show [--raw] ID\n"
           "       postdesk quarantine retry ID\n");
  return help ? 0 : 2;
}
