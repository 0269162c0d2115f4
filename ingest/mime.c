/* mime.c - one raw RFC 5322 message in, one pd_message_t out.
 *
 * GMime 3.2.13 does the parsing; this file decides what a help desk needs
 * from the tree and works around the traps of that exact version (see
 * /work/shared/notes/libraries.md, section 3):
 *   - its base64 decoder stops at the first '=', truncating attachments made
 *     of concatenated base64 chunks, so base64 content is decoded here with
 *     GLib's decoder, which reads on past padding;
 *   - re-encoding a parsed Content-Type can loop forever (GMime issue #165),
 *     so nothing here calls g_mime_multipart_get_boundary() or writes a
 *     parsed object back out: boundaries are read as plain parameters and an
 *     attached message is measured in the raw bytes;
 *   - it has no header size limit, so the header section is measured before
 *     GMime sees it;
 *   - text in an unknown or missing charset comes back as raw bytes, so every
 *     string is converted here and checked to be valid UTF-8.
 */
/* memmem() */
#define _GNU_SOURCE

#include "postdesk/mime.h"
#include "mime_detect.h"

#include <errno.h>
#include <fcntl.h>
#include <gmime/gmime.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <string.h>
#include <unistd.h>
#include <ytnef.h>

/* GMime 3.2 declares no cleanup functions of its own. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeMessage, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeParser, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeStream, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (InternetAddressList, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeReferences, g_mime_references_free)

/* A message with more MIME parts than this is walked only this far: the
 * rest are neither body candidates nor listed as attachments. Real mail has
 * a few dozen parts at most; the cap only bounds hostile input. */
#define MAX_PARTS 10000

/* Longest message-id kept (RFC 5322's line length limit). */
#define MAX_MESSAGE_ID_BYTES 995

/* Longest sanitised attachment filename, in bytes. */
#define MAX_FILENAME_BYTES 200

#define READ_CHUNK 16384

/* At most this many charsets are kept loaded (see pin_charset). */
#define MAX_PINNED_CHARSETS 64

static GMutex init_lock;
static gint initialised;                    /* atomic; changed under init_lock */
static GMimeParserOptions *parser_options;  /* owned; read-only once set, so
                                               every thread shares it */
/* owned, NULL-terminated iconv names: how text labelled UTF-8 whose bytes
 * are not is read; NULL means PD_MIME_DEFAULT_FALLBACK_CHARSETS. Set at
 * start-up only (see pd_mime_set_fallback_charsets), read without a lock. */
static char **fallback_charsets;
static GMutex pin_lock;
static GHashTable *pinned;  /* owned, guarded by pin_lock: lower-case iconv
                               name -> a GIConv held open and never used */
/* Set by ensure_init, read-only afterwards: the characters GLib's base64
 * decoder takes ('=' included), and the same without '='. */
static guint8 base64_alphabet[256];
static guint8 base64_plain[256];

/* Errors libxml2 raises outside a parser context do not see
 * HTML_PARSE_NOERROR and go to its process-wide handlers, which print on
 * stderr; these no-ops replace them. */
static void
silence_libxml_generic (void *ctx, const char *msg, ...)
{
  (void) ctx;
  (void) msg;
}

static void
silence_libxml_structured (void *ctx, xmlErrorPtr error)
{
  (void) ctx;
  (void) error;
}

/* The fallback charsets as a list. (borrowed, static or fallback_charsets) */
static const char *const *
fallback_list (void)
{
  static const char *const defaults[] = { PD_MIME_DEFAULT_FALLBACK_CHARSETS, NULL };
  return fallback_charsets != NULL ? (const char *const *) fallback_charsets : defaults;
}

/* GMime reads raw 8-bit header text as UTF-8 first, then in each fallback
 * charset in turn (its own default, iso-8859-1, would turn the curly quotes
 * of Windows mailers into control characters). */
static void
apply_fallback_to_parser (void)
{
  const char *const *list = fallback_list ();
  g_autoptr (GPtrArray) all = g_ptr_array_new ();
  g_ptr_array_add (all, (gpointer) "utf-8");
  for (int i = 0; list[i] != NULL; i++)
    g_ptr_array_add (all, (gpointer) list[i]);
  g_ptr_array_add (all, NULL);
  g_mime_parser_options_set_fallback_charsets (parser_options, (const char **) all->pdata);
}

/* Idempotent and cheap once done, so every entry point can call it. */
static void
ensure_init (void)
{
  if (g_atomic_int_get (&initialised))
    return;
  g_mutex_lock (&init_lock);
  if (!g_atomic_int_get (&initialised))
    {
      g_mime_init ();
      parser_options = g_mime_parser_options_new ();
      /* Raw 8-bit header text is tried as UTF-8 first and otherwise read as
       * windows-1252, which maps every byte (GMime's default, iso-8859-1,
       * turns the curly quotes of Windows mailers into control characters). */
      apply_fallback_to_parser ();

      for (int c = 0; c < 256; c++)
        {
          base64_plain[c] = g_ascii_isalnum (c) || c == '+' || c == '/';
          base64_alphabet[c] = base64_plain[c] || c == '=';
        }

      xmlInitParser ();
      /* The ThrDef variants set the default for threads libxml2 has not
       * seen yet; the plain ones cover this thread. */
      xmlSetGenericErrorFunc (NULL, silence_libxml_generic);
      xmlThrDefSetGenericErrorFunc (NULL, silence_libxml_generic);
      xmlSetStructuredErrorFunc (NULL, silence_libxml_structured);
      xmlThrDefSetStructuredErrorFunc (NULL, silence_libxml_structured);
      g_atomic_int_set (&initialised, TRUE);
    }
  g_mutex_unlock (&init_lock);
}

void
pd_mime_init (void)
{
  ensure_init ();
}

bool
pd_mime_set_fallback_charsets (const char *const *charsets, GError **err)
{
  ensure_init ();
  for (int i = 0; charsets != NULL && charsets[i] != NULL; i++)
    {
      GIConv cd = g_iconv_open ("UTF-8", charsets[i]);
      if (cd == (GIConv) -1)
        {
          g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "fallback charset '%s' is not one iconv knows", charsets[i]);
          return false;
        }
      g_iconv_close (cd);
    }
  g_mutex_lock (&init_lock);
  g_clear_pointer (&fallback_charsets, g_strfreev);
  if (charsets != NULL && charsets[0] != NULL)
    fallback_charsets = g_strdupv ((char **) charsets);
  apply_fallback_to_parser ();
  g_mutex_unlock (&init_lock);
  return true;
}

void
pd_mime_shutdown (void)
{
  g_mutex_lock (&init_lock);
  if (g_atomic_int_get (&initialised))
    {
      g_mime_parser_options_free (parser_options);
      parser_options = NULL;
      g_clear_pointer (&fallback_charsets, g_strfreev);
      g_mutex_lock (&pin_lock);
      g_clear_pointer (&pinned, g_hash_table_unref);
      g_mutex_unlock (&pin_lock);
      g_mime_shutdown ();
      xmlCleanupParser ();
      g_atomic_int_set (&initialised, FALSE);
    }
  g_mutex_unlock (&init_lock);
}

/* ---- Text ---------------------------------------------------------------- */

static void
close_pinned (gpointer cd)
{
  g_iconv_close ((GIConv) cd);
}

/* glibc unloads an idle gconv module after a few conversions in other
 * charsets, and loading it again costs a dlopen(): alternating between, say,
 * windows-1252 bodies and iso-8859-1 headers made every parse reload
 * CP1252.so and ran ten times slower. Holding one descriptor open per charset
 * keeps its module resident. The cap bounds what hostile charset names can
 * make us load. */
static void
pin_charset (const char *from)
{
  g_autofree char *key = g_ascii_strdown (from, -1);
  g_mutex_lock (&pin_lock);
  if (pinned == NULL)
    pinned = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, close_pinned);
  if (g_hash_table_size (pinned) < MAX_PINNED_CHARSETS && !g_hash_table_contains (pinned, key))
    {
      GIConv cd = g_iconv_open ("UTF-8", from);
      if (cd != (GIConv) -1)
        g_hash_table_insert (pinned, g_steal_pointer (&key), cd);
    }
  g_mutex_unlock (&pin_lock);
}

/* Charset labels whose bytes are read as UTF-8 directly (ASCII is a subset;
 * 8-bit bytes under an ASCII label are most often undeclared UTF-8). */
