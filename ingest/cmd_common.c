/* cmd_common.c - what every command does the same way: options, the
 * configuration, the database, error reporting. */
#include "postdesk/cmd.h"
#include "postdesk/rules.h"
#include "postdesk/template.h"

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#include "postdesk/text.h"

int
pd_cmd_fail (const GError *err)
{
  /* Error messages quote file names, header values and configuration
   * lines, any of which may hold control characters. */
  g_autofree char *message = pd_text_line (err->message);
  fprintf (stderr, "postdesk: %s\n", message);
  return pd_error_exit_status (err);
}

int
pd_cmd_unknown_subcommand (const char *cmd, const char *given, const char *usage)
{
  bool help = given != NULL && (strcmp (given, "--help") == 0 || strcmp (given, "-h") == 0);
  if (help)
    {
      fputs (usage, stdout);
      return 0;
    }
  if (given != NULL)
    {
      g_autofree char *shown = pd_text_short (given, 40);
      fprintf (stderr, "postdesk %s: unknown command '%s'\n", cmd, shown);
    }
  fputs (usage, stderr);
  return 2;
}

bool
pd_cmd_parse_options (const char *name, const char *params, const char *summary,
                      const GOptionEntry *entries, int *argc, char ***argv, int *status)
{
  g_autofree char *prgname = g_strdup_printf ("postdesk %s", name);
  g_set_prgname (prgname);
  g_autoptr (GOptionContext) ctx = g_option_context_new (params);
  g_option_context_set_summary (ctx, summary);
  if (entries != NULL)
    g_option_context_add_main_entries (ctx, entries, NULL);
  GError *err = NULL;
  if (!g_option_context_parse (ctx, argc, argv, &err))
    {
      fprintf (stderr, "postdesk %s: %s (see 'postdesk %s --help')\n", name, err->message, name);
      g_error_free (err);
      *status = 2;
      return false;
    }
  *status = 0;
  return true;
}

/* Prints the error and returns NULL on failure. */
static pd_config_t *
load_config (const pd_global_t *g)
{
  GError *err = NULL;
  g_autofree char *path = pd_config_find (g->config_path, &err);
  pd_config_t *cfg = NULL;
  if (path == NULL || !pd_config_load (path, &cfg, &err))
    {
      pd_cmd_fail (err);
      g_error_free (err);
      return NULL;
    }
  /* Set once, before any message is parsed (see mime.h). */
  if (!pd_mime_set_fallback_charsets ((const char *const *) cfg->fallback_charsets, &err))
    {
      pd_cmd_fail (err);
      g_error_free (err);
      pd_config_free (cfg);
      return NULL;
    }
  return cfg;
}

/* Prints the error and returns NULL on failure. A missing database is
 * named with the configuration that points at it, since a mistyped
 * 'database =' is the usual cause. */
static pd_store_t *
open_store (const pd_config_t *cfg, pd_store_mode_t mode)
{
  GError *err = NULL;
  pd_store_t *store = NULL;
  if (!pd_store_open_mode (cfg->database, mode, &store, &err))
    {
      if (g_error_matches (err, PD_ERROR, PD_ERROR_NOT_FOUND) && cfg->path != NULL)
        g_prefix_error (&err, "%s: database: ", cfg->path);
      pd_cmd_fail (err);
      g_error_free (err);
      return NULL;
    }
  return store;
}

char *
pd_cmd_folder (const pd_global_t *g, const char *given, pd_cmd_folder_t which, int *status)
{
  *status = 0;
  if (given != NULL)
    return g_strdup (given);
  g_autoptr (pd_config_t) cfg = load_config (g);
  if (cfg == NULL)
    {
      *status = 2;
      return NULL;
    }
  return g_strdup (which == PD_CMD_FOLDER_RULES ? cfg->rules_dir : cfg->templates_dir);
}

int
pd_cmd_open (const pd_global_t *g, pd_store_mode_t mode, pd_config_t **cfg, pd_store_t **store)
{
  *store = NULL;
  *cfg = load_config (g);
  if (*cfg == NULL)
    return 2;
  *store = open_store (*cfg, mode);
  if (*store == NULL)
    {
      g_clear_pointer (cfg, pd_config_free);
      return 1;
    }
  return 0;
}

gint64
pd_cmd_ticket_id (const char *text, const char *prefix, char **ref)
{
  *ref = NULL;
  size_t plen = strlen (prefix);
  if (g_ascii_strncasecmp (text, prefix, plen) == 0 && text[plen] == '-')
    text += plen + 1;
  if (*text == '\0')
    return 0;
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p))
      return 0;
  /* The reference is built from the digits as typed, less leading zeros,
   * so that a number too large for any ticket is still named as given
   * rather than as the largest 64-bit number. */
  while (text[0] == '0' && text[1] != '\0')
    text++;
  *ref = g_strdup_printf ("%s-%s", prefix, text);
  guint64 n = 0;
  if (!g_ascii_string_to_unsigned (text, 10, 1, G_MAXINT64, &n, NULL))
    return 0;
  return (gint64) n;
}

/* Loads a folder of files a command cannot run without, printing every
 * problem, one per line, as the check commands print them: postdesk never
 * runs with half a rule set or template set, or none. */
static pd_reloadable_t *
load_folder (const char *dir, pd_reload_load_fn load, GDestroyNotify free_value, const char *what,
             int *status)
{
  GError *err = NULL;
  pd_reloadable_t *holder = NULL;
  *status = 0;
  if (pd_reloadable_new (dir, load, free_value, &holder, &err))
    return holder;
  fprintf (stderr, "postdesk: the %s in %s have problems; nothing was ingested:\n%s\n", what, dir,
           err->message);
  *status = 2;
  g_error_free (err);
  return NULL;
}

pd_reloadable_t *
pd_cmd_load_rules (const pd_config_t *cfg, int *status)
{
  return load_folder (cfg->rules_dir, pd_rules_reload_load, (GDestroyNotify) pd_rules_free,
                      "severity rules", status);
}

pd_reloadable_t *
pd_cmd_load_templates (const pd_config_t *cfg, int *status)
{
  return load_folder (cfg->templates_dir, pd_templates_reload_load, (GDestroyNotify) pd_templates_free,
                      "templates", status);
}
