/* pipeline.c - see pipeline.h. */
#include "postdesk/pipeline.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "postdesk/mime.h"
#include "postdesk/thread.h"

struct pd_pipeline {
  const pd_config_t *cfg;   /* borrowed */
  pd_store_t *store;        /* borrowed */
  guint batch_count;
  gint64 batch_started;     /* monotonic µs */
  pd_pipeline_stats_t stats;
};

pd_pipeline_t *
pd_pipeline_new (const pd_config_t *cfg, pd_store_t *store)
{
  pd_pipeline_t *p = g_new0 (pd_pipeline_t, 1);
  p->cfg = cfg;
  p->store = store;
  return p;
}

void
pd_pipeline_free (pd_pipeline_t *p)
{
  if (p == NULL)
    return;
  pd_store_rollback (p->store);
  g_free (p);
}

const pd_pipeline_stats_t *
pd_pipeline_stats (pd_pipeline_t *p)
{
  return &p->stats;
}

bool
pd_pipeline_flush (pd_pipeline_t *p, GError **err)
{
  if (!pd_store_in_transaction (p->store))
    return true;
  p->batch_count = 0;
  return pd_store_commit (p->store, err);
}

/* What a message is, for the ticket's history and later for who gets an
 * acknowledgement: machine mail first, since an engineer's out-of-office is
 * still an auto-reply. */
static const char *
kind_of (const pd_config_t *cfg, const pd_message_t *msg)
{
  if (msg->bounce)
    return "bounce";
  if (msg->auto_reply)
    return "auto-reply";
  if (pd_config_is_staff (cfg, msg->from->address))
    return "staff";
  return "customer";
}

/* Tells two different messages that share a Message-ID apart (some mailers
 * reuse ids): the same mail arriving twice, through two mailboxes or a
 * second import, has the same sender, subject and text. */
static char *
fingerprint_of (const pd_message_t *msg)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (sum, (const guchar *) msg->from->address, -1);
  g_checksum_update (sum, (const guchar *) "\n", 1);
  g_checksum_update (sum, (const guchar *) msg->subject, -1);
  g_checksum_update (sum, (const guchar *) "\n", 1);
  g_checksum_update (sum, (const guchar *) msg->body_text, -1);
  return g_strdup (g_checksum_get_string (sum));
}

static char *
event_detail (const char *first_key, ...) G_GNUC_NULL_TERMINATED;

/* A JSON object of string pairs (NULL values skipped), for event details. */
static char *
event_detail (const char *first_key, ...)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  va_list ap;
  va_start (ap, first_key);
  for (const char *key = first_key; key != NULL; key = va_arg (ap, const char *))
    {
      const char *value = va_arg (ap, const char *);
      if (value == NULL)
        continue;
      json_builder_set_member_name (b, key);
      json_builder_add_string_value (b, value);
    }
  va_end (ap);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

static bool
begin_batch (pd_pipeline_t *p, GError **err)
{
  if (pd_store_in_transaction (p->store))
    return true;
  if (!pd_store_begin (p->store, err))
    return false;
  p->batch_started = g_get_monotonic_time ();
  p->batch_count = 0;
  return true;
}

static bool
end_message (pd_pipeline_t *p, GError **err)
{
  p->batch_count++;
  if (p->batch_count >= PD_PIPELINE_BATCH
      || g_get_monotonic_time () - p->batch_started >= PD_PIPELINE_BATCH_MS * 1000)
    return pd_pipeline_flush (p, err);
  return true;
}

static bool
quarantine (pd_pipeline_t *p, const char *raw, gsize len, const pd_arrival_t *arrival,
            const char *reason, gint64 *id, GError **err)
{
  bool was_new = false;
  if (!pd_store_quarantine_add (p->store, raw, len, reason, arrival, id, &was_new, err))
    return false;
  g_message ("quarantined %s: %s", arrival->origin != NULL ? arrival->origin : "message", reason);
  return true;
}

/* Participants: whoever writes, and the people a customer copies in. The
 * support address and staff never become customer participants. */
static bool
add_participants (pd_pipeline_t *p, gint64 ticket, const pd_message_t *msg, const char *kind,
                  bool opened, GError **err)
{
  const pd_config_t *cfg = p->cfg;
  const char *role = opened ? "requester" : strcmp (kind, "staff") == 0 ? "staff" : "customer";
  if (strcmp (kind, "customer") == 0 || strcmp (kind, "staff") == 0)
    if (!pd_store_participant_add (p->store, ticket, msg->from->address, msg->from->name, role, err))
      return false;
  if (strcmp (kind, "customer") != 0)
    return true;
  for (guint i = 0; i < msg->cc->len; i++)
    {
      const pd_address_t *a = g_ptr_array_index (msg->cc, i);
      if (pd_config_is_support_address (cfg, a->address) || pd_config_is_staff (cfg, a->address))
        continue;
      if (!pd_store_participant_add (p->store, ticket, a->address, a->name, "customer", err))
        return false;
    }
  return true;
}

