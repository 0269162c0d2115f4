/* output.c - JSON documents of the command-line contract and text views. */
#include "postdesk/output.h"

#include <stdio.h>
#include <string.h>

char *
pd_ticket_ref (const char *prefix, gint64 id)
{
  return g_strdup_printf ("%s-%" G_GINT64_FORMAT, prefix, id);
}

static void
add_string (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

/* Times are ISO 8601 UTC with Z; 0 (none) is null. */
static void
add_time (JsonBuilder *b, const char *name, pd_time_t t)
{
  g_autofree char *text = t != 0 ? pd_time_format (t) : NULL;
  add_string (b, name, text);
}

static void
add_id_or_null (JsonBuilder *b, const char *name, gint64 id)
{
  json_builder_set_member_name (b, name);
  if (id > 0)
    json_builder_add_int_value (b, id);
  else
    json_builder_add_null_value (b);
}

static void
add_address (JsonBuilder *b, const char *name, const pd_address_t *a)
{
  json_builder_set_member_name (b, name);
  if (a == NULL)
    {
      json_builder_add_null_value (b);
      return;
    }
  json_builder_begin_object (b);
  add_string (b, "name", a->name);
  add_string (b, "address", a->address);
  json_builder_end_object (b);
}

static void
add_address_list (JsonBuilder *b, const char *name, const GPtrArray *list)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; list != NULL && i < list->len; i++)
    {
      const pd_address_t *a = g_ptr_array_index (list, i);
      json_builder_begin_object (b);
      add_string (b, "name", a->name);
      add_string (b, "address", a->address);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

static void
add_attachments (JsonBuilder *b, const GPtrArray *list)
{
  json_builder_set_member_name (b, "attachments");
  json_builder_begin_array (b);
  for (guint i = 0; list != NULL && i < list->len; i++)
    {
      const pd_attachment_t *a = g_ptr_array_index (list, i);
      json_builder_begin_object (b);
      add_string (b, "filename", a->filename);
      add_string (b, "mime_type", a->mime_type);
      json_builder_set_member_name (b, "size");
      json_builder_add_int_value (b, (gint64) a->size);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

static void
add_strv (JsonBuilder *b, const char *name, char *const *v)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (int i = 0; v != NULL && v[i] != NULL; i++)
    json_builder_add_string_value (b, v[i]);
  json_builder_end_array (b);
}

static void
add_bool (JsonBuilder *b, const char *name, bool value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_boolean_value (b, value);
}

JsonNode *
pd_json_parsed_message (const pd_message_t *msg)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  add_string (b, "message_id", msg->message_id);
  add_address (b, "from", msg->from);
  add_address_list (b, "to", msg->to);
  add_address_list (b, "cc", msg->cc);
  add_address_list (b, "reply_to", msg->reply_to);
  add_string (b, "subject", msg->subject);
  add_time (b, "date", msg->date);
  add_string (b, "in_reply_to", msg->in_reply_to);
  json_builder_set_member_name (b, "references");
  json_builder_begin_array (b);
  for (guint i = 0; i < msg->references->len; i++)
    json_builder_add_string_value (b, g_ptr_array_index (msg->references, i));
  json_builder_end_array (b);
  add_string (b, "body_text", msg->body_text);
  add_attachments (b, msg->attachments);
  add_bool (b, "auto_reply", msg->auto_reply);
  add_bool (b, "bulk", msg->bulk);
  add_bool (b, "bounce", msg->bounce);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

JsonNode *
pd_json_ticket (const pd_ticket_t *t, const char *prefix, const GPtrArray *messages)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree char *ref = pd_ticket_ref (prefix, t->id);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_int_value (b, t->id);
  add_string (b, "ref", ref);
  add_string (b, "subject", t->subject);
  add_string (b, "status", t->status);
  json_builder_set_member_name (b, "severity");
  json_builder_add_int_value (b, t->severity);
  add_strv (b, "severity_rules", t->severity_rules);
  add_address (b, "requester", &t->requester);
  add_string (b, "customer", t->customer);
  add_string (b, "plan", t->plan);
  add_time (b, "created_at", t->created_at);
  add_time (b, "updated_at", t->updated_at);
  add_time (b, "first_response_due", t->first_response_due);
  add_time (b, "resolution_due", t->resolution_due);
  add_time (b, "first_response_at", t->first_response_at);
  add_id_or_null (b, "linked_to", t->linked_to);
  add_string (b, "mailbox", t->mailbox);
  json_builder_set_member_name (b, "message_count");
  json_builder_add_int_value (b, t->message_count);
  if (messages != NULL)
    {
      json_builder_set_member_name (b, "messages");
      json_builder_begin_array (b);
      for (guint i = 0; i < messages->len; i++)
        {
          const pd_stored_message_t *m = g_ptr_array_index (messages, i);
          json_builder_begin_object (b);
          add_string (b, "message_id", m->message_id);
          add_string (b, "direction", m->direction);
          add_string (b, "kind", m->kind);
          add_address (b, "from", &m->from);
          add_string (b, "subject", m->subject);
          add_time (b, "received_at", m->received_at);
          add_string (b, "in_reply_to", m->in_reply_to);
          add_string (b, "body_text", m->body_text);
          add_attachments (b, m->attachments);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

JsonNode *
pd_json_outbox_item (const pd_outbox_item_t *o)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_int_value (b, o->id);
  json_builder_set_member_name (b, "ticket");
  json_builder_add_int_value (b, o->ticket_id);
  add_string (b, "kind", o->kind);
  add_strv (b, "to", o->to);
  add_string (b, "subject", o->subject);
  add_string (b, "message_id", o->message_id);
  add_string (b, "in_reply_to", o->in_reply_to);
  add_string (b, "status", o->status);
  json_builder_set_member_name (b, "attempts");
  json_builder_add_int_value (b, o->attempts);
  add_string (b, "last_error", o->last_error);
  add_string (b, "body_text", o->body_text);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

JsonNode *
pd_json_quarantine_item (const pd_quarantine_item_t *q)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_int_value (b, q->id);
  add_string (b, "reason", q->reason);
  add_time (b, "received_at", q->received_at);
  json_builder_set_member_name (b, "size");
  json_builder_add_int_value (b, q->size);
  add_string (b, "mailbox", q->mailbox);
  add_string (b, "origin", q->origin);
  add_string (b, "status", q->status);
  add_id_or_null (b, "ticket", q->ticket_id);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

void
pd_json_print (JsonNode *node)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_indent (gen, 2);
  json_generator_set_root (gen, node);
  g_autofree char *text = json_generator_to_data (gen, NULL);
  fputs (text, stdout);
  fputc ('\n', stdout);
}

void
pd_json_print_list (const GPtrArray *items, pd_json_fn to_json, gconstpointer data)
{
  g_autoptr (JsonArray) arr = json_array_sized_new (items->len);
  for (guint i = 0; i < items->len; i++)
    json_array_add_element (arr, to_json (g_ptr_array_index (items, i), data));
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_ARRAY);
  json_node_set_array (node, arr);
  pd_json_print (node);
}

static void
print_address (const char *label, const pd_address_t *a)
{
  if (a == NULL)
    printf ("%s: (none)\n", label);
  else if (a->name != NULL)
    printf ("%s: %s <%s>\n", label, a->name, a->address);
  else
    printf ("%s: %s\n", label, a->address);
}

static void
print_address_list (const char *label, const GPtrArray *list)
{
  if (list->len == 0)
    return;
  printf ("%s: ", label);
  for (guint i = 0; i < list->len; i++)
    {
      const pd_address_t *a = g_ptr_array_index (list, i);
      printf ("%s%s", i > 0 ? ", " : "", a->address);
    }
  printf ("\n");
}

void
pd_print_parsed_message (const pd_message_t *msg)
{
  printf ("Message-ID: %s%s\n", msg->message_id, msg->message_id_synthetic ? " (synthetic)" : "");
  print_address ("From", msg->from);
  print_address_list ("To", msg->to);
  print_address_list ("Cc", msg->cc);
  print_address_list ("Reply-To", msg->reply_to);
  printf ("Subject: %s\n", msg->subject);
  if (msg->date != 0)
    {
      g_autofree char *d = pd_time_format (msg->date);
      printf ("Date: %s\n", d);
    }
  if (msg->in_reply_to != NULL)
    printf ("In-Reply-To: %s\n", msg->in_reply_to);
  for (guint i = 0; i < msg->references->len; i++)
    printf ("References: %s\n", (const char *) g_ptr_array_index (msg->references, i));
  GString *flags = g_string_new (NULL);
  if (msg->auto_reply)
    g_string_append (flags, " auto-reply");
  if (msg->bulk)
    g_string_append (flags, " bulk");
  if (msg->bounce)
    g_string_append (flags, " bounce");
  if (flags->len > 0)
    printf ("Flags:%s\n", flags->str);
  g_string_free (flags, TRUE);
  for (guint i = 0; i < msg->attachments->len; i++)
    {
      const pd_attachment_t *a = g_ptr_array_index (msg->attachments, i);
      printf ("Attachment: %s (%s, %" G_GSIZE_FORMAT " bytes)\n", a->filename, a->mime_type, a->size);
    }
  printf ("\n%s\n", msg->body_text);
}

void
pd_print_ticket (const pd_ticket_t *t, const char *prefix, const GPtrArray *messages)
{
  g_autofree char *ref = pd_ticket_ref (prefix, t->id);
  g_autofree char *created = pd_time_format (t->created_at);
  printf ("%s  %s\n", ref, t->subject);
  printf ("Status:    %s\n", t->status);
  printf ("Severity:  %d\n", t->severity);
  print_address ("Requester", &t->requester);
  printf ("Opened:    %s\n", created);
  if (t->linked_to > 0)
    {
      g_autofree char *linked = pd_ticket_ref (prefix, t->linked_to);
      printf ("Linked to: %s\n", linked);
    }
  for (guint i = 0; messages != NULL && i < messages->len; i++)
    {
      const pd_stored_message_t *m = g_ptr_array_index (messages, i);
      g_autofree char *at = pd_time_format (m->received_at);
      printf ("\n--- %s %s, %s, from %s\n", m->direction, m->kind, at, m->from.address);
      printf ("Subject: %s\n", m->subject);
      for (guint j = 0; j < m->attachments->len; j++)
        {
          const pd_attachment_t *a = g_ptr_array_index (m->attachments, j);
          printf ("Attachment: %s (%s, %" G_GSIZE_FORMAT " bytes)\n", a->filename, a->mime_type, a->size);
        }
      printf ("\n%s\n", m->body_text);
    }
}

/* Subjects are cut to fit a terminal line, on a character boundary. */
static char *
cut (const char *s, glong width)
{
  if (g_utf8_strlen (s, -1) <= width)
    return g_strdup (s);
  g_autofree char *head = g_utf8_substring (s, 0, width - 1);
  return g_strconcat (head, "…", NULL);
}

void
pd_print_ticket_table (const GPtrArray *tickets, const char *prefix)
{
  printf ("%-10s %-8s %-3s %-20s %-30s %s\n", "TICKET", "STATUS", "SEV", "OPENED", "REQUESTER", "SUBJECT");
  for (guint i = 0; i < tickets->len; i++)
    {
      const pd_ticket_t *t = g_ptr_array_index (tickets, i);
      g_autofree char *ref = pd_ticket_ref (prefix, t->id);
      g_autofree char *created = pd_time_format (t->created_at);
      g_autofree char *who = cut (t->requester.address, 30);
      g_autofree char *subject = cut (t->subject, 60);
      printf ("%-10s %-8s %-3d %-20s %-30s %s\n", ref, t->status, t->severity, created, who, subject);
    }
}
