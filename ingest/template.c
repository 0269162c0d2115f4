/* template.c - the Mustache subset of template.h: a strict loader that
 * reports every problem of every file at once, and a renderer that keeps
 * values from changing the shape of the message.
 *
 * A template is parsed once, at load, into a tree of nodes (literal text,
 * a variable, a section with its children) per header and for the body, so
 * every name is checked against the fixed set before anything is sent and
 * rendering cannot fail on the template's account. */
#include "postdesk/template.h"

#include <string.h>

#include "postdesk/text.h"

/* ---- the variables ------------------------------------------------------ */

static const pd_tvar_info_t variables[] = {
  { "ticket_ref", PD_TVAR_TEXT, "The ticket's reference, such as SUP-42." },
  { "ticket_number", PD_TVAR_TEXT, "The ticket's number, such as 42." },
  { "subject", PD_TVAR_TEXT, "The subject of the customer's message, without the reference." },
  { "severity", PD_TVAR_TEXT, "The severity: 1 or 2." },
  { "severity_words", PD_TVAR_TEXT, "What the severity means, in words." },
  { "severity_reason", PD_TVAR_TEXT, "Why the ticket has its severity, in words." },
  { "previous_severity", PD_TVAR_TEXT, "The severity before it was raised; empty unless raised." },
  { "is_severity1", PD_TVAR_BOOL, "True for a Severity 1 ticket." },
  { "raised", PD_TVAR_BOOL, "True when the customer's latest message raised the severity." },
  { "reopened", PD_TVAR_BOOL, "True when the customer's latest message reopened the ticket." },
  { "status", PD_TVAR_TEXT, "The ticket's status, such as new." },
  { "status_words", PD_TVAR_TEXT, "What the status means, in words." },
  { "requester_name", PD_TVAR_TEXT, "The requester's name; empty when the mail gave none." },
  { "requester_address", PD_TVAR_TEXT, "The requester's mail address." },
  { "customer", PD_TVAR_TEXT, "The customer's name from the configuration; empty when unknown." },
  { "plan", PD_TVAR_TEXT, "The support plan." },
  { "timezone", PD_TVAR_TEXT, "The time zone of the plan's calendar, such as America/Los_Angeles." },
  { "customer_timezone", PD_TVAR_TEXT, "The customer's time zone; empty when unknown." },
  { "first_response_due", PD_TVAR_TEXT, "The first-response deadline in the calendar's zone." },
  { "first_response_due_customer", PD_TVAR_TEXT,
    "The first-response deadline in the customer's zone; empty when unknown." },
  { "resolution_due", PD_TVAR_TEXT, "The resolution target in the calendar's zone; empty when the plan sets none." },
  { "resolution_due_customer", PD_TVAR_TEXT,
    "The resolution target in the customer's zone; empty when unknown or none." },
  { "outside_hours", PD_TVAR_BOOL, "True when the message arrived outside working hours." },
  { "clock_starts", PD_TVAR_TEXT, "When the SLA clock starts, in the calendar's zone." },
  { "clock_starts_customer", PD_TVAR_TEXT, "When the SLA clock starts, in the customer's zone; empty when unknown." },
  { "working_hours", PD_TVAR_TEXT, "The working hours in words, such as Monday to Friday, 09:00-17:00 Pacific time." },
  { "tags", PD_TVAR_LIST, "The tags rules gave the ticket: space-separated, or one pass per tag in a section." },
  { "tag", PD_TVAR_TEXT, "Inside {{#tags}}: the tag of this pass." },
  { "support_name", PD_TVAR_TEXT, "The support team's name." },
  { "support_address", PD_TVAR_TEXT, "The support address." },
  { NULL, PD_TVAR_TEXT, NULL },
};

#define N_VARS (G_N_ELEMENTS (variables) - 1)

const pd_tvar_info_t *
pd_template_variables (void)
{
  return variables;
}

static int
var_index (const char *name, gsize len)
{
  for (gsize i = 0; i < N_VARS; i++)
    if (strlen (variables[i].name) == len && strncmp (variables[i].name, name, len) == 0)
      return (int) i;
  return -1;
}

static int
var_index_of (const char *name)
{
  return var_index (name, strlen (name));
}

/* ---- values ------------------------------------------------------------- */

struct pd_tvars {
  char *text[N_VARS];  /* owned, valid UTF-8; NULL: never set (empty) */
  bool flag[N_VARS];
  GPtrArray *tags;     /* owned, of char* */
};

pd_tvars_t *
pd_tvars_new (void)
{
  pd_tvars_t *v = g_new0 (pd_tvars_t, 1);
  v->tags = g_ptr_array_new_with_free_func (g_free);
  return v;
}

