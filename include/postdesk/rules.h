/* rules.h - severity rules: plain-text rule files that admins edit, compiled
 * once into a read-only rule set, then applied to parsed messages.
 *
 * The rule language is described in postdesk-rules(5) and at the top of
 * rules/severity.rules. Only ingest/rules.c includes pcre2.h: no PCRE2 type
 * leaves this module.
 *
 * Threads: a loaded pd_rules_t is never modified, so any number of threads
 * may classify with the same rule set at once. Each thread keeps its own
 * PCRE2 match data, match context and JIT stack, created on its first
 * classification and freed when the thread ends.
 */
#ifndef POSTDESK_RULES_H
#define POSTDESK_RULES_H

#include <json-glib/json-glib.h>

#include "postdesk/common.h"
#include "postdesk/mime.h"

/* How much of one field a pattern sees: the first 64 KiB of the body (and
 * of any other field). A Severity 1 message says so near its start, and the
 * bound keeps the cost of one message independent of its size. */
#define PD_RULES_MAX_FIELD_BYTES (64 * 1024)

/* PCRE2's match limit for every match. A catastrophic pattern stops with an
 * error within a few milliseconds, and no sane pattern comes near it. */
#define PD_RULES_MATCH_LIMIT 100000

/* Matched text kept in a result is cut to this many bytes (at a character
 * boundary), enough to show why a rule matched without copying a body. */
#define PD_RULES_MAX_MATCH_BYTES 200

typedef struct pd_rules pd_rules_t;

/* One rule that matched a message. */
typedef struct {
  char *name;   /* owned: the rule's name */
  char *file;   /* owned: the rule file's name inside the folder, e.g. "severity.rules" */
  guint line;   /* the line of "rule NAME" in that file */
  char *field;  /* owned: the field that matched: "subject", "body", "from",
                   "from-address", "from-name", "header:NAME", "attachment-name",
                   "attachment-type"; for a rule that matched through a
                   negated condition only, the fields of that condition */
  char *match;  /* owned, valid UTF-8: the matched text (at most
                   PD_RULES_MAX_MATCH_BYTES), line breaks and tabs turned
                   into spaces; "" for a negated condition */
} pd_rule_match_t;

/* What the rules say about one message. Fill it with pd_rules_classify()
 * and release it with pd_classification_clear(). */
typedef struct {
  int severity;         /* 1 or 2: the most severe any matching rule sets;
                           2 when none sets one */
  char *severity_rule;  /* owned: name of the rule that set the severity
                           (the first in file order among the most severe);
                           NULL when no rule set one */
  GPtrArray *rules;     /* owned, of pd_rule_match_t*: every rule that matched,
                           in file order, up to and including a rule with stop */
  GPtrArray *tags;      /* owned, of char*: the matched rules' tags, each once,
                           in order of first appearance */
  bool no_ack;          /* a matched rule said no-ack */
  bool auto_reply;      /* a matched rule said auto-reply: the message is an
                           automatic reply (rules/auto-reply.rules) */
  guint cut_off;        /* matches abandoned at the match limit (counted as
                           not matching; each rule is logged once) */
} pd_classification_t;

/* Reads every "*.rules" file in 'dir', in name order, and compiles the
 * rules. A folder without any rule file is an error: postdesk never runs
 * without rules by accident. On failure *out is NULL and 'err'
 * (PD_ERROR_PARSE, or PD_ERROR_IO when the folder cannot be read) holds
 * every problem found, one "file:line:column: message" per line, where
 * 'file' is the path built from 'dir'. */
bool pd_rules_load (const char *dir, pd_rules_t **out, GError **err);

/* The same for rule text held in memory; 'name' is the file name used in
 * messages and results (borrowed for the call). */
bool pd_rules_load_string (const char *name, const char *text, pd_rules_t **out, GError **err);

void pd_rules_free (pd_rules_t *rules);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (pd_rules_t, pd_rules_free)

/* The number of rules in the set. */
guint pd_rules_count (const pd_rules_t *rules);

/* Classifies 'msg' (borrowed for the call): fills *out (its previous
 * contents are not freed) and returns out->severity. Pure CPU: no I/O, no
 * lock held while matching; safe to call from many threads at once. */
int pd_rules_classify (const pd_rules_t *rules, const pd_message_t *msg, pd_classification_t *out);

/* Frees what *c owns and zeroes it; safe on a zeroed struct. */
void pd_classification_clear (pd_classification_t *c);

/* The classification as one JSON object, for a ticket's history:
 * {"severity":1,"severity_rule":"...","rules":[{"name","file","line",
 * "field","match"}],"tags":[...],"no_ack":false} (transfer full). */
char *pd_classification_to_json (const pd_classification_t *c);
/* The same as a json-glib tree (transfer full). */
JsonNode *pd_classification_to_node (const pd_classification_t *c);

/* Profiling, for the benchmark: while enabled, every rule adds the time it
 * takes to its counters (at some cost per rule). pd_rules_slowest() names
 * the rule with the most time so far (borrowed from rules) and its total
 * nanoseconds and evaluations; NULL when nothing was measured. */
void pd_rules_set_profiling (pd_rules_t *rules, bool on);
const char *pd_rules_slowest (const pd_rules_t *rules, guint64 *ns, guint64 *evaluations);

#endif
