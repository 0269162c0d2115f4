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

/* Per read and write on the connection, and for connect(). */
#define IMAP_TIMEOUT 60

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

/* One mailbox being watched. */
typedef struct {
  const pd_config_mailbox_t *mb; /* borrowed from the configuration */
  pd_imap_t *imap;               /* owned; NULL while disconnected */
  int backoff;                   /* seconds of the last wait after a failure */
  gint64 retry_at;               /* monotonic microseconds; 0: now */
  bool given_up;                 /* a TLS failure: nothing to retry until the configuration changes */
} watched_t;

static void
print_summary (const pd_config_mailbox_t *mb, const pd_fetch_report_t *r, const pd_pipeline_stats_t *before,
               const pd_pipeline_stats_t *s, bool quiet)
{
  guint quarantined = s->quarantined - before->quarantined;
  if (quiet && quarantined == 0)
    return;
  if (r->fetched == 0)
    {
      printf ("nothing new in mailbox %s\n", mb->name);
      return;
    }
  guint new_tickets = s->new_tickets - before->new_tickets, threaded = s->threaded - before->threaded;
  guint duplicates = s->duplicates - before->duplicates;
  guint stored = new_tickets + threaded + duplicates + quarantined;
  printf ("ingested %u message%s from mailbox %s: %u new ticket%s, %u threaded, %u duplicate%s, %u quarantined",
          stored, stored == 1 ? "" : "s", mb->name, new_tickets, new_tickets == 1 ? "" : "s", threaded, duplicates,
          duplicates == 1 ? "" : "s", quarantined);
  if (r->after_done > 0)
    {
      if (mb->after == PD_MAILBOX_AFTER_MOVE)
        printf (", %u moved to %s", r->after_done, mb->after_folder);
      else
        printf (", %u flagged seen", r->after_done);
    }
  printf ("\n");
  fflush (stdout);
}

/* Connects and logs in if needed, then runs one cycle. */
static bool
cycle (watched_t *w, const pd_config_t *cfg, pd_store_t *store, pd_reloadable_t *rules,
       pd_reloadable_t *templates, bool quiet, GError **err)
{
  if (w->imap == NULL)
    {
      w->imap = pd_imap_new (w->mb, IMAP_TIMEOUT);
      if (!pd_imap_connect (w->imap, err) || !pd_imap_login (w->imap, err))
        return false;
    }
  g_autoptr (pd_pipeline_t) pipeline = pd_pipeline_new (cfg, store);
  pd_pipeline_set_rules (pipeline, rules);
  /* New customers are acknowledged; a mailbox with history connected for
   * the first time does not mail the customers of the past. */
  pd_pipeline_set_templates (pipeline, templates);
  pd_pipeline_set_ack_policy (pipeline, NULL, w->mb->ack_max_age);
  pd_fetch_report_t report;
  pd_pipeline_stats_t before = { 0 };
  bool ok = pd_fetch_cycle (w->imap, cfg, w->mb, pipeline, store, &report, err);
  /* What was committed is reported even after an error. */
  print_summary (w->mb, &report, &before, pd_pipeline_stats (pipeline), quiet && ok);
  return ok;
}

/* After a failed cycle: what to say and when to try again. */
static void
failed (watched_t *w, GError *e)
{
  fprintf (stderr, "postdesk: %s\n", e->message);
  g_clear_pointer (&w->imap, pd_imap_free);
  if (g_error_matches (e, PD_IMAP_ERROR, PD_IMAP_ERROR_TLS))
    {
      fprintf (stderr, "postdesk: mailbox %s: not retried until the configuration or the server changes\n",
               w->mb->name);
      w->given_up = true;
      return;
    }
  /* A refused password is retried slowly: a server counts failures and
   * may lock the account. Anything else comes back sooner. */
  bool slow = g_error_matches (e, PD_IMAP_ERROR, PD_IMAP_ERROR_LOGIN)
              || g_error_matches (e, PD_IMAP_ERROR, PD_IMAP_ERROR_SECRET)
              || g_error_matches (e, PD_IMAP_ERROR, PD_IMAP_ERROR_REFUSED);
  w->backoff = slow ? pd_backoff_next (w->backoff, 300, 3600) : pd_backoff_next (w->backoff, 5, 300);
  w->retry_at = g_get_monotonic_time () + (gint64) w->backoff * G_USEC_PER_SEC;
  fprintf (stderr, "postdesk: mailbox %s: trying again in %d seconds\n", w->mb->name, w->backoff);
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
wait_round (watched_t *ws, guint n)
{
  gint64 now = g_get_monotonic_time ();
  int seconds = 86400;
  guint live = 0;
  for (guint i = 0; i < n; i++)
    {
      if (ws[i].given_up)
        continue;
      live++;
      int s = ws[i].imap == NULL ? (int) MAX (0, (ws[i].retry_at - now) / G_USEC_PER_SEC) : ws[i].mb->poll_interval;
      seconds = MIN (seconds, s);
    }
  /* One mailbox may IDLE; several are polled in turn (postdesk run gives
   * each its own worker). */
  for (guint i = 0; live == 1 && i < n; i++)
    if (!ws[i].given_up && ws[i].imap != NULL)
      {
        pd_imap_wake_t why;
        GError *e = NULL;
        int idle_for = ws[i].mb->idle ? 28 * 60 : ws[i].mb->poll_interval;
        if (!pd_imap_wait (ws[i].imap, idle_for, stop_pipe[0], &why, &e))
          {
            failed (&ws[i], e);
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
  g_autofree watched_t *ws = g_new0 (watched_t, n);
  for (guint i = 0; i < n; i++)
    ws[i].mb = chosen->pdata[i];
  rc = 0;
  do
    {
      for (guint i = 0; i < n && !stopping; i++)
        {
          watched_t *w = &ws[i];
          if (w->given_up || (w->imap == NULL && g_get_monotonic_time () < w->retry_at))
            continue;
          if (cycle (w, cfg, store, rules, templates, quiet, &err))
            {
              w->backoff = 0;
              continue;
            }
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
        any_live = any_live || !ws[i].given_up;
      if (once || stopping || !any_live)
        break;
      wait_round (ws, n);
    }
  while (!stopping);
  for (guint i = 0; i < n; i++)
    pd_imap_free (ws[i].imap);
  return rc;
}
