/* rules.c - see rules.h. The parser of the rule language, the compiled rule
 * set and the evaluator. The language itself is described in
 * docs/postdesk-rules.5; the comments here say how it is implemented.
 *
 * Speed. A message is read by every rule, so a naive evaluator costs
 * (rules x field size). Three things keep it small:
 *   - Each pattern is analysed once at load time for literals that every
 *     match must contain (for /\b(prod|production)\b.{0,40}\bdown\b/ that is
 *     one of {prod, production}, and "down"; for an alternation, one of its
 *     branches' literals), and for how far into a match each can start. All
 *     literals, from all rules, go into one Aho-Corasick automaton, which
 *     scans subject and body once per message (only when a rule needs it),
 *     and records where each literal occurs. The scan is linear in the
 *     field size and nearly independent of the number of rules.
 *   - A pattern whose literals are absent is not run. One whose literals
 *     are present runs only from just before their occurrences (see
 *     run_near_literals), so its cost grows with the number of
 *     occurrences, not with the field size.
 *   - The fields are bounded (PD_RULES_MAX_FIELD_BYTES), and every pattern is
 *     JIT-compiled.
 * Patterns without a usable literal (under three characters, or syntax the
 * analysis does not follow) run over the whole field; with an unbounded
 * gap before every literal (\s+, .*) they run from the start. They are the
 * cost that still grows with (rules x field size).
 *
 * Safety. Every match runs with a match limit, which PCRE2 applies per
 * start position. A start-of-pattern callout counts start positions and,
 * every 64 of them, compares the thread's CPU time with a deadline, so an
 * unanchored catastrophic pattern is also stopped within milliseconds.
 * A stopped match makes its rule not match, and is logged once per rule
 * name for the life of the process.
 */
#include "postdesk/rules.h"

#include "postdesk/json.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <json-glib/json-glib.h>
#include <pcre2.h>
#include <string.h>
#include <time.h>

/* CPU time one match may use once the callout starts watching it. */
#define MATCH_DEADLINE_NS (5 * 1000 * 1000)
/* The callout looks at the clock every this many start positions. */
#define CALLOUT_CLOCK_EVERY 64
/* A prefilter literal shorter than this is in nearly every text: the
 * pattern then always runs. */
#define MIN_LITERAL 3

typedef enum {
  FIELD_SUBJECT,
  FIELD_BODY,
  FIELD_FROM,
  FIELD_FROM_ADDRESS,
  FIELD_FROM_NAME,
  FIELD_HEADER,
  FIELD_ATTACHMENT_NAME,
  FIELD_ATTACHMENT_TYPE,
  FIELD_CUSTOMER,
  FIELD_PLAN,
} field_kind_t;

static const struct {
  const char *name;
  field_kind_t kind;
} field_names[] = {
  { "subject", FIELD_SUBJECT },
  { "body", FIELD_BODY },
  { "from", FIELD_FROM },
  { "from-address", FIELD_FROM_ADDRESS },
  { "from-name", FIELD_FROM_NAME },
  { "attachment-name", FIELD_ATTACHMENT_NAME },
  { "attachment-type", FIELD_ATTACHMENT_TYPE },
  { "customer", FIELD_CUSTOMER },
  { "plan", FIELD_PLAN },
};

#define FIELD_LIST "subject, body, from, from-address, from-name, header:NAME, " \
                   "attachment-name, attachment-type, customer or plan"

typedef struct {
  field_kind_t kind;
  char *label;   /* owned: the field as results show it, e.g. "header:X-Priority" */
  char *header;  /* owned: for FIELD_HEADER, the header name; else NULL */
} field_t;

typedef struct {
  field_t *fields;      /* owned, n_fields of them, tried in this order */
  guint n_fields;
  char *label;          /* owned: the field names joined by ", " */
  bool negated;         /* "!~": holds when no field matches */
  pcre2_code *code;     /* owned: what runs (with the deadline callout when possible) */
  guint *literals;      /* owned: literal ids, set after set; NULL = always run */
  guint *set_ends;      /* owned: where each set ends in 'literals' */
  guint *set_prefix;    /* owned: per set, the most characters a match has
                           before the set's literal, or UNBOUNDED */
  guint n_sets;         /* every set needs one of its literals in the text */
} cond_t;

typedef struct {
  char *name;           /* owned */
  char *file;           /* owned: the file's name inside the folder */
  guint line;
  bool any;             /* match any (else all) */
  GPtrArray *conds;     /* owned, of cond_t* */
  int severity;         /* 1 or 2; 0 when the rule sets none */
  GPtrArray *tags;      /* owned, of char* */
  bool no_ack;
  bool auto_reply;      /* the auto-reply action: the message is an automatic reply */
  bool stop;
  gint64 prof_ns;       /* atomically updated while profiling */
  gint64 prof_evals;
} rule_t;

/* The literal automaton: a complete DFA over byte classes. */
typedef struct {
  guint8 cls[256];      /* byte -> class; 0 for bytes in no literal. Upper-case
                           ASCII letters share their lower-case letter's class */
  guint n_classes;
  guint32 *delta;       /* owned: n_states x n_classes next states, each as
                           the offset of its row (state x n_classes), with
                           AC_OUTPUT set when the next state reports a literal */
  gint32 *out;          /* owned: per state, the literal that ends there, or -1 */
  guint32 *out_link;    /* owned: per state, nearest proper suffix state with output, or 0 */
  guint n_states;
} ac_t;

struct pd_rules {
  GPtrArray *rules;     /* owned, of rule_t*, in file order */
  GPtrArray *literals;  /* owned, of char*: prefilter literals, by id */
  guint *literal_len;   /* owned: each literal's length, by id */
  ac_t *ac;             /* owned; NULL when there are no literals */
  gint profiling;       /* atomic bool */
};

/* ------------------------------------------------------------------------ */
/* Freeing                                                                  */

static void
field_clear (gpointer p)
{
  field_t *f = p;
  g_free (f->label);
  g_free (f->header);
}

static void
cond_free (cond_t *c)
{
  if (c == NULL)
    return;
  for (guint i = 0; i < c->n_fields; i++)
    {
      g_free (c->fields[i].label);
      g_free (c->fields[i].header);
    }
  g_free (c->fields);
  g_free (c->label);
  pcre2_code_free (c->code);
  g_free (c->literals);
  g_free (c->set_ends);
  g_free (c->set_prefix);
  g_free (c);
}

static void
rule_free (rule_t *r)
{
  if (r == NULL)
    return;
  g_free (r->name);
  g_free (r->file);
  g_ptr_array_unref (r->conds);
  g_ptr_array_unref (r->tags);
  g_free (r);
}

static void
ac_free (ac_t *ac)
{
  if (ac == NULL)
    return;
  g_free (ac->delta);
  g_free (ac->out);
  g_free (ac->out_link);
  g_free (ac);
}

void
pd_rules_free (pd_rules_t *rules)
{
  if (rules == NULL)
    return;
  g_ptr_array_unref (rules->rules);
  g_ptr_array_unref (rules->literals);
  g_free (rules->literal_len);
  ac_free (rules->ac);
  g_free (rules);
}

guint
pd_rules_count (const pd_rules_t *rules)
{
  return rules->rules->len;
}

/* ------------------------------------------------------------------------ */
/* Literal analysis                                                         */

/* The extractor reads a pattern the way PCRE2 does, as far as literals go,
 * and gives up (no prefilter: the pattern always runs) on anything it does
 * not follow exactly: inline options, lookaround, back references, \Q, \x
 * and friends, extended mode. Giving up is always safe; a wrong literal
 * would silently hide matches, so the analysis never guesses. */
typedef struct {
  const char *p;  /* borrowed: the pattern */
  gsize i;
  gsize len;
} ex_t;

/* A literal set says: every match contains one of 'lits', and that literal
 * starts at most 'prefix' characters after the start of the match
 * (UNBOUNDED when nothing limits it). A pattern's requirement is a list of
 * such sets, all of which must be met: "\b(prod|production)\b.{0,40}\bdown\b"
 * needs one of {prod, production} at most 0 characters in, and "down" at
 * most 50 characters in. Sets with a literal shorter than MIN_LITERAL say
 * too little and are dropped at the end.
 *
 * The prefix is what lets a pattern run only near its literals: a match
 * can only start within 'prefix' characters before an occurrence, so the
 * evaluator searches only there (see run_near_literals). Widths count
 * characters; a character is at most 4 bytes of UTF-8. */
#define UNBOUNDED G_MAXUINT
/* Wider than this is as good as unbounded: the windows would cover the text. */
#define MAX_PREFIX 1024

typedef struct {
  GPtrArray *lits;  /* owned, of char*: lower-case ASCII literals */
  guint prefix;     /* characters before the literal, at most; or UNBOUNDED */
} lset_t;

static guint
width_add (guint a, guint b)
{
  return a == UNBOUNDED || b == UNBOUNDED || a + b > MAX_PREFIX ? UNBOUNDED : a + b;
}

static guint
width_mul (guint a, guint times)
{
  if (a == 0 || times == 0)
    return 0;
  return a == UNBOUNDED || times == UNBOUNDED || a > MAX_PREFIX / times ? UNBOUNDED : a * times;
}

