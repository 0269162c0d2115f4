/* pipeline.c - see pipeline.h. */
#include "postdesk/pipeline.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "postdesk/bounces.h"
#include "postdesk/json.h"
#include "postdesk/mime.h"
#include "postdesk/outbox.h"
#include "postdesk/reload.h"
#include "postdesk/rules.h"
#include "postdesk/sla.h"
#include "postdesk/thread.h"

/* A message after everything that needs no database: read, size-checked,
 * parsed, hashed. Built on the submitting thread. */
typedef struct {
  char *raw;              /* owned when owns_raw, else borrowed for the call */
  gsize len;
  bool owns_raw;
  char *sha256;           /* owned: hex digest of raw */
  pd_message_t *msg;      /* owned; NULL when the message goes to quarantine */
  char *reason;           /* owned: why it goes to quarantine, else NULL */
  char *content_hash;     /* owned when msg != NULL: pd_mime_content_hash of raw */
  pd_arrival_t arrival;   /* strings below are what it points to */
  char *mailbox;          /* owned */
  char *origin;           /* owned */
  char *message_id;       /* owned: of mail going to quarantine, when one could be
                             read; else NULL */
  pd_message_t *headers;  /* owned: of mail over the size limit, its header section
                             parsed (open_ticket_for_oversized); else NULL */
  char *headers_hash;     /* owned when headers != NULL: pd_mime_content_hash of it */
  bool classified;        /* the rules ran on msg */
  pd_classification_t cls;  /* fields owned: what they said, when classified */
} prepared_t;

struct pd_pipeline {
  const pd_config_t *cfg;   /* borrowed */
  pd_store_t *store;        /* borrowed; the writer's while it runs */
  pd_reloadable_t *rules;   /* borrowed, may be NULL: the severity rules */
  pd_reloadable_t *templates; /* borrowed, may be NULL: no acknowledgements */
  char *no_ack;             /* owned, may be NULL: why nothing is acknowledged */
  gint64 ack_max_age;       /* seconds; mail older than this is not acknowledged; 0: no limit */
  guint batch_count;
  gint64 batch_started;     /* monotonic µs */
  pd_pipeline_stats_t stats;     /* committed */
  pd_pipeline_stats_t pending;   /* stored in the open batch, not yet committed */

  /* The writer thread and its queue; all below guarded by 'lock'. */
  GThread *writer;          /* owned; NULL when not running */
  GMutex lock;
  GCond cond;
  GQueue queue;             /* of prepared_t*, owned: waiting for the writer */
  GQueue done;              /* of prepared_t*, owned: stored, for the submitter to free */
  gsize queued_bytes;
  bool closing;             /* no more submissions: drain and stop */
  bool abandon;             /* stop without storing what is queued */
  GError *writer_error;     /* owned: why the writer stopped early */
};

static void
prepared_free (prepared_t *m)
{
  if (m == NULL)
    return;
  if (m->owns_raw)
    g_free (m->raw);
  g_free (m->sha256);
  pd_message_free (m->msg);
  g_free (m->reason);
  g_free (m->content_hash);
  g_free (m->mailbox);
  g_free (m->origin);
  g_free (m->message_id);
  pd_message_free (m->headers);
  g_free (m->headers_hash);
  pd_classification_clear (&m->cls);
  g_free (m);
}

pd_pipeline_t *
pd_pipeline_new (const pd_config_t *cfg, pd_store_t *store)
{
  pd_pipeline_t *p = g_new0 (pd_pipeline_t, 1);
  p->cfg = cfg;
  p->store = store;
  g_mutex_init (&p->lock);
  g_cond_init (&p->cond);
  g_queue_init (&p->queue);
  g_queue_init (&p->done);
  return p;
}

void
pd_pipeline_set_rules (pd_pipeline_t *p, pd_reloadable_t *rules)
{
  p->rules = rules;
}

void
pd_pipeline_set_templates (pd_pipeline_t *p, pd_reloadable_t *templates)
{
  p->templates = templates;
}

void
pd_pipeline_set_ack_policy (pd_pipeline_t *p, const char *no_ack, gint64 max_age)
{
  g_free (p->no_ack);
  p->no_ack = g_strdup (no_ack);
  p->ack_max_age = max_age;
}

static void stop_writer (pd_pipeline_t *p, bool abandon);
static void batch_lost (pd_pipeline_t *p);

void
pd_pipeline_free (pd_pipeline_t *p)
{
  if (p == NULL)
    return;
  stop_writer (p, true);
  pd_store_rollback (p->store);
  batch_lost (p);
  g_clear_error (&p->writer_error);
  g_free (p->no_ack);
  g_mutex_clear (&p->lock);
  g_cond_clear (&p->cond);
  g_free (p);
}

const pd_pipeline_stats_t *
pd_pipeline_stats (pd_pipeline_t *p)
{
  return &p->stats;
}

