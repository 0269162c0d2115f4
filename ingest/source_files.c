/* source_files.c - messages from files, Maildir folders, mbox files and
 * standard input.
 *
 * Everything is read through one small buffered reader that hands out
 * pieces of lines, never whole lines: a "line" of 600 MB without a newline
 * (or /dev/zero) must not be pulled into memory to find its end. */
#define _GNU_SOURCE   /* memmem */
#include "postdesk/source.h"

#include <errno.h>
#include <gio/gio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK PD_SOURCE_SNIFF_BYTES
/* At the start of an mbox line this much is looked at, to recognise a
 * "From " separator or a ">>From " escape in one piece. */
#define LINE_LOOKAHEAD 256
/* A gzip-compressed file expands to at most this many bytes: each message
 * in it still meets the same per-message limit as any other, and this bounds
 * the whole, since 1 MB of gzip can expand to 1 GB (a "zip bomb"). It is
 * four times the largest message postdesk takes, room for a large mbox. */
#define MAX_GUNZIP_BYTES ((gint64) PD_SOURCE_MAX_BYTES * 4)

/* How a file came to be read decides what is done with one that is not
 * mail. */
typedef enum {
  /* Named on the command line or found in a Maildir: whatever it holds is
   * someone's mail, kept in the quarantine when it cannot be handled. */
  FROM_NAMED_FILE,
  /* Found in a plain folder, which may be /etc by mistake: a file that does
   * not look like mail is skipped, so it does not end up in the database. */
  FROM_FOLDER,
  /* Standard input: refused unless it looks like mail, and nothing at all
   * is simply nothing to ingest. */
  FROM_STDIN,
} origin_kind_t;

/* ---- a bounded reader ------------------------------------------------- */

typedef struct {
  FILE *f;           /* borrowed */
  char *buf;         /* owned: CHUNK bytes */
  gsize pos, end;    /* unread bytes are buf[pos..end) */
  bool eof;
  int read_errno;    /* why the last read failed, 0 if it did not */
} reader_t;

static void
reader_init (reader_t *r, FILE *f)
{
  r->f = f;
  r->buf = g_malloc (CHUNK);
  r->pos = r->end = 0;
  r->eof = false;
  r->read_errno = 0;
}

static void
reader_clear (reader_t *r)
{
  g_free (r->buf);
  r->buf = NULL;
}

/* True when the unread bytes hold 'stop' (NULL: never), or, for "\n\n",
 * the end of a CRLF header section too. */
static bool
reader_holds (const reader_t *r, const char *stop)
{
  if (stop == NULL)
    return false;
  const char *p = r->buf + r->pos;
  gsize n = r->end - r->pos;
  return memmem (p, n, stop, strlen (stop)) != NULL
         || (strcmp (stop, "\n\n") == 0 && memmem (p, n, "\r\n\r\n", 4) != NULL);
}

/* Makes at least 'want' (at most CHUNK) unread bytes available unless the
 * stream ends first, or, with 'stop', unless the unread bytes already hold
 * it: a reader that only needs to see the current line (or header section)
 * must not wait for more on a pipe that has sent all there is for now.
 * Returns false on a read error. */
static bool
reader_fill_until (reader_t *r, gsize want, const char *stop)
{
  if (r->end - r->pos >= want || r->eof || reader_holds (r, stop))
    return true;
  memmove (r->buf, r->buf + r->pos, r->end - r->pos);
  r->end -= r->pos;
  r->pos = 0;
  /* read(2), not fread: on a pipe it returns what has arrived, so each
   * message of a stream is handed on as soon as it is complete instead of
   * when a whole chunk has filled (a slow feed, or a long-running ingest
   * that must act on SIGHUP between messages). Nothing else reads the
   * FILE, so its own buffer stays empty. */
  int fd = fileno (r->f);
  while (r->end < want && !r->eof)
    {
      ssize_t n = read (fd, r->buf + r->end, CHUNK - r->end);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          r->read_errno = errno;
          return false;
        }
      if (n == 0)
        r->eof = true;
      r->end += (gsize) n;
      if (reader_holds (r, stop))
        break;
    }
  return true;
}