static void
lset_free (lset_t *s)
{
  if (s == NULL)
    return;
  g_ptr_array_unref (s->lits);
  g_free (s);
}

/* A copy of 's' for a context 'shift' characters further in (transfer full). */
static lset_t *
lset_shifted (const lset_t *s, guint shift)
{
  lset_t *copy = g_new0 (lset_t, 1);
  copy->lits = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < s->lits->len; i++)
    g_ptr_array_add (copy->lits, g_strdup (s->lits->pdata[i]));
  copy->prefix = width_add (shift, s->prefix);
  return copy;
}

static void
sets_free (GPtrArray *sets)
{
  if (sets != NULL)
    g_ptr_array_unref (sets);
}

static GPtrArray *
sets_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) lset_free);
}

static gsize
shortest (const lset_t *set)
{
  gsize min = G_MAXSIZE;
  for (guint i = 0; i < set->lits->len; i++)
    min = MIN (min, strlen (set->lits->pdata[i]));
  return min;
}

/* The most selective set of a list: the longest shortest literal, then the
 * fewest literals; with 'bounded', only among the usable sets with a
 * bounded prefix. (borrowed from 'sets'; NULL when there is none) */
static lset_t *
best_set (GPtrArray *sets, bool bounded)
{
  lset_t *best = NULL;
  for (guint i = 0; i < sets->len; i++)
    {
      lset_t *s = sets->pdata[i];
      if (bounded && (s->prefix == UNBOUNDED || shortest (s) < MIN_LITERAL))
        continue;
      if (best == NULL || shortest (s) > shortest (best)
          || (shortest (s) == shortest (best) && s->lits->len < best->lits->len))
        best = s;
    }
  return best;
}

static void
flush_run (GString *run, guint prefix, GPtrArray *sets)
{
  if (run->len == 0)
    return;
  lset_t *set = g_new0 (lset_t, 1);
  set->lits = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (set->lits, g_strndup (run->str, run->len));
  set->prefix = prefix;
  g_ptr_array_add (sets, set);
  g_string_truncate (run, 0);
}

static bool ex_alternatives (ex_t *x, GPtrArray **out, guint *width);

/* Skips a character class starting at '['. */
static bool
skip_class (ex_t *x)
{
  x->i++;
  if (x->i < x->len && x->p[x->i] == '^')
    x->i++;
  if (x->i < x->len && x->p[x->i] == ']')
    x->i++;
  while (x->i < x->len)
    {
      char c = x->p[x->i];
      if (c == '\\')
        {
          if (x->i + 1 >= x->len)
            return false;
          char d = x->p[x->i + 1];
          /* Escapes with arguments inside a class are not followed. */
          if (strchr ("xopPNcQE", d) != NULL)
            return false;
          x->i += 2;
        }
      else if (c == '[' && x->i + 1 < x->len && x->p[x->i + 1] == ':')
        {
          const char *end = strstr (x->p + x->i + 2, ":]");
          if (end == NULL)
            return false;
          x->i = (gsize) (end - x->p) + 2;
        }
      else if (c == ']')
        {
          x->i++;
          return true;
        }
      else
        x->i++;
    }
  return false;
}

/* Reads an optional quantifier; *min and *max are its bounds (1 and 1
 * without one; *max UNBOUNDED for *, + and {n,}). */
static bool
read_quantifier (ex_t *x, bool *quantified, guint *min, guint *max)
{
  *quantified = false;
  *min = 1;
  *max = 1;
  if (x->i >= x->len)
    return true;
  char c = x->p[x->i];
  if (c == '*' || c == '?')
    {
      *min = 0;
      *max = c == '?' ? 1 : UNBOUNDED;
      x->i++;
    }
  else if (c == '+')
    {
      *max = UNBOUNDED;
      x->i++;
    }
  else if (c == '{')
    {
      gsize j = x->i + 1;
      guint n = 0;
      gsize digits = 0;
      while (j < x->len && g_ascii_isdigit (x->p[j]))
        {
          n = MIN (n * 10 + (guint) (x->p[j] - '0'), 100000u);
          j++;
          digits++;
        }
      if (digits == 0)
        return false;
      guint m = n;
      if (j < x->len && x->p[j] == ',')
        {
          j++;
          m = 0;
          gsize mdigits = 0;
          while (j < x->len && g_ascii_isdigit (x->p[j]))
            {
              m = MIN (m * 10 + (guint) (x->p[j] - '0'), 100000u);
              j++;
              mdigits++;
            }
          if (mdigits == 0)
            m = UNBOUNDED;
        }
      if (j >= x->len || x->p[j] != '}')
        return false;
      *min = n;
      *max = m;
      x->i = j + 1;
    }
  else
    return true;
  *quantified = true;
  if (x->i < x->len && (x->p[x->i] == '+' || x->p[x->i] == '?'))
    x->i++;
  return true;
}

/* One branch: a sequence of items up to '|', ')' or the end. Every run of
 * plain characters and every required group adds a set to *out; *width is
 * the most characters the branch can match. */
static bool
ex_sequence (ex_t *x, GPtrArray **out, guint *width)
{
  GPtrArray *sets = sets_new ();
  g_autoptr (GString) run = g_string_new (NULL);
  guint run_prefix = 0;  /* characters before the run's first one, at most */
  guint w = 0;           /* characters so far, at most */
  while (x->i < x->len && x->p[x->i] != '|' && x->p[x->i] != ')')
    {
      enum { LITERAL, OPAQUE, GROUP } kind = OPAQUE;
      char lit = 0;
      GPtrArray *group = NULL;
      guint item_width = 1;
      guchar c = (guchar) x->p[x->i];
      if (c == '(')
        {
          x->i++;
          if (x->i + 1 < x->len && x->p[x->i] == '?' && x->p[x->i + 1] == ':')
            x->i += 2;
          else if (x->i < x->len && (x->p[x->i] == '?' || x->p[x->i] == '*'))
            goto give_up;
          if (!ex_alternatives (x, &group, &item_width) || x->i >= x->len || x->p[x->i] != ')')
            {
              sets_free (group);
              goto give_up;
            }
          x->i++;
          kind = GROUP;
        }
      else if (c == '[')
        {
          if (!skip_class (x))
            goto give_up;
        }
      else if (c == '\\')
        {
          if (x->i + 1 >= x->len)
            goto give_up;
          guchar d = (guchar) x->p[x->i + 1];
          /* \G depends on where the search starts, which the evaluator
           * moves: such a pattern always runs over the whole text. */
          if (d >= 0x80 || strchr ("xo0123456789gkpPNcQEuG", d) != NULL)
            goto give_up;
          if (!g_ascii_isalnum (d))
            {
              kind = LITERAL;
              lit = (char) g_ascii_tolower (d);
            }
          else if (strchr ("bBAzZK", d) != NULL)
            item_width = 0;  /* assertions */
          else if (d == 'R')
            item_width = 2;  /* \r\n */
          else if (d == 'X')
            item_width = UNBOUNDED;  /* a grapheme cluster */
          x->i += 2;
        }
      else if (c == '^' || c == '$')
        {
          item_width = 0;
          x->i++;
        }
      else if (c == '.')
        x->i++;
      else if (c == '{' || c == '*' || c == '+' || c == '?')
        goto give_up;
      else if (c >= 0x80)
        {
          /* A non-ASCII character: skipped whole, never a literal. */
          x->i++;
          while (x->i < x->len && ((guchar) x->p[x->i] & 0xC0) == 0x80)
            x->i++;
        }
      else
        {
          kind = LITERAL;
          lit = (char) g_ascii_tolower (c);
          x->i++;
        }

      bool quantified;
      guint min, max;
      if (!read_quantifier (x, &quantified, &min, &max))
        {
          sets_free (group);
          goto give_up;
        }
      if (kind == LITERAL && run->len == 0)
        run_prefix = w;
      if (kind == LITERAL && !quantified)
        g_string_append_c (run, lit);
      else if (kind == LITERAL && min >= 1)
        {
          /* "ab+c" matches "abbc": "ab" is certain, "abc" is not. */
          g_string_append_c (run, lit);
          flush_run (run, run_prefix, sets);
        }
      else
        {
          flush_run (run, run_prefix, sets);
          /* The group's first repetition starts where the group does. */
          if (group != NULL && min >= 1)
            for (guint i = 0; i < group->len; i++)
              g_ptr_array_add (sets, lset_shifted (group->pdata[i], w));
          sets_free (group);
        }
      w = width_add (w, width_mul (item_width, max));
    }
  flush_run (run, run_prefix, sets);
  *out = sets;
  *width = w;
  return true;

give_up:
  sets_free (sets);
  *out = NULL;
  return false;
}

/* The union of each branch's best set, or NULL when a branch has none
 * (transfer full). Its literal starts no later than the latest of those
 * sets' prefixes. */
static lset_t *
union_of_best (GPtrArray *branches, bool bounded)
{
  lset_t *all = g_new0 (lset_t, 1);
  all->lits = g_ptr_array_new_with_free_func (g_free);
  for (guint b = 0; b < branches->len; b++)
    {
      const lset_t *best = best_set (branches->pdata[b], bounded);
      if (best == NULL)
        {
          lset_free (all);
          return NULL;
        }
      for (guint i = 0; i < best->lits->len; i++)
        g_ptr_array_add (all->lits, g_strdup (best->lits->pdata[i]));
      all->prefix = best->prefix == UNBOUNDED || all->prefix == UNBOUNDED ? UNBOUNDED
                                                                         : MAX (all->prefix, best->prefix);
    }
  return all;
}

