/* test_compose.c - outgoing messages: what a mail reader sees when it
 * parses them back (postdesk's own parser stands in for it), what the raw
 * bytes must be for any relay (CRLF, 7-bit, one of each header), the
 * unguessable Message-ID, and every input that could smuggle in a
 * recipient or a header being refused. */
#include <string.h>

#include "postdesk/compose.h"
#include "postdesk/mime.h"
#include "postdesk/template.h"
#include "testutil.h"

static const char *const to_jane[] = { "jane@customer.example", NULL };
static const char *const refs[] = { "root@customer.example", "orig.1@customer.example", NULL };

/* An acknowledgement as the pipeline would build it. */
static pd_compose_t
an_ack (void)
{
  pd_compose_t in = {
    .from_name = "Example Support",
    .from_address = "support@example.com",
    .reply_to = "support@example.com",
    .to = to_jane,
    .subject = "[SUP-7] Büro-Server antwortet nicht – dringend",
    .body = "Hello Jane,\n\nWe have opened ticket SUP-7. Grüße, naïve café.\n",
    .in_reply_to = "orig.1@customer.example",
    .references = refs,
    .id_domain = "Example.COM",
    .date = 1773270000, /* 2026-03-11T23:00:00Z */
    .auto_reply = true,
  };
  return in;
}

static GBytes *
compose_ok (const pd_compose_t *in, char **id)
{
  GBytes *raw = NULL;
  char *message_id = NULL;
  GError *err = NULL;
  if (!pd_compose_message (in, &raw, &message_id, &err))
    g_error ("compose failed: %s", err->message);
  if (id != NULL)
    *id = message_id;
  else
    g_free (message_id);
  return raw;
}

/* The error message for an input that must be refused. (transfer full) */
static char *
refusal (const pd_compose_t *in)
{
  GBytes *raw = NULL;
  char *id = NULL;
  GError *err = NULL;
  g_assert_false (pd_compose_message (in, &raw, &id, &err));
  g_assert_null (raw);
  g_assert_null (id);
  g_assert_error (err, PD_ERROR, PD_ERROR_REJECTED);
  char *msg = g_strdup (err->message);
  g_error_free (err);
  return msg;
}

/* How many header lines of the top-level header are called 'name'. */
static guint
header_count (const char *raw, const char *name)
{
  guint n = 0;
  gsize nl = strlen (name);
  for (const char *line = raw; *line != '\0';)
    {
      if (line[0] == '\r' && line[1] == '\n')
        break;  /* the end of the header */
      if (g_ascii_strncasecmp (line, name, nl) == 0 && line[nl] == ':')
        n++;
      const char *next = strchr (line, '\n');
      if (next == NULL)
        break;
      line = next + 1;
    }
  return n;
}

static void
test_an_ack_parses_back_with_every_header_and_the_body (void)
{
  pd_compose_t in = an_ack ();
  g_autoptr (GPtrArray) extra = g_ptr_array_new ();
  pd_template_header_t x_ticket = { (char *) "X-Ticket", (char *) "SUP-7 — Büro" };
  g_ptr_array_add (extra, &x_ticket);
  in.headers = extra;
  g_autofree char *id = NULL;
  g_autoptr (GBytes) raw = compose_ok (&in, &id);
  gsize len;
  const char *data = g_bytes_get_data (raw, &len);
  g_autoptr (pd_message_t) msg = pd_mime_parse (data, len, 0, NULL);
  g_assert_nonnull (msg);

  g_assert_cmpstr (msg->message_id, ==, id);
  g_assert_false (msg->message_id_synthetic);
  g_assert_cmpstr (msg->from->name, ==, "Example Support");
  g_assert_cmpstr (msg->from->address, ==, "support@example.com");
  g_assert_cmpuint (msg->to->len, ==, 1);
  g_assert_cmpstr (((pd_address_t *) msg->to->pdata[0])->address, ==, "jane@customer.example");
  g_assert_cmpuint (msg->reply_to->len, ==, 1);
  g_assert_cmpstr (((pd_address_t *) msg->reply_to->pdata[0])->address, ==, "support@example.com");
  g_assert_cmpstr (msg->subject, ==, "[SUP-7] Büro-Server antwortet nicht – dringend");
  g_assert_cmpint (msg->date, ==, 1773270000);
  g_assert_cmpstr (msg->in_reply_to, ==, "orig.1@customer.example");
  g_assert_cmpuint (msg->references->len, ==, 2);
  g_assert_cmpstr (msg->references->pdata[0], ==, "root@customer.example");
  g_assert_cmpstr (msg->references->pdata[1], ==, "orig.1@customer.example");
  g_assert_cmpstr (pd_message_header (msg, "Auto-Submitted"), ==, "auto-replied");
  g_assert_cmpstr (pd_message_header (msg, "X-Auto-Response-Suppress"), ==, "All");
  g_assert_cmpstr (pd_message_header (msg, "X-Ticket"), ==, "SUP-7 — Büro");
  g_assert_cmpstr (pd_message_header (msg, "MIME-Version"), ==, "1.0");
  g_assert_true (g_str_has_prefix (pd_message_header (msg, "Content-Type"), "text/plain; charset=utf-8"));
  /* Our own parser recognises our acknowledgement as an automatic reply,
   * which is what keeps two desks from answering each other forever. */
  g_assert_true (msg->auto_reply);
  g_assert_cmpstr (msg->body_text, ==, "Hello Jane,\n\nWe have opened ticket SUP-7. Grüße, naïve café.\n");
}