static bool
reader_fill (reader_t *r, gsize want)
{
  return reader_fill_until (r, want, NULL);
}

/* The next piece of the current line: up to and including its '\n', or as
 * much of it as the buffer holds. *piece points into the buffer and is
 * valid until the next call. Returns the piece's length, 0 at the end of
 * the stream, -1 on a read error. */
static gssize
reader_piece (reader_t *r, const char **piece, bool *line_end)
{
  if (r->pos == r->end && !reader_fill (r, 1))
    return -1;
  if (r->pos == r->end)
    return 0;
  const char *p = r->buf + r->pos;
  gsize avail = r->end - r->pos;
  const char *nl = memchr (p, '\n', avail);
  gsize len = nl != NULL ? (gsize) (nl - p) + 1 : avail;
  r->pos += len;
  *piece = p;
  *line_end = nl != NULL;
  return (gssize) len;
}

static bool
read_error (reader_t *r, const char *name, GError **err)
{
  g_set_error (err, PD_ERROR, PD_ERROR_IO, "%s: read error: %s", name, g_strerror (r->read_errno));
  return false;
}

/* ---- one message, held up to the limit -------------------------------- */

/* A message being read: all of it while it fits the limit; once it is over
 * the limit, only its first PD_SOURCE_KEEP_BYTES, while its true size is
 * still counted. A message over the limit but smaller than that is held
 * whole, so that the quarantine can give it back intact. */
typedef struct {
  GByteArray *bytes;   /* owned */
  gsize limit;
  gint64 size;         /* every byte of the message seen so far */
  bool truncated;      /* bytes holds only the first PD_SOURCE_KEEP_BYTES */
} msg_t;

static void
msg_init (msg_t *m, gsize limit)
{
  m->bytes = g_byte_array_new ();
  m->limit = limit;
  m->size = 0;
  m->truncated = false;
}

static void
msg_reset (msg_t *m)
{
  g_byte_array_unref (m->bytes);
  msg_init (m, m->limit);
}

static void
msg_clear (msg_t *m)
{
  g_clear_pointer (&m->bytes, g_byte_array_unref);
}

/* Keeps the first PD_SOURCE_KEEP_BYTES in a fresh array, so that the memory
 * of a prefix up to the limit is given back at once. */
static void
msg_truncate (msg_t *m)
{
  GByteArray *kept = g_byte_array_sized_new (PD_SOURCE_KEEP_BYTES);
  g_byte_array_append (kept, m->bytes->data, MIN (m->bytes->len, PD_SOURCE_KEEP_BYTES));
  g_byte_array_unref (m->bytes);
  m->bytes = kept;
  m->truncated = true;
}

static void
msg_append (msg_t *m, const char *data, gsize len)
{
  m->size += (gint64) len;
  if (m->truncated)
    return;
  gsize hold = MAX (m->limit, (gsize) PD_SOURCE_KEEP_BYTES) + 1;
  g_byte_array_append (m->bytes, (const guint8 *) data, (guint) MIN (len, hold - m->bytes->len));
  if ((gsize) m->size > m->limit && m->bytes->len > PD_SOURCE_KEEP_BYTES)
    msg_truncate (m);
}

/* Removes a trailing "\n" or "\r\n": the empty line before an mbox "From "
 * separator is not part of the message. */
static void
msg_strip_separator (msg_t *m)
{
  if (m->truncated)
    {
      /* The end is not held; the counted size still loses the newline. */
      if (m->size > 0)
        m->size--;
      return;
    }
  for (const char *c = "\n\r"; *c != '\0'; c++)
    {
      if (m->bytes->len > 0 && m->bytes->data[m->bytes->len - 1] == (guint8) *c)
        {
          g_byte_array_set_size (m->bytes, m->bytes->len - 1);
          m->size--;
        }
    }
}

