/* cmd_run.c - postdesk run [--once]: the daemon. Watches every configured
 * mailbox (fetch.c's cycle and backoff), delivers the outbox right after
 * new mail (sender.c), and waits for more: IDLE on a single mailbox,
 * polling otherwise. --once does one cycle per mailbox and one delivery
 * round, for cron and tests. SIGTERM and SIGINT end it after the message
 * in hand; SIGHUP reloads the rules and the templates. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>

#include "postdesk/cmd.h"
#include "postdesk/fetch.h"
#include "postdesk/sender.h"
#include "postdesk/text.h"

/* The shortest wait while the outbox holds mail: a transport that is down
 * is tried again this often, not in a busy loop. */
#define OUTBOX_WAKE_MIN 2

/* A self-pipe: SIGTERM and SIGINT write to it, every wait polls it, and
 * the sender checks 'stopping' between messages. */
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

static bool
install_signals (GError **err)
{
  if (!g_unix_open_pipe (stop_pipe, FD_CLOEXEC, err) || !g_unix_set_fd_nonblocking (stop_pipe[1], TRUE, err))
    return false;
  struct sigaction sa = { .sa_handler = on_stop_signal };
  sigemptyset (&sa.sa_mask);
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);
  /* The same flag `postdesk ingest` uses: the pipeline takes it before the
   * next message, and the loop below before the next cycle. */
  return pd_reload_watch_sighup (err);
}

/* Everything the loop works with; all borrowed from pd_cmd_run. */
typedef struct {
  const pd_config_t *cfg;
  pd_store_t *store;
  pd_reloadable_t *rules;
  pd_reloadable_t *templates;
  pd_sender_t *sender;      /* NULL: no [transport], ingest only */
  pd_fetch_watch_t **ws;    /* one per mailbox */
  guint n;
  bool once;
} run_t;

/* After a failed cycle or wait: one log line with the reason and what next. */
static void
mailbox_failed (pd_fetch_watch_t *w, const GError *e)
{
  int again = pd_fetch_watch_failed (w, e);
  g_autofree char *why = pd_text_line (e->message);
  const char *name = pd_fetch_watch_mailbox (w)->name;
  if (again == 0)
    g_warning ("mailbox %s: %s; not retried until the configuration or the server changes", name, why);
  else
    g_warning ("mailbox %s: %s; trying again in %d seconds", name, why, again);
}

/* One cycle of every mailbox that is due. Returns false with 'err' set
 * when the database failed (nothing can go on); *all_ok says whether every
 * mailbox cycled without error. */
static bool
cycle_mailboxes (run_t *r, bool *all_ok, GError **err)
{
  for (guint i = 0; i < r->n && !stopping; i++)
    {
      pd_fetch_watch_t *w = r->ws[i];
      if (!pd_fetch_watch_due (w))
        continue;
      pd_fetch_outcome_t outcome;
      GError *e = NULL;
      bool ok = pd_fetch_watch_cycle (w, r->cfg, r->store, r->rules, r->templates, &outcome, &e);
      /* --once reports every mailbox, as `fetch --once` does; the daemon
       * logs only what happened, not every quiet poll. */
      if (outcome.ran && (r->once || outcome.report.fetched > 0))
        {
          g_autofree char *line = pd_fetch_summary (pd_fetch_watch_mailbox (w), &outcome);
          if (r->once)
            printf ("%s\n", line);
          else
            g_message ("%s", line);
          fflush (stdout);
        }
      if (ok)
        continue;
      *all_ok = false;
      if (e->domain == PD_ERROR)
        {
          /* The store is at fault, not the mailbox: stop everything. */
          g_propagate_error (err, e);
          return false;
        }
      mailbox_failed (w, e);
      g_error_free (e);
    }
  return true;
}

/* How long the outbox lets the loop sleep: seconds until its earliest
 * queued row is due (at least OUTBOX_WAKE_MIN), or 0 when nothing is
 * queued or there is no sender. */
static int
outbox_wait (run_t *r, GError **err, bool *db_ok)
{
  *db_ok = true;
  if (r->sender == NULL)
    return 0;
  pd_time_t when = 0;
  if (!pd_store_outbox_next_due (r->store, &when, err))
    {
      *db_ok = false;
      return 0;
    }
  if (when == 0)
    return 0;
  return (int) CLAMP (when - pd_time_now (), OUTBOX_WAKE_MIN, 24 * 3600);
}

