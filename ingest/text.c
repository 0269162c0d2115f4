/* text.c - text from mail made safe for a terminal; see text.h for the
 * placeholders and why. */
#include "postdesk/text.h"

#include <string.h>

typedef enum { MODE_LINE, MODE_BLOCK } text_mode_t;

/* True for the characters a terminal or a bidi-aware viewer acts on rather
 * than shows: C1 controls, bidi embeddings, overrides and isolates, and
 * the Unicode line and paragraph separators. */
static bool
is_unsafe_unichar (gunichar c)
{
  return (c >= 0x80 && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)
         || c == 0x2028 || c == 0x2029;
}

static char *
sanitise (const char *data, gssize len, text_mode_t mode)
{
  if (data == NULL)
    return g_strdup ("");
  gsize n = len < 0 ? strlen (data) : (gsize) len;
  const char *p = data, *end = data + n;
  GString *out = g_string_sized_new (n + 16);
  while (p < end)
    {
      unsigned char b = (unsigned char) *p;
      if (b >= 0x20 && b < 0x7f)
        {
          /* Printable ASCII, the common case: copy the whole run at once. */
          const char *run = p;
          while (p < end && (unsigned char) *p >= 0x20 && (unsigned char) *p < 0x7f)
            p++;
          g_string_append_len (out, run, p - run);
          continue;
        }
      if (b < 0x80)
        {
          if (mode == MODE_BLOCK && (b == '\n' || b == '\t'))
            g_string_append_c (out, (char) b);
          else if (mode == MODE_BLOCK && b == '\r' && p + 1 < end && p[1] == '\n')
            ; /* CRLF shows as the newline that follows. */
          else if (mode == MODE_LINE && b == '\t')
            g_string_append_c (out, ' ');
          else
            g_string_append_printf (out, "\\x%02x", b);
          p++;
          continue;
        }
      gunichar c = g_utf8_get_char_validated (p, end - p);
      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          /* Not UTF-8 (a Latin-1 byte, binary, a cut sequence): show the
           * byte itself and go on with the next one. */
          g_string_append_printf (out, "\\x%02x", b);
          p++;
          continue;
        }
      const char *next = g_utf8_next_char (p);
      if (is_unsafe_unichar (c))
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_len (out, p, next - p);
      p = next;
    }
  return g_string_free (out, FALSE);
}

char *
pd_text_line (const char *text)
{
  return sanitise (text, -1, MODE_LINE);
}

char *
pd_text_block (const char *data, gssize len)
{
  return sanitise (data, len, MODE_BLOCK);
}

char *
pd_text_short (const char *text, guint max_chars)
{
  g_autofree char *line = pd_text_line (text);
  if (max_chars == 0 || g_utf8_strlen (line, -1) <= (glong) max_chars)
    return g_steal_pointer (&line);
  g_autofree char *head = g_utf8_substring (line, 0, max_chars > 1 ? max_chars - 1 : 0);
  return g_strconcat (head, "…", NULL);
}

static guint
unichar_cells (gunichar c)
{
  if (g_unichar_iszerowidth (c))
    return 0;
  return g_unichar_iswide (c) ? 2 : 1;
}

guint
pd_text_cells (const char *text)
{
  guint cells = 0;
  for (const char *p = text; p != NULL && *p != '\0'; p = g_utf8_next_char (p))
    cells += unichar_cells (g_utf8_get_char (p));
  return cells;
}

char *
pd_text_fit (const char *text, guint cells)
{
  if (text == NULL)
    text = "";
  guint have = pd_text_cells (text);
  GString *out = g_string_sized_new (strlen (text) + cells);
  if (have <= cells)
    {
      g_string_append (out, text);
      for (; have < cells; have++)
        g_string_append_c (out, ' ');
      return g_string_free (out, FALSE);
    }
  /* Keep what fits in one cell less than asked, then the ellipsis; a wide
   * character that would straddle the edge leaves a space instead. */
  guint used = 0;
  for (const char *p = text; cells > 0 && *p != '\0'; p = g_utf8_next_char (p))
    {
      guint w = unichar_cells (g_utf8_get_char (p));
      if (used + w > cells - 1)
        break;
      g_string_append_len (out, p, g_utf8_next_char (p) - p);
      used += w;
    }
  if (cells > 0)
    {
      g_string_append (out, "…");
      used++;
    }
  for (; used < cells; used++)
    g_string_append_c (out, ' ');
  return g_string_free (out, FALSE);
}
