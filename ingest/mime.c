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
#include <gmime/gmime.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <string.h>

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
      const char *fallback[] = { "utf-8", "windows-1252", NULL };
      g_mime_parser_options_set_fallback_charsets (parser_options, fallback);

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

void
pd_mime_shutdown (void)
{
  g_mutex_lock (&init_lock);
  if (g_atomic_int_get (&initialised))
    {
      g_mime_parser_options_free (parser_options);
      parser_options = NULL;
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
  /* Declared UTF-8 with a few bad bytes keeps its good characters; anything
   * undeclared or unknown that is not UTF-8 is most likely Windows text. */
  if (charset != NULL && charset_is_utf8 (charset))
    return g_utf8_make_valid (bytes, len);
  char *converted = convert_leniently (bytes, len, "WINDOWS-1252");
  return converted != NULL ? converted : g_utf8_make_valid (bytes, len);
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

typedef struct {
  const char *raw;          /* borrowed: the input */
  gsize len;
  guint flags;
  pd_message_t *msg;        /* borrowed: being filled in */
  GArray *multiparts;       /* owned, of multipart_t: every multipart seen */
  GMimePart *plain;         /* borrowed: first text/plain body candidate */
  GMimePart *html;          /* borrowed: first text/html body candidate */
} parse_t;

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

static void
visit_leaf (parse_t *ctx, GMimePart *part)
{
  GMimeObject *obj = GMIME_OBJECT (part);
  const char *name = g_mime_part_get_filename (part);
  bool named = false;
  for (const char *p = name; p != NULL && *p != '\0' && !named; p++)
    named = !g_ascii_isspace (*p);
  bool attached = named || g_mime_part_is_attachment (part);

  if (!attached && type_is (obj, "text", "plain"))
    {
      if (ctx->plain == NULL)
        ctx->plain = part;
      return;
    }
  if (!attached && type_is (obj, "text", "html"))
    {
      if (ctx->html == NULL)
        ctx->html = part;
      return;
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
        add_message_attachment (ctx, GMIME_MESSAGE_PART (obj), item.parent);
      else if (GMIME_IS_PART (obj))
        visit_leaf (ctx, GMIME_PART (obj));
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
                }
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
  msg->from = first_sender (from);
  add_addresses (msg->to, g_mime_message_get_to (message));
  add_addresses (msg->cc, g_mime_message_get_cc (message));
  add_addresses (msg->reply_to, g_mime_message_get_reply_to (message));

  const char *subject = g_mime_message_get_subject (message);
  if (subject != NULL)
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

  parse_t ctx = {
    .raw = raw,
    .len = len,
    .flags = flags,
    .msg = msg,
    .multiparts = g_array_new (FALSE, FALSE, sizeof (multipart_t)),
  };
  walk_parts (&ctx, g_mime_message_get_mime_part (message));
  g_array_unref (ctx.multiparts);

  if (ctx.plain != NULL)
    {
      g_free (msg->body_text);
      msg->body_text = part_text (ctx.plain);
    }
  else if (ctx.html != NULL)
    {
      g_autofree char *html = part_text (ctx.html);
      g_free (msg->body_text);
      msg->body_text = pd_html_to_text (html, strlen (html));
    }

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
