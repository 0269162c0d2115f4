/* test_rules.c - the rule language: every problem the parser reports, how
 * matching rules combine, the fields a condition can read, the shipped
 * rules' word traps, and the safety limits (ReDoS, invalid UTF-8, a bad
 * reload keeping the old rules). */
#include <glib/gstdio.h>
#include <string.h>

#include "postdesk/reload.h"
#include "postdesk/rules.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------ */

static pd_message_t *
message (const char *subject, const char *body)
{
  pd_message_t *msg = pd_message_new ();
  g_free (msg->subject);
  msg->subject = g_strdup (subject);
  g_free (msg->body_text);
  msg->body_text = g_strdup (body);
  return msg;
}

static pd_rules_t *
rules_from (const char *text)
{
  pd_rules_t *rules = NULL;
  GError *err = NULL;
  if (!pd_rules_load_string ("t.rules", text, &rules, &err))
    g_error ("rules did not load: %s", err->message);
  return rules;
}

/* The whole error text the parser gives for 'text'. (transfer full) */
static char *
problems_of (const char *text)
{
  pd_rules_t *rules = NULL;
  GError *err = NULL;
  g_assert_false (pd_rules_load_string ("t.rules", text, &rules, &err));
  g_assert_null (rules);
  g_assert_error (err, PD_ERROR, PD_ERROR_PARSE);
  char *msg = g_strdup (err->message);
  g_error_free (err);
  return msg;
}

#define assert_problems(text, expected)                                                            \
  do                                                                                               \
    {                                                                                              \
      g_autofree char *got_ = problems_of (text);                                                  \
      g_assert_cmpstr (got_, ==, expected);                                                        \
    }                                                                                              \
  while (0)

static void
write_file (const char *dir, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
}

static char *
fresh_dir (const char *name)
{
  char *dir = g_build_filename (pd_test_tmpdir (), name, NULL);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  return dir;
}

/* The names of the rules that matched, joined by spaces. (transfer full) */
static char *
matched (const pd_classification_t *c)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < c->rules->len; i++)
    {
      const pd_rule_match_t *m = c->rules->pdata[i];
      g_string_append_printf (s, "%s%s", i > 0 ? " " : "", m->name);
    }
  return g_string_free (s, FALSE);
}

/* The shipped rules/ folder of the source tree (transfer full). */
static char *
shipped_rules_dir (void)
{
  const char *src = g_getenv ("POSTDESK_SRC");
  return g_build_filename (src != NULL ? src : ".", "rules", NULL);
}

/* ---- the parser: every problem, pinned ---------------------------------- */

static void
test_a_good_file_loads_and_counts_its_rules (void)
{
  g_autoptr (pd_rules_t) rules = rules_from ("# a comment\n"
                                             "rule one\n"
                                             "  subject ~ /x/\n"
                                             "  severity 1\n"
                                             "\n"
                                             "rule two\r\n"
                                             "  body ~ plain words\r\n"
                                             "  tag a b\r\n");
  g_assert_cmpuint (pd_rules_count (rules), ==, 2);
}

static void
test_unknown_field_names_the_field_and_the_choices (void)
{
  assert_problems ("rule a\n  subjekt ~ /x/\n",
                   "t.rules:2:3: unknown field 'subjekt' (expected subject, body, from, from-address, "
                   "from-name, header:NAME, attachment-name, attachment-type, customer or plan)");
}

static void
test_unknown_action (void)
{
  assert_problems ("rule a\n  subject ~ /x/\n  escalate now\n",
                   "t.rules:3:3: unknown action 'escalate' (expected severity, tag, no-ack, auto-reply, stop or "
                   "match, or a condition FIELD ~ PATTERN)");
}

static void
test_duplicate_rule_name_points_at_the_first (void)
{
  assert_problems ("rule a\n  subject ~ /x/\nrule a\n  body ~ /y/\n",
                   "t.rules:3:6: duplicate rule name 'a' (first defined at t.rules:1)");
}

static void
test_severity_out_of_range (void)
{
  assert_problems ("rule a\n  subject ~ /x/\n  severity 3\n",
                   "t.rules:3:12: severity out of range: '3' (expected 1 or 2)");
  assert_problems ("rule a\n  subject ~ /x/\n  severity\n", "t.rules:3:11: severity needs a value: 1 or 2");
  assert_problems ("rule a\n  subject ~ /x/\n  severity 1\n  severity 2\n",
                   "t.rules:4:3: severity given twice in rule 'a'");
}

static void
test_bad_pattern_gives_pcre2s_text_at_its_offset (void)
{
  /* "ticket #(\d+" is 12 bytes: PCRE2 reports the missing parenthesis at
   * offset 12, which is column 13 + 12 + 1 on this line. */
  assert_problems ("rule a\n  subject ~ /ticket #(\\d+/\n",
                   "t.rules:2:26: bad pattern: missing closing parenthesis");
  /* The column counts characters, not bytes. */
  assert_problems ("rule a\n  subject ~ /störung[/\n",
                   "t.rules:2:22: bad pattern: missing terminating ] for character class");
}

