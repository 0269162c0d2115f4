/* test_mime.c - what pd_mime_parse makes of real-world mail, broken mail and
 * things that are not mail at all. Corpus files live in tests/corpus/mime/;
 * inputs that are too big or too regular to keep as files are built here. */
#include <string.h>

#include "postdesk/mime.h"
#include "testutil.h"

/* ---- Helpers --------------------------------------------------------------- */

static void
assert_utf8 (const char *s)
{
  g_assert_nonnull (s);
  g_assert_true (g_utf8_validate (s, -1, NULL));
}

static void
assert_addresses_utf8 (GPtrArray *list)
{
  for (guint i = 0; i < list->len; i++)
    {
      const pd_address_t *a = g_ptr_array_index (list, i);
      assert_utf8 (a->address);
      if (a->name != NULL)
        assert_utf8 (a->name);
    }
}

/* Every string a parse produces must be valid UTF-8, whatever came in. */
static void
assert_message_utf8 (const pd_message_t *msg)
{
  assert_utf8 (msg->message_id);
  assert_utf8 (msg->subject);
  assert_utf8 (msg->body_text);
  if (msg->from != NULL)
    {
      assert_utf8 (msg->from->address);
      if (msg->from->name != NULL)
        assert_utf8 (msg->from->name);
    }
  assert_addresses_utf8 (msg->to);
  assert_addresses_utf8 (msg->cc);
  assert_addresses_utf8 (msg->reply_to);
  for (guint i = 0; i < msg->envelope_to->len; i++)
    assert_utf8 (g_ptr_array_index (msg->envelope_to, i));
  for (guint i = 0; i < msg->references->len; i++)
    assert_utf8 (g_ptr_array_index (msg->references, i));
  if (msg->in_reply_to != NULL)
    assert_utf8 (msg->in_reply_to);
  if (msg->bounced_message_id != NULL)
    assert_utf8 (msg->bounced_message_id);
  for (guint i = 0; i < msg->headers->len; i++)
    {
      const pd_header_t *h = g_ptr_array_index (msg->headers, i);
      assert_utf8 (h->name);
      assert_utf8 (h->value);
    }
  for (guint i = 0; i < msg->attachments->len; i++)
    {
      const pd_attachment_t *att = g_ptr_array_index (msg->attachments, i);
      assert_utf8 (att->filename);
      assert_utf8 (att->mime_type);
      g_assert_cmpuint (strlen (att->filename), >, 0);
      g_assert_cmpuint (strlen (att->filename), <=, 200);
    }
}

static pd_message_t *
parse_bytes (const char *raw, gsize len, guint flags)
{
  GError *err = NULL;
  pd_message_t *msg = pd_mime_parse (raw, len, flags, &err);
  g_assert_no_error (err);
  g_assert_nonnull (msg);
  assert_message_utf8 (msg);
  return msg;
}

static pd_message_t *
parse_corpus (const char *name, guint flags)
{
  g_autofree char *path = g_strconcat ("mime/", name, NULL);
  g_autoptr (GBytes) bytes = pd_test_corpus (path);
  gsize len = 0;
  const char *raw = g_bytes_get_data (bytes, &len);
  return parse_bytes (raw, len, flags);
}

static const pd_attachment_t *
attachment (const pd_message_t *msg, guint i)
{
  g_assert_cmpuint (i, <, msg->attachments->len);
  return g_ptr_array_index (msg->attachments, i);
}

static const pd_address_t *
address (GPtrArray *list, guint i)
{
  g_assert_cmpuint (i, <, list->len);
  return g_ptr_array_index (list, i);
}

static void
assert_content (const pd_attachment_t *att, const char *expected, gsize expected_len)
{
  g_assert_cmpuint (att->size, ==, expected_len);
  g_assert_nonnull (att->content);
  gsize len = 0;
  const void *data = g_bytes_get_data (att->content, &len);
  g_assert_cmpmem (data, len, expected, expected_len);
}

/* Time limits are for a normal build; PD_TEST_TIME_FACTOR=20 stretches them
 * under valgrind. */
static gint64
time_limit (gint64 usec)
{
  const char *factor = g_getenv ("PD_TEST_TIME_FACTOR");
  gint64 f = factor != NULL ? g_ascii_strtoll (factor, NULL, 10) : 1;
  return usec * MAX (f, 1);
}

/* The same bytes with every LF turned into CRLF. (transfer full) */
static GByteArray *
to_crlf (const char *raw, gsize len)
{
  GByteArray *out = g_byte_array_sized_new ((guint) (len + len / 16));
  for (gsize i = 0; i < len; i++)
    {
      if (raw[i] == '\n')
        g_byte_array_append (out, (const guint8 *) "\r\n", 2);
      else
        g_byte_array_append (out, (const guint8 *) raw + i, 1);
    }
  return out;
}

/* ---- Subjects and encodings ------------------------------------------------- */

static void
test_subject_utf8_b (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("subject-utf8-b.eml", 0);
  g_assert_cmpstr (msg->subject, ==, "Réclamation : commande n°4521 — livraison incomplète");
  g_assert_cmpstr (msg->message_id, ==, "8d3f0b2e-5c1a-4e7b-9f2d-6a1c0e9b7d44@kunde.example.de");
  g_assert_false (msg->message_id_synthetic);
  g_assert_cmpint (msg->date, ==, 1773130542); /* 2026-03-10T08:15:42Z */
  g_assert_cmpstr (msg->body_text, ==,
                   "Guten Tag,\n\ndie Lieferung zur Bestellung 4521 war unvollständig: es fehlen zwei "
                   "Kartons.\n\nMit freundlichen Grüßen\nJürgen Müller\n");
  g_assert_cmpuint (msg->attachments->len, ==, 0);
  g_assert_false (msg->auto_reply);
  g_assert_false (msg->bulk);
  g_assert_false (msg->bounce);
}

static void
test_subject_latin1_q (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("subject-latin1-q.eml", 0);
  g_assert_cmpstr (msg->subject, ==, "Problème de connexion à l'espace client");
  g_assert_cmpstr (msg->from->name, ==, "Renée Lefèvre");
  g_assert_cmpstr (msg->body_text, ==,
                   "Bonjour,\n\nJe n'arrive plus à me connecter depuis la mise à jour.\n\nRenée\n");
}

static void
test_subject_windows_1252 (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("subject-windows1252.eml", 0);
  g_assert_cmpstr (msg->subject, ==, "\u201cQuoted\u201d invoice \u2013 \u20ac100 overcharge");
  g_assert_cmpstr (msg->body_text, ==,
                   "We were charged \u20ac100 too much on the last invoice \u2013 please check.\n");
}

static void
test_subject_iso_2022_jp (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("subject-iso2022jp.eml", 0);
  g_assert_cmpstr (msg->subject, ==, "お問い合わせ：請求書について");
  g_assert_cmpstr (msg->from->name, ==, "田中");
  /* The body is 7-bit on the wire (valid UTF-8 as bytes), yet it must be
   * converted from the declared charset. */
  g_assert_cmpstr (msg->body_text, ==, "ご担当者様\n\n請求書の件でご連絡しました。\n");
}

static void
test_subject_koi8_r (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("subject-koi8r.eml", 0);
  g_assert_cmpstr (msg->subject, ==, "Проблема с доступом к аккаунту");
  g_assert_cmpstr (msg->from->name, ==, "Иван Петров");
  g_assert_cmpstr (msg->body_text, ==, "Здравствуйте!\n\nНе могу войти в личный кабинет.\n");
}

static void
test_subject_raw_utf8 (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("subject-raw-utf8.eml", 0);
  g_assert_cmpstr (msg->subject, ==, "Größe der Bestellung ändern – dringend");
  g_assert_cmpstr (msg->from->name, ==, "Zoë Ångström");
  g_assert_cmpstr (msg->body_text, ==, "Bitte die Größe auf XL ändern. Danke!\n");
}

static void
test_subject_raw_latin1 (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("subject-raw-latin1.eml", 0);
  /* Raw latin-1 bytes are read as windows-1252: 0x96 is an en dash. */
  g_assert_cmpstr (msg->subject, ==, "Café crème – facture déjà payée");
  g_assert_cmpstr (msg->from->name, ==, "François Château");
  g_assert_cmpstr (msg->from->address, ==, "francois@old-pc.example.org");
  /* No MIME headers at all: the body's 8-bit bytes are windows-1252 too. */
  g_assert_cmpstr (msg->body_text, ==, "La facture n° 88 est déjà réglée “merci”.\n");
}

/* ---- Addresses and headers --------------------------------------------------- */

static void
test_addresses (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("subject-utf8-b.eml", 0);
  g_assert_nonnull (msg->from);
  g_assert_cmpstr (msg->from->name, ==, "Jürgen Müller");
  g_assert_cmpstr (msg->from->address, ==, "juergen.mueller@kunde.example.de");

  g_assert_cmpuint (msg->to->len, ==, 1);
  g_assert_cmpstr (address (msg->to, 0)->name, ==, "Example Support");
  g_assert_cmpstr (address (msg->to, 0)->address, ==, "support@helpdesk.example.com");

  g_assert_cmpuint (msg->cc->len, ==, 2);
  g_assert_cmpstr (address (msg->cc, 0)->name, ==, "Buchhaltung");
  g_assert_cmpstr (address (msg->cc, 0)->address, ==, "buchhaltung@kunde.example.de");
  g_assert_null (address (msg->cc, 1)->name);
  g_assert_cmpstr (address (msg->cc, 1)->address, ==, "einkauf@kunde.example.de");

  g_assert_cmpuint (msg->reply_to->len, ==, 1);
  g_assert_cmpstr (address (msg->reply_to, 0)->address, ==, "j.mueller@kunde.example.de");

  /* Delivered-To keeps the plus address; X-Original-To is lower-cased. */
  g_assert_cmpuint (msg->envelope_to->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (msg->envelope_to, 0), ==, "support+4521@helpdesk.example.com");
  g_assert_cmpstr (g_ptr_array_index (msg->envelope_to, 1), ==, "support@helpdesk.example.com");
}

