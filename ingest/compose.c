/* compose.c - an outgoing message from plain strings, with GMime.
 *
 * Everything that reaches a header is checked before GMime sees it: GMime
 * writes what it is given, so an address with a comma would become two
 * recipients and a value with a line break a new header. The checks refuse
 * rather than repair, since by now the strings should be clean (the
 * template renderer cleans what comes from mail) and a dirty one is a bug
 * to hear about. */
#include "postdesk/compose.h"

#include <gmime/gmime.h>
#include <gnutls/crypto.h>
#include <string.h>

#include "postdesk/mime.h"
#include "postdesk/template.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeMessage, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeObject, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeStream, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeDataWrapper, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeFormatOptions, g_mime_format_options_free)

/* RFC 4648 base32 in lower case, without padding: letters and digits only,
 * so the id is safe in every header and needs no quoting. */
static char *
base32 (const guint8 *data, gsize len)
{
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  GString *s = g_string_sized_new (len * 8 / 5 + 2);
  guint32 buffer = 0;
  int bits = 0;
  for (gsize i = 0; i < len; i++)
    {
      buffer = (buffer << 8) | data[i];
      bits += 8;
      while (bits >= 5)
        {
          g_string_append_c (s, alphabet[(buffer >> (bits - 5)) & 31]);
          bits -= 5;
        }
    }
  if (bits > 0)
    g_string_append_c (s, alphabet[(buffer << (5 - bits)) & 31]);
  return g_string_free (s, FALSE);
}

/* An id or a domain: printable ASCII without spaces and without the
 * brackets that delimit it in a header. */
static bool
id_ok (const char *s)
{
  if (s == NULL || s[0] == '\0' || strlen (s) > 250)
    return false;
  for (const char *p = s; *p != '\0'; p++)
    if (*p <= ' ' || *p >= 127 || *p == '<' || *p == '>')
      return false;
  return true;
}

char *
pd_compose_message_id (const char *domain, GError **err)
{
  if (!id_ok (domain) || strchr (domain, '@') != NULL)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_REJECTED, "cannot make a Message-ID on the domain '%s'",
                   domain != NULL ? domain : "");
      return NULL;
    }
  /* gnutls_rnd draws from the system's CSPRNG (getrandom); GLib's g_random
   * is a Mersenne Twister, whose output can be predicted from earlier ids. */
  guint8 bytes[PD_COMPOSE_ID_RANDOM_BYTES];
  int rc = gnutls_rnd (GNUTLS_RND_NONCE, bytes, sizeof bytes);
  if (rc != 0)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_IO, "cannot make a Message-ID: no random bytes: %s",
                   gnutls_strerror (rc));
      return NULL;
    }
  g_autofree char *random = base32 (bytes, sizeof bytes);
  g_autofree char *lower = g_ascii_strdown (domain, -1);
  return g_strdup_printf ("pd.%s@%s", random, lower);
}

/* Checks an address; 'what' names the field in the error. */
static bool
address_ok (const char *address, const char *what, GError **err)
{
  const char *why = NULL;
  if (address == NULL || address[0] == '\0')
    why = "it is empty";
  else if (strlen (address) > PD_COMPOSE_MAX_ADDRESS)
    why = "it is longer than 254 bytes";
  else
    {
      for (const guchar *p = (const guchar *) address; *p != '\0' && why == NULL; p++)
        if (*p <= ' ' || *p == 127)
          why = "it holds a space or a control character";
        else if (strchr ("<>(),;:\"[]\\", *p) != NULL)
          why = "it holds one of < > ( ) , ; : \" [ ] \\";
      const char *at = strchr (address, '@');
      if (why == NULL && (at == NULL || at == address || at[1] == '\0' || strchr (at + 1, '@') != NULL))
        why = "it is not local@domain";
      if (why == NULL && !g_utf8_validate (address, -1, NULL))
        why = "it is not valid UTF-8";
    }
  if (why != NULL)
    {
      g_autofree char *shown = g_strescape (address != NULL ? address : "", NULL);
      g_set_error (err, PD_ERROR, PD_ERROR_REJECTED, "refusing the %s address \"%.300s\": %s", what, shown, why);
      return false;
    }
  return true;
}

/* A header value must be one line of text: GMime folds and encodes it,
 * but a control character in it is either an attack or a bug. */
static bool
one_line_ok (const char *value, const char *what, bool may_be_empty, GError **err)
{
  const char *why = NULL;
  if (value == NULL || (value[0] == '\0' && !may_be_empty))
    why = "it is empty";
  else if (!g_utf8_validate (value, -1, NULL))
    why = "it is not valid UTF-8";
  else
    for (const char *p = value; *p != '\0' && why == NULL; p = g_utf8_next_char (p))
      {
        gunichar c = g_utf8_get_char (p);
        if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029)
          why = "it holds a line break or another control character";
      }
  if (why != NULL)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_REJECTED, "refusing the %s: %s", what, why);
      return false;
    }
  return true;
}

