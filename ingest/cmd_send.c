/* cmd_send.c - postdesk send [--once]: delivers the outbox through the
 * configured [transport].
 *
 * Each due row is claimed (marked sending in its own transaction), handed
 * to the transport, and marked sent only after the transport accepted it;
 * a failure is recorded on the row with its retry class. One sender runs
 * per database, held by a lock file beside it, so that rows a killed
 * sender left "sending" can safely be queued again at start. */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "postdesk/bounces.h"
#include "postdesk/cmd.h"
#include "postdesk/output.h"
#include "postdesk/text.h"
#include "postdesk/transport.h"

/* How often a running sender looks for newly queued or newly due mail. */
#define WAKE_SECONDS 2

typedef struct {
  const pd_config_t *cfg;   /* borrowed */
  pd_store_t *store;        /* borrowed */
  pd_transport_t *transport;/* borrowed */
  guint sent;
  guint later;
  guint failed;
  bool stop;                /* a SIGTERM or SIGINT came: finish the message in hand */
} sender_t;

/* What one round of delivery ended with. */
typedef enum {
  ROUND_DONE,          /* nothing more is due */
  ROUND_UNAVAILABLE,   /* the transport cannot deliver now; the rest waits */
  ROUND_STOPPED,       /* asked to stop */
  ROUND_DB_ERROR,      /* the database failed: 'err' says how */
} round_t;

static gboolean
on_stop_signal (gpointer data)
{
  sender_t *s = data;
  s->stop = true;
  return G_SOURCE_CONTINUE;
}

/* Holds the sender lock on '<database>.send-lock' for the life of the
 * process (the kernel drops it when the process dies, kill -9 included).
 * Returns the descriptor, or -1 after printing why. */
static int
take_sender_lock (const char *database)
{
  g_autofree char *path = g_strconcat (database, ".send-lock", NULL);
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      fprintf (stderr, "postdesk send: cannot open the sender lock %s: %s\n", path,
               g_strerror (errno));
      return -1;
    }
  if (flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      if (errno == EWOULDBLOCK)
        fprintf (stderr, "postdesk send: another 'postdesk send' is delivering from %s\n", database);
      else
        fprintf (stderr, "postdesk send: cannot lock %s: %s\n", path, g_strerror (errno));
      close (fd);
      return -1;
    }
  return fd;
}

/* Logs one failed delivery with the outbox id, the ticket, the recipients
 * and the reason, all made safe to print: recipients come from mail. */
static void
log_failure (const sender_t *s, const pd_outbox_item_t *o, const char *outcome, const char *reason)
{
  g_autofree char *ref = pd_ticket_ref (s->cfg->ticket_prefix, o->ticket_id);
  g_autofree char *joined = g_strjoinv (", ", o->to);
  g_autofree char *to = pd_text_line (joined);
  g_autofree char *why = pd_text_line (reason);
  g_warning ("outbox %" G_GINT64_FORMAT " (%s) to %s: %s: %s", o->id, ref, to, outcome, why);
}

/* Why row 'o' must not go out at all: every recipient is suppressed after
 * a bounce ("ADDRESS: the address is suppressed after a bounce: ...",
 * one per recipient). *why is NULL when it may go. (transfer full) */
static bool
suppressed_reason (sender_t *s, const pd_outbox_item_t *o, char **why, GError **err)
{
  *why = NULL;
  g_autoptr (GString) text = g_string_new (NULL);
  for (guint i = 0; o->to != NULL && o->to[i] != NULL; i++)
    {
      g_autoptr (pd_suppression_t) entry = NULL;
      if (!pd_store_suppression_get (s->store, o->to[i], &entry, err))
        return false;
      /* One address still reachable: the mail goes, to everyone. */
      if (entry == NULL)
        return true;
      g_autofree char *reason = pd_bounce_suppression_reason (entry);
      g_string_append_printf (text, "%s%s: %s", i > 0 ? "; " : "", entry->address, reason);
    }
  if (text->len > 0)
    *why = g_string_free (g_steal_pointer (&text), FALSE);
  return true;
}

