/* main.c - postdesk [--config FILE] COMMAND [ARGS...]: global options, then
 * the command by name, then the one check that its output was written.
 * --config may also stand after the command. */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
  { "fetch", pd_cmd_fetch, "read new mail from the configured IMAP mailboxes into tickets" },
  { "tickets", pd_cmd_tickets, "list tickets, or show one with its messages" },
  { "outbox", pd_cmd_outbox, "list outgoing messages and their delivery state" },
  { "send", pd_cmd_send, "deliver the outbox through the configured transport" },
  { "run", pd_cmd_run, "the daemon: fetch the mailboxes, deliver the outbox, until SIGTERM" },
  { "quarantine", pd_cmd_quarantine, "list, show, retry and delete mail postdesk could not handle" },
  { "suppressed", pd_cmd_suppressed, "list addresses mail bounced from for good, and lift them" },
  { "rules", pd_cmd_rules, "check the rule files, and try them on mail without storing it" },
  { "templates", pd_cmd_templates, "check the templates of the mail postdesk sends" },
};

static void
usage (FILE *to)
{
  fprintf (to, "Usage: postdesk [--config FILE] COMMAND [OPTIONS] [ARGS]\n\n"
               "A help desk that lives in the mail.\n\nCommands:\n");
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (to, "  %-11s %s\n", commands[i].name, commands[i].summary);
  fprintf (to, "\nGlobal options:\n"
               "  --config FILE  configuration file, before or after the command (else\n"
               "                 $POSTDESK_CONFIG, ./postdesk.conf, /etc/postdesk/postdesk.conf)\n"
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

/* Takes --config FILE, -c FILE and --config=FILE out of argv wherever they
 * stand before a "--", so that "postdesk tickets list --config FILE" works
 * like "postdesk --config FILE tickets list". Returns false after saying
 * why when the option lacks its file. */
static bool
take_config_option (int *argc, char **argv, pd_global_t *g)
{
  int out = 1;
  bool after_dashes = false;
  for (int in = 1; in < *argc; in++)
    {
      const char *a = argv[in];
      if (!after_dashes && strcmp (a, "--") == 0)
        after_dashes = true;
      else if (!after_dashes && (strcmp (a, "--config") == 0 || strcmp (a, "-c") == 0))
        {
          if (in + 1 >= *argc)
            {
              fprintf (stderr, "postdesk: %s needs a file\n", a);
              return false;
            }
          g->config_path = argv[++in];
          continue;
        }
      else if (!after_dashes && strncmp (a, "--config=", 9) == 0)
        {
          g->config_path = a + 9;
          continue;
        }
      argv[out++] = argv[in];
    }
  argv[out] = NULL;
  *argc = out;
  return true;
}

/* With standard output closed (">&-"), the next file postdesk opens, a
 * configuration or the database, would become descriptor 1 and receive
 * what the command prints. /dev/null opened read-only takes the place
 * instead: writes to it fail, so the command's output is reported lost. */
static void
guard_stdout (void)
{
  if (fcntl (STDOUT_FILENO, F_GETFD) == -1 && errno == EBADF)
    {
      int fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd >= 0 && fd != STDOUT_FILENO)
        close (fd);
    }
}

/* Every command's output ends here: what it printed is flushed and
 * standard output closed, and a failure there (a full disk, a closed pipe
 * or descriptor) is an error, not a silent success. Returns the exit
 * status. */
static int
finish_output (int status)
{
  errno = 0;
  bool failed = fflush (stdout) != 0 || ferror (stdout);
  int saved = errno;
  if (fclose (stdout) != 0 && !failed)
    {
      failed = true;
      saved = errno;
    }
  if (!failed)
    return status;
  fprintf (stderr, "postdesk: cannot write to standard output: %s\n",
           saved != 0 ? g_strerror (saved) : "a write failed");
  return status != 0 ? status : 1;
}

static int
run (int argc, char **argv)
{
  pd_global_t g = { NULL };
  if (!take_config_option (&argc, argv, &g))
    return 2;

  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++)
    {
      const char *a = argv[i];
      if (strcmp (a, "--help") == 0 || strcmp (a, "-h") == 0)
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

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  g_log_set_default_handler (log_handler, NULL);
  guard_stdout ();
  return finish_output (run (argc, argv));
}
