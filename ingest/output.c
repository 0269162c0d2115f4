/* output.c - JSON documents of the command-line contract and text views.
 *
 * Both kinds of output are written in one place each: pd_json_print writes
 * every JSON document (json-glib only builds the tree), and every text view
 * passes what came from a message through text.h before printing it. */
#include "postdesk/output.h"

#include "postdesk/json.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "postdesk/text.h"

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

/* What a delivery-failure report says; null when the message is not one. */
static void
add_bounce_detail (JsonBuilder *b, const pd_bounce_detail_t *d)
{
  json_builder_set_member_name (b, "bounce_detail");
  if (d == NULL)
    {
      json_builder_add_null_value (b);
      return;
    }
  json_builder_begin_object (b);
  add_string (b, "recipient", d->recipient);
  add_string (b, "status", d->status);
  add_string (b, "diagnostic", d->diagnostic);
  add_string (b, "original_message_id", d->original_message_id);
  json_builder_end_object (b);
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
  add_bounce_detail (b, msg->bounce_detail);
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
  add_strv (b, "tags", t->tags);
  add_string (b, "opened_by", t->opened_by);
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
          /* When the sender says it wrote, beside when it arrived: an
           * imported mailbox keeps its chronology either way. */
          add_time (b, "date", m->date);
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
  add_time (b, "created_at", o->created_at);
  add_time (b, "next_attempt_at", o->next_attempt_at);
  add_time (b, "sent_at", o->sent_at);
  add_string (b, "bounce_recipient", o->bounce_recipient);
  add_string (b, "bounce_status", o->bounce_status);
  add_string (b, "bounce_diagnostic", o->bounce_diagnostic);
  add_time (b, "bounced_at", o->bounced_at);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

JsonNode *
pd_json_suppression (const pd_suppression_t *s)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  add_string (b, "address", s->address);
  add_string (b, "reason", s->reason);
  add_string (b, "status", s->status);
  add_string (b, "diagnostic", s->diagnostic);
  add_time (b, "since", s->created_at);
  add_id_or_null (b, "ticket", s->ticket_id);
  add_id_or_null (b, "outbox_id", s->outbox_id);
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
  g_autoptr (GString) text = g_string_new (NULL);
  pd_json_write (text, node, true);
  g_string_append_c (text, '\n');
  fwrite (text->str, 1, text->len, stdout);
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

/* ---- text views ---------------------------------------------------------
 * Every value from a message is printed through pd_text_line (one line,
 * no controls) or, for bodies, pd_text_block; see text.h. */

/* "Name <address>", or the address alone, safe to print (transfer full). */
static char *
address_text (const pd_address_t *a)
{
  g_autofree char *addr = pd_text_line (a->address);
  if (a->name == NULL || *a->name == '\0')
    return g_steal_pointer (&addr);
  g_autofree char *name = pd_text_line (a->name);
  return g_strdup_printf ("%s <%s>", name, addr);
}

bool
pd_output_is_terminal (void)
{
  return isatty (STDOUT_FILENO) == 1;
}

/* Times for people: the local zone on a terminal, where a person reads
 * them; UTC with Z otherwise, so that saved or piped output means the same
 * everywhere (transfer full). */
static char *
view_time (pd_time_t t)
{
  if (!pd_output_is_terminal ())
    return pd_time_format (t);
  g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (t);
  g_autoptr (GDateTime) local = utc != NULL ? g_date_time_to_local (utc) : NULL;
  if (local == NULL)
    return pd_time_format (t);
  return g_date_time_format (local, "%Y-%m-%d %H:%M");
}

static void
print_address (const char *label, const pd_address_t *a)
{
  if (a == NULL)
    {
      printf ("%s: (none)\n", label);
      return;
    }
  g_autofree char *text = address_text (a);
  printf ("%s: %s\n", label, text);
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
      g_autofree char *addr = pd_text_line (a->address);
      printf ("%s%s", i > 0 ? ", " : "", addr);
    }
  printf ("\n");
}

static void
print_attachments (const GPtrArray *list)
{
  for (guint i = 0; list != NULL && i < list->len; i++)
    {
      const pd_attachment_t *a = g_ptr_array_index (list, i);
      g_autofree char *name = pd_text_line (a->filename);
      g_autofree char *type = pd_text_line (a->mime_type);
      printf ("Attachment: %s (%s, %" G_GSIZE_FORMAT " bytes)\n", name, type, a->size);
    }
}

static void
print_body (const char *body)
{
  g_autofree char *text = pd_text_block (body, -1);
  printf ("\n%s\n", text);
}