static bool
charset_is_utf8 (const char *charset)
{
  static const char *const labels[] = {
    "utf-8", "utf8", "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "unicode-1-1-utf-8",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (labels); i++)
    if (g_ascii_strcasecmp (charset, labels[i]) == 0)
      return true;
  return false;
}

/* The iconv name to convert a declared charset from, or NULL when the label
 * means UTF-8 (or nothing). Latin-1 labels are read as windows-1252, its
 * superset, as browsers do: the bytes 0x80-0x9F in "iso-8859-1" mail are
 * almost always Windows punctuation, never C1 control characters. */
static const char *
iconv_source_name (const char *charset)
{
  if (charset == NULL)
    return NULL;
  while (g_ascii_isspace (*charset))
    charset++;
  if (*charset == '\0' || charset_is_utf8 (charset))
    return NULL;
  const char *name = g_mime_charset_iconv_name (charset);
  if (name == NULL)
    return NULL;
  if (g_ascii_strcasecmp (name, "iso-8859-1") == 0 || g_ascii_strcasecmp (name, "latin1") == 0)
    return "WINDOWS-1252";
  return name;
}

/* Removes NUL bytes in place and returns the new length. NUL is valid UTF-8
 * but would silently cut every C string after it. */
static gsize
drop_nul (char *s, gsize len)
{
  char *p = memchr (s, '\0', len);
  if (p == NULL)
    return len;
  gsize w = (gsize) (p - s);
  for (gsize r = w; r < len; r++)
    if (s[r] != '\0')
      s[w++] = s[r];
  return w;
}

/* Converts to UTF-8 without giving up on bad input: a byte sequence that is
 * invalid in 'from' becomes U+FFFD and conversion goes on after it, so one
 * stray byte does not lose a whole Japanese message. Returns NULL only when
 * iconv does not know 'from'. (transfer full) */
static char *
convert_leniently (const char *bytes, gsize len, const char *from)
{
  GIConv cd = g_iconv_open ("UTF-8", from);
  if (cd == (GIConv) -1)
    return NULL;
  pin_charset (from);

  GString *out = g_string_sized_new (len + len / 2 + 16);
  char buf[4096];
  char *in = (char *) bytes;
  gsize in_left = len;
  while (in_left > 0)
    {
      char *o = buf;
      gsize o_left = sizeof buf;
      gsize r = g_iconv (cd, &in, &in_left, &o, &o_left);
      int saved = errno;
      g_string_append_len (out, buf, o - buf);
      if (r != (gsize) -1)
        continue;
      if (saved == E2BIG)
        continue;
      if (saved == EILSEQ || saved == EINVAL)
        {
          g_string_append (out, "\xEF\xBF\xBD");
          in++;
          in_left--;
          continue;
        }
      break;
    }
  /* Stateful encodings (ISO-2022-JP) may owe a final shift sequence. */
  char *o = buf;
  gsize o_left = sizeof buf;
  g_iconv (cd, NULL, NULL, &o, &o_left);
  g_string_append_len (out, buf, o - buf);
  g_iconv_close (cd);

  g_string_truncate (out, drop_nul (out->str, out->len));
  if (!g_utf8_validate (out->str, out->len, NULL))
    {
      char *fixed = g_utf8_make_valid (out->str, out->len);
      g_string_free (out, TRUE);
      return fixed;
    }
  return g_string_free (out, FALSE);
}

/* Whether 'bytes' hold at least one valid multi-byte UTF-8 character. */
static bool
has_utf8_sequence (const char *bytes, gsize len)
{
  const char *end = bytes + len;
  for (const char *p = bytes; p < end; p++)
    {
      if ((guchar) *p < 0xC2)
        continue;
      gunichar c = g_utf8_get_char_validated (p, end - p);
      if (c != (gunichar) -1 && c != (gunichar) -2)
        return true;
    }
  return false;
}

/* Bytes that are not UTF-8 read in the first fallback charset that takes
 * every byte; when none does (windows-1252 leaves five bytes unassigned),
 * in the first one with U+FFFD for what it lacks. (transfer full) */
static char *
convert_fallback (const char *bytes, gsize len)
{
  const char *const *list = fallback_list ();
  for (int i = 0; list[i] != NULL; i++)
    {
      gsize written = 0;
      char *out = g_convert (bytes, (gssize) len, "UTF-8", list[i], NULL, &written, NULL);
      if (out != NULL)
        {
          written = drop_nul (out, written);
          out[written] = '\0';
          if (g_utf8_validate (out, (gssize) written, NULL))
            return out;
          g_free (out);
        }
    }
  char *converted = convert_leniently (bytes, len, list[0]);
  return converted != NULL ? converted : g_utf8_make_valid (bytes, len);
}

char *
pd_text_to_utf8 (const char *bytes, gsize len, const char *charset)
{
  if (bytes == NULL || len == 0)
    return g_strdup ("");
  ensure_init ();

  /* A declared charset wins even when the bytes happen to be valid UTF-8:
   * ISO-2022-JP text is pure ASCII on the wire. (NUL bytes are left to the
   * conversion here: in UTF-16 they are half of every ASCII character.) */
  const char *from = iconv_source_name (charset);
  if (from != NULL)
    {
      char *converted = convert_leniently (bytes, len, from);
      if (converted != NULL)
        return converted;
    }

  g_autofree char *copy = NULL;
  if (memchr (bytes, '\0', len) != NULL)
    {
      copy = g_memdup2 (bytes, len);
      len = drop_nul (copy, len);
      bytes = copy;
    }
  if (g_utf8_validate (bytes, len, NULL))
    return g_strndup (bytes, len);
  /* Text that holds real UTF-8 characters and a few bad bytes is UTF-8
   * damaged in transit: it keeps its good characters. Text labelled UTF-8
   * (or ASCII) without a single UTF-8 character is mislabelled, nearly
   * always Windows-1252, and so is text with no label or an unknown one:
   * read it in the configured fallback charsets. */
  if (charset != NULL && charset_is_utf8 (charset) && has_utf8_sequence (bytes, len))
    return g_utf8_make_valid (bytes, len);
  return convert_fallback (bytes, len);
}

/* A string GMime returned (decoded, but not promised valid) as valid UTF-8.
 * (transfer full) */
static char *
utf8_dup (const char *s)
{
  if (s == NULL)
    return NULL;
  gsize len = strlen (s);
  if (g_utf8_validate (s, len, NULL))
    return g_strndup (s, len);
  return pd_text_to_utf8 (s, len, NULL);
}

/* CRLF to LF, in place. */
static void
normalise_newlines (char *s)
{
  char *w = s;
  for (const char *r = s; *r != '\0'; r++)
    if (!(r[0] == '\r' && r[1] == '\n'))
      *w++ = *r;
  *w = '\0';
}

/* ---- Mislabelled encoded words ------------------------------------------- */

/* Decodes the text of one encoded word ('q' for Q, else B). (transfer full) */
static GByteArray *
decode_word_text (const char *text, gsize n, bool q)
{
  GByteArray *out = g_byte_array_sized_new ((guint) n);
  if (!q)
    {
      g_autofree char *copy = g_strndup (text, n);
      gsize got = 0;
      int state = 0;
      guint save = 0;
      g_byte_array_set_size (out, (guint) (n / 4 * 3 + 3));
      got = g_base64_decode_step (copy, n, out->data, &state, &save);
      g_byte_array_set_size (out, (guint) got);
      return out;
    }
  for (gsize i = 0; i < n; i++)
    {
      guint8 c = (guint8) text[i];
      if (c == '_')
        c = ' ';
      else if (c == '=' && i + 2 < n && g_ascii_isxdigit (text[i + 1]) && g_ascii_isxdigit (text[i + 2]))
        {
          c = (guint8) (g_ascii_xdigit_value (text[i + 1]) * 16 + g_ascii_xdigit_value (text[i + 2]));
          i += 2;
        }
      g_byte_array_append (out, &c, 1);
    }
  return out;
}

/* GMime decodes an encoded word labelled UTF-8 whose bytes are not UTF-8
 * ("=?utf-8?Q?Probl=E8me?=", written by mailers that label everything
 * UTF-8) with a '?' for each bad byte, and cannot be told otherwise. This
 * rewrites such words, before GMime decodes the value, as UTF-8 words read in
 * the fallback charsets; other words and text are left as they are.
 * Returns NULL when nothing needed rewriting. (transfer full) */
static char *
fix_mislabelled_words (const char *value)
{
  if (value == NULL || strstr (value, "=?") == NULL)
    return NULL;
  GString *out = g_string_new (NULL);
  guint words = 0;
  bool changed = false;
  const char *p = value;
  while (*p != '\0')
    {
      const char *start = strstr (p, "=?");
      if (start == NULL || words >= PD_MIME_MAX_ENCODED_WORDS)
        {
          g_string_append (out, p);
          break;
        }
      g_string_append_len (out, p, start - p);
      const char *q1 = strchr (start + 2, '?');
      const char *q2 = q1 != NULL ? strchr (q1 + 1, '?') : NULL;
      const char *end = q2 != NULL && q2 == q1 + 2 ? strstr (q2 + 1, "?=") : NULL;
      if (end == NULL || memchr (start, ' ', (gsize) (end - start)) != NULL)
        {
          g_string_append (out, "=?");
          p = start + 2;
          continue;
        }
      words++;
      g_autofree char *charset = g_strndup (start + 2, (gsize) (q1 - start - 2));
      char *star = strchr (charset, '*');  /* RFC 2231 language: utf-8*en */
      if (star != NULL)
        *star = '\0';
      bool q = g_ascii_tolower (q1[1]) == 'q';
      if (charset_is_utf8 (charset) && (q || g_ascii_tolower (q1[1]) == 'b'))
        {
          g_autoptr (GByteArray) bytes = decode_word_text (q2 + 1, (gsize) (end - q2 - 1), q);
          if (!g_utf8_validate ((const char *) bytes->data, bytes->len, NULL)
              && !has_utf8_sequence ((const char *) bytes->data, bytes->len))
            {
              g_autofree char *text = convert_fallback ((const char *) bytes->data, bytes->len);
              g_autofree char *b64 = g_base64_encode ((const guchar *) text, strlen (text));
              g_string_append_printf (out, "=?utf-8?b?%s?=", b64);
              changed = true;
              p = end + 2;
              continue;
            }
        }
      g_string_append_len (out, start, (end + 2) - start);
      p = end + 2;
    }
  if (!changed)
    {
      g_string_free (out, TRUE);
      return NULL;
    }
  return g_string_free (out, FALSE);
}

/* The raw value of the top-level header 'name', or NULL. (borrowed) */
static const char *
raw_header (GMimeMessage *message, const char *name)
{
  GMimeHeaderList *list = g_mime_object_get_header_list (GMIME_OBJECT (message));
  GMimeHeader *h = list != NULL ? g_mime_header_list_get_header (list, name) : NULL;
  return h != NULL ? g_mime_header_get_raw_value (h) : NULL;
}

/* ---- Identifiers and addresses ------------------------------------------- */

/* A message-id worth keeping: printable, no blanks or angle brackets, valid
 * UTF-8, not absurdly long. 'need_at' asks for the '@' every real id has.
 * (transfer full, or NULL) */
static char *
clean_message_id (const char *id, bool need_at)
{
  if (id == NULL || *id == '\0')
    return NULL;
  gsize len = strlen (id);
  if (len > MAX_MESSAGE_ID_BYTES || !g_utf8_validate (id, len, NULL))
    return NULL;
  for (const guchar *p = (const guchar *) id; *p != '\0'; p++)
    if (*p <= ' ' || *p == 0x7F || *p == '<' || *p == '>')
      return NULL;
  if (need_at)
    {
      const char *at = strchr (id, '@');
      if (at == NULL || at == id || at[1] == '\0')
        return NULL;
    }
  return g_strndup (id, len);
}

char *
pd_mime_synthetic_id (const char *raw, gsize len)
{
  /* Hash the bytes with every CRLF read as LF, without copying them, so the
   * same message fetched over IMAP (CRLF) and from a file (LF) gets one id. */
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  gsize start = 0;
  for (gsize i = 0; i + 1 < len; i++)
    {
      if (raw[i] == '\r' && raw[i + 1] == '\n')
        {
          g_checksum_update (sum, (const guchar *) raw + start, i - start);
          start = i + 1;
        }
    }
  if (len > start)
    g_checksum_update (sum, (const guchar *) raw + start, len - start);
  const char *hex = g_checksum_get_string (sum);
  return g_strdup_printf ("%.32s@synthetic.postdesk.invalid", hex);
}

/* An address as stored: valid UTF-8, no surrounding blanks, lower-case
 * throughout (support desks match senders case-insensitively). NULL when it
 * has no '@' between a local part and a domain. (transfer full) */
static char *
normalise_address (const char *addr)
{
  if (addr == NULL)
    return NULL;
  g_autofree char *valid = utf8_dup (addr);
  char *trimmed = g_strstrip (valid);
  const char *at = strrchr (trimmed, '@');
  if (at == NULL || at == trimmed || at[1] == '\0')
    return NULL;
  return g_utf8_strdown (trimmed, -1);
}

static pd_address_t *
address_from_mailbox (InternetAddress *ia)
{
  char *addr = normalise_address (internet_address_mailbox_get_addr (INTERNET_ADDRESS_MAILBOX (ia)));
  if (addr == NULL)
    return NULL;
  pd_address_t *out = g_new0 (pd_address_t, 1);
  out->address = addr;
  char *name = utf8_dup (internet_address_get_name (ia));
  if (name != NULL && *g_strstrip (name) == '\0')
    g_clear_pointer (&name, g_free);
  out->name = name;
  return out;
}

/* Every usable mailbox of 'list', in order; a group contributes its members
 * (groups cannot nest in RFC 5322, so one level is all there is). */
static void
add_addresses (GPtrArray *dest, InternetAddressList *list)
{
  if (list == NULL)
    return;
  int n = internet_address_list_length (list);
  for (int i = 0; i < n; i++)
    {
      InternetAddress *ia = internet_address_list_get_address (list, i);
      if (INTERNET_ADDRESS_IS_MAILBOX (ia))
        {
          pd_address_t *a = address_from_mailbox (ia);
          if (a != NULL)
            g_ptr_array_add (dest, a);
        }
      else if (INTERNET_ADDRESS_IS_GROUP (ia))
        {
          InternetAddressList *members = internet_address_group_get_members (INTERNET_ADDRESS_GROUP (ia));
          int m = members != NULL ? internet_address_list_length (members) : 0;
          for (int j = 0; j < m; j++)
            {
              InternetAddress *member = internet_address_list_get_address (members, j);
              if (!INTERNET_ADDRESS_IS_MAILBOX (member))
                continue;
              pd_address_t *a = address_from_mailbox (member);
              if (a != NULL)
                g_ptr_array_add (dest, a);
            }
        }
    }
}

/* The sender: the first top-level mailbox of From with a usable address. A
 * group in From is not a sender. */
static pd_address_t *
first_sender (InternetAddressList *from)
{
  int n = from != NULL ? internet_address_list_length (from) : 0;
  for (int i = 0; i < n; i++)
    {
      InternetAddress *ia = internet_address_list_get_address (from, i);
      if (!INTERNET_ADDRESS_IS_MAILBOX (ia))
        continue;
      pd_address_t *a = address_from_mailbox (ia);
      if (a != NULL)
        return a;
    }
  return NULL;
}

/* Delivered-To / X-Original-To: the address the message was delivered to,
 * which keeps a plus-address ("support+1234@") that To may not show. 'seen'
 * holds the addresses already in 'dest' (borrowed from it), so each header
 * costs the same however many came before: a message can carry tens of
 * thousands of them, and comparing each with all earlier ones took 6 s. */
static void
add_envelope_address (GPtrArray *dest, GHashTable *seen, const char *value)
{
  if (value == NULL)
    return;
  g_autoptr (InternetAddressList) list = internet_address_list_parse (parser_options, value);
  g_autoptr (GPtrArray) found = g_ptr_array_new_with_free_func ((GDestroyNotify) pd_address_free);
  add_addresses (found, list);
  if (found->len == 0)
    {
      /* A bare address GMime would not take: keep it when it looks like one. */
      g_autofree char *copy = g_strdup (value);
      char *addr = g_strstrip (copy);
      gsize n = strlen (addr);
      if (n >= 2 && addr[0] == '<' && addr[n - 1] == '>')
        {
          addr[n - 1] = '\0';
          addr++;
        }
      if (strpbrk (addr, " \t<>,;") == NULL)
        {
          char *norm = normalise_address (addr);
          if (norm != NULL)
            {
              pd_address_t *a = g_new0 (pd_address_t, 1);
              a->address = norm;
              g_ptr_array_add (found, a);
            }
        }
    }
  for (guint i = 0; i < found->len; i++)
    {
      const pd_address_t *a = g_ptr_array_index (found, i);
      if (g_hash_table_contains (seen, a->address))
        continue;
      char *copy = g_strdup (a->address);
      g_ptr_array_add (dest, copy);
      g_hash_table_add (seen, copy);
    }
}

/* ---- Headers ------------------------------------------------------------- */

/* The first token of a header value: up to a blank, ';' or a comment. */
static char *
header_token (const char *value)
{
  if (value == NULL)
    return NULL;
  while (g_ascii_isspace (*value))
    value++;
  gsize n = strcspn (value, " \t\r\n;(");
  return g_strndup (value, n);
}

static bool
token_is (const char *value, const char *word)
{
  g_autofree char *token = header_token (value);
  return token != NULL && g_ascii_strcasecmp (token, word) == 0;
}

/* Copies the top-level headers in the order they were written. GMime keeps
 * the Content-* headers on the top MIME part and the others on the message;
 * both carry their offset in the input, so a merge restores the order. */
static void
copy_headers (pd_message_t *msg, GMimeMessage *message)
{
  GMimeHeaderList *lists[2] = {
    g_mime_object_get_header_list (GMIME_OBJECT (message)),
    NULL,
  };
  GMimeObject *top = g_mime_message_get_mime_part (message);
  if (top != NULL)
    lists[1] = g_mime_object_get_header_list (top);
  int count[2], next[2] = { 0, 0 };
  for (int l = 0; l < 2; l++)
    count[l] = lists[l] != NULL ? g_mime_header_list_get_count (lists[l]) : 0;

  while (next[0] < count[0] || next[1] < count[1])
    {
      int l;
      if (next[0] >= count[0])
        l = 1;
      else if (next[1] >= count[1])
        l = 0;
      else
        {
          gint64 a = g_mime_header_get_offset (g_mime_header_list_get_header_at (lists[0], next[0]));
          gint64 b = g_mime_header_get_offset (g_mime_header_list_get_header_at (lists[1], next[1]));
          l = a <= b ? 0 : 1;
        }
      GMimeHeader *h = g_mime_header_list_get_header_at (lists[l], next[l]++);
      const char *name = g_mime_header_get_name (h);
      const char *value = g_mime_header_get_value (h);
      g_autofree char *name8 = utf8_dup (name != NULL ? name : "");
      g_autofree char *value8 = utf8_dup (value != NULL ? value : "");
      pd_message_add_header (msg, name8, value8);
    }
}

static bool
has_header (GMimeMessage *message, const char *name)
{
  return g_mime_header_list_contains (g_mime_object_get_header_list (GMIME_OBJECT (message)), name);
}

static bool
is_bulk (GMimeMessage *message)
{
  const char *precedence = g_mime_object_get_header (GMIME_OBJECT (message), "Precedence");
  if (token_is (precedence, "bulk") || token_is (precedence, "junk") || token_is (precedence, "list"))
    return true;
  return has_header (message, "List-Id") || has_header (message, "List-Unsubscribe");
}

/* ---- Part content --------------------------------------------------------- */

/* Counts what g_base64_decode_step would write, without writing it, for the
 * size of an attachment whose bytes are not kept (measured on a 2 MB
 * attachment, it took half the time of decoding into a scratch buffer,
 * mostly by skipping whole runs of plain characters). It follows GLib's rules exactly: characters outside
 * the alphabet are skipped, '=' counts as a character, and each complete
 * group of four gives 3 bytes less one for each of its last two that is '='.
 * The state carries across calls the same way GLib's does. */
typedef struct {
  int count;  /* characters of the current group seen so far */
  bool pad0;  /* the last character was '=' */
  bool pad1;  /* the one before it was '=' */
} base64_counter_t;

static gsize
base64_count_step (const guchar *in, gsize len, base64_counter_t *c)
{
  gsize out = 0;
  const guchar *p = in;
  const guchar *end = in + len;
  while (p < end)
    {
      if (c->count == 0)
        {
          /* At a group boundary a run of alphabet characters other than '='
           * is whole groups of 3 bytes plus a remainder: no per-character
           * bookkeeping on the common path. */
          const guchar *run = p;
          while (end - p >= 8
                 && (base64_plain[p[0]] & base64_plain[p[1]] & base64_plain[p[2]] & base64_plain[p[3]]
                     & base64_plain[p[4]] & base64_plain[p[5]] & base64_plain[p[6]] & base64_plain[p[7]]))
            p += 8;
          while (p < end && base64_plain[*p])
            p++;
          gsize n = (gsize) (p - run);
          if (n > 0)
            {
              out += n / 4 * 3;
              c->count = (int) (n % 4);
              c->pad0 = c->pad1 = false;
            }
          if (p == end)
            break;
        }
      guchar ch = *p++;
      if (!base64_alphabet[ch])
        continue;
      c->pad1 = c->pad0;
      c->pad0 = ch == '=';
      if (++c->count == 4)
        {
          out += 1 + !c->pad1 + !c->pad0;
          c->count = 0;
        }
    }
  return out;
}

/* Decodes a leaf part's content. With 'out' NULL only the decoded size is
 * counted, a chunk at a time, so a large attachment is never held whole.
 * 'limit' stops reading after that many decoded bytes (0: no limit). */
static gsize
decode_content (GMimePart *part, GByteArray *out, gsize limit)
{
  GMimeDataWrapper *wrapper = g_mime_part_get_content (part);
  GMimeStream *encoded = wrapper != NULL ? g_mime_data_wrapper_get_stream (wrapper) : NULL;
  if (encoded == NULL)
    return 0;
  GMimeContentEncoding encoding = g_mime_data_wrapper_get_encoding (wrapper);
  g_mime_stream_reset (encoded);

  /* Quoted-printable and uuencode go through GMime's own decoders (they are
   * sound in 3.2.13); base64 does not: see the top of this file. */
  g_autoptr (GMimeStream) filtered = NULL;
  GMimeStream *source = encoded;
  if (encoding == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE || encoding == GMIME_CONTENT_ENCODING_UUENCODE)
    {
      filtered = g_mime_stream_filter_new (encoded);
      GMimeFilter *decoder = g_mime_filter_basic_new (encoding, FALSE);
      g_mime_stream_filter_add (GMIME_STREAM_FILTER (filtered), decoder);
      g_object_unref (decoder);
      source = filtered;
    }
  bool base64 = encoding == GMIME_CONTENT_ENCODING_BASE64;
  base64_counter_t counter = { 0, false, false };

  char in[READ_CHUNK];
  guchar decoded[READ_CHUNK / 4 * 3 + 3];
  int b64_state = 0;
  guint b64_save = 0;
  gsize total = 0;
  for (;;)
    {
      ssize_t n = g_mime_stream_read (source, in, sizeof in);
      if (n <= 0)
        break;
      const guchar *data = (const guchar *) in;
      gsize got = (gsize) n;
      if (base64 && out == NULL && limit == 0)
        got = base64_count_step (data, got, &counter);
      else if (base64)
        {
          /* GLib skips characters outside the alphabet and keeps going past
           * '=' padding, so "YWJj\nZA==\nZWY=" gives all of "abcdef". */
          got = g_base64_decode_step (in, (gsize) n, decoded, &b64_state, &b64_save);
          data = decoded;
        }
      if (limit > 0 && total + got > limit)
        got = limit - total;
      if (out != NULL)
        g_byte_array_append (out, data, (guint) got);
      total += got;
      if (limit > 0 && total >= limit)
        break;
    }
  return total;
}

/* ---- The part walk ------------------------------------------------------- */

typedef struct {
  GMimeObject *object;  /* borrowed from the parsed tree */
  int parent;           /* index into parse_t.multiparts, -1 at the top */
} walk_item_t;

typedef struct {
  GMimeObject *object;  /* borrowed from the parsed tree */
  int parent;
} multipart_t;

/* The body candidates of one message: the top-level one, or a forwarded one. */
typedef struct {
  GMimePart *plain;         /* borrowed: first text/plain body candidate */
  GMimePart *html;          /* borrowed: first text/html body candidate */
  GMimePart *named_text;    /* borrowed: first inline text/plain with a filename */
  guint named_index;        /* its index in msg->attachments */
  char *orphan_text;        /* owned: the content of a multipart without a
                               boundary, which GMime keeps as its prologue */
} body_parts_t;

/* An attached message whose text follows the body. */
typedef struct {
  GMimeMessagePart *part;   /* borrowed from the parsed tree */
  int level;                /* 1: attached to the message itself */
} forward_t;

typedef struct {
  const char *raw;          /* borrowed: the input */
  gsize len;
  guint flags;
  pd_message_t *msg;        /* borrowed: being filled in */
  GArray *multiparts;       /* owned, of multipart_t: every multipart seen */
  body_parts_t *body;       /* borrowed: the candidates of the message being walked */
  int level;                /* 0: the message itself; n: n forwards deep */
  GArray *forwards;         /* owned, of forward_t: attached messages to show */
  GString *notes;           /* owned: "[postdesk] ..." lines for the end of the body */
  GString *extra_text;      /* owned: text found in containers (winmail.dat) */
  const char *encrypted;    /* static: "PGP/MIME" or "S/MIME" when the message is encrypted */
} parse_t;

static char *part_text (GMimePart *part);

static bool
type_is (GMimeObject *obj, const char *type, const char *subtype)
{
  GMimeContentType *ct = g_mime_object_get_content_type (obj);
  return ct != NULL && g_mime_content_type_is_type (ct, type, subtype);
}

/* "type/subtype", lower-case, valid UTF-8. (transfer full) */
static char *
mime_type_of (GMimeObject *obj)
{
  GMimeContentType *ct = g_mime_object_get_content_type (obj);
  if (ct == NULL)
    return g_strdup ("application/octet-stream");
  g_autofree char *type = g_mime_content_type_get_mime_type (ct);
  g_autofree char *valid = utf8_dup (type != NULL ? type : "application/octet-stream");
  return g_utf8_strdown (valid, -1);
}

/* Control characters, the characters Windows refuses in names, and the
 * invisible direction marks that make "invoice\u202Efdp.exe" display as
 * "invoiceexe.pdf". */
static bool
is_filename_char_bad (gunichar c)
{
  if (c < 0x20 || (c >= 0x7F && c < 0xA0))
    return true;
  if (c < 0x80)
    return strchr ("/\\:*?\"<>|", (int) c) != NULL;
  return c == 0x061C || c == 0x200E || c == 0x200F || (c >= 0x202A && c <= 0x202E)
         || (c >= 0x2066 && c <= 0x2069) || c == 0x2028 || c == 0x2029;
}

/* A filename safe to show and to save: the last path component only, no
 * control characters or characters Windows refuses, no leading dots (no
 * hidden files, no ".."), at most MAX_FILENAME_BYTES with the extension kept.
 * 'index' and 'ext' name the attachment when nothing is left. (transfer full) */
static char *
sanitise_filename (const char *name, guint index, const char *ext)
{
  g_autofree char *valid = utf8_dup (name != NULL ? name : "");
  const char *base = valid;
  for (const char *p = valid; *p != '\0'; p++)
    if (*p == '/' || *p == '\\')
      base = p + 1;

  GString *s = g_string_sized_new (strlen (base) + 1);
  for (const char *p = base; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if (is_filename_char_bad (c))
        g_string_append_c (s, '_');
      else
        g_string_append_unichar (s, c);
    }

  /* Leading dots and blanks, then trailing blanks. */
  gsize skip = 0;
  while (skip < s->len && (s->str[skip] == '.' || g_ascii_isspace (s->str[skip])))
    skip++;
  g_string_erase (s, 0, (gssize) skip);
  while (s->len > 0 && g_ascii_isspace (s->str[s->len - 1]))
    g_string_truncate (s, s->len - 1);

  if (s->len > MAX_FILENAME_BYTES)
    {
      const char *dot = strrchr (s->str, '.');
      gsize ext_len = dot != NULL ? s->len - (gsize) (dot - s->str) : 0;
      if (ext_len > 16 || ext_len == s->len)
        ext_len = 0;
      g_autofree char *extension = g_strdup (s->str + s->len - ext_len);
      gsize keep = MAX_FILENAME_BYTES - ext_len;
      /* Back up to the start of a UTF-8 character. */
      while (keep > 0 && ((guchar) s->str[keep] & 0xC0) == 0x80)
        keep--;
      g_string_truncate (s, keep);
      g_string_append (s, extension);
    }

  if (s->len == 0)
    g_string_printf (s, "attachment-%u%s", index, ext != NULL ? ext : "");
  return g_string_free (s, FALSE);
}

static pd_attachment_t *
new_attachment (parse_t *ctx, GMimeObject *obj, const char *raw_name, const char *ext)
{
  pd_attachment_t *att = g_new0 (pd_attachment_t, 1);
  att->filename = sanitise_filename (raw_name, ctx->msg->attachments->len + 1, ext);
  att->mime_type = mime_type_of (obj);
  g_ptr_array_add (ctx->msg->attachments, att);
  return att;
}

/* The offset of the first header GMime saw in 'list', or -1. */
static gint64
first_header_offset (GMimeObject *obj)
{
  GMimeHeaderList *list = obj != NULL ? g_mime_object_get_header_list (obj) : NULL;
  if (list == NULL || g_mime_header_list_get_count (list) == 0)
    return -1;
  return g_mime_header_get_offset (g_mime_header_list_get_header_at (list, 0));
}

/* The bytes of an attached message, found in the raw input: from its first
 * header up to the boundary line of the innermost enclosing multipart whose
 * boundary comes first. Re-serialising the parsed message instead would
 * both cost time and risk GMime issue #165. */
static bool
embedded_message_span (parse_t *ctx, GMimeMessage *embedded, int parent, gsize *start, gsize *end)
{
  gint64 a = first_header_offset (GMIME_OBJECT (embedded));
  gint64 b = first_header_offset (g_mime_message_get_mime_part (embedded));
  gint64 first = a < 0 ? b : (b < 0 ? a : MIN (a, b));
  if (first < 0 || (guint64) first >= ctx->len)
    return false;

  *start = (gsize) first;
  *end = ctx->len;
  /* Each search only looks as far as the nearest boundary found so far, so
   * many attached messages cannot make this quadratic. */
  for (int i = parent, depth = 0; i >= 0 && depth < 8; depth++)
    {
      const multipart_t *mp = &g_array_index (ctx->multiparts, multipart_t, i);
      const char *boundary = g_mime_object_get_content_type_parameter (mp->object, "boundary");
      i = mp->parent;
      if (boundary == NULL || *boundary == '\0')
        continue;
      g_autofree char *needle = g_strconcat ("\n--", boundary, NULL);
      gsize needle_len = strlen (needle);
      const char *hit = memmem (ctx->raw + *start, *end - *start, needle, needle_len);
      if (hit == NULL)
        continue;
      gsize pos = (gsize) (hit - ctx->raw);
      if (pos > *start && ctx->raw[pos - 1] == '\r')
        pos--;
      *end = pos;
    }
  if (*end < *start)
    *end = *start;
  return true;
}

static void
add_message_attachment (parse_t *ctx, GMimeMessagePart *part, int parent)
{
  GMimeObject *obj = GMIME_OBJECT (part);
  const char *name = g_mime_object_get_content_disposition_parameter (obj, "filename");
  if (name == NULL)
    name = g_mime_object_get_content_type_parameter (obj, "name");
  pd_attachment_t *att = new_attachment (ctx, obj, name, ".eml");

  GMimeMessage *embedded = g_mime_message_part_get_message (part);
  gsize start, end;
  if (embedded == NULL || !embedded_message_span (ctx, embedded, parent, &start, &end))
    return;
  att->size = end - start;
  if (ctx->flags & PD_MIME_WANT_CONTENT)
    att->content = g_bytes_new (ctx->raw + start, att->size);
}

static void
add_part_attachment (parse_t *ctx, GMimePart *part, const char *name)
{
  GMimeObject *obj = GMIME_OBJECT (part);
  bool message = type_is (obj, "message", "rfc822") || type_is (obj, "message", "global");
  pd_attachment_t *att = new_attachment (ctx, obj, name, message ? ".eml" : NULL);
  if (ctx->flags & PD_MIME_WANT_CONTENT)
    {
      GByteArray *bytes = g_byte_array_new ();
      att->size = decode_content (part, bytes, 0);
      att->content = g_byte_array_free_to_bytes (bytes);
    }
  else
    att->size = decode_content (part, NULL, 0);
}

/* S/MIME encrypted content: application/pkcs7-mime with smime-type
 * enveloped-data (or authEnveloped-data), or with no smime-type and the
 * smime.p7m name encrypting clients give it. Signed-data is not encrypted. */
static bool
is_smime_encrypted (GMimeObject *obj, const char *name)
{
  if (!type_is (obj, "application", "pkcs7-mime") && !type_is (obj, "application", "x-pkcs7-mime"))
    return false;
  const char *smime = g_mime_object_get_content_type_parameter (obj, "smime-type");
  if (smime != NULL)
    return g_ascii_strcasecmp (smime, "enveloped-data") == 0 || g_ascii_strcasecmp (smime, "authenveloped-data") == 0;
  return name != NULL && g_str_has_suffix (name, ".p7m");
}

/* A TNEF string property (8-bit in the message's code page, or UTF-16LE)
 * as UTF-8. (transfer full, or NULL) */
static char *
tnef_string (variableLength *v, bool unicode)
{
  if (v == NULL || v == MAPI_UNDEFINED || v->data == NULL || v->size <= 0)
    return NULL;
  gsize n = (gsize) v->size;
  char *text = unicode ? g_convert ((const char *) v->data, (gssize) n, "UTF-8", "UTF-16LE", NULL, NULL, NULL)
                       : pd_text_to_utf8 ((const char *) v->data, strnlen ((const char *) v->data, n), NULL);
  if (text != NULL && *text == '\0')
    g_clear_pointer (&text, g_free);
  return text;
}

/* libytnef keeps attachment attributes that come before the first
 * attachment's start (attAttachRenddata) in tnef->starting_attach, the list
 * head, and TNEFFree frees only the attachments after it: a winmail.dat
 * that starts with a file name or file data leaked that much memory with
 * every message (found by fuzz/fuzz_mime.c; the input is in
 * tests/fuzz-regressions/mime/). The head is freed here too. */
static void
tnef_free (TNEFStruct *tnef)
{
  TNEFFree (tnef);
  TNEFFreeAttachment (&tnef->starting_attach);
}

/* libytnef reports a malformed winmail.dat with printf, on standard output,
 * whatever its Debug flag says: that would corrupt `postdesk parse --json`
 * and any other output. Standard output is pointed at /dev/null for the
 * length of the call. A process has one standard output, so the calls are
 * serialised; postdesk's own output is flushed first and written only by
 * the commands' main thread, after parsing. */
static int
tnef_parse_quietly (const guint8 *data, gsize len, TNEFStruct *tnef)
{
  static GMutex lock;
  g_mutex_lock (&lock);
  fflush (stdout);
  int saved = dup (STDOUT_FILENO);
  int null = open ("/dev/null", O_WRONLY | O_CLOEXEC);
  if (saved >= 0 && null >= 0)
    dup2 (null, STDOUT_FILENO);
  int rc = TNEFParseMemory ((unsigned char *) data, (long) len, tnef);
  fflush (stdout);
  if (saved >= 0 && null >= 0)
    dup2 (saved, STDOUT_FILENO);
  if (saved >= 0)
    close (saved);
  if (null >= 0)
    close (null);
  g_mutex_unlock (&lock);
  return rc;
}

/* Outlook's winmail.dat (TNEF) carries the files the sender attached and,
 * often, the body text; a help desk shows both instead of one opaque file.
 * Read with libytnef from the decoded bytes. Returns false when the bytes
 * are not TNEF libytnef can read; the caller lists winmail.dat then. */
static bool
unpack_tnef (parse_t *ctx, GMimePart *part)
{
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  decode_content (part, bytes, 0);
  if (bytes->len < 6)
    return false;
  TNEFStruct tnef;
  TNEFInitialize (&tnef);
  tnef.Debug = 0;
  if (tnef_parse_quietly (bytes->data, bytes->len, &tnef) != 0)
    {
      tnef_free (&tnef);
      return false;
    }
  guint files = 0;
  for (Attachment *a = tnef.starting_attach.next; a != NULL; a = a->next)
    {
      if (a->FileData.data == NULL || a->FileData.size <= 0)
        continue;
      if (files++ >= PD_MIME_MAX_TNEF_FILES)
        {
          g_string_append_printf (ctx->notes,
                                  "[postdesk] winmail.dat carries more than %d files; only the first %d are listed.\n",
                                  PD_MIME_MAX_TNEF_FILES, PD_MIME_MAX_TNEF_FILES);
          break;
        }
      g_autofree char *name = tnef_string (MAPIFindProperty (&a->MAPI, PROP_TAG (PT_UNICODE, PR_ATTACH_LONG_FILENAME)), true);
      if (name == NULL)
        name = tnef_string (MAPIFindProperty (&a->MAPI, PROP_TAG (PT_STRING8, PR_ATTACH_LONG_FILENAME)), false);
      if (name == NULL)
        name = tnef_string (&a->Title, false);
      gsize size = (gsize) a->FileData.size;
      pd_attachment_t *att = g_new0 (pd_attachment_t, 1);
      att->filename = sanitise_filename (name, ctx->msg->attachments->len + 1, NULL);
      g_autofree char *guessed = g_content_type_guess (att->filename, a->FileData.data, size, NULL);
      g_autofree char *mime = guessed != NULL ? g_content_type_get_mime_type (guessed) : NULL;
      att->mime_type = g_ascii_strdown (mime != NULL ? mime : "application/octet-stream", -1);
      att->size = size;
      if (ctx->flags & PD_MIME_WANT_CONTENT)
        att->content = g_bytes_new (a->FileData.data, size);
      g_ptr_array_add (ctx->msg->attachments, att);
    }
  g_autofree char *body = tnef_string (&tnef.body, false);
  if (body == NULL)
    body = tnef_string (MAPIFindProperty (&tnef.MapiProperties, PROP_TAG (PT_UNICODE, PR_BODY)), true);
  if (body == NULL)
    body = tnef_string (MAPIFindProperty (&tnef.MapiProperties, PROP_TAG (PT_STRING8, PR_BODY)), false);
  if (body != NULL)
    {
      normalise_newlines (body);
      if (ctx->extra_text->len > 0)
        g_string_append (ctx->extra_text, "\n");
      g_string_append (ctx->extra_text, g_strstrip (body));
      g_string_append_c (ctx->extra_text, '\n');
    }
  tnef_free (&tnef);
  return true;
}

/* Whether the multipart at 'index' (or one around it) is a report: the
 * message attached to a delivery report is the returned mail, not a
 * forward to show. */
static bool
inside_report (parse_t *ctx, int index)
{
  for (int i = index, n = 0; i >= 0 && n < PD_MIME_MAX_DEPTH; n++)
    {
      const multipart_t *mp = &g_array_index (ctx->multiparts, multipart_t, i);
      if (type_is (mp->object, "multipart", "report"))
        return true;
      i = mp->parent;
    }
  return false;
}

/* An attached message: its text is shown after the body, unless it is the
 * returned mail of a report or nested past PD_MIME_MAX_FORWARD_LEVELS. */
static void
queue_forward (parse_t *ctx, GMimeMessagePart *part, int parent)
{
  if (g_mime_message_part_get_message (part) == NULL || inside_report (ctx, parent))
    return;
  if (ctx->level + 1 > PD_MIME_MAX_FORWARD_LEVELS)
    {
      g_string_append_printf (ctx->notes,
                              "[postdesk] A message forwarded more than %d levels deep is listed as an "
                              "attachment but not shown here.\n",
                              PD_MIME_MAX_FORWARD_LEVELS);
      return;
    }
  forward_t f = { part, ctx->level + 1 };
  g_array_append_val (ctx->forwards, f);
}

static void
visit_leaf (parse_t *ctx, GMimePart *part)
{
  GMimeObject *obj = GMIME_OBJECT (part);
  const char *name = g_mime_part_get_filename (part);
  bool named = false;
  for (const char *p = name; p != NULL && *p != '\0' && !named; p++)
    named = !g_ascii_isspace (*p);
  bool attached = named || g_mime_part_is_attachment (part);

  /* A signature proves who wrote the signed part; it is not a file the
   * customer sent. The version part of PGP/MIME holds only "Version: 1". */
  if (type_is (obj, "application", "pgp-signature") || type_is (obj, "application", "pkcs7-signature")
      || type_is (obj, "application", "x-pkcs7-signature") || type_is (obj, "application", "pgp-encrypted"))
    return;
  if (is_smime_encrypted (obj, name))
    ctx->encrypted = "S/MIME";
  if (type_is (obj, "application", "ms-tnef") || type_is (obj, "application", "vnd.ms-tnef")
      || (name != NULL && g_ascii_strcasecmp (name, "winmail.dat") == 0))
    {
      if (unpack_tnef (ctx, part))
        return;
      g_string_append (ctx->notes, "[postdesk] The Outlook attachment winmail.dat could not be unpacked; "
                                   "it is listed as one file.\n");
    }

  body_parts_t *body = ctx->body;
  if (!attached && type_is (obj, "text", "plain"))
    {
      if (body->plain == NULL)
        body->plain = part;
      return;
    }
  if (!attached && type_is (obj, "text", "html"))
    {
      if (body->html == NULL)
        body->html = part;
      return;
    }
  /* Old Netscape and some phones send the text as an inline part with a
   * file name: it is the body when the message has no other. */
  GMimeContentDisposition *disposition = g_mime_object_get_content_disposition (obj);
  if (named && body->named_text == NULL && type_is (obj, "text", "plain")
      && (disposition == NULL || !g_mime_content_disposition_is_attachment (disposition)))
    {
      body->named_text = part;
      body->named_index = ctx->msg->attachments->len;
    }

  /* Other inline text (a second text/plain, text/calendar, the headers of a
   * returned message) is neither the body nor an attachment; everything
   * else is a file the customer sent. */
  if (!attached && type_is (obj, "text", "*"))
    return;
  add_part_attachment (ctx, part, named ? name : NULL);
}

/* Walks the MIME tree in document order with an explicit stack: nesting is
 * capped by GMime (1024) but the walk must not depend on that. Attached
 * messages are listed, never entered: their text is not this message's body. */
static void
walk_parts (parse_t *ctx, GMimeObject *top)
{
  g_autoptr (GArray) stack = g_array_new (FALSE, FALSE, sizeof (walk_item_t));
  walk_item_t first = { top, -1 };
  g_array_append_val (stack, first);
  guint visited = 0;

  while (stack->len > 0 && visited < MAX_PARTS)
    {
      walk_item_t item = g_array_index (stack, walk_item_t, stack->len - 1);
      g_array_set_size (stack, stack->len - 1);
      visited++;
      GMimeObject *obj = item.object;
      if (obj == NULL)
        continue;

      if (GMIME_IS_MULTIPART (obj))
        {
          if (type_is (obj, "multipart", "encrypted"))
            ctx->encrypted = "PGP/MIME";
          /* GMime keeps the content of a multipart without a boundary as
           * its prologue, with no parts: it is the only text there is. */
          if (g_mime_multipart_get_count (GMIME_MULTIPART (obj)) == 0
              && g_mime_object_get_content_type_parameter (obj, "boundary") == NULL
              && ctx->body->orphan_text == NULL)
            {
              const char *prologue = g_mime_multipart_get_prologue (GMIME_MULTIPART (obj));
              if (prologue != NULL && *prologue != '\0')
                {
                  ctx->body->orphan_text = pd_text_to_utf8 (prologue, strlen (prologue), NULL);
                  normalise_newlines (ctx->body->orphan_text);
                }
            }
          multipart_t mp = { obj, item.parent };
          int index = (int) ctx->multiparts->len;
          g_array_append_val (ctx->multiparts, mp);
          GMimeMultipart *multi = GMIME_MULTIPART (obj);
          for (int i = g_mime_multipart_get_count (multi) - 1; i >= 0; i--)
            {
              walk_item_t child = { g_mime_multipart_get_part (multi, i), index };
              g_array_append_val (stack, child);
            }
        }
      else if (GMIME_IS_MESSAGE_PART (obj))
        {
          add_message_attachment (ctx, GMIME_MESSAGE_PART (obj), item.parent);
          queue_forward (ctx, GMIME_MESSAGE_PART (obj), item.parent);
        }
      else if (GMIME_IS_PART (obj))
        visit_leaf (ctx, GMIME_PART (obj));
    }
}

static bool
is_blank (const char *s)
{
  for (; s != NULL && *s != '\0'; s++)
    if (!g_ascii_isspace (*s))
      return false;
  return true;
}

/* The readable text of one message's body candidates: its text/plain part,
 * unless that is empty or only blanks (a multipart/alternative whose plain
 * version a mailer left empty) and there is HTML; then the HTML as text; then
 * an inline text file, which stops being listed as an attachment; then what
 * a multipart without a boundary held. (transfer full) */
static char *
body_text_of (parse_t *ctx, body_parts_t *body)
{
  g_autofree char *plain = body->plain != NULL ? part_text (body->plain) : NULL;
  if (plain != NULL && (!is_blank (plain) || body->html == NULL))
    return g_steal_pointer (&plain);
  if (body->html != NULL)
    {
      g_autofree char *html = part_text (body->html);
      return pd_html_to_text (html, strlen (html));
    }
  if (body->named_text != NULL)
    {
      g_ptr_array_remove_index (ctx->msg->attachments, body->named_index);
      return part_text (body->named_text);
    }
  if (body->orphan_text != NULL)
    return g_strdup (body->orphan_text);
  return g_strdup ("");
}

/* Appends 'text' to 'out' as a paragraph of its own. */
static void
append_paragraph (GString *out, const char *text)
{
  if (is_blank (text))
    return;
  while (out->len > 0 && out->str[out->len - 1] == '\n')
    g_string_truncate (out, out->len - 1);
  if (out->len > 0)
    g_string_append (out, "\n\n");
  g_string_append (out, text);
  if (out->str[out->len - 1] != '\n')
    g_string_append_c (out, '\n');
}

/* The text of each attached message in turn, after a header block like the
 * one mail clients write when they forward inline, so that the engineer
 * reads the mail the customer forwarded. Its attachments are listed with the
 * message's own; walking it may queue the messages it carries in turn. The
 * walk of a forwarded message uses a copy of the context, so that nothing in
 * it counts towards whether the message itself is a bounce. */
static void
show_forwards (parse_t *ctx, GString *body)
{
  for (guint i = 0; i < ctx->forwards->len; i++)
    {
      forward_t f = g_array_index (ctx->forwards, forward_t, i);
      GMimeMessage *embedded = g_mime_message_part_get_message (f.part);
      body_parts_t parts = { 0 };
      parse_t sub = *ctx;
      sub.body = &parts;
      sub.level = f.level;
      walk_parts (&sub, g_mime_message_get_mime_part (embedded));
      g_autofree char *text = body_text_of (ctx, &parts);
      g_free (parts.orphan_text);

      GString *block = g_string_new ("---------- Forwarded message ----------\n");
      g_autoptr (GPtrArray) from = g_ptr_array_new_with_free_func ((GDestroyNotify) pd_address_free);
      add_addresses (from, g_mime_message_get_from (embedded));
      if (from->len > 0)
        {
          const pd_address_t *a = g_ptr_array_index (from, 0);
          if (a->name != NULL)
            g_string_append_printf (block, "From: %s <%s>\n", a->name, a->address);
          else
            g_string_append_printf (block, "From: %s\n", a->address);
        }
      GDateTime *date = g_mime_message_get_date (embedded);
      if (date != NULL)
        {
          g_autofree char *when = g_date_time_format (date, "%a, %d %b %Y %H:%M:%S %z");
          if (when != NULL)
            g_string_append_printf (block, "Date: %s\n", when);
        }
      g_autofree char *subject = utf8_dup (g_mime_message_get_subject (embedded));
      if (subject != NULL)
        g_string_append_printf (block, "Subject: %s\n", subject);
      g_string_append_c (block, '\n');
      g_string_append (block, text);
      append_paragraph (body, block->str);
      g_string_free (block, TRUE);
    }
}

/* The readable text of a body part, converted from its charset, with LF line
 * ends. (transfer full) */
static char *
part_text (GMimePart *part)
{
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  decode_content (part, bytes, 0);
  const char *charset = g_mime_object_get_content_type_parameter (GMIME_OBJECT (part), "charset");
  char *text = pd_text_to_utf8 ((const char *) bytes->data, bytes->len, charset);
  /* A byte-order mark (Windows editors write one) is not text. */
  if (g_str_has_prefix (text, "\xEF\xBB\xBF"))
    memmove (text, text + 3, strlen (text + 3) + 1);
  normalise_newlines (text);
  return text;
}

/* ---- The pre-pass ---------------------------------------------------------- */

/* GMime builds the whole MIME tree before anything here can look at it, so
 * its cost is bounded by reading the raw bytes first, once, line by line,
 * the way GMime 3.2's parser will: a header block runs to an empty line or
 * to a boundary line; a multipart's content is cut at lines that are one of
 * the open boundaries ("--B" or "--B--", then only blanks); a message/rfc822
 * part that is not base64, quoted-printable or uuencoded is itself a message
 * with its own header block; in a multipart/digest a part without a usable
 * Content-Type is such a message. The Content-Type and the encoding are read
 * with GMime's own functions, so a boundary the pass watches for is the very
 * string GMime will use, however it was quoted or RFC 2231-encoded. Where the
 * two readings could still differ, the pass takes the one that counts more.
 * Nothing is allocated per line, only per Content-Type and per open level. */

/* One open container: a multipart whose boundary lines are watched for, or
 * an attached message (which ends only where an enclosing boundary does). */
typedef struct {
  char *boundary;     /* owned: "--" and the boundary parameter; NULL for a message */
  gsize boundary_len;
  bool digest;        /* multipart/digest: parts default to message/rfc822 */
} frame_t;

typedef enum {
  FIELD_NONE,          /* no field yet, or one the pass does not read */
  FIELD_CONTENT_TYPE,  /* a Content-Type */
  FIELD_ENCODING,      /* a Content-Transfer-Encoding */
} field_t;

typedef struct {
  const char *raw;       /* borrowed: the input */
  gsize len;
  GArray *frames;        /* owned, of frame_t, innermost last */
  bool in_headers;       /* reading a header block (else content) */

  /* The header block being read. */
  gsize block_start;
  bool block_in_digest;  /* the block opens a part of a multipart/digest */
  gsize ct_start, ct_end;      /* the first Content-Type's value; ct_end 0: none */
  gsize last_start, last_end;  /* the last one's */
  bool encoded;          /* some Content-Transfer-Encoding GMime decodes */
  field_t field;         /* the field a folded line continues */
  gsize field_start;     /* where that field's value starts */

  /* What was counted. */
  guint parts;
  guint header_lines;
  guint depth;           /* the deepest level opened */
  guint big_part;        /* the first part whose header block is over the limit (1-based), or 0 */
  guint field_words;     /* encoded words in the field being read */
  guint field_segments;  /* RFC 2231 segments in the field being read */
  guint max_words;       /* the most in any one field */
  guint max_segments;
  gsize big_part_bytes;
} prepass_t;

static void
frame_clear (gpointer data)
{
  g_free (((frame_t *) data)->boundary);
}

/* The part of a line that can be a boundary: without the blanks, CR and LF
 * GMime allows after one. */
static gsize
trimmed_length (const char *line, gsize n)
{
  while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r' || line[n - 1] == '\n'))
    n--;
  return n;
}

/* Which open boundary the line (n bytes with its newline) is, innermost
 * first as GMime checks them, the closing form before the plain one at each
 * level; -1 when none. Compares lengths before bytes, so a "--" line costs
 * one comparison per level and one memcmp only when the lengths fit. */
static int
match_boundary (const prepass_t *pp, const char *line, gsize n, bool *closing)
{
  if (n < 2 || line[0] != '-' || line[1] != '-')
    return -1;
  gsize t = trimmed_length (line, n);
  for (int i = (int) pp->frames->len - 1; i >= 0; i--)
    {
      const frame_t *f = &g_array_index (pp->frames, frame_t, i);
      if (f->boundary == NULL)
        continue;
      /* The boundary, then "--", then only blanks: what is left after the
       * trimmed length is blanks, so the line matches when the trimmed
       * length does not reach past the form and the form's bytes are there. */
      gsize b = f->boundary_len;
      if (t <= b + 2 && b + 2 <= n && memcmp (line, f->boundary, b) == 0 && line[b] == '-'
          && line[b + 1] == '-')
        {
          *closing = true;
          return i;
        }
      if (t <= b && b <= n && memcmp (line, f->boundary, b) == 0)
        {
          *closing = false;
          return i;
        }
    }
  return -1;
}

static void
start_block (prepass_t *pp, gsize at, bool in_digest)
{
  pp->in_headers = true;
  pp->parts++;
  pp->block_start = at;
  pp->block_in_digest = in_digest;
  pp->ct_start = pp->ct_end = 0;
  pp->last_start = pp->last_end = 0;
  pp->encoded = false;
  pp->field = FIELD_NONE;
}

/* Ends the field a header line started, at 'end' (the start of the next
 * line): records the first and the last Content-Type, and whether any
 * encoding is one that keeps GMime from reading an attached message as a
 * message. */
static void
end_field (prepass_t *pp, gsize end)
{
  if (pp->field == FIELD_CONTENT_TYPE)
    {
      if (pp->ct_end == 0)
        {
          pp->ct_start = pp->field_start;
          pp->ct_end = end;
        }
      pp->last_start = pp->field_start;
      pp->last_end = end;
    }
  else if (pp->field == FIELD_ENCODING && !pp->encoded)
    {
      g_autofree char *value = g_strndup (pp->raw + pp->field_start, end - pp->field_start);
      GMimeContentEncoding e = g_mime_content_encoding_from_string (value);
      pp->encoded = e == GMIME_CONTENT_ENCODING_BASE64 || e == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE
                    || e == GMIME_CONTENT_ENCODING_UUENCODE;
    }
  pp->field = FIELD_NONE;
}

/* A header line that starts a field: notes the two fields the pass reads.
 * The name is what GMime takes as one: the bytes before ':' without the
 * blanks that may follow them. */
static void
start_field (prepass_t *pp, const char *line, gsize n, gsize at)
{
  const char *colon = memchr (line, ':', n);
  if (colon == NULL)
    return;
  gsize name = (gsize) (colon - line);
  while (name > 0 && (line[name - 1] == ' ' || line[name - 1] == '\t'))
    name--;
  if (name == 12 && g_ascii_strncasecmp (line, "Content-Type", 12) == 0)
    pp->field = FIELD_CONTENT_TYPE;
  else if (name == 25 && g_ascii_strncasecmp (line, "Content-Transfer-Encoding", 25) == 0)
    pp->field = FIELD_ENCODING;
  else
    return;
  pp->field_start = at + (gsize) (colon - line) + 1;
}

static bool
is_rfc822_subtype (const char *subtype)
{
  static const char *const names[] = { "rfc822", "rfc2822", "global", "news" };
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_ascii_strcasecmp (subtype, names[i]) == 0)
      return true;
  return false;
}

