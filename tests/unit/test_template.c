/* test_template.c - the template language: what each tag renders, how
 * values are kept from changing the shape of a message, every problem the
 * loader reports (pinned word for word), the folder loader and its reload,
 * and the shipped acknowledgement. */
#include <glib/gstdio.h>
#include <string.h>

#include "postdesk/reload.h"
#include "postdesk/template.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------ */

static pd_template_t *
template_from (const char *text)
{
  pd_template_t *t = NULL;
  GError *err = NULL;
  if (!pd_template_parse ("t.tmpl", text, strlen (text), &t, &err))
    g_error ("template did not load: %s", err->message);
  return t;
}

/* The whole error text the loader gives for 'text'. (transfer full) */
static char *
problems_of (const char *text, gssize len)
{
  pd_template_t *t = NULL;
  GError *err = NULL;
  g_assert_false (pd_template_parse ("t.tmpl", text, len < 0 ? strlen (text) : (gsize) len, &t, &err));
  g_assert_null (t);
  g_assert_error (err, PD_ERROR, PD_ERROR_PARSE);
  char *msg = g_strdup (err->message);
  g_error_free (err);
  return msg;
}

#define assert_problems(text, expected)                                                            \
  do                                                                                               \
    {                                                                                              \
      g_autofree char *got_ = problems_of (text, -1);                                              \
      g_assert_cmpstr (got_, ==, expected);                                                        \
    }                                                                                              \
  while (0)

/* A template with 'body' under a fixed Subject, for the body tests. */
static char *
with_body (const char *body)
{
  return g_strdup_printf ("Subject: s\n\n%s", body);
}

/* The body 'body_template' renders to with 'vars'. (transfer full) */
static char *
body_of (const char *body_template, const pd_tvars_t *vars)
{
  g_autofree char *text = with_body (body_template);
  g_autoptr (pd_template_t) t = template_from (text);
  g_autoptr (pd_rendered_t) r = NULL;
  GError *err = NULL;
  if (!pd_template_render (t, vars, &r, &err))
    g_error ("render failed: %s", err->message);
  return g_strdup (r->body);
}

static pd_rendered_t *
render (const char *text, const pd_tvars_t *vars)
{
  g_autoptr (pd_template_t) t = template_from (text);
  pd_rendered_t *r = NULL;
  GError *err = NULL;
  if (!pd_template_render (t, vars, &r, &err))
    g_error ("render failed: %s", err->message);
  return r;
}

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

static const char good_ack[] = "Subject: [{{ticket_ref}}] {{subject}}\n\nHello.\n";

/* ---- rendering ---------------------------------------------------------- */

static void
test_variables_are_inserted_in_headers_and_body (void)
{
  g_autoptr (pd_tvars_t) v = pd_tvars_new ();
  pd_tvars_set (v, "ticket_ref", "SUP-42");
  pd_tvars_set_int (v, "ticket_number", 42);
  pd_tvars_set (v, "subject", "Büro-Server antwortet nicht");
  pd_tvars_set (v, "requester_name", "Jane Doe");
  g_autoptr (pd_rendered_t) r = render ("Subject: [{{ticket_ref}}] {{subject}}\n"
                                        "X-Ticket: {{ ticket_number }}\n"
                                        "\n"
                                        "Hello {{requester_name}},\n"
                                        "ticket {{ticket_ref}} is open.\n",
                                        v);
  g_assert_cmpstr (r->subject, ==, "[SUP-42] Büro-Server antwortet nicht");
  g_assert_cmpuint (r->headers->len, ==, 1);
  g_assert_cmpstr (pd_rendered_header (r, "x-ticket"), ==, "42");
  g_assert_cmpstr (pd_rendered_header (r, "Subject"), ==, r->subject);
  g_assert_cmpstr (r->body, ==, "Hello Jane Doe,\nticket SUP-42 is open.\n");
}

static void
test_a_value_never_set_renders_empty_and_false (void)
{
  g_autoptr (pd_tvars_t) v = pd_tvars_new ();
  g_autofree char *b = body_of ("[{{customer}}]\n"
                                "{{#outside_hours}}outside{{/outside_hours}}{{^outside_hours}}inside{{/outside_hours}}\n"
                                "{{#resolution_due}}due {{resolution_due}}{{/resolution_due}}"
                                "{{^resolution_due}}no target{{/resolution_due}}\n"
                                "tags: [{{tags}}]\n",
                                v);
  g_assert_cmpstr (b, ==, "[]\ninside\nno target\ntags: []\n");
}

static void
test_sections_follow_true_false_and_empty_text (void)
{
  g_autoptr (pd_tvars_t) v = pd_tvars_new ();
  const char *tmpl = "{{#is_severity1}}one{{/is_severity1}}{{^is_severity1}}two{{/is_severity1}}"
                     " {{#customer}}for {{customer}}{{/customer}}{{^customer}}no customer{{/customer}}\n";
  g_autofree char *plain = body_of (tmpl, v);
  g_assert_cmpstr (plain, ==, "two no customer\n");
  pd_tvars_set_bool (v, "is_severity1", true);
  pd_tvars_set (v, "customer", "acme");
  g_autofree char *set = body_of (tmpl, v);
  g_assert_cmpstr (set, ==, "one for acme\n");
  /* An empty text is false, like one never set. */
  pd_tvars_set (v, "customer", "");
  pd_tvars_set_bool (v, "is_severity1", false);
  g_autofree char *cleared = body_of (tmpl, v);
  g_assert_cmpstr (cleared, ==, "two no customer\n");
}