void
pd_print_parsed_message (const pd_message_t *msg)
{
  g_autofree char *message_id = pd_text_line (msg->message_id);
  printf ("Message-ID: %s%s\n", message_id, msg->message_id_synthetic ? " (synthetic)" : "");
  print_address ("From", msg->from);
  print_address_list ("To", msg->to);
  print_address_list ("Cc", msg->cc);
  print_address_list ("Reply-To", msg->reply_to);
  g_autofree char *subject = pd_text_line (msg->subject);
  printf ("Subject: %s\n", subject);
  if (msg->date != 0)
    {
      g_autofree char *d = pd_time_format (msg->date);
      printf ("Date: %s\n", d);
    }
  if (msg->in_reply_to != NULL)
    {
      g_autofree char *irt = pd_text_line (msg->in_reply_to);
      printf ("In-Reply-To: %s\n", irt);
    }
  for (guint i = 0; i < msg->references->len; i++)
    {
      g_autofree char *ref = pd_text_line (g_ptr_array_index (msg->references, i));
      printf ("References: %s\n", ref);
    }
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
  const pd_bounce_detail_t *d = msg->bounce_detail;
  if (d != NULL)
    {
      /* Each part came from the mail: shown like message text. */
      g_autofree char *rcpt = pd_text_line (d->recipient != NULL ? d->recipient : "unknown recipient");
      g_autofree char *status = pd_text_line (d->status != NULL ? d->status : "no status");
      g_autofree char *diag = d->diagnostic != NULL ? pd_text_line (d->diagnostic) : NULL;
      printf ("Bounce: %s (%s)%s%s\n", rcpt, status, diag != NULL ? ": " : "", diag != NULL ? diag : "");
      if (d->original_message_id != NULL)
        {
          g_autofree char *id = pd_text_line (d->original_message_id);
          printf ("Bounced-Message-ID: %s\n", id);
        }
    }
  print_attachments (msg->attachments);
  print_body (msg->body_text);
}

void
pd_print_ticket (const pd_ticket_t *t, const char *prefix, const GPtrArray *messages)
{
  g_autofree char *ref = pd_ticket_ref (prefix, t->id);
  g_autofree char *created = view_time (t->created_at);
  g_autofree char *subject = pd_text_line (t->subject);
  g_autofree char *status = pd_text_line (t->status);
  printf ("%s  %s\n", ref, subject);
  printf ("Status:    %s\n", status);
  g_autofree char *rules = t->severity_rules != NULL && t->severity_rules[0] != NULL
                            ? g_strjoinv (", ", t->severity_rules) : NULL;
  g_autofree char *rules_line = rules != NULL ? pd_text_line (rules) : NULL;
  if (rules_line != NULL)
    printf ("Severity:  %d (%s)\n", t->severity, rules_line);
  else
    printf ("Severity:  %d\n", t->severity);
  print_address ("Requester", &t->requester);
  printf ("Opened:    %s\n", created);
  if (t->plan != NULL)
    {
      g_autofree char *plan = pd_text_line (t->plan);
      g_autofree char *customer = t->customer != NULL ? pd_text_line (t->customer) : NULL;
      printf ("Plan:      %s%s%s\n", plan, customer != NULL ? ", customer " : "",
              customer != NULL ? customer : "");
    }
  /* The SLA at a glance: what is due when, or why nothing is. */
  if (t->first_response_due != 0)
    {
      g_autofree char *first = view_time (t->first_response_due);
      printf ("Due:       first response by %s", first);
      if (t->resolution_due != 0)
        {
          g_autofree char *resolution = view_time (t->resolution_due);
          printf (", resolution by %s", resolution);
        }
      printf ("\n");
    }
  else if (t->opened_by != NULL && strcmp (t->opened_by, "customer") != 0)
    {
      g_autofree char *opener = pd_text_line (t->opened_by);
      printf ("Due:       nothing (opened by %s mail; the clock starts when someone writes)\n", opener);
    }
  if (t->linked_to > 0)
    {
      g_autofree char *linked = pd_ticket_ref (prefix, t->linked_to);
      printf ("Linked to: %s\n", linked);
    }
  for (guint i = 0; messages != NULL && i < messages->len; i++)
    {
      const pd_stored_message_t *m = g_ptr_array_index (messages, i);
      g_autofree char *at = view_time (m->received_at);
      g_autofree char *direction = pd_text_line (m->direction);
      g_autofree char *kind = pd_text_line (m->kind);
      g_autofree char *from = address_text (&m->from);
      g_autofree char *msubject = pd_text_line (m->subject);
      printf ("\n--- %s %s, %s, from %s\n", direction, kind, at, from);
      printf ("Subject: %s\n", msubject);
      if (m->date != 0)
        {
          g_autofree char *date = view_time (m->date);
          printf ("Date:    %s\n", date);
        }
      print_attachments (m->attachments);
      print_body (m->body_text);
    }
}

