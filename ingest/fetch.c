/* fetch.c - one mailbox's fetch cycle (fetch.h): IMAP into the pipeline,
 * commit, state, then the server-side after action, in that order. */
#include "postdesk/fetch.h"

typedef struct {
  pd_imap_t *imap;               /* borrowed */
  const pd_config_mailbox_t *mb; /* borrowed */
  pd_pipeline_t *pipeline;       /* borrowed */
  pd_store_t *store;             /* borrowed */
  pd_fetch_report_t *report;     /* borrowed */
} cycle_t;

static bool
on_message (const char *raw, gsize len, guint32 uid, pd_time_t internaldate, gint64 size, gpointer data,
            GError **err)
{
  cycle_t *c = data;
  g_autofree char *origin = g_strdup_printf ("%s UID %u", c->mb->name, uid);
  pd_arrival_t arrival = {
    /* INTERNALDATE is when the server took the message: the arrival the
     * SLA counts from. A server clock ahead of ours never dates mail in
     * the future. 0 (none given) lets the pipeline read the Date header. */
    .received_at = internaldate > 0 ? MIN (internaldate, pd_time_now ()) : 0,
    .mailbox = c->mb->name,
    .origin = origin,
    .uidvalidity = c->report->uidvalidity,
    .uid = uid,
    .true_size = size > (gint64) len ? size : 0,
  };
  if (size > (gint64) len)
    c->report->oversized++;
  if (!pd_pipeline_submit (c->pipeline, raw, len, &arrival, err))
    return false;
  c->report->fetched++;
  return true;
}

/* After each batch: commit, save the state, then (only then) move or flag. */
static bool
on_batch (const guint32 *uids, guint n, guint32 highest, gpointer data, GError **err)
{
  cycle_t *c = data;
  if (!pd_pipeline_finish (c->pipeline, err))
    return false;
  if (!pd_store_mailbox_state_set (c->store, c->mb->name, c->report->uidvalidity, highest, err))
    return false;
  c->report->last_uid = highest;
  if (!pd_imap_after (c->imap, uids, n, err))
    return false;
  c->report->after_done += n;
  return true;
}

bool
pd_fetch_cycle (pd_imap_t *imap, const pd_config_t *cfg, const pd_config_mailbox_t *mb, pd_pipeline_t *pipeline,
                pd_store_t *store, pd_fetch_report_t *report, GError **err)
{
  *report = (pd_fetch_report_t) { 0 };
  guint32 uidvalidity = 0;
  if (!pd_imap_select (imap, &uidvalidity, err))
    return false;
  gint64 saved_validity = 0, saved_uid = 0;
  if (!pd_store_mailbox_state_get (store, mb->name, &saved_validity, &saved_uid, err))
    return false;
  report->uidvalidity = uidvalidity;
  report->previous_uidvalidity = (guint32) saved_validity;
  guint32 last_uid = 0;
  if (saved_validity == uidvalidity)
    last_uid = (guint32) CLAMP (saved_uid, 0, G_MAXUINT32);
  else if (saved_validity != 0)
    /* The old UIDs mean nothing now (the folder was recreated or
     * renumbered): read it all again; what was stored is recognised. */
    g_message ("mailbox %s: UIDVALIDITY changed from %" G_GINT64_FORMAT " to %u: reading %s again", mb->name,
               saved_validity, uidvalidity, mb->folder);
  report->last_uid = last_uid;

  /* Messages committed before a crash that came before their move. */
  guint caught_up = 0;
  if (!pd_imap_after_pending (imap, last_uid, &caught_up, err))
    return false;
  report->after_done += caught_up;

  cycle_t c = { imap, mb, pipeline, store, report };
  bool ok = pd_imap_fetch_new (imap, last_uid, cfg->max_message_bytes, on_message, on_batch, &c, NULL, err);
  if (!ok)
    {
      /* What was submitted of the failed batch is committed all the same:
       * its messages are stored, the state is not moved past them, and a
       * rerun recognises them. */
      GError *local = NULL;
      if (!pd_pipeline_finish (pipeline, &local))
        {
          g_warning ("mailbox %s: %s", mb->name, local->message);
          g_error_free (local);
        }
      return false;
    }
  /* A new or renumbered folder with nothing in it still records its
   * UIDVALIDITY, so that the next cycle does not announce a change. */
  if ((gint64) uidvalidity != saved_validity
      && !pd_store_mailbox_state_set (store, mb->name, uidvalidity, report->last_uid, err))
    return false;
  return true;
}

/* ---- one mailbox being watched ------------------------------------------------- */

/* Per read and write on the connection, and for connect(). */
#define IMAP_TIMEOUT 60
/* RFC 2177: IDLE is re-issued before the server's 30-minute timeout. */
#define IDLE_SECONDS (28 * 60)

struct pd_fetch_watch {
  const pd_config_mailbox_t *mb; /* borrowed from the configuration */
  pd_imap_t *imap;               /* owned; NULL while disconnected */
  int backoff;                   /* seconds of the last wait after a failure */
  gint64 retry_at;               /* monotonic microseconds; 0: now */
  bool given_up;                 /* a TLS failure: nothing to retry until the configuration changes */
};