/* Branches separated by '|'. One branch passes its sets on. Several: a
 * match contains a literal of the branch it took, so the union of each
 * branch's best set is required, when every branch has one. Two unions
 * when they differ: of the most selective sets, for the prefilter, and of
 * the sets with a bounded prefix, for running near the literals: in
 * "can\s*not|not\s+able" the first needs {can, able}, the second, whose
 * literals start a match, {can, not}. */
static bool
ex_alternatives (ex_t *x, GPtrArray **out, guint *width)
{
  GPtrArray *branches = g_ptr_array_new_with_free_func ((GDestroyNotify) sets_free);
  *width = 0;
  for (;;)
    {
      GPtrArray *branch = NULL;
      guint bw = 0;
      if (!ex_sequence (x, &branch, &bw))
        {
          g_ptr_array_unref (branches);
          *out = NULL;
          return false;
        }
      g_ptr_array_add (branches, branch);
      *width = bw == UNBOUNDED || *width == UNBOUNDED ? UNBOUNDED : MAX (*width, bw);
      if (x->i < x->len && x->p[x->i] == '|')
        {
          x->i++;
          continue;
        }
      break;
    }
  if (branches->len == 1)
    {
      *out = g_ptr_array_steal_index (branches, 0);
      g_ptr_array_unref (branches);
      return true;
    }
  GPtrArray *result = sets_new ();
  lset_t *selective = union_of_best (branches, false);
  lset_t *bounded = union_of_best (branches, true);
  if (selective != NULL)
    g_ptr_array_add (result, selective);
  if (bounded != NULL && (selective == NULL || selective->prefix == UNBOUNDED))
    g_ptr_array_add (result, bounded);
  else
    lset_free (bounded);
  g_ptr_array_unref (branches);
  *out = result;
  return true;
}

/* The prefilter of a pattern: a list of lset_t, each of which must be met
 * (transfer full), or NULL when the pattern must always run. */
static GPtrArray *
required_literals (const char *pattern, bool extended)
{
  if (extended)
    return NULL;
  ex_t x = { pattern, 0, strlen (pattern) };
  GPtrArray *sets = NULL;
  guint width = 0;
  if (!ex_alternatives (&x, &sets, &width) || x.i != x.len)
    {
      sets_free (sets);
      return NULL;
    }
  for (guint i = sets->len; i-- > 0;)
    if (shortest (sets->pdata[i]) < MIN_LITERAL)
      g_ptr_array_remove_index (sets, i);
  if (sets->len == 0)
    {
      sets_free (sets);
      return NULL;
    }
  return sets;
}

/* ------------------------------------------------------------------------ */
/* The Aho-Corasick automaton over all literals                             */

#define AC_OUTPUT 0x80000000u

static ac_t *
ac_build (GPtrArray *literals)
{
  if (literals->len == 0)
    return NULL;
  ac_t *ac = g_new0 (ac_t, 1);
  guint nc = 1;
  gsize total = 1;
  for (guint i = 0; i < literals->len; i++)
    {
      const guint8 *s = literals->pdata[i];
      for (; *s != 0; s++, total++)
        if (ac->cls[*s] == 0)
          ac->cls[*s] = (guint8) nc++;
    }
  ac->n_classes = nc;
  if (total * nc >= AC_OUTPUT)
    {
      /* Megabytes of literals: rows would not fit an edge. Without the
       * automaton every pattern runs over the whole text, slower but the same. */
      g_free (ac);
      return NULL;
    }
  ac->delta = g_new (guint32, total * nc);
  ac->out = g_new (gint32, total);
  ac->out_link = g_new0 (guint32, total);
  /* The trie first; G_MAXUINT32 marks a missing edge. */
  for (gsize k = 0; k < total * nc; k++)
    ac->delta[k] = G_MAXUINT32;
  for (gsize k = 0; k < total; k++)
    ac->out[k] = -1;
  guint n = 1;
  for (guint i = 0; i < literals->len; i++)
    {
      guint32 s = 0;
      for (const guint8 *p = literals->pdata[i]; *p != 0; p++)
        {
          guint32 *edge = &ac->delta[s * nc + ac->cls[*p]];
          if (*edge == G_MAXUINT32)
            *edge = n++;
          s = *edge;
        }
      ac->out[s] = (gint32) i;
    }
  ac->n_states = n;
  /* Breadth first: each state's missing edges become its failure state's
   * edges, which makes the trie a complete DFA. */
  guint32 *fail = g_new0 (guint32, n);
  guint32 *queue = g_new (guint32, n);
  gsize head = 0, tail = 0;
  for (guint c = 0; c < nc; c++)
    {
      guint32 *edge = &ac->delta[c];
      if (*edge == G_MAXUINT32 || c == 0)
        *edge = 0;
      else
        {
          fail[*edge] = 0;
          queue[tail++] = *edge;
        }
    }
  while (head < tail)
    {
      guint32 s = queue[head++];
      ac->out_link[s] = ac->out[fail[s]] >= 0 ? fail[s] : ac->out_link[fail[s]];
      for (guint c = 0; c < nc; c++)
        {
          guint32 *edge = &ac->delta[s * nc + c];
          guint32 via_fail = ac->delta[fail[s] * nc + c];
          if (*edge == G_MAXUINT32)
            *edge = via_fail;
          else
            {
              fail[*edge] = via_fail;
              queue[tail++] = *edge;
            }
        }
    }
  g_free (fail);
  g_free (queue);
  /* The scan's inner loop then needs one load and one add per byte: the
   * edge holds the next state's row, not its number (no multiplication
   * in the loop's dependency chain), and a flag says whether that state
   * reports anything. */
  for (gsize k = 0; k < (gsize) n * nc; k++)
    {
      guint32 t = ac->delta[k];
      ac->delta[k] = t * nc | (ac->out[t] >= 0 || ac->out_link[t] != 0 ? AC_OUTPUT : 0);
    }
  /* Case folding is in the class table: literals are lower case, so an
   * upper-case letter takes its lower-case letter's class. */
  for (int c = 'A'; c <= 'Z'; c++)
    ac->cls[c] = ac->cls[c + 32];
  return ac;
}

/* One occurrence of a literal: its id and the offset just past its end. */
typedef struct {
  guint32 id;
  guint32 end;
} occ_t;

/* Appends to 'occ' (of occ_t) every occurrence of every literal in 'text',
 * in text order, folded as PCRE2's caseless matching folds: ASCII letters
 * by the class table, and the two non-ASCII characters that PCRE2 equates
 * with ASCII letters (KELVIN SIGN with k, LONG S with s) here, so a text
 * the pattern matches always contains the literal. Returns whether one of
 * those two was folded: an occurrence may then be longer in the text than
 * the literal. */
static bool
ac_scan (const ac_t *ac, const guint8 *text, gsize len, GArray *occ)
{
  guint32 s = 0;
  bool folded = false;
  const guint nc = ac->n_classes;
  for (gsize i = 0; i < len; i++)
    {
      guint8 b = text[i];
      guint c = ac->cls[b];
      if (G_UNLIKELY (b == 0xE2 || b == 0xC5))
        {
          if (b == 0xE2 && i + 2 < len && text[i + 1] == 0x84 && text[i + 2] == 0xAA)
            {
              c = ac->cls['k'];
              i += 2;
              folded = true;
            }
          else if (b == 0xC5 && i + 1 < len && text[i + 1] == 0xBF)
            {
              c = ac->cls['s'];
              i += 1;
              folded = true;
            }
        }
      s = ac->delta[(s & ~AC_OUTPUT) + c];
      if (G_LIKELY (!(s & AC_OUTPUT)))
        continue;
      guint32 t = (s & ~AC_OUTPUT) / nc;
      if (ac->out[t] < 0)
        t = ac->out_link[t];
      while (t != 0)
        {
          occ_t o = { (guint32) ac->out[t], (guint32) (i + 1) };
          g_array_append_val (occ, o);
          t = ac->out_link[t];
        }
    }
  return folded;
}

/* ------------------------------------------------------------------------ */
/* The parser                                                               */

typedef struct {
  GPtrArray *problems;    /* owned, of char*: "path:line:col: message" */
  GHashTable *names;      /* owned: rule name -> "path:line" where first defined */
  GPtrArray *rules;       /* owned, of rule_t* */
  GPtrArray *literals;    /* owned, of char* */
  GHashTable *literal_ids;/* owned keys borrowed from 'literals' -> id + 1 */
  const char *path;       /* borrowed: the file as messages name it */
  const char *file;       /* borrowed: the file's name inside the folder */
  rule_t *current;        /* borrowed from 'rules': the rule being read */
  bool in_bad_rule;       /* the last "rule" line was refused: its lines are
                             still checked, but not reported as outside a rule */
  guint current_problems; /* problems count when 'current' started */
  const char *line;       /* borrowed: the current line, for columns */
  guint lineno;
} parser_t;