/* Delivers one claimed row and records what happened. Returns false with
 * 'err' set only when the database failed; *unavailable says the
 * transport cannot take anything now. */
static bool
deliver (sender_t *s, const pd_outbox_item_t *o, bool *unavailable, GError **err)
{
  *unavailable = false;
  /* Checked as it leaves, not when it was queued: an address suppressed
   * since (a bounce of an earlier message) gets nothing either. */
  g_autofree char *suppressed = NULL;
  if (!suppressed_reason (s, o, &suppressed, err))
    return false;
  if (suppressed != NULL)
    {
      if (!pd_store_outbox_mark_suppressed (s->store, o->id, pd_time_now (), suppressed, err))
        return false;
      s->failed++;
      log_failure (s, o, "not sent", suppressed);
      return true;
    }
  GError *failure = NULL;
  bool accepted = false;
  if (o->raw == NULL)
    g_set_error (&failure, PD_TRANSPORT_ERROR, PD_TRANSPORT_ERROR_PERMANENT,
                 "the outbox holds no message text for it");
  else
    accepted = pd_transport_send (s->transport, s->cfg->support_address,
                                  (const char *const *) o->to, o->message_id, o->raw, &failure);
  if (accepted)
    {
      if (!pd_store_outbox_mark_sent (s->store, o->id, pd_time_now (), err))
        return false;
      s->sent++;
      return true;
    }
  /* An error from outside the transport's domain cannot say its class;
   * it is retried, which is never wrong, only slower. */
  bool permanent = failure->domain == PD_TRANSPORT_ERROR && failure->code == PD_TRANSPORT_ERROR_PERMANENT;
  *unavailable = failure->domain == PD_TRANSPORT_ERROR && failure->code == PD_TRANSPORT_ERROR_UNAVAILABLE;
  bool ok;
  if (permanent)
    {
      ok = pd_store_outbox_mark_failed (s->store, o->id, pd_time_now (), failure->message, err);
      if (ok)
        {
          s->failed++;
          log_failure (s, o, "failed", failure->message);
        }
    }
  else
    {
      bool gave_up = false;
      pd_time_t next = 0;
      ok = pd_store_outbox_mark_retry (s->store, o->id, pd_time_now (), failure->message, &gave_up,
                                       &next, err);
      if (ok && gave_up)
        {
          s->failed++;
          log_failure (s, o, "failed, no more retries", failure->message);
        }
      else if (ok)
        {
          s->later++;
          g_autofree char *when = pd_time_format (next);
          g_autofree char *outcome = g_strdup_printf ("will retry at %s", when);
          log_failure (s, o, outcome, failure->message);
        }
    }
  g_error_free (failure);
  return ok;
}

/* Delivers everything due now, oldest first, until nothing is due, the
 * transport is unavailable or a signal asks to stop. */
static round_t
deliver_due (sender_t *s, GError **err)
{
  while (true)
    {
      /* Signals are dispatched between messages, never during one. */
      while (g_main_context_iteration (NULL, FALSE))
        ;
      if (s->stop)
        return ROUND_STOPPED;
      g_autoptr (pd_outbox_item_t) o = NULL;
      if (!pd_store_outbox_claim (s->store, pd_time_now (), &o, err))
        return ROUND_DB_ERROR;
      if (o == NULL)
        return ROUND_DONE;
      bool unavailable = false;
      if (!deliver (s, o, &unavailable, err))
        return ROUND_DB_ERROR;
      if (unavailable)
        return ROUND_UNAVAILABLE;
    }
}

static gboolean
on_wake (gpointer data)
{
  bool *woken = data;
  *woken = true;
  return G_SOURCE_REMOVE;
}

