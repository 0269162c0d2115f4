/* bounces.c - see bounces.h. */
#include "postdesk/bounces.h"

#include <string.h>

#include "postdesk/json.h"

/* True when 'p' starts an enhanced status code of class 'cls' ("5.1.1"):
 * the class digit, a dot, digits, a dot, digits, and no more of a dotted
 * number after them (so an IP address is not read as a code). */
static bool
enhanced_code_at (const char *p, char cls)
{
  if (p[0] != cls || p[1] != '.' || !g_ascii_isdigit (p[2]))
    return false;
  p += 2;
  while (g_ascii_isdigit (*p))
    p++;
  if (*p != '.' || !g_ascii_isdigit (p[1]))
    return false;
  p++;
  while (g_ascii_isdigit (*p))
    p++;
  return !(*p == '.' && g_ascii_isdigit (p[1])) && !g_ascii_isalnum (*p);
}

bool
pd_bounce_is_permanent (const char *status, const char *diagnostic)
{
  if (status != NULL && *status != '\0')
    return enhanced_code_at (status, '5');
  if (diagnostic == NULL)
    return false;
  /* "smtp; 550 5.1.1 <x>: user unknown", or the reply alone. */
  const char *p = diagnostic;
  if (g_ascii_strncasecmp (p, "smtp;", 5) == 0)
    p += 5;
  while (*p == ' ' || *p == '\t')
    p++;
  if (p[0] == '5' && g_ascii_isdigit (p[1]) && g_ascii_isdigit (p[2])
      && (p[3] == ' ' || p[3] == '-' || p[3] == '\0'))
    return true;
  /* An enhanced code anywhere, as a word of its own. */
  for (const char *q = diagnostic; *q != '\0'; q++)
    if ((q == diagnostic || (!g_ascii_isalnum (q[-1]) && q[-1] != '.')) && enhanced_code_at (q, '5'))
      return true;
  return false;
}

char *
pd_bounce_suppression_reason (const pd_suppression_t *s)
{
  g_autoptr (GString) why = g_string_new ("the address is suppressed after a bounce:");
  if (s->status != NULL)
    g_string_append_printf (why, " %s", s->status);
  if (s->diagnostic != NULL)
    g_string_append_printf (why, " %s", s->diagnostic);
  if (s->status == NULL && s->diagnostic == NULL)
    g_string_append (why, " a permanent failure");
  return g_string_free (g_steal_pointer (&why), FALSE);
}

/* The row's recipient the report names (any case), else its only one,
 * else NULL. (borrowed from 'o') */
static const char *
failed_recipient (const pd_outbox_item_t *o, const char *reported)
{
  for (guint i = 0; reported != NULL && o->to != NULL && o->to[i] != NULL; i++)
    if (g_ascii_strcasecmp (o->to[i], reported) == 0)
      return o->to[i];
  if (o->to != NULL && o->to[0] != NULL && o->to[1] == NULL)
    return o->to[0];
  return NULL;
}

static void
add_string (JsonBuilder *b, const char *key, const char *value)
{
  if (value == NULL)
    return;
  json_builder_set_member_name (b, key);
  json_builder_add_string_value (b, value);
}

bool
pd_bounce_record (pd_store_t *store, const pd_message_t *msg, pd_time_t at, gint64 *outbox_id,
                  GError **err)
{
  if (outbox_id != NULL)
    *outbox_id = 0;
  const pd_bounce_detail_t *d = msg->bounce_detail;
  if (!msg->bounce || d == NULL)
    return true;
  const char *returned = msg->bounced_message_id != NULL ? msg->bounced_message_id : d->original_message_id;
  if (returned == NULL)
    return true;
  g_autoptr (pd_outbox_item_t) o = NULL;
  if (!pd_store_outbox_find (store, returned, &o, err))
    return false;
  if (o == NULL)
    return true;

  const char *address = failed_recipient (o, d->recipient);
  /* What the row records is what the report said; without a recipient
   * in it, the one the mail went to. */
  const char *recipient = d->recipient != NULL ? d->recipient : address;
  bool marked = false;
  if (!pd_store_outbox_mark_bounced (store, o->id, recipient, d->status, d->diagnostic, at, &marked, err))
    return false;
  bool permanent = pd_bounce_is_permanent (d->status, d->diagnostic);
  g_autofree char *lower = address != NULL ? g_ascii_strdown (address, -1) : NULL;
  if (permanent && lower != NULL)
    {
      pd_suppression_t s = {
        .address = lower,
        .reason = (char *) "bounce",
        .status = d->status,
        .diagnostic = d->diagnostic,
        .ticket_id = o->ticket_id,
        .outbox_id = o->id,
        .created_at = at,
      };
      if (!pd_store_suppress (store, &s, err))
        return false;
    }

  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "outbox_id");
  json_builder_add_int_value (b, o->id);
  add_string (b, "message_id", o->message_id);
  add_string (b, "bounce_message_id", msg->message_id);
  add_string (b, "recipient", recipient);
  add_string (b, "status", d->status);
  add_string (b, "diagnostic", d->diagnostic);
  json_builder_set_member_name (b, "permanent");
  json_builder_add_boolean_value (b, permanent);
  add_string (b, "suppressed", permanent ? lower : NULL);
  if (!marked)
    {
      /* A sender holds the row: it stays as the sender leaves it. */
      json_builder_set_member_name (b, "row_unchanged");
      json_builder_add_boolean_value (b, true);
    }
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *detail = pd_json_to_text (root);
  if (!pd_store_event_add (store, o->ticket_id, at, "postdesk", "bounced", detail, err))
    return false;
  if (outbox_id != NULL)
    *outbox_id = o->id;
  return true;
}