void
pd_tvars_free (pd_tvars_t *vars)
{
  if (vars == NULL)
    return;
  for (gsize i = 0; i < N_VARS; i++)
    g_free (vars->text[i]);
  g_ptr_array_unref (vars->tags);
  g_free (vars);
}

/* The index of 'name' when it is a variable of 'kind', else a critical:
 * setting a name the templates cannot use is a bug in postdesk. */
static int
settable (const char *name, pd_tvar_kind_t kind)
{
  int i = var_index_of (name);
  if (i < 0 || variables[i].kind != kind || strcmp (name, "tag") == 0)
    {
      g_critical ("template variable '%s' is not a %s variable", name,
                  kind == PD_TVAR_BOOL ? "true/false" : "text");
      return -1;
    }
  return i;
}

bool
pd_tvars_set (pd_tvars_t *vars, const char *name, const char *value)
{
  int i = settable (name, PD_TVAR_TEXT);
  if (i < 0)
    return false;
  g_free (vars->text[i]);
  /* Values come from mail and configuration: whatever bytes they hold,
   * the renderer works on valid UTF-8 only. */
  vars->text[i] = value != NULL ? g_utf8_make_valid (value, -1) : NULL;
  return true;
}

bool
pd_tvars_set_int (pd_tvars_t *vars, const char *name, gint64 value)
{
  char buf[32];
  g_snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT, value);
  return pd_tvars_set (vars, name, buf);
}

bool
pd_tvars_set_bool (pd_tvars_t *vars, const char *name, bool value)
{
  int i = settable (name, PD_TVAR_BOOL);
  if (i < 0)
    return false;
  vars->flag[i] = value;
  return true;
}

void
pd_tvars_add_tag (pd_tvars_t *vars, const char *tag)
{
  g_ptr_array_add (vars->tags, g_utf8_make_valid (tag, -1));
}

/* ---- the parsed form ---------------------------------------------------- */

typedef enum { N_TEXT, N_VAR, N_SECTION } node_kind_t;

typedef struct {
  node_kind_t kind;
  char *text;           /* owned: N_TEXT's literal text */
  int var;              /* N_VAR, N_SECTION: index in variables[]; -1 for a tag test */
  char *tag;            /* owned: the tag a {{#tag:NAME}} section tests, else NULL */
  bool inverted;        /* N_SECTION: {{^...}} */
  GPtrArray *children;  /* owned, of node_t*: N_SECTION's content */
} node_t;

static void
node_free (gpointer p)
{
  node_t *n = p;
  g_free (n->text);
  g_free (n->tag);
  if (n->children != NULL)
    g_ptr_array_unref (n->children);
  g_free (n);
}

static GPtrArray *
nodes_new (void)
{
  return g_ptr_array_new_with_free_func (node_free);
}

typedef struct {
  char *name;       /* owned: as written */
  GPtrArray *nodes; /* owned, of node_t* */
} theader_t;

static void
theader_free (gpointer p)
{
  theader_t *h = p;
  g_free (h->name);
  g_ptr_array_unref (h->nodes);
  g_free (h);
}

struct pd_template {
  char *name;         /* owned: the file name less ".tmpl" */
  char *path;         /* owned: where it was read, for messages */
  GPtrArray *headers; /* owned, of theader_t*, in file order; Subject among them */
  GPtrArray *body;    /* owned, of node_t* */
};

void
pd_template_free (pd_template_t *t)
{
  if (t == NULL)
    return;
  g_free (t->name);
  g_free (t->path);
  g_ptr_array_unref (t->headers);
  g_ptr_array_unref (t->body);
  g_free (t);
}

const char *
pd_template_name (const pd_template_t *t)
{
  return t->name;
}

/* ---- headers a template may set ----------------------------------------- */

/* Headers postdesk writes itself, or that would change where the mail goes
 * or how it is read: a template that sets one is refused with the reason,
 * rather than sending something the compose step would contradict. */
static const struct {
  const char *name;
  const char *why;
} reserved_headers[] = {
  { "From", "postdesk sets it from support_name and support_address" },
  { "Sender", "postdesk sets the sender itself" },
  { "Reply-To", "postdesk sets it to the support address, so that replies thread" },
  { "To", "postdesk addresses the mail itself" },
  { "Cc", "a template cannot send mail to anyone else" },
  { "Bcc", "a template cannot send mail to anyone else" },
  { "Date", "postdesk sets it when the message is made" },
  { "Message-ID", "postdesk makes an unguessable one" },
  { "In-Reply-To", "postdesk threads the message itself" },
  { "References", "postdesk threads the message itself" },
  { "Auto-Submitted", "postdesk marks its automatic replies itself" },
  { "X-Auto-Response-Suppress", "postdesk marks its automatic replies itself" },
  { "MIME-Version", "postdesk writes the MIME structure" },
  { "Return-Path", "mail servers add it" },
  { "Received", "mail servers add it" },
};