static void problem (parser_t *ps, const char *at, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

/* Records a problem at 'at', a pointer into the current line (NULL: column 1). */
static void
problem (parser_t *ps, const char *at, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  glong col = at != NULL ? g_utf8_pointer_to_offset (ps->line, at) + 1 : 1;
  g_ptr_array_add (ps->problems, g_strdup_printf ("%s:%u:%ld: %s", ps->path, ps->lineno, col, msg));
}

static const char *
skip_space (const char *s)
{
  while (*s == ' ' || *s == '\t')
    s++;
  return s;
}

static const char *
word_end (const char *s)
{
  while (*s != '\0' && *s != ' ' && *s != '\t')
    s++;
  return s;
}

/* The end of the rule being read: a rule must say what it matches. */
static void
finish_rule (parser_t *ps)
{
  rule_t *r = ps->current;
  ps->current = NULL;
  if (r == NULL || r->conds->len > 0)
    return;
  /* Only when the rule had no other problem: a condition that failed to
   * compile has already been reported. */
  if (ps->problems->len == ps->current_problems)
    g_ptr_array_add (ps->problems, g_strdup_printf ("%s:%u:1: rule '%s' has no condition",
                                                    ps->path, r->line, r->name));
}

static void
parse_rule_line (parser_t *ps, const char *kw_end)
{
  finish_rule (ps);
  ps->in_bad_rule = true;
  const char *name = skip_space (kw_end);
  const char *end = word_end (name);
  if (*name == '\0')
    {
      problem (ps, name, "rule needs a name");
      return;
    }
  if (!pd_valid_name (name, (gsize) (end - name)))
    {
      problem (ps, name, "bad rule name '%.*s' (letters, digits, '-', '_' and '.', starting with a letter or digit)",
               (int) (end - name), name);
      return;
    }
  const char *rest = skip_space (end);
  if (*rest != '\0')
    {
      problem (ps, rest, "unexpected text after the rule name");
      return;
    }
  g_autofree char *key = g_strndup (name, (gsize) (end - name));
  const char *first = g_hash_table_lookup (ps->names, key);
  if (first != NULL)
    {
      problem (ps, name, "duplicate rule name '%s' (first defined at %s)", key, first);
      return;
    }
  g_hash_table_insert (ps->names, g_strdup (key), g_strdup_printf ("%s:%u", ps->path, ps->lineno));
  rule_t *r = g_new0 (rule_t, 1);
  r->name = g_steal_pointer (&key);
  r->file = g_strdup (ps->file);
  r->line = ps->lineno;
  r->conds = g_ptr_array_new_with_free_func ((GDestroyNotify) cond_free);
  r->tags = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (ps->rules, r);
  ps->current = r;
  ps->current_problems = ps->problems->len;
  ps->in_bad_rule = false;
}

/* Turns a plain phrase into a pattern: special characters escaped, any run
 * of white space matching any white space, and word boundaries at the ends
 * that are word characters, so "down" never matches inside "download". */
static char *
phrase_to_pattern (const char *phrase, gsize len)
{
  GString *re = g_string_new (NULL);
  const char *end = phrase + len;
  gunichar first = g_utf8_get_char (phrase);
  gunichar last = g_utf8_get_char (g_utf8_find_prev_char (phrase, end));
  if (g_unichar_isalnum (first) || first == '_')
    g_string_append (re, "\\b");
  for (const char *p = phrase; p < end;)
    {
      if (*p == ' ' || *p == '\t')
        {
          g_string_append (re, "\\s+");
          while (p < end && (*p == ' ' || *p == '\t'))
            p++;
          continue;
        }
      const char *next = g_utf8_next_char (p);
      if ((guchar) *p < 0x80 && !g_ascii_isalnum (*p) && *p != '_')
        g_string_append_c (re, '\\');
      g_string_append_len (re, p, next - p);
      p = next;
    }
  if (g_unichar_isalnum (last) || last == '_')
    g_string_append (re, "\\b");
  return g_string_free (re, FALSE);
}

static guint
literal_id (parser_t *ps, const char *lit)
{
  gpointer id = g_hash_table_lookup (ps->literal_ids, lit);
  if (id != NULL)
    return GPOINTER_TO_UINT (id) - 1;
  char *copy = g_strdup (lit);
  g_ptr_array_add (ps->literals, copy);
  g_hash_table_insert (ps->literal_ids, copy, GUINT_TO_POINTER (ps->literals->len));
  return ps->literals->len - 1;
}

/* Compiles the pattern that runs. When the pattern allows it, it is
 * wrapped as (?C1)(?:PATTERN\E) so that the deadline callout runs at every
 * start position; the \E ends a \Q the pattern may leave open (an \E alone
 * is ignored). Patterns starting with (*VERB) or using extended mode are
 * compiled as they are: they keep the match limit, not the deadline. */
static pcre2_code *
compile_runnable (const char *pattern, uint32_t options, pcre2_code *plain)
{
  bool wrap = strncmp (pattern, "(*", 2) == 0 ? false : !(options & PCRE2_EXTENDED);
  for (const char *q = strstr (pattern, "(?"); wrap && q != NULL; q = strstr (q + 2, "(?"))
    {
      /* Inline options could switch on extended mode, where a trailing
       * comment would swallow the closing parenthesis. */
      gsize opts = strspn (q + 2, "-imnsxJU^");
      if (memchr (q + 2, 'x', opts) != NULL)
        wrap = false;
    }
  if (wrap)
    {
      g_autofree char *wrapped = g_strdup_printf ("(?C1)(?:%s\\E)", pattern);
      int code;
      PCRE2_SIZE offset;
      pcre2_code *re = pcre2_compile ((PCRE2_SPTR) wrapped, PCRE2_ZERO_TERMINATED, options, &code, &offset, NULL);
      uint32_t a = 0, b = 1;
      if (re != NULL)
        {
          pcre2_pattern_info (re, PCRE2_INFO_CAPTURECOUNT, &a);
          pcre2_pattern_info (plain, PCRE2_INFO_CAPTURECOUNT, &b);
        }
      if (re != NULL && a == b)
        {
          pcre2_code_free (plain);
          plain = re;
        }
      else
        pcre2_code_free (re);
    }
  /* Without JIT (a hardened system refuses executable memory) PCRE2 runs
   * the interpreter under the same limits: slower, still correct. */
  int jit = pcre2_jit_compile (plain, PCRE2_JIT_COMPLETE);
  if (jit != 0)
    g_debug ("pattern /%s/ runs without JIT (PCRE2 error %d)", pattern, jit);
  return plain;
}

static void
parse_condition (parser_t *ps, const char *start, const char *tilde)
{
  bool negated = tilde > start && tilde[-1] == '!';
  const char *fields_end = negated ? tilde - 1 : tilde;
  g_autoptr (GArray) fields = g_array_new (FALSE, TRUE, sizeof (field_t));
  /* On every refusal below the fields go with the array; a good condition
   * takes them over with g_array_free (..., FALSE), which clears nothing. */
  g_array_set_clear_func (fields, field_clear);
  bool ok = true;
  for (const char *f = start; f < fields_end;)
    {
      const char *comma = memchr (f, ',', (gsize) (fields_end - f));
      const char *fend = comma != NULL ? comma : fields_end;
      const char *a = skip_space (f);
      const char *b = fend;
      while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
        b--;
      g_autofree char *name = g_strndup (a, (gsize) (b - a));
      field_t field = { 0 };
      bool known = false;
      for (gsize i = 0; i < G_N_ELEMENTS (field_names); i++)
        if (strcmp (name, field_names[i].name) == 0)
          {
            field.kind = field_names[i].kind;
            known = true;
          }
      if (!known && g_str_has_prefix (name, "header:"))
        {
          const char *h = name + 7;
          bool good = *h != '\0';
          for (const char *c = h; *c != '\0'; c++)
            if (*c <= 32 || *c >= 127 || *c == ':')
              good = false;
          if (!good)
            {
              problem (ps, a, "bad header name in '%s' (header:NAME, e.g. header:X-Priority)", name);
              ok = false;
            }
          field.kind = FIELD_HEADER;
          field.header = g_strdup (h);
          known = good;
        }
      else if (!known)
        {
          if (*name == '\0')
            problem (ps, a, "missing field name before %s", comma != NULL ? "','" : negated ? "'!~'" : "'~'");
          else
            problem (ps, a, "unknown field '%s' (expected " FIELD_LIST ")", name);
          ok = false;
        }
      if (known)
        {
          field.label = g_strdup (name);
          g_array_append_val (fields, field);
        }
      else
        g_free (field.header);
      f = comma != NULL ? comma + 1 : fields_end;
    }

  /* The pattern: /regex/flags, "a phrase", or a phrase to the end of the line. */
  const char *pat = skip_space (tilde + 1);
  g_autofree char *pattern = NULL;
  /* PCRE2_USE_OFFSET_LIMIT lets the evaluator bound where a match may
   * start (run_near_literals) without hiding the text after it. */
  uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C
                     | PCRE2_USE_OFFSET_LIMIT;
  bool regex = false;
  if (*pat == '\0')
    {
      problem (ps, pat, "missing pattern after '%s'", negated ? "!~" : "~");
      ok = false;
    }
  else if (*pat == '/')
    {
      const char *close = strrchr (pat, '/');
      if (close == pat)
        {
          problem (ps, pat, "pattern has no closing '/'");
          ok = false;
        }
      else if (close == pat + 1)
        {
          problem (ps, pat, "empty pattern");
          ok = false;
        }
      else
        {
          const char *fl = close + 1;
          for (; *fl != '\0' && *fl != ' ' && *fl != '\t'; fl++)
            switch (*fl)
              {
              case 'i':
                break;
              case 'c':
                options &= ~(uint32_t) PCRE2_CASELESS;
                break;
              case 'm':
                options |= PCRE2_MULTILINE;
                break;
              case 's':
                options |= PCRE2_DOTALL;
                break;
              case 'x':
                options |= PCRE2_EXTENDED;
                break;
              default:
                problem (ps, fl, "unknown pattern flag '%.*s' (expected c, i, m, s or x)",
                         (int) (g_utf8_next_char (fl) - fl), fl);
                ok = false;
                fl = g_utf8_next_char (fl) - 1;
              }
          if (*skip_space (fl) != '\0')
            {
              problem (ps, skip_space (fl), "unexpected text after the pattern");
              ok = false;
            }
          pattern = g_strndup (pat + 1, (gsize) (close - pat - 1));
          regex = true;
        }
    }
  else
    {
      const char *phrase = pat, *phrase_end;
      if (*pat == '"')
        {
          phrase = pat + 1;
          phrase_end = strchr (phrase, '"');
          if (phrase_end == NULL)
            {
              problem (ps, pat, "phrase has no closing '\"'");
              return;
            }
          if (*skip_space (phrase_end + 1) != '\0')
            {
              problem (ps, skip_space (phrase_end + 1), "unexpected text after the phrase");
              ok = false;
            }
        }
      else
        {
          phrase_end = phrase + strlen (phrase);
          while (phrase_end > phrase && (phrase_end[-1] == ' ' || phrase_end[-1] == '\t'))
            phrase_end--;
        }
      const char *trimmed = skip_space (phrase);
      const char *te = phrase_end;
      while (te > trimmed && (te[-1] == ' ' || te[-1] == '\t'))
        te--;
      if (te == trimmed)
        {
          problem (ps, pat, "empty phrase");
          return;
        }
      pattern = phrase_to_pattern (trimmed, (gsize) (te - trimmed));
    }
  if (pattern == NULL)
    return;

  /* Compiled even when the fields had problems, so that one run reports
   * every problem of the line. */
  int code;
  PCRE2_SIZE offset;
  pcre2_code *plain = pcre2_compile ((PCRE2_SPTR) pattern, PCRE2_ZERO_TERMINATED, options, &code, &offset, NULL);
  if (plain == NULL)
    {
      PCRE2_UCHAR text[256];
      pcre2_get_error_message (code, text, sizeof text);
      /* The offset counts bytes of the pattern; the column counts
       * characters of the line. A phrase is reported at its start. */
      const char *at = pat;
      if (regex)
        {
          gsize off = MIN ((gsize) offset, strlen (pattern));
          at = pat + 1 + off;
          while (at > pat + 1 && ((guchar) *at & 0xC0) == 0x80)
            at--;
        }
      problem (ps, at, "bad pattern: %s", (const char *) text);
      return;
    }
  if (!ok || ps->current == NULL)
    {
      if (ok && !ps->in_bad_rule)
        problem (ps, start, "condition outside a rule (start one with 'rule NAME')");
      pcre2_code_free (plain);
      return;
    }
  if (fields->len == 0)
    {
      problem (ps, start, "missing field name before '%s'", negated ? "!~" : "~");
      pcre2_code_free (plain);
      return;
    }

  cond_t *c = g_new0 (cond_t, 1);
  c->negated = negated;
  c->n_fields = fields->len;
  c->fields = (field_t *) g_array_free (g_steal_pointer (&fields), FALSE);
  GString *label = g_string_new (NULL);
  for (guint i = 0; i < c->n_fields; i++)
    g_string_append_printf (label, "%s%s", i > 0 ? ", " : "", c->fields[i].label);
  c->label = g_string_free (label, FALSE);
  GPtrArray *sets = required_literals (pattern, (options & PCRE2_EXTENDED) != 0);
  if (sets != NULL)
    {
      g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (guint));
      c->n_sets = sets->len;
      c->set_ends = g_new (guint, sets->len);
      c->set_prefix = g_new (guint, sets->len);
      for (guint k = 0; k < sets->len; k++)
        {
          const lset_t *set = sets->pdata[k];
          for (guint i = 0; i < set->lits->len; i++)
            {
              guint id = literal_id (ps, set->lits->pdata[i]);
              g_array_append_val (ids, id);
            }
          c->set_ends[k] = ids->len;
          c->set_prefix[k] = set->prefix;
        }
      c->literals = (guint *) g_array_free (g_steal_pointer (&ids), FALSE);
      sets_free (sets);
    }
  c->code = compile_runnable (pattern, options, plain);
  g_ptr_array_add (ps->current->conds, c);
}