/* Sleeps up to 'seconds' or until a stop signal. */
static void
sleep_interruptible (int seconds)
{
  gint64 until = g_get_monotonic_time () + (gint64) seconds * G_USEC_PER_SEC;
  while (!stopping)
    {
      gint64 left = until - g_get_monotonic_time ();
      if (left <= 0)
        return;
      fd_set fds;
      FD_ZERO (&fds);
      FD_SET (stop_pipe[0], &fds);
      struct timeval tv = { .tv_sec = left / G_USEC_PER_SEC, .tv_usec = left % G_USEC_PER_SEC };
      int n = select (stop_pipe[0] + 1, &fds, NULL, NULL, &tv);
      if (n < 0 && errno != EINTR)
        return;
    }
}

/* Waits for the first of: new mail in the only mailbox (IDLE), the
 * earliest poll or retry of a mailbox, the outbox's next due row, a stop
 * signal. */
static void
wait_round (run_t *r, int outbox_seconds)
{
  int seconds = 86400;
  guint live = 0;
  pd_fetch_watch_t *only = NULL;
  for (guint i = 0; i < r->n; i++)
    {
      int next = pd_fetch_watch_next (r->ws[i]);
      if (next < 0)
        continue;
      live++;
      only = r->ws[i];
      seconds = MIN (seconds, next);
    }
  if (outbox_seconds > 0)
    seconds = MIN (seconds, outbox_seconds);
  /* IDLE tells of new mail at once, but only on one connection at a time;
   * with several mailboxes each is polled at its interval. */
  if (live == 1 && pd_fetch_watch_connected (only))
    {
      GError *e = NULL;
      if (!pd_fetch_watch_wait (only, outbox_seconds, stop_pipe[0], &e))
        {
          mailbox_failed (only, e);
          g_error_free (e);
        }
      return;
    }
  sleep_interruptible (seconds);
}

/* One delivery round. The daemon logs a line for a round that did
 * something (each failure has its own line from the sender). Returns
 * false with 'err' set when the database failed. */
static bool
deliver_round (run_t *r, GError **err)
{
  pd_sender_counts_t before = pd_sender_counts (r->sender);
  if (pd_sender_round (r->sender, &stopping, err) == PD_SEND_DB_ERROR)
    return false;
  pd_sender_counts_t after = pd_sender_counts (r->sender);
  guint sent = after.sent - before.sent, later = after.later - before.later;
  guint failed = after.failed - before.failed;
  if (!r->once && sent + later + failed > 0)
    g_message ("outbox: sent %u, retry later %u, failed %u", sent, later, failed);
  return true;
}

/* Prints why the sender could not start; returns the exit status. */
static int
sender_open_failed (GError *err)
{
  int rc;
  if (err->domain == PD_ERROR)
    rc = pd_cmd_fail (err);
  else
    {
      g_autofree char *why = pd_text_line (err->message);
      fprintf (stderr, "postdesk run: %s\n", why);
      rc = 1;
    }
  g_error_free (err);
  return rc;
}

