/* main.c - postdesk [--config FILE] COMMAND [ARGS...]: global options, then
 * the command by name. */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "postdesk/cmd.h"
#include "postdesk/mime.h"

#define PD_VERSION "0.1.0"

static const struct {
  const char *name;
  pd_cmd_fn fn;
  const char *summary;
} commands[] = {
  { "init", pd_cmd_init, "write a ready working folder: postdesk.conf, rules, templates, var" },
  { "parse", pd_cmd_parse, "show what postdesk sees in one message, without storing it" },
  { "ingest", pd_cmd_ingest, "turn mail files, Maildirs, mbox files or stdin into tickets" },
  { "tickets", pd_cmd_tickets, "list tickets, or show one with its messages" },
  { "outbox", pd_cmd_outbox, "list outgoing messages and their delivery state" },
  { "quarantine", pd_cmd_quarantine, "list, show and retry mail postdesk could not handle" },
  { "rules", pd_cmd_rules, "check the rule files, and try them on mail without storing it" },
};

static void
usage (FILE *to)
{
  fprintf (to, "Usage: postdesk [--config FILE] COMMAND [OPTIONS] [ARGS]\n\n"
               "A help desk that lives in the mail.\n\nCommands:\n");
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (to, "  %-11s %s\n", commands[i].name, commands[i].summary);
  fprintf (to, "\nGlobal options:\n"
               "  --config FILE  configuration file (else $POSTDESK_CONFIG, ./postdesk.conf,\n"
               "                 /etc/postdesk/postdesk.conf)\n"
               "  --help         this text; 'postdesk COMMAND --help' for a command\n"
               "  --version      the version\n\nSee postdesk(1) and postdesk.conf(5).\n");
}

/* Log lines go to stderr as "postdesk: ...": one line per event, never a
 * body or a secret. Debug output only with G_MESSAGES_DEBUG. */
static void
log_handler (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  (void) domain;
  (void) data;
  if ((level & G_LOG_LEVEL_DEBUG) && g_getenv ("G_MESSAGES_DEBUG") == NULL)
    return;
  const char *tag = (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) ? "warning: " : "";
  fprintf (stderr, "postdesk: %s%s\n", tag, message);
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  g_log_set_default_handler (log_handler, NULL);
  pd_global_t g = { NULL };

  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++)
    {
      const char *a = argv[i];
      if (strcmp (a, "--config") == 0 || strcmp (a, "-c") == 0)
        {
          if (i + 1 >= argc)
            {
              fprintf (stderr, "postdesk: %s needs a file\n", a);
              return 2;
            }
          g.config_path = argv[++i];
        }
      else if (strncmp (a, "--config=", 9) == 0)
        g.config_path = a + 9;
      else if (strcmp (a, "--help") == 0 || strcmp (a, "-h") == 0)
        {
          usage (stdout);
          return 0;
        }
      else if (strcmp (a, "--version") == 0)
        {
          printf ("postdesk %s\n", PD_VERSION);
          return 0;
        }
      else
        {
          fprintf (stderr, "postdesk: unknown option %s (see 'postdesk --help')\n", a);
          return 2;
        }
    }
  if (i >= argc)
    {
      usage (stderr);
      return 2;
    }
  for (gsize c = 0; c < G_N_ELEMENTS (commands); c++)
    if (strcmp (argv[i], commands[c].name) == 0)
      {
        pd_mime_init ();
        int status = commands[c].fn (&g, argc - i, argv + i);
        pd_mime_shutdown ();
        return status;
      }
  fprintf (stderr, "postdesk: unknown command '%s' (see 'postdesk --help')\n", argv[i]);
  return 2;
}