static guint
stats_total (const pd_pipeline_stats_t *s)
{
  return s->new_tickets + s->threaded + s->duplicates + s->quarantined;
}

/* What the open batch held is lost: counted as rolled back, never as
 * stored. */
static void
batch_lost (pd_pipeline_t *p)
{
  p->stats.rolled_back += stats_total (&p->pending);
  p->pending = (pd_pipeline_stats_t) { 0 };
}

/* Only a commit makes the batch's messages count as stored. */
bool
pd_pipeline_flush (pd_pipeline_t *p, GError **err)
{
  if (!pd_store_in_transaction (p->store))
    {
      batch_lost (p);
      return true;
    }
  p->batch_count = 0;
  if (!pd_store_commit (p->store, err))
    {
      pd_store_rollback (p->store);
      batch_lost (p);
      return false;
    }
  p->stats.new_tickets += p->pending.new_tickets;
  p->stats.threaded += p->pending.threaded;
  p->stats.duplicates += p->pending.duplicates;
  p->stats.quarantined += p->pending.quarantined;
  p->pending = (pd_pipeline_stats_t) { 0 };
  return true;
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
            const char *reason, const char *message_id, gint64 *id, bool *was_new, GError **err)
{
  if (!pd_store_quarantine_add (p->store, raw, len, reason, message_id, arrival, id, was_new, err))
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

/* When a message arrived: what the caller knows (--received, or what the
 * source says), else the message's own Date header, else now. A Date in the
 * future is the sender's clock or a lie, and an arrival time in the future
 * would order the ticket before mail that has really arrived. */
static pd_time_t
arrival_time (const pd_arrival_t *arrival, const pd_message_t *msg)
{
  if (arrival->received_at != 0)
    return arrival->received_at;
  pd_time_t now = pd_time_now ();
  if (msg != NULL && msg->date > 0 && msg->date <= now)
    return msg->date;
  return now;
}

/* The header section of mail over the size limit, parsed on its own (its
 * body is never parsed): who wrote, about what and when, to open a ticket
 * from, and its Message-ID for the quarantine entry. The section ends at
 * the first empty line; without one, or without a usable sender, there is
 * nothing to open a ticket from. */
static void
parse_oversized_headers (prepared_t *m)
{
  gsize limit = MIN (m->len, (gsize) PD_MIME_MAX_HEADER_BYTES + 2);
  gsize end = 0;
  for (const char *nl = memchr (m->raw, '\n', limit); nl != NULL && end == 0;
       nl = memchr (nl + 1, '\n', limit - (gsize) (nl + 1 - m->raw)))
    {
      gsize rest = limit - (gsize) (nl + 1 - m->raw);
      if ((rest >= 1 && nl[1] == '\n') || (rest >= 2 && nl[1] == '\r' && nl[2] == '\n'))
        end = (gsize) (nl + 1 - m->raw);
    }
  if (end == 0)
    return;
  g_autofree char *section = g_malloc (end + 1);
  memcpy (section, m->raw, end);
  section[end] = '\n';
  m->headers = pd_mime_parse (section, end + 1, 0, NULL);
  if (m->headers == NULL)
    return;
  if (!m->headers->message_id_synthetic)
    m->message_id = g_strdup (m->headers->message_id);
  if (m->headers->from == NULL)
    g_clear_pointer (&m->headers, pd_message_free);
  else
    m->headers_hash = pd_mime_content_hash (section, end + 1);
}

/* Everything that needs no database, so that it can run on another core
 * than the writer. 'raw' is copied when 'copy' is true, else borrowed. */
/* Severity rules are pure CPU: they run here, on the parsing thread, with
 * the rule set in force now. A SIGHUP since the last message swaps in the
 * edited rules first, or keeps the old ones when the edit has a problem. */
static void
classify (pd_pipeline_t *p, prepared_t *m)
{
  if (pd_reload_sighup_take ())
    {
      if (p->rules != NULL)
        pd_reloadable_reload_logged (p->rules, "rules");
      if (p->templates != NULL)
        pd_reloadable_reload_logged (p->templates, "templates");
    }
  if (p->rules == NULL)
    return;
  pd_reload_ref_t *ref = pd_reloadable_acquire (p->rules);
  pd_rules_classify (pd_reload_ref_value (ref), m->msg, &m->cls);
  pd_reload_ref_release (ref);
  m->classified = true;
  /* A rule's auto-reply action marks the message before kind_of reads it. */
  if (m->cls.auto_reply)
    m->msg->auto_reply = true;
}

static prepared_t *
prepare (pd_pipeline_t *p, const char *raw, gsize len, const pd_arrival_t *arrival, bool copy)
{
  const pd_config_t *cfg = p->cfg;
  prepared_t *m = g_new0 (prepared_t, 1);
  m->owns_raw = copy;
  m->raw = copy ? g_memdup2 (raw, len) : (char *) raw;
  m->len = len;
  m->sha256 = pd_sha256_hex (raw, len);
  m->mailbox = g_strdup (arrival->mailbox);
  m->origin = g_strdup (arrival->origin);
  m->arrival = *arrival;
  m->arrival.mailbox = m->mailbox;
  m->arrival.origin = m->origin;

  /* Only the first bytes of a message over the limit reach here; they are
   * kept for safekeeping and can never become a ticket, whatever the limit
   * is by now (a retry after raising it). */
  if (arrival->true_size > (gint64) len)
    {
      if (arrival->true_size > cfg->max_message_bytes)
        m->reason = g_strdup_printf ("message is %" G_GINT64_FORMAT " bytes, over max_message_bytes (%" G_GINT64_FORMAT
                                     "); truncated to its first %" G_GSIZE_FORMAT " bytes for safekeeping",
                                     arrival->true_size, cfg->max_message_bytes, len);
      else
        m->reason = g_strdup_printf ("message is %" G_GINT64_FORMAT " bytes, but only its first %" G_GSIZE_FORMAT
                                     " bytes were kept when it arrived over the size limit; ingest the original again",
                                     arrival->true_size, len);
      parse_oversized_headers (m);
      m->arrival.received_at = arrival_time (arrival, m->headers);
      return m;
    }
  if (len > (gsize) cfg->max_message_bytes)
    {
      m->reason = g_strdup_printf ("message is %" G_GSIZE_FORMAT " bytes, over max_message_bytes (%" G_GINT64_FORMAT ")",
                                   len, cfg->max_message_bytes);
      parse_oversized_headers (m);
      m->arrival.received_at = arrival_time (arrival, m->headers);
      return m;
    }
  GError *perr = NULL;
  m->msg = pd_mime_parse (raw, len, 0, &perr);
  m->arrival.received_at = arrival_time (arrival, m->msg);
  if (m->msg == NULL)
    {
      m->reason = g_strdup (perr->message);
      g_error_free (perr);
    }
  else if (m->msg->from == NULL)
    {
      m->reason = g_strdup ("no usable sender: the From header is missing or holds no address");
      if (!m->msg->message_id_synthetic)
        m->message_id = g_strdup (m->msg->message_id);
      g_clear_pointer (&m->msg, pd_message_free);
    }
  else
    {
      m->content_hash = pd_mime_content_hash (raw, len);
      classify (p, m);
    }
  return m;
}

/* The note that stands for mail over the size limit, into the ticket it
 * threads into or a new one; *ticket receives it. The same headers seen
 * before (another copy of the mail) name the ticket they opened then. */
static bool
store_oversized_note (pd_pipeline_t *p, prepared_t *m, gint64 quarantine_id, gint64 *ticket,
                      GError **err)
{
  pd_message_t *msg = m->headers;
  if (!pd_store_find_duplicate (p->store, msg->message_id, m->headers_hash, pd_mime_content_hash,
                                ticket, err))
    return false;
  if (*ticket > 0)
    return true;
  pd_thread_t th;
  if (!pd_thread_find (p->store, p->cfg, msg, &th, err))
    return false;
  const char *kind = kind_of (p->cfg, msg);
  const pd_arrival_t *arrival = &m->arrival;
  g_autofree char *entry = g_strdup_printf ("%" G_GINT64_FORMAT, quarantine_id);
  *ticket = th.ticket_id;
  if (*ticket == 0)
    {
      g_autofree char *subject = pd_thread_normalize_subject (msg->subject, p->cfg->ticket_prefix);
      pd_ticket_new_t t = {
        .subject = subject,
        .requester_name = msg->from->name,
        .requester_address = msg->from->address,
        .severity = 2,
        .created_at = arrival->received_at,
        .linked_to = th.linked_to,
        .mailbox = arrival->mailbox,
      };
      g_autofree char *linked = th.linked_to > 0 ? g_strdup_printf ("%" G_GINT64_FORMAT, th.linked_to) : NULL;
      g_autofree char *detail = pd_json_pairs ("how", th.how, "message_id", msg->message_id,
                                              "linked_to", linked, "quarantine", entry, NULL);
      if (!pd_store_ticket_create (p->store, &t, ticket, err)
          || !pd_store_event_add (p->store, *ticket, arrival->received_at, msg->from->address, "opened",
                                  detail, err))
        return false;
    }
  else
    {
      g_autofree char *detail = pd_json_pairs ("how", th.how, "message_id", msg->message_id,
                                              "kind", kind, "quarantine", entry, NULL);
      if (!pd_store_event_add (p->store, *ticket, arrival->received_at, msg->from->address, "message",
                               detail, err))
        return false;
    }
  /* The raw bytes stay the quarantine entry's alone (raw id 0). */
  gint64 row = 0;
  return pd_store_message_add (p->store, *ticket, msg, kind, m->headers_hash, 0, arrival, &row, err)
         && add_participants (p, *ticket, msg, kind, th.ticket_id == 0, err);
}

/* Mail over the size limit is held without its body, but a customer wrote:
 * its header section opens a ticket (or joins the thread it answers) with
 * a note of its true size, the limit and the quarantine entry that keeps
 * its bytes, so that nobody is ignored for sending a large file. The entry
 * stays held, since the body is not stored, and is linked to the ticket.
 * The note refers to the message it stands for, so that the whole message,
 * stored after a larger limit, joins the same ticket ("referenced-by") and
 * releases the entry. It runs in a savepoint of its own: headers the
 * database refuses cost the ticket, never the entry. m->headers is
 * consumed. */
static bool
open_ticket_for_oversized (pd_pipeline_t *p, prepared_t *m, gint64 quarantine_id, GError **err)
{
  pd_message_t *msg = m->headers;
  gint64 size = MAX (m->arrival.true_size, (gint64) m->len);
  if (size <= p->cfg->max_message_bytes)
    return true;
  g_free (msg->body_text);
  msg->body_text = g_strdup_printf ("[postdesk] This message was too large to store: it is %" G_GINT64_FORMAT
                                    " bytes, over the limit of %" G_GINT64_FORMAT " bytes (max_message_bytes)."
                                    " Only its headers are here. Its raw bytes are kept in quarantine entry %"
                                    G_GINT64_FORMAT " (postdesk quarantine show %" G_GINT64_FORMAT ").\n",
                                    size, p->cfg->max_message_bytes, quarantine_id, quarantine_id);
  if (!msg->message_id_synthetic)
    g_ptr_array_add (msg->references, g_strdup (msg->message_id));

  if (!pd_store_savepoint (p->store, err))
    return false;
  GError *local = NULL;
  gint64 ticket = 0;
  if (store_oversized_note (p, m, quarantine_id, &ticket, &local)
      && pd_store_quarantine_link (p->store, quarantine_id, ticket, &local))
    {
      g_message ("quarantine entry %" G_GINT64_FORMAT ": ticket %s-%" G_GINT64_FORMAT " opened from its headers",
                 quarantine_id, p->cfg->ticket_prefix, ticket);
      return pd_store_release (p->store, err);
    }
  pd_store_rollback_savepoint (p->store);
  if (!g_error_matches (local, PD_ERROR, PD_ERROR_REJECTED))
    {
      g_propagate_error (err, local);
      return false;
    }
  g_warning ("quarantine entry %" G_GINT64_FORMAT ": no ticket from its headers: %s", quarantine_id, local->message);
  g_error_free (local);
  return true;
}

/* What opened a ticket: only a customer's own question starts an SLA clock
 * and gets an acknowledgement; list and bulk mail from a customer address
 * is not a question. */
static const char *
opened_by (const char *kind, const pd_message_t *msg)
{
  if (strcmp (kind, "customer") == 0 && msg->bulk)
    return "bulk";
  return kind;
}

/* The names of the rules that matched, NULL-terminated (transfer full). */
static GPtrArray *
rule_names (const prepared_t *m)
{
  GPtrArray *names = g_ptr_array_new ();
  for (guint i = 0; m->classified && i < m->cls.rules->len; i++)
    g_ptr_array_add (names, ((pd_rule_match_t *) g_ptr_array_index (m->cls.rules, i))->name);
  g_ptr_array_add (names, NULL);
  return names;
}

/* The tags the rules gave, NULL-terminated (transfer container: the
 * strings are borrowed from m). */
static GPtrArray *
tag_names (const prepared_t *m)
{
  GPtrArray *tags = g_ptr_array_new ();
  for (guint i = 0; m->classified && i < m->cls.tags->len; i++)
    g_ptr_array_add (tags, g_ptr_array_index (m->cls.tags, i));
  g_ptr_array_add (tags, NULL);
  return tags;
}

/* A customer's reply that the rules find more severe raises the ticket
 * (never lowers it), with an event saying which rule and what text did. An
 * engineer's reply or an auto-reply quoting the customer does not: it says
 * nothing new about the customer's situation. */
static bool
raise_severity (pd_pipeline_t *p, const prepared_t *m, gint64 ticket, const char *kind, bool *raised,
                GError **err)
{
  *raised = false;
  if (!m->classified || strcmp (kind, "customer") != 0 || m->cls.severity_rule == NULL)
    return true;
  g_autoptr (GPtrArray) rules = rule_names (m);
  if (!pd_store_ticket_raise_severity (p->store, ticket, m->cls.severity,
                                       (const char *const *) rules->pdata, raised, err))
    return false;
  if (!*raised)
    return true;
  /* The classification itself, with the message that raised it. */
  g_autofree char *why = pd_classification_to_json (&m->cls);
  g_autoptr (JsonNode) node = json_from_string (why, NULL);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (err, PD_ERROR, PD_ERROR_PARSE, "the classification of %s is not a JSON object",
                   m->msg->message_id);
      return false;
    }
  json_object_set_string_member (json_node_get_object (node), "message_id", m->msg->message_id);
  g_autofree char *detail = pd_json_to_text (node);
  return pd_store_event_add (p->store, ticket, m->arrival.received_at, "postdesk", "severity",
                             detail, err);
}

