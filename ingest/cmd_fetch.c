/* cmd_fetch.c - postdesk fetch [--once] [-q] [MAILBOX...]
 * The configured IMAP mailboxes into tickets: once (for cron and tests),
 * or watching them until SIGTERM. The cycle itself is fetch.c's, which
 * `postdesk run` shares. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>

#include "postdesk/cmd.h"
#include "postdesk/fetch.h"

/* A self-pipe: SIGTERM and SIGINT write to it, the wait polls it. */
static int stop_pipe[2] = { -1, -1 };
static volatile sig_atomic_t stopping;

static void
on_stop_signal (int sig)
{
  (void) sig;
  int saved = errno;
  stopping = 1;
  if (write (stop_pipe[1], "x", 1) < 0)
    { /* the pipe is full: a wake-up is already waiting */ }
  errno = saved;
}

/* Prints a cycle's summary: with --quiet only when something needs a
 * person (quarantined mail) or the cycle failed. */
static void
print_summary (const pd_config_mailbox_t *mb, const pd_fetch_outcome_t *o, bool quiet)
{
  if (!o->ran || (quiet && o->stats.quarantined == 0))
    return;
  g_autofree char *line = pd_fetch_summary (mb, o);
  printf ("%s\n", line);
  fflush (stdout);
}

/* After a failed cycle: what to say and when to try again. */
static void
failed (pd_fetch_watch_t *w, GError *e)
{
  fprintf (stderr, "postdesk: %s\n", e->message);
  int again = pd_fetch_watch_failed (w, e);
  const char *name = pd_fetch_watch_mailbox (w)->name;
  if (again == 0)
    fprintf (stderr, "postdesk: mailbox %s: not retried until the configuration or the server changes\n", name);
  else
    fprintf (stderr, "postdesk: mailbox %s: trying again in %d seconds\n", name, again);
}

static bool
install_stop_signals (GError **err)
{
  if (!g_unix_open_pipe (stop_pipe, FD_CLOEXEC, err) || !g_unix_set_fd_nonblocking (stop_pipe[1], TRUE, err))
    return false;
  struct sigaction sa = { .sa_handler = on_stop_signal };
  sigemptyset (&sa.sa_mask);
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);
  return true;
}

/* Waits for the first of: new mail in the only mailbox (IDLE), the
 * earliest retry or poll, a stop signal. */
static void
wait_round (pd_fetch_watch_t **ws, guint n)
{
  int seconds = 86400;
  guint live = 0;
  for (guint i = 0; i < n; i++)
    {
      int next = pd_fetch_watch_next (ws[i]);
      if (next < 0)
        continue;
      live++;
      seconds = MIN (seconds, next);
    }
  /* One mailbox may IDLE; several are polled in turn. */
  for (guint i = 0; live == 1 && i < n; i++)
    if (!pd_fetch_watch_given_up (ws[i]) && pd_fetch_watch_connected (ws[i]))
      {
        GError *e = NULL;
        if (!pd_fetch_watch_wait (ws[i], 0, stop_pipe[0], &e))
          {
            failed (ws[i], e);
            g_error_free (e);
          }
        return;
      }
  while (!stopping && seconds > 0)
    {
      char c;
      fd_set fds;
      FD_ZERO (&fds);
      FD_SET (stop_pipe[0], &fds);
      struct timeval tv = { .tv_sec = seconds };
      int r = select (stop_pipe[0] + 1, &fds, NULL, NULL, &tv);
      if (r > 0 && read (stop_pipe[0], &c, 1) >= 0)
        return;
      if (r == 0 || (r < 0 && errno != EINTR))
        return;
    }
}

int
pd_cmd_fetch (const pd_global_t *g, int argc, char **argv)
{
  gboolean once = FALSE, quiet = FALSE;
  GOptionEntry entries[] = {
    { "once", 0, 0, G_OPTION_ARG_NONE, &once, "fetch what is new in each mailbox once, then exit", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet,
      "print nothing unless something needs a person (for cron)", NULL },
    G_OPTION_ENTRY_NULL,
  };
  int status;
  if (!pd_cmd_parse_options ("fetch", "[MAILBOX...]",
                             "Reads new mail from the [mailbox NAME] sections of the configuration (all\n"
                             "of them, or those named) over IMAP into tickets, then moves or flags it on\n"
                             "the server. Without --once it keeps watching until SIGTERM or SIGINT.",
                             entries, &argc, &argv, &status))
    return status;
  g_autoptr (pd_config_t) cfg = NULL;
  g_autoptr (pd_store_t) store = NULL;
  int rc = pd_cmd_open (g, PD_STORE_CREATE, &cfg, &store);
  if (rc != 0)
    return rc;
  if (cfg->mailboxes->len == 0)
    {
      fprintf (stderr, "postdesk fetch: %s has no [mailbox NAME] section (see postdesk.conf(5))\n", cfg->path);
      return 2;
    }
  g_autoptr (GPtrArray) chosen = g_ptr_array_new ();
  for (int i = 1; i < argc; i++)
    {
      const pd_config_mailbox_t *mb = pd_config_mailbox (cfg, argv[i]);
      if (mb == NULL)
        {
          fprintf (stderr, "postdesk fetch: no [mailbox %s] in %s\n", argv[i], cfg->path);
          return 2;
        }
      g_ptr_array_add (chosen, (gpointer) mb);
    }
  if (argc < 2)
    for (guint i = 0; i < cfg->mailboxes->len; i++)
      g_ptr_array_add (chosen, cfg->mailboxes->pdata[i]);
  g_autoptr (pd_reloadable_t) rules = pd_cmd_load_rules (cfg, &rc);
  if (rules == NULL)
    return rc;
  g_autoptr (pd_reloadable_t) templates = pd_cmd_load_templates (cfg, &rc);
  if (templates == NULL)
    return rc;
  GError *err = NULL;
  if (!once && !install_stop_signals (&err))
    {
      fprintf (stderr, "postdesk: %s\n", err->message);
      g_error_free (err);
      return 1;
    }

  guint n = chosen->len;
  g_autoptr (GPtrArray) watches = g_ptr_array_new_with_free_func ((GDestroyNotify) pd_fetch_watch_free);
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (watches, pd_fetch_watch_new (chosen->pdata[i]));
  pd_fetch_watch_t **ws = (pd_fetch_watch_t **) watches->pdata;
  rc = 0;
  do
    {
      for (guint i = 0; i < n && !stopping; i++)
        {
          pd_fetch_watch_t *w = ws[i];
          if (!pd_fetch_watch_due (w))
            continue;
          pd_fetch_outcome_t outcome;
          bool ok = pd_fetch_watch_cycle (w, cfg, store, rules, templates, &outcome, &err);
          print_summary (pd_fetch_watch_mailbox (w), &outcome, quiet && ok);
          if (ok)
            continue;
          rc = 1;
          bool database = err->domain == PD_ERROR;
          failed (w, err);
          g_clear_error (&err);
          if (database)
            {
              /* The store is at fault, not the mailbox: stop everything. */
              once = TRUE;
              break;
            }
        }
      bool any_live = false;
      for (guint i = 0; i < n; i++)
        any_live = any_live || !pd_fetch_watch_given_up (ws[i]);
      if (once || stopping || !any_live)
        break;
      wait_round (ws, n);
    }
  while (!stopping);
  return rc;
}