/* Opens a level; false when that would go past PD_MIME_MAX_DEPTH, and the
 * pass stops (one level more is all it needs to know). */
static bool
push_frame (prepass_t *pp, char *boundary, bool digest)
{
  if (pp->frames->len >= PD_MIME_MAX_DEPTH)
    {
      pp->depth = pp->frames->len + 1;
      g_free (boundary);
      return false;
    }
  frame_t f = { boundary, boundary != NULL ? strlen (boundary) : 0, digest };
  g_array_append_val (pp->frames, f);
  pp->depth = MAX (pp->depth, pp->frames->len);
  return true;
}

/* A multipart's content: GMime takes the kind of a part from its first
 * Content-Type but its boundary, and whether it is a digest, from the part's
 * content type, which each Content-Type header replaces, as decoded text
 * (unfolded, encoded-words decoded): so the boundary comes from the last
 * one, read the same way. Returns false when the pass must stop. */
static bool
open_multipart (prepass_t *pp)
{
  g_autofree char *raw = g_strndup (pp->raw + pp->last_start, pp->last_end - pp->last_start);
  g_autofree char *unfolded = g_mime_utils_header_unfold (raw);
  g_autofree char *value = g_mime_utils_header_decode_text (parser_options, unfolded);
  GMimeContentType *ct = g_mime_content_type_parse (parser_options, value);
  const char *boundary = g_mime_content_type_get_parameter (ct, "boundary");
  bool ok = true;
  if (boundary != NULL)
    ok = push_frame (pp, g_strconcat ("--", boundary, NULL), g_mime_content_type_is_type (ct, "multipart", "digest"));
  g_object_unref (ct);
  return ok;
}