static void
test_many_delivered_to (void)
{
  /* 45,000 Delivered-To lines, just under the header size limit: 40,000
   * addresses, then 5,000 of them again in capitals. Comparing each with
   * every earlier one took 6 s; each must cost the same however many came
   * before. */
  GString *s = g_string_new ("From: loop@example.com\nSubject: looping\n");
  for (int i = 0; i < 40000; i++)
    g_string_append_printf (s, "Delivered-To: u%05d@e\n", i);
  for (int i = 0; i < 5000; i++)
    g_string_append_printf (s, "Delivered-To: U%05d@E\n", i);
  g_assert_cmpuint (s->len, <=, PD_MIME_MAX_HEADER_BYTES);
  g_string_append (s, "\nbody\n");

  gint64 start = g_get_monotonic_time ();
  g_autoptr (pd_message_t) msg = parse_bytes (s->str, s->len, 0);
  gint64 took = g_get_monotonic_time () - start;
  g_test_message ("45,000 Delivered-To headers parsed in %" G_GINT64_FORMAT " us", took);
  g_assert_cmpint (took, <, time_limit (2 * G_USEC_PER_SEC));

  g_assert_cmpuint (msg->envelope_to->len, ==, 40000);
  g_assert_cmpstr (g_ptr_array_index (msg->envelope_to, 0), ==, "u00000@e");
  g_assert_cmpstr (g_ptr_array_index (msg->envelope_to, 39999), ==, "u39999@e");
  g_string_free (s, TRUE);
}

static void
test_group_to (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("group-to.eml", 0);
  /* The group wrapper goes, its members stay, in order. */
  g_assert_cmpuint (msg->to->len, ==, 3);
  g_assert_cmpstr (address (msg->to, 0)->address, ==, "support@helpdesk.example.com");
  g_assert_null (address (msg->to, 0)->name);
  g_assert_cmpstr (address (msg->to, 1)->name, ==, "Bob Stone");
  g_assert_cmpstr (address (msg->to, 1)->address, ==, "bob@customer.example");
  g_assert_cmpstr (address (msg->to, 2)->address, ==, "carol@customer.example");
  /* "undisclosed-recipients:;" is an empty group: no addresses at all. */
  g_assert_cmpuint (msg->cc->len, ==, 0);
  g_assert_cmpstr (msg->from->address, ==, "lead@customer.example");
}

static void
test_no_from (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("no-from.eml", 0);
  g_assert_null (msg->from);
  g_assert_cmpstr (msg->subject, ==, "Scan job 0042");
  g_assert_cmpstr (msg->message_id, ==, "no-from-1@scanner.example");

  /* An empty From, one without an address, and a group are no sender either. */
  static const char *const unusable[] = {
    "From:\nSubject: x\n\nbody\n",
    "From: Printer Room\nSubject: x\n\nbody\n",
    "From: \"Scanner\" <scanner>\nSubject: x\n\nbody\n",
    "From: Sales Team: ;\nSubject: x\n\nbody\n",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (unusable); i++)
    {
      g_autoptr (pd_message_t) m = parse_bytes (unusable[i], strlen (unusable[i]), 0);
      g_assert_null (m->from);
      g_assert_cmpstr (m->subject, ==, "x");
    }
}

static void
test_headers_in_order (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("subject-utf8-b.eml", 0);
  static const char *const names[] = {
    "Return-Path", "Delivered-To", "X-Original-To", "Received", "Received", "Message-ID",
    "Date", "MIME-Version", "User-Agent", "Content-Language", "From", "To", "Cc", "Reply-To",
    "Subject", "Content-Type", "Content-Transfer-Encoding",
  };
  g_assert_cmpuint (msg->headers->len, ==, G_N_ELEMENTS (names));
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      const pd_header_t *h = g_ptr_array_index (msg->headers, i);
      g_assert_cmpstr (h->name, ==, names[i]);
    }
  /* Values are unfolded and decoded. */
  g_assert_cmpstr (pd_message_header (msg, "from"), ==, "Jürgen Müller <Juergen.Mueller@Kunde.Example.DE>");
  g_assert_cmpstr (pd_message_header (msg, "Subject"), ==, msg->subject);
  g_assert_cmpstr (pd_message_header (msg, "Content-Type"), ==, "text/plain; charset=UTF-8; format=flowed");
  const pd_header_t *received = g_ptr_array_index (msg->headers, 3);
  g_assert_null (strchr (received->value, '\n'));
  g_assert_true (g_str_has_prefix (received->value, "from mail.kunde.example.de (mail.kunde.example.de [203.0.113.25])"));
}

static void
test_reply_headers (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("reply-headers.eml", 0);
  g_assert_cmpstr (msg->in_reply_to, ==, "ticket-1042-5@helpdesk.example.com");
  g_assert_cmpuint (msg->references->len, ==, 4);
  g_assert_cmpstr (g_ptr_array_index (msg->references, 0), ==, "original-1042@customer.example");
  g_assert_cmpstr (g_ptr_array_index (msg->references, 1), ==, "ticket-1042-2@helpdesk.example.com");
  g_assert_cmpstr (g_ptr_array_index (msg->references, 2), ==, "reply-2-of-1042@customer.example");
  g_assert_cmpstr (g_ptr_array_index (msg->references, 3), ==, "ticket-1042-5@helpdesk.example.com");

  g_autoptr (pd_message_t) fresh = parse_corpus ("no-from.eml", 0);
  g_assert_null (fresh->in_reply_to);
  g_assert_cmpuint (fresh->references->len, ==, 0);
}