static void
test_the_raw_bytes_are_crlf_seven_bit_with_one_of_each_header (void)
{
  pd_compose_t in = an_ack ();
  /* A line far over SMTP's 998-byte limit, pure ASCII: it must still be
   * encoded rather than sent as it is. */
  g_autofree char *long_line = g_strnfill (3000, 'a');
  g_autofree char *body = g_strdup_printf ("short\n%s\nend\n", long_line);
  in.body = body;
  g_autoptr (GBytes) raw = compose_ok (&in, NULL);
  gsize len;
  const char *data = g_bytes_get_data (raw, &len);
  g_autofree char *text = g_strndup (data, len);
  gsize line_len = 0;
  for (gsize i = 0; i < len; i++)
    {
      g_assert_cmpuint ((guchar) data[i], <, 128);
      g_assert_cmpuint ((guchar) data[i], !=, 0);
      if (data[i] == '\n')
        {
          g_assert_true (i > 0 && data[i - 1] == '\r');
          line_len = 0;
        }
      else
        g_assert_cmpuint (++line_len, <=, 998);
      if (data[i] == '\r')
        g_assert_true (i + 1 < len && data[i + 1] == '\n');
    }
  static const char *const once[] = {
    "From", "To", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
    "Auto-Submitted", "X-Auto-Response-Suppress", "MIME-Version", "Content-Type",
    "Content-Transfer-Encoding",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (once); i++)
    if (header_count (text, once[i]) != 1)
      g_error ("%s appears %u times in:\n%s", once[i], header_count (text, once[i]), text);
  g_assert_cmpuint (header_count (text, "Cc"), ==, 0);
  g_assert_cmpuint (header_count (text, "Bcc"), ==, 0);
  g_assert_nonnull (strstr (text, "\r\nSubject: =?"));  /* RFC 2047 for the non-ASCII subject */
  g_assert_true (strstr (text, "Content-Transfer-Encoding: quoted-printable\r\n") != NULL
                 || strstr (text, "Content-Transfer-Encoding: base64\r\n") != NULL);
  g_autoptr (pd_message_t) msg = pd_mime_parse (data, len, 0, NULL);
  g_assert_nonnull (strstr (msg->body_text, long_line));
}

static void
test_a_message_that_is_not_an_auto_reply_has_no_auto_reply_headers (void)
{
  pd_compose_t in = an_ack ();
  in.auto_reply = false;
  in.reply_to = NULL;
  in.in_reply_to = NULL;
  in.references = NULL;
  in.from_name = NULL;
  g_autoptr (GBytes) raw = compose_ok (&in, NULL);
  g_autofree char *text = g_strndup (g_bytes_get_data (raw, NULL), g_bytes_get_size (raw));
  static const char *const absent[] = { "Auto-Submitted", "X-Auto-Response-Suppress", "Reply-To",
                                        "In-Reply-To", "References" };
  for (gsize i = 0; i < G_N_ELEMENTS (absent); i++)
    g_assert_cmpuint (header_count (text, absent[i]), ==, 0);
  g_assert_nonnull (strstr (text, "\r\nFrom: support@example.com\r\n"));
}