static void
parse_action (parser_t *ps, const char *kw, const char *kw_end)
{
  gsize kwlen = (gsize) (kw_end - kw);
  const char *arg = skip_space (kw_end);
  rule_t *r = ps->current;
#define KW(s) (kwlen == strlen (s) && strncmp (kw, s, kwlen) == 0)
  if (!(KW ("severity") || KW ("tag") || KW ("no-ack") || KW ("auto-reply") || KW ("stop") || KW ("match")))
    {
      for (gsize i = 0; i < G_N_ELEMENTS (field_names); i++)
        if (KW (field_names[i].name) || (kwlen > 7 && strncmp (kw, "header:", 7) == 0)
            || (kwlen > 0 && kw[kwlen - 1] == ','))
          {
            problem (ps, arg, "expected '~' or '!~' and a pattern after the field");
            return;
          }
      problem (ps, kw, "unknown action '%.*s' (expected severity, tag, no-ack, auto-reply, stop or match, "
               "or a condition FIELD ~ PATTERN)", (int) kwlen, kw);
      return;
    }
  if (r == NULL && ps->in_bad_rule)
    return;
  if (r == NULL)
    {
      problem (ps, kw, "'%.*s' outside a rule (start one with 'rule NAME')", (int) kwlen, kw);
      return;
    }
  if (KW ("severity"))
    {
      const char *end = word_end (arg);
      if (*arg == '\0')
        problem (ps, arg, "severity needs a value: 1 or 2");
      else if ((end - arg) != 1 || (*arg != '1' && *arg != '2'))
        problem (ps, arg, "severity out of range: '%.*s' (expected 1 or 2)", (int) (end - arg), arg);
      else if (*skip_space (end) != '\0')
        problem (ps, skip_space (end), "unexpected text after the severity");
      else if (r->severity != 0)
        problem (ps, kw, "severity given twice in rule '%s'", r->name);
      else
        r->severity = *arg - '0';
    }
  else if (KW ("tag"))
    {
      if (*arg == '\0')
        problem (ps, arg, "tag needs a word");
      for (const char *t = arg; *t != '\0'; t = skip_space (word_end (t)))
        {
          const char *end = word_end (t);
          if (!pd_valid_name (t, (gsize) (end - t)))
            {
              problem (ps, t, "bad tag '%.*s' (letters, digits, '-', '_' and '.')", (int) (end - t), t);
              continue;
            }
          g_autofree char *tag = g_ascii_strdown (t, end - t);
          bool seen = false;
          for (guint i = 0; i < r->tags->len; i++)
            seen = seen || strcmp (r->tags->pdata[i], tag) == 0;
          if (!seen)
            g_ptr_array_add (r->tags, g_steal_pointer (&tag));
        }
    }
  else if (KW ("match"))
    {
      const char *end = word_end (arg);
      if ((end - arg) == 3 && strncmp (arg, "all", 3) == 0)
        r->any = false;
      else if ((end - arg) == 3 && strncmp (arg, "any", 3) == 0)
        r->any = true;
      else
        {
          problem (ps, arg, "match must be 'all' or 'any'");
          return;
        }
      if (*skip_space (end) != '\0')
        problem (ps, skip_space (end), "unexpected text after 'match %.*s'", (int) (end - arg), arg);
    }
  else if (*arg != '\0')
    problem (ps, arg, "'%.*s' takes no argument", (int) kwlen, kw);
  else if (KW ("no-ack"))
    r->no_ack = true;
  else if (KW ("auto-reply"))
    r->auto_reply = true;
  else
    r->stop = true;
#undef KW
}

