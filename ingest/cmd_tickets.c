/* cmd_tickets.c - postdesk tickets list [--json] [--status S]
 *                 postdesk tickets show [--json] ID */
#include <stdio.h>
#include <string.h>

#include "postdesk/cmd.h"
#include "postdesk/output.h"
#include "postdesk/text.h"

static const char *const statuses[] = { "new", "open", "pending", "solved", "closed", NULL };

static JsonNode *
ticket_json (gconstpointer ticket, gconstpointer prefix)
{
  return pd_json_ticket (ticket, prefix, NULL);
}

static int
tickets_list (const pd_global_t *g, int argc, char **argv)
{
  gboolean json = FALSE;
  char *status_opt = NULL;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "print a JSON array", NULL },
    { "status", 0, 0, G_OPTION_ARG_STRING, &status_opt, "only tickets in status S (new, open, pending, solved, closed)", "S" },
    G_OPTION_ENTRY_NULL,
  };
  int rc;
  if (!pd_cmd_parse_options ("tickets list", "", "Lists tickets, oldest first.", entries, &argc, &argv, &rc))
    return rc;
  g_autofree char *status = status_opt;
  if (argc != 1)
    {
      g_autofree char *shown = pd_text_short (argv[1], 40);
      fprintf (stderr, "postdesk tickets list: unexpected argument '%s'\n", shown);
      return 2;
    }
  if (status != NULL && !g_strv_contains (statuses, status))
    {
      g_autofree char *shown = pd_text_short (status, 40);
      fprintf (stderr, "postdesk tickets list: --status '%s' is not one of new, open, pending, solved, closed\n",
               shown);
      return 2;
    }
  g_autoptr (pd_config_t) cfg = NULL;
  g_autoptr (pd_store_t) store = NULL;
  if ((rc = pd_cmd_open (g, PD_STORE_READ, &cfg, &store)) != 0)
    return rc;
  GError *err = NULL;
  g_autoptr (GPtrArray) tickets = NULL;
  if (!pd_store_tickets_list (store, status, &tickets, &err))
    {
      rc = pd_cmd_fail (err);
      g_error_free (err);
      return rc;
    }
  if (json)
    pd_json_print_list (tickets, ticket_json, cfg->ticket_prefix);
  else
    pd_print_ticket_table (tickets, cfg->ticket_prefix);
  return 0;
}

static int
tickets_show (const pd_global_t *g, int argc, char **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "print JSON", NULL },
    G_OPTION_ENTRY_NULL,
  };
  int rc;
  if (!pd_cmd_parse_options ("tickets show", "ID",
                             "Shows one ticket (ID is 42 or SUP-42) with every message, inbound and outbound.",
                             entries, &argc, &argv, &rc))
    return rc;
  if (argc != 2)
    {
      fprintf (stderr, "postdesk tickets show: give one ticket ID (42 or SUP-42)\n");
      return 2;
    }
  g_autoptr (pd_config_t) cfg = NULL;
  g_autoptr (pd_store_t) store = NULL;
  if ((rc = pd_cmd_open (g, PD_STORE_READ, &cfg, &store)) != 0)
    return rc;
  g_autofree char *ref = NULL;
  gint64 id = pd_cmd_ticket_id (argv[1], cfg->ticket_prefix, &ref);
  if (ref == NULL)
    {
      g_autofree char *shown = pd_text_short (argv[1], 40);
      fprintf (stderr, "postdesk tickets show: '%s' is not a ticket ID (42 or %s-42)\n", shown, cfg->ticket_prefix);
      return 2;
    }
  GError *err = NULL;
  g_autoptr (pd_ticket_t) t = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  /* A number too large for any ticket (id 0) is a ticket that does not
   * exist, like any other. */
  if (id == 0)
    g_set_error (&err, PD_ERROR, PD_ERROR_NOT_FOUND, "no such ticket");
  if (err != NULL || !pd_store_ticket_get (store, id, &t, &err)
      || !pd_store_ticket_messages (store, id, &messages, &err))
    {
      /* The store names the row it did not find; a person wants the
       * reference they typed. */
      if (g_error_matches (err, PD_ERROR, PD_ERROR_NOT_FOUND) && t == NULL)
        {
          g_clear_error (&err);
          g_set_error (&err, PD_ERROR, PD_ERROR_NOT_FOUND, "no such ticket %s", ref);
        }
      rc = pd_cmd_fail (err);
      g_error_free (err);
      return rc;
    }
  if (json)
    {
      g_autoptr (JsonNode) node = pd_json_ticket (t, cfg->ticket_prefix, messages);
      pd_json_print (node);
    }
  else
    pd_print_ticket (t, cfg->ticket_prefix, messages);
  return 0;
}

int
pd_cmd_tickets (const pd_global_t *g, int argc, char **argv)
{
  if (argc >= 2 && strcmp (argv[1], "list") == 0)
    return tickets_list (g, argc - 1, argv + 1);
  if (argc >= 2 && strcmp (argv[1], "show") == 0)
    return tickets_show (g, argc - 1, argv + 1);
  return pd_cmd_unknown_subcommand ("tickets", argc >= 2 ? argv[1] : NULL,
                                    "Usage: postdesk tickets list [--json] [--status S]\n"
                                    "       postdesk tickets show [--json] ID\n");
}