/* Whether held bytes are the mail 'data' (a prepared_t) just stored: its
 * first bytes (held for its size, stored now that the limit allows), or
 * the same mail but for the sender headers (held for having none, then
 * ingested again with them). Sharing a Message-ID alone proves nothing. */
static bool
is_held_copy (const void *held, gsize len, gpointer data)
{
  const prepared_t *m = data;
  if (len <= m->len && memcmp (held, m->raw, len) == 0)
    return true;
  static const char *const sender[] = { "from", "sender", "reply-to", NULL };
  g_autofree char *theirs = pd_mime_content_hash_except (held, len, sender);
  g_autofree char *ours = pd_mime_content_hash_except (m->raw, m->len, sender);
  return strcmp (theirs, ours) == 0;
}

/* Why 'm' gets no acknowledgement whatever it says (the run's policy), or
 * NULL. (transfer full) */
static char *
policy_suppression (const pd_pipeline_t *p, const prepared_t *m, pd_time_t now)
{
  if (p->no_ack != NULL)
    return g_strdup (p->no_ack);
  if (p->ack_max_age > 0 && m->arrival.received_at < now - p->ack_max_age)
    {
      g_autofree char *when = pd_time_format (m->arrival.received_at);
      return g_strdup_printf ("the message arrived %s, longer ago than ack_max_age", when);
    }
  return NULL;
}