static void
test_nested_sections_need_every_level (void)
{
  const char *tmpl = "{{#is_severity1}}\n"
                     "Severity 1.\n"
                     "{{#outside_hours}}\n"
                     "Outside hours{{#clock_starts}}, from {{clock_starts}}{{/clock_starts}}.\n"
                     "{{/outside_hours}}\n"
                     "{{/is_severity1}}\n"
                     "End.\n";
  g_autoptr (pd_tvars_t) v = pd_tvars_new ();
  pd_tvars_set_bool (v, "outside_hours", true);
  pd_tvars_set (v, "clock_starts", "Monday 09:00");
  g_autofree char *outer_false = body_of (tmpl, v);
  g_assert_cmpstr (outer_false, ==, "End.\n");
  pd_tvars_set_bool (v, "is_severity1", true);
  g_autofree char *both = body_of (tmpl, v);
  g_assert_cmpstr (both, ==, "Severity 1.\nOutside hours, from Monday 09:00.\nEnd.\n");
  pd_tvars_set_bool (v, "outside_hours", false);
  g_autofree char *inner_false = body_of (tmpl, v);
  g_assert_cmpstr (inner_false, ==, "Severity 1.\nEnd.\n");
}

static void
test_lines_holding_only_a_section_tag_disappear (void)
{
  g_autoptr (pd_tvars_t) v = pd_tvars_new ();
  pd_tvars_set_bool (v, "raised", true);
  /* Standalone tags (blanks around them allowed) take their line with
   * them; a tag among text leaves the line, and a line with two tags is
   * not standalone. */
  g_autofree char *b = body_of ("a\n"
                                "  {{#raised}}  \n"
                                "raised\n"
                                "{{/raised}}\n"
                                "{{! a comment line }}\n"
                                "x {{#raised}}y{{/raised}} z\n"
                                "{{#raised}}{{/raised}}\n"
                                "b\n",
                                v);
  g_assert_cmpstr (b, ==, "a\nraised\nx y z\n\nb\n");
}

static void
test_tags_render_as_a_list_a_text_and_per_tag_tests (void)
{
  g_autoptr (pd_tvars_t) v = pd_tvars_new ();
  const char *tmpl = "all: {{tags}}\n"
                     "{{#tags}}\n"
                     "- {{tag}}\n"
                     "{{/tags}}\n"
                     "{{^tags}}\n"
                     "no tags\n"
                     "{{/tags}}\n"
                     "{{#tag:logs}}\n"
                     "thanks for the logs\n"
                     "{{/tag:logs}}\n"
                     "{{^tag:logs}}\n"
                     "please send logs\n"
                     "{{/tag:logs}}\n";
  g_autofree char *none = body_of (tmpl, v);
  g_assert_cmpstr (none, ==, "all:\nno tags\nplease send logs\n");
  pd_tvars_add_tag (v, "outage");
  pd_tvars_add_tag (v, "Logs");
  g_autofree char *two = body_of (tmpl, v);
  /* Tag tests ignore case, as rule tags are words people type. */
  g_assert_cmpstr (two, ==, "all: outage Logs\n- outage\n- Logs\nthanks for the logs\n");
}

static void
test_comments_render_nothing (void)
{
  g_autoptr (pd_tvars_t) v = pd_tvars_new ();
  /* A comment ends at its first "}}", and what it holds is never read:
   * not even an opening "{{" or an unknown name. */
  g_autofree char *b = body_of ("a{{! not {{shown or checked }}b\n", v);
  g_assert_cmpstr (b, ==, "ab\n");
}

static void
test_crlf_templates_render_with_lf_and_one_final_line_end (void)
{
  g_autoptr (pd_tvars_t) v = pd_tvars_new ();
  g_autoptr (pd_rendered_t) r = render ("Subject: hi\r\n\r\nline one\r\nline two\r\n\r\n\r\n", v);
  g_assert_cmpstr (r->subject, ==, "hi");
  g_assert_cmpstr (r->body, ==, "line one\nline two\n");
}

/* ---- values cannot change the shape of the message ---------------------- */

static void
test_header_values_cannot_add_a_header_or_a_line (void)
{
  g_autoptr (pd_tvars_t) v = pd_tvars_new ();
  pd_tvars_set (v, "ticket_ref", "SUP-1");
  pd_tvars_set (v, "subject", "Hi\r\nBcc: victim@example.org\r\n\r\nbody");
  pd_tvars_set (v, "customer", "a\nX-Evil: 1");
  pd_tvars_set (v, "plan", "p\rq\x0bz\tt");
  g_autoptr (pd_rendered_t) r = render ("Subject: [{{ticket_ref}}] {{subject}}\n"
                                        "X-Customer: {{customer}}\n"
                                        "X-Plan: {{plan}}\n"
                                        "\n"
                                        "b\n",
                                        v);
  g_assert_cmpstr (r->subject, ==, "[SUP-1] Hi Bcc: victim@example.org  body");
  g_assert_cmpstr (pd_rendered_header (r, "X-Customer"), ==, "a X-Evil: 1");
  g_assert_cmpstr (pd_rendered_header (r, "X-Plan"), ==, "p qz t");
  g_assert_null (pd_rendered_header (r, "Bcc"));
  g_assert_null (pd_rendered_header (r, "X-Evil"));
  g_assert_cmpuint (r->headers->len, ==, 2);
}