static bool
msg_emit (msg_t *m, const char *origin, pd_time_t received, pd_source_fn fn, gpointer user_data,
          GError **err)
{
  /* An empty array may have no storage at all; callers get "" then. */
  const char *raw = m->bytes->len > 0 ? (const char *) m->bytes->data : "";
  return fn (raw, m->bytes->len, MAX (m->size, (gint64) m->bytes->len),
             origin, received, user_data, err);
}

/* ---- what a stream is -------------------------------------------------- */

static bool
starts_with_from_line (const char *p, gsize n)
{
  return n >= 5 && memcmp (p, "From ", 5) == 0;
}

/* Whether the header section 'p' (up to 'n' bytes) has a field that every
 * real message has at least one of. A line such as "root:x:0:0:..." is a
 * header line by syntax, so syntax alone would take /etc/passwd for mail. */
static bool
has_mail_field (const char *p, gsize n)
{
  static const char *const fields[] = { "from", "to", "cc", "subject", "date", "message-id",
                                        "received", "return-path", "delivered-to", "mime-version",
                                        "reply-to", "sender", "in-reply-to", "references" };
  const char *end = p + n;
  for (const char *line = p; line < end;)
    {
      const char *nl = memchr (line, '\n', (gsize) (end - line));
      const char *colon = memchr (line, ':', (gsize) ((nl != NULL ? nl : end) - line));
      if (colon != NULL && line[0] != ' ' && line[0] != '\t')
        for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
          if ((gsize) (colon - line) == strlen (fields[i])
              && g_ascii_strncasecmp (line, fields[i], strlen (fields[i])) == 0)
            return true;
      if (nl == NULL)
        break;
      line = nl + 1;
    }
  return false;
}

/* How many bytes before the header are not part of it: a UTF-8 byte-order
 * mark, then blank or whitespace-only lines (LF, CRLF or lone CR ended). */