/* Sets a ticket's deadlines from 'start' on its requester's calendar, with
 * an event that says why ("clock-started", "deadlines"). */
static bool
set_deadlines (pd_pipeline_t *p, const pd_ticket_t *t, int severity, pd_time_t start,
               const char *event, GError **err)
{
  pd_sla_t sla;
  pd_ticket_sla_t set = { .customer = t->customer, .plan = t->plan };
  if (pd_config_sla_for (p->cfg, t->requester.address, &sla))
    {
      set.customer = sla.customer;
      set.plan = sla.plan;
      pd_sla_deadlines (&sla, severity, start, &set.clock_started_at, &set.first_response_due,
                        &set.resolution_due);
    }
  if (!pd_store_ticket_set_sla (p->store, t->id, &set, err))
    return false;
  g_autofree char *sev = g_strdup_printf ("%d", severity);
  g_autofree char *clock = set.clock_started_at != 0 ? pd_time_format (set.clock_started_at) : NULL;
  g_autofree char *first = set.first_response_due != 0 ? pd_time_format (set.first_response_due) : NULL;
  g_autofree char *resolution = set.resolution_due != 0 ? pd_time_format (set.resolution_due) : NULL;
  g_autofree char *detail = pd_json_pairs ("severity", sev, "clock_started_at", clock,
                                          "first_response_due", first, "resolution_due", resolution,
                                          "plan", set.plan, NULL);
  return pd_store_event_add (p->store, t->id, start, "postdesk", event, detail, err);
}