pd_fetch_watch_t *
pd_fetch_watch_new (const pd_config_mailbox_t *mb)
{
  pd_fetch_watch_t *w = g_new0 (pd_fetch_watch_t, 1);
  w->mb = mb;
  return w;
}

void
pd_fetch_watch_free (pd_fetch_watch_t *w)
{
  if (w == NULL)
    return;
  pd_imap_free (w->imap);
  g_free (w);
}

const pd_config_mailbox_t *
pd_fetch_watch_mailbox (const pd_fetch_watch_t *w)
{
  return w->mb;
}

bool
pd_fetch_watch_given_up (const pd_fetch_watch_t *w)
{
  return w->given_up;
}

bool
pd_fetch_watch_connected (const pd_fetch_watch_t *w)
{
  return w->imap != NULL;
}

bool
pd_fetch_watch_due (const pd_fetch_watch_t *w)
{
  return !w->given_up && (w->imap != NULL || g_get_monotonic_time () >= w->retry_at);
}

int
pd_fetch_watch_next (const pd_fetch_watch_t *w)
{
  if (w->given_up)
    return -1;
  if (w->imap != NULL)
    return w->mb->poll_interval;
  return (int) MAX (0, (w->retry_at - g_get_monotonic_time ()) / G_USEC_PER_SEC);
}

bool
pd_fetch_watch_cycle (pd_fetch_watch_t *w, const pd_config_t *cfg, pd_store_t *store, pd_reloadable_t *rules,
                      pd_reloadable_t *templates, pd_fetch_outcome_t *outcome, GError **err)
{
  *outcome = (pd_fetch_outcome_t) { 0 };
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
  outcome->ran = true;
  bool ok = pd_fetch_cycle (w->imap, cfg, w->mb, pipeline, store, &outcome->report, err);
  /* What was committed is reported even after an error. */
  outcome->stats = *pd_pipeline_stats (pipeline);
  if (ok)
    w->backoff = 0;
  return ok;
}

int
pd_fetch_watch_failed (pd_fetch_watch_t *w, const GError *e)
{
  g_clear_pointer (&w->imap, pd_imap_free);
  if (g_error_matches (e, PD_IMAP_ERROR, PD_IMAP_ERROR_TLS))
    {
      w->given_up = true;
      return 0;
    }
  /* A refused password is retried slowly: a server counts failures and
   * may lock the account. Anything else comes back sooner. */
  bool slow = g_error_matches (e, PD_IMAP_ERROR, PD_IMAP_ERROR_LOGIN)
              || g_error_matches (e, PD_IMAP_ERROR, PD_IMAP_ERROR_SECRET)
              || g_error_matches (e, PD_IMAP_ERROR, PD_IMAP_ERROR_REFUSED);
  w->backoff = slow ? pd_backoff_next (w->backoff, 300, 3600) : pd_backoff_next (w->backoff, 5, 300);
  w->retry_at = g_get_monotonic_time () + (gint64) w->backoff * G_USEC_PER_SEC;
  return w->backoff;
}

bool
pd_fetch_watch_wait (pd_fetch_watch_t *w, int max_seconds, int interrupt_fd, GError **err)
{
  g_return_val_if_fail (w->imap != NULL, false);
  /* Without IDLE on both sides new mail is only seen by looking again:
   * the poll interval is the longest wait. */
  int seconds = w->mb->idle && pd_imap_has (w->imap, "IDLE") ? IDLE_SECONDS : w->mb->poll_interval;
  if (max_seconds > 0)
    seconds = MIN (seconds, max_seconds);
  pd_imap_wake_t why;
  return pd_imap_wait (w->imap, seconds, interrupt_fd, &why, err);
}

char *
pd_fetch_summary (const pd_config_mailbox_t *mb, const pd_fetch_outcome_t *o)
{
  const pd_fetch_report_t *r = &o->report;
  const pd_pipeline_stats_t *s = &o->stats;
  if (r->fetched == 0)
    return g_strdup_printf ("nothing new in mailbox %s", mb->name);
  guint stored = s->new_tickets + s->threaded + s->duplicates + s->quarantined;
  GString *line = g_string_new (NULL);
  g_string_append_printf (line,
                          "ingested %u message%s from mailbox %s: %u new ticket%s, %u threaded, %u duplicate%s, "
                          "%u quarantined",
                          stored, stored == 1 ? "" : "s", mb->name, s->new_tickets, s->new_tickets == 1 ? "" : "s",
                          s->threaded, s->duplicates, s->duplicates == 1 ? "" : "s", s->quarantined);
  if (r->after_done > 0)
    {
      if (mb->after == PD_MAILBOX_AFTER_MOVE)
        g_string_append_printf (line, ", %u moved to %s", r->after_done, mb->after_folder);
      else
        g_string_append_printf (line, ", %u flagged seen", r->after_done);
    }
  return g_string_free (line, FALSE);
}
