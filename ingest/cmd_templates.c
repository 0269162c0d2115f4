/* cmd_templates.c - postdesk templates check [DIR]: an admin's edited
 * templates checked before a customer sees them, with every problem of
 * every file in one run, as `rules check` does for rules; and
 * postdesk templates render NAME TICKET: what a template would write for a
 * real ticket, without sending anything. */
#include <stdio.h>
#include <string.h>

#include "postdesk/cmd.h"
#include "postdesk/outbox.h"
#include "postdesk/template.h"
#include "postdesk/text.h"

static int
templates_check (const pd_global_t *g, int argc, char **argv)
{
  int status;
  if (!pd_cmd_parse_options ("templates check", "[DIR]",
                             "Reads every *.tmpl file in DIR (default: the configured templates\n"
                             "folder) and reports each problem as file:line: message.\n"
                             "Exit status 1 when there is any problem.",
                             NULL, &argc, &argv, &status))
    return status;
  if (argc > 2)
    {
      fprintf (stderr, "postdesk templates check: give at most one folder\n");
      return 2;
    }
  g_autofree char *dir = pd_cmd_folder (g, argc == 2 ? argv[1] : NULL, PD_CMD_FOLDER_TEMPLATES, &status);
  if (dir == NULL)
    return status;
  GError *err = NULL;
  g_autoptr (pd_templates_t) set = NULL;
  if (!pd_templates_load (dir, &set, &err))
    {
      /* The loader's problems are one per line; a folder that cannot be
       * read is one line too. */
      g_auto (GStrv) lines = g_strsplit (err->message, "\n", -1);
      for (guint i = 0; lines[i] != NULL; i++)
        {
          /* A folder name given on the command line may hold anything. */
          g_autofree char *line = pd_text_line (lines[i]);
          fprintf (stderr, "%s\n", line);
        }
      guint problems = g_strv_length (lines);
      fprintf (stderr, "postdesk templates check: %u problem%s in %s; no template would be used\n",
               problems, problems == 1 ? "" : "s", dir);
      g_error_free (err);
      return 1;
    }
  guint n = pd_templates_count (set);
  printf ("%s: %u template%s, no problems\n", dir, n, n == 1 ? "" : "s");
  return 0;
}

static int
templates_render (const pd_global_t *g, int argc, char **argv)
{
  int status;
  if (!pd_cmd_parse_options ("templates render", "NAME TICKET",
                             "Prints the message template NAME (e.g. ack) would write for\n"
                             "TICKET (e.g. SUP-42) with the configured templates, as it is\n"
                             "before the mail is made: nothing is stored or sent.",
                             NULL, &argc, &argv, &status))
    return status;
  if (argc != 3)
    {
      fprintf (stderr, "postdesk templates render: give a template name and a ticket, "
                       "such as: templates render ack SUP-1\n");
      return 2;
    }
  g_autoptr (pd_config_t) cfg = NULL;
  g_autoptr (pd_store_t) store = NULL;
  if ((status = pd_cmd_open (g, PD_STORE_READ, &cfg, &store)) != 0)
    return status;
  g_autofree char *ref = NULL;
  gint64 id = pd_cmd_ticket_id (argv[2], cfg->ticket_prefix, &ref);
  GError *err = NULL;
  g_autoptr (pd_ticket_t) ticket = NULL;
  g_autoptr (pd_templates_t) set = NULL;
  if (ref == NULL)
    {
      g_autofree char *shown = pd_text_short (argv[2], 40);
      fprintf (stderr, "postdesk templates render: '%s' is not a ticket ID (42 or %s-42)\n", shown,
               cfg->ticket_prefix);
      return 2;
    }
  if (id <= 0)
    {
      fprintf (stderr, "postdesk: no such ticket %s\n", ref);
      return 1;
    }
  if (!pd_store_ticket_get (store, id, &ticket, &err) || !pd_templates_load (cfg->templates_dir, &set, &err))
    {
      if (g_error_matches (err, PD_ERROR, PD_ERROR_NOT_FOUND) && ticket == NULL)
        {
          g_clear_error (&err);
          g_set_error (&err, PD_ERROR, PD_ERROR_NOT_FOUND, "no such ticket %s", ref);
        }
      status = pd_cmd_fail (err);
      g_error_free (err);
      return status;
    }
  const pd_template_t *tmpl = pd_templates_get (set, argv[1]);
  if (tmpl == NULL)
    {
      g_autofree char *shown = pd_text_line (argv[1]);
      fprintf (stderr, "postdesk: there is no template %s.tmpl in %s\n", shown, cfg->templates_dir);
      return 1;
    }
  g_autoptr (pd_tvars_t) vars = pd_outbox_ticket_vars (cfg, ticket, NULL, PD_ACK_NEW, 0);
  g_autoptr (pd_rendered_t) out = NULL;
  if (!pd_template_render (tmpl, vars, &out, &err))
    {
      status = pd_cmd_fail (err);
      g_error_free (err);
      return status;
    }
  /* What the admin wrote, as it comes out; the values are sanitised by the
   * renderer, and the text is shown as a view of a message. */
  g_autofree char *subject = pd_text_line (out->subject);
  printf ("Subject: %s\n", subject);
  for (guint i = 0; i < out->headers->len; i++)
    {
      const pd_template_header_t *h = g_ptr_array_index (out->headers, i);
      g_autofree char *name = pd_text_line (h->name);
      g_autofree char *value = pd_text_line (h->value);
      printf ("%s: %s\n", name, value);
    }
  g_autofree char *body = pd_text_block (out->body, -1);
  printf ("\n%s", body);
  return 0;
}

int
pd_cmd_templates (const pd_global_t *g, int argc, char **argv)
{
  if (argc >= 2 && strcmp (argv[1], "check") == 0)
    return templates_check (g, argc - 1, argv + 1);
  if (argc >= 2 && strcmp (argv[1], "render") == 0)
    return templates_render (g, argc - 1, argv + 1);
  return pd_cmd_unknown_subcommand ("templates", argc >= 2 ? argv[1] : NULL,
                                    "Usage: postdesk templates check [DIR]\n"
                                    "       postdesk templates render NAME TICKET\n"
                                    "\nSee TEMPLATES in postdesk.conf(5) for the template language.\n");
}