/* The reason a template may not set 'name', or NULL when it may. */
static const char *
header_refusal (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (reserved_headers); i++)
    if (g_ascii_strcasecmp (name, reserved_headers[i].name) == 0)
      return reserved_headers[i].why;
  if (g_ascii_strncasecmp (name, "Content-", 8) == 0)
    return "postdesk writes the MIME structure";
  if (g_ascii_strcasecmp (name, "Subject") == 0 || g_ascii_strcasecmp (name, "Organization") == 0
      || (g_ascii_strncasecmp (name, "X-", 2) == 0 && name[2] != '\0'))
    return NULL;
  return "a template may set only Subject, Organization and X-... headers";
}

bool
pd_template_header_allowed (const char *name)
{
  return name != NULL && header_refusal (name) == NULL;
}

/* ---- the parser --------------------------------------------------------- */

typedef struct {
  node_t *node;  /* borrowed from the tree */
  char *label;   /* owned: the name as written in the tag, for messages */
  guint line;
} open_t;

typedef struct {
  const char *path;       /* borrowed */
  GPtrArray *problems;    /* borrowed, of char*: "path:line: message" */
  guint lineno;
  GArray *stack;          /* owned, of open_t: the sections open now */
  GPtrArray *root;        /* borrowed: where nodes go when no section is open */
  gint tags_depth;        /* how many {{#tags}} sections are open */
} parser_t;