/* The header block ended at 'end' (the start of its closing empty line, or
 * of the boundary line that cut it short), and its content, if any, starts
 * at 'content'. Decides what the content is, as GMime will. Returns false
 * when the pass must stop. */
static bool
end_block (prepass_t *pp, gsize end, gsize content, bool has_content)
{
  end_field (pp, end);
  pp->in_headers = false;
  gsize bytes = end - pp->block_start;
  if (bytes > PD_MIME_MAX_HEADER_BYTES && pp->big_part == 0)
    {
      pp->big_part = pp->parts;
      pp->big_part_bytes = bytes;
    }
  if (!has_content)
    return true;

  bool message = pp->block_in_digest;
  if (pp->ct_end != 0)
    {
      g_autofree char *value = g_strndup (pp->raw + pp->ct_start, pp->ct_end - pp->ct_start);
      GMimeContentType *ct = g_mime_content_type_parse (parser_options, value);
      const char *type = g_mime_content_type_get_media_type (ct);
      const char *subtype = g_mime_content_type_get_media_subtype (ct);
      /* GMime reads a Content-Type it cannot parse as application/
       * octet-stream, but its parser then takes the part's default (a
       * message, in a digest); the pass cannot tell the two apart and keeps
       * the default whenever it could apply. */
      const char *p = value;
      while (g_ascii_isspace (*p))
        p++;
      bool unreadable = g_ascii_strcasecmp (type, "application") == 0
                        && g_ascii_strcasecmp (subtype, "octet-stream") == 0
                        && g_ascii_strncasecmp (p, "application/octet-stream", 24) != 0;
      if (!unreadable)
        message = false;
      bool ok = true;
      if (g_ascii_strcasecmp (type, "multipart") == 0)
        ok = open_multipart (pp);
      else if (g_ascii_strcasecmp (type, "message") == 0 && is_rfc822_subtype (subtype))
        message = true;
      g_object_unref (ct);
      if (!ok)
        return false;
    }
  if (message && !pp->encoded)
    {
      if (!push_frame (pp, NULL, false))
        return false;
      start_block (pp, content, false);
    }
  return true;
}