/* Everything in 'in' checked before anything is built. */
static bool
check_input (const pd_compose_t *in, GError **err)
{
  if (!address_ok (in->from_address, "From", err))
    return false;
  if (in->from_name != NULL && !one_line_ok (in->from_name, "From name", true, err))
    return false;
  if (in->reply_to != NULL && !address_ok (in->reply_to, "Reply-To", err))
    return false;
  if (in->to == NULL || in->to[0] == NULL)
    {
      g_set_error_literal (err, PD_ERROR, PD_ERROR_REJECTED, "a message needs at least one To address");
      return false;
    }
  for (gsize i = 0; in->to[i] != NULL; i++)
    if (!address_ok (in->to[i], "To", err))
      return false;
  if (!one_line_ok (in->subject, "Subject", false, err))
    return false;
  if (in->body == NULL || !g_utf8_validate (in->body, -1, NULL))
    {
      g_set_error_literal (err, PD_ERROR, PD_ERROR_REJECTED, "refusing the body: it is missing or not valid UTF-8");
      return false;
    }
  if (in->in_reply_to != NULL && !id_ok (in->in_reply_to))
    {
      g_set_error (err, PD_ERROR, PD_ERROR_REJECTED, "refusing the In-Reply-To id \"%.300s\": it holds "
                   "a space, a control character, < or >", in->in_reply_to);
      return false;
    }
  for (gsize i = 0; in->references != NULL && in->references[i] != NULL; i++)
    if (!id_ok (in->references[i]))
      {
        g_set_error (err, PD_ERROR, PD_ERROR_REJECTED, "refusing the References id \"%.300s\": it holds "
                     "a space, a control character, < or >", in->references[i]);
        return false;
      }
  for (guint i = 0; in->headers != NULL && i < in->headers->len; i++)
    {
      const pd_template_header_t *h = in->headers->pdata[i];
      if (!pd_template_header_allowed (h->name) || g_ascii_strcasecmp (h->name, "Subject") == 0)
        {
          g_set_error (err, PD_ERROR, PD_ERROR_REJECTED, "refusing the header '%s': postdesk sets it "
                       "itself or a template may not", h->name);
          return false;
        }
      for (const char *p = h->name; *p != '\0'; p++)
        if (*p <= ' ' || *p >= 127 || *p == ':')
          {
            g_set_error (err, PD_ERROR, PD_ERROR_REJECTED, "refusing the header name '%s'", h->name);
            return false;
          }
      g_autofree char *what = g_strdup_printf ("%s header", h->name);
      if (!one_line_ok (h->value, what, false, err))
        return false;
    }
  return true;
}

/* The raw form of an unstructured header value (" value\n", folded with
 * "\n "). Printable ASCII without "=?" is written as it is. Anything else
 * becomes base64 encoded words of UTF-8 throughout: GMime's own encoder
 * treats an "=?...?=" in the text as an encoded word already made and
 * writes it out as such, so a subject a customer typed as
 * "=?utf-8?q?a=0D=0ABcc:_x?=" would reach readers as a line break and a
 * forged "Bcc:". Encoding every byte ourselves means a reader decodes
 * exactly the text that was given. (transfer full) */
static char *
raw_header_value (const char *value)
{
  gsize len = strlen (value);
  bool plain = len <= 900 && strstr (value, "=?") == NULL;
  for (const char *p = value; plain && *p != '\0'; p++)
    plain = *p >= 0x20 && *p < 0x7f;
  if (plain)
    return g_strdup_printf (" %s\n", value);
  GString *raw = g_string_new (NULL);
  const char *p = value;
  while (*p != '\0')
    {
      /* At most 45 bytes of whole characters per word: 60 base64
       * characters, 72 with the markers, under RFC 2047's 75. */
      const char *end = p;
      while (*end != '\0' && g_utf8_next_char (end) - p <= 45)
        end = g_utf8_next_char (end);
      g_autofree char *b64 = g_base64_encode ((const guchar *) p, (gsize) (end - p));
      g_string_append_printf (raw, "%s=?UTF-8?B?%s?=", raw->len > 0 ? "\n " : " ", b64);
      p = end;
    }
  g_string_append_c (raw, '\n');
  return g_string_free (raw, FALSE);
}

/* Sets an unstructured header to exactly 'value' (see raw_header_value). */
static void
set_text_header (GMimeObject *obj, const char *name, const char *value)
{
  g_mime_object_set_header (obj, name, value, "utf-8");
  GMimeHeader *h = g_mime_header_list_get_header (g_mime_object_get_header_list (obj), name);
  g_autofree char *raw = raw_header_value (value);
  g_mime_header_set_raw_value (h, raw);
}