static void problem (parser_t *ps, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
problem (parser_t *ps, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_ptr_array_add (ps->problems, g_strdup_printf ("%s:%u: %s", ps->path, ps->lineno, msg));
}

static GPtrArray *
current_nodes (parser_t *ps)
{
  if (ps->stack->len == 0)
    return ps->root;
  return g_array_index (ps->stack, open_t, ps->stack->len - 1).node->children;
}

static void
add_text (parser_t *ps, const char *text, gsize len)
{
  if (len == 0)
    return;
  GPtrArray *nodes = current_nodes (ps);
  /* Adjacent text becomes one node: lines of a body are added one by one. */
  if (nodes->len > 0)
    {
      node_t *last = nodes->pdata[nodes->len - 1];
      if (last->kind == N_TEXT)
        {
          char *joined = g_strdup_printf ("%s%.*s", last->text, (int) len, text);
          g_free (last->text);
          last->text = joined;
          return;
        }
    }
  node_t *n = g_new0 (node_t, 1);
  n->kind = N_TEXT;
  n->text = g_strndup (text, len);
  g_ptr_array_add (nodes, n);
}

/* The known variable nearest to 'name' when at most a third differs.
 * (borrowed: static) */
static const char *
suggest (const char *name)
{
  const char *best = NULL;
  /* No variable is this long: a guess would cost time and help nobody. */
  if (strlen (name) > 64)
    return NULL;
  gsize best_d = G_MAXSIZE;
  for (gsize i = 0; i < N_VARS; i++)
    {
      gsize d = pd_edit_distance (name, variables[i].name);
      if (d < best_d)
        {
          best_d = d;
          best = variables[i].name;
        }
    }
  return best_d * 3 <= strlen (name) ? best : NULL;
}

static void
unknown_variable (parser_t *ps, const char *name)
{
  const char *near = suggest (name);
  if (near != NULL)
    problem (ps, "unknown variable '%s' (did you mean '%s'?)", name, near);
  else
    problem (ps, "unknown variable '%s' (see \"TEMPLATES\" in postdesk.conf(5) for the list)", name);
}

/* Handles one tag: 'sigil' is '#', '^', '/' or 0, 'name' what followed it
 * ("ticket_ref", "tag:logs"). */
static void
handle_tag (parser_t *ps, char sigil, const char *name)
{
  bool is_test = g_str_has_prefix (name, "tag:");
  int var = -1;
  if (is_test)
    {
      const char *t = name + 4;
      if (!pd_valid_name (t, strlen (t)))
        {
          problem (ps, "bad tag name '%s' in '{{%c%s}}' (letters, digits, '-', '_' and '.')", t,
                   sigil != 0 ? sigil : '#', name);
          return;
        }
      if (sigil == 0)
        {
          problem (ps, "'%s' is a test: use it as a section, {{#%s}}...{{/%s}}", name, name, name);
          return;
        }
    }
  else
    {
      var = var_index_of (name);
      if (var < 0)
        {
          unknown_variable (ps, name);
          return;
        }
    }

  if (sigil == '/')
    {
      if (ps->stack->len == 0)
        {
          problem (ps, "'{{/%s}}' closes no section", name);
          return;
        }
      open_t *top = &g_array_index (ps->stack, open_t, ps->stack->len - 1);
      if (strcmp (top->label, name) != 0)
        {
          /* The closing tag is left unused, so that one typo yields one
           * problem here and one for the section it failed to close. */
          problem (ps, "'{{/%s}}' does not close '{{%c%s}}' (opened on line %u)", name,
                   top->node->inverted ? '^' : '#', top->label, top->line);
          return;
        }
      if (top->node->var >= 0 && variables[top->node->var].kind == PD_TVAR_LIST && !top->node->inverted)
        ps->tags_depth--;
      g_free (top->label);
      g_array_set_size (ps->stack, ps->stack->len - 1);
      return;
    }

  if (sigil == 0)
    {
      if (variables[var].kind == PD_TVAR_BOOL)
        problem (ps, "'%s' is true or false: use it as a section, {{#%s}}...{{/%s}}", name, name, name);
      else if (strcmp (name, "tag") == 0 && ps->tags_depth == 0)
        problem (ps, "'tag' is only set inside {{#tags}}...{{/tags}}");
      else
        {
          node_t *n = g_new0 (node_t, 1);
          n->kind = N_VAR;
          n->var = var;
          g_ptr_array_add (current_nodes (ps), n);
        }
      return;
    }

  if (strcmp (name, "tag") == 0 && ps->tags_depth == 0)
    {
      problem (ps, "'tag' is only set inside {{#tags}}...{{/tags}}");
      return;
    }
  if (ps->stack->len >= PD_TEMPLATE_MAX_DEPTH)
    {
      problem (ps, "sections nested deeper than %d", PD_TEMPLATE_MAX_DEPTH);
      return;
    }
  node_t *n = g_new0 (node_t, 1);
  n->kind = N_SECTION;
  n->var = var;
  n->tag = is_test ? g_strdup (name + 4) : NULL;
  n->inverted = sigil == '^';
  n->children = nodes_new ();
  g_ptr_array_add (current_nodes (ps), n);
  open_t o = { n, g_strdup (name), ps->lineno };
  g_array_append_val (ps->stack, o);
  if (var >= 0 && variables[var].kind == PD_TVAR_LIST && !n->inverted)
    ps->tags_depth++;
}

/* One piece of a line: literal text, or a tag already read apart. */
typedef struct {
  const char *start;  /* borrowed from the line */
  gsize len;
  bool is_tag;
  char sigil;         /* '#', '^', '/', '!' or 0 */
  char *name;         /* owned: the tag's name, or NULL */
} piece_t;

static void
piece_clear (gpointer p)
{
  g_free (((piece_t *) p)->name);
}

static bool
name_char (char c)
{
  return g_ascii_isalnum (c) || c == '_' || c == ':' || c == '-' || c == '.';
}

/* Splits one line (without its line end) into pieces. A tag problem is
 * reported and the tag dropped; the rest of the line is still read. */
static GArray *
split_line (parser_t *ps, const char *line)
{
  GArray *pieces = g_array_new (FALSE, TRUE, sizeof (piece_t));
  g_array_set_clear_func (pieces, piece_clear);
  const char *p = line;
  while (*p != '\0')
    {
      const char *open = strstr (p, "{{");
      if (open == NULL)
        {
          piece_t t = { p, strlen (p), false, 0, NULL };
          g_array_append_val (pieces, t);
          break;
        }
      if (open > p)
        {
          piece_t t = { p, (gsize) (open - p), false, 0, NULL };
          g_array_append_val (pieces, t);
        }
      const char *close = strstr (open + 2, "}}");
      if (close == NULL)
        {
          problem (ps, "'{{' without a closing '}}' on the same line");
          break;
        }
      p = close + 2;
      const char *s = open + 2;
      if (*s == '{' || *s == '&')
        {
          problem (ps, "'{{%c' is not supported: values are never escaped, write {{name}}", *s);
          if (*s == '{' && *p == '}')
            p++;
          continue;
        }
      if (*s == '>' || *s == '=')
        {
          problem (ps, "'{{%c' is not supported: %s", *s,
                   *s == '>' ? "templates have no partials" : "the delimiters are always {{ and }}");
          continue;
        }
      char sigil = 0;
      if (*s == '#' || *s == '^' || *s == '/' || *s == '!')
        sigil = *s++;
      if (sigil == '!')
        {
          piece_t t = { open, (gsize) (p - open), true, '!', NULL };
          g_array_append_val (pieces, t);
          continue;
        }
      while (s < close && (*s == ' ' || *s == '\t'))
        s++;
      const char *e = s;
      while (e < close && name_char (*e))
        e++;
      const char *after = e;
      while (after < close && (*after == ' ' || *after == '\t'))
        after++;
      if (e == s || after != close)
        {
          g_autofree char *tag = g_strndup (open, (gsize) (p - open));
          g_autofree char *shown = pd_text_short (tag, 60);
          problem (ps, e == s && after == close ? "an empty tag '%s'" : "bad tag '%s': a tag is {{name}}, "
                   "{{#name}}, {{^name}}, {{/name}} or {{! comment}}", shown);
          continue;
        }
      piece_t t = { open, (gsize) (p - open), true, sigil, g_strndup (s, (gsize) (e - s)) };
      g_array_append_val (pieces, t);
    }
  return pieces;
}

/* A line that holds one section, closing or comment tag and nothing else
 * but blanks: Mustache leaves such a line out whole. */
static bool
standalone (GArray *pieces)
{
  guint tags = 0;
  for (guint i = 0; i < pieces->len; i++)
    {
      const piece_t *pc = &g_array_index (pieces, piece_t, i);
      if (pc->is_tag)
        {
          if (pc->sigil == 0)
            return false;
          tags++;
        }
      else
        for (gsize j = 0; j < pc->len; j++)
          if (pc->start[j] != ' ' && pc->start[j] != '\t')
            return false;
    }
  return tags == 1;
}

/* Reads one line's pieces into the tree; 'line_end' ("\n" or NULL) is
 * added unless the line is standalone. */
static void
parse_line (parser_t *ps, const char *line, const char *line_end)
{
  g_autoptr (GArray) pieces = split_line (ps, line);
  bool alone = line_end != NULL && standalone (pieces);
  for (guint i = 0; i < pieces->len; i++)
    {
      const piece_t *pc = &g_array_index (pieces, piece_t, i);
      if (!pc->is_tag)
        {
          if (!alone)
            add_text (ps, pc->start, pc->len);
        }
      else if (pc->sigil != '!')
        handle_tag (ps, pc->sigil, pc->name);
    }
  if (line_end != NULL && !alone)
    add_text (ps, line_end, strlen (line_end));
}

/* Reports every section still open, at the line that opened it, and
 * empties the stack. */
static void
close_all (parser_t *ps, const char *where)
{
  guint saved = ps->lineno;
  for (guint i = 0; i < ps->stack->len; i++)
    {
      open_t *o = &g_array_index (ps->stack, open_t, i);
      ps->lineno = o->line;
      problem (ps, "'{{%c%s}}' is never closed%s", o->node->inverted ? '^' : '#', o->label, where);
      g_free (o->label);
    }
  g_array_set_size (ps->stack, 0);
  ps->tags_depth = 0;
  ps->lineno = saved;
}

static bool
header_name_ok (const char *s, gsize len)
{
  if (len == 0)
    return false;
  for (gsize i = 0; i < len; i++)
    if (s[i] <= 32 || s[i] >= 127 || s[i] == ':')
      return false;
  return true;
}

/* Checks the bytes before anything else is read: valid UTF-8, no NUL, no
 * control character but tab and the line ends. */
static bool
check_text (parser_t *ps, const char *text, gsize len)
{
  if (len > PD_TEMPLATE_MAX_BYTES)
    {
      ps->lineno = 1;
      problem (ps, "larger than %d bytes: not a template", PD_TEMPLATE_MAX_BYTES);
      return false;
    }
  /* GLib counts a NUL as invalid UTF-8; it deserves its own message. */
  const char *bad = NULL;
  bool utf8 = g_utf8_validate_len (text, len, &bad);
  const char *end = utf8 ? text + len : bad;
  ps->lineno = 1;
  for (const char *p = text; p < end; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if (c == '\n')
        ps->lineno++;
      else if (c == '\r' && (p + 1 == text + len || p[1] == '\n'))
        continue;
      else if ((c < 0x20 && c != '\t') || (c >= 0x7f && c <= 0x9f))
        {
          problem (ps, "control character U+%04X: templates are plain text", c);
          return false;
        }
    }
  if (!utf8)
    {
      problem (ps, *end == '\0' ? "a NUL byte: not a text file" : "not valid UTF-8");
      return false;
    }
  return true;
}

static char *
name_from_path (const char *path)
{
  g_autofree char *base = g_path_get_basename (path);
  if (g_str_has_suffix (base, ".tmpl"))
    base[strlen (base) - 5] = '\0';
  return g_steal_pointer (&base);
}

/* Parses 'text' into a template, adding its problems to 'problems'.
 * Returns NULL when there was any. (transfer full) */
static pd_template_t *
parse_template (const char *path, const char *text, gsize len, GPtrArray *problems)
{
  parser_t ps = { 0 };
  ps.path = path;
  ps.problems = problems;
  guint before = problems->len;
  if (!check_text (&ps, text, len))
    return NULL;

  g_autoptr (pd_template_t) t = g_new0 (pd_template_t, 1);
  t->name = name_from_path (path);
  t->path = g_strdup (path);
  t->headers = g_ptr_array_new_with_free_func (theader_free);
  t->body = nodes_new ();
  ps.stack = g_array_new (FALSE, FALSE, sizeof (open_t));

  g_autofree char *copy = g_strndup (text, len);
  g_auto (GStrv) lines = g_strsplit (copy, "\n", -1);
  guint n_lines = g_strv_length (lines);
  /* A final line end leaves an empty last piece: it is not a line. */
  if (n_lines > 0 && lines[n_lines - 1][0] == '\0')
    n_lines--;
  for (guint i = 0; i < n_lines; i++)
    {
      gsize l = strlen (lines[i]);
      if (l > 0 && lines[i][l - 1] == '\r')
        lines[i][l - 1] = '\0';
    }

  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint i = 0;
  bool header_end = false;
  for (; i < n_lines; i++)
    {
      const char *line = lines[i];
      ps.lineno = i + 1;
      if (line[0] == '\0')
        {
          header_end = true;
          i++;
          break;
        }
      if (line[0] == ' ' || line[0] == '\t')
        {
          problem (&ps, "a folded header line: write each header on one line");
          continue;
        }
      const char *colon = strchr (line, ':');
      if (colon == NULL || !header_name_ok (line, (gsize) (colon - line)))
        {
          g_autofree char *shown = pd_text_short (line, 40);
          problem (&ps, "'%s' is not a header line 'Name: value'; the headers end at the first "
                   "blank line, which must come before the body", shown);
          continue;
        }
      g_autofree char *name = g_strndup (line, (gsize) (colon - line));
      const char *why = header_refusal (name);
      if (why != NULL)
        {
          problem (&ps, "a template cannot set the header '%s': %s", name, why);
          continue;
        }
      g_autofree char *key = g_ascii_strdown (name, -1);
      gpointer first = g_hash_table_lookup (seen, key);
      if (first != NULL)
        {
          problem (&ps, "a second '%s' header (the first is on line %u)", name, GPOINTER_TO_UINT (first));
          continue;
        }
      g_hash_table_insert (seen, g_steal_pointer (&key), GUINT_TO_POINTER (ps.lineno));
      theader_t *h = g_new0 (theader_t, 1);
      h->name = g_steal_pointer (&name);
      h->nodes = nodes_new ();
      g_ptr_array_add (t->headers, h);
      const char *value = colon + 1;
      while (*value == ' ' || *value == '\t')
        value++;
      ps.root = h->nodes;
      parse_line (&ps, value, NULL);
      close_all (&ps, " in its header line: a section in a header closes on the same line");
    }

  if (!header_end)
    {
      ps.lineno = MAX (n_lines, 1);
      problem (&ps, "the template ends in its headers: a blank line and the body must follow");
    }
  if (g_hash_table_lookup (seen, "subject") == NULL)
    {
      ps.lineno = 1;
      problem (&ps, "no Subject header");
    }

  if (header_end)
    {
      ps.root = t->body;
      bool any = false;
      for (; i < n_lines; i++)
        {
          ps.lineno = i + 1;
          parse_line (&ps, lines[i], "\n");
          any = any || strspn (lines[i], " \t") < strlen (lines[i]);
        }
      if (!any)
        {
          ps.lineno = MAX (n_lines, 1);
          problem (&ps, "the body is empty");
        }
      ps.lineno = n_lines;
      close_all (&ps, "");
    }
  g_array_unref (ps.stack);
  if (problems->len > before)
    return NULL;
  return g_steal_pointer (&t);
}

/* Turns a list of problems into one error. */
static void
set_problems (GError **err, GPtrArray *problems)
{
  g_ptr_array_add (problems, NULL);
  g_autofree char *all = g_strjoinv ("\n", (char **) problems->pdata);
  g_set_error_literal (err, PD_ERROR, PD_ERROR_PARSE, all);
}

bool
pd_template_parse (const char *path, const char *text, gsize len, pd_template_t **out, GError **err)
{
  g_autoptr (GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  *out = parse_template (path, text, len, problems);
  if (*out == NULL)
    set_problems (err, problems);
  return *out != NULL;
}

/* ---- the set ------------------------------------------------------------ */

struct pd_templates {
  GHashTable *by_name;  /* owned: name (borrowed from the template) -> pd_template_t* (owned) */
};

void
pd_templates_free (pd_templates_t *set)
{
  if (set == NULL)
    return;
  g_hash_table_unref (set->by_name);
  g_free (set);
}

guint
pd_templates_count (const pd_templates_t *set)
{
  return g_hash_table_size (set->by_name);
}

const pd_template_t *
pd_templates_get (const pd_templates_t *set, const char *name)
{
  return g_hash_table_lookup (set->by_name, name);
}

bool
pd_templates_load (const char *dir, pd_templates_t **out, GError **err)
{
  *out = NULL;
  GError *local = NULL;
  g_autoptr (GPtrArray) names = pd_dir_names (dir, ".tmpl", "templates", err);
  if (names == NULL)
    return false;

  g_autoptr (GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) by_name = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                          (GDestroyNotify) pd_template_free);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *path = g_build_filename (dir, names->pdata[i], NULL);
      g_autofree char *text = NULL;
      gsize len = 0;
      if (!g_file_get_contents (path, &text, &len, &local))
        {
          g_ptr_array_add (problems, g_strdup_printf ("%s:1: cannot read: %s", path, local->message));
          g_clear_error (&local);
          continue;
        }
      pd_template_t *t = parse_template (path, text, len, problems);
      if (t != NULL)
        g_hash_table_insert (by_name, t->name, t);
    }
  if (!g_ptr_array_find_with_equal_func (names, "ack.tmpl", g_str_equal, NULL))
    {
      g_autofree char *path = g_build_filename (dir, "ack.tmpl", NULL);
      g_ptr_array_add (problems, g_strdup_printf ("%s:1: missing: every new ticket is acknowledged "
                                                  "with this template", path));
    }
  if (problems->len > 0)
    {
      set_problems (err, problems);
      return false;
    }
  pd_templates_t *set = g_new0 (pd_templates_t, 1);
  set->by_name = g_steal_pointer (&by_name);
  *out = set;
  return true;
}

