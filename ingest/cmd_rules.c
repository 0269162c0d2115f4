/* cmd_rules.c - postdesk rules check [DIR] and postdesk rules test: an
 * admin's edited rules checked before they bite, and tried on mail without
 * storing anything. */
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

#include "postdesk/cmd.h"
#include "postdesk/mime.h"
#include "postdesk/output.h"
#include "postdesk/rules.h"
#include "postdesk/source.h"

/* Loads the rules, printing every problem on failure (one per line, as
 * "file:line:column: message"). */
static pd_rules_t *
load_rules (const char *dir, guint *problems)
{
  GError *err = NULL;
  pd_rules_t *rules = NULL;
  *problems = 0;
  if (pd_rules_load (dir, &rules, &err))
    return rules;
  g_auto (GStrv) lines = g_strsplit (err->message, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    fprintf (stderr, "%s\n", lines[i]);
  *problems = g_strv_length (lines);
  g_error_free (err);
  return NULL;
}

static int
rules_check (const pd_global_t *g, int argc, char **argv)
{
  int status;
  if (!pd_cmd_parse_options ("rules check", "[DIR]",
                             "Reads every *.rules file in DIR (default: the configured rules\n"
                             "folder) and reports each problem as file:line:column: message.\n"
                             "Exit status 1 when there is any problem.",
                             NULL, &argc, &argv, &status))
    return status;
  if (argc > 2)
    {
      fprintf (stderr, "postdesk rules check: give at most one folder\n");
      return 2;
    }
  g_autofree char *dir = pd_cmd_folder (g, argc == 2 ? argv[1] : NULL, PD_CMD_FOLDER_RULES, &status);
  if (dir == NULL)
    return status;
  guint problems;
  g_autoptr (pd_rules_t) rules = load_rules (dir, &problems);
  if (rules == NULL)
    {
      fprintf (stderr, "postdesk rules check: %u problem%s in %s; nothing would be applied\n",
               problems, problems == 1 ? "" : "s", dir);
      return 1;
    }
  guint n = pd_rules_count (rules);
  printf ("%s: %u rule%s, no problems\n", dir, n, n == 1 ? "" : "s");
  return 0;
}

typedef struct {
  const pd_rules_t *rules;  /* borrowed */
  bool json;
  bool expect;
  JsonArray *out;           /* owned: the JSON results, when json */
  guint confusion[2][2];    /* [expected - 1][classified - 1] */
  guint no_expectation;
  guint unreadable;
  guint mismatches;
  guint count;
} test_ctx_t;

static void
print_explanation (const char *origin, const pd_classification_t *c)
{
  printf ("%s: severity %d%s\n", origin, c->severity,
          c->severity_rule == NULL ? " (no rule sets one: the default)" : "");
  for (guint i = 0; i < c->rules->len; i++)
    {
      const pd_rule_match_t *m = c->rules->pdata[i];
      if (m->match[0] != '\0')
        printf ("  %s (%s:%u) matched %s: \"%s\"\n", m->name, m->file, m->line, m->field, m->match);
      else
        printf ("  %s (%s:%u) matched: no %s match\n", m->name, m->file, m->line, m->field);
    }
  if (c->tags->len > 0)
    {
      printf ("  tags:");
      for (guint i = 0; i < c->tags->len; i++)
        printf (" %s", (const char *) c->tags->pdata[i]);
      printf ("\n");
    }
  if (c->no_ack)
    printf ("  no acknowledgement\n");
  if (c->cut_off > 0)
    printf ("  %u match%s stopped at the match limit (see the warning)\n", c->cut_off,
            c->cut_off == 1 ? "" : "es");
}

/* The contract of `rules test --json`: exactly these keys, the file first;
 * the rest is the classification as ticket events record it. */
static JsonNode *
result_json (const char *origin, const pd_classification_t *c)
{
  g_autoptr (JsonNode) full = pd_classification_to_node (c);
  JsonObject *from = json_node_get_object (full);
  g_autoptr (JsonObject) obj = json_object_new ();
  json_object_set_string_member (obj, "file", origin);
  static const char *const keys[] = { "severity", "rules", "tags", "no_ack" };
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    json_object_set_member (obj, keys[i], json_node_copy (json_object_get_member (from, keys[i])));
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);
  json_node_set_object (node, obj);
  return node;
}

/* Messages read for a test, at most: the default max_message_bytes. */
#define TEST_MAX_MESSAGE_BYTES (25 * 1024 * 1024)