static gsize
leading_junk (const char *p, gsize n)
{
  gsize i = n >= 3 && memcmp (p, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
  for (;;)
    {
      gsize j = i;
      while (j < n && (p[j] == ' ' || p[j] == '\t'))
        j++;
      if (j >= n || (p[j] != '\n' && p[j] != '\r'))
        return i;
      if (p[j] == '\r' && j + 1 < n && p[j + 1] == '\n')
        j++;
      i = j + 1;
    }
}

static const char *not_mail_reason_plain (const char *p, gsize n);

/* Why the first bytes of a stream are not mail, or NULL when they may be.
 * What real files carry before the header (see leading_junk) is skipped,
 * and old Mac files, whose lines end with a lone CR, are read with LF. */
static const char *
not_mail_reason (const char *p, gsize n)
{
  gsize skip = leading_junk (p, n);
  if (skip > 0 && skip == n)
    return "it holds only blank lines";
  p += skip;
  n -= skip;
  const char *cr = memchr (p, '\r', n);
  if (cr != NULL && (cr + 1 == p + n || cr[1] != '\n'))
    {
      g_autofree char *copy = g_memdup2 (p, n);
      for (gsize i = 0; i < n; i++)
        if (copy[i] == '\r' && (i + 1 == n || copy[i + 1] != '\n'))
          copy[i] = '\n';
      return not_mail_reason_plain (copy, n);
    }
  return not_mail_reason_plain (p, n);
}

/* Why the first bytes of a stream are not mail, or NULL when they may be.
 * Mail starts with a header field ("Name:", printable ASCII without
 * spaces) or, for an mbox, a "From " line before it; its header section
 * holds no NUL byte and at least one field that mail has (From, Subject,
 * Date, ...). A binary file, /dev/zero, or a text file that is not mail
 * fails one of these in its first bytes. */
static const char *
not_mail_reason_plain (const char *p, gsize n)
{
  if (n == 0)
    return "it is empty";
  if (starts_with_from_line (p, n))
    {
      const char *nl = memchr (p, '\n', n);
      if (nl == NULL)
        return "its mbox \"From \" line never ends";
      n -= (gsize) (nl + 1 - p);
      p = nl + 1;
    }
  gsize i = 0;
  while (i < n && p[i] > ' ' && p[i] < 127 && p[i] != ':')
    i++;
  if (i == 0 || i == n || p[i] != ':')
    return "it does not start with a header line";
  const char *end = g_strstr_len (p, (gssize) n, "\n\n");
  const char *crlf_end = g_strstr_len (p, (gssize) n, "\r\n\r\n");
  if (end == NULL || (crlf_end != NULL && crlf_end < end))
    end = crlf_end;
  gsize header_len = end != NULL ? (gsize) (end - p) : n;
  if (memchr (p, '\0', header_len) != NULL)
    return "its header section holds NUL bytes";
  if (!has_mail_field (p, header_len))
    return "no From, To, Subject, Date or other mail header in its first lines";
  return NULL;
}

/* ---- arrival times ------------------------------------------------------ */

/* The date an mbox "From " line carries, as asctime() writes it after the
 * sender: "From a@b Sat Mar  7 10:00:00 2026". It is taken as UTC unless a
 * numeric zone follows the year or precedes it ("... 2026 +0100"). Returns
 * 0 when the line carries no date that can be read. */
static pd_time_t
from_line_time (const char *line)
{
  static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  static const char *const days = "Mon Tue Wed Thu Fri Sat Sun";
  g_auto (GStrv) all = g_strsplit_set (line, " \t\r\n", -1);
  g_autoptr (GPtrArray) w = g_ptr_array_new ();
  for (char **s = all; *s != NULL; s++)
    if (**s != '\0')
      g_ptr_array_add (w, *s);
  /* w[0] is "From", w[1] the sender; the date follows somewhere after it. */
  for (guint i = 2; i + 4 <= w->len; i++)
    {
      const char *dow = g_ptr_array_index (w, i);
      if (strlen (dow) != 3 || strstr (days, dow) == NULL)
        continue;
      int month = 0;
      for (int k = 0; k < 12; k++)
        if (g_ascii_strcasecmp (g_ptr_array_index (w, i + 1), months[k]) == 0)
          month = k + 1;
      int day = 0, hour = 0, min = 0, sec = 0, year = 0, zone = 0;
      char extra;
      if (month == 0 || sscanf (g_ptr_array_index (w, i + 2), "%d%c", &day, &extra) != 1)
        continue;
      const char *clock = g_ptr_array_index (w, i + 3);
      if (sscanf (clock, "%d:%d:%d%c", &hour, &min, &sec, &extra) != 3
          && (sec = 0, sscanf (clock, "%d:%d%c", &hour, &min, &extra) != 2))
        continue;
      guint next = i + 4;
      const char *word = next < w->len ? g_ptr_array_index (w, next) : NULL;
      if (word != NULL && (word[0] == '+' || word[0] == '-') && sscanf (word + 1, "%4d%c", &zone, &extra) == 1)
        {
          zone = (word[0] == '-' ? -1 : 1) * (zone / 100 * 3600 + zone % 100 * 60);
          next++;
          word = next < w->len ? g_ptr_array_index (w, next) : NULL;
        }
      if (word == NULL || sscanf (word, "%d%c", &year, &extra) != 1 || year < 1970 || year > 9999)
        continue;
      word = next + 1 < w->len ? g_ptr_array_index (w, next + 1) : NULL;
      int after = 0;
      if (zone == 0 && word != NULL && (word[0] == '+' || word[0] == '-')
          && sscanf (word + 1, "%4d%c", &after, &extra) == 1)
        zone = (word[0] == '-' ? -1 : 1) * (after / 100 * 3600 + after % 100 * 60);
      g_autoptr (GDateTime) dt = g_date_time_new_utc (year, month, day, hour, min, sec);
      if (dt == NULL)
        continue;
      return g_date_time_to_unix (dt) - zone;
    }
  return 0;
}

/* The delivery time a Maildir file name starts with ("1700000000.M1P2.host"),
 * or 0 when the name does not carry one. */
static pd_time_t
maildir_name_time (const char *path)
{
  g_autofree char *base = g_path_get_basename (path);
  char *end = NULL;
  if (!g_ascii_isdigit (base[0]))
    return 0;
  guint64 t = g_ascii_strtoull (base, &end, 10);
  if (end == NULL || *end != '.' || t == 0 || t > G_MAXINT64)
    return 0;
  return (pd_time_t) t;
}

/* ---- mbox and single messages ------------------------------------------ */

/* An mbox, read piece by piece so that only the current message is held,
 * and of a message over the limit only its first bytes. A message starts at
 * a "From " line at the start of the stream or after an empty line; ">From "
 * lines (any number of '>') lose one '>' (mboxrd). */
static bool
read_mbox (reader_t *r, const char *name, gsize limit, pd_time_t fallback, pd_source_fn fn,
           gpointer user_data, GError **err)
{
  msg_t m;
  msg_init (&m, limit);
  int count = 0;
  pd_time_t received = fallback;
  bool at_line_start = true, prev_empty = false, ok = true;

  while (ok)
    {
      if (at_line_start)
        {
          if (!reader_fill_until (r, LINE_LOOKAHEAD, "\n"))
            {
              ok = read_error (r, name, err);
              break;
            }
          const char *p = r->buf + r->pos;
          gsize avail = r->end - r->pos;
          if ((count == 0 || prev_empty) && starts_with_from_line (p, avail))
            {
              if (count > 0)
                {
                  msg_strip_separator (&m);
                  g_autofree char *origin = g_strdup_printf ("%s#%d", name, count);
                  ok = msg_emit (&m, origin, received, fn, user_data, err);
                  msg_reset (&m);
                }
              /* The separator line itself: only its first bytes matter, for
               * the date. */
              g_autoptr (GString) from_line = g_string_new (NULL);
              bool line_end = false;
              while (!line_end)
                {
                  const char *piece;
                  gssize n = reader_piece (r, &piece, &line_end);
                  if (n < 0)
                    {
                      msg_clear (&m);
                      return ok && read_error (r, name, err);
                    }
                  if (n == 0)
                    break;
                  if (from_line->len < LINE_LOOKAHEAD)
                    g_string_append_len (from_line, piece, MIN ((gsize) n, LINE_LOOKAHEAD));
                }
              pd_time_t t = from_line_time (from_line->str);
              received = t != 0 ? t : fallback;
              count++;
              prev_empty = false;
              continue;
            }
          gsize quotes = 0;
          while (quotes < avail && p[quotes] == '>')
            quotes++;
          if (quotes > 0 && starts_with_from_line (p + quotes, avail - quotes))
            r->pos++;
        }
      const char *piece;
      bool line_end;
      gssize n = reader_piece (r, &piece, &line_end);
      if (n < 0)
        {
          ok = read_error (r, name, err);
          break;
        }
      if (n == 0)
        break;
      if (at_line_start)
        prev_empty = line_end && (n == 1 || (n == 2 && piece[0] == '\r'));
      msg_append (&m, piece, (gsize) n);
      at_line_start = line_end;
    }
  if (ok)
    {
      g_autofree char *origin = g_strdup_printf ("%s#%d", name, count);
      ok = msg_emit (&m, origin, received, fn, user_data, err);
    }
  msg_clear (&m);
  return ok;
}

static bool read_stream (FILE *f, const char *name, origin_kind_t kind, gint64 known_size, pd_time_t received,
                         gsize limit, pd_source_fn fn, gpointer user_data, GError **err);

/* A gzip-compressed stream (a compressed mbox or message), whose first
 * bytes are already in 'r': expanded into an unnamed temporary file, at
 * most MAX_GUNZIP_BYTES, and read from there like any other stream. */
static bool
read_gzip (reader_t *r, const char *name, origin_kind_t kind, pd_time_t received, gsize limit,
           pd_source_fn fn, gpointer user_data, GError **err)
{
  FILE *tmp = tmpfile ();
  if (tmp == NULL)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_IO, "%s: gzip-compressed, and no temporary file to expand it in: %s",
                   name, g_strerror (errno));
      return false;
    }
  g_autoptr (GZlibDecompressor) z = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP);
  g_autofree char *out = g_malloc (CHUNK);
  gint64 total = 0;
  bool ok = true, done = false;
  while (ok && !done)
    {
      if (r->pos == r->end && !r->eof && !reader_fill (r, 1))
        {
          ok = read_error (r, name, err);
          break;
        }
      const char *in = r->buf + r->pos;
      gsize in_left = r->end - r->pos;
      gsize bytes_read = 0, bytes_written = 0;
      GError *local = NULL;
      GConverterResult res = g_converter_convert (G_CONVERTER (z), in, in_left, out, CHUNK,
                                                  r->eof ? G_CONVERTER_INPUT_AT_END : G_CONVERTER_NO_FLAGS,
                                                  &bytes_read, &bytes_written, &local);
      if (res == G_CONVERTER_ERROR)
        {
          g_set_error (err, PD_ERROR, PD_ERROR_PARSE, "%s: gzip-compressed, but cannot be expanded: %s", name,
                       local->message);
          g_error_free (local);
          ok = false;
          break;
        }
      r->pos += bytes_read;
      total += (gint64) bytes_written;
      if (total > MAX_GUNZIP_BYTES)
        {
          g_set_error (err, PD_ERROR, PD_ERROR_TOO_BIG,
                       "%s: gzip-compressed, and expands past %" G_GINT64_FORMAT " bytes; not read", name,
                       MAX_GUNZIP_BYTES);
          ok = false;
          break;
        }
      if (bytes_written > 0 && fwrite (out, 1, bytes_written, tmp) != bytes_written)
        {
          g_set_error (err, PD_ERROR, PD_ERROR_IO, "%s: cannot expand into a temporary file: %s", name,
                       g_strerror (errno));
          ok = false;
          break;
        }
      done = res == G_CONVERTER_FINISHED || (r->eof && r->pos == r->end && bytes_written == 0);
    }
  if (ok && (fflush (tmp) != 0 || fseek (tmp, 0, SEEK_SET) != 0))
    {
      g_set_error (err, PD_ERROR, PD_ERROR_IO, "%s: cannot read back the expanded file: %s", name, g_strerror (errno));
      ok = false;
    }
  if (ok)
    {
      /* A compressed message is read as a whole, so its size is what it
       * expanded to. */
      ok = read_stream (tmp, name, kind, total, received, limit, fn, user_data, err);
    }
  fclose (tmp);
  return ok;
}