/* A boundary line of level 'level': the levels inside it end; a closing
 * line ends the level too, a plain one opens its next part at 'next'. */
static void
take_boundary (prepass_t *pp, int level, bool closing, gsize next)
{
  guint keep = (guint) level + (closing ? 0 : 1);
  bool digest = g_array_index (pp->frames, frame_t, level).digest;
  g_array_set_size (pp->frames, keep);
  if (closing)
    pp->in_headers = false;
  else
    start_block (pp, next, digest);
}

/* Counts the encoded words ("=?") and RFC 2231 segments ("*0=", "*12*=")
 * in one header line, for the field it belongs to. */
static void
count_field_words (prepass_t *pp, const char *line, gsize n)
{
  for (gsize i = 0; i + 1 < n; i++)
    {
      if (line[i] == '=' && line[i + 1] == '?')
        pp->field_words++;
      else if (line[i] == '*' && g_ascii_isdigit (line[i + 1]))
        {
          gsize j = i + 1;
          while (j < n && g_ascii_isdigit (line[j]))
            j++;
          if (j < n && line[j] == '*')
            j++;
          if (j < n && line[j] == '=')
            pp->field_segments++;
          i = j - 1;
        }
    }
  pp->max_words = MAX (pp->max_words, pp->field_words);
  pp->max_segments = MAX (pp->max_segments, pp->field_segments);
}

