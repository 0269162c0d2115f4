/* cmd_templates.c - postdesk templates check [DIR]: an admin's edited
 * templates checked before a customer sees them, with every problem of
 * every file in one run, as `rules check` does for rules. */
#include <stdio.h>
#include <string.h>

#include "postdesk/cmd.h"
#include "postdesk/template.h"
#include "postdesk/text.h"

/* The templates folder: 'dir' when given, else the configured one. Prints
 * why and returns NULL (with *status set) when there is no configuration
 * to take it from. (transfer full) */
static char *
templates_dir (const pd_global_t *g, const char *dir, int *status)
{
  if (dir != NULL)
    return g_strdup (dir);
  GError *err = NULL;
  g_autofree char *path = pd_config_find (g->config_path, &err);
  g_autoptr (pd_config_t) cfg = NULL;
  if (path == NULL || !pd_config_load (path, &cfg, &err))
    {
      *status = pd_cmd_fail (err);
      g_error_free (err);
      return NULL;
    }
  return g_strdup (cfg->templates_dir);
}

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
  g_autofree char *dir = templates_dir (g, argc == 2 ? argv[1] : NULL, &status);
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

int
pd_cmd_templates (const pd_global_t *g, int argc, char **argv)
{
  if (argc >= 2 && strcmp (argv[1], "check") == 0)
    return templates_check (g, argc - 1, argv + 1);
  return pd_cmd_unknown_subcommand ("templates", argc >= 2 ? argv[1] : NULL,
                                    "Usage: postdesk templates check [DIR]\n"
                                    "\nSee TEMPLATES in postdesk.conf(5) for the template language.\n");
}