/* One open stream: an mbox when its first line starts with "From ", else
 * one message. Deciding on the first bytes works for pipes, which cannot be
 * rewound. 'known_size' is the size of a regular file, else -1: a message
 * file over the limit is then read only as far as is kept. */
static bool
read_stream (FILE *f, const char *name, origin_kind_t kind, gint64 known_size, pd_time_t received,
             gsize limit, pd_source_fn fn, gpointer user_data, GError **err)
{
  reader_t r;
  reader_init (&r, f);
  bool ok = true;
  if (!reader_fill_until (&r, CHUNK, "\n\n"))
    {
      ok = read_error (&r, name, err);
      goto out;
    }
  const char *head = r.buf + r.pos;
  gsize avail = r.end - r.pos;
  if (kind == FROM_STDIN && avail == 0)
    goto out;   /* nothing to ingest */
  if (avail >= 2 && (guchar) head[0] == 0x1F && (guchar) head[1] == 0x8B)
    {
      ok = read_gzip (&r, name, kind, received, limit, fn, user_data, err);
      goto out;
    }
  if (kind != FROM_NAMED_FILE)
    {
      const char *why = not_mail_reason (head, avail);
      if (why != NULL)
        {
          g_set_error (err, PD_ERROR, PD_ERROR_PARSE, "%s: does not look like mail (%s); not read",
                       kind == FROM_STDIN ? "standard input" : name, why);
          ok = false;
          goto out;
        }
    }
  /* A mailbox may open with a byte-order mark or blank lines: they belong
   * to no message. (A single message keeps them; the parser skips them.) */
  gsize junk = leading_junk (head, avail);
  if (junk < avail && starts_with_from_line (head + junk, avail - junk))
    {
      r.pos += junk;
      ok = read_mbox (&r, name, limit, received, fn, user_data, err);
      goto out;
    }

  msg_t m;
  msg_init (&m, limit);
  /* A file known to be over the limit is read only as far as is kept; its
   * size is what the file system says. */
  bool prefix_only = known_size > (gint64) limit && known_size > PD_SOURCE_KEEP_BYTES;
  for (;;)
    {
      const char *piece;
      bool line_end;
      gssize n = reader_piece (&r, &piece, &line_end);
      if (n < 0)
        {
          ok = read_error (&r, name, err);
          break;
        }
      if (n == 0)
        break;
      msg_append (&m, piece, (gsize) n);
      if (prefix_only && m.bytes->len >= PD_SOURCE_KEEP_BYTES)
        {
          msg_truncate (&m);
          m.size = MAX (m.size, known_size);
          break;
        }
    }
  if (ok)
    ok = msg_emit (&m, name, received, fn, user_data, err);
  msg_clear (&m);
out:
  reader_clear (&r);
  return ok;
}