/* Counts parts, nesting and header lines of 'raw' and refuses what is over
 * a PD_MIME_MAX_* limit. Linear in 'len'. */
static bool
check_structure (const char *raw, gsize len, GError **err)
{
  prepass_t pp = { .raw = raw, .len = len };
  pp.frames = g_array_new (FALSE, FALSE, sizeof (frame_t));
  g_array_set_clear_func (pp.frames, frame_clear);
  start_block (&pp, 0, false);

  bool stopped = false;
  gsize pos = 0;
  while (pos < len && !stopped)
    {
      const char *line = raw + pos;
      const char *nl = memchr (line, '\n', len - pos);
      gsize n = nl != NULL ? (gsize) (nl - line) + 1 : len - pos;
      gsize next = pos + n;
      bool closing = false;
      int level = match_boundary (&pp, line, n, &closing);

      if (pp.in_headers)
        {
          if ((n == 1 && line[0] == '\n') || (n == 2 && line[0] == '\r' && line[1] == '\n'))
            stopped = !end_block (&pp, pos, next, true);
          else if (level >= 0)
            {
              end_block (&pp, pos, pos, false);
              take_boundary (&pp, level, closing, next);
            }
          else
            {
              pp.header_lines++;
              if (line[0] != ' ' && line[0] != '\t')
                {
                  end_field (&pp, pos);
                  start_field (&pp, line, n, pos);
                  pp.field_words = pp.field_segments = 0;
                }
              count_field_words (&pp, line, n);
            }
        }
      else if (level >= 0)
        take_boundary (&pp, level, closing, next);
      pos = next;
    }
  if (pp.in_headers && !stopped)
    end_block (&pp, len, len, false);
  g_array_unref (pp.frames);

  if (stopped)
    g_set_error (err, PD_ERROR, PD_ERROR_TOO_BIG,
                 "MIME parts are nested at least %u levels deep, over the %d-level limit", pp.depth,
                 PD_MIME_MAX_DEPTH);
  else if (pp.parts > PD_MIME_MAX_PARTS)
    g_set_error (err, PD_ERROR, PD_ERROR_TOO_BIG, "message has %u MIME parts, over the %d-part limit",
                 pp.parts, PD_MIME_MAX_PARTS);
  else if (pp.header_lines > PD_MIME_MAX_HEADER_LINES)
    g_set_error (err, PD_ERROR, PD_ERROR_TOO_BIG, "message has %u header lines, over the %d-line limit",
                 pp.header_lines, PD_MIME_MAX_HEADER_LINES);
  else if (pp.max_words > PD_MIME_MAX_ENCODED_WORDS)
    g_set_error (err, PD_ERROR, PD_ERROR_TOO_BIG,
                 "a header field has %u encoded words, over the %d-word limit", pp.max_words,
                 PD_MIME_MAX_ENCODED_WORDS);
  else if (pp.max_segments > PD_MIME_MAX_RFC2231_SEGMENTS)
    g_set_error (err, PD_ERROR, PD_ERROR_TOO_BIG,
                 "a header field has %u RFC 2231 parameter segments, over the %d-segment limit",
                 pp.max_segments, PD_MIME_MAX_RFC2231_SEGMENTS);
  else if (pp.big_part != 0)
    g_set_error (err, PD_ERROR, PD_ERROR_TOO_BIG,
                 "header section of MIME part %u is %" G_GSIZE_FORMAT " bytes, over the %d-byte limit",
                 pp.big_part, pp.big_part_bytes, PD_MIME_MAX_HEADER_BYTES);
  else
    return true;
  return false;
}