/* The SLA clock and the acknowledgement, after a message is stored: a
 * customer's new ticket is acknowledged; a customer's reply that raises the
 * severity moves the deadlines (counted from the ticket's start, as the
 * policy's clock always is) and is acknowledged with the new ones; the
 * first message a customer or an engineer writes into a ticket no customer
 * opened starts its clock then. */
static bool
keep_clock (pd_pipeline_t *p, const prepared_t *m, gint64 ticket, const char *kind, bool opened,
            GError **err)
{
  bool customer = strcmp (kind, "customer") == 0 && !m->msg->bulk;
  bool raised = false;
  if (opened && !customer)
    {
      /* Machine mail and engineers get no acknowledgement; the ticket's
       * history says so, as for every acknowledgement not sent. */
      g_autofree char *reason = g_strdup_printf ("the ticket was opened by %s mail",
                                                 opened_by (kind, m->msg));
      g_autofree char *detail = pd_json_pairs ("reason", reason, "why", "new",
                                              "message_id", m->msg->message_id, NULL);
      return pd_store_event_add (p->store, ticket, m->arrival.received_at, "postdesk", "ack-suppressed",
                                 detail, err);
    }
  if (!opened && !raise_severity (p, m, ticket, kind, &raised, err))
    return false;
  if (!customer && strcmp (kind, "staff") != 0)
    return true;
  g_autoptr (pd_ticket_t) t = NULL;
  if (!pd_store_ticket_get (p->store, ticket, &t, err))
    return false;
  pd_ack_why_t why = PD_ACK_NEW;
  int previous = t->severity;
  if (opened)
    {
      if (strcmp (t->opened_by, "customer") != 0)
        return true;
    }
  else if (raised)
    {
      /* Only a rise counts, and with two severities it is from 2 to 1. */
      previous = 2;
      why = PD_ACK_RAISED;
      pd_time_t start = t->clock_started_at != 0 ? t->clock_started_at : m->arrival.received_at;
      if (!set_deadlines (p, t, t->severity, start, "deadlines", err))
        return false;
    }
  else if (t->clock_started_at == 0)
    {
      if (!set_deadlines (p, t, t->severity, m->arrival.received_at, "clock-started", err))
        return false;
      if (!customer)
        return true;
    }
  else
    return true;
  if (!customer || p->templates == NULL)
    return true;
  /* Read again when the deadlines just moved: they are part of what the
   * customer learns. A new ticket was read with its deadlines already. */
  if (!opened)
    {
      g_clear_pointer (&t, pd_ticket_free);
      if (!pd_store_ticket_get (p->store, ticket, &t, err))
        return false;
    }
  pd_time_t now = pd_time_now ();
  g_autofree char *suppress = policy_suppression (p, m, now);
  pd_reload_ref_t *ref = pd_reloadable_acquire (p->templates);
  pd_ack_t ack = {
    .cfg = p->cfg,
    .store = p->store,
    .templates = pd_reload_ref_value (ref),
    .ticket = t,
    .msg = m->msg,
    .cls = m->classified ? &m->cls : NULL,
    .why = why,
    .previous_severity = previous,
    .suppress = suppress,
    .now = now,
  };
  bool ok = pd_outbox_acknowledge (&ack, NULL, err);
  pd_reload_ref_release (ref);
  return ok;
}