/* What a file that is neither a regular file nor a folder is, for the
 * message that refuses it. */
static const char *
file_type_name (mode_t mode)
{
  if (S_ISCHR (mode))
    return "a character device";
  if (S_ISBLK (mode))
    return "a block device";
  if (S_ISFIFO (mode))
    return "a named pipe";
  if (S_ISSOCK (mode))
    return "a socket";
  return "not a regular file";
}

static bool
read_file (const char *path, origin_kind_t kind, pd_time_t received, gsize limit, pd_source_fn fn,
           gpointer user_data, GError **err)
{
  FILE *f = fopen (path, "rb");
  if (f == NULL)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_IO, "%s: %s", path, g_strerror (errno));
      return false;
    }
  /* Checked again on the open file: it may have been replaced since the
   * folder was listed. */
  struct stat st;
  if (fstat (fileno (f), &st) != 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (err, PD_ERROR, PD_ERROR_IO, "%s: %s, not a message file; not read", path,
                   file_type_name (st.st_mode));
      fclose (f);
      return false;
    }
  bool ok = read_stream (f, path, kind, st.st_size, received, limit, fn, user_data, err);
  fclose (f);
  return ok;
}

/* ---- folders ------------------------------------------------------------ */

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The regular files of a folder in name order, dot files skipped.
 * (transfer full, of char* full paths) */