static bool
test_one (const char *raw, gsize len, gint64 true_size, const char *origin, pd_time_t received,
          gpointer data, GError **err)
{
  (void) err;
  (void) received;
  /* A message larger than the limit arrives as its first bytes; the rules
   * see at most the first PD_RULES_MAX_FIELD_BYTES of any field anyway. */
  (void) true_size;
  test_ctx_t *ctx = data;
  ctx->count++;
  GError *perr = NULL;
  g_autoptr (pd_message_t) msg = pd_mime_parse (raw, len, 0, &perr);
  if (msg == NULL)
    {
      fprintf (stderr, "postdesk rules test: %s: %s\n", origin, perr->message);
      g_error_free (perr);
      ctx->unreadable++;
      return true;
    }
  pd_classification_t c;
  pd_rules_classify (ctx->rules, msg, &c);
  if (ctx->json)
    json_array_add_element (ctx->out, result_json (origin, &c));
  if (ctx->expect)
    {
      const char *want = pd_message_header (msg, "X-Expected-Severity");
      g_autofree char *w = want != NULL ? g_strstrip (g_strdup (want)) : NULL;
      if (w == NULL || (strcmp (w, "1") != 0 && strcmp (w, "2") != 0))
        {
          fprintf (stderr, "postdesk rules test: %s: no X-Expected-Severity: 1 or 2 header\n", origin);
          ctx->no_expectation++;
        }
      else
        {
          int expected = w[0] - '0';
          ctx->confusion[expected - 1][c.severity - 1]++;
          if (expected != c.severity)
            {
              ctx->mismatches++;
              if (!ctx->json)
                {
                  printf ("MISMATCH: expected severity %d\n", expected);
                  print_explanation (origin, &c);
                }
            }
        }
    }
  else if (!ctx->json)
    print_explanation (origin, &c);
  pd_classification_clear (&c);
  return true;
}

static int
rules_test (const pd_global_t *g, int argc, char **argv)
{
  gboolean json = FALSE, expect = FALSE;
  g_autofree char *dir_opt = NULL;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "print a JSON array, one object per message", NULL },
    { "expect", 0, 0, G_OPTION_ARG_NONE, &expect,
      "compare with each message's X-Expected-Severity header; print a confusion table", NULL },
    { "rules", 0, 0, G_OPTION_ARG_FILENAME, &dir_opt, "the rules folder (default: the configured one)", "DIR" },
    G_OPTION_ENTRY_NULL,
  };
  int status;
  if (!pd_cmd_parse_options ("rules test", "FILE|DIR...",
                             "Classifies messages with the rules and explains the result: the\n"
                             "severity, and each rule that matched with the field and the text.\n"
                             "Nothing is stored. A DIR is a Maildir or a folder of message files;\n"
                             "a FILE is one message or an mbox.",
                             entries, &argc, &argv, &status))
    return status;
  if (argc < 2)
    {
      fprintf (stderr, "postdesk rules test: give at least one message file or folder\n");
      return 2;
    }
  g_autofree char *dir = pd_cmd_folder (g, dir_opt, PD_CMD_FOLDER_RULES, &status);
  if (dir == NULL)
    return status;
  guint problems;
  g_autoptr (pd_rules_t) rules = load_rules (dir, &problems);
  if (rules == NULL)
    {
      fprintf (stderr, "postdesk rules test: %u problem%s in %s (see 'postdesk rules check')\n",
               problems, problems == 1 ? "" : "s", dir);
      return 1;
    }

  test_ctx_t ctx = { 0 };
  ctx.rules = rules;
  ctx.json = json;
  ctx.expect = expect;
  ctx.out = json_array_new ();
  int rc = 0;
  for (int i = 1; i < argc; i++)
    {
      GError *err = NULL;
      guint skipped = 0;
      if (!pd_source_read (argv[i], TEST_MAX_MESSAGE_BYTES, test_one, &ctx, &skipped, &err))
        {
          rc = pd_cmd_fail (err);
          g_error_free (err);
        }
      ctx.unreadable += skipped;
    }
  if (json)
    {
      g_autoptr (JsonNode) node = json_node_new (JSON_NODE_ARRAY);
      json_node_take_array (node, ctx.out);
      ctx.out = NULL;
      pd_json_print (node);
    }
  else
    json_array_unref (ctx.out);
  if (expect)
    {
      /* The table goes where it does not spoil the JSON. */
      FILE *to = json ? stderr : stdout;
      fprintf (to, "%-12s %13s %13s\n", "", "classified 1", "classified 2");
      for (int e = 0; e < 2; e++)
        fprintf (to, "%-12s %13u %13u\n", e == 0 ? "expected 1" : "expected 2", ctx.confusion[e][0],
                 ctx.confusion[e][1]);
      fprintf (to, "%u message%s, %u mismatch%s", ctx.count, ctx.count == 1 ? "" : "s", ctx.mismatches,
               ctx.mismatches == 1 ? "" : "es");
      if (ctx.no_expectation > 0)
        fprintf (to, ", %u without X-Expected-Severity", ctx.no_expectation);
      fprintf (to, "\n");
      if (ctx.mismatches > 0 || ctx.no_expectation > 0)
        rc = rc != 0 ? rc : 1;
    }
  if (ctx.unreadable > 0)
    rc = rc != 0 ? rc : 1;
  return rc;
}

int
pd_cmd_rules (const pd_global_t *g, int argc, char **argv)
{
  if (argc >= 2 && strcmp (argv[1], "check") == 0)
    return rules_check (g, argc - 1, argv + 1);
  if (argc >= 2 && strcmp (argv[1], "test") == 0)
    return rules_test (g, argc - 1, argv + 1);
  bool help = argc >= 2 && (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0);
  fprintf (help ? stdout : stderr,
           "Usage: postdesk rules check [DIR]\n"
           "       postdesk rules test [--json] [--expect] [--rules DIR] FILE|DIR...\n"
           "\nSee postdesk-rules(5) for the rule language.\n");
  return help ? 0 : 2;
}