static void
test_pattern_syntax_problems (void)
{
  assert_problems ("rule a\n  subject ~ /x/q\n", "t.rules:2:16: unknown pattern flag 'q' (expected c, i, m, s or x)");
  assert_problems ("rule a\n  subject ~ /x\n", "t.rules:2:13: pattern has no closing '/'");
  assert_problems ("rule a\n  subject ~ //\n", "t.rules:2:13: empty pattern");
  assert_problems ("rule a\n  subject ~\n", "t.rules:2:12: missing pattern after '~'");
  assert_problems ("rule a\n  subject !~   \n", "t.rules:2:16: missing pattern after '!~'");
  assert_problems ("rule a\n  subject ~ /x/m and more\n", "t.rules:2:18: unexpected text after the pattern");
  assert_problems ("rule a\n  subject ~ \"open\n", "t.rules:2:13: phrase has no closing '\"'");
  assert_problems ("rule a\n  subject ~ \"  \"\n", "t.rules:2:13: empty phrase");
  assert_problems ("rule a\n  subject ~ \"a\" b\n", "t.rules:2:17: unexpected text after the phrase");
}

static void
test_field_list_problems (void)
{
  assert_problems ("rule a\n  ~ /x/\n", "t.rules:2:3: missing field name before '~'");
  assert_problems ("rule a\n  subject, ~ /x/\n", "t.rules:2:12: missing field name before '~'");
  assert_problems ("rule a\n  header: ~ /x/\n",
                   "t.rules:2:3: bad header name in 'header:' (header:NAME, e.g. header:X-Priority)");
  assert_problems ("rule a\n  subject /x/\n", "t.rules:2:11: expected '~' or '!~' and a pattern after the field");
}

static void
test_rule_structure_problems (void)
{
  assert_problems ("subject ~ /x/\n", "t.rules:1:1: condition outside a rule (start one with 'rule NAME')");
  assert_problems ("severity 1\n", "t.rules:1:1: 'severity' outside a rule (start one with 'rule NAME')");
  assert_problems ("rule\n", "t.rules:1:5: rule needs a name");
  assert_problems ("rule -x\n  subject ~ /x/\n",
                   "t.rules:1:6: bad rule name '-x' (letters, digits, '-', '_' and '.', starting with a "
                   "letter or digit)");
  assert_problems ("rule a b\n", "t.rules:1:8: unexpected text after the rule name");
  assert_problems ("rule a\n  severity 1\n", "t.rules:1:1: rule 'a' has no condition");
  assert_problems ("rule a\n  subject ~ /x/\n  match some\n", "t.rules:3:9: match must be 'all' or 'any'");
  assert_problems ("rule a\n  subject ~ /x/\n  tag\n", "t.rules:3:6: tag needs a word");
  assert_problems ("rule a\n  subject ~ /x/\n  tag ok b@d\n",
                   "t.rules:3:10: bad tag 'b@d' (letters, digits, '-', '_' and '.')");
  assert_problems ("rule a\n  subject ~ /x/\n  stop now\n", "t.rules:3:8: 'stop' takes no argument");
  assert_problems ("rule a\n  subject ~ /x/\n  no-ack please\n", "t.rules:3:10: 'no-ack' takes no argument");
  assert_problems ("rule a\n  subject ~ /x/\n# caf\xc3\n",
                   "t.rules:3:6: not valid UTF-8");
}

static void
test_every_problem_is_reported_in_one_run (void)
{
  /* A refused rule line does not also make its conditions "outside a rule". */
  assert_problems ("rule a\n"
                   "  subjekt ~ /x/\n"
                   "  severity 7\n"
                   "rule a\n"
                   "  body ~ /(/\n"
                   "rule b\n"
                   "  body ~ /ok/\n"
                   "  shout\n",
                   "t.rules:2:3: unknown field 'subjekt' (expected subject, body, from, from-address, "
                   "from-name, header:NAME, attachment-name, attachment-type, customer or plan)\n"
                   "t.rules:3:12: severity out of range: '7' (expected 1 or 2)\n"
                   "t.rules:4:6: duplicate rule name 'a' (first defined at t.rules:1)\n"
                   "t.rules:5:12: bad pattern: missing closing parenthesis\n"
                   "t.rules:8:3: unknown action 'shout' (expected severity, tag, no-ack, auto-reply, stop or match, "
                   "or a condition FIELD ~ PATTERN)");
}

