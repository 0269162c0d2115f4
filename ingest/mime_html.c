/* mime_html.c - HTML bodies turned into readable plain text.
 *
 * libxml2's HTML parser builds a tree from any input, however broken; we walk
 * that tree and write the text nodes out, turning block elements into line
 * breaks. No regular expressions touch the markup: tag soup that fools a regex
 * (comments, attributes holding '>', unclosed tags) is the parser's problem,
 * and it already solves it the way browsers do.
 *
 * libxml2's error output is silenced once for the whole process by
 * pd_mime_init (mime.c), so garbage input prints nothing on stderr.
 */
#include "postdesk/mime.h"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>


/* What an element does to the text around it. */
typedef enum {
  EL_INLINE = 0,  /* nothing: <b>, <span>, <a>, unknown tags */
  EL_SKIP,        /* dropped with everything inside it */
  EL_BLOCK,       /* starts and ends a line */
  EL_PARAGRAPH,   /* starts and ends a paragraph: a blank line around it */
  EL_BREAK,       /* <br> */
  EL_LIST,        /* <ul>, <ol>: a paragraph of items; nested lists indent */
  EL_ITEM,        /* <li>: a line that starts with "- " */
  EL_CELL,        /* <td>, <th>: separated from the next cell by a space */
  EL_PRE,         /* whitespace kept as written */
} element_kind_t;

typedef struct {
  const char *name;
  element_kind_t kind;
} element_rule_t;

/* Sorted by name for bsearch(). libxml2's HTML parser lower-cases tag names,
 * so the comparison can be exact. */
static const element_rule_t element_rules[] = {
  { "address", EL_BLOCK },
  { "article", EL_BLOCK },
  { "aside", EL_BLOCK },
  { "blockquote", EL_BLOCK },
  { "br", EL_BREAK },
  { "caption", EL_BLOCK },
  { "center", EL_BLOCK },
  { "dd", EL_BLOCK },
  { "details", EL_BLOCK },
  { "dialog", EL_BLOCK },
  { "div", EL_BLOCK },
  { "dl", EL_BLOCK },
  { "dt", EL_BLOCK },
  { "fieldset", EL_BLOCK },
  { "figcaption", EL_BLOCK },
  { "figure", EL_BLOCK },
  { "footer", EL_BLOCK },
  { "form", EL_BLOCK },
  { "h1", EL_PARAGRAPH },
  { "h2", EL_PARAGRAPH },
  { "h3", EL_PARAGRAPH },
  { "h4", EL_PARAGRAPH },
  { "h5", EL_PARAGRAPH },
  { "h6", EL_PARAGRAPH },
  { "head", EL_SKIP },
  { "header", EL_BLOCK },
  { "hr", EL_BLOCK },
  { "iframe", EL_SKIP },
  { "legend", EL_BLOCK },
  { "li", EL_ITEM },
  { "main", EL_BLOCK },
  { "nav", EL_BLOCK },
  { "noscript", EL_SKIP },
  { "object", EL_SKIP },
  { "ol", EL_LIST },
  { "p", EL_PARAGRAPH },
  { "pre", EL_PRE },
  { "script", EL_SKIP },
  { "section", EL_BLOCK },
  { "style", EL_SKIP },
  { "summary", EL_BLOCK },
  { "svg", EL_SKIP },
  { "table", EL_BLOCK },
  { "tbody", EL_BLOCK },
  { "td", EL_CELL },
  { "template", EL_SKIP },
  { "tfoot", EL_BLOCK },
  { "th", EL_CELL },
  { "thead", EL_BLOCK },
  { "title", EL_SKIP },
  { "tr", EL_BLOCK },
  { "ul", EL_LIST },
};

static int
compare_rule (const void *key, const void *member)
{
  return strcmp (key, ((const element_rule_t *) member)->name);
}

static element_kind_t
element_kind (const xmlNode *node)
{
  if (node->name == NULL)
    return EL_INLINE;
  const element_rule_t *rule = bsearch (node->name, element_rules, G_N_ELEMENTS (element_rules),
                                        sizeof element_rules[0], compare_rule);
  return rule != NULL ? rule->kind : EL_INLINE;
}

/* The text being written. Line breaks are not written when an element asks
 * for them but only when the next text arrives, so that empty elements,
 * trailing breaks and runs of <br> cannot pile up blank lines. */