/* Everything that happens to one parsed message inside its savepoint. */
static bool
store_message (pd_pipeline_t *p, const char *raw, gsize len, pd_message_t *msg,
               const char *fingerprint, const pd_arrival_t *arrival, pd_outcome_t *outcome,
               gint64 *ticket_out, GError **err)
{
  pd_thread_t th;
  if (!pd_thread_find (p->store, p->cfg, msg, &th, err))
    return false;
  const char *kind = kind_of (p->cfg, msg);
  gint64 raw_id = 0, ticket = th.ticket_id, row = 0;
  if (!pd_store_raw_put (p->store, raw, len, &raw_id, err))
    return false;
  if (ticket == 0)
    {
      g_autofree char *subject = pd_thread_normalize_subject (msg->subject, p->cfg->ticket_prefix);
      pd_ticket_new_t t = {
        .subject = subject,
        .requester_name = msg->from->name,
        .requester_address = msg->from->address,
        .severity = 2,
        .severity_rules = NULL,
        .created_at = arrival->received_at,
        .linked_to = th.linked_to,
        .mailbox = arrival->mailbox,
      };
      if (!pd_store_ticket_create (p->store, &t, &ticket, err))
        return false;
      g_autofree char *linked = th.linked_to > 0 ? g_strdup_printf ("%" G_GINT64_FORMAT, th.linked_to) : NULL;
      g_autofree char *detail = event_detail ("how", th.how, "message_id", msg->message_id,
                                              "linked_to", linked, NULL);
      if (!pd_store_event_add (p->store, ticket, arrival->received_at, msg->from->address, "opened",
                               detail, err))
        return false;
      *outcome = PD_OUTCOME_NEW_TICKET;
    }
  else
    {
      g_autofree char *detail = event_detail ("how", th.how, "message_id", msg->message_id,
                                              "kind", kind, NULL);
      if (!pd_store_event_add (p->store, ticket, arrival->received_at, msg->from->address,
                               "message", detail, err))
        return false;
      *outcome = PD_OUTCOME_THREADED;
    }
  if (!pd_store_message_add (p->store, ticket, msg, kind, fingerprint, raw_id, arrival, &row, err))
    return false;
  if (!add_participants (p, ticket, msg, kind, *outcome == PD_OUTCOME_NEW_TICKET, err))
    return false;
  *ticket_out = ticket;
  return true;
}

/* Decides between duplicate and a Message-ID reused for different mail; for
 * the latter the message gets a derived id so that it is kept too. */
static bool
check_duplicate (pd_pipeline_t *p, pd_message_t *msg, const char *fingerprint, gint64 *dup_ticket,
                 GError **err)
{
  *dup_ticket = 0;
  for (int attempt = 0; attempt < 2; attempt++)
    {
      gint64 ticket = 0;
      g_autofree char *stored_fp = NULL;
      if (!pd_store_find_message (p->store, msg->message_id, &ticket, &stored_fp, err))
        return false;
      if (ticket == 0)
        return true;
      if (stored_fp == NULL || strcmp (stored_fp, fingerprint) == 0)
        {
          *dup_ticket = ticket;
          return true;
        }
      /* Same id, different mail: "<id>#<first 12 hex of the fingerprint>". */
      char *derived = g_strdup_printf ("%s#%.12s", msg->message_id, fingerprint);
      g_free (msg->message_id);
      msg->message_id = derived;
    }
  return true;
}

bool
pd_pipeline_ingest (pd_pipeline_t *p, const char *raw, gsize len, const pd_arrival_t *arrival,
                    pd_outcome_t *outcome, gint64 *ticket_id, GError **err)
{
  gint64 ignored;
  if (ticket_id == NULL)
    ticket_id = &ignored;
  *ticket_id = 0;
  if (!begin_batch (p, err) || !pd_store_savepoint (p->store, err))
    return false;

  g_autofree char *reason = NULL;
  g_autoptr (pd_message_t) msg = NULL;
  if (len > (gsize) p->cfg->max_message_bytes)
    reason = g_strdup_printf ("message is %" G_GSIZE_FORMAT " bytes, over max_message_bytes (%" G_GINT64_FORMAT ")",
                              len, p->cfg->max_message_bytes);
  else
    {
      GError *perr = NULL;
      msg = pd_mime_parse (raw, len, 0, &perr);
      if (msg == NULL)
        {
          reason = g_strdup (perr->message);
          g_error_free (perr);
        }
      else if (msg->from == NULL)
        reason = g_strdup ("no usable sender: the From header is missing or holds no address");
    }

  bool ok;
  if (reason != NULL)
    {
      ok = quarantine (p, raw, len, arrival, reason, ticket_id, err);
      *outcome = PD_OUTCOME_QUARANTINED;
    }
  else
    {
      g_autofree char *fingerprint = fingerprint_of (msg);
      gint64 dup = 0;
      ok = check_duplicate (p, msg, fingerprint, &dup, err);
      if (ok && dup > 0)
        {
          *outcome = PD_OUTCOME_DUPLICATE;
          *ticket_id = dup;
        }
      else if (ok)
        ok = store_message (p, raw, len, msg, fingerprint, arrival, outcome, ticket_id, err);
    }

  if (!ok)
    {
      pd_store_rollback_savepoint (p->store);
      *ticket_id = 0;
      return false;
    }
  if (!pd_store_release (p->store, err))
    return false;
  switch (*outcome)
    {
    case PD_OUTCOME_NEW_TICKET: p->stats.new_tickets++; break;
    case PD_OUTCOME_THREADED: p->stats.threaded++; break;
    case PD_OUTCOME_DUPLICATE: p->stats.duplicates++; break;
    case PD_OUTCOME_QUARANTINED: p->stats.quarantined++; break;
    }
  return end_message (p, err);
}