/* Everything that happens to one parsed message inside its savepoint. */
static bool
store_message (pd_pipeline_t *p, const prepared_t *m, pd_outcome_t *outcome, gint64 *ticket_out,
               GError **err)
{
  pd_message_t *msg = m->msg;
  const pd_arrival_t *arrival = &m->arrival;
  pd_thread_t th;
  if (!pd_thread_find (p->store, p->cfg, msg, &th, err))
    return false;
  const char *kind = kind_of (p->cfg, msg);
  gint64 raw_id = 0, ticket = th.ticket_id, row = 0;
  if (!pd_store_raw_put (p->store, m->raw, m->len, m->sha256, &raw_id, err))
    return false;
  if (ticket == 0)
    {
      g_autofree char *subject = pd_thread_normalize_subject (msg->subject, p->cfg->ticket_prefix);
      g_autoptr (GPtrArray) rules = rule_names (m);
      g_autoptr (GPtrArray) tags = tag_names (m);
      const char *opener = opened_by (kind, msg);
      int severity = m->classified ? m->cls.severity : 2;
      pd_sla_t sla;
      bool have_sla = pd_config_sla_for (p->cfg, msg->from->address, &sla);
      pd_time_t clock = 0, first_due = 0, resolution_due = 0;
      /* Only a customer's own question starts a clock. */
      if (have_sla && strcmp (opener, "customer") == 0)
        pd_sla_deadlines (&sla, severity, arrival->received_at, &clock, &first_due, &resolution_due);
      pd_ticket_new_t t = {
        .subject = subject,
        .requester_name = msg->from->name,
        .requester_address = msg->from->address,
        .severity = severity,
        .severity_rules = (const char *const *) rules->pdata,
        .created_at = arrival->received_at,
        .linked_to = th.linked_to,
        .mailbox = arrival->mailbox,
        .tags = (const char *const *) tags->pdata,
        .opened_by = opener,
        .customer = have_sla ? sla.customer : NULL,
        .plan = have_sla ? sla.plan : NULL,
        .clock_started_at = clock,
        .first_response_due = first_due,
        .resolution_due = resolution_due,
      };
      if (!pd_store_ticket_create (p->store, &t, &ticket, err))
        return false;
      g_autofree char *linked = th.linked_to > 0 ? g_strdup_printf ("%" G_GINT64_FORMAT, th.linked_to) : NULL;
      g_autofree char *detail = pd_json_pairs ("how", th.how, "message_id", msg->message_id,
                                              "linked_to", linked, NULL);
      if (!pd_store_event_add (p->store, ticket, arrival->received_at, msg->from->address, "opened",
                               detail, err))
        return false;
      if (m->classified)
        {
          g_autofree char *why = pd_classification_to_json (&m->cls);
          if (!pd_store_event_add (p->store, ticket, arrival->received_at, "postdesk", "classified", why, err))
            return false;
        }
      *outcome = PD_OUTCOME_NEW_TICKET;
    }
  else
    {
      g_autofree char *detail = pd_json_pairs ("how", th.how, "message_id", msg->message_id,
                                              "kind", kind, NULL);
      if (!pd_store_event_add (p->store, ticket, arrival->received_at, msg->from->address,
                               "message", detail, err))
        return false;
      *outcome = PD_OUTCOME_THREADED;
    }
  if (!pd_store_message_add (p->store, ticket, msg, kind, m->content_hash, raw_id, arrival, &row, err))
    return false;
  if (!add_participants (p, ticket, msg, kind, *outcome == PD_OUTCOME_NEW_TICKET, err))
    return false;
  /* A bounce of postdesk's own mail marks it bounced (and may suppress the
   * address) in this savepoint, so the two are never stored apart. */
  if (strcmp (kind, "bounce") == 0 && !pd_bounce_record (p->store, msg, arrival->received_at, NULL, err))
    return false;
  if (!keep_clock (p, m, ticket, kind, *outcome == PD_OUTCOME_NEW_TICKET, err))
    return false;
  /* A held copy of this mail (no sender, re-ingested by hand) is stored now. */
  if (!pd_store_quarantine_release_message (p->store, msg->message_id, ticket, is_held_copy,
                                            (gpointer) m, NULL, err))
    return false;
  *ticket_out = ticket;
  return true;
}