typedef struct {
  GString *out;        /* owned by the caller */
  int pending_breaks;  /* newlines owed before the next text: 1 or 2 (a blank line) */
  bool pending_space;  /* whitespace was seen since the last text */
  bool pending_item;   /* an <li> started and its "- " is not written yet */
  int pre_depth;       /* > 0 inside <pre> */
  int list_depth;      /* nesting of <ul>/<ol>, for indenting items */
  int depth;           /* elements open around the current node */
  bool flattened;      /* elements past PD_HTML_MAX_DEPTH were read as inline */
  const xmlNode *anchor;  /* borrowed: the open <a> whose target is shown */
  char *anchor_href;   /* owned: that target */
  gsize anchor_start;  /* where its text starts in out */
} html_text_t;

static void
want_breaks (html_text_t *t, int n)
{
  if (t->pending_breaks < n)
    t->pending_breaks = n;
}

static void
strip_trailing_blanks (GString *s)
{
  gsize n = s->len;
  while (n > 0 && (s->str[n - 1] == ' ' || s->str[n - 1] == '\t'))
    n--;
  g_string_truncate (s, n);
}

/* Writes what is owed before the next piece of text: line breaks, the item
 * marker, or a single space. Leading breaks of the whole output are dropped. */
static void
flush_pending (html_text_t *t)
{
  if (t->pending_breaks > 0 && t->out->len > 0)
    {
      strip_trailing_blanks (t->out);
      for (int i = 0; i < t->pending_breaks; i++)
        g_string_append_c (t->out, '\n');
    }
  else if (t->pending_space && t->out->len > 0)
    {
      char last = t->out->str[t->out->len - 1];
      if (last != ' ' && last != '\n')
        g_string_append_c (t->out, ' ');
    }
  if (t->pending_item)
    {
      for (int i = 1; i < t->list_depth; i++)
        g_string_append (t->out, "  ");
      g_string_append (t->out, "- ");
    }
  t->pending_breaks = 0;
  t->pending_space = false;
  t->pending_item = false;
}

/* Appends a text node. Outside <pre>, every run of whitespace (including the
 * no-break space that &nbsp; decodes to) becomes one space. */
static void
add_text (html_text_t *t, const char *text)
{
  if (t->pre_depth > 0)
    {
      if (*text == '\0')
        return;
      flush_pending (t);
      for (const char *p = text; *p != '\0'; p++)
        {
          if (*p == '\r')
            {
              if (p[1] != '\n')
                g_string_append_c (t->out, '\n');
            }
          else
            g_string_append_c (t->out, *p);
        }
      return;
    }

  const char *p = text;
  while (*p != '\0')
    {
      guchar c = (guchar) *p;
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v')
        {
          t->pending_space = true;
          p++;
          continue;
        }
      if (c == 0xC2 && (guchar) p[1] == 0xA0)
        {
          t->pending_space = true;
          p += 2;
          continue;
        }
      const char *start = p;
      while (*p != '\0')
        {
          c = (guchar) *p;
          if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
              || (c == 0xC2 && (guchar) p[1] == 0xA0))
            break;
          p++;
        }
      flush_pending (t);
      g_string_append_len (t->out, start, p - start);
    }
}

/* Content a reader never sees: the hidden attribute, or an inline style
 * with display:none or visibility:hidden. Newsletters hide a preheader
 * (the preview line of an inbox) and tracking text this way. */
static bool
is_hidden (const xmlNode *node)
{
  if (node->type != XML_ELEMENT_NODE)
    return false;
  if (xmlHasProp (node, (const xmlChar *) "hidden") != NULL)
    return true;
  xmlChar *style = xmlGetProp (node, (const xmlChar *) "style");
  if (style == NULL)
    return false;
  GString *squeezed = g_string_new (NULL);
  for (const xmlChar *c = style; *c != '\0'; c++)
    if (!g_ascii_isspace (*c))
      g_string_append_c (squeezed, g_ascii_tolower ((char) *c));
  xmlFree (style);
  bool hidden = strstr (squeezed->str, "display:none") != NULL || strstr (squeezed->str, "visibility:hidden") != NULL;
  g_string_free (squeezed, TRUE);
  return hidden;
}

/* The target of a link worth showing beside its text: web, mail and phone
 * links; not javascript: or in-page anchors. (transfer full, or NULL) */
