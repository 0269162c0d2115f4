/* cmd_suppressed.c - addresses postdesk sends nothing, because mail to
 * them came back as a permanent failure:
 *   postdesk suppressed list [--json]
 *   postdesk suppressed remove ADDRESS
 * Lifting a suppression is recorded in the journal under the Unix user
 * name, and on the ticket whose mail bounced. */
#include <stdio.h>
#include <string.h>

#include "postdesk/cmd.h"
#include "postdesk/output.h"
#include "postdesk/text.h"

static int
fail (GError *err)
{
  int rc = pd_cmd_fail (err);
  g_error_free (err);
  return rc;
}

static JsonNode *
suppression_json (gconstpointer item, gconstpointer unused)
{
  (void) unused;
  return pd_json_suppression (item);
}

static int
suppressed_list (const pd_global_t *g, int argc, char **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "print a JSON array", NULL },
    G_OPTION_ENTRY_NULL,
  };
  int rc;
  if (!pd_cmd_parse_options ("suppressed list", "",
                             "Lists the addresses postdesk sends nothing, with the bounce that put\n"
                             "each there.",
                             entries, &argc, &argv, &rc))
    return rc;
  if (argc != 1)
    {
      g_autofree char *shown = pd_text_short (argv[1], 40);
      fprintf (stderr, "postdesk suppressed list: unexpected argument '%s'\n", shown);
      return 2;
    }
  g_autoptr (pd_config_t) cfg = NULL;
  g_autoptr (pd_store_t) store = NULL;
  if ((rc = pd_cmd_open (g, PD_STORE_READ, &cfg, &store)) != 0)
    return rc;
  GError *err = NULL;
  g_autoptr (GPtrArray) items = NULL;
  if (!pd_store_suppressed_list (store, &items, &err))
    return fail (err);
  if (json)
    {
      pd_json_print_list (items, suppression_json, NULL);
      return 0;
    }
  printf ("%-32s %-8s %-20s %-10s %-7s %s\n", "ADDRESS", "REASON", "SINCE", "TICKET", "STATUS", "DIAGNOSTIC");
  for (guint i = 0; i < items->len; i++)
    {
      const pd_suppression_t *s = g_ptr_array_index (items, i);
      /* Addresses and diagnostics come from mail: shown as one safe line. */
      g_autofree char *address = pd_text_line (s->address);
      g_autofree char *reason = pd_text_line (s->reason);
      g_autofree char *since = pd_time_format (s->created_at);
      g_autofree char *ref = s->ticket_id > 0 ? pd_ticket_ref (cfg->ticket_prefix, s->ticket_id) : g_strdup ("-");
      g_autofree char *status = pd_text_line (s->status != NULL ? s->status : "-");
      g_autofree char *diagnostic = pd_text_line (s->diagnostic != NULL ? s->diagnostic : "");
      printf ("%-32s %-8s %-20s %-10s %-7s %s\n", address, reason, since, ref, status, diagnostic);
    }
  return 0;
}

static int
suppressed_remove (const pd_global_t *g, int argc, char **argv)
{
  int rc;
  if (!pd_cmd_parse_options ("suppressed remove", "ADDRESS",
                             "Lifts the suppression of ADDRESS: postdesk sends it mail again. The\n"
                             "change is recorded in the journal and on the ticket whose mail bounced.",
                             NULL, &argc, &argv, &rc))
    return rc;
  if (argc != 2 || *argv[1] == '\0')
    {
      fprintf (stderr, "postdesk suppressed remove: give one ADDRESS (from 'suppressed list')\n");
      return 2;
    }
  g_autoptr (pd_config_t) cfg = NULL;
  g_autoptr (pd_store_t) store = NULL;
  if ((rc = pd_cmd_open (g, PD_STORE_WRITE, &cfg, &store)) != 0)
    return rc;
  GError *err = NULL;
  if (!pd_store_suppression_remove (store, argv[1], g_get_user_name (), pd_time_now (), &err))
    return fail (err);
  g_autofree char *shown = pd_text_line (argv[1]);
  printf ("%s is no longer suppressed\n", shown);
  return 0;
}

int
pd_cmd_suppressed (const pd_global_t *g, int argc, char **argv)
{
  if (argc >= 2 && strcmp (argv[1], "list") == 0)
    return suppressed_list (g, argc - 1, argv + 1);
  if (argc >= 2 && strcmp (argv[1], "remove") == 0)
    return suppressed_remove (g, argc - 1, argv + 1);
  return pd_cmd_unknown_subcommand ("suppressed", argc >= 2 ? argv[1] : NULL,
                                    "Usage: postdesk suppressed list [--json]\n"
                                    "       postdesk suppressed remove ADDRESS\n");
}