/* A message is a duplicate when the same Message-ID is stored with the
 * same content: the same mail again, through a second mailbox or import.
 * The same id with other content is other mail, and is stored. */
static bool
store_or_recognise (pd_pipeline_t *p, prepared_t *m, pd_outcome_t *outcome, gint64 *ticket_id,
                    GError **err)
{
  gint64 dup = 0;
  /* A message fetched again from IMAP (a crash between the commit and the
   * saved state) is the row with its UID; without this check the UNIQUE
   * index on (mailbox, uidvalidity, uid) would refuse it into quarantine
   * whenever its content hash did not match. */
  if (m->arrival.uid > 0 && m->arrival.mailbox != NULL
      && !pd_store_find_imap_message (p->store, m->arrival.mailbox, m->arrival.uidvalidity, m->arrival.uid,
                                      &dup, err))
    return false;
  if (dup == 0
      && !pd_store_find_duplicate (p->store, m->msg->message_id, m->content_hash, pd_mime_content_hash, &dup, err))
    return false;
  if (dup > 0)
    {
      *outcome = PD_OUTCOME_DUPLICATE;
      *ticket_id = dup;
      return true;
    }
  return store_message (p, m, outcome, ticket_id, err);
}

/* One prepared message into the store, in its own savepoint inside the
 * current batch. A message the database refuses (a constraint, a value
 * over a limit) is quarantined with the reason instead: the fault is the
 * message's, and its neighbours go on. Any other database error stops the
 * run. */
static bool
store_prepared (pd_pipeline_t *p, prepared_t *m, pd_outcome_t *outcome, gint64 *ticket_id, GError **err)
{
  *ticket_id = 0;
  if (!begin_batch (p, err) || !pd_store_savepoint (p->store, err))
    return false;

  GError *local = NULL;
  bool ok, was_new = false;
  if (m->reason != NULL)
    {
      ok = quarantine (p, m->raw, m->len, &m->arrival, m->reason, m->message_id, ticket_id, &was_new, &local)
           && (!was_new || m->headers == NULL || open_ticket_for_oversized (p, m, *ticket_id, &local));
      *outcome = PD_OUTCOME_QUARANTINED;
    }
  else
    ok = store_or_recognise (p, m, outcome, ticket_id, &local);

  if (!ok)
    {
      pd_store_rollback_savepoint (p->store);
      *ticket_id = 0;
      if (m->reason != NULL || !g_error_matches (local, PD_ERROR, PD_ERROR_REJECTED))
        {
          g_propagate_error (err, local);
          return false;
        }
      g_autofree char *reason = g_strdup_printf ("the database refused the message: %s", local->message);
      g_clear_error (&local);
      if (!pd_store_savepoint (p->store, err))
        return false;
      if (!quarantine (p, m->raw, m->len, &m->arrival, reason,
                       m->msg->message_id_synthetic ? NULL : m->msg->message_id, ticket_id, &was_new, err))
        {
          pd_store_rollback_savepoint (p->store);
          return false;
        }
      *outcome = PD_OUTCOME_QUARANTINED;
    }
  if (!pd_store_release (p->store, err))
    return false;
  switch (*outcome)
    {
    case PD_OUTCOME_NEW_TICKET: p->pending.new_tickets++; break;
    case PD_OUTCOME_THREADED: p->pending.threaded++; break;
    case PD_OUTCOME_DUPLICATE: p->pending.duplicates++; break;
    case PD_OUTCOME_QUARANTINED: p->pending.quarantined++; break;
    }
  return end_message (p, err);
}