static void
parse_text (parser_t *ps, const char *path, const char *file, const char *text)
{
  ps->path = path;
  ps->file = file;
  ps->current = NULL;
  ps->in_bad_rule = false;
  ps->lineno = 0;
  const char *bad;
  if (!g_utf8_validate (text, -1, &bad))
    {
      guint line = 1;
      const char *line_start = text;
      for (const char *p = text; p < bad; p++)
        if (*p == '\n')
          {
            line++;
            line_start = p + 1;
          }
      g_ptr_array_add (ps->problems, g_strdup_printf ("%s:%u:%ld: not valid UTF-8", path, line,
                                                      g_utf8_pointer_to_offset (line_start, bad) + 1));
      return;
    }
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (guint n = 0; lines[n] != NULL; n++)
    {
      char *l = lines[n];
      gsize len = strlen (l);
      if (len > 0 && l[len - 1] == '\r')
        l[len - 1] = '\0';
      ps->lineno = n + 1;
      ps->line = l;
      const char *s = skip_space (l);
      if (*s == '\0' || *s == '#')
        continue;
      const char *kw_end = word_end (s);
      if ((kw_end - s) == 4 && strncmp (s, "rule", 4) == 0)
        {
          parse_rule_line (ps, kw_end);
          continue;
        }
      /* A line is a condition when it has a '~' and does not start with an
       * action keyword (a tag cannot contain '~' anyway). */
      const char *tilde = strchr (s, '~');
      bool action_kw = false;
      static const char *const actions[] = { "severity", "tag", "no-ack", "auto-reply", "stop", "match" };
      for (gsize i = 0; i < G_N_ELEMENTS (actions); i++)
        action_kw = action_kw || ((gsize) (kw_end - s) == strlen (actions[i]) && strncmp (s, actions[i], kw_end - s) == 0);
      if (tilde != NULL && !action_kw)
        parse_condition (ps, s, tilde);
      else
        parse_action (ps, s, kw_end);
    }
  finish_rule (ps);
}

static void
parser_init (parser_t *ps)
{
  memset (ps, 0, sizeof *ps);
  ps->problems = g_ptr_array_new_with_free_func (g_free);
  ps->names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  ps->rules = g_ptr_array_new_with_free_func ((GDestroyNotify) rule_free);
  ps->literals = g_ptr_array_new_with_free_func (g_free);
  ps->literal_ids = g_hash_table_new (g_str_hash, g_str_equal);
}

/* Turns the parser into a rule set, or into one error listing every
 * problem. Consumes the parser either way. */
static bool
parser_finish (parser_t *ps, pd_rules_t **out, GError **err)
{
  bool ok = ps->problems->len == 0;
  if (!ok)
    {
      g_ptr_array_add (ps->problems, NULL);
      g_autofree char *all = g_strjoinv ("\n", (char **) ps->problems->pdata);
      g_set_error_literal (err, PD_ERROR, PD_ERROR_PARSE, all);
      g_ptr_array_unref (ps->rules);
      g_ptr_array_unref (ps->literals);
    }
  else
    {
      pd_rules_t *rules = g_new0 (pd_rules_t, 1);
      rules->rules = ps->rules;
      rules->literals = ps->literals;
      rules->literal_len = g_new (guint, MAX (rules->literals->len, 1));
      for (guint i = 0; i < rules->literals->len; i++)
        rules->literal_len[i] = (guint) strlen (rules->literals->pdata[i]);
      rules->ac = ac_build (rules->literals);
      *out = rules;
    }
  g_ptr_array_unref (ps->problems);
  g_hash_table_unref (ps->names);
  g_hash_table_unref (ps->literal_ids);
  return ok;
}

bool
pd_rules_load_string (const char *name, const char *text, pd_rules_t **out, GError **err)
{
  *out = NULL;
  parser_t ps;
  parser_init (&ps);
  parse_text (&ps, name, name, text);
  return parser_finish (&ps, out, err);
}

bool
pd_rules_load (const char *dir, pd_rules_t **out, GError **err)
{
  *out = NULL;
  GError *local = NULL;
  g_autoptr (GPtrArray) names = pd_dir_names (dir, ".rules", "rules", err);
  if (names == NULL)
    return false;
  if (names->len == 0)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_PARSE, "%s: no *.rules files: postdesk needs at least one "
                   "(an empty file means no rules, so every ticket is Severity 2)", dir);
      return false;
    }
  parser_t ps;
  parser_init (&ps);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *path = g_build_filename (dir, names->pdata[i], NULL);
      g_autofree char *text = NULL;
      gsize len = 0;
      if (!g_file_get_contents (path, &text, &len, &local))
        {
          g_ptr_array_add (ps.problems, g_strdup_printf ("%s:1:1: cannot read: %s", path, local->message));
          g_clear_error (&local);
          continue;
        }
      if (memchr (text, '\0', len) != NULL)
        {
          g_ptr_array_add (ps.problems, g_strdup_printf ("%s:1:1: a NUL byte: not a text file", path));
          continue;
        }
      parse_text (&ps, path, names->pdata[i], text);
    }
  return parser_finish (&ps, out, err);
}

/* ------------------------------------------------------------------------ */
/* Per-thread matching state                                                */

/* Where the literals of one field (subject or body) occur: the scan's
 * occurrences grouped by literal, so that a pattern can look up the
 * occurrences of its own literals. Kept per thread and reused for every
 * message: classifying allocates nothing here once the arrays have grown. */
typedef struct {
  GArray *occ;        /* owned, of occ_t: every occurrence, in text order */
  guint32 *first;     /* owned, n_first entries: the occurrences of literal
                         id are ends[first[id] .. first[id + 1]) */
  guint n_first;
  guint32 *ends;      /* owned, n_ends room: occurrence ends, grouped by
                         literal, each group in text order */
  guint n_ends;
  bool folded;        /* the scan folded a multi-byte character */
} lindex_t;

/* A stretch of the text where a match may start: [start, limit]. */
typedef struct {
  gsize start;
  gsize limit;
} window_t;

typedef struct {
  pcre2_match_context *mctx;  /* owned */
  pcre2_jit_stack *jit;       /* owned */
  pcre2_match_data *md;       /* owned: room for the whole match only */
  guint callouts;             /* start positions seen in the current match */
  gint64 cpu_start;           /* thread CPU ns when the callout started watching */
  lindex_t index[2];          /* owned contents: subject's and body's literals */
  GArray *windows;            /* owned, of window_t: reused by run_near_literals */
} scratch_t;

static gint64
thread_cpu_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Runs at every start position of a wrapped pattern. Reading the clock
 * costs a system call, so it is read only every CALLOUT_CLOCK_EVERY calls,
 * and the deadline counts from the first reading: a match that ends
 * within 64 start positions never pays for the clock. CPU time, not wall
 * time, so a busy machine never cuts off a sane pattern. */
static int
deadline_callout (pcre2_callout_block *block, void *data)
{
  (void) block;
  scratch_t *s = data;
  if (++s->callouts % CALLOUT_CLOCK_EVERY != 0)
    return 0;
  gint64 now = thread_cpu_ns ();
  if (s->callouts == CALLOUT_CLOCK_EVERY)
    s->cpu_start = now;
  else if (now - s->cpu_start > MATCH_DEADLINE_NS)
    return PCRE2_ERROR_MATCHLIMIT;
  return 0;
}

static void
scratch_free (gpointer p)
{
  scratch_t *s = p;
  if (s == NULL)
    return;
  for (int k = 0; k < 2; k++)
    {
      g_array_unref (s->index[k].occ);
      g_free (s->index[k].first);
      g_free (s->index[k].ends);
    }
  g_array_unref (s->windows);
  pcre2_match_data_free (s->md);
  pcre2_jit_stack_free (s->jit);
  pcre2_match_context_free (s->mctx);
  g_free (s);
}

static GPrivate scratch_key = G_PRIVATE_INIT (scratch_free);

static scratch_t *
scratch_get (void)
{
  scratch_t *s = g_private_get (&scratch_key);
  if (s != NULL)
    return s;
  s = g_new0 (scratch_t, 1);
  s->mctx = pcre2_match_context_create (NULL);
  pcre2_set_match_limit (s->mctx, PD_RULES_MATCH_LIMIT);
  pcre2_set_depth_limit (s->mctx, PD_RULES_MATCH_LIMIT);
  pcre2_set_heap_limit (s->mctx, 16 * 1024);
  /* 32 KiB to start, 512 KiB at most: deep enough for any sane pattern over
   * 64 KiB; a deeper one stops with JIT_STACKLIMIT, counted as cut off. */
  s->jit = pcre2_jit_stack_create (32 * 1024, 512 * 1024, NULL);
  if (s->jit != NULL)
    pcre2_jit_stack_assign (s->mctx, NULL, s->jit);
  pcre2_set_callout (s->mctx, deadline_callout, s);
  s->md = pcre2_match_data_create (1, NULL);
  for (int k = 0; k < 2; k++)
    s->index[k].occ = g_array_new (FALSE, FALSE, sizeof (occ_t));
  s->windows = g_array_new (FALSE, FALSE, sizeof (window_t));
  g_private_set (&scratch_key, s);
  return s;
}

/* ------------------------------------------------------------------------ */
/* Classification                                                           */

/* What a window costs beyond the positions it covers, in bytes of text
 * scanned: one pcre2_match call. Windows closer than this are merged, and
 * a set whose occurrences would cost more than the whole text is not used
 * (measured with rules-bench; the exact value matters little). */
#define WINDOW_CALL_BYTES 64

/* A message's subject and body as the rules see them: bounded, and with
 * the literal index built on first use. */
typedef struct {
  const char *text;  /* borrowed from the message; NULL when the message has none */
  gsize len;         /* bounded by PD_RULES_MAX_FIELD_BYTES */
  bool measured;     /* 'len' is known */
  bool scanned;      /* the thread's index[] describes this text */
} text_field_t;