gpointer
pd_templates_reload_load (const char *source, GError **err)
{
  pd_templates_t *set = NULL;
  if (!pd_templates_load (source, &set, err))
    return NULL;
  return set;
}

/* ---- rendering ---------------------------------------------------------- */

/* Appends 'text' made safe: in a header (one_line) every line break and
 * tab becomes a space; in the body line breaks become "\n" and tabs stay.
 * Every other control character, and the bidi controls that could make
 * text read differently from what it is, is removed. */
static void
append_clean (GString *out, const char *text, bool one_line)
{
  for (const char *p = text; *p != '\0';)
    {
      gunichar c = g_utf8_get_char (p);
      const char *next = g_utf8_next_char (p);
      if (c == '\r' && *next == '\n')
        {
          p = next;
          continue;  /* the '\n' that follows stands for both */
        }
      if (c == '\r' || c == '\n' || c == 0x2028 || c == 0x2029)
        g_string_append_c (out, one_line ? ' ' : '\n');
      else if (c == '\t')
        g_string_append_c (out, one_line ? ' ' : '\t');
      else if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || (c >= 0x202a && c <= 0x202e)
               || (c >= 0x2066 && c <= 0x2069))
        ;
      else
        g_string_append_len (out, p, next - p);
      p = next;
    }
}