bool
pd_pipeline_ingest (pd_pipeline_t *p, const char *raw, gsize len, const pd_arrival_t *arrival,
                    pd_outcome_t *outcome, gint64 *ticket_id, GError **err)
{
  g_return_val_if_fail (p->writer == NULL, false);
  gint64 ignored;
  prepared_t *m = prepare (p, raw, len, arrival, false);
  bool ok = store_prepared (p, m, outcome, ticket_id != NULL ? ticket_id : &ignored, err);
  prepared_free (m);
  return ok;
}

/* The writer thread: takes prepared messages in order and stores them,
 * until the queue is closed and empty or a database error stops it. */
static gpointer
writer_main (gpointer data)
{
  pd_pipeline_t *p = data;
  GError *err = NULL;
  g_mutex_lock (&p->lock);
  for (;;)
    {
      while (g_queue_is_empty (&p->queue) && !p->closing)
        g_cond_wait (&p->cond, &p->lock);
      if (p->abandon || (g_queue_is_empty (&p->queue) && p->closing))
        break;
      prepared_t *m = g_queue_pop_head (&p->queue);
      g_mutex_unlock (&p->lock);

      pd_outcome_t outcome;
      gint64 ticket;
      bool ok = store_prepared (p, m, &outcome, &ticket, &err);
      if (!ok)
        g_prefix_error (&err, "%s: ", m->origin != NULL ? m->origin : "message");

      g_mutex_lock (&p->lock);
      p->queued_bytes -= m->len;
      /* Freed by the thread that allocated it: glibc then never has to lock
       * the other thread's arena, which cost the writer a tenth of its time. */
      g_queue_push_tail (&p->done, m);
      g_cond_broadcast (&p->cond);
      if (!ok)
        break;
    }
  /* Whatever is left was never stored: a failure or an abandon. */
  prepared_t *rest;
  while ((rest = g_queue_pop_head (&p->queue)) != NULL)
    prepared_free (rest);
  p->queued_bytes = 0;
  bool failed = err != NULL;
  bool abandoned = p->abandon;
  g_mutex_unlock (&p->lock);

  if (!failed && !abandoned)
    pd_pipeline_flush (p, &err);

  g_mutex_lock (&p->lock);
  if (err != NULL)
    p->writer_error = err;
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);
  return NULL;
}

/* Frees what the writer has finished with; called by the submitting thread. */
static void
free_done (pd_pipeline_t *p)
{
  g_mutex_lock (&p->lock);
  GList *finished = p->done.head;
  g_queue_init (&p->done);
  g_mutex_unlock (&p->lock);
  g_list_free_full (finished, (GDestroyNotify) prepared_free);
}

bool
pd_pipeline_submit (pd_pipeline_t *p, const char *raw, gsize len, const pd_arrival_t *arrival,
                    GError **err)
{
  free_done (p);
  prepared_t *m = prepare (p, raw, len, arrival, true);
  g_mutex_lock (&p->lock);
  if (p->writer == NULL && p->writer_error == NULL)
    {
      /* A bulk import: the writer commits while another thread copies the
       * WAL into the database. Without it, checkpoints simply run at commit. */
      GError *ckpt_err = NULL;
      if (!pd_store_background_checkpoints (p->store, true, &ckpt_err))
        {
          g_warning ("%s", ckpt_err->message);
          g_error_free (ckpt_err);
        }
      p->closing = p->abandon = false;
      p->writer = g_thread_new ("postdesk-write", writer_main, p);
    }
  while (p->writer_error == NULL && !g_queue_is_empty (&p->queue)
         && p->queued_bytes + len > PD_PIPELINE_QUEUE_BYTES)
    g_cond_wait (&p->cond, &p->lock);
  if (p->writer_error != NULL)
    {
      g_mutex_unlock (&p->lock);
      prepared_free (m);
      g_propagate_error (err, g_error_copy (p->writer_error));
      return false;
    }
  g_queue_push_tail (&p->queue, m);
  p->queued_bytes += len;
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);
  return true;
}

static void
stop_writer (pd_pipeline_t *p, bool abandon)
{
  g_mutex_lock (&p->lock);
  GThread *writer = p->writer;
  p->closing = true;
  p->abandon = abandon;
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);
  if (writer != NULL)
    {
      g_thread_join (writer);
      pd_store_background_checkpoints (p->store, false, NULL);
    }
  p->writer = NULL;
  free_done (p);
}

bool
pd_pipeline_finish (pd_pipeline_t *p, GError **err)
{
  if (p->writer == NULL && p->writer_error == NULL)
    return pd_pipeline_flush (p, err);
  stop_writer (p, false);
  if (p->writer_error != NULL)
    {
      pd_store_rollback (p->store);
      batch_lost (p);
      g_propagate_error (err, g_steal_pointer (&p->writer_error));
      return false;
    }
  return true;
}