typedef struct {
  const pd_rules_t *rules;   /* borrowed */
  const pd_message_t *msg;   /* borrowed */
  scratch_t *scratch;        /* borrowed: the thread's */
  text_field_t text[2];      /* subject and body */
  bool profiling;
  gint64 scan_ns;            /* while profiling: time spent scanning for
                                literals, which is not any one rule's cost */
} eval_t;

typedef enum { M_NO, M_YES, M_CUT } mresult_t;

/* The first PD_RULES_MAX_FIELD_BYTES of 'text', cut at a character. */
static gsize
bounded_len (const char *text)
{
  gsize len = strnlen (text, PD_RULES_MAX_FIELD_BYTES + 1);
  if (len <= PD_RULES_MAX_FIELD_BYTES)
    return len;
  len = PD_RULES_MAX_FIELD_BYTES;
  while (len > 0 && ((guchar) text[len] & 0xC0) == 0x80)
    len--;
  return len;
}

static GMutex warned_lock;
static GHashTable *warned_names;  /* owned, of char*: rules already logged; lives for the process */

static void
warn_cut_off (const rule_t *r, int rc)
{
  g_mutex_lock (&warned_lock);
  if (warned_names == NULL)
    warned_names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  bool first = g_hash_table_add (warned_names, g_strdup (r->name));
  g_mutex_unlock (&warned_lock);
  if (!first)
    return;
  PCRE2_UCHAR text[128];
  pcre2_get_error_message (rc, text, sizeof text);
  g_warning ("rule %s (%s:%u): a match was stopped (%s) and counts as not matching; "
             "the pattern backtracks too much, simplify it (logged once per rule)",
             r->name, r->file, r->line, (const char *) text);
}

/* Runs one pattern on one text, trying start positions from 'start' up to
 * and including 'limit' (PCRE2_UNSET: to the end). The text before 'start'
 * and after 'limit' is still seen by \b and lookaround. */
static mresult_t
run (eval_t *ev, const rule_t *r, const cond_t *c, const char *text, gsize len, gsize start, gsize limit,
     gsize *mstart, gsize *mend)
{
  scratch_t *s = ev->scratch;
  pcre2_set_offset_limit (s->mctx, limit);
  int rc = pcre2_match (c->code, (PCRE2_SPTR) text, len, start, 0, s->md, s->mctx);
  if (rc >= 0)
    {
      PCRE2_SIZE *ov = pcre2_get_ovector_pointer (s->md);
      *mstart = ov[0];
      *mend = MAX (ov[0], ov[1]);
      return M_YES;
    }
  if (rc == PCRE2_ERROR_NOMATCH)
    return M_NO;
  warn_cut_off (r, rc);
  return M_CUT;
}

static gint64 monotonic_ns (void);

/* The thread's literal index of subject (0) or body (1), built on first use. */
static const lindex_t *
literal_index (eval_t *ev, int which)
{
  lindex_t *ix = &ev->scratch->index[which];
  text_field_t *tf = &ev->text[which];
  if (tf->scanned)
    return ix;
  tf->scanned = true;
  gint64 t0 = ev->profiling ? monotonic_ns () : 0;
  guint n = ev->rules->literals->len;
  g_array_set_size (ix->occ, 0);
  ix->folded = ac_scan (ev->rules->ac, (const guint8 *) tf->text, tf->len, ix->occ);
  /* A counting sort by literal id; each literal's occurrences stay in
   * text order. first[id + 1] counts first, then becomes an end. */
  if (ix->n_first < n + 1)
    {
      ix->n_first = n + 1;
      ix->first = g_renew (guint32, ix->first, ix->n_first);
    }
  if (ix->n_ends < ix->occ->len)
    {
      ix->n_ends = MAX (ix->occ->len, 2 * ix->n_ends);
      ix->ends = g_renew (guint32, ix->ends, ix->n_ends);
    }
  memset (ix->first, 0, (n + 1) * sizeof *ix->first);
  const occ_t *occ = (const occ_t *) (gpointer) ix->occ->data;
  for (guint k = 0; k < ix->occ->len; k++)
    ix->first[occ[k].id + 1]++;
  for (guint id = 0; id < n; id++)
    ix->first[id + 1] += ix->first[id];
  /* Filling moves first[id] to the end of id's group, which is the start
   * of id + 1's: shifted back afterwards. */
  for (guint k = 0; k < ix->occ->len; k++)
    ix->ends[ix->first[occ[k].id]++] = occ[k].end;
  for (guint id = n; id > 0; id--)
    ix->first[id] = ix->first[id - 1];
  ix->first[0] = 0;
  if (ev->profiling)
    ev->scan_ns += monotonic_ns () - t0;
  return ix;
}

static guint
occurrences (const lindex_t *ix, guint id)
{
  return ix->first[id + 1] - ix->first[id];
}

/* True when the prefilter allows the pattern to match the text: every
 * literal set has a literal in it. */
static bool
prefilter (const lindex_t *ix, const cond_t *c)
{
  guint i = 0;
  for (guint k = 0; k < c->n_sets; k++)
    {
      bool met = false;
      for (; i < c->set_ends[k]; i++)
        met = met || occurrences (ix, c->literals[i]) > 0;
      if (!met)
        return false;
    }
  return true;
}

static int
compare_windows (gconstpointer a, gconstpointer b)
{
  const window_t *x = a, *y = b;
  return x->start < y->start ? -1 : x->start > y->start;
}

/* Runs a prefiltered pattern only where a match can start: within
 * 'prefix' characters (at most 4 bytes each) before an occurrence of one
 * of the literals of the cheapest set with a bounded prefix. A match
 * contains such an occurrence, so no match starts elsewhere; the windows
 * are tried left to right, so the first match found is the leftmost one,
 * the same that one search over the whole text finds. Without a bounded
 * set the whole text is searched. */
static mresult_t
run_near_literals (eval_t *ev, const rule_t *r, const cond_t *c, const lindex_t *ix, const char *text,
                   gsize len, gsize *mstart, gsize *mend)
{
  const guint *literal_len = ev->rules->literal_len;
  guint best = G_MAXUINT;
  gsize best_cost = len;
  guint i = 0;
  for (guint k = 0; k < c->n_sets; k++)
    {
      gsize cost = 0;
      for (; i < c->set_ends[k]; i++)
        cost += occurrences (ix, c->literals[i]) * (WINDOW_CALL_BYTES + 4 * (gsize) c->set_prefix[k]);
      if (c->set_prefix[k] != UNBOUNDED && cost < best_cost)
        {
          best = k;
          best_cost = cost;
        }
    }
  if (best == G_MAXUINT)
    return run (ev, r, c, text, len, 0, PCRE2_UNSET, mstart, mend);

  GArray *windows = ev->scratch->windows;
  g_array_set_size (windows, 0);
  gsize back = 4 * (gsize) c->set_prefix[best];
  for (guint k = best > 0 ? c->set_ends[best - 1] : 0; k < c->set_ends[best]; k++)
    {
      guint id = c->literals[k];
      /* A folded KELVIN SIGN is 3 bytes for the literal's 1. */
      gsize lit = (gsize) literal_len[id] * (ix->folded ? 3 : 1);
      for (guint e = ix->first[id]; e < ix->first[id + 1]; e++)
        {
          gsize at = ix->ends[e] > lit ? ix->ends[e] - lit : 0;
          window_t w = { at > back ? at - back : 0, at };
          /* A start inside a character is moved back to its first byte. */
          while (w.start > 0 && ((guchar) text[w.start] & 0xC0) == 0x80)
            w.start--;
          g_array_append_val (windows, w);
        }
    }
  if (c->set_ends[best] - (best > 0 ? c->set_ends[best - 1] : 0) > 1)
    g_array_sort (windows, compare_windows);

  mresult_t m = M_NO;
  const window_t *w = (const window_t *) (gpointer) windows->data;
  for (guint k = 0; k < windows->len && m == M_NO;)
    {
      window_t merged = w[k++];
      for (; k < windows->len && w[k].start <= merged.limit + WINDOW_CALL_BYTES; k++)
        merged.limit = MAX (merged.limit, w[k].limit);
      m = run (ev, r, c, text, len, merged.start, merged.limit, mstart, mend);
    }
  return m;
}

/* Tries one text of a field; on a match fills 'where' and 'what'. 'which'
 * is 0 for the subject, 1 for the body (prefiltered), -1 for the others. */
static mresult_t
try_text (eval_t *ev, const rule_t *r, const cond_t *c, const field_t *f, const char *text,
          int which, const char **where, char **what)
{
  gsize len;
  if (which >= 0)
    {
      text_field_t *tf = &ev->text[which];
      if (!tf->measured)
        {
          tf->len = tf->text != NULL ? bounded_len (tf->text) : 0;
          tf->measured = true;
        }
      text = tf->text;
      len = tf->len;
    }
  if (text == NULL)
    return M_NO;
  if (which < 0)
    len = bounded_len (text);
  gsize a, b;
  mresult_t m;
  /* The deadline counts start positions over all the windows of one text. */
  ev->scratch->callouts = 0;
  if (which >= 0 && c->literals != NULL && ev->rules->ac != NULL)
    {
      const lindex_t *ix = literal_index (ev, which);
      if (!prefilter (ix, c))
        return M_NO;
      m = run_near_literals (ev, r, c, ix, text, len, &a, &b);
    }
  else
    m = run (ev, r, c, text, len, 0, PCRE2_UNSET, &a, &b);
  if (m == M_YES)
    {
      gsize n = MIN (b - a, (gsize) PD_RULES_MAX_MATCH_BYTES);
      while (n > 0 && n < b - a && ((guchar) text[a + n] & 0xC0) == 0x80)
        n--;
      *where = f->label;
      *what = g_utf8_make_valid (text + a, (gssize) n);
      /* Line breaks and tabs become spaces: the text is shown on one line. */
      for (char *q = *what; *q != '\0'; q++)
        if (*q == '\n' || *q == '\r' || *q == '\t')
          *q = ' ';
    }
  return m;
}