static void
test_control_and_bidi_characters_are_removed_everywhere (void)
{
  g_autoptr (pd_tvars_t) v = pd_tvars_new ();
  /* ESC (a terminal sequence), DEL, the C1 NEL (a line break to some
   * readers), U+2028 (a line separator), U+202E (right-to-left override). */
  pd_tvars_set (v, "subject", "a\x1b[31mb\x7f" "c\xc2\x85" "d\xe2\x80\xa8" "e\xe2\x80\xae" "f");
  g_autoptr (pd_rendered_t) r = render ("Subject: {{subject}}\n\n{{subject}}\n", v);
  g_assert_cmpstr (r->subject, ==, "a[31mbcd ef");
  g_assert_cmpstr (r->body, ==, "a[31mbcd\nef\n");
}

static void
test_body_values_keep_their_lines_but_no_controls (void)
{
  g_autoptr (pd_tvars_t) v = pd_tvars_new ();
  pd_tvars_set (v, "working_hours", "Mon-Fri\r\n09:00-17:00\rPacific\x07\tfine");
  g_autofree char *b = body_of ("Hours: {{working_hours}}\n", v);
  g_assert_cmpstr (b, ==, "Hours: Mon-Fri\n09:00-17:00\nPacific\tfine\n");
}

static void
test_encoded_words_in_values_stay_literal_text (void)
{
  /* The renderer does not decode: "=?utf-8?q?...?=" from a customer is
   * text, and compose encodes it so that no reader decodes it either
   * (test_compose pins that half). */
  g_autoptr (pd_tvars_t) v = pd_tvars_new ();
  pd_tvars_set (v, "subject", "=?utf-8?q?a=0D=0ABcc:_x@example.org?=");
  g_autoptr (pd_rendered_t) r = render ("Subject: {{subject}}\n\nb\n", v);
  g_assert_cmpstr (r->subject, ==, "=?utf-8?q?a=0D=0ABcc:_x@example.org?=");
}

static void
test_invalid_utf8_values_are_made_valid (void)
{
  g_autoptr (pd_tvars_t) v = pd_tvars_new ();
  pd_tvars_set (v, "requester_name", "M\xfcller");
  g_autofree char *b = body_of ("{{requester_name}}\n", v);
  g_assert_true (g_utf8_validate (b, -1, NULL));
  g_assert_cmpstr (b, ==, "M\xef\xbf\xbdller\n");
}

static void
test_empty_rendered_headers_are_left_out_and_an_empty_subject_is_refused (void)
{
  g_autoptr (pd_tvars_t) v = pd_tvars_new ();
  g_autoptr (pd_rendered_t) r = render ("Subject: x\nX-Customer: {{customer}}\n\nb\n", v);
  g_assert_cmpuint (r->headers->len, ==, 0);

  g_autoptr (pd_template_t) t = template_from ("Subject: {{subject}}\n\nb\n");
  pd_tvars_set (v, "subject", " \r\n\t");
  pd_rendered_t *none = NULL;
  GError *err = NULL;
  g_assert_false (pd_template_render (t, v, &none, &err));
  g_assert_null (none);
  g_assert_error (err, PD_ERROR, PD_ERROR_REJECTED);
  g_assert_cmpstr (err->message, ==, "template t.tmpl: the Subject came out empty");
  g_error_free (err);
}

static void
test_a_rendered_message_over_the_limit_is_refused (void)
{
  g_autoptr (pd_tvars_t) v = pd_tvars_new ();
  g_autofree char *tag = g_strnfill (200, 'x');
  for (int i = 0; i < 10000; i++)
    pd_tvars_add_tag (v, tag);
  g_autoptr (pd_template_t) t = template_from ("Subject: s\n\n{{#tags}}{{tags}}{{/tags}}\n");
  pd_rendered_t *r = NULL;
  GError *err = NULL;
  g_assert_false (pd_template_render (t, v, &r, &err));
  g_assert_null (r);
  g_assert_error (err, PD_ERROR, PD_ERROR_REJECTED);
  g_assert_cmpstr (err->message, ==, "template t.tmpl: the message came out larger than 1048576 bytes");
  g_error_free (err);
}

static void
test_setting_a_variable_outside_the_set_is_a_caller_bug (void)
{
  g_autoptr (pd_tvars_t) v = pd_tvars_new ();
  g_test_expect_message ("postdesk", G_LOG_LEVEL_CRITICAL, "*'severity_levl' is not a text variable*");
  g_assert_false (pd_tvars_set (v, "severity_levl", "1"));
  g_test_expect_message ("postdesk", G_LOG_LEVEL_CRITICAL, "*'subject' is not a true/false variable*");
  g_assert_false (pd_tvars_set_bool (v, "subject", true));
  g_test_assert_expected_messages ();
}

