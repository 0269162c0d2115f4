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