typedef struct {
  const pd_tvars_t *vars;  /* borrowed */
  const char *tag;         /* borrowed: the tag of the innermost {{#tags}} pass */
  bool one_line;           /* rendering a header */
  bool too_big;
} render_t;

static bool
has_tag (const pd_tvars_t *vars, const char *tag)
{
  for (guint i = 0; i < vars->tags->len; i++)
    if (g_ascii_strcasecmp (vars->tags->pdata[i], tag) == 0)
      return true;
  return false;
}

static void
render_nodes (render_t *r, const GPtrArray *nodes, GString *out)
{
  for (guint i = 0; i < nodes->len && !r->too_big; i++)
    {
      const node_t *n = nodes->pdata[i];
      if (n->kind == N_TEXT)
        append_clean (out, n->text, r->one_line);
      else if (n->kind == N_VAR)
        {
          if (strcmp (variables[n->var].name, "tag") == 0)
            append_clean (out, r->tag != NULL ? r->tag : "", r->one_line);
          else if (variables[n->var].kind == PD_TVAR_LIST)
            for (guint j = 0; j < r->vars->tags->len; j++)
              {
                if (j > 0)
                  g_string_append_c (out, ' ');
                append_clean (out, r->vars->tags->pdata[j], r->one_line);
              }
          else if (r->vars->text[n->var] != NULL)
            append_clean (out, r->vars->text[n->var], r->one_line);
        }
      else if (n->var >= 0 && variables[n->var].kind == PD_TVAR_LIST && !n->inverted)
        {
          const char *outer = r->tag;
          for (guint j = 0; j < r->vars->tags->len && !r->too_big; j++)
            {
              r->tag = r->vars->tags->pdata[j];
              render_nodes (r, n->children, out);
            }
          r->tag = outer;
        }
      else
        {
          bool on;
          if (n->var < 0)
            on = has_tag (r->vars, n->tag);
          else if (variables[n->var].kind == PD_TVAR_LIST)
            on = r->vars->tags->len > 0;
          else if (variables[n->var].kind == PD_TVAR_BOOL)
            on = r->vars->flag[n->var];
          else if (strcmp (variables[n->var].name, "tag") == 0)
            on = r->tag != NULL && r->tag[0] != '\0';
          else
            on = r->vars->text[n->var] != NULL && r->vars->text[n->var][0] != '\0';
          if (on != n->inverted)
            render_nodes (r, n->children, out);
        }
      if (out->len > PD_TEMPLATE_MAX_OUTPUT)
        r->too_big = true;
    }
}

