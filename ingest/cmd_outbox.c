/* cmd_outbox.c - postdesk outbox list [--json]: outgoing messages and their
 * delivery state. */
#include <stdio.h>
#include <string.h>

#include "postdesk/cmd.h"
#include "postdesk/output.h"
#include "postdesk/text.h"

static JsonNode *
outbox_json (gconstpointer item, gconstpointer unused)
{
  (void) unused;
  return pd_json_outbox_item (item);
}

int
pd_cmd_outbox (const pd_global_t *g, int argc, char **argv)
{
  if (argc < 2 || strcmp (argv[1], "list") != 0)
    return pd_cmd_unknown_subcommand ("outbox", argc >= 2 ? argv[1] : NULL, "Usage: postdesk outbox list [--json]\n");
  argc--;
  argv++;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "print a JSON array", NULL },
    G_OPTION_ENTRY_NULL,
  };
  int rc;
  if (!pd_cmd_parse_options ("outbox list", "", "Lists outgoing messages: queued, sent and failed.",
                             entries, &argc, &argv, &rc))
    return rc;
  if (argc != 1)
    {
      g_autofree char *shown = pd_text_short (argv[1], 40);
      fprintf (stderr, "postdesk outbox list: unexpected argument '%s'\n", shown);
      return 2;
    }
  g_autoptr (pd_config_t) cfg = NULL;
  g_autoptr (pd_store_t) store = NULL;
  if ((rc = pd_cmd_open (g, PD_STORE_READ, &cfg, &store)) != 0)
    return rc;
  GError *err = NULL;
  g_autoptr (GPtrArray) items = NULL;
  if (!pd_store_outbox_list (store, &items, &err))
    {
      rc = pd_cmd_fail (err);
      g_error_free (err);
      return rc;
    }
  if (json)
    {
      pd_json_print_list (items, outbox_json, NULL);
      return 0;
    }
  printf ("%-6s %-10s %-8s %-8s %-8s %s\n", "ID", "TICKET", "KIND", "STATUS", "ATTEMPTS", "TO");
  for (guint i = 0; i < items->len; i++)
    {
      const pd_outbox_item_t *o = g_ptr_array_index (items, i);
      g_autofree char *ref = pd_ticket_ref (cfg->ticket_prefix, o->ticket_id);
      g_autofree char *joined = g_strjoinv (", ", o->to);
      /* Recipients come from mail, so they are shown like any message text. */
      g_autofree char *to = pd_text_line (joined);
      g_autofree char *kind = pd_text_line (o->kind);
      g_autofree char *status = pd_text_line (o->status);
      printf ("%-6" G_GINT64_FORMAT " %-10s %-8s %-8s %-8d %s\n", o->id, ref, kind, status, o->attempts, to);
    }
  return 0;
}
