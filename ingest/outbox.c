/* outbox.c - see outbox.h. */
#include "postdesk/outbox.h"

#include <string.h>

#include "postdesk/bounces.h"
#include "postdesk/compose.h"
#include "postdesk/json.h"
#include "postdesk/sla.h"

/* The policy's words, for customers: what a severity and a status mean. */
static const char *
severity_words (int severity)
{
  return severity == 1
           ? "use is severely impacted in production (an outage, nobody can log in, data loss "
             "or a security incident)"
           : "partial or non-critical loss of use, a question or a request";
}

static const char *
status_words (const char *status)
{
  static const struct { const char *status, *words; } table[] = {
    { "new", "received, waiting for an engineer" },
    { "open", "an engineer is working on it" },
    { "pending", "waiting for your reply" },
    { "solved", "solved" },
    { "closed", "closed" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (table); i++)
    if (g_strcmp0 (status, table[i].status) == 0)
      return table[i].words;
  return status != NULL ? status : "";
}

/* A value that is one line where the sender chose it (a name, a subject):
 * in a body too, a line break in it could forge a line of our own text,
 * so breaks and other control characters become spaces. (transfer full) */
static char *
one_line (const char *value)
{
  if (value == NULL)
    return NULL;
  char *out = g_strdup (value);
  for (char *p = out; *p != '\0'; p++)
    if ((unsigned char) *p < 0x20 || *p == 0x7f)
      *p = ' ';
  return out;
}

/* Why the ticket has its severity, for the customer: the words a rule
 * found. Empty for the default, where there is nothing to explain. */
static char *
severity_reason (const pd_classification_t *cls)
{
  if (cls == NULL || cls->severity_rule == NULL)
    return g_strdup ("");
  for (guint i = 0; i < cls->rules->len; i++)
    {
      const pd_rule_match_t *m = g_ptr_array_index (cls->rules, i);
      if (strcmp (m->name, cls->severity_rule) == 0 && m->match != NULL && *m->match != '\0')
        {
          g_autofree char *line = one_line (m->match);
          return g_strdup_printf ("your message says \"%s\"", line);
        }
    }
  return g_strdup ("");
}

static void
set_line (pd_tvars_t *vars, const char *name, const char *value)
{
  g_autofree char *line = one_line (value);
  pd_tvars_set (vars, name, line);
}

/* 't' in the calendar's zone, and in the customer's own when it has one
 * that differs; "" for no time. */
static void
set_time (pd_tvars_t *vars, const char *name, const pd_sla_t *sla, pd_time_t t)
{
  g_autofree char *own = g_strconcat (name, "_customer", NULL);
  if (t == 0 || sla->calendar == NULL)
    return;
  g_autofree char *text = pd_calendar_format (sla->calendar, t);
  pd_tvars_set (vars, name, text);
  const char *zone = sla->customer_timezone;
  if (zone != NULL && g_strcmp0 (zone, pd_calendar_timezone (sla->calendar)) != 0)
    {
      g_autofree char *theirs = pd_zone_format (zone, t);
      pd_tvars_set (vars, own, theirs);
    }
}

pd_tvars_t *
pd_outbox_ticket_vars (const pd_config_t *cfg, const pd_ticket_t *ticket,
                       const pd_classification_t *cls, pd_ack_why_t why, int previous_severity)
{
  pd_tvars_t *vars = pd_tvars_new ();
  g_autofree char *ref = g_strdup_printf ("%s-%" G_GINT64_FORMAT, cfg->ticket_prefix, ticket->id);
  pd_tvars_set (vars, "ticket_ref", ref);
  pd_tvars_set_int (vars, "ticket_number", ticket->id);
  set_line (vars, "subject", ticket->subject);
  pd_tvars_set_int (vars, "severity", ticket->severity);
  pd_tvars_set (vars, "severity_words", severity_words (ticket->severity));
  g_autofree char *reason = severity_reason (cls);
  pd_tvars_set (vars, "severity_reason", reason);
  pd_tvars_set_bool (vars, "is_severity1", ticket->severity == 1);
  pd_tvars_set_bool (vars, "raised", why == PD_ACK_RAISED);
  pd_tvars_set_bool (vars, "reopened", why == PD_ACK_REOPENED);
  if (why == PD_ACK_RAISED)
    pd_tvars_set_int (vars, "previous_severity", previous_severity);
  pd_tvars_set (vars, "status", ticket->status);
  pd_tvars_set (vars, "status_words", status_words (ticket->status));
  set_line (vars, "requester_name", ticket->requester.name);
  set_line (vars, "requester_address", ticket->requester.address);
  pd_tvars_set (vars, "customer", ticket->customer);
  pd_tvars_set (vars, "plan", ticket->plan);
  pd_tvars_set (vars, "support_name", cfg->support_name);
  pd_tvars_set (vars, "support_address", cfg->support_address);
  for (guint i = 0; ticket->tags != NULL && ticket->tags[i] != NULL; i++)
    pd_tvars_add_tag (vars, ticket->tags[i]);

  pd_sla_t sla;
  if (pd_config_sla_for (cfg, ticket->requester.address, &sla) && sla.calendar != NULL)
    {
      pd_tvars_set (vars, "timezone", pd_calendar_timezone (sla.calendar));
      pd_tvars_set (vars, "customer_timezone", sla.customer_timezone);
      g_autofree char *hours = pd_calendar_hours_text (sla.calendar);
      pd_tvars_set (vars, "working_hours", hours);
      set_time (vars, "first_response_due", &sla, ticket->first_response_due);
      set_time (vars, "resolution_due", &sla, ticket->resolution_due);
      /* The clock starts later than the mail arrived only when it came
       * outside working hours. */
      bool outside = ticket->clock_started_at > ticket->created_at;
      pd_tvars_set_bool (vars, "outside_hours", outside);
      if (outside)
        set_time (vars, "clock_starts", &sla, ticket->clock_started_at);
    }
  return vars;
}

static const char *
why_name (pd_ack_why_t why)
{
  return why == PD_ACK_RAISED ? "raised" : why == PD_ACK_REOPENED ? "reopened" : "new";
}

/* Why 'ack' must not be sent (transfer full), or NULL when it may. */
static char *
suppression (const pd_ack_t *ack, GError **err)
{
  const pd_config_t *cfg = ack->cfg;
  const char *sender = ack->msg->from != NULL ? ack->msg->from->address : NULL;
  if (ack->suppress != NULL)
    return g_strdup (ack->suppress);
  if (sender == NULL)
    return g_strdup ("the message has no sender");
  if (ack->cls != NULL && ack->cls->no_ack)
    return g_strdup ("a rule said no-ack");
  if (pd_config_is_support_address (cfg, sender))
    return g_strdup ("the sender is the support address");
  if (pd_config_is_system_address (cfg, sender))
    return g_strdup ("the sender is in system_addresses");
  /* The acknowledgement goes to the requester: mail to that address came
   * back for good, and another would only bounce too. */
  g_autoptr (pd_suppression_t) suppressed = NULL;
  if (!pd_store_suppression_get (ack->store, ack->ticket->requester.address, &suppressed, err))
    return NULL;
  if (suppressed != NULL)
    return pd_bounce_suppression_reason (suppressed);
  /* Two auto-responders that do not mark their mail would otherwise
   * answer each other for ever: a sender gets only so many. */
  static const struct { const char *key; gint64 seconds; } windows[] = {
    { "ack_limit_per_hour", 3600 },
    { "ack_limit_per_day", 86400 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (windows); i++)
    {
      int limit = i == 0 ? cfg->ack_limit_per_hour : cfg->ack_limit_per_day;
      guint sent = 0;
      if (!pd_store_acks_since (ack->store, sender, ack->now - windows[i].seconds, &sent, err))
        return NULL;
      if (sent >= (guint) limit)
        return g_strdup_printf ("%s already got %u acknowledgement%s in the last %s (%s = %d)",
                                sender, sent, sent == 1 ? "" : "s", i == 0 ? "hour" : "day",
                                windows[i].key, limit);
    }
  return NULL;
}

/* The acknowledgement as mail, queued. */
static bool
queue (const pd_ack_t *ack, const pd_template_t *tmpl, char **message_id, GError **err)
{
  const pd_config_t *cfg = ack->cfg;
  const pd_message_t *msg = ack->msg;
  g_autoptr (pd_tvars_t) vars = pd_outbox_ticket_vars (cfg, ack->ticket, ack->cls, ack->why,
                                                       ack->previous_severity);
  g_autoptr (pd_rendered_t) rendered = NULL;
  if (!pd_template_render (tmpl, vars, &rendered, err))
    return false;

  /* The reply threads under the customer's message in their mail client. */
  const char *in_reply_to = msg->message_id_synthetic ? NULL : msg->message_id;
  g_autoptr (GPtrArray) refs = g_ptr_array_new ();
  for (guint i = 0; msg->references != NULL && i < msg->references->len; i++)
    g_ptr_array_add (refs, g_ptr_array_index (msg->references, i));
  if (in_reply_to != NULL)
    g_ptr_array_add (refs, (gpointer) in_reply_to);
  g_ptr_array_add (refs, NULL);
  const char *to[] = { ack->ticket->requester.address, NULL };
  g_autofree char *domain = pd_address_domain (cfg->support_address);
  pd_compose_t in = {
    .from_name = cfg->support_name,
    .from_address = cfg->support_address,
    .reply_to = cfg->support_address,
    .to = to,
    .subject = rendered->subject,
    .headers = rendered->headers,
    .body = rendered->body,
    .in_reply_to = in_reply_to,
    .references = (const char *const *) refs->pdata,
    .id_domain = domain,
    .date = ack->now,
    .auto_reply = true,
  };
  g_autoptr (GBytes) raw = NULL;
  if (!pd_compose_message (&in, &raw, message_id, err))
    return false;
  pd_outbox_new_t out = {
    .ticket_id = ack->ticket->id,
    .kind = "ack",
    .from_name = cfg->support_name,
    .from_address = cfg->support_address,
    .to = to,
    .subject = rendered->subject,
    .message_id = *message_id,
    .in_reply_to = in_reply_to,
    .references = (const char *const *) refs->pdata,
    .body_text = rendered->body,
    .raw = raw,
    .created_at = ack->now,
  };
  gint64 outbox_id;
  return pd_store_outbox_add (ack->store, &out, &outbox_id, err);
}

bool
pd_outbox_acknowledge (const pd_ack_t *ack, bool *queued, GError **err)
{
  if (queued != NULL)
    *queued = false;
  GError *local = NULL;
  g_autofree char *reason = suppression (ack, &local);
  if (local != NULL)
    {
      g_propagate_error (err, local);
      return false;
    }
  if (reason != NULL)
    {
      g_autofree char *detail = pd_json_pairs ("reason", reason, "why", why_name (ack->why),
                                             "message_id", ack->msg->message_id, NULL);
      return pd_store_event_add (ack->store, ack->ticket->id, ack->now, "postdesk", "ack-suppressed",
                                 detail, err);
    }
  const pd_template_t *tmpl = pd_templates_get (ack->templates, "ack");
  if (tmpl == NULL)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "there is no ack template to acknowledge with");
      return false;
    }
  g_autofree char *message_id = NULL;
  if (!queue (ack, tmpl, &message_id, err))
    return false;
  g_autofree char *detail = pd_json_pairs ("message_id", message_id, "why", why_name (ack->why),
                                         "to", ack->ticket->requester.address, NULL);
  if (!pd_store_event_add (ack->store, ack->ticket->id, ack->now, "postdesk", "ack-queued", detail, err))
    return false;
  if (queued != NULL)
    *queued = true;
  return true;
}