static char *
link_target (const xmlNode *node)
{
  if (node->name == NULL || strcmp ((const char *) node->name, "a") != 0)
    return NULL;
  xmlChar *href = xmlGetProp (node, (const xmlChar *) "href");
  if (href == NULL)
    return NULL;
  g_autofree char *target = g_strstrip (g_strdup ((const char *) href));
  xmlFree (href);
  static const char *const schemes[] = { "http://", "https://", "mailto:", "tel:" };
  for (gsize i = 0; i < G_N_ELEMENTS (schemes); i++)
    if (g_ascii_strncasecmp (target, schemes[i], strlen (schemes[i])) == 0 && target[strlen (schemes[i])] != '\0')
      return g_steal_pointer (&target);
  return NULL;
}

/* At the end of a link: its target follows its text in angle brackets,
 * unless the text already says it ("https://x" or, for mailto:/tel:, the
 * address or number itself) or there is no text (an image). */
static void
close_anchor (html_text_t *t)
{
  const char *text = t->out->str + MIN (t->anchor_start, t->out->len);
  while (*text == ' ' || *text == '\n')
    text++;
  const char *href = t->anchor_href;
  const char *bare = strchr (href, ':') + 1;
  if (*text != '\0' && strcmp (text, href) != 0 && strcmp (text, bare) != 0)
    g_string_append_printf (t->out, " <%s>", href);
  t->anchor = NULL;
  g_clear_pointer (&t->anchor_href, g_free);
}

/* Called when the walk reaches an element; returns whether to descend. */
static bool
enter_element (html_text_t *t, const xmlNode *node)
{
  if (t->depth > PD_HTML_MAX_DEPTH)
    {
      t->flattened = true;
      return true;
    }
  char *href = link_target (node);
  if (href != NULL)
    {
      if (t->anchor != NULL)
        close_anchor (t);
      t->anchor = node;
      t->anchor_href = href;
      t->anchor_start = t->out->len;
      return true;
    }
  switch (element_kind (node))
    {
    case EL_SKIP:
      return false;
    case EL_BLOCK:
      want_breaks (t, 1);
      break;
    case EL_PARAGRAPH:
      want_breaks (t, 2);
      break;
    case EL_BREAK:
      /* Each <br> owes one more newline, so <br><br> leaves a blank line;
       * more than that collapses into one blank line. */
      t->pending_breaks = MIN (t->pending_breaks + 1, 2);
      if (t->out->len == 0)
        t->pending_breaks = 0;
      break;
    case EL_LIST:
      /* A list stands apart like a paragraph, a nested one only starts a line. */
      want_breaks (t, t->list_depth == 0 ? 2 : 1);
      t->list_depth++;
      break;
    case EL_ITEM:
      want_breaks (t, 1);
      t->pending_item = true;
      break;
    case EL_CELL:
      break;
    case EL_PRE:
      want_breaks (t, 2);
      t->pre_depth++;
      break;
    case EL_INLINE:
      break;
    }
  return true;
}

static void
leave_element (html_text_t *t, const xmlNode *node)
{
  if (node == t->anchor)
    close_anchor (t);
  if (t->depth > PD_HTML_MAX_DEPTH)
    return;
  switch (element_kind (node))
    {
    case EL_SKIP:
    case EL_BREAK:
    case EL_INLINE:
      break;
    case EL_BLOCK:
      want_breaks (t, 1);
      break;
    case EL_PARAGRAPH:
      want_breaks (t, 2);
      break;
    case EL_LIST:
      if (t->list_depth > 0)
        t->list_depth--;
      want_breaks (t, t->list_depth == 0 ? 2 : 1);
      break;
    case EL_ITEM:
      /* An empty item must not hand its marker to the text after the list. */
      t->pending_item = false;
      want_breaks (t, 1);
      break;
    case EL_CELL:
      t->pending_space = true;
      break;
    case EL_PRE:
      if (t->pre_depth > 0)
        t->pre_depth--;
      want_breaks (t, 2);
      break;
    }
}

/* Walks the tree in document order without recursion: parsed input can be
 * nested arbitrarily deep, and the C stack is not where that should show. */