static void
test_a_folder_is_read_in_name_order_with_file_names (void)
{
  g_autofree char *dir = fresh_dir ("order");
  write_file (dir, "20-late.rules", "rule late\n  subject ~ outage\n  severity 1\n");
  write_file (dir, "10-early.rules", "rule early\n  subject ~ outage\n  tag first\n");
  write_file (dir, "README", "not a rule file ~ at all\n");
  g_autoptr (pd_rules_t) rules = NULL;
  GError *err = NULL;
  g_assert_true (pd_rules_load (dir, &rules, &err));
  g_assert_no_error (err);
  g_autoptr (pd_message_t) msg = message ("Outage", "");
  pd_classification_t c;
  pd_rules_classify (rules, msg, &c);
  g_autofree char *names = matched (&c);
  g_assert_cmpstr (names, ==, "early late");
  const pd_rule_match_t *m = c.rules->pdata[1];
  g_assert_cmpstr (m->file, ==, "20-late.rules");
  g_assert_cmpuint (m->line, ==, 1);
  pd_classification_clear (&c);

  /* Problems name the path built from the folder, and a duplicate name
   * across files points at the other file. */
  write_file (dir, "30-bad.rules", "rule early\n  subject ~ /x/\n");
  pd_rules_t *none = NULL;
  g_assert_false (pd_rules_load (dir, &none, &err));
  g_autofree char *expected = g_strdup_printf ("%s/30-bad.rules:1:6: duplicate rule name 'early' "
                                               "(first defined at %s/10-early.rules:1)", dir, dir);
  g_assert_cmpstr (err->message, ==, expected);
  g_clear_error (&err);
}