int
pd_cmd_send (const pd_global_t *g, int argc, char **argv)
{
  gboolean once = FALSE;
  GOptionEntry entries[] = {
    { "once", 0, 0, G_OPTION_ARG_NONE, &once, "deliver what is due now, then exit", NULL },
    G_OPTION_ENTRY_NULL,
  };
  int rc;
  if (!pd_cmd_parse_options ("send", "",
                             "Delivers the outbox through the configured [transport]: with --once\n"
                             "what is due now, else until SIGTERM or SIGINT.",
                             entries, &argc, &argv, &rc))
    return rc;
  if (argc != 1)
    {
      g_autofree char *shown = pd_text_short (argv[1], 40);
      fprintf (stderr, "postdesk send: unexpected argument '%s'\n", shown);
      return 2;
    }
  g_autoptr (pd_config_t) cfg = NULL;
  g_autoptr (pd_store_t) store = NULL;
  if ((rc = pd_cmd_open (g, PD_STORE_WRITE, &cfg, &store)) != 0)
    return rc;
  if (cfg->transport_url == NULL)
    {
      fprintf (stderr, "postdesk send: %s has no [transport] url: say where mail goes, "
                       "e.g. url = sendmail:/usr/sbin/sendmail (see postdesk.conf(5))\n",
               cfg->path != NULL ? cfg->path : "the configuration");
      return 2;
    }
  int lock = take_sender_lock (cfg->database);
  if (lock < 0)
    return 1;
  /* A sendmail that exits before reading the whole message must be a
   * failed delivery, not the end of postdesk. */
  signal (SIGPIPE, SIG_IGN);

  GError *err = NULL;
  g_autoptr (pd_transport_t) transport = NULL;
  const pd_transport_options_t options = {
    .username = cfg->transport_username, .password_file = cfg->transport_password_file,
    .ca_file = cfg->transport_ca_file, .tls_none = cfg->transport_tls_none,
  };
  if (!pd_transport_open (cfg->transport_url, &options, &transport, &err))
    {
      rc = err->domain == PD_ERROR ? pd_cmd_fail (err) : 1;
      if (err->domain != PD_ERROR)
        {
          g_autofree char *why = pd_text_line (err->message);
          fprintf (stderr, "postdesk send: %s\n", why);
        }
      g_error_free (err);
      close (lock);
      return rc;
    }
  guint recovered = 0;
  if (!pd_store_outbox_recover (store, &recovered, &err))
    {
      rc = pd_cmd_fail (err);
      g_error_free (err);
      close (lock);
      return rc;
    }
  if (recovered > 0)
    g_message ("%u interrupted deliveries queued again", recovered);

  sender_t s = { .cfg = cfg, .store = store, .transport = transport };
  guint term = g_unix_signal_add (SIGTERM, on_stop_signal, &s);
  guint intr = g_unix_signal_add (SIGINT, on_stop_signal, &s);
  round_t r;
  while (true)
    {
      r = deliver_due (&s, &err);
      /* One SMTP connection per round: closed now, not held while idle. */
      pd_transport_end_batch (transport);
      if (once || r == ROUND_STOPPED || r == ROUND_DB_ERROR)
        break;
      /* Sleep until the next look, or until a signal. */
      bool woken = false;
      guint wake = g_timeout_add_seconds (WAKE_SECONDS, on_wake, &woken);
      while (!woken && !s.stop)
        g_main_context_iteration (NULL, TRUE);
      if (!woken)
        g_source_remove (wake);
      if (s.stop)
        break;
    }
  g_source_remove (term);
  g_source_remove (intr);
  printf ("sent %u, retry later %u, failed %u\n", s.sent, s.later, s.failed);
  close (lock);
  if (r == ROUND_DB_ERROR)
    {
      rc = pd_cmd_fail (err);
      g_error_free (err);
      return rc;
    }
  /* A running sender asked to stop has done its job; --once reports
   * whether everything it found due went out. */
  if (!once)
    return 0;
  return s.later == 0 && s.failed == 0 ? 0 : 1;
}