/* ---- The parse ------------------------------------------------------------ */

/* Length of the header section: up to the first empty line (LF or CRLF), or
 * all of it when there is none. */
static gsize
header_section_length (const char *raw, gsize len)
{
  if (len > 0 && raw[0] == '\n')
    return 0;
  if (len > 1 && raw[0] == '\r' && raw[1] == '\n')
    return 0;
  const char *p = raw;
  const char *end = raw + len;
  while ((p = memchr (p, '\n', (gsize) (end - p))) != NULL)
    {
      p++;
      if (p < end && *p == '\n')
        return (gsize) (p - raw);
      if (p + 1 < end && p[0] == '\r' && p[1] == '\n')
        return (gsize) (p - raw);
    }
  return len;
}

/* Whether the input opens with a header field ("Name:"), after an optional
 * mbox "From " line. GMime accepts more (it skips junk once it has seen one
 * header), but a message must at least start like one; random bytes do not. */
static bool
starts_with_header (const char *raw, gsize len)
{
  const char *p = raw;
  const char *end = raw + len;
  if (len >= 5 && memcmp (raw, "From ", 5) == 0)
    {
      const char *nl = memchr (raw, '\n', len);
      if (nl == NULL)
        return false;
      p = nl + 1;
    }
  const char *name = p;
  while (p < end && (guchar) *p > ' ' && (guchar) *p < 0x7F && *p != ':')
    p++;
  if (p == name)
    return false;
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  return p < end && *p == ':';
}

/* The end of the line starting at 'p': the byte after its LF, CRLF or lone
 * CR (old Macs end lines with CR alone). */