/* Whether any field of the condition matches (before negation). */
static mresult_t
cond_matches (eval_t *ev, const rule_t *r, const cond_t *c, const char **where, char **what)
{
  const pd_message_t *msg = ev->msg;
  for (guint i = 0; i < c->n_fields; i++)
    {
      const field_t *f = &c->fields[i];
      mresult_t m = M_NO;
      switch (f->kind)
        {
        case FIELD_SUBJECT:
          m = try_text (ev, r, c, f, msg->subject, 0, where, what);
          break;
        case FIELD_BODY:
          m = try_text (ev, r, c, f, msg->body_text, 1, where, what);
          break;
        case FIELD_FROM:
        case FIELD_FROM_ADDRESS:
        case FIELD_FROM_NAME:
          if (msg->from == NULL)
            break;
          if (f->kind != FIELD_FROM_NAME)
            m = try_text (ev, r, c, f, msg->from->address, -1, where, what);
          if (m == M_NO && f->kind != FIELD_FROM_ADDRESS)
            m = try_text (ev, r, c, f, msg->from->name, -1, where, what);
          break;
        case FIELD_HEADER:
          for (guint h = 0; m == M_NO && msg->headers != NULL && h < msg->headers->len; h++)
            {
              const pd_header_t *hd = msg->headers->pdata[h];
              if (g_ascii_strcasecmp (hd->name, f->header) == 0)
                m = try_text (ev, r, c, f, hd->value, -1, where, what);
            }
          break;
        case FIELD_ATTACHMENT_NAME:
        case FIELD_ATTACHMENT_TYPE:
          for (guint k = 0; m == M_NO && msg->attachments != NULL && k < msg->attachments->len; k++)
            {
              const pd_attachment_t *att = msg->attachments->pdata[k];
              m = try_text (ev, r, c, f, f->kind == FIELD_ATTACHMENT_NAME ? att->filename : att->mime_type,
                            -1, where, what);
            }
          break;
        case FIELD_CUSTOMER:
        case FIELD_PLAN:
          /* Reserved until customers and plans exist: nothing to match. */
          break;
        }
      if (m != M_NO)
        return m;
    }
  return M_NO;
}

/* Evaluates a rule; on a match returns the pd_rule_match_t (transfer full). */
static pd_rule_match_t *
rule_matches (eval_t *ev, const rule_t *r, bool *cut)
{
  const char *where = NULL;
  char *what = NULL;
  bool result = !r->any;
  for (guint i = 0; i < r->conds->len; i++)
    {
      const cond_t *c = r->conds->pdata[i];
      const char *w = NULL;
      char *t = NULL;
      mresult_t m = cond_matches (ev, r, c, &w, &t);
      if (m == M_CUT)
        {
          /* A stopped match decides nothing: the whole rule does not match. */
          *cut = true;
          g_free (what);
          return NULL;
        }
      bool holds = c->negated ? m == M_NO : m == M_YES;
      if (holds && what == NULL)
        {
          /* The first condition that holds explains the match. */
          where = c->negated ? c->label : w;
          what = c->negated ? g_strdup ("") : t;
          t = NULL;
        }
      g_free (t);
      if (r->any && holds)
        {
          result = true;
          break;
        }
      if (!r->any && !holds)
        {
          result = false;
          break;
        }
    }
  if (!result)
    {
      g_free (what);
      return NULL;
    }
  pd_rule_match_t *rm = g_new0 (pd_rule_match_t, 1);
  rm->name = g_strdup (r->name);
  rm->file = g_strdup (r->file);
  rm->line = r->line;
  rm->field = g_strdup (where != NULL ? where : "");
  rm->match = what != NULL ? what : g_strdup ("");
  return rm;
}

static void
rule_match_free (pd_rule_match_t *m)
{
  if (m == NULL)
    return;
  g_free (m->name);
  g_free (m->file);
  g_free (m->field);
  g_free (m->match);
  g_free (m);
}

static gint64
monotonic_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int
pd_rules_classify (const pd_rules_t *rules, const pd_message_t *msg, pd_classification_t *out)
{
  memset (out, 0, sizeof *out);
  out->severity = 2;
  out->rules = g_ptr_array_new_with_free_func ((GDestroyNotify) rule_match_free);
  out->tags = g_ptr_array_new_with_free_func (g_free);
  eval_t ev = {
    .rules = rules,
    .msg = msg,
    .scratch = scratch_get (),
    .text = { { .text = msg->subject }, { .text = msg->body_text } },
    .profiling = g_atomic_int_get (&rules->profiling) != 0,
  };
  int best = 0;
  bool profiling = ev.profiling;
  for (guint i = 0; i < rules->rules->len; i++)
    {
      rule_t *r = rules->rules->pdata[i];
      /* A rule's time leaves out the literal scan it happened to trigger. */
      gint64 t0 = profiling ? monotonic_ns () - ev.scan_ns : 0;
      bool cut = false;
      pd_rule_match_t *m = rule_matches (&ev, r, &cut);
      if (profiling)
        {
          g_atomic_pointer_add (&r->prof_ns, monotonic_ns () - ev.scan_ns - t0);
          g_atomic_pointer_add (&r->prof_evals, 1);
        }
      if (cut)
        out->cut_off++;
      if (m == NULL)
        continue;
      g_ptr_array_add (out->rules, m);
      if (r->severity != 0 && (best == 0 || r->severity < best))
        {
          best = r->severity;
          g_free (out->severity_rule);
          out->severity_rule = g_strdup (r->name);
        }
      for (guint t = 0; t < r->tags->len; t++)
        {
          bool seen = false;
          for (guint k = 0; k < out->tags->len && !seen; k++)
            seen = strcmp (out->tags->pdata[k], r->tags->pdata[t]) == 0;
          if (!seen)
            g_ptr_array_add (out->tags, g_strdup (r->tags->pdata[t]));
        }
      out->no_ack = out->no_ack || r->no_ack;
      out->auto_reply = out->auto_reply || r->auto_reply;
      if (r->stop)
        break;
    }
  if (best != 0)
    out->severity = best;
  return out->severity;
}

void
pd_classification_clear (pd_classification_t *c)
{
  if (c == NULL)
    return;
  g_free (c->severity_rule);
  if (c->rules != NULL)
    g_ptr_array_unref (c->rules);
  if (c->tags != NULL)
    g_ptr_array_unref (c->tags);
  memset (c, 0, sizeof *c);
}

JsonNode *
pd_classification_to_node (const pd_classification_t *c)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "severity");
  json_builder_add_int_value (b, c->severity);
  json_builder_set_member_name (b, "severity_rule");
  if (c->severity_rule != NULL)
    json_builder_add_string_value (b, c->severity_rule);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "rules");
  json_builder_begin_array (b);
  for (guint i = 0; c->rules != NULL && i < c->rules->len; i++)
    {
      const pd_rule_match_t *m = c->rules->pdata[i];
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, m->name);
      json_builder_set_member_name (b, "file");
      json_builder_add_string_value (b, m->file);
      json_builder_set_member_name (b, "line");
      json_builder_add_int_value (b, m->line);
      json_builder_set_member_name (b, "field");
      json_builder_add_string_value (b, m->field);
      json_builder_set_member_name (b, "match");
      json_builder_add_string_value (b, m->match);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "tags");
  json_builder_begin_array (b);
  for (guint i = 0; c->tags != NULL && i < c->tags->len; i++)
    json_builder_add_string_value (b, c->tags->pdata[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "no_ack");
  json_builder_add_boolean_value (b, c->no_ack);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

char *
pd_classification_to_json (const pd_classification_t *c)
{
  g_autoptr (JsonNode) root = pd_classification_to_node (c);
  return pd_json_to_text (root);
}

void
pd_rules_set_profiling (pd_rules_t *rules, bool on)
{
  g_atomic_int_set (&rules->profiling, on ? 1 : 0);
}

const char *
pd_rules_slowest (const pd_rules_t *rules, guint64 *ns, guint64 *evaluations)
{
  const rule_t *slowest = NULL;
  for (guint i = 0; i < rules->rules->len; i++)
    {
      const rule_t *r = rules->rules->pdata[i];
      if (r->prof_evals > 0 && (slowest == NULL || r->prof_ns > slowest->prof_ns))
        slowest = r;
    }
  *ns = slowest != NULL ? (guint64) slowest->prof_ns : 0;
  *evaluations = slowest != NULL ? (guint64) slowest->prof_evals : 0;
  return slowest != NULL ? slowest->name : NULL;
}