static void
test_the_variable_set_is_documented_and_fixed (void)
{
  /* The list, each present with a description. */
  static const char *const wanted[] = {
    "ticket_ref", "ticket_number", "subject", "severity", "severity_words", "status", "status_words",
    "requester_name", "customer", "plan", "first_response_due", "first_response_due_customer",
    "resolution_due", "resolution_due_customer", "outside_hours", "clock_starts", "working_hours",
    "tags", "support_name", "support_address", "is_severity1", "raised", "reopened",
  };
  const pd_tvar_info_t *vars = pd_template_variables ();
  for (gsize i = 0; i < G_N_ELEMENTS (wanted); i++)
    {
      gsize j = 0;
      while (vars[j].name != NULL && strcmp (vars[j].name, wanted[i]) != 0)
        j++;
      g_assert_nonnull (vars[j].name);
      g_assert_cmpuint (strlen (vars[j].description), >, 10);
    }
  /* The man page lists every variable: a new one must be documented. */
  const char *src = g_getenv ("POSTDESK_SRC");
  g_autofree char *page = g_build_filename (src != NULL ? src : ".", "docs", "postdesk.conf.5", NULL);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (page, &text, NULL, NULL));
  for (gsize j = 0; vars[j].name != NULL; j++)
    {
      g_autofree char *roff = g_strdup_printf ("\n.B %s\n", vars[j].name);
      if (strstr (text, roff) == NULL)
        g_error ("postdesk.conf.5 does not document the template variable %s", vars[j].name);
    }
}

/* ---- every load problem, pinned ----------------------------------------- */

static void
test_unknown_variables_are_refused_with_a_suggestion (void)
{
  assert_problems ("Subject: {{ticket_reff}}\n\n{{frobnicate}} {{#severty}}x{{/severty}}\n",
                   "t.tmpl:1: unknown variable 'ticket_reff' (did you mean 'ticket_ref'?)\n"
                   "t.tmpl:3: unknown variable 'frobnicate' (see \"TEMPLATES\" in postdesk.conf(5) for the list)\n"
                   "t.tmpl:3: unknown variable 'severty' (did you mean 'severity'?)\n"
                   "t.tmpl:3: unknown variable 'severty' (did you mean 'severity'?)");
}

static void
test_kinds_are_checked (void)
{
  assert_problems ("Subject: s\n\n{{outside_hours}}\n{{tag}}\n{{tag:logs}}\n{{#tag:bad/name}}{{/tag:bad/name}}\n",
                   "t.tmpl:3: 'outside_hours' is true or false: use it as a section, "
                   "{{#outside_hours}}...{{/outside_hours}}\n"
                   "t.tmpl:4: 'tag' is only set inside {{#tags}}...{{/tags}}\n"
                   "t.tmpl:5: 'tag:logs' is a test: use it as a section, {{#tag:logs}}...{{/tag:logs}}\n"
                   "t.tmpl:6: bad tag '{{#tag:bad/name}}': a tag is {{name}}, {{#name}}, {{^name}}, "
                   "{{/name}} or {{! comment}}\n"
                   "t.tmpl:6: bad tag '{{/tag:bad/name}}': a tag is {{name}}, {{#name}}, {{^name}}, "
                   "{{/name}} or {{! comment}}");
  assert_problems ("Subject: s\n\n{{#tag:-x}}y{{/tag:-x}}\n",
                   "t.tmpl:3: bad tag name '-x' in '{{#tag:-x}}' (letters, digits, '-', '_' and '.')\n"
                   "t.tmpl:3: bad tag name '-x' in '{{/tag:-x}}' (letters, digits, '-', '_' and '.')");
}

static void
test_unbalanced_sections_are_refused (void)
{
  assert_problems ("Subject: s\n\n{{#raised}}\nx\n", "t.tmpl:3: '{{#raised}}' is never closed");
  assert_problems ("Subject: s\n\nx\n{{/raised}}\n", "t.tmpl:4: '{{/raised}}' closes no section");
  assert_problems ("Subject: s\n\n{{#raised}}\n{{^reopened}}\n{{/raised}}\n{{/reopened}}\n",
                   "t.tmpl:5: '{{/raised}}' does not close '{{^reopened}}' (opened on line 4)\n"
                   "t.tmpl:3: '{{#raised}}' is never closed");
}

static void
test_a_section_in_a_header_closes_on_its_line (void)
{
  assert_problems ("Subject: {{#raised}}raised: {{subject}}\n\n{{/raised}}\n",
                   "t.tmpl:1: '{{#raised}}' is never closed in its header line: a section in a header "
                   "closes on the same line\n"
                   "t.tmpl:3: '{{/raised}}' closes no section");
}