/* The body as a text/plain part in UTF-8. The part is made by hand rather
 * than with g_mime_text_part_set_text, which picks the smallest charset
 * that fits (ISO-8859-1 for "café") and converts to it: postdesk's mail is
 * UTF-8 throughout. */
static GMimeObject *
body_part (const char *body)
{
  GMimePart *part = g_mime_part_new_with_type ("text", "plain");
  g_mime_object_set_content_type_parameter ((GMimeObject *) part, "charset", "utf-8");
  gsize len = strlen (body);
  g_autoptr (GMimeStream) stream = g_mime_stream_mem_new_with_buffer (body, len);
  g_autoptr (GMimeDataWrapper) content = g_mime_data_wrapper_new_with_stream (stream, GMIME_CONTENT_ENCODING_DEFAULT);
  g_mime_part_set_content (part, content);
  return (GMimeObject *) part;
}

bool
pd_compose_message (const pd_compose_t *in, GBytes **raw, char **message_id, GError **err)
{
  *raw = NULL;
  *message_id = NULL;
  if (!check_input (in, err))
    return false;
  g_autofree char *id = pd_compose_message_id (in->id_domain, err);
  if (id == NULL)
    return false;
  pd_mime_init ();

  g_autoptr (GMimeMessage) msg = g_mime_message_new (TRUE);
  GMimeObject *obj = (GMimeObject *) msg;
  const char *from_name = in->from_name != NULL && in->from_name[0] != '\0' ? in->from_name : NULL;
  g_mime_message_add_mailbox (msg, GMIME_ADDRESS_TYPE_FROM, from_name, in->from_address);
  for (gsize i = 0; in->to[i] != NULL; i++)
    g_mime_message_add_mailbox (msg, GMIME_ADDRESS_TYPE_TO, NULL, in->to[i]);
  if (in->reply_to != NULL)
    g_mime_message_add_mailbox (msg, GMIME_ADDRESS_TYPE_REPLY_TO, NULL, in->reply_to);
  set_text_header (obj, "Subject", in->subject);
  g_autoptr (GDateTime) date = g_date_time_new_from_unix_utc (in->date != 0 ? in->date : pd_time_now ());
  g_mime_message_set_date (msg, date);
  g_mime_message_set_message_id (msg, id);
  if (in->in_reply_to != NULL)
    {
      g_autofree char *v = g_strdup_printf ("<%s>", in->in_reply_to);
      g_mime_object_set_header (obj, "In-Reply-To", v, NULL);
    }
  if (in->references != NULL && in->references[0] != NULL)
    {
      g_autoptr (GString) v = g_string_new (NULL);
      for (gsize i = 0; in->references[i] != NULL; i++)
        g_string_append_printf (v, "%s<%s>", i > 0 ? " " : "", in->references[i]);
      g_mime_object_set_header (obj, "References", v->str, NULL);
    }
  if (in->auto_reply)
    {
      g_mime_object_set_header (obj, "Auto-Submitted", "auto-replied", NULL);
      g_mime_object_set_header (obj, "X-Auto-Response-Suppress", "All", NULL);
    }
  for (guint i = 0; in->headers != NULL && i < in->headers->len; i++)
    {
      const pd_template_header_t *h = in->headers->pdata[i];
      set_text_header (obj, h->name, h->value);
    }

  g_autoptr (GMimeObject) part = body_part (in->body);
  g_mime_message_set_mime_part (msg, part);
  /* Without the constraint GMime would send UTF-8 as 8bit, which not
   * every relay accepts: this picks quoted-printable or base64. */
  g_mime_object_encode (obj, GMIME_ENCODING_CONSTRAINT_7BIT);

  g_autoptr (GMimeFormatOptions) fo = g_mime_format_options_new ();
  g_mime_format_options_set_newline_format (fo, GMIME_NEWLINE_FORMAT_DOS);
  g_autoptr (GMimeStream) out = g_mime_stream_mem_new ();
  if (g_mime_object_write_to_stream (obj, fo, out) < 0)
    {
      g_set_error_literal (err, PD_ERROR, PD_ERROR_IO, "cannot write the composed message");
      return false;
    }
  /* The stream frees its byte array when it goes unless told it does not
   * own it; a reference on the array is not enough (the finalizer empties
   * it). */
  GByteArray *bytes = g_mime_stream_mem_get_byte_array ((GMimeStreamMem *) out);
  g_mime_stream_mem_set_owner ((GMimeStreamMem *) out, FALSE);
  *raw = g_byte_array_free_to_bytes (bytes);
  *message_id = g_steal_pointer (&id);
  return true;
}