static void
test_a_folder_without_rule_files_is_refused (void)
{
  g_autofree char *dir = fresh_dir ("empty");
  pd_rules_t *rules = NULL;
  GError *err = NULL;
  g_assert_false (pd_rules_load (dir, &rules, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_PARSE);
  g_assert_nonnull (strstr (err->message, "no *.rules files"));
  g_clear_error (&err);
  g_autofree char *missing = g_build_filename (dir, "nope", NULL);
  g_assert_false (pd_rules_load (missing, &rules, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_IO);
  g_clear_error (&err);
}

/* ---- the evaluator ------------------------------------------------------ */

static void
test_the_most_severe_wins_and_ties_go_to_file_order (void)
{
  g_autoptr (pd_rules_t) rules = rules_from ("rule mild\n  subject ~ broken\n  severity 2\n  tag a\n"
                                             "rule first-sev1\n  body ~ outage\n  severity 1\n  tag b a\n"
                                             "rule second-sev1\n  body ~ outage\n  severity 1\n  tag c\n");
  g_autoptr (pd_message_t) msg = message ("Broken", "A total outage.");
  pd_classification_t c;
  g_assert_cmpint (pd_rules_classify (rules, msg, &c), ==, 1);
  g_assert_cmpstr (c.severity_rule, ==, "first-sev1");
  g_autofree char *names = matched (&c);
  g_assert_cmpstr (names, ==, "mild first-sev1 second-sev1");
  g_assert_cmpuint (c.tags->len, ==, 3);
  g_assert_cmpstr (c.tags->pdata[0], ==, "a");
  g_assert_cmpstr (c.tags->pdata[1], ==, "b");
  g_assert_cmpstr (c.tags->pdata[2], ==, "c");
  pd_classification_clear (&c);
}

static void
test_no_rule_means_severity_2 (void)
{
  g_autoptr (pd_rules_t) rules = rules_from ("rule tagger\n  subject ~ invoice\n  tag billing\n");
  g_autoptr (pd_message_t) msg = message ("Invoice question", "");
  pd_classification_t c;
  g_assert_cmpint (pd_rules_classify (rules, msg, &c), ==, 2);
  g_assert_null (c.severity_rule);
  g_assert_cmpuint (c.rules->len, ==, 1);
  g_assert_false (c.no_ack);
  pd_classification_clear (&c);
}

static void
test_stop_ends_the_evaluation (void)
{
  g_autoptr (pd_rules_t) rules = rules_from ("rule list\n  header:List-Id ~ /.+/\n  no-ack\n  stop\n"
                                             "rule outage\n  subject ~ outage\n  severity 1\n");
  g_autoptr (pd_message_t) msg = message ("Outage report", "");
  pd_classification_t c;
  g_assert_cmpint (pd_rules_classify (rules, msg, &c), ==, 1);
  pd_classification_clear (&c);
  pd_message_add_header (msg, "List-Id", "<news.example.com>");
  g_assert_cmpint (pd_rules_classify (rules, msg, &c), ==, 2);
  g_autofree char *names = matched (&c);
  g_assert_cmpstr (names, ==, "list");
  g_assert_true (c.no_ack);
  pd_classification_clear (&c);
}

/* The auto-reply action marks the message, and only when its rule
 * matched; it sets no severity and does not stop later rules. */
static void
test_auto_reply_action_marks_only_matching_mail (void)
{
  g_autoptr (pd_rules_t) rules = rules_from ("rule vacation\n  subject ~ /^out of office:/\n  auto-reply\n"
                                             "rule outage\n  body ~ outage\n  severity 1\n");
  g_autoptr (pd_message_t) away = message ("Out of Office: back on Monday", "During the outage call Sam.");
  pd_classification_t c;
  g_assert_cmpint (pd_rules_classify (rules, away, &c), ==, 1);
  g_assert_true (c.auto_reply);
  g_assert_false (c.no_ack);
  g_autofree char *names = matched (&c);
  g_assert_cmpstr (names, ==, "vacation outage");
  pd_classification_clear (&c);

  g_autoptr (pd_message_t) human = message ("Our out of office replies are broken", "");
  pd_rules_classify (rules, human, &c);
  g_assert_false (c.auto_reply);
  pd_classification_clear (&c);

  /* Like no-ack and stop, it takes no argument. */
  assert_problems ("rule a\n  subject ~ /x/\n  auto-reply yes\n", "t.rules:3:14: 'auto-reply' takes no argument");
}

static void
test_all_needs_every_condition_any_needs_one (void)
{
  g_autoptr (pd_rules_t) rules = rules_from ("rule both\n  subject ~ alpha\n  body ~ beta\n"
                                             "rule either\n  match any\n  subject ~ alpha\n  body ~ beta\n");
  g_autoptr (pd_message_t) only_subject = message ("alpha", "gamma");
  g_autoptr (pd_message_t) both = message ("alpha", "beta");
  g_autoptr (pd_message_t) neither = message ("gamma", "delta");
  pd_classification_t c;
  pd_rules_classify (rules, only_subject, &c);
  g_autofree char *a = matched (&c);
  g_assert_cmpstr (a, ==, "either");
  pd_classification_clear (&c);
  pd_rules_classify (rules, both, &c);
  g_autofree char *b = matched (&c);
  g_assert_cmpstr (b, ==, "both either");
  pd_classification_clear (&c);
  pd_rules_classify (rules, neither, &c);
  g_assert_cmpuint (c.rules->len, ==, 0);
  pd_classification_clear (&c);
}

static void
test_negation_holds_when_no_field_matches (void)
{
  g_autoptr (pd_rules_t) rules = rules_from ("rule unplanned-outage\n"
                                             "  subject, body ~ outage\n"
                                             "  subject, body !~ /\\b(planned|scheduled)\\b/\n"
                                             "  severity 1\n"
                                             "rule not-from-us\n"
                                             "  from-address !~ /@example\\.com$/\n"
                                             "  tag external\n");
  g_autoptr (pd_message_t) real = message ("Outage", "Everything is gone.");
  g_autoptr (pd_message_t) planned = message ("Planned outage on Sunday", "");
  pd_classification_t c;
  g_assert_cmpint (pd_rules_classify (rules, real, &c), ==, 1);
  const pd_rule_match_t *m = c.rules->pdata[0];
  g_assert_cmpstr (m->field, ==, "subject");
  g_assert_cmpstr (m->match, ==, "Outage");
  /* No sender at all: the negated condition holds, with an empty match. */
  m = c.rules->pdata[1];
  g_assert_cmpstr (m->name, ==, "not-from-us");
  g_assert_cmpstr (m->field, ==, "from-address");
  g_assert_cmpstr (m->match, ==, "");
  pd_classification_clear (&c);
  g_assert_cmpint (pd_rules_classify (rules, planned, &c), ==, 2);
  pd_classification_clear (&c);
}

static void
test_header_from_and_attachment_conditions (void)
{
  g_autoptr (pd_rules_t) rules = rules_from ("rule prio\n  header:x-priority ~ /^1\\b/\n  tag prio\n"
                                             "rule vip\n  from-name ~ \"Big Boss\"\n  tag vip\n"
                                             "rule domain\n  from ~ /@acme\\.example$/\n  tag acme\n"
                                             "rule dump\n  attachment-name ~ /\\.hprof$/\n  tag heap\n"
                                             "rule pdf\n  attachment-type ~ /^application\\/pdf$/c\n  tag pdf\n"
                                             "rule plans\n  match any\n  customer ~ /./\n  plan ~ /./\n  tag never\n");
  g_autoptr (pd_message_t) msg = message ("Help", "");
  msg->from = g_new0 (pd_address_t, 1);
  msg->from->name = g_strdup ("Big  Boss");
  msg->from->address = g_strdup ("boss@acme.example");
  pd_message_add_header (msg, "Subject", "Help");
  pd_message_add_header (msg, "X-Priority", "1 (Highest)");
  pd_attachment_t *att = g_new0 (pd_attachment_t, 1);
  att->filename = g_strdup ("java_pid42.hprof");
  att->mime_type = g_strdup ("application/octet-stream");
  g_ptr_array_add (msg->attachments, att);
  att = g_new0 (pd_attachment_t, 1);
  att->filename = g_strdup ("invoice.pdf");
  att->mime_type = g_strdup ("application/pdf");
  g_ptr_array_add (msg->attachments, att);
  pd_classification_t c;
  pd_rules_classify (rules, msg, &c);
  g_autofree char *names = matched (&c);
  g_assert_cmpstr (names, ==, "prio vip domain dump pdf");
  const pd_rule_match_t *m = c.rules->pdata[0];
  g_assert_cmpstr (m->field, ==, "header:x-priority");
  g_assert_cmpstr (m->match, ==, "1");
  m = c.rules->pdata[1];
  g_assert_cmpstr (m->match, ==, "Big  Boss");
  m = c.rules->pdata[3];
  g_assert_cmpstr (m->field, ==, "attachment-name");
  g_assert_cmpstr (m->match, ==, ".hprof");
  pd_classification_clear (&c);
}

static void
test_plain_phrases_match_as_phrases (void)
{
  g_autoptr (pd_rules_t) rules = rules_from ("rule phrase\n  body ~ production is down\n"
                                             "rule quoted\n  body ~ \"is down.\"\n"
                                             "rule regex-chars\n  subject ~ C++ (beta)\n");
  pd_classification_t c;
  g_autoptr (pd_message_t) yes = message ("", "Our Production  is\nDOWN.");
  pd_rules_classify (rules, yes, &c);
  g_autofree char *a = matched (&c);
  g_assert_cmpstr (a, ==, "phrase quoted");
  g_assert_cmpstr (((pd_rule_match_t *) c.rules->pdata[0])->match, ==, "Production  is DOWN");
  pd_classification_clear (&c);
  g_autoptr (pd_message_t) no = message ("", "production is downloading updates");
  pd_rules_classify (rules, no, &c);
  g_assert_cmpuint (c.rules->len, ==, 0);
  pd_classification_clear (&c);
  g_autoptr (pd_message_t) meta = message ("C++ (beta) crashes", "");
  pd_rules_classify (rules, meta, &c);
  g_autofree char *b = matched (&c);
  g_assert_cmpstr (b, ==, "regex-chars");
  pd_classification_clear (&c);
}

static void
test_patterns_are_caseless_unless_flag_c (void)
{
  g_autoptr (pd_rules_t) rules = rules_from ("rule any-case\n  subject ~ /urgent/\n"
                                             "rule exact\n  subject ~ /\\bP1\\b/c\n"
                                             "rule lines\n  body ~ /^sev 1$/m\n"
                                             "rule unicode\n  body ~ /\\bstörung\\b/\n");
  g_autoptr (pd_message_t) msg = message ("URGENT p1", "Hello\nSev 1\nbye\nSTÖRUNG im Netz");
  pd_classification_t c;
  pd_rules_classify (rules, msg, &c);
  g_autofree char *names = matched (&c);
  g_assert_cmpstr (names, ==, "any-case lines unicode");
  pd_classification_clear (&c);
}

static void
test_the_prefilter_never_hides_a_match (void)
{
  /* KELVIN SIGN and LONG S equal k and s under PCRE2's caseless Unicode
   * matching; the literal prefilter must agree. Alternations need one
   * literal of any branch; an optional group needs none. */
  g_autoptr (pd_rules_t) rules = rules_from ("rule kelvin\n  body ~ /kelvin/\n"
                                             "rule long-s\n  body ~ /status/\n"
                                             "rule alternation\n  body ~ /(offline|unreachable) now/\n"
                                             "rule optional\n  body ~ /x(abcdef)?y/\n"
                                             "rule repeated\n  body ~ /ab+cd/\n");
  g_autoptr (pd_message_t) msg = message ("", "\xe2\x84\xaa" "elvin, \xc5\xbftatus, UNREACHABLE now, xy, abbbcd");
  pd_classification_t c;
  pd_rules_classify (rules, msg, &c);
  g_autofree char *names = matched (&c);
  g_assert_cmpstr (names, ==, "kelvin long-s alternation optional repeated");
  pd_classification_clear (&c);
}

/* The text a rule matched, or NULL when it did not match. (borrowed from c) */
static const char *
match_of (const pd_classification_t *c, const char *rule)
{
  for (guint i = 0; i < c->rules->len; i++)
    {
      const pd_rule_match_t *m = c->rules->pdata[i];
      if (strcmp (m->name, rule) == 0)
        return m->match;
    }
  return NULL;
}

static void
test_running_near_literals_finds_the_leftmost_match (void)
{
  /* A pattern runs only near its literals' occurrences; the match must
   * still be the one a search over the whole text finds: the leftmost,
   * even when a later literal occurrence also starts a match, and when a
   * literal occurs first where no match can start. */
  g_autoptr (pd_rules_t) rules = rules_from ("rule pair\n  body ~ /\\b(error|broken)\\b.{0,20}\\bqueue\\b/\n"
                                             "rule gap\n  body ~ /\\w+ing\\s+(now|today)/\n"
                                             "rule either\n  body ~ /\\b(can\\s*not|not\\s+able\\s+to)\\s+log\\s*in\\b/\n");
  g_autoptr (pd_message_t) msg = message ("", "broken pipe, and much later: an error in the queue; broken queue. "
                                          "Still failing today, crashing now. We are not able to log in.");
  pd_classification_t c;
  pd_rules_classify (rules, msg, &c);
  g_assert_cmpstr (match_of (&c, "pair"), ==, "error in the queue");
  g_assert_cmpstr (match_of (&c, "gap"), ==, "failing today");
  g_assert_cmpstr (match_of (&c, "either"), ==, "not able to log in");
  pd_classification_clear (&c);
}

static void
test_running_near_literals_keeps_the_context (void)
{
  /* Where a search starts does not change what \b, lookahead and $ see
   * around it, and \G, which depends on the start, searches everything. */
  g_autoptr (pd_rules_t) rules = rules_from ("rule word\n  body ~ /\\bbroken queue\\b/\n"
                                             "rule ahead\n  body ~ /broken queue(?= now)/\n"
                                             "rule end\n  body ~ /broken queue$/\n"
                                             "rule start\n  body ~ /\\Gqueue/\n");
  g_autoptr (pd_message_t) inside = message ("", "unbroken queue, broken queues, broken queuex");
  pd_classification_t c;
  pd_rules_classify (rules, inside, &c);
  g_autofree char *none = matched (&c);
  g_assert_cmpstr (none, ==, "");
  pd_classification_clear (&c);

  g_autoptr (pd_message_t) fits = message ("", "queue: the broken queue now; broken queue");
  pd_rules_classify (rules, fits, &c);
  g_autofree char *all = matched (&c);
  g_assert_cmpstr (all, ==, "word ahead end start");
  pd_classification_clear (&c);
}

static void
test_running_near_a_folded_literal (void)
{
  /* KELVIN SIGN is three bytes where the literal has one 'k': the search
   * must start far enough before the occurrence to include it. */
  g_autoptr (pd_rules_t) rules = rules_from ("rule kelvin\n  body ~ /\\bkelvin\\s+down\\b/\n");
  g_autoptr (pd_message_t) msg = message ("", "sensor \xe2\x84\xaa" "ELVIN down");
  pd_classification_t c;
  pd_rules_classify (rules, msg, &c);
  g_assert_cmpstr (match_of (&c, "kelvin"), ==, "\xe2\x84\xaa" "ELVIN down");
  pd_classification_clear (&c);
}

static void
test_matched_text_is_bounded_and_fields_are_bounded (void)
{
  g_autoptr (pd_rules_t) rules = rules_from ("rule long\n  body ~ /a+/\n"
                                             "rule beyond\n  body ~ needle\n");
  g_autoptr (GString) body = g_string_new (NULL);
  for (int i = 0; i < PD_RULES_MAX_FIELD_BYTES; i++)
    g_string_append_c (body, 'a');
  g_string_append (body, " needle");
  g_autoptr (pd_message_t) msg = message ("", body->str);
  pd_classification_t c;
  pd_rules_classify (rules, msg, &c);
  g_autofree char *names = matched (&c);
  g_assert_cmpstr (names, ==, "long");
  g_assert_cmpuint (strlen (((pd_rule_match_t *) c.rules->pdata[0])->match), ==, PD_RULES_MAX_MATCH_BYTES);
  pd_classification_clear (&c);
}

/* ---- the shipped rules -------------------------------------------------- */

static void
test_shipped_rules_ignore_the_word_traps (void)
{
  g_autofree char *dir = shipped_rules_dir ();
  g_autoptr (pd_rules_t) rules = NULL;
  GError *err = NULL;
  g_assert_true (pd_rules_load (dir, &rules, &err));
  g_assert_no_error (err);
  static const char *const traps[][2] = {
    { "Download fails", "The download of the report breaks down into pieces? No: it just stops." },
    { "Production planning question", "Where do I set the production planning horizon?" },
    { "How do I change my login name", "My login works, I only want a new login name." },
    { "Down payment on invoice 17", "The down payment is missing." },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (traps); i++)
    {
      g_autoptr (pd_message_t) msg = message (traps[i][0], traps[i][1]);
      pd_classification_t c;
      g_assert_cmpint (pd_rules_classify (rules, msg, &c), ==, 2);
      g_autofree char *names = matched (&c);
      g_assert_cmpstr (names, ==, "");
      pd_classification_clear (&c);
    }
  static const char *const sev1[][2] = {
    { "Production is down", "" },
    { "", "Since 9am nobody can log in." },
    { "Unsere Produktion steht", "" },
    { "", "Impossible de se connecter depuis ce matin" },
    { "Pérdida de datos", "" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (sev1); i++)
    {
      g_autoptr (pd_message_t) msg = message (sev1[i][0], sev1[i][1]);
      pd_classification_t c;
      g_assert_cmpint (pd_rules_classify (rules, msg, &c), ==, 1);
      pd_classification_clear (&c);
    }
}

/* ---- safety ------------------------------------------------------------- */

static void
test_catastrophic_patterns_are_cut_off_and_logged_once (void)
{
  g_autoptr (pd_rules_t) rules = rules_from ("rule redos\n  body ~ /^(\\w+\\s?)+$/\n  severity 1\n"
                                             "rule redos-unanchored\n  body ~ /(\\w+\\s?)+$/\n  severity 1\n"
                                             "rule sane\n  body ~ /!/\n  tag bang\n");
  /* One long line for the anchored pattern; thousands of short lines that
   * each cost the unanchored one just under the match limit. */
  g_autoptr (GString) body = g_string_new (NULL);
  for (int i = 0; i < 40; i++)
    g_string_append_c (body, 'a');
  g_string_append (body, "!\n");
  while (body->len < PD_RULES_MAX_FIELD_BYTES)
    g_string_append (body, "aaaaaaaaaaaaaa!\n");
  g_autoptr (pd_message_t) msg = message ("", body->str);

  g_test_expect_message ("postdesk", G_LOG_LEVEL_WARNING, "rule redos (t.rules:1): a match was stopped*");
  g_test_expect_message ("postdesk", G_LOG_LEVEL_WARNING, "rule redos-unanchored (t.rules:4): a match was stopped*");
  for (int round = 0; round < 2; round++)
    {
      gint64 start = g_get_monotonic_time ();
      pd_classification_t c;
      g_assert_cmpint (pd_rules_classify (rules, msg, &c), ==, 2);
      gint64 took = g_get_monotonic_time () - start;
      g_assert_cmpint (took, <, G_USEC_PER_SEC);
      g_assert_cmpuint (c.cut_off, ==, 2);
      g_autofree char *names = matched (&c);
      g_assert_cmpstr (names, ==, "sane");
      pd_classification_clear (&c);
    }
  g_test_assert_expected_messages ();
}

static void
test_invalid_utf8_does_not_fail_a_whole_rule (void)
{
  g_autoptr (pd_rules_t) rules = rules_from ("rule outage\n  body ~ /production is down/\n  severity 1\n"
                                             "rule ticket\n  body ~ /#43/\n  tag t\n");
  /* pd_mime_parse never hands over invalid UTF-8, but the engine must not
   * depend on that: a bad byte is a barrier, not a reason to give up. */
  g_autoptr (pd_message_t) msg = message ("", "ticket #42 \xff\xfe #43: production is down \xc3");
  pd_classification_t c;
  g_assert_cmpint (pd_rules_classify (rules, msg, &c), ==, 1);
  g_autofree char *names = matched (&c);
  g_assert_cmpstr (names, ==, "outage ticket");
  g_assert_cmpuint (c.cut_off, ==, 0);
  pd_classification_clear (&c);
}

typedef struct {
  const pd_rules_t *rules;
  gint failures;
} thread_ctx_t;

static gpointer
classify_many (gpointer data)
{
  thread_ctx_t *t = data;
  g_autoptr (pd_message_t) down = message ("Production is down", "");
  g_autoptr (pd_message_t) fine = message ("Question", "How do I export?");
  for (int i = 0; i < 2000; i++)
    {
      pd_classification_t c;
      if (pd_rules_classify (t->rules, i % 2 ? down : fine, &c) != (i % 2 ? 1 : 2))
        g_atomic_int_inc (&t->failures);
      pd_classification_clear (&c);
    }
  return NULL;
}

static void
test_threads_share_one_rule_set (void)
{
  g_autoptr (pd_rules_t) rules = rules_from ("rule down\n  subject, body ~ \"production is down\"\n  severity 1\n");
  thread_ctx_t ctx = { rules, 0 };
  GThread *threads[4];
  for (int i = 0; i < 4; i++)
    threads[i] = g_thread_new ("classify", classify_many, &ctx);
  for (int i = 0; i < 4; i++)
    g_thread_join (threads[i]);
  g_assert_cmpint (ctx.failures, ==, 0);
}

static void
test_a_bad_reload_keeps_the_old_rules (void)
{
  g_autofree char *dir = fresh_dir ("reload");
  write_file (dir, "a.rules", "rule outage\n  subject ~ outage\n  severity 1\n");
  pd_reloadable_t *r = NULL;
  GError *err = NULL;
  g_assert_true (pd_reloadable_new (dir, pd_rules_reload_load, (GDestroyNotify) pd_rules_free, &r, &err));
  g_assert_no_error (err);
  pd_reload_ref_t *before = pd_reloadable_acquire (r);
  g_assert_cmpuint (pd_rules_count (pd_reload_ref_value (before)), ==, 1);

  /* A broken edit: refused as a whole, with its problems; the old set stays. */
  write_file (dir, "a.rules", "rule outage\n  subject ~ outage\n  severity 1\nrule second\n  subjekt ~ x\n");
  g_assert_false (pd_reloadable_reload (r, &err));
  g_autofree char *expected = g_strdup_printf ("%s/a.rules:5:3: unknown field 'subjekt'", dir);
  g_assert_true (g_str_has_prefix (err->message, expected));
  g_clear_error (&err);
  g_assert_cmpuint (pd_reloadable_generation (r), ==, 1);
  pd_reload_ref_t *still = pd_reloadable_acquire (r);
  g_assert_true (pd_reload_ref_value (still) == pd_reload_ref_value (before));
  pd_reload_ref_release (still);

  /* A good edit is swapped in; a reader of the old set keeps it intact. */
  write_file (dir, "a.rules", "rule outage\n  subject ~ outage\n  severity 1\nrule second\n  subject ~ x\n");
  g_assert_true (pd_reloadable_reload (r, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (pd_reloadable_generation (r), ==, 2);
  pd_reload_ref_t *after = pd_reloadable_acquire (r);
  g_assert_cmpuint (pd_rules_count (pd_reload_ref_value (after)), ==, 2);
  g_assert_cmpuint (pd_rules_count (pd_reload_ref_value (before)), ==, 1);
  g_autoptr (pd_message_t) msg = message ("Outage", "");
  pd_classification_t c;
  g_assert_cmpint (pd_rules_classify (pd_reload_ref_value (before), msg, &c), ==, 1);
  pd_classification_clear (&c);
  pd_reload_ref_release (before);
  pd_reload_ref_release (after);

  /* A rules folder that disappears is refused like any other error. */
  g_autofree char *path = g_build_filename (dir, "a.rules", NULL);
  g_assert_cmpint (g_remove (path), ==, 0);
  g_assert_false (pd_reloadable_reload (r, &err));
  g_clear_error (&err);
  pd_reloadable_free (r);
}

static void
test_classification_as_json_for_an_event (void)
{
  g_autoptr (pd_rules_t) rules = rules_from ("rule outage\n  subject ~ \"is down\"\n  severity 1\n  tag outage\n  no-ack\n");
  g_autoptr (pd_message_t) msg = message ("Site \"prod\" is down", "");
  pd_classification_t c;
  pd_rules_classify (rules, msg, &c);
  g_autofree char *json = pd_classification_to_json (&c);
  g_assert_cmpstr (json, ==,
                   "{\"severity\":1,\"severity_rule\":\"outage\",\"rules\":[{\"name\":\"outage\","
                   "\"file\":\"t.rules\",\"line\":1,\"field\":\"subject\",\"match\":\"is down\"}],"
                   "\"tags\":[\"outage\"],\"no_ack\":true}");
  pd_classification_clear (&c);
  pd_classification_clear (&c);  /* clearing twice is harmless */
}

int
main (int argc, char **argv)
{
  pd_test_init (&argc, &argv);
  g_test_add_func ("/rules/parse/good-file", test_a_good_file_loads_and_counts_its_rules);
  g_test_add_func ("/rules/parse/unknown-field", test_unknown_field_names_the_field_and_the_choices);
  g_test_add_func ("/rules/parse/unknown-action", test_unknown_action);
  g_test_add_func ("/rules/parse/duplicate-name", test_duplicate_rule_name_points_at_the_first);
  g_test_add_func ("/rules/parse/severity", test_severity_out_of_range);
  g_test_add_func ("/rules/parse/bad-pattern", test_bad_pattern_gives_pcre2s_text_at_its_offset);
  g_test_add_func ("/rules/parse/pattern-syntax", test_pattern_syntax_problems);
  g_test_add_func ("/rules/parse/field-list", test_field_list_problems);
  g_test_add_func ("/rules/parse/structure", test_rule_structure_problems);
  g_test_add_func ("/rules/parse/all-problems", test_every_problem_is_reported_in_one_run);
  g_test_add_func ("/rules/load/name-order", test_a_folder_is_read_in_name_order_with_file_names);
  g_test_add_func ("/rules/load/empty-folder", test_a_folder_without_rule_files_is_refused);
  g_test_add_func ("/rules/eval/precedence", test_the_most_severe_wins_and_ties_go_to_file_order);
  g_test_add_func ("/rules/eval/default", test_no_rule_means_severity_2);
  g_test_add_func ("/rules/eval/stop", test_stop_ends_the_evaluation);
  g_test_add_func ("/rules/eval/all-any", test_all_needs_every_condition_any_needs_one);
  g_test_add_func ("/rules/eval/auto-reply", test_auto_reply_action_marks_only_matching_mail);
  g_test_add_func ("/rules/eval/negation", test_negation_holds_when_no_field_matches);
  g_test_add_func ("/rules/eval/fields", test_header_from_and_attachment_conditions);
  g_test_add_func ("/rules/eval/phrases", test_plain_phrases_match_as_phrases);
  g_test_add_func ("/rules/eval/flags", test_patterns_are_caseless_unless_flag_c);
  g_test_add_func ("/rules/eval/prefilter", test_the_prefilter_never_hides_a_match);
  g_test_add_func ("/rules/eval/near-literals/leftmost", test_running_near_literals_finds_the_leftmost_match);
  g_test_add_func ("/rules/eval/near-literals/context", test_running_near_literals_keeps_the_context);
  g_test_add_func ("/rules/eval/near-literals/folded", test_running_near_a_folded_literal);
  g_test_add_func ("/rules/eval/bounds", test_matched_text_is_bounded_and_fields_are_bounded);
  g_test_add_func ("/rules/shipped/word-traps", test_shipped_rules_ignore_the_word_traps);
  g_test_add_func ("/rules/safety/redos", test_catastrophic_patterns_are_cut_off_and_logged_once);
  g_test_add_func ("/rules/safety/invalid-utf8", test_invalid_utf8_does_not_fail_a_whole_rule);
  g_test_add_func ("/rules/safety/threads", test_threads_share_one_rule_set);
  g_test_add_func ("/rules/reload/bad-edit-keeps-old", test_a_bad_reload_keeps_the_old_rules);
  g_test_add_func ("/rules/json", test_classification_as_json_for_an_event);
  return g_test_run ();
}