static void
test_malformed_tags_are_refused (void)
{
  assert_problems ("Subject: s\n\n{{subject\n{{{subject}}}\n{{&subject}}\n{{>footer}}\n{{=<% %>=}}\n"
                   "{{}}\n{{ two words }}\n",
                   "t.tmpl:3: '{{' without a closing '}}' on the same line\n"
                   "t.tmpl:4: '{{{' is not supported: values are never escaped, write {{name}}\n"
                   "t.tmpl:5: '{{&' is not supported: values are never escaped, write {{name}}\n"
                   "t.tmpl:6: '{{>' is not supported: templates have no partials\n"
                   "t.tmpl:7: '{{=' is not supported: the delimiters are always {{ and }}\n"
                   "t.tmpl:8: an empty tag '{{}}'\n"
                   "t.tmpl:9: bad tag '{{ two words }}': a tag is {{name}}, {{#name}}, {{^name}}, "
                   "{{/name}} or {{! comment}}");
}

static void
test_sections_nest_at_most_sixteen_deep (void)
{
  GString *s = g_string_new ("Subject: s\n\n");
  for (int i = 0; i < 17; i++)
    g_string_append (s, "{{#raised}}");
  for (int i = 0; i < 17; i++)
    g_string_append (s, "{{/raised}}");
  g_string_append_c (s, '\n');
  g_autofree char *text = g_string_free (s, FALSE);
  /* The seventeenth opening is refused, so one closing is left over. */
  assert_problems (text, "t.tmpl:3: sections nested deeper than 16\n"
                         "t.tmpl:3: '{{/raised}}' closes no section");
}

static void
test_header_lines_must_be_name_colon_value (void)
{
  assert_problems ("Subject: s\nThis is the body\n\nb\n",
                   "t.tmpl:2: 'This is the body' is not a header line 'Name: value'; the headers end "
                   "at the first blank line, which must come before the body");
  assert_problems ("Subject: s\n  folded\n\nb\n",
                   "t.tmpl:2: a folded header line: write each header on one line");
  assert_problems ("Subject: s\nBad Name: x\n\nb\n",
                   "t.tmpl:2: 'Bad Name: x' is not a header line 'Name: value'; the headers end at "
                   "the first blank line, which must come before the body");
}

static void
test_a_missing_blank_line_or_body_or_subject_is_refused (void)
{
  assert_problems ("Subject: s\n", "t.tmpl:1: the template ends in its headers: a blank line and the body must follow");
  assert_problems ("Subject: s\n\n\n  \n", "t.tmpl:4: the body is empty");
  assert_problems ("X-Note: n\n\nb\n", "t.tmpl:1: no Subject header");
  assert_problems ("", "t.tmpl:1: the template ends in its headers: a blank line and the body must follow\n"
                       "t.tmpl:1: no Subject header");
}

static void
test_headers_postdesk_sets_itself_are_refused (void)
{
  assert_problems ("Subject: s\nFrom: x@example.com\nMessage-ID: <a@b>\nDate: now\nIn-Reply-To: <a@b>\n"
                   "References: <a@b>\nAuto-Submitted: no\nReply-To: x@example.com\nBcc: x@example.com\n"
                   "Content-Type: text/html\nKeywords: k\nSubject: again\n\nb\n",
                   "t.tmpl:2: a template cannot set the header 'From': postdesk sets it from support_name "
                   "and support_address\n"
                   "t.tmpl:3: a template cannot set the header 'Message-ID': postdesk makes an unguessable one\n"
                   "t.tmpl:4: a template cannot set the header 'Date': postdesk sets it when the message is made\n"
                   "t.tmpl:5: a template cannot set the header 'In-Reply-To': postdesk threads the message itself\n"
                   "t.tmpl:6: a template cannot set the header 'References': postdesk threads the message itself\n"
                   "t.tmpl:7: a template cannot set the header 'Auto-Submitted': postdesk marks its automatic "
                   "replies itself\n"
                   "t.tmpl:8: a template cannot set the header 'Reply-To': postdesk sets it to the support "
                   "address, so that replies thread\n"
                   "t.tmpl:9: a template cannot set the header 'Bcc': a template cannot send mail to anyone else\n"
                   "t.tmpl:10: a template cannot set the header 'Content-Type': postdesk writes the MIME structure\n"
                   "t.tmpl:11: a template cannot set the header 'Keywords': a template may set only Subject, "
                   "Organization and X-... headers\n"
                   "t.tmpl:12: a second 'Subject' header (the first is on line 1)");
  g_assert_true (pd_template_header_allowed ("subject"));
  g_assert_true (pd_template_header_allowed ("X-Ticket"));
  g_assert_true (pd_template_header_allowed ("Organization"));
  g_assert_false (pd_template_header_allowed ("X-Auto-Response-Suppress"));
  g_assert_false (pd_template_header_allowed ("X-"));
}

static void
test_text_that_is_not_plain_utf8_is_refused (void)
{
  assert_problems ("Subject: s\n\nb\xe4r\n", "t.tmpl:3: not valid UTF-8");
  assert_problems ("Subject: s\n\na\x1b[1mb\n", "t.tmpl:3: control character U+001B: templates are plain text");
  assert_problems ("Subject: s\n\na\rb\n", "t.tmpl:3: control character U+000D: templates are plain text");
  g_autofree char *nul = problems_of ("Subject: s\n\na\0b\n", 15);
  g_assert_cmpstr (nul, ==, "t.tmpl:3: a NUL byte: not a text file");
  g_autofree char *big = g_strnfill (PD_TEMPLATE_MAX_BYTES + 1, 'a');
  g_autofree char *big_problem = problems_of (big, -1);
  g_assert_cmpstr (big_problem, ==, "t.tmpl:1: larger than 65536 bytes: not a template");
}