static void
test_message_ids_are_random_base32_on_the_support_domain (void)
{
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GRegex) shape = g_regex_new ("^pd\\.[a-z2-7]{32}@example\\.com$", 0, 0, NULL);
  for (int i = 0; i < 2000; i++)
    {
      char *id = pd_compose_message_id ("Example.com", NULL);
      g_assert_true (g_regex_match (shape, id, 0, NULL));
      g_assert_false (g_hash_table_contains (seen, id));
      g_hash_table_add (seen, id);
    }
  /* 32 base32 characters are 160 bits; the issue asks for at least 128. */
  g_assert_cmpint (PD_COMPOSE_ID_RANDOM_BYTES * 8, >=, 128);
  /* Every character position varies: no counter or clock hides in them. */
  for (int pos = 3; pos < 3 + 32; pos++)
    {
      GHashTableIter it;
      gpointer key;
      guint distinct[256] = { 0 };
      guint kinds = 0;
      g_hash_table_iter_init (&it, seen);
      while (g_hash_table_iter_next (&it, &key, NULL))
        if (distinct[(guchar) ((char *) key)[pos]]++ == 0)
          kinds++;
      g_assert_cmpuint (kinds, >=, pos == 34 ? 2 : 30);
    }
  GError *err = NULL;
  g_assert_null (pd_compose_message_id ("bad domain", &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_REJECTED);
  g_error_free (err);
}

static void
test_an_encoded_word_in_the_subject_stays_literal_text (void)
{
  /* A customer who writes an encoded word as plain text (or an attacker
   * who hopes it is decoded into a line break) gets it back as text: the
   * composer encodes it, so a reader decodes it to what was written. */
  pd_compose_t in = an_ack ();
  in.subject = "[SUP-7] =?utf-8?q?a=0D=0ABcc:_x@example.org?=";
  g_autoptr (GBytes) raw = compose_ok (&in, NULL);
  gsize len;
  const char *data = g_bytes_get_data (raw, &len);
  g_autofree char *text = g_strndup (data, len);
  g_assert_cmpuint (header_count (text, "Bcc"), ==, 0);
  g_autoptr (pd_message_t) msg = pd_mime_parse (data, len, 0, NULL);
  g_assert_cmpstr (msg->subject, ==, "[SUP-7] =?utf-8?q?a=0D=0ABcc:_x@example.org?=");
}

