/* fuzz_rules.c - libFuzzer target: one input is one rule file, loaded as
 * `postdesk rules check` and a reload load it, and, when it loads, applied
 * to a fixed message the way ingest classifies new mail.
 *
 * The message is parsed once from a fixed text that gives every field a
 * rule can name something to match (subject, body, both halves of from,
 * headers, an attachment's name and type), so the patterns the fuzzer
 * writes really run against text, under PCRE2's match limit.
 */
#include <string.h>

#include "fuzz.h"
#include "postdesk/mime.h"
#include "postdesk/rules.h"

static pd_message_t *fixed_message; /* owned for the life of the process */

static const char FIXED_MAIL[] =
  "From: \"Jörg Müller\" <joerg.mueller@acme.example>\n"
  "To: support@example.com\n"
  "Subject: URGENT: production is down since 09:00 (Sev 1)\n"
  "Message-ID: <fuzz-rules@acme.example>\n"
  "X-Priority: 1 (Highest)\n"
  "List-Id: <status.acme.example>\n"
  "MIME-Version: 1.0\n"
  "Content-Type: multipart/mixed; boundary=B\n"
  "\n"
  "--B\n"
  "Content-Type: text/plain; charset=utf-8\n"
  "\n"
  "Hallo, die Produktion steht. Nobody can log in, data loss on the live system.\n"
  "Ticket #42 and SUP-17; see https://status.acme.example/incident?id=7\n"
  "--B\n"
  "Content-Type: text/x-log; name=\"server error.log\"\n"
  "Content-Disposition: attachment; filename=\"server error.log\"\n"
  "\n"
  "2026-03-06T09:00:01Z ERROR connection refused\n"
  "--B--\n";

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  pd_fuzz_init_logs ();
  pd_mime_init ();
  GError *err = NULL;
  fixed_message = pd_mime_parse (FIXED_MAIL, strlen (FIXED_MAIL), 0, &err);
  if (fixed_message == NULL)
    g_error ("the fixed message does not parse: %s", err->message);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* Rule files are text read whole into a NUL-terminated string; a NUL in
   * the input ends the text there, as it would for a file on disk. */
  char *text = g_strndup ((const char *) data, size);
  pd_rules_t *rules = NULL;
  GError *err = NULL;
  bool loaded = pd_rules_load_string ("fuzz.rules", text, &rules, &err);
  if (loaded != (rules != NULL) || loaded == (err != NULL))
    __builtin_trap ();
  if (loaded)
    {
      pd_classification_t c = { 0 };
      int severity = pd_rules_classify (rules, fixed_message, &c);
      if ((severity != 1 && severity != 2) || severity != c.severity)
        __builtin_trap ();
      for (guint i = 0; i < c.rules->len; i++)
        {
          const pd_rule_match_t *m = g_ptr_array_index (c.rules, i);
          if (strlen (m->match) > PD_RULES_MAX_MATCH_BYTES || !g_utf8_validate (m->match, -1, NULL))
            __builtin_trap ();
        }
      g_free (pd_classification_to_json (&c));
      pd_classification_clear (&c);
    }
  pd_rules_free (rules);
  g_clear_error (&err);
  g_free (text);
  return 0;
}