static void
header_free (gpointer p)
{
  pd_template_header_t *h = p;
  g_free (h->name);
  g_free (h->value);
  g_free (h);
}

void
pd_rendered_free (pd_rendered_t *r)
{
  if (r == NULL)
    return;
  g_free (r->subject);
  if (r->headers != NULL)
    g_ptr_array_unref (r->headers);
  g_free (r->body);
  g_free (r);
}

const char *
pd_rendered_header (const pd_rendered_t *r, const char *name)
{
  if (g_ascii_strcasecmp (name, "Subject") == 0)
    return r->subject;
  for (guint i = 0; i < r->headers->len; i++)
    {
      const pd_template_header_t *h = r->headers->pdata[i];
      if (g_ascii_strcasecmp (h->name, name) == 0)
        return h->value;
    }
  return NULL;
}

/* Blanks at the end of a line are left out (an empty value at the end of
 * "Customer: {{customer}}" leaves one, and mail readers show them as
 * nothing anyway), and the body ends with exactly one line end, whatever
 * blank lines the sections left at its end. (transfer full) */
static char *
tidy_body (const GString *body)
{
  GString *out = g_string_sized_new (body->len + 1);
  gsize blanks = 0;  /* blanks seen but not yet written */
  for (gsize i = 0; i < body->len; i++)
    {
      char c = body->str[i];
      if (c == ' ' || c == '\t')
        {
          blanks++;
          continue;
        }
      if (c != '\n')
        g_string_append_len (out, body->str + i - blanks, (gssize) blanks);
      blanks = 0;
      g_string_append_c (out, c);
    }
  while (out->len > 0 && out->str[out->len - 1] == '\n')
    g_string_truncate (out, out->len - 1);
  g_string_append_c (out, '\n');
  return g_string_free (out, FALSE);
}