static void
test_addresses_that_could_add_a_recipient_or_header_are_refused (void)
{
  static const struct {
    const char *address;
    const char *why;
  } bad[] = {
    { "jane@customer.example\r\nBcc: x@evil.example", "it holds a space or a control character" },
    { "jane@customer.example\nX: y", "it holds a space or a control character" },
    { "Jane <jane@customer.example>", "it holds a space or a control character" },
    { "<jane@customer.example>", "it holds one of < > ( ) , ; : \" [ ] \\" },
    { "jane@customer.example,x@evil.example", "it holds one of < > ( ) , ; : \" [ ] \\" },
    { "jane@customer.example;x@evil.example", "it holds one of < > ( ) , ; : \" [ ] \\" },
    { "jane", "it is not local@domain" },
    { "@customer.example", "it is not local@domain" },
    { "a@b@c", "it is not local@domain" },
    { "", "it is empty" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      pd_compose_t in = an_ack ();
      const char *to[] = { bad[i].address, NULL };
      in.to = to;
      g_autofree char *msg = refusal (&in);
      g_autofree char *shown = g_strescape (bad[i].address, NULL);
      g_autofree char *expected = g_strdup_printf ("refusing the To address \"%s\": %s", shown, bad[i].why);
      g_assert_cmpstr (msg, ==, expected);
    }
  pd_compose_t in = an_ack ();
  g_autofree char *local = g_strnfill (250, 'a');
  g_autofree char *long_address = g_strdup_printf ("%s@b.cd", local);
  in.reply_to = long_address;
  g_autofree char *msg = refusal (&in);
  g_assert_true (g_str_has_suffix (msg, "\": it is longer than 254 bytes"));
  g_assert_true (g_str_has_prefix (msg, "refusing the Reply-To address"));
  in = an_ack ();
  in.from_address = "support@example.com>";
  g_autofree char *from = refusal (&in);
  g_assert_true (g_str_has_prefix (from, "refusing the From address"));
  in = an_ack ();
  const char *none[] = { NULL };
  in.to = none;
  g_autofree char *no_to = refusal (&in);
  g_assert_cmpstr (no_to, ==, "a message needs at least one To address");
}

static void
test_ids_subjects_and_headers_that_could_break_a_line_are_refused (void)
{
  pd_compose_t in = an_ack ();
  in.in_reply_to = "a@b>\r\nBcc: x@evil.example";
  g_autofree char *irt = refusal (&in);
  g_assert_true (g_str_has_prefix (irt, "refusing the In-Reply-To id"));

  in = an_ack ();
  const char *bad_refs[] = { "ok@x", "two words@x", NULL };
  in.references = bad_refs;
  g_autofree char *r = refusal (&in);
  g_assert_cmpstr (r, ==, "refusing the References id \"two words@x\": it holds a space, a control character, < or >");

  in = an_ack ();
  in.subject = "Hi\r\nBcc: x@evil.example";
  g_autofree char *s = refusal (&in);
  g_assert_cmpstr (s, ==, "refusing the Subject: it holds a line break or another control character");

  in = an_ack ();
  in.subject = "";
  g_autofree char *empty = refusal (&in);
  g_assert_cmpstr (empty, ==, "refusing the Subject: it is empty");

  in = an_ack ();
  g_autoptr (GPtrArray) extra = g_ptr_array_new ();
  pd_template_header_t bcc = { (char *) "Bcc", (char *) "x@evil.example" };
  g_ptr_array_add (extra, &bcc);
  in.headers = extra;
  g_autofree char *h = refusal (&in);
  g_assert_cmpstr (h, ==, "refusing the header 'Bcc': postdesk sets it itself or a template may not");

  g_ptr_array_set_size (extra, 0);
  pd_template_header_t folded = { (char *) "X-Note", (char *) "a\r\nBcc: x@evil.example" };
  g_ptr_array_add (extra, &folded);
  g_autofree char *v = refusal (&in);
  g_assert_cmpstr (v, ==, "refusing the X-Note header: it holds a line break or another control character");

  in = an_ack ();
  in.id_domain = "example.com>";
  GBytes *raw = NULL;
  char *id = NULL;
  GError *err = NULL;
  g_assert_false (pd_compose_message (&in, &raw, &id, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_REJECTED);
  g_assert_cmpstr (err->message, ==, "cannot make a Message-ID on the domain 'example.com>'");
  g_error_free (err);
}

static void
test_a_rendered_template_composes_into_a_message (void)
{
  /* The two halves together, as the pipeline will use them. */
  static const char text[] = "Subject: [{{ticket_ref}}] {{subject}}\nX-Ticket: {{ticket_ref}}\n\n"
                             "Hello {{requester_name}},\n";
  g_autoptr (pd_template_t) t = NULL;
  g_assert_true (pd_template_parse ("ack.tmpl", text, strlen (text), &t, NULL));
  g_autoptr (pd_tvars_t) v = pd_tvars_new ();
  pd_tvars_set (v, "ticket_ref", "SUP-9");
  pd_tvars_set (v, "subject", "Re: help\r\nBcc: x@evil.example");
  pd_tvars_set (v, "requester_name", "Zoë");
  g_autoptr (pd_rendered_t) r = NULL;
  g_assert_true (pd_template_render (t, v, &r, NULL));
  pd_compose_t in = an_ack ();
  in.subject = r->subject;
  in.headers = r->headers;
  in.body = r->body;
  g_autoptr (GBytes) raw = compose_ok (&in, NULL);
  gsize len;
  const char *data = g_bytes_get_data (raw, &len);
  g_autoptr (pd_message_t) msg = pd_mime_parse (data, len, 0, NULL);
  g_assert_cmpstr (msg->subject, ==, "[SUP-9] Re: help Bcc: x@evil.example");
  g_assert_cmpstr (pd_message_header (msg, "X-Ticket"), ==, "SUP-9");
  g_assert_null (pd_message_header (msg, "Bcc"));
  g_assert_cmpstr (msg->body_text, ==, "Hello Zoë,\n");
}

int
main (int argc, char **argv)
{
  pd_test_init (&argc, &argv);
  g_test_add_func ("/compose/parses-back", test_an_ack_parses_back_with_every_header_and_the_body);
  g_test_add_func ("/compose/raw-bytes", test_the_raw_bytes_are_crlf_seven_bit_with_one_of_each_header);
  g_test_add_func ("/compose/not-auto-reply", test_a_message_that_is_not_an_auto_reply_has_no_auto_reply_headers);
  g_test_add_func ("/compose/message-id", test_message_ids_are_random_base32_on_the_support_domain);
  g_test_add_func ("/compose/encoded-word-subject", test_an_encoded_word_in_the_subject_stays_literal_text);
  g_test_add_func ("/compose/refuse/addresses", test_addresses_that_could_add_a_recipient_or_header_are_refused);
  g_test_add_func ("/compose/refuse/lines", test_ids_subjects_and_headers_that_could_break_a_line_are_refused);
  g_test_add_func ("/compose/with-template", test_a_rendered_template_composes_into_a_message);
  return g_test_run ();
}