/* ---- the folder and its reload ------------------------------------------ */

static void
test_a_folder_loads_every_template_by_name (void)
{
  g_autofree char *dir = fresh_dir ("good");
  write_file (dir, "ack.tmpl", good_ack);
  write_file (dir, "notice.tmpl", "Subject: notice\n\nn\n");
  write_file (dir, "README", "not a template {{\n");
  write_file (dir, ".hidden.tmpl", "broken");
  g_autoptr (pd_templates_t) set = NULL;
  GError *err = NULL;
  g_assert_true (pd_templates_load (dir, &set, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (pd_templates_count (set), ==, 2);
  g_assert_cmpstr (pd_template_name (pd_templates_get (set, "ack")), ==, "ack");
  g_assert_nonnull (pd_templates_get (set, "notice"));
  g_assert_null (pd_templates_get (set, "README"));
}

static void
test_a_folder_reports_every_problem_of_every_file (void)
{
  g_autofree char *dir = fresh_dir ("bad");
  write_file (dir, "b.tmpl", "Subject: {{nope}}\nFrom: me@example.com\n\n{{#raised}}\n");
  write_file (dir, "a.tmpl", "Subject: s\nbody without a blank line\n");
  g_autoptr (pd_templates_t) set = NULL;
  GError *err = NULL;
  g_assert_false (pd_templates_load (dir, &set, &err));
  g_assert_null (set);
  g_assert_error (err, PD_ERROR, PD_ERROR_PARSE);
  g_autofree char *expected = g_strdup_printf (
      "%s/a.tmpl:2: 'body without a blank line' is not a header line 'Name: value'; the headers end at "
      "the first blank line, which must come before the body\n"
      "%s/a.tmpl:2: the template ends in its headers: a blank line and the body must follow\n"
      "%s/b.tmpl:1: unknown variable 'nope' (see \"TEMPLATES\" in postdesk.conf(5) for the list)\n"
      "%s/b.tmpl:2: a template cannot set the header 'From': postdesk sets it from support_name and "
      "support_address\n"
      "%s/b.tmpl:4: '{{#raised}}' is never closed\n"
      "%s/ack.tmpl:1: missing: every new ticket is acknowledged with this template",
      dir, dir, dir, dir, dir, dir);
  g_assert_cmpstr (err->message, ==, expected);
  g_error_free (err);
}

static void
test_an_unreadable_folder_is_an_io_error (void)
{
  g_autofree char *dir = g_build_filename (pd_test_tmpdir (), "no-such-folder", NULL);
  g_autoptr (pd_templates_t) set = NULL;
  GError *err = NULL;
  g_assert_false (pd_templates_load (dir, &set, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_IO);
  g_assert_nonnull (strstr (err->message, "cannot read the templates folder"));
  g_error_free (err);
}

static void
test_a_bad_reload_keeps_the_last_good_templates (void)
{
  g_autofree char *dir = fresh_dir ("reload");
  write_file (dir, "ack.tmpl", "Subject: first\n\nb\n");
  g_autoptr (pd_reloadable_t) holder = NULL;
  GError *err = NULL;
  g_assert_true (pd_reloadable_new (dir, pd_templates_reload_load, (GDestroyNotify) pd_templates_free,
                                    &holder, &err));
  pd_reload_ref_t *before = pd_reloadable_acquire (holder);

  write_file (dir, "ack.tmpl", "Subject: {{subjet}}\n\nb\n");
  g_assert_false (pd_reloadable_reload (holder, &err));
  g_autofree char *expected = g_strdup_printf ("%s/ack.tmpl:1: unknown variable 'subjet' (did you mean 'subject'?)", dir);
  g_assert_cmpstr (err->message, ==, expected);
  g_clear_error (&err);
  g_assert_cmpuint (pd_reloadable_generation (holder), ==, 1);

  /* The value in force is still the first: it renders "first". */
  g_autoptr (pd_tvars_t) v = pd_tvars_new ();
  pd_reload_ref_t *now = pd_reloadable_acquire (holder);
  const pd_template_t *t = pd_templates_get (pd_reload_ref_value (now), "ack");
  g_autoptr (pd_rendered_t) r = NULL;
  g_assert_true (pd_template_render (t, v, &r, NULL));
  g_assert_cmpstr (r->subject, ==, "first");
  pd_reload_ref_release (now);

  write_file (dir, "ack.tmpl", "Subject: second\n\nb\n");
  g_assert_true (pd_reloadable_reload (holder, &err));
  g_assert_cmpuint (pd_reloadable_generation (holder), ==, 2);
  pd_reload_ref_t *after = pd_reloadable_acquire (holder);
  g_autoptr (pd_rendered_t) r2 = NULL;
  g_assert_true (pd_template_render (pd_templates_get (pd_reload_ref_value (after), "ack"), v, &r2, NULL));
  g_assert_cmpstr (r2->subject, ==, "second");
  /* A reader that took the old set before the swap still has it whole. */
  g_autoptr (pd_rendered_t) r3 = NULL;
  g_assert_true (pd_template_render (pd_templates_get (pd_reload_ref_value (before), "ack"), v, &r3, NULL));
  g_assert_cmpstr (r3->subject, ==, "first");
  pd_reload_ref_release (after);
  pd_reload_ref_release (before);
}

/* ---- the shipped acknowledgement ---------------------------------------- */

static const pd_templates_t *
shipped (void)
{
  static pd_templates_t *set;
  if (set == NULL)
    {
      const char *src = g_getenv ("POSTDESK_SRC");
      g_autofree char *dir = g_build_filename (src != NULL ? src : ".", "templates", NULL);
      GError *err = NULL;
      if (!pd_templates_load (dir, &set, &err))
        g_error ("the shipped templates do not load: %s", err->message);
    }
  return set;
}

static pd_tvars_t *
ticket_vars (bool sev1)
{
  pd_tvars_t *v = pd_tvars_new ();
  pd_tvars_set (v, "ticket_ref", "SUP-7");
  pd_tvars_set (v, "ticket_number", "7");
  pd_tvars_set (v, "subject", "Production down since 15:40");
  pd_tvars_set (v, "severity", sev1 ? "1" : "2");
  pd_tvars_set (v, "severity_words", sev1 ? "production use is severely affected" : "partial loss of use, or a question");
  pd_tvars_set (v, "severity_reason", sev1 ? "your message reports that production is down" : NULL);
  pd_tvars_set_bool (v, "is_severity1", sev1);
  pd_tvars_set (v, "status", "new");
  pd_tvars_set (v, "status_words", "received, waiting for an engineer");
  pd_tvars_set (v, "requester_name", "Jane Doe");
  pd_tvars_set (v, "first_response_due", "Wednesday 2026-03-11 16:00 PDT");
  pd_tvars_set (v, "first_response_due_customer", "Thursday 2026-03-12 00:00 CET");
  if (sev1)
    {
      pd_tvars_set (v, "resolution_due", "Thursday 2026-03-19 16:00 PDT");
      pd_tvars_set (v, "resolution_due_customer", "Friday 2026-03-20 00:00 CET");
    }
  pd_tvars_set_bool (v, "outside_hours", true);
  pd_tvars_set (v, "clock_starts", "Monday 2026-03-09 09:00 PDT");
  pd_tvars_set (v, "working_hours", "Monday to Friday, 09:00-17:00 Pacific time");
  pd_tvars_set (v, "support_name", "Example Support");
  pd_tvars_set (v, "support_address", "support@example.com");
  return v;
}

static void
test_the_shipped_ack_for_severity_1_states_status_steps_and_deadlines (void)
{
  const pd_template_t *ack = pd_templates_get (shipped (), "ack");
  g_assert_nonnull (ack);
  g_autoptr (pd_tvars_t) v = ticket_vars (true);
  pd_tvars_add_tag (v, "outage");
  pd_tvars_add_tag (v, "logs");
  g_autoptr (pd_rendered_t) r = NULL;
  g_assert_true (pd_template_render (ack, v, &r, NULL));
  g_assert_cmpstr (r->subject, ==, "[SUP-7] Production down since 15:40");
  static const char *const says[] = {
    "Hello Jane Doe,\n",
    "opened ticket SUP-7",
    "Status:    received, waiting for an engineer\n",
    "Severity:  1 - production use is severely affected\n",
    "Why:       your message reports that production is down\n",
    "First response by:  Wednesday 2026-03-11 16:00 PDT (Thursday 2026-03-12 00:00 CET your time)\n",
    "Resolution or a workaround by:  Thursday 2026-03-19 16:00 PDT (Friday 2026-03-20 00:00 CET your time)\n",
    "outside our working hours (Monday to Friday, 09:00-17:00 Pacific time), so the time counts from "
    "Monday 2026-03-09 09:00 PDT.\n",
    "keep [SUP-7] in the subject",
    "how many users are affected",
    "whether the outage is still going on",
    "Thank you for the logs you attached",
    "\nExample Support\nsupport@example.com\n",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (says); i++)
    if (strstr (r->body, says[i]) == NULL)
      g_error ("the Severity 1 acknowledgement does not say \"%s\":\n%s", says[i], r->body);
  g_assert_null (strstr (r->body, "say \"Severity 1\""));
  g_assert_null (strstr (r->body, "the logs from the time of the problem"));
  g_assert_null (strstr (r->body, "{{"));
  g_assert_null (strstr (r->body, "\n\n\n"));
}

static void
test_the_shipped_ack_for_severity_2_reads_differently (void)
{
  const pd_template_t *ack = pd_templates_get (shipped (), "ack");
  g_autoptr (pd_tvars_t) v = ticket_vars (false);
  pd_tvars_set (v, "requester_name", NULL);
  pd_tvars_set_bool (v, "outside_hours", false);
  pd_tvars_set (v, "first_response_due_customer", NULL);
  g_autoptr (pd_rendered_t) r = NULL;
  g_assert_true (pd_template_render (ack, v, &r, NULL));
  g_assert_true (g_str_has_prefix (r->body, "Hello,\n"));
  g_assert_nonnull (strstr (r->body, "Severity:  2 - partial loss of use, or a question\n"));
  g_assert_nonnull (strstr (r->body, "First response by:  Wednesday 2026-03-11 16:00 PDT\n"));
  g_assert_nonnull (strstr (r->body, "reply and say \"Severity 1\""));
  g_assert_nonnull (strstr (r->body, "the steps that show the problem"));
  g_assert_nonnull (strstr (r->body, "the logs from the time of the problem"));
  g_assert_null (strstr (r->body, "Resolution"));
  g_assert_null (strstr (r->body, "Why:"));
  g_assert_null (strstr (r->body, "outside our working hours"));
  g_assert_null (strstr (r->body, "your time"));
}

static void
test_the_shipped_ack_says_when_a_severity_was_raised (void)
{
  const pd_template_t *ack = pd_templates_get (shipped (), "ack");
  g_autoptr (pd_tvars_t) v = ticket_vars (true);
  pd_tvars_set_bool (v, "raised", true);
  pd_tvars_set (v, "previous_severity", "2");
  g_autoptr (pd_rendered_t) r = NULL;
  g_assert_true (pd_template_render (ack, v, &r, NULL));
  g_assert_nonnull (strstr (r->body, "We have raised ticket SUP-7 from Severity 2 to Severity 1"));
  g_assert_null (strstr (r->body, "opened ticket"));
}

int
main (int argc, char **argv)
{
  pd_test_init (&argc, &argv);
  g_test_add_func ("/template/render/variables", test_variables_are_inserted_in_headers_and_body);
  g_test_add_func ("/template/render/unset-values", test_a_value_never_set_renders_empty_and_false);
  g_test_add_func ("/template/render/sections", test_sections_follow_true_false_and_empty_text);
  g_test_add_func ("/template/render/nesting", test_nested_sections_need_every_level);
  g_test_add_func ("/template/render/standalone-lines", test_lines_holding_only_a_section_tag_disappear);
  g_test_add_func ("/template/render/tags", test_tags_render_as_a_list_a_text_and_per_tag_tests);
  g_test_add_func ("/template/render/comments", test_comments_render_nothing);
  g_test_add_func ("/template/render/crlf", test_crlf_templates_render_with_lf_and_one_final_line_end);
  g_test_add_func ("/template/render/empty-headers", test_empty_rendered_headers_are_left_out_and_an_empty_subject_is_refused);
  g_test_add_func ("/template/render/limit", test_a_rendered_message_over_the_limit_is_refused);
  g_test_add_func ("/template/safety/header-injection", test_header_values_cannot_add_a_header_or_a_line);
  g_test_add_func ("/template/safety/controls", test_control_and_bidi_characters_are_removed_everywhere);
  g_test_add_func ("/template/safety/body-lines", test_body_values_keep_their_lines_but_no_controls);
  g_test_add_func ("/template/safety/encoded-words", test_encoded_words_in_values_stay_literal_text);
  g_test_add_func ("/template/safety/invalid-utf8", test_invalid_utf8_values_are_made_valid);
  g_test_add_func ("/template/vars/caller-bug", test_setting_a_variable_outside_the_set_is_a_caller_bug);
  g_test_add_func ("/template/vars/documented", test_the_variable_set_is_documented_and_fixed);
  g_test_add_func ("/template/load/unknown-variable", test_unknown_variables_are_refused_with_a_suggestion);
  g_test_add_func ("/template/load/kinds", test_kinds_are_checked);
  g_test_add_func ("/template/load/unbalanced", test_unbalanced_sections_are_refused);
  g_test_add_func ("/template/load/header-section", test_a_section_in_a_header_closes_on_its_line);
  g_test_add_func ("/template/load/malformed-tags", test_malformed_tags_are_refused);
  g_test_add_func ("/template/load/depth", test_sections_nest_at_most_sixteen_deep);
  g_test_add_func ("/template/load/header-lines", test_header_lines_must_be_name_colon_value);
  g_test_add_func ("/template/load/structure", test_a_missing_blank_line_or_body_or_subject_is_refused);
  g_test_add_func ("/template/load/reserved-headers", test_headers_postdesk_sets_itself_are_refused);
  g_test_add_func ("/template/load/plain-text", test_text_that_is_not_plain_utf8_is_refused);
  g_test_add_func ("/template/folder/loads", test_a_folder_loads_every_template_by_name);
  g_test_add_func ("/template/folder/all-problems", test_a_folder_reports_every_problem_of_every_file);
  g_test_add_func ("/template/folder/unreadable", test_an_unreadable_folder_is_an_io_error);
  g_test_add_func ("/template/folder/reload", test_a_bad_reload_keeps_the_last_good_templates);
  g_test_add_func ("/template/shipped/ack-sev1", test_the_shipped_ack_for_severity_1_states_status_steps_and_deadlines);
  g_test_add_func ("/template/shipped/ack-sev2", test_the_shipped_ack_for_severity_2_reads_differently);
  g_test_add_func ("/template/shipped/ack-raised", test_the_shipped_ack_says_when_a_severity_was_raised);
  int rc = g_test_run ();
  pd_templates_free ((pd_templates_t *) shipped ());
  return rc;
}