/* The width to fit a table in: $COLUMNS when set (as shells do for a
 * terminal, and as a user may to ask for a width), else the terminal's
 * own width; 0 (no limit) when writing to a file or a pipe, where cut
 * subjects would only lose information. */
static guint
output_width (void)
{
  const char *env = g_getenv ("COLUMNS");
  guint64 n = 0;
  if (env != NULL && g_ascii_string_to_unsigned (env, 10, 1, 10000, &n, NULL))
    return (guint) n;
  struct winsize ws;
  if (pd_output_is_terminal () && ioctl (STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    return ws.ws_col;
  return 0;
}

typedef struct {
  char *ref;       /* owned */
  char *status;    /* owned, safe */
  char *opened;    /* owned */
  char *who_full;  /* owned, safe: "Name <address>" or the address */
  char *who_short; /* owned, safe: the name, or the address when there is none */
  char *subject;   /* owned, safe */
} table_row_t;

static void
table_row_clear (table_row_t *r)
{
  g_free (r->ref);
  g_free (r->status);
  g_free (r->opened);
  g_free (r->who_full);
  g_free (r->who_short);
  g_free (r->subject);
}

#define MIN_SUBJECT_CELLS 20

void
pd_print_ticket_table (const GPtrArray *tickets, const char *prefix)
{
  guint n = tickets->len;
  g_autofree table_row_t *rows = g_new0 (table_row_t, n > 0 ? n : 1);
  guint w_ref = 6, w_status = 6, w_opened = 6, w_full = 9, w_short = 9, w_subject = 7;
  for (guint i = 0; i < n; i++)
    {
      const pd_ticket_t *t = g_ptr_array_index (tickets, i);
      table_row_t *r = &rows[i];
      r->ref = pd_ticket_ref (prefix, t->id);
      r->status = pd_text_line (t->status);
      r->opened = view_time (t->created_at);
      r->who_full = address_text (&t->requester);
      r->who_short = pd_text_line (t->requester.name != NULL && *t->requester.name != '\0' ? t->requester.name
                                                                                          : t->requester.address);
      r->subject = pd_text_line (t->subject);
      w_ref = MAX (w_ref, pd_text_cells (r->ref));
      w_status = MAX (w_status, pd_text_cells (r->status));
      w_opened = MAX (w_opened, pd_text_cells (r->opened));
      w_full = MAX (w_full, pd_text_cells (r->who_full));
      w_short = MAX (w_short, pd_text_cells (r->who_short));
      w_subject = MAX (w_subject, pd_text_cells (r->subject));
    }

  /* The fixed columns come first; the requester and the subject share what
   * is left. The requester is "Name <address>" when that leaves the subject
   * MIN_SUBJECT_CELLS, else the name alone, cut if it must be; the subject
   * takes the rest and is cut with an ellipsis. */
  guint width = output_width ();
  guint fixed = w_ref + 1 + w_status + 1 + 3 + 1 + w_opened + 1;
  bool full = true;
  guint w_who = w_full;
  if (width > 0)
    {
      guint rest = width > fixed + 1 ? width - fixed - 1 : 0;
      guint room = rest > MIN_SUBJECT_CELLS ? rest - MIN_SUBJECT_CELLS : 0;
      if (w_full > room)
        {
          full = false;
          w_who = MAX (9, MIN (w_short, room));
        }
      w_subject = rest > w_who ? rest - w_who : 1;
    }

  g_autofree char *h_ref = pd_text_fit ("TICKET", w_ref);
  g_autofree char *h_status = pd_text_fit ("STATUS", w_status);
  g_autofree char *h_opened = pd_text_fit ("OPENED", w_opened);
  g_autofree char *h_who = pd_text_fit ("REQUESTER", w_who);
  printf ("%s %s SEV %s %s SUBJECT\n", h_ref, h_status, h_opened, h_who);
  for (guint i = 0; i < n; i++)
    {
      const pd_ticket_t *t = g_ptr_array_index (tickets, i);
      table_row_t *r = &rows[i];
      g_autofree char *ref = pd_text_fit (r->ref, w_ref);
      g_autofree char *status = pd_text_fit (r->status, w_status);
      g_autofree char *opened = pd_text_fit (r->opened, w_opened);
      g_autofree char *who = pd_text_fit (full ? r->who_full : r->who_short, w_who);
      /* The last column is not padded: trailing blanks help no one. */
      g_autofree char *subject = pd_text_cells (r->subject) > w_subject ? pd_text_fit (r->subject, w_subject)
                                                                          : g_strdup (r->subject);
      printf ("%s %s %-3d %s %s %s\n", ref, status, t->severity, opened, who, subject);
      table_row_clear (r);
    }
}