static const char *
line_end (const char *p, const char *end)
{
  while (p < end && *p != '\n' && *p != '\r')
    p++;
  if (p < end && *p == '\r')
    p++;
  if (p < end && *p == '\n')
    p++;
  return p;
}

/* What files really look like before their header: a UTF-8 byte-order mark
 * (Windows editors), blank or whitespace-only lines (some exporters and
 * hand-saved mail), lines ended by a lone CR (old Mac mail, or a mix of
 * endings), a NUL byte in a header that would end every C string reading it
 * there. Returns a repaired copy when the input needs one, else NULL; the
 * repair only removes bytes and turns lone CRs into LFs, so nothing the
 * sender wrote is lost. (transfer full) */
static char *
repair_input (const char *raw, gsize len, gsize *out_len)
{
  const char *p = raw;
  const char *end = raw + len;
  if (len >= 3 && memcmp (p, "\xEF\xBB\xBF", 3) == 0)
    p += 3;
  for (;;)
    {
      const char *q = p;
      while (q < end && (*q == ' ' || *q == '\t'))
        q++;
      if (q == end || (*q != '\n' && *q != '\r'))
        break;
      p = line_end (q, end);
    }

  /* Lone CRs in the header section mean CR line ends; then every lone CR
   * is a line end. A lone CR only in the body is left alone. */
  bool lone_cr = false;
  gsize header_end = (gsize) (end - p);
  for (const char *l = p; l < end;)
    {
      const char *e = line_end (l, end);
      if (e > l && e[-1] == '\r')
        lone_cr = true;
      if (e == l || (e - l <= 2 && (*l == '\n' || *l == '\r')))
        {
          header_end = (gsize) (l - p);
          break;
        }
      l = e;
    }
  bool nul = memchr (p, '\0', header_end) != NULL;
  if (p == raw && !lone_cr && !nul)
    return NULL;

  GString *out = g_string_sized_new ((gsize) (end - p) + 1);
  for (const char *c = p; c < end; c++)
    {
      if (*c == '\0' && (gsize) (c - p) < header_end)
        continue;
      if (*c == '\r' && lone_cr && (c + 1 == end || c[1] != '\n'))
        g_string_append_c (out, '\n');
      else
        g_string_append_c (out, *c);
    }
  *out_len = out->len;
  return g_string_free (out, FALSE);
}

static void
fill_message (pd_message_t *msg, GMimeMessage *message, const char *raw, gsize len, guint flags)
{
  GMimeObject *obj = GMIME_OBJECT (message);

  g_autofree char *id = clean_message_id (g_mime_message_get_message_id (message), true);
  if (id != NULL)
    msg->message_id = g_steal_pointer (&id);
  else
    {
      msg->message_id = pd_mime_synthetic_id (raw, len);
      msg->message_id_synthetic = true;
    }

  InternetAddressList *from = g_mime_message_get_from (message);
  g_autofree char *fixed_from = fix_mislabelled_words (raw_header (message, "From"));
  g_autoptr (InternetAddressList) refixed = fixed_from != NULL ? internet_address_list_parse (parser_options, fixed_from) : NULL;
  msg->from = first_sender (refixed != NULL ? refixed : from);
  add_addresses (msg->to, g_mime_message_get_to (message));
  add_addresses (msg->cc, g_mime_message_get_cc (message));
  add_addresses (msg->reply_to, g_mime_message_get_reply_to (message));

  const char *subject = g_mime_message_get_subject (message);
  g_autofree char *fixed_subject = fix_mislabelled_words (raw_header (message, "Subject"));
  if (fixed_subject != NULL)
    {
      g_autofree char *unfolded = g_mime_utils_header_unfold (fixed_subject);
      g_autofree char *decoded = g_mime_utils_header_decode_text (parser_options, unfolded);
      g_free (msg->subject);
      msg->subject = utf8_dup (g_strstrip (decoded));
    }
  else if (subject != NULL)
    {
      g_free (msg->subject);
      msg->subject = utf8_dup (subject);
    }

  GDateTime *date = g_mime_message_get_date (message);
  /* A date before 1970 is a broken clock, not information. */
  if (date != NULL && g_date_time_to_unix (date) > 0)
    msg->date = g_date_time_to_unix (date);

  const char *irt = g_mime_object_get_header (obj, "In-Reply-To");
  if (irt != NULL)
    {
      g_autofree char *decoded = g_mime_utils_decode_message_id (irt);
      msg->in_reply_to = clean_message_id (decoded, false);
    }
  const char *refs = g_mime_object_get_header (obj, "References");
  if (refs != NULL)
    {
      g_autoptr (GMimeReferences) parsed = g_mime_references_parse (parser_options, refs);
      int n = parsed != NULL ? g_mime_references_length (parsed) : 0;
      for (int i = 0; i < n; i++)
        {
          char *ref = clean_message_id (g_mime_references_get_message_id (parsed, i), false);
          if (ref != NULL)
            g_ptr_array_add (msg->references, ref);
        }
    }

  copy_headers (msg, message);
  /* Keys borrowed from msg->envelope_to, which outlives the set. */
  g_autoptr (GHashTable) envelope_seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < msg->headers->len; i++)
    {
      const pd_header_t *h = g_ptr_array_index (msg->headers, i);
      if (g_ascii_strcasecmp (h->name, "Delivered-To") == 0
          || g_ascii_strcasecmp (h->name, "X-Original-To") == 0)
        add_envelope_address (msg->envelope_to, envelope_seen, h->value);
    }

  msg->auto_reply = pd_mime_headers_say_auto_reply (msg);
  msg->bulk = is_bulk (message);

  body_parts_t top = { 0 };
  parse_t ctx = {
    .raw = raw,
    .len = len,
    .flags = flags,
    .msg = msg,
    .multiparts = g_array_new (FALSE, FALSE, sizeof (multipart_t)),
    .body = &top,
    .forwards = g_array_new (FALSE, FALSE, sizeof (forward_t)),
    .notes = g_string_new (NULL),
    .extra_text = g_string_new (NULL),
  };
  walk_parts (&ctx, g_mime_message_get_mime_part (message));

  /* The body: the message's own text, the text of a winmail.dat, then each
   * forwarded message, then what postdesk has to say about the message. */
  g_autofree char *own = body_text_of (&ctx, &top);
  g_free (top.orphan_text);
  GString *body = g_string_new (own);
  append_paragraph (body, ctx.extra_text->str);
  show_forwards (&ctx, body);
  if (ctx.encrypted != NULL)
    g_string_append_printf (ctx.notes,
                            "[postdesk] This message is encrypted (%s) and cannot be read here; its raw "
                            "bytes are kept with the message.\n",
                            ctx.encrypted);
  append_paragraph (body, ctx.notes->str);
  g_free (msg->body_text);
  msg->body_text = g_string_free (body, FALSE);
  g_string_free (ctx.notes, TRUE);
  g_string_free (ctx.extra_text, TRUE);
  g_array_unref (ctx.forwards);
  g_array_unref (ctx.multiparts);

  /* Last: it reads the body and the headers filled in above. */
  pd_mime_detect_bounce (message, msg);
}

pd_message_t *
pd_mime_parse (const char *raw, gsize len, guint flags, GError **err)
{
  ensure_init ();
  if (raw == NULL || len == 0)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_PARSE, "not an RFC 5322 message: the input is empty");
      return NULL;
    }
  if (len >= 2 && (guchar) raw[0] == 0x1F && (guchar) raw[1] == 0x8B)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_PARSE,
                   "not an RFC 5322 message: it is gzip-compressed (postdesk reads compressed files "
                   "and mailboxes given by name or on standard input)");
      return NULL;
    }
  /* The synthetic Message-ID is always made from the bytes as given, so a
   * repaired copy and the stored raw message agree. */
  const char *given = raw;
  gsize given_len = len;
  gsize repaired_len = 0;
  g_autofree char *repaired = repair_input (raw, len, &repaired_len);
  if (repaired != NULL)
    {
      raw = repaired;
      len = repaired_len;
      if (len == 0)
        {
          g_set_error (err, PD_ERROR, PD_ERROR_PARSE, "not an RFC 5322 message: the input is blank");
          return NULL;
        }
    }
  gsize header_len = header_section_length (raw, len);
  if (header_len > PD_MIME_MAX_HEADER_BYTES)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_TOO_BIG,
                   "header section is %" G_GSIZE_FORMAT " bytes, over the %d-byte limit",
                   header_len, PD_MIME_MAX_HEADER_BYTES);
      return NULL;
    }
  if (len > G_MAXUINT)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_TOO_BIG,
                   "message is %" G_GSIZE_FORMAT " bytes, over the %u-byte limit", len, G_MAXUINT);
      return NULL;
    }
  if (!starts_with_header (raw, len))
    {
      g_set_error (err, PD_ERROR, PD_ERROR_PARSE, "not an RFC 5322 message: no header section");
      return NULL;
    }
  if (!check_structure (raw, len, err))
    return NULL;

  /* GMime reads the caller's bytes in place: the byte array only wraps them
   * (the stream is told it does not own it), and is emptied again below
   * before it is freed, so the caller's buffer is never written or freed.
   * Parts keep their content as substreams of this buffer, not copies. */
  GByteArray *wrapper = g_byte_array_new_take ((guint8 *) raw, len);
  GMimeStream *stream = g_mime_stream_mem_new_with_byte_array (wrapper);
  g_mime_stream_mem_set_owner (GMIME_STREAM_MEM (stream), FALSE);
  GMimeParser *parser = g_mime_parser_new_with_stream (stream);
  g_mime_parser_set_format (parser, GMIME_FORMAT_MESSAGE);
  GMimeMessage *message = g_mime_parser_construct_message (parser, parser_options);

  pd_message_t *msg = NULL;
  if (message != NULL)
    {
      int top = g_mime_header_list_get_count (g_mime_object_get_header_list (GMIME_OBJECT (message)));
      GMimeObject *part = g_mime_message_get_mime_part (message);
      int content = part != NULL ? g_mime_header_list_get_count (g_mime_object_get_header_list (part)) : 0;
      if (top + content > 0)
        {
          msg = pd_message_new ();
          fill_message (msg, message, raw, len, flags);
          if (msg->message_id_synthetic)
            {
              g_free (msg->message_id);
              msg->message_id = pd_mime_synthetic_id (given, given_len);
            }
        }
    }
  if (msg == NULL)
    g_set_error (err, PD_ERROR, PD_ERROR_PARSE, "not an RFC 5322 message: no header section");

  /* Everything that can read the wrapped bytes is gone before the wrapper. */
  g_clear_object (&message);
  g_object_unref (parser);
  g_object_unref (stream);
  g_byte_array_steal (wrapper, NULL);
  g_byte_array_unref (wrapper);
  return msg;
}