static void
walk_document (html_text_t *t, xmlDoc *doc)
{
  xmlNode *cur = doc->children;
  while (cur != NULL)
    {
      bool descend = false;
      bool hidden = is_hidden (cur);
      if (cur->type == XML_ELEMENT_NODE && !hidden)
        descend = enter_element (t, cur);
      else if ((cur->type == XML_TEXT_NODE || cur->type == XML_CDATA_SECTION_NODE)
               && cur->content != NULL)
        add_text (t, (const char *) cur->content);

      if (descend && cur->children != NULL)
        {
          t->depth++;
          cur = cur->children;
          continue;
        }
      /* Leaves 'cur', then each parent whose last child it was. */
      bool left_children = false;
      while (cur != NULL)
        {
          if (cur->type == XML_ELEMENT_NODE && (left_children || !hidden))
            leave_element (t, cur);
          if (cur->next != NULL)
            {
              cur = cur->next;
              break;
            }
          cur = cur->parent;
          left_children = true;
          if (t->depth > 0 && cur != NULL && cur->type == XML_ELEMENT_NODE)
            t->depth--;
          if (cur == NULL || cur->type == XML_DOCUMENT_NODE || cur->type == XML_HTML_DOCUMENT_NODE)
            cur = NULL;
        }
    }
}

/* The last pass over the text: no blanks at line ends, at most one blank
 * line in a row (also inside <pre>), nothing blank at either end. Works in
 * place; the text only shrinks. */
static void
tidy_lines (GString *s)
{
  gsize w = 0;
  int newlines = 0;
  for (gsize r = 0; r < s->len; r++)
    {
      char c = s->str[r];
      if (w == 0 && g_ascii_isspace (c))
        continue;
      if (c == '\n')
        {
          while (w > 0 && (s->str[w - 1] == ' ' || s->str[w - 1] == '\t'))
            w--;
          if (++newlines > 2)
            continue;
        }
      else if (c != ' ' && c != '\t')
        newlines = 0;
      s->str[w++] = c;
    }
  while (w > 0 && g_ascii_isspace (s->str[w - 1]))
    w--;
  g_string_truncate (s, w);
}

char *
pd_html_to_text (const char *html, gsize len)
{
  if (html == NULL || len == 0)
    return g_strdup ("");
  pd_mime_init ();

  /* libxml2 is told the input is UTF-8; bytes that are not would make it
   * guess another encoding halfway through, so make sure first. */
  g_autofree char *valid = NULL;
  if (!g_utf8_validate (html, len, NULL))
    {
      valid = pd_text_to_utf8 (html, len, "utf-8");
      html = valid;
      len = strlen (valid);
    }
  gsize whole = len;
  if (len > PD_HTML_MAX_BYTES)
    {
      /* Cut before a tag the limit would split, so that half a tag ("<b"
       * of "<br>") does not become the text; then at the start of a
       * character. The parser closes what is open. */
      len = PD_HTML_MAX_BYTES;
      const char *lt = g_strrstr_len (html, (gssize) len, "<");
      const char *gt = g_strrstr_len (html, (gssize) len, ">");
      if (lt != NULL && (gt == NULL || gt < lt))
        len = (gsize) (lt - html);
      while (len > 0 && ((guchar) html[len] & 0xC0) == 0x80)
        len--;
    }

  /* HTML_PARSE_IGNORE_ENC: a <meta charset> in the body must not override
   * the UTF-8 we already converted the part to. HTML_PARSE_HUGE: without
   * it libxml2 stops at 255 levels of nesting and silently drops the rest
   * of the document; the input is already bounded by PD_HTML_MAX_BYTES, and
   * the walk below by PD_HTML_MAX_DEPTH. */
  htmlDocPtr doc = htmlReadMemory (html, (int) len, NULL, "UTF-8",
                                   HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING
                                   | HTML_PARSE_NONET | HTML_PARSE_IGNORE_ENC | XML_PARSE_HUGE);
  if (doc == NULL)
    return g_strdup ("");

  html_text_t t = { .out = g_string_sized_new (len / 2 + 16) };
  walk_document (&t, doc);
  xmlFreeDoc (doc);
  g_free (t.anchor_href);

  tidy_lines (t.out);
  /* What was not converted is said, not lost silently. */
  if (t.flattened)
    g_string_append_printf (t.out,
                            "\n\n[postdesk] The HTML is nested more than %d levels deep; the text below "
                            "that depth is shown without its layout.",
                            PD_HTML_MAX_DEPTH);
  if (whole > len)
    g_string_append_printf (t.out,
                            "\n\n[postdesk] The HTML part is %" G_GSIZE_FORMAT " bytes: only the first %"
                            G_GSIZE_FORMAT " were converted to text; all of it is kept in the raw message.",
                            whole, len);
  if (!g_utf8_validate (t.out->str, t.out->len, NULL))
    {
      char *fixed = g_utf8_make_valid (t.out->str, t.out->len);
      g_string_free (t.out, TRUE);
      return fixed;
    }
  return g_string_free (t.out, FALSE);
}