int
pd_cmd_run (const pd_global_t *g, int argc, char **argv)
{
  gboolean once = FALSE;
  GOptionEntry entries[] = {
    { "once", 0, 0, G_OPTION_ARG_NONE, &once, "fetch every mailbox once, deliver what is due, then exit", NULL },
    G_OPTION_ENTRY_NULL,
  };
  int rc;
  if (!pd_cmd_parse_options ("run", "",
                             "Watches the [mailbox NAME] sections of the configuration over IMAP and\n"
                             "delivers the outbox through the [transport] until SIGTERM or SIGINT;\n"
                             "SIGHUP reloads the rules and the templates. With --once: every mailbox\n"
                             "once, then one delivery round.",
                             entries, &argc, &argv, &rc))
    return rc;
  if (argc != 1)
    {
      g_autofree char *shown = pd_text_short (argv[1], 40);
      fprintf (stderr, "postdesk run: unexpected argument '%s'\n", shown);
      return 2;
    }
  g_autoptr (pd_config_t) cfg = NULL;
  g_autoptr (pd_store_t) store = NULL;
  if ((rc = pd_cmd_open (g, PD_STORE_CREATE, &cfg, &store)) != 0)
    return rc;
  if (cfg->mailboxes->len == 0)
    {
      fprintf (stderr, "postdesk run: %s has no [mailbox NAME] section (see postdesk.conf(5))\n", cfg->path);
      return 2;
    }
  g_autoptr (pd_reloadable_t) rules = pd_cmd_load_rules (cfg, &rc);
  if (rules == NULL)
    return rc;
  g_autoptr (pd_reloadable_t) templates = pd_cmd_load_templates (cfg, &rc);
  if (templates == NULL)
    return rc;

  GError *err = NULL;
  g_autoptr (pd_sender_t) sender = NULL;
  if (cfg->transport_url != NULL)
    {
      /* A sendmail that exits before reading the whole message must be a
       * failed delivery, not the end of postdesk. */
      signal (SIGPIPE, SIG_IGN);
      guint recovered = 0;
      if (!pd_sender_open (cfg, store, &sender, &recovered, &err))
        return sender_open_failed (err);
      if (recovered > 0)
        g_message ("%u interrupted deliveries queued again", recovered);
    }
  else
    g_message ("%s has no [transport] url: mail is ingested, acknowledgements wait in the outbox",
               cfg->path != NULL ? cfg->path : "the configuration");
  if (!once && !install_signals (&err))
    {
      rc = pd_cmd_fail (err);
      g_error_free (err);
      return rc;
    }

  g_autoptr (GPtrArray) watches = g_ptr_array_new_with_free_func ((GDestroyNotify) pd_fetch_watch_free);
  for (guint i = 0; i < cfg->mailboxes->len; i++)
    g_ptr_array_add (watches, pd_fetch_watch_new (cfg->mailboxes->pdata[i]));
  run_t r = {
    .cfg = cfg, .store = store, .rules = rules, .templates = templates, .sender = sender,
    .ws = (pd_fetch_watch_t **) watches->pdata, .n = watches->len, .once = once,
  };
  if (!once)
    g_message ("watching %u mailbox%s%s", r.n, r.n == 1 ? "" : "es",
               sender != NULL ? ", delivering the outbox" : "");
  bool all_ok = true, db_ok = true;
  while (true)
    {
      /* A SIGHUP that came while no mail was in hand: reloaded now, not
       * only when the next message arrives. */
      if (pd_reload_sighup_take ())
        {
          pd_reloadable_reload_logged (rules, "rules");
          pd_reloadable_reload_logged (templates, "templates");
        }
      if (!cycle_mailboxes (&r, &all_ok, &err))
        {
          db_ok = false;
          break;
        }
      /* Right after the cycle: an acknowledgement leaves as soon as the
       * mail it answers is committed. */
      if (sender != NULL && !deliver_round (&r, &err))
        {
          db_ok = false;
          break;
        }
      if (once || stopping)
        break;
      bool any_live = false;
      for (guint i = 0; i < r.n; i++)
        any_live = any_live || !pd_fetch_watch_given_up (r.ws[i]);
      if (!any_live)
        {
          g_warning ("no mailbox left to watch: stopping");
          all_ok = false;
          break;
        }
      int outbox_seconds = outbox_wait (&r, &err, &db_ok);
      if (!db_ok)
        break;
      wait_round (&r, outbox_seconds);
      if (stopping)
        break;
    }
  if (sender != NULL)
    {
      pd_sender_counts_t n = pd_sender_counts (sender);
      if (once)
        printf ("sent %u, retry later %u, failed %u\n", n.sent, n.later, n.failed);
      else
        g_message ("stopping: sent %u, retry later %u, failed %u", n.sent, n.later, n.failed);
      all_ok = all_ok && n.later == 0 && n.failed == 0;
    }
  if (!db_ok)
    {
      rc = pd_cmd_fail (err);
      g_error_free (err);
      return rc;
    }
  /* A daemon asked to stop has done its job; --once reports whether every
   * mailbox was read and everything due went out. */
  if (!once)
    return stopping ? 0 : 1;
  return all_ok ? 0 : 1;
}