bool
pd_template_render (const pd_template_t *t, const pd_tvars_t *vars, pd_rendered_t **out, GError **err)
{
  *out = NULL;
  g_autoptr (pd_rendered_t) res = g_new0 (pd_rendered_t, 1);
  res->headers = g_ptr_array_new_with_free_func (header_free);
  render_t r = { vars, NULL, true, false };
  gsize total = 0;
  for (guint i = 0; i < t->headers->len; i++)
    {
      const theader_t *th = t->headers->pdata[i];
      g_autoptr (GString) v = g_string_new (NULL);
      render_nodes (&r, th->nodes, v);
      total += v->len;
      g_strstrip (v->str);
      if (g_ascii_strcasecmp (th->name, "Subject") == 0)
        {
          if (v->str[0] == '\0')
            {
              g_set_error (err, PD_ERROR, PD_ERROR_REJECTED, "template %s: the Subject came out empty", t->path);
              return false;
            }
          res->subject = g_strdup (v->str);
          continue;
        }
      /* A header whose value came out empty is left out: "X-Customer: "
       * says nothing, and some servers refuse empty fields. */
      if (v->str[0] == '\0')
        continue;
      pd_template_header_t *h = g_new0 (pd_template_header_t, 1);
      h->name = g_strdup (th->name);
      h->value = g_strdup (v->str);
      g_ptr_array_add (res->headers, h);
    }
  r.one_line = false;
  g_autoptr (GString) body = g_string_new (NULL);
  render_nodes (&r, t->body, body);
  total += body->len;
  if (r.too_big || total > PD_TEMPLATE_MAX_OUTPUT)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_REJECTED, "template %s: the message came out larger than %d bytes",
                   t->path, PD_TEMPLATE_MAX_OUTPUT);
      return false;
    }
  res->body = tidy_body (body);
  *out = g_steal_pointer (&res);
  return true;
}