static void
test_date (void)
{
  static const struct {
    const char *header;
    pd_time_t expected;
  } cases[] = {
    { "Date: Thu, 19 Mar 2026 16:40:10 +0000\n", 1773938410 },
    { "Date: Thu, 19 Mar 2026 09:40:10 -0700\n", 1773938410 },
    { "Date: 19 Mar 2026 16:40:10 GMT\n", 1773938410 },
    { "Date: the day before yesterday\n", 0 },
    { "", 0 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *raw = g_strdup_printf ("From: a@example.com\n%sSubject: d\n\nx\n", cases[i].header);
      g_autoptr (pd_message_t) msg = parse_bytes (raw, strlen (raw), 0);
      g_assert_cmpint (msg->date, ==, cases[i].expected);
    }
}

/* ---- Message-ID ------------------------------------------------------------ */

static void
test_synthetic_id_lf_crlf (void)
{
  g_autoptr (GBytes) lf = pd_test_corpus ("mime/no-message-id.eml");
  gsize len = 0;
  const char *raw = g_bytes_get_data (lf, &len);
  g_autoptr (GByteArray) crlf = to_crlf (raw, len);

  g_autoptr (pd_message_t) a = parse_bytes (raw, len, 0);
  g_autoptr (pd_message_t) b = parse_bytes ((const char *) crlf->data, crlf->len, 0);
  g_assert_true (a->message_id_synthetic);
  g_assert_true (b->message_id_synthetic);
  /* The first 32 hex digits of SHA-256 over the LF form of the file. */
  g_assert_cmpstr (a->message_id, ==, "4ec6366aa4a307ed8c3889d3aa935f44@synthetic.postdesk.invalid");
  g_assert_cmpstr (b->message_id, ==, a->message_id);

  g_autofree char *direct = pd_mime_synthetic_id ((const char *) crlf->data, crlf->len);
  g_assert_cmpstr (direct, ==, a->message_id);
  /* Both parses read the same text, CRLF or not. */
  g_assert_cmpstr (b->subject, ==, "Toner low (Black 5%)");
  g_assert_cmpstr (b->body_text, ==, a->body_text);
  g_assert_cmpstr (a->body_text, ==, "The black toner cartridge is at 5%.\nDevice: 3F-North\n");
}

static void
test_garbage_message_id (void)
{
  static const char *const bad[] = {
    "Message-ID:\n", "Message-ID: <>\n", "Message-ID: garbage\n", "Message-ID: <two words@x.example>\n",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *raw = g_strdup_printf ("From: a@example.com\n%sSubject: id\n\nx\n", bad[i]);
      g_autoptr (pd_message_t) msg = parse_bytes (raw, strlen (raw), 0);
      g_autofree char *expected = pd_mime_synthetic_id (raw, strlen (raw));
      g_assert_true (msg->message_id_synthetic);
      g_assert_cmpstr (msg->message_id, ==, expected);
      g_assert_true (g_str_has_suffix (msg->message_id, "@synthetic.postdesk.invalid"));
      g_assert_cmpuint (strlen (msg->message_id), ==, 32 + strlen ("@synthetic.postdesk.invalid"));
    }
}

/* ---- Bodies ---------------------------------------------------------------- */

static void
test_html_only (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("html-only.eml", 0);
  g_assert_cmpstr (msg->body_text, ==,
                   "Hello support team,\n"
                   "\n"
                   "I returned the order #1234 on March 2 & still have no refund — could you check?\n"
                   "\n"
                   "Items:\n"
                   "\n"
                   "- Blue kettle <1.7 l>\n"
                   "- Tea set\n"
                   "\n"
                   "Thanks,\n"
                   "Priya\n"
                   "€42.00 paid");
  g_assert_cmpuint (msg->attachments->len, ==, 0);
}

static void
test_html_related (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("html-related.eml", PD_MIME_WANT_CONTENT);
  g_assert_cmpstr (msg->body_text, ==, "Our logo looks like this in the portal:\nIt should be the blue one.");
  /* An inline image is still a file the customer sent; one without a name
   * is numbered. */
  g_assert_cmpuint (msg->attachments->len, ==, 2);
  g_assert_cmpstr (attachment (msg, 0)->filename, ==, "logo.png");
  g_assert_cmpstr (attachment (msg, 0)->mime_type, ==, "image/png");
  g_assert_cmpuint (attachment (msg, 0)->size, ==, 70);
  g_assert_cmpstr (attachment (msg, 1)->filename, ==, "attachment-2");
  g_assert_cmpstr (attachment (msg, 1)->mime_type, ==, "image/gif");
  g_assert_cmpuint (attachment (msg, 1)->size, ==, 14);
}

static void
test_alternative_picks_plain (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("alternative.eml", PD_MIME_WANT_CONTENT);
  g_assert_cmpstr (msg->body_text, ==,
                   "Plain version: the scanner driver crashes every time on startup.\nLog attached.\n");
  /* The HTML alternative is not an attachment; the named log is, even
   * though it is text/plain. */
  g_assert_cmpuint (msg->attachments->len, ==, 1);
  g_assert_cmpstr (attachment (msg, 0)->filename, ==, "scanner.log");
  g_assert_cmpstr (attachment (msg, 0)->mime_type, ==, "text/plain");
  static const char log[] = "2026-03-20 11:00:01 ERROR driver init failed\n";
  assert_content (attachment (msg, 0), log, strlen (log));
}

static void
test_quoted_printable_body (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("qp-body.eml", 0);
  g_assert_cmpstr (msg->body_text, ==,
                   "Hallo Team,\n\ndie Rechnung für März ist doppelt angekommen. Könnt ihr die zweite "
                   "bitte stornieren? Die Nummer ist RE-2026-0342, Betrag 1.250,00 €.\n\nGrüße\nKatrin\n");
}

static void
test_base64_body (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("base64-body.eml", 0);
  g_assert_cmpstr (msg->body_text, ==,
                   "Hello,\n\nThis body was sent base64-encoded by a webmail client.\n"
                   "Café au lait, s'il vous plaît.\n");
  g_assert_cmpstr (msg->from->address, ==, "claire@example.net");
  g_assert_null (msg->from->name);
}

static void
test_bogus_charset (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("charset-bogus.eml", 0);
  /* x-bogus is unknown and the bytes are not UTF-8: windows-1252. */
  g_assert_cmpstr (msg->body_text, ==, "Status: expédié à Zürich\n");
}

static void
test_invalid_utf8 (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("utf8-invalid.eml", 0);
  /* Declared UTF-8 keeps its good characters; each bad byte becomes U+FFFD. */
  g_assert_cmpstr (msg->body_text, ==,
                   "Name: André\nMessage: broken \uFFFD\uFFFD bytes and a cut \uFFFD\uFFFD euro\n");
}

static void
test_bom_body (void)
{
  static const char raw[] = "From: a@example.com\nSubject: bom\nContent-Type: text/plain; charset=utf-8\n\n"
                            "\xEF\xBB\xBFHello\r\nthere\r\n";
  g_autoptr (pd_message_t) msg = parse_bytes (raw, strlen (raw), 0);
  g_assert_cmpstr (msg->body_text, ==, "Hello\nthere\n");
}

static void
test_html_is_silent (void)
{
  /* libxml2 must not write to stderr, whatever it is fed. */
  if (g_test_subprocess ())
    {
      static const char bad[] = "<html><body><p>caf\xe9 \xff\xfe<b><i></b></x><!DOCTYPE junk>"
                                "<meta charset=\"x-nonsense\">&#0;&unknown;<![CDATA[ x ]]></p>";
      g_autofree char *text = pd_html_to_text (bad, sizeof bad - 1);
      g_assert_true (g_utf8_validate (text, -1, NULL));
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("");
}

static void
test_crlf_body (void)
{
  g_autoptr (GBytes) lf = pd_test_corpus ("mime/qp-body.eml");
  gsize len = 0;
  const char *raw = g_bytes_get_data (lf, &len);
  g_autoptr (GByteArray) crlf = to_crlf (raw, len);
  g_autoptr (pd_message_t) a = parse_bytes (raw, len, 0);
  g_autoptr (pd_message_t) b = parse_bytes ((const char *) crlf->data, crlf->len, 0);
  g_assert_null (strchr (b->body_text, '\r'));
  g_assert_cmpstr (b->body_text, ==, a->body_text);
}

/* ---- Attachments ------------------------------------------------------------ */

static void
test_glib_base64_reads_past_padding (void)
{
  /* The decoder this module relies on, pinned: GMime 3.2.13 stops at the
   * first '=' and would give "abcd". */
  guchar out[16];
  int state = 0;
  guint save = 0;
  static const char chunked[] = "YWJj\nZA==\nZWY=";
  gsize n = g_base64_decode_step (chunked, strlen (chunked), out, &state, &save);
  g_assert_cmpmem (out, n, "abcdef", 6);
}

static void
test_chunked_base64_attachment (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("attachment-chunked-base64.eml", PD_MIME_WANT_CONTENT);
  g_assert_cmpstr (msg->body_text, ==, "Attached: the nightly order export.\n");
  g_assert_cmpuint (msg->attachments->len, ==, 2);
  g_assert_cmpstr (attachment (msg, 0)->filename, ==, "orders.csv");
  g_assert_cmpstr (attachment (msg, 0)->mime_type, ==, "text/csv");
  static const char csv[] = "order,qty\n4521,2\n4522,5\n";
  assert_content (attachment (msg, 0), csv, strlen (csv));
  g_assert_cmpstr (attachment (msg, 1)->filename, ==, "abc.bin");
  assert_content (attachment (msg, 1), "abcdef", 6);
}

static void
test_content_only_when_wanted (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("attachment-chunked-base64.eml", 0);
  g_assert_cmpuint (msg->attachments->len, ==, 2);
  /* Sizes are the decoded sizes either way; the bytes are not kept. */
  g_assert_cmpuint (attachment (msg, 0)->size, ==, 24);
  g_assert_null (attachment (msg, 0)->content);
  g_assert_cmpuint (attachment (msg, 1)->size, ==, 6);
  g_assert_null (attachment (msg, 1)->content);
}

static void
test_size_without_content (void)
{
  /* Without PD_MIME_WANT_CONTENT the size is counted, not decoded: it must
   * agree with GLib's decoder on any input, padding in odd places and
   * garbage included, across the 16 KiB read chunks. */
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                                 "====\n\n\n!* ";
  GRand *rand = g_rand_new_with_seed (1234);
  for (int round = 0; round < 60; round++)
    {
      GString *body = g_string_new (NULL);
      gsize len = g_rand_int_range (rand, 0, 40000);
      for (gsize i = 0; i < len; i++)
        {
          /* Mostly clean runs, sometimes anything. */
          if (g_rand_int_range (rand, 0, 10) == 0)
            g_string_append_c (body, alphabet[g_rand_int_range (rand, 0, sizeof alphabet - 1)]);
          else
            g_string_append_c (body, alphabet[g_rand_int_range (rand, 0, 64)]);
          if (i % 76 == 75)
            g_string_append_c (body, '\n');
        }
      /* What GLib makes of the whole body at once. */
      guchar *expected = g_malloc (body->len / 4 * 3 + 3);
      int state = 0;
      guint save = 0;
      gsize expected_len = g_base64_decode_step (body->str, body->len, expected, &state, &save);

      g_autofree char *raw = g_strdup_printf ("From: a@example.com\nSubject: b64\nMIME-Version: 1.0\n"
                                              "Content-Type: multipart/mixed; boundary=BB\n\n--BB\n"
                                              "Content-Type: application/octet-stream\n"
                                              "Content-Transfer-Encoding: base64\n\n%s\n--BB--\n",
                                              body->str);
      g_autoptr (pd_message_t) counted = parse_bytes (raw, strlen (raw), 0);
      g_autoptr (pd_message_t) decoded = parse_bytes (raw, strlen (raw), PD_MIME_WANT_CONTENT);
      g_assert_cmpuint (counted->attachments->len, ==, 1);
      g_assert_cmpuint (attachment (counted, 0)->size, ==, expected_len);
      assert_content (attachment (decoded, 0), (const char *) expected, expected_len);
      g_free (expected);
      g_string_free (body, TRUE);
    }
  g_rand_free (rand);
}

static void
test_rfc2231_filenames (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("filename-rfc2231.eml", PD_MIME_WANT_CONTENT);
  g_assert_cmpstr (msg->body_text, ==, "Bonjour, voici les documents demandés.\n");
  g_assert_cmpuint (msg->attachments->len, ==, 3);
  /* charset'lang'value split over two continuations */
  g_assert_cmpstr (attachment (msg, 0)->filename, ==, "Résumé de la réunion.pdf");
  g_assert_cmpstr (attachment (msg, 0)->mime_type, ==, "application/pdf");
  assert_content (attachment (msg, 0), "%PDF-1.4\n", 9);
  /* a latin-1 charset in the parameter itself */
  g_assert_cmpstr (attachment (msg, 1)->filename, ==, "café crème.txt");
  assert_content (attachment (msg, 1), "menu du jour", 12);
  /* plain continuations */
  g_assert_cmpstr (attachment (msg, 2)->filename, ==, "very-long-report-name.docx");
  g_assert_cmpstr (attachment (msg, 2)->mime_type, ==,
                   "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
}

static void
test_rfc2047_filenames (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("filename-rfc2047.eml", 0);
  g_assert_cmpstr (msg->subject, ==, "Übersicht März");
  g_assert_cmpstr (msg->body_text, ==, "Anbei die Übersicht.\n");
  g_assert_cmpuint (msg->attachments->len, ==, 2);
  g_assert_cmpstr (attachment (msg, 0)->filename, ==, "Übersicht März 2026.xlsx");
  g_assert_cmpuint (attachment (msg, 0)->size, ==, 4);
  g_assert_cmpstr (attachment (msg, 1)->filename, ==, "résumé.doc");
  g_assert_cmpstr (attachment (msg, 1)->mime_type, ==, "application/msword");
}

static void
test_hostile_filenames (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("filename-hostile.eml", 0);
  g_assert_cmpuint (msg->attachments->len, ==, 11);
  g_assert_cmpstr (attachment (msg, 0)->filename, ==, "passwd");
  g_assert_cmpstr (attachment (msg, 1)->filename, ==, "c.txt");
  g_assert_cmpstr (attachment (msg, 2)->filename, ==, "in_voice__.pdf");
  g_assert_cmpstr (attachment (msg, 3)->filename, ==, "htaccess");
  g_assert_cmpstr (attachment (msg, 4)->filename, ==, "report_ final___v2__x.pdf");

  /* Cut to 200 bytes, the extension kept. */
  g_autofree char *long_a = g_strnfill (196, 'a');
  g_autofree char *expected_a = g_strconcat (long_a, ".pdf", NULL);
  g_assert_cmpstr (attachment (msg, 5)->filename, ==, expected_a);
  /* Cut on a character boundary: 98 two-byte "é" and ".txt". */
  GString *e = g_string_new (NULL);
  for (int i = 0; i < 98; i++)
    g_string_append (e, "é");
  g_string_append (e, ".txt");
  g_autofree char *expected_e = g_string_free (e, FALSE);
  g_assert_cmpstr (attachment (msg, 6)->filename, ==, expected_e);

  /* Nothing usable left: numbered among the attachments, from 1. */
  g_assert_cmpstr (attachment (msg, 7)->filename, ==, "attachment-8");
  g_assert_cmpstr (attachment (msg, 8)->filename, ==, "attachment-9");
  g_assert_cmpstr (attachment (msg, 9)->filename, ==, "scan.pdf");
  /* A right-to-left override would show this as "invoiceexe.pdf". */
  g_assert_cmpstr (attachment (msg, 10)->filename, ==, "invoice_fdp.exe");
  for (guint i = 0; i < msg->attachments->len; i++)
    {
      const char *name = attachment (msg, i)->filename;
      g_assert_null (strpbrk (name, "/\\:*?\"<>|\t\x01\x7f"));
      g_assert_cmpint (name[0], !=, '.');
      g_assert_cmpuint (attachment (msg, i)->size, ==, 1);
    }
}

static void
test_corrupt_base64_attachment (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("attachment-corrupt-base64.eml", PD_MIME_WANT_CONTENT);
  g_assert_cmpstr (msg->body_text, ==, "Two files attached.");
  g_assert_cmpuint (msg->attachments->len, ==, 2);
  /* Characters outside the alphabet are skipped... */
  g_assert_cmpstr (attachment (msg, 0)->filename, ==, "greeting.txt");
  assert_content (attachment (msg, 0), "Hello, world!", 13);
  /* ...and a final incomplete group of four is dropped. */
  g_assert_cmpstr (attachment (msg, 1)->filename, ==, "cut.bin");
  assert_content (attachment (msg, 1), "Hel", 3);
}

static void
test_forwarded_message (void)
{
  g_autoptr (GBytes) bytes = pd_test_corpus ("mime/forwarded-rfc822.eml");
  gsize len = 0;
  const char *raw = g_bytes_get_data (bytes, &len);
  g_autoptr (pd_message_t) msg = parse_bytes (raw, len, PD_MIME_WANT_CONTENT);

  /* The customer's own text comes first; each forwarded message follows it
   * with its From, Date and Subject, so the engineer reads what was
   * forwarded without opening an attachment. */
  g_assert_cmpstr (msg->body_text, ==,
                   "Outer body: please see the forwarded complaint below.\n\n"
                   "---------- Forwarded message ----------\n"
                   "From: End User <user@enduser.example>\n"
                   "Date: Mon, 06 Apr 2026 18:00:00 +0200\n"
                   "Subject: complaint\n\n"
                   "Inner body: the product broke after two days.\n\n"
                   "---------- Forwarded message ----------\n"
                   "From: End User <user@enduser.example>\n"
                   "Subject: second complaint\n\n"
                   "Still broken.\n");
  /* The forwarded messages are attachments, and so are the files they
   * carry, after them. */
  g_assert_cmpuint (msg->attachments->len, ==, 3);
  g_assert_cmpstr (attachment (msg, 2)->filename, ==, "broken.jpg");
  const pd_attachment_t *first = attachment (msg, 0);
  g_assert_cmpstr (first->filename, ==, "attachment-1.eml");
  g_assert_cmpstr (first->mime_type, ==, "message/rfc822");
  /* Exactly the embedded bytes, from its first header to the boundary. */
  const char *start = strstr (raw, "Message-ID: <complaint-1@");
  const char *end = strstr (start, "\n--------------fwd3310");
  assert_content (first, start, (gsize) (end - start));
  g_assert_cmpuint (first->size, ==, 490);

  const pd_attachment_t *second = attachment (msg, 1);
  g_assert_cmpstr (second->filename, ==, "Second complaint.eml");
  g_assert_cmpstr (second->mime_type, ==, "message/rfc822");
  g_assert_cmpuint (second->size, ==, 120);
  g_assert_false (msg->bounce);
  g_assert_null (msg->bounced_message_id);
}

/* ---- Automatic mail ---------------------------------------------------------- */

static void
test_auto_replies (void)
{
  static const char *const auto_files[] = {
    "auto-submitted-replied.eml", "auto-submitted-generated.eml", "x-autoreply.eml",
    "x-autorespond.eml", "precedence-auto-reply.eml",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (auto_files); i++)
    {
      g_autoptr (pd_message_t) msg = parse_corpus (auto_files[i], 0);
      if (!msg->auto_reply)
        g_error ("%s: not recognised as an auto-reply", auto_files[i]);
      g_assert_false (msg->bulk);
      g_assert_false (msg->bounce);
    }
}

static void
test_not_auto_replies (void)
{
  /* "Auto-Submitted: no" is a human; X-Auto-Response-Suppress is only a
   * request to others, put on ordinary mail by Outlook. */
  static const char *const human_files[] = {
    "auto-submitted-no.eml", "x-auto-response-suppress.eml", "subject-utf8-b.eml",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (human_files); i++)
    {
      g_autoptr (pd_message_t) msg = parse_corpus (human_files[i], 0);
      if (msg->auto_reply)
        g_error ("%s: taken for an auto-reply", human_files[i]);
      g_assert_false (msg->bulk);
    }
}

static void
test_bulk (void)
{
  static const char *const bulk_files[] = {
    "precedence-bulk.eml", "precedence-junk.eml", "precedence-list.eml", "list-id.eml",
    "list-unsubscribe.eml",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bulk_files); i++)
    {
      g_autoptr (pd_message_t) msg = parse_corpus (bulk_files[i], 0);
      if (!msg->bulk)
        g_error ("%s: not recognised as bulk", bulk_files[i]);
      g_assert_false (msg->auto_reply);
      g_assert_false (msg->bounce);
    }
}

/* ---- Bounces ------------------------------------------------------------------ */

static void
test_bounce_postfix (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("bounce-postfix.eml", 0);
  g_assert_true (msg->bounce);
  g_assert_cmpstr (msg->bounced_message_id, ==, "ticket-1042-5@helpdesk.example.com");
  g_assert_cmpstr (msg->message_id, ==, "20260401120005.0C1D2E3F4A@mx1.helpdesk.example.com");
  g_assert_cmpstr (msg->from->address, ==, "mailer-daemon@mx1.helpdesk.example.com");
  g_assert_true (g_str_has_prefix (msg->body_text, "This is the mail system at host mx1.helpdesk.example.com.\n"));
  /* The delivery report and the returned message are kept as files. */
  g_assert_cmpuint (msg->attachments->len, ==, 2);
  g_assert_cmpstr (attachment (msg, 0)->mime_type, ==, "message/delivery-status");
  g_assert_cmpstr (attachment (msg, 1)->mime_type, ==, "message/rfc822");
  g_assert_cmpstr (attachment (msg, 1)->filename, ==, "attachment-2.eml");
}

static void
test_bounce_rfc822_headers (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("bounce-exchange-headers.eml", 0);
  g_assert_true (msg->bounce);
  /* Found in a text/rfc822-headers part, with the id folded onto its own line. */
  g_assert_cmpstr (msg->bounced_message_id, ==, "ticket-1050-2@helpdesk.example.com");
  g_assert_true (g_str_has_prefix (msg->body_text, "Delivery has failed to these recipients or groups:\n"));
}

static void
test_bounce_mailer_daemon (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("bounce-mailer-daemon.eml", 0);
  /* No multipart/report: a null Return-Path plus the Exim subject. */
  g_assert_true (msg->bounce);
  /* The original is quoted in the text, not attached: its Message-ID is
   * read from the copy below Exim's "This is a copy of the message" line. */
  g_assert_cmpstr (msg->bounced_message_id, ==, "ticket-1061-1@helpdesk.example.com");
  g_assert_cmpstr (msg->from->address, ==, "mailer-daemon@mail.customer.example");
}

static void
test_not_a_bounce (void)
{
  /* A bounce-like subject from a person is an ordinary message. */
  g_autoptr (pd_message_t) msg = parse_corpus ("not-bounce-undeliverable-subject.eml", 0);
  g_assert_false (msg->bounce);
  g_assert_null (msg->bounced_message_id);

  /* And a MAILER-DAEMON message without any failure in it is no bounce. */
  static const char notice[] =
    "Return-Path: <>\nFrom: MAILER-DAEMON@mx.example.com\nSubject: Delayed Mail (still being retried)\n\n"
    "Your message is delayed.\n";
  g_autoptr (pd_message_t) delayed = parse_bytes (notice, strlen (notice), 0);
  g_assert_false (delayed->bounce);
}

/* ---- Robustness ---------------------------------------------------------------- */

static void
test_truncated_multipart (void)
{
  g_autoptr (pd_message_t) msg = parse_corpus ("truncated-multipart.eml", PD_MIME_WANT_CONTENT);
  g_assert_cmpstr (msg->body_text, ==, "The box arrived damaged, photos attached.\n");
  g_assert_cmpuint (msg->attachments->len, ==, 1);
  g_assert_cmpstr (attachment (msg, 0)->filename, ==, "box.jpg");
  /* Whatever arrived is decoded: 2 full lines of 76 characters (57 bytes
   * each), then 27 characters of the third: 6 groups of four (18 bytes),
   * the 3 left over are not a whole group. */
  g_assert_cmpuint (attachment (msg, 0)->size, ==, 57 + 57 + 18);
}

/* ---- Limits on the shape of a message ------------------------------------------ */

/* Parses what must be refused as too big and checks the reason word for
 * word. */
static void
assert_too_big (const char *raw, gsize len, const char *expected)
{
  GError *err = NULL;
  pd_message_t *msg = pd_mime_parse (raw, len, 0, &err);
  g_assert_null (msg);
  g_assert_error (err, PD_ERROR, PD_ERROR_TOO_BIG);
  g_assert_cmpstr (err->message, ==, expected);
  g_error_free (err);
}

/* A multipart/mixed message of 'parts' small named text attachments: with
 * the message itself, parts + 1 MIME parts. */
static GString *
many_parts (guint parts)
{
  GString *s = g_string_new ("From: parts@example.com\nSubject: parts\n"
                             "Content-Type: multipart/mixed; boundary=\"B\"\n\n");
  for (guint i = 0; i < parts; i++)
    g_string_append_printf (s, "--B\nContent-Disposition: attachment; filename=\"n%u.txt\"\n\n%u\n", i, i);
  g_string_append (s, "--B--\n");
  return s;
}

/* Lines that start with "--" but are no open boundary (SQL comments, a
 * signature separator, a closed boundary again) are content, not parts: a
 * text attachment full of them is ordinary mail. */
static void
assert_dashes_are_not_parts (void)
{
  GString *s = g_string_new ("From: sql@example.com\nSubject: the dump\n"
                             "Content-Type: multipart/mixed; boundary=\"B\"\n\n"
                             "--B\nContent-Type: text/plain\n\nThe dump is attached.\n-- \nAnna\n"
                             "--B\nContent-Type: text/x-sql\nContent-Disposition: attachment; filename=dump.sql\n\n");
  for (int i = 0; i < 3 * PD_MIME_MAX_PARTS; i++)
    g_string_append_printf (s, "-- row %d\n--B-not-a-boundary\nINSERT INTO t VALUES (%d);\n", i, i);
  g_string_append (s, "--B--\n--B\n--B--\n");
  g_autoptr (pd_message_t) msg = parse_bytes (s->str, s->len, 0);
  g_assert_cmpstr (msg->body_text, ==, "The dump is attached.\n-- \nAnna");
  g_assert_cmpuint (msg->attachments->len, ==, 1);
  g_assert_cmpstr (attachment (msg, 0)->filename, ==, "dump.sql");
  g_string_free (s, TRUE);
}

static void
test_parts_at_limit (void)
{
  g_autoptr (GString) at = many_parts (PD_MIME_MAX_PARTS - 1);
  g_autoptr (pd_message_t) msg = parse_bytes (at->str, at->len, 0);
  g_assert_cmpuint (msg->attachments->len, ==, PD_MIME_MAX_PARTS - 1);

  g_autoptr (GString) over = many_parts (PD_MIME_MAX_PARTS);
  g_autofree char *reason = g_strdup_printf ("message has %d MIME parts, over the %d-part limit",
                                             PD_MIME_MAX_PARTS + 1, PD_MIME_MAX_PARTS);
  assert_too_big (over->str, over->len, reason);

  assert_dashes_are_not_parts ();
}

/* 'levels' multiparts, each the only part of the one around it. */
static GString *
deep_nesting (int levels)
{
  GString *s = g_string_new ("From: deep@example.com\nSubject: deep\nMessage-ID: <deep@example.com>\n"
                             "MIME-Version: 1.0\n");
  for (int i = 0; i < levels; i++)
    g_string_append_printf (s, "Content-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n", i, i);
  g_string_append (s, "Content-Type: text/plain\n\ninnermost\n");
  for (int i = levels - 1; i >= 0; i--)
    g_string_append_printf (s, "--b%d--\n", i);
  return s;
}

static void
test_depth_at_limit (void)
{
  g_autoptr (GString) at = deep_nesting (PD_MIME_MAX_DEPTH);
  g_autoptr (pd_message_t) msg = parse_bytes (at->str, at->len, 0);
  g_assert_cmpstr (msg->body_text, ==, "innermost");

  g_autoptr (GString) over = deep_nesting (PD_MIME_MAX_DEPTH + 1);
  g_autofree char *reason = g_strdup_printf ("MIME parts are nested at least %d levels deep, over the %d-level limit",
                                             PD_MIME_MAX_DEPTH + 1, PD_MIME_MAX_DEPTH);
  assert_too_big (over->str, over->len, reason);

  /* Attached messages are levels too. */
  GString *chain = g_string_new ("From: fwd@example.com\nSubject: forwarded\n");
  for (int i = 0; i <= PD_MIME_MAX_DEPTH; i++)
    g_string_append_printf (chain, "Content-Type: message/rfc822\n\nFrom: fwd%d@example.com\n", i);
  g_string_append (chain, "\nthe original\n");
  assert_too_big (chain->str, chain->len, reason);
  g_string_free (chain, TRUE);

  /* The pass stops at the first level too many, however deep it goes. */
  g_autoptr (GString) deeper = deep_nesting (5000);
  assert_too_big (deeper->str, deeper->len, reason);
}

/* A message with 'lines' header lines in all: three at the top, one
 * opening the one part, the rest in that part's header section. */
static GString *
many_header_lines (guint lines)
{
  GString *s = g_string_new ("From: lines@example.com\nSubject: lines\n"
                             "Content-Type: multipart/mixed; boundary=\"B\"\n\n"
                             "--B\nContent-Type: text/plain\n");
  for (guint i = 4; i < lines; i++)
    g_string_append (s, "X-Line: x\n");
  g_string_append (s, "\nthe body\n--B--\n");
  return s;
}

static void
test_header_lines_at_limit (void)
{
  g_autoptr (GString) at = many_header_lines (PD_MIME_MAX_HEADER_LINES);
  g_autoptr (pd_message_t) msg = parse_bytes (at->str, at->len, 0);
  g_assert_cmpstr (msg->body_text, ==, "the body");

  g_autoptr (GString) over = many_header_lines (PD_MIME_MAX_HEADER_LINES + 1);
  g_autofree char *reason = g_strdup_printf ("message has %d header lines, over the %d-line limit",
                                             PD_MIME_MAX_HEADER_LINES + 1, PD_MIME_MAX_HEADER_LINES);
  assert_too_big (over->str, over->len, reason);
}

static void
test_part_header_bytes (void)
{
  /* The top-level limit holds for every part's header section too. */
  static const char filler[] = "X-Filler: 01234567890123456789012345678901234567890123456789012345678901234567890123456789\n";
  GString *s = g_string_new ("From: big@example.com\nSubject: big part header\n"
                             "Content-Type: multipart/mixed; boundary=\"B\"\n\n"
                             "--B\nContent-Type: text/plain\n\nfirst\n--B\n");
  gsize start = s->len;
  while (s->len - start + strlen (filler) <= PD_MIME_MAX_HEADER_BYTES)
    g_string_append (s, filler);
  g_autoptr (pd_message_t) msg = parse_bytes (s->str, s->len, 0);
  g_assert_cmpstr (msg->body_text, ==, "first");

  g_string_append (s, filler);
  gsize header_len = s->len - start;
  g_string_append (s, "\nsecond\n--B--\n");
  g_autofree char *reason = g_strdup_printf ("header section of MIME part 3 is %" G_GSIZE_FORMAT
                                             " bytes, over the %d-byte limit",
                                             header_len, PD_MIME_MAX_HEADER_BYTES);
  assert_too_big (s->str, s->len, reason);
  g_string_free (s, TRUE);
}

/* The bombs of issue 11: a million empty parts in 5 MB took 10 s and 1.3 GB
 * to parse; 1.5 million header lines in one part took 800 MB. */
static void
test_million_empty_parts (void)
{
  GString *s = g_string_new ("From: bomb@example.com\nSubject: bomb\n"
                             "Content-Type: multipart/mixed; boundary=B\n\n");
  for (int i = 0; i < 1000000; i++)
    g_string_append (s, "--B\n\n");
  assert_too_big (s->str, s->len, "message has 1000001 MIME parts, over the 2000-part limit");
  g_string_free (s, TRUE);
}

static void
test_million_header_lines (void)
{
  GString *s = g_string_new ("From: bomb@example.com\nSubject: bomb\n"
                             "Content-Type: multipart/mixed; boundary=B\n\n--B\n");
  for (int i = 0; i < 1500000; i++)
    g_string_append (s, "A: b\n");
  g_string_append (s, "\nbody\n--B--\n");
  assert_too_big (s->str, s->len, "message has 1500003 header lines, over the 50000-line limit");
  g_string_free (s, TRUE);
}

/* Builds a message whose parts are 'n' repeats of 'part' after 'head'. */
static GString *
repeat_parts (const char *head, const char *part, guint n, const char *tail)
{
  GString *s = g_string_new (head);
  for (guint i = 0; i < n; i++)
    g_string_append (s, part);
  g_string_append (s, tail);
  return s;
}

/* The boundary the pass watches for is the one GMime uses, however the
 * sender wrote it: each trick is first shown to make GMime build parts, then
 * shown not to get past the limit. */
static void
test_boundary_as_gmime_reads_it (void)
{
  static const struct {
    const char *what;
    const char *head;
    const char *part;
    guint parts_per_repeat;
  } tricks[] = {
    { "a second Content-Type replaces the boundary of the first",
      "From: t@example.com\nSubject: t\nContent-Type: multipart/mixed; boundary=A\n"
      "Content-Type: multipart/mixed; boundary=Z\n\n",
      "--Z\nContent-Disposition: attachment; filename=x\n\nx\n", 1 },
    { "an RFC 2231-encoded boundary",
      "From: t@example.com\nSubject: t\nContent-Type: multipart/mixed; boundary*=us-ascii'en'%5A\n\n",
      "--Z\nContent-Disposition: attachment; filename=x\n\nx\n", 1 },
    { "an RFC 2231 boundary in two pieces, folded",
      "From: t@example.com\nSubject: t\nContent-Type: multipart/mixed;\n boundary*0=\"Z\";\n\tboundary*1=\"Y\"\n\n",
      "--ZY\nContent-Disposition: attachment; filename=x\n\nx\n", 1 },
    { "a boundary followed by blanks",
      "From: t@example.com\nSubject: t\nContent-Type: multipart/mixed; boundary=\"Z \"\n\n",
      "--Z \t \r\nContent-Disposition: attachment; filename=x\n\nx\n", 1 },
    { "digest parts without a Content-Type are messages",
      "From: t@example.com\nSubject: t\nContent-Type: multipart/digest; boundary=Z\n\n",
      "--Z\n\nFrom: inner@example.com\nContent-Type: multipart/mixed; boundary=Y\n\n"
      "--Y\nContent-Disposition: attachment; filename=x\n\nx\n--Y\nContent-Disposition: attachment; filename=y\n\ny\n--Y--\n",
      4 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (tricks); i++)
    {
      g_test_message ("%s", tricks[i].what);
      g_autoptr (GString) few = repeat_parts (tricks[i].head, tricks[i].part, 3, "");
      g_autoptr (pd_message_t) msg = parse_bytes (few->str, few->len, 0);
      /* One attachment per repeat: a file, or in the digest an attached
       * message, listed with the two files it carries. */
      g_assert_cmpuint (msg->attachments->len, ==, tricks[i].parts_per_repeat == 4 ? 9 : 3);

      guint n = PD_MIME_MAX_PARTS / tricks[i].parts_per_repeat + 1;
      g_autoptr (GString) many = repeat_parts (tricks[i].head, tricks[i].part, n, "");
      GError *err = NULL;
      pd_message_t *refused = pd_mime_parse (many->str, many->len, 0, &err);
      g_assert_null (refused);
      g_assert_error (err, PD_ERROR, PD_ERROR_TOO_BIG);
      g_assert_true (g_str_has_prefix (err->message, "message has "));
      g_assert_true (g_str_has_suffix (err->message, " MIME parts, over the 2000-part limit"));
      g_error_free (err);
    }
}


static void
test_huge_header (void)
{
  GString *s = g_string_new ("From: big@example.com\nSubject: big\n");
  while (s->len < 5 * 1024 * 1024)
    g_string_append (s, "X-Filler: 0123456789012345678901234567890123456789012345678901234567890123456789\n");
  gsize header_len = s->len;
  g_string_append (s, "\nbody\n");

  GError *err = NULL;
  pd_message_t *msg = pd_mime_parse (s->str, s->len, 0, &err);
  g_assert_null (msg);
  g_assert_error (err, PD_ERROR, PD_ERROR_TOO_BIG);
  g_autofree char *expected = g_strdup_printf ("header section is %" G_GSIZE_FORMAT
                                               " bytes, over the 1048576-byte limit", header_len);
  g_assert_cmpstr (err->message, ==, expected);
  g_error_free (err);
  g_string_free (s, TRUE);
}

static void
test_header_at_limit (void)
{
  /* Just under the limit is still a message. */
  GString *s = g_string_new ("From: big@example.com\nSubject: big\n");
  static const char filler[] = "X-Filler: 0123456789012345678901234567890123456789\n";
  while (s->len + strlen (filler) < PD_MIME_MAX_HEADER_BYTES)
    g_string_append (s, filler);
  g_string_append (s, "\nbody\n");
  g_autoptr (pd_message_t) msg = parse_bytes (s->str, s->len, 0);
  g_assert_cmpstr (msg->body_text, ==, "body\n");
  g_string_free (s, TRUE);
}

static void
assert_not_a_message (const char *raw, gsize len)
{
  GError *err = NULL;
  pd_message_t *msg = pd_mime_parse (raw, len, 0, &err);
  g_assert_null (msg);
  g_assert_error (err, PD_ERROR, PD_ERROR_PARSE);
  g_assert_true (g_str_has_prefix (err->message, "not an RFC 5322 message: "));
  g_error_free (err);
}

static void
test_empty_input (void)
{
  static const char *const inputs[] = {
    "", "\n", "\r\n\r\nbody only\r\n", "just some text\nwithout any header\n", " : no name\n\nx\n",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (inputs); i++)
    assert_not_a_message (inputs[i], strlen (inputs[i]));
  assert_not_a_message (NULL, 0);
}

static void
test_random_binary (void)
{
  GRand *rand = g_rand_new_with_seed (20260311);
  for (int round = 0; round < 200; round++)
    {
      gsize len = 1 + g_rand_int_range (rand, 0, 8192);
      guint8 *buf = g_malloc (len);
      for (gsize i = 0; i < len; i++)
        buf[i] = (guint8) g_rand_int_range (rand, 0, 256);
      /* Make sure the first line cannot pass for a header by luck. */
      buf[0] = 0x01;
      assert_not_a_message ((const char *) buf, len);
      g_free (buf);
    }
  g_rand_free (rand);
}

static void
test_garbage_after_headers (void)
{
  /* A message whose headers are fine and whose body is binary noise parses;
   * the noise comes out as valid UTF-8. */
  GRand *rand = g_rand_new_with_seed (42);
  for (int round = 0; round < 100; round++)
    {
      GByteArray *buf = g_byte_array_new ();
      static const char head[] = "From: x@example.com\nSubject: noise\nContent-Type: multipart/mixed; boundary=q\n\n";
      g_byte_array_append (buf, (const guint8 *) head, strlen (head));
      gsize len = g_rand_int_range (rand, 0, 4096);
      for (gsize i = 0; i < len; i++)
        {
          guint8 c = (guint8) g_rand_int_range (rand, 0, 256);
          g_byte_array_append (buf, &c, 1);
          if (g_rand_int_range (rand, 0, 64) == 0)
            g_byte_array_append (buf, (const guint8 *) "\n--q\nContent-Transfer-Encoding: base64\n\n", 41);
        }
      g_autoptr (pd_message_t) msg = parse_bytes ((const char *) buf->data, buf->len, PD_MIME_WANT_CONTENT);
      g_assert_cmpstr (msg->subject, ==, "noise");
      g_byte_array_unref (buf);
    }
  g_rand_free (rand);
}

static void
test_headers_only (void)
{
  static const char raw[] = "From: Only Headers <only@example.com>\nSubject: headers, no body";
  g_autoptr (pd_message_t) msg = parse_bytes (raw, strlen (raw), 0);
  g_assert_cmpstr (msg->subject, ==, "headers, no body");
  g_assert_cmpstr (msg->body_text, ==, "");
  g_assert_cmpstr (msg->from->address, ==, "only@example.com");
  g_assert_cmpuint (msg->attachments->len, ==, 0);
}

static void
test_mbox_from_line (void)
{
  static const char raw[] = "From someone@example.com Tue Mar 10 09:15:42 2026\n"
                            "From: someone@example.com\nSubject: from an mbox\n\nhello\n";
  g_autoptr (pd_message_t) msg = parse_bytes (raw, strlen (raw), 0);
  g_assert_cmpstr (msg->subject, ==, "from an mbox");
  g_assert_cmpstr (msg->body_text, ==, "hello\n");
}

static void
test_gmime_issue_165 (void)
{
  /* A long non-ASCII parameter name and no boundary: GMime 3.2.13 loops
   * forever when it re-encodes this Content-Type. Parsing must not. */
  GString *s = g_string_new ("From: a@example.com\nSubject: 165\nContent-Type: multipart/mixed;\n ");
  for (int i = 0; i < 200; i++)
    g_string_append (s, "ќ");
  g_string_append (s, "=\"ќ\"\n\nbody\n");
  gint64 start = g_get_monotonic_time ();
  g_autoptr (pd_message_t) msg = parse_bytes (s->str, s->len, 0);
  g_assert_cmpint (g_get_monotonic_time () - start, <, time_limit (G_USEC_PER_SEC));
  g_assert_cmpstr (msg->subject, ==, "165");
  g_assert_cmpuint (msg->attachments->len, ==, 0);
  g_string_free (s, TRUE);
}

static void
test_whole_corpus_crlf (void)
{
  /* Every corpus file parses the same way over CRLF (as IMAP delivers it). */
  g_autofree char *dir_path = pd_test_corpus_path ("mime");
  GDir *dir = g_dir_open (dir_path, 0, NULL);
  g_assert_nonnull (dir);
  const char *name;
  guint files = 0;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      if (!g_str_has_suffix (name, ".eml"))
        continue;
      g_autofree char *path = g_build_filename (dir_path, name, NULL);
      g_autofree char *raw = NULL;
      gsize len = 0;
      g_assert_true (g_file_get_contents (path, &raw, &len, NULL));
      g_assert_cmpuint (len, <, 20 * 1024);
      g_autoptr (GByteArray) crlf = to_crlf (raw, len);
      g_autoptr (pd_message_t) a = parse_bytes (raw, len, PD_MIME_WANT_CONTENT);
      g_autoptr (pd_message_t) b = parse_bytes ((const char *) crlf->data, crlf->len, PD_MIME_WANT_CONTENT);
      g_assert_cmpstr (a->subject, ==, b->subject);
      g_assert_cmpstr (a->body_text, ==, b->body_text);
      g_assert_cmpstr (a->message_id, ==, b->message_id);
      g_assert_cmpuint (a->attachments->len, ==, b->attachments->len);
      for (guint i = 0; i < a->attachments->len; i++)
        g_assert_cmpstr (attachment (a, i)->filename, ==, attachment (b, i)->filename);
      files++;
    }
  g_dir_close (dir);
  g_assert_cmpuint (files, >=, 40);
}

/* Mutated mail: every corpus message (parser cases, conversations, broken
 * mail) damaged in many seeded ways, byte flips, cuts, repeated and missing
 * spans, stray boundaries and encoded-word starts. Each either fails as
 * PD_ERROR or yields a message whose every string is valid UTF-8; under
 * the sanitizer build any memory error fails the test. The seed is fixed,
 * so a failure reproduces. */
static GByteArray *
mutate (GRand *rng, const char *raw, gsize len)
{
  GByteArray *out = g_byte_array_new ();
  g_byte_array_append (out, (const guint8 *) raw, len);
  static const char *const inserts[] = { "\n--", "=?utf-8?b?", "=?", "\r\n\r\n", "\n\t", "boundary=\"",
                                         "\nContent-Type: multipart/mixed; boundary=x\n", "\xff\xfe\x00", ";" };
  int edits = g_rand_int_range (rng, 1, 6);
  for (int e = 0; e < edits && out->len > 0; e++)
    {
      guint at = (guint) g_rand_int_range (rng, 0, (gint32) out->len);
      /* Drawn once: MIN () would evaluate a draw twice. */
      guint want = (guint) g_rand_int_range (rng, 1, 200);
      guint span = MIN (want, out->len - at);
      switch (g_rand_int_range (rng, 0, 5))
        {
        case 0:
          out->data[at] = (guint8) g_rand_int_range (rng, 0, 256);
          break;
        case 1:
          g_byte_array_set_size (out, at);
          break;
        case 2:
          {
            g_autofree guint8 *copy = g_memdup2 (out->data + at, span);
            g_byte_array_append (out, copy, span);
            break;
          }
        case 3:
          g_byte_array_remove_range (out, at, span);
          break;
        default:
          {
            const char *ins = inserts[g_rand_int_range (rng, 0, G_N_ELEMENTS (inserts))];
            guint n = (guint) strlen (ins), tail = out->len - at;
            g_byte_array_set_size (out, out->len + n);
            memmove (out->data + at + n, out->data + at, tail);
            memcpy (out->data + at, ins, n);
            break;
          }
        }
    }
  return out;
}

static void
test_mutated_corpus (void)
{
  static const char *const dirs[] = { "mime", "thread", "broken" };
  g_autoptr (GRand) rng = g_rand_new_with_seed (20261123);
  guint parsed = 0, refused = 0;
  for (gsize d = 0; d < G_N_ELEMENTS (dirs); d++)
    {
      g_autofree char *dir_path = pd_test_corpus_path (dirs[d]);
      g_autoptr (GDir) dir = g_dir_open (dir_path, 0, NULL);
      g_assert_nonnull (dir);
      const char *name;
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *path = g_build_filename (dir_path, name, NULL);
          g_autofree char *raw = NULL;
          gsize len = 0;
          g_assert_true (g_file_get_contents (path, &raw, &len, NULL));
          for (int round = 0; round < 150; round++)
            {
              g_autoptr (GByteArray) bad = mutate (rng, raw, len);
              GError *err = NULL;
              g_autoptr (pd_message_t) msg = pd_mime_parse ((const char *) bad->data, bad->len,
                                                            PD_MIME_WANT_CONTENT, &err);
              if (msg == NULL)
                {
                  g_assert_nonnull (err);
                  g_assert_true (err->domain == PD_ERROR);
                  g_error_free (err);
                  refused++;
                  continue;
                }
              g_assert_no_error (err);
              assert_message_utf8 (msg);
              parsed++;
            }
        }
    }
  /* Most damage still leaves a message (refusals are inputs cut down to
   * nothing or to no header section); a test that refused everything would
   * be checking nothing. */
  g_assert_cmpuint (parsed, >, 5 * refused);
  g_assert_cmpuint (parsed + refused, >=, 8000);
}

/* ---- Text conversion ------------------------------------------------------------ */

static void
test_text_to_utf8 (void)
{
  g_autofree char *kept = pd_text_to_utf8 ("déjà", strlen ("déjà"), NULL);
  g_assert_cmpstr (kept, ==, "déjà");
  g_autofree char *cp1252 = pd_text_to_utf8 ("\x93hi\x94 \x80", 6, NULL);
  g_assert_cmpstr (cp1252, ==, "“hi” €");
  g_autofree char *latin1 = pd_text_to_utf8 ("\xe9t\xe9", 3, "ISO-8859-1");
  g_assert_cmpstr (latin1, ==, "été");
  g_autofree char *unknown = pd_text_to_utf8 ("\xe9t\xe9", 3, "x-bogus");
  g_assert_cmpstr (unknown, ==, "été");
  g_autofree char *koi = pd_text_to_utf8 ("\xf0\xd2\xc9\xd7\xc5\xd4", 6, "koi8-r");
  g_assert_cmpstr (koi, ==, "Привет");
  /* NUL bytes are dropped: they would cut every C string short. */
  g_autofree char *nul = pd_text_to_utf8 ("a\0b", 3, "utf-8");
  g_assert_cmpstr (nul, ==, "ab");
  /* A bad byte inside a multibyte charset costs one character, not the text. */
  g_autofree char *sjis = pd_text_to_utf8 ("\x93\xfa\x96\x7b\xff\x8c\xea", 7, "shift_jis");
  g_assert_cmpstr (sjis, ==, "日本\uFFFD語");
  /* In UTF-16 the NUL bytes belong to the characters. */
  g_autofree char *utf16 = pd_text_to_utf8 ("h\0\xe9\0!\0", 6, "utf-16le");
  g_assert_cmpstr (utf16, ==, "hé!");
  g_autofree char *empty = pd_text_to_utf8 (NULL, 0, NULL);
  g_assert_cmpstr (empty, ==, "");
}

/* ---- HTML to text ---------------------------------------------------------------- */

static void
assert_html (const char *html, const char *expected)
{
  g_autofree char *text = pd_html_to_text (html, strlen (html));
  g_assert_cmpstr (text, ==, expected);
}

static void
test_html_to_text (void)
{
  assert_html ("<p>one</p><p>two</p>", "one\n\ntwo");
  assert_html ("a<br>b<br><br>c<br><br><br><br>d", "a\nb\n\nc\n\nd");
  assert_html ("<div>x</div><div>y</div>", "x\ny");
  assert_html ("<h1>Title</h1>text", "Title\n\ntext");
  assert_html ("<ul><li>a</li><li>b<ul><li>c</li></ul></li></ul>", "- a\n- b\n  - c");
  assert_html ("<ol><li>first</li><li></li></ol>after", "- first\n\nafter");
  assert_html ("intro<ul><li>x</li></ul>", "intro\n\n- x");
  assert_html ("<table><tr><td>1</td><td>2</td></tr><tr><td>3</td><td>4</td></tr></table>", "1 2\n3 4");
  assert_html ("<pre>  keep\n    this</pre>", "keep\n    this");
  assert_html ("<p>a   b\n\tc</p>", "a b c");
  assert_html ("&lt;tag&gt; &amp; &quot;q&quot; &eacute; &#x263A;", "<tag> & \"q\" é ☺");
  assert_html ("<head><title>T</title><style>p{}</style></head><body>B<script>x()</script></body>", "B");
  assert_html ("<blockquote>quoted</blockquote>reply", "quoted\nreply");
  assert_html ("", "");
  assert_html ("<p></p><p>   </p>", "");
  /* A <meta> charset must not override the UTF-8 we already converted to. */
  assert_html ("<meta charset=\"iso-8859-1\"><p>Grüße</p>", "Grüße");
}

static void
test_html_garbage (void)
{
  /* How tag soup is repaired is libxml2's business; that the text survives
   * and is valid UTF-8 is ours. */
  static const char soup[] = "<<<>>><p <b>x</i></div>&bogus;&#99999999;";
  g_autofree char *soup_text = pd_html_to_text (soup, strlen (soup));
  g_assert_true (g_utf8_validate (soup_text, -1, NULL));
  g_assert_nonnull (strstr (soup_text, "x&bogus;"));
  /* Invalid UTF-8 is repaired, never passed through. */
  static const char bad[] = "<p>caf\xe9 \xff</p>";
  g_autofree char *text = pd_html_to_text (bad, strlen (bad));
  g_assert_true (g_utf8_validate (text, -1, NULL));

  /* Deep nesting and a large document survive. */
  GString *deep = g_string_new (NULL);
  for (int i = 0; i < 100000; i++)
    g_string_append (deep, "<div>");
  g_string_append (deep, "bottom");
  g_autofree char *deep_text = pd_html_to_text (deep->str, deep->len);
  g_assert_true (g_utf8_validate (deep_text, -1, NULL));
  g_string_free (deep, TRUE);

  GString *big = g_string_new (NULL);
  while (big->len < 8 * 1024 * 1024)
    g_string_append (big, "<p>Lorem ipsum dolor sit amet &amp; more <b>bold</b> text</p>\n");
  g_string_append (big, "<p>THE END</p>");
  g_autofree char *big_text = pd_html_to_text (big->str, big->len);
  g_assert_true (g_str_has_prefix (big_text, "Lorem ipsum dolor sit amet & more bold text\n\nLorem"));
  /* Only the first 4 MiB of HTML are converted. */
  g_assert_null (strstr (big_text, "THE END"));
  g_assert_cmpuint (strlen (big_text), <, 4 * 1024 * 1024);
  g_string_free (big, TRUE);

  GRand *rand = g_rand_new_with_seed (7);
  for (int round = 0; round < 50; round++)
    {
      gsize len = g_rand_int_range (rand, 1, 4096);
      char *buf = g_malloc (len);
      for (gsize i = 0; i < len; i++)
        buf[i] = (char) g_rand_int_range (rand, 0, 256);
      g_autofree char *t = pd_html_to_text (buf, len);
      g_assert_true (g_utf8_validate (t, -1, NULL));
      g_free (buf);
    }
  g_rand_free (rand);
}

/* ---- Shapes: limits that say what they cut ------------------------------------ */

/* A Subject of 'n' encoded words. (transfer full) */
static GString *
encoded_words_message (guint n)
{
  GString *s = g_string_new ("From: a@example.com\nSubject:");
  for (guint i = 0; i < n; i++)
    g_string_append (s, " =?utf-8?q?a?=");
  g_string_append (s, "\n\nbody\n");
  return s;
}

static void
test_encoded_words_limit (void)
{
  g_autoptr (GString) at = encoded_words_message (PD_MIME_MAX_ENCODED_WORDS);
  g_autoptr (pd_message_t) msg = parse_bytes (at->str, at->len, 0);
  g_assert_cmpuint (strlen (msg->subject), ==, PD_MIME_MAX_ENCODED_WORDS);

  g_autoptr (GString) past = encoded_words_message (PD_MIME_MAX_ENCODED_WORDS + 1);
  GError *err = NULL;
  g_assert_null (pd_mime_parse (past->str, past->len, 0, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_TOO_BIG);
  g_assert_nonnull (strstr (err->message, "1001 encoded words, over the 1000-word limit"));
  g_error_free (err);
}

/* An attachment whose name comes in 'n' RFC 2231 segments. (transfer full) */
static GString *
segments_message (guint n)
{
  GString *s = g_string_new ("From: a@example.com\nSubject: s\nContent-Type: multipart/mixed; boundary=B\n\n"
                             "--B\nContent-Type: application/pdf\nContent-Disposition: attachment");
  for (guint i = 0; i < n; i++)
    g_string_append_printf (s, ";\n filename*%u=\"x\"", i);
  g_string_append (s, "\n\nx\n--B--\n");
  return s;
}

static void
test_rfc2231_segments_limit (void)
{
  g_autoptr (GString) at = segments_message (PD_MIME_MAX_RFC2231_SEGMENTS);
  g_autoptr (pd_message_t) msg = parse_bytes (at->str, at->len, 0);
  g_assert_cmpuint (msg->attachments->len, ==, 1);
  g_assert_cmpuint (strlen (attachment (msg, 0)->filename), ==, 200);

  g_autoptr (GString) past = segments_message (PD_MIME_MAX_RFC2231_SEGMENTS + 1);
  GError *err = NULL;
  g_assert_null (pd_mime_parse (past->str, past->len, 0, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_TOO_BIG);
  g_assert_nonnull (strstr (err->message, "257 RFC 2231 parameter segments, over the 256-segment limit"));
  g_error_free (err);
}

/* 'depth' nested <div>s around "DEEP", then "AFTER". (transfer full) */
static GString *
deep_html (guint depth)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < depth; i++)
    g_string_append (s, "<div>");
  g_string_append (s, "DEEP");
  for (guint i = 0; i < depth; i++)
    g_string_append (s, "</div>");
  g_string_append (s, "<p>AFTER</p>");
  return s;
}

static void
test_html_depth_limit (void)
{
  /* libxml2 alone stops at 255 levels and drops the rest: both texts must
   * survive at, around and past that and postdesk's own bound. */
  g_autoptr (GString) libxml_limit = deep_html (300);
  g_autofree char *a = pd_html_to_text (libxml_limit->str, libxml_limit->len);
  g_assert_cmpstr (a, ==, "DEEP\n\nAFTER");

  /* <html><body> add two levels around the divs. */
  g_autoptr (GString) at = deep_html (PD_HTML_MAX_DEPTH - 2);
  g_autofree char *b = pd_html_to_text (at->str, at->len);
  g_assert_cmpstr (b, ==, "DEEP\n\nAFTER");

  g_autoptr (GString) past = deep_html (PD_HTML_MAX_DEPTH + 1);
  g_autofree char *c = pd_html_to_text (past->str, past->len);
  g_assert_true (g_str_has_prefix (c, "DEEP"));
  g_assert_nonnull (strstr (c, "AFTER"));
  g_assert_nonnull (strstr (c, "[postdesk] The HTML is nested more than 1024 levels deep"));
}

static void
test_html_size_limit (void)
{
  /* Exactly at the limit: all of it is converted, nothing is said. */
  GString *at = g_string_new ("<p>start</p>");
  while (at->len + 4 <= PD_HTML_MAX_BYTES)
    g_string_append (at, "<br>");
  g_string_append_len (at, "xxxx", (gssize) (PD_HTML_MAX_BYTES - at->len));
  g_assert_cmpuint (at->len, ==, PD_HTML_MAX_BYTES);
  g_autofree char *a = pd_html_to_text (at->str, at->len);
  g_assert_null (strstr (a, "[postdesk]"));
  g_assert_true (g_str_has_prefix (a, "start"));

  /* One byte past it, with the limit inside a tag: the cut goes before the
   * tag, so no half tag becomes text, and the body says what was cut. */
  g_string_truncate (at, PD_HTML_MAX_BYTES - 2);
  g_string_append (at, "<br>");
  g_autofree char *b = pd_html_to_text (at->str, at->len);
  g_assert_null (strstr (b, "<"));
  g_assert_nonnull (strstr (b, "[postdesk] The HTML part is 4194306 bytes: only the first 4194302 were converted"));
  g_string_free (at, TRUE);
}

static void
test_html_links_and_hidden (void)
{
  const char *html = "<div style='display : NONE'>preheader</div><p hidden>secret</p>"
                     "<span style='visibility:hidden'>pixel</span>"
                     "<p>Read <a href='https://x.example/a'>the page</a>, <a href='mailto:a@x.example'>a@x.example</a>,"
                     " <a href='https://x.example/b'>https://x.example/b</a>, <a href='javascript:f()'>js</a>"
                     " and <a href='tel:+1555'>call us</a>.</p>";
  g_autofree char *text = pd_html_to_text (html, strlen (html));
  g_assert_cmpstr (text, ==,
                   "Read the page <https://x.example/a>, a@x.example, https://x.example/b, js and call us <tel:+1555>.");
}

static void
test_fallback_charsets (void)
{
  const char *raw = "From: a@example.com\nSubject: s\nContent-Type: text/plain; charset=utf-8\n\n\xE9\xF2\n";
  g_autoptr (pd_message_t) cp1252 = parse_bytes (raw, strlen (raw), 0);
  g_assert_cmpstr (cp1252->body_text, ==, "\xC3\xA9\xC3\xB2\n");  /* "éò" */

  /* A configured list is used in order: KOI8-R reads the same bytes as
   * Cyrillic. */
  const char *koi8[] = { "koi8-r", NULL };
  g_assert_true (pd_mime_set_fallback_charsets (koi8, NULL));
  g_autoptr (pd_message_t) cyrillic = parse_bytes (raw, strlen (raw), 0);
  g_assert_cmpstr (cyrillic->body_text, ==, "\xD0\x98\xD0\xA0\n");  /* "ИР" */

  const char *bogus[] = { "x-no-such-charset", NULL };
  GError *err = NULL;
  g_assert_false (pd_mime_set_fallback_charsets (bogus, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_CONFIG);
  g_error_free (err);
  g_assert_true (pd_mime_set_fallback_charsets (NULL, NULL));
  g_autoptr (pd_message_t) back = parse_bytes (raw, strlen (raw), 0);
  g_assert_cmpstr (back->body_text, ==, "\xC3\xA9\xC3\xB2\n");
}

static void
test_file_shapes (void)
{
  const char *shapes[] = {
    "\xEF\xBB\xBF" "From: Pia <pia@example.se>\nSubject: s\n\nbody\n",
    "\n  \n\t\r\nFrom: Pia <pia@example.se>\nSubject: s\n\nbody\n",
    "From: Pia <pia@example.se>\rSubject: s\r\rbody\r",
    "From: Pia <pia@example.se>\r\nSubject: s\r\rbody\n",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      g_autoptr (pd_message_t) msg = parse_bytes (shapes[i], strlen (shapes[i]), 0);
      g_assert_nonnull (msg->from);
      g_assert_cmpstr (msg->from->address, ==, "pia@example.se");
      g_assert_cmpstr (msg->subject, ==, "s");
      g_assert_cmpstr (msg->body_text, ==, "body\n");
    }
  /* A NUL byte in From is read past, not where the sender ends. */
  const char nul[] = "From: Pia\0 Berg <pia@example.se>\nSubject: s\n\nbody\n";
  g_autoptr (pd_message_t) msg = parse_bytes (nul, sizeof nul - 1, 0);
  g_assert_nonnull (msg->from);
  g_assert_cmpstr (msg->from->address, ==, "pia@example.se");

  const char gz[] = "\x1F\x8B\x08\x00";
  GError *err = NULL;
  g_assert_null (pd_mime_parse (gz, sizeof gz - 1, 0, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_PARSE);
  g_assert_nonnull (strstr (err->message, "gzip-compressed"));
  g_error_free (err);
}

static void
test_multipart_without_boundary (void)
{
  const char *raw = "From: a@example.com\nSubject: s\nContent-Type: multipart/mixed\n\nThe sync fails.\n";
  g_autoptr (pd_message_t) msg = parse_bytes (raw, strlen (raw), 0);
  g_assert_cmpstr (msg->body_text, ==, "The sync fails.\n");
}

int
main (int argc, char **argv)
{
  pd_test_init (&argc, &argv);

  g_test_add_func ("/mime/subject/utf8-b", test_subject_utf8_b);
  g_test_add_func ("/mime/subject/latin1-q", test_subject_latin1_q);
  g_test_add_func ("/mime/subject/windows-1252", test_subject_windows_1252);
  g_test_add_func ("/mime/subject/iso-2022-jp", test_subject_iso_2022_jp);
  g_test_add_func ("/mime/subject/koi8-r", test_subject_koi8_r);
  g_test_add_func ("/mime/subject/raw-utf8", test_subject_raw_utf8);
  g_test_add_func ("/mime/subject/raw-latin1", test_subject_raw_latin1);

  g_test_add_func ("/mime/addresses/from-to-cc-reply-to-envelope", test_addresses);
  g_test_add_func ("/mime/addresses/45000-delivered-to", test_many_delivered_to);
  g_test_add_func ("/mime/addresses/group-syntax", test_group_to);
  g_test_add_func ("/mime/addresses/no-usable-from", test_no_from);
  g_test_add_func ("/mime/headers/in-order-decoded", test_headers_in_order);
  g_test_add_func ("/mime/headers/in-reply-to-references", test_reply_headers);
  g_test_add_func ("/mime/headers/date", test_date);

  g_test_add_func ("/mime/message-id/synthetic-lf-crlf", test_synthetic_id_lf_crlf);
  g_test_add_func ("/mime/message-id/garbage-is-synthetic", test_garbage_message_id);

  g_test_add_func ("/mime/body/html-only", test_html_only);
  g_test_add_func ("/mime/body/html-related-inline-images", test_html_related);
  g_test_add_func ("/mime/body/alternative-picks-plain", test_alternative_picks_plain);
  g_test_add_func ("/mime/body/quoted-printable", test_quoted_printable_body);
  g_test_add_func ("/mime/body/base64", test_base64_body);
  g_test_add_func ("/mime/body/bogus-charset", test_bogus_charset);
  g_test_add_func ("/mime/body/invalid-utf8", test_invalid_utf8);
  g_test_add_func ("/mime/body/crlf", test_crlf_body);
  g_test_add_func ("/mime/body/byte-order-mark", test_bom_body);

  g_test_add_func ("/mime/attachment/glib-base64-past-padding", test_glib_base64_reads_past_padding);
  g_test_add_func ("/mime/attachment/chunked-base64", test_chunked_base64_attachment);
  g_test_add_func ("/mime/attachment/content-only-when-wanted", test_content_only_when_wanted);
  g_test_add_func ("/mime/attachment/size-without-content", test_size_without_content);
  g_test_add_func ("/mime/attachment/rfc2231-filenames", test_rfc2231_filenames);
  g_test_add_func ("/mime/attachment/rfc2047-filenames", test_rfc2047_filenames);
  g_test_add_func ("/mime/attachment/hostile-filenames", test_hostile_filenames);
  g_test_add_func ("/mime/attachment/corrupt-base64", test_corrupt_base64_attachment);
  g_test_add_func ("/mime/attachment/forwarded-message", test_forwarded_message);

  g_test_add_func ("/mime/flags/auto-replies", test_auto_replies);
  g_test_add_func ("/mime/flags/not-auto-replies", test_not_auto_replies);
  g_test_add_func ("/mime/flags/bulk", test_bulk);
  g_test_add_func ("/mime/bounce/postfix-report", test_bounce_postfix);
  g_test_add_func ("/mime/bounce/rfc822-headers", test_bounce_rfc822_headers);
  g_test_add_func ("/mime/bounce/mailer-daemon-plain", test_bounce_mailer_daemon);
  g_test_add_func ("/mime/bounce/not-a-bounce", test_not_a_bounce);

  g_test_add_func ("/mime/robust/truncated-multipart", test_truncated_multipart);
  g_test_add_func ("/mime/limits/parts-at-limit", test_parts_at_limit);
  g_test_add_func ("/mime/limits/depth-at-limit", test_depth_at_limit);
  g_test_add_func ("/mime/limits/header-lines-at-limit", test_header_lines_at_limit);
  g_test_add_func ("/mime/limits/part-header-bytes", test_part_header_bytes);
  g_test_add_func ("/mime/limits/million-empty-parts", test_million_empty_parts);
  g_test_add_func ("/mime/limits/million-header-lines", test_million_header_lines);
  g_test_add_func ("/mime/limits/boundary-as-gmime-reads-it", test_boundary_as_gmime_reads_it);
  g_test_add_func ("/mime/robust/huge-header", test_huge_header);
  g_test_add_func ("/mime/robust/header-at-limit", test_header_at_limit);
  g_test_add_func ("/mime/robust/empty-input", test_empty_input);
  g_test_add_func ("/mime/robust/random-binary", test_random_binary);
  g_test_add_func ("/mime/robust/garbage-after-headers", test_garbage_after_headers);
  g_test_add_func ("/mime/robust/headers-only", test_headers_only);
  g_test_add_func ("/mime/robust/mbox-from-line", test_mbox_from_line);
  g_test_add_func ("/mime/robust/gmime-issue-165", test_gmime_issue_165);
  g_test_add_func ("/mime/robust/whole-corpus-crlf", test_whole_corpus_crlf);
  g_test_add_func ("/mime/robust/mutated-corpus", test_mutated_corpus);

  g_test_add_func ("/mime/text/to-utf8", test_text_to_utf8);
  g_test_add_func ("/mime/html/to-text", test_html_to_text);
  g_test_add_func ("/mime/html/garbage", test_html_garbage);
  g_test_add_func ("/mime/html/silent", test_html_is_silent);
  g_test_add_func ("/mime/shapes/encoded-words-limit", test_encoded_words_limit);
  g_test_add_func ("/mime/shapes/rfc2231-segments-limit", test_rfc2231_segments_limit);
  g_test_add_func ("/mime/shapes/html-depth-limit", test_html_depth_limit);
  g_test_add_func ("/mime/shapes/html-size-limit", test_html_size_limit);
  g_test_add_func ("/mime/shapes/html-links-and-hidden", test_html_links_and_hidden);
  g_test_add_func ("/mime/shapes/fallback-charsets", test_fallback_charsets);
  g_test_add_func ("/mime/shapes/file-shapes", test_file_shapes);
  g_test_add_func ("/mime/shapes/multipart-without-boundary", test_multipart_without_boundary);

  return g_test_run ();
}
