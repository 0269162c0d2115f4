/* sender.c - the outbox through the transport, one row at a time (sender.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "postdesk/bounces.h"
#include "postdesk/output.h"
#include "postdesk/sender.h"
#include "postdesk/text.h"
#include "postdesk/transport.h"

G_DEFINE_QUARK (pd-sender-error-quark, pd_sender_error)

struct pd_sender {
  const pd_config_t *cfg;    /* borrowed */
  pd_store_t *store;         /* borrowed */
  pd_transport_t *transport; /* owned */
  int lock;                  /* owned: the descriptor holding the sender lock; -1 none */
  pd_sender_counts_t counts;
};

/* Holds the sender lock on '<database>.send-lock' for the life of the
 * sender (the kernel drops it when the process dies, kill -9 included).
 * Returns the descriptor, or -1 with 'err' set. */
static int
take_sender_lock (const char *database, GError **err)
{
  g_autofree char *path = g_strconcat (database, ".send-lock", NULL);
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int e = errno;
      g_set_error (err, PD_SENDER_ERROR, PD_SENDER_ERROR_LOCK, "cannot open the sender lock %s: %s", path,
                   g_strerror (e));
      return -1;
    }
  if (flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      int e = errno;
      if (e == EWOULDBLOCK)
        g_set_error (err, PD_SENDER_ERROR, PD_SENDER_ERROR_LOCKED,
                     "another 'postdesk send' is delivering from %s", database);
      else
        g_set_error (err, PD_SENDER_ERROR, PD_SENDER_ERROR_LOCK, "cannot lock %s: %s", path, g_strerror (e));
      close (fd);
      return -1;
    }
  return fd;
}

bool
pd_sender_open (const pd_config_t *cfg, pd_store_t *store, pd_sender_t **out, guint *recovered, GError **err)
{
  *out = NULL;
  if (recovered != NULL)
    *recovered = 0;
  g_return_val_if_fail (cfg->transport_url != NULL, false);
  g_autoptr (pd_sender_t) s = g_new0 (pd_sender_t, 1);
  s->cfg = cfg;
  s->store = store;
  s->lock = take_sender_lock (cfg->database, err);
  if (s->lock < 0)
    return false;
  const pd_transport_options_t options = {
    .username = cfg->transport_username, .password_file = cfg->transport_password_file,
    .ca_file = cfg->transport_ca_file, .tls_none = cfg->transport_tls_none,
  };
  if (!pd_transport_open (cfg->transport_url, &options, &s->transport, err))
    return false;
  /* Only now, holding the lock: no live sender owns a row left sending. */
  if (!pd_store_outbox_recover (store, recovered, err))
    return false;
  *out = g_steal_pointer (&s);
  return true;
}

void
pd_sender_free (pd_sender_t *s)
{
  if (s == NULL)
    return;
  pd_transport_free (s->transport);
  if (s->lock >= 0)
    close (s->lock);
  g_free (s);
}

pd_sender_counts_t
pd_sender_counts (const pd_sender_t *s)
{
  return s->counts;
}

/* Logs one failed delivery with the outbox id, the ticket, the recipients
 * and the reason, all made safe to print: recipients come from mail. */
static void
log_failure (const pd_sender_t *s, const pd_outbox_item_t *o, const char *outcome, const char *reason)
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
suppressed_reason (pd_sender_t *s, const pd_outbox_item_t *o, char **why, GError **err)
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
deliver (pd_sender_t *s, const pd_outbox_item_t *o, bool *unavailable, GError **err)
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
      s->counts.failed++;
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
      s->counts.sent++;
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
          s->counts.failed++;
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
          s->counts.failed++;
          log_failure (s, o, "failed, no more retries", failure->message);
        }
      else if (ok)
        {
          s->counts.later++;
          g_autofree char *when = pd_time_format (next);
          g_autofree char *outcome = g_strdup_printf ("will retry at %s", when);
          log_failure (s, o, outcome, failure->message);
        }
    }
  g_error_free (failure);
  return ok;
}

static pd_send_round_t
deliver_due (pd_sender_t *s, const volatile sig_atomic_t *stop, GError **err)
{
  while (true)
    {
      /* Signals are dispatched between messages, never during one. */
      while (g_main_context_iteration (NULL, FALSE))
        ;
      if (stop != NULL && *stop)
        return PD_SEND_STOPPED;
      g_autoptr (pd_outbox_item_t) o = NULL;
      if (!pd_store_outbox_claim (s->store, pd_time_now (), &o, err))
        return PD_SEND_DB_ERROR;
      if (o == NULL)
        return PD_SEND_DONE;
      bool unavailable = false;
      if (!deliver (s, o, &unavailable, err))
        return PD_SEND_DB_ERROR;
      if (unavailable)
        return PD_SEND_UNAVAILABLE;
    }
}

pd_send_round_t
pd_sender_round (pd_sender_t *s, const volatile sig_atomic_t *stop, GError **err)
{
  pd_send_round_t r = deliver_due (s, stop, err);
  /* One SMTP connection per round: closed now, not held while idle. */
  pd_transport_end_batch (s->transport);
  return r;
}