static GPtrArray *
list_files (const char *dir, GError **err)
{
  GError *local = NULL;
  GDir *d = g_dir_open (dir, 0, &local);
  if (d == NULL)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_IO, "%s: %s", dir, local->message);
      g_error_free (local);
      return NULL;
    }
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      if (name[0] == '.')
        continue;
      char *full = g_build_filename (dir, name, NULL);
      if (g_file_test (full, G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (names, full);
      else
        g_free (full);
    }
  g_dir_close (d);
  g_ptr_array_sort (names, compare_names);
  return names;
}

typedef struct {
  pd_source_fn fn;
  gpointer user_data;
  bool stopped;   /* the callback asked to stop */
} relay_t;

/* Wraps the callback so a folder can tell "the callback stopped" (stop
 * everything) from "this file could not be read" (skip it). */
static bool
relay (const char *raw, gsize len, gint64 true_size, const char *origin, pd_time_t received,
       gpointer data, GError **err)
{
  relay_t *r = data;
  bool ok = r->fn (raw, len, true_size, origin, received, r->user_data, err);
  r->stopped = !ok;
  return ok;
}

/* A Maildir's subfolder ('maildir' true) or a plain folder. In a Maildir
 * the time a message arrived is in its file name, else it is the time the
 * file was last written (delivery writes it once). */
static bool
read_folder (const char *dir, bool maildir, gsize limit, pd_source_fn fn, gpointer user_data,
             guint *skipped, GError **err)
{
  g_autoptr (GPtrArray) files = list_files (dir, err);
  if (files == NULL)
    return false;
  relay_t r = { fn, user_data, false };
  for (guint i = 0; i < files->len; i++)
    {
      const char *path = g_ptr_array_index (files, i);
      pd_time_t received = 0;
      if (maildir)
        {
          struct stat st;
          received = maildir_name_time (path);
          if (received == 0 && stat (path, &st) == 0)
            received = st.st_mtime;
        }
      GError *local = NULL;
      if (read_file (path, maildir ? FROM_NAMED_FILE : FROM_FOLDER, received, limit, relay, &r, &local))
        continue;
      if (r.stopped)
        {
          g_propagate_error (err, local);
          return false;
        }
      g_warning ("skipped %s", local->message);
      g_error_free (local);
      (*skipped)++;
    }
  return true;
}

bool
pd_source_read (const char *path, gsize max_bytes, pd_source_fn fn, gpointer user_data, guint *skipped,
                GError **err)
{
  gsize limit = MIN (max_bytes, (gsize) PD_SOURCE_MAX_BYTES);
  struct stat st;
  if (strcmp (path, "-") == 0)
    {
      /* A closed standard input would otherwise read as empty, or as
       * whatever file later took descriptor 0. */
      if (fstat (STDIN_FILENO, &st) != 0)
        {
          g_set_error (err, PD_ERROR, PD_ERROR_IO, "standard input: cannot be read: %s", g_strerror (errno));
          return false;
        }
      if (S_ISDIR (st.st_mode))
        {
          g_set_error (err, PD_ERROR, PD_ERROR_IO, "standard input: is a folder, give its path instead of -");
          return false;
        }
      return read_stream (stdin, "-", FROM_STDIN, S_ISREG (st.st_mode) ? st.st_size : -1, 0, limit, fn,
                          user_data, err);
    }
  if (stat (path, &st) != 0)
    {
      if (errno == ENOENT)
        g_set_error (err, PD_ERROR, PD_ERROR_IO, "%s: no such file or folder", path);
      else
        g_set_error (err, PD_ERROR, PD_ERROR_IO, "%s: %s", path, g_strerror (errno));
      return false;
    }
  if (S_ISDIR (st.st_mode))
    {
      g_autofree char *cur = g_build_filename (path, "cur", NULL);
      g_autofree char *new_dir = g_build_filename (path, "new", NULL);
      bool has_cur = g_file_test (cur, G_FILE_TEST_IS_DIR);
      bool has_new = g_file_test (new_dir, G_FILE_TEST_IS_DIR);
      if (!has_cur && !has_new)
        return read_folder (path, false, limit, fn, user_data, skipped, err);
      /* New mail first, then mail a client has already seen. */
      if (has_new && !read_folder (new_dir, true, limit, fn, user_data, skipped, err))
        return false;
      return !has_cur || read_folder (cur, true, limit, fn, user_data, skipped, err);
    }
  if (!S_ISREG (st.st_mode))
    {
      /* Reading a device or a pipe named by mistake could take forever, and
       * what it yields is no message. Standard input is the way to pipe. */
      g_set_error (err, PD_ERROR, PD_ERROR_IO,
                   "%s: %s, not a message file, Maildir, folder or mbox; not read (use - to read a pipe)",
                   path, file_type_name (st.st_mode));
      return false;
    }
  return read_file (path, FROM_NAMED_FILE, 0, limit, fn, user_data, err);
}
