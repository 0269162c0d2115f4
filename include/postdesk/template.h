/* template.h - the messages postdesk sends, as files an admin edits.
 *
 * A template is a complete message: header lines ("Name: value"), one
 * blank line, then the body. Text between {{ and }} is a tag of a small,
 * strict subset of Mustache:
 *
 *   {{name}}              the value of a variable
 *   {{#name}}...{{/name}} a section: rendered when the value is true, a
 *                         non-empty text, or (for tags) once per tag
 *   {{^name}}...{{/name}} an inverted section: rendered when it is not
 *   {{#tag:NAME}}...{{/tag:NAME}}  rendered when a rule gave the ticket
 *                         the tag NAME ({{^tag:NAME}}: when it did not)
 *   {{! a comment }}      nothing
 *
 * The variables are a fixed set (pd_template_variables()); a name outside
 * it is a load error, so a typo is found by `postdesk templates check`
 * and never reaches a customer. There is no escaping (the mail is plain
 * text), no partials and no delimiter changes. A line that holds nothing
 * but one section, closing or comment tag is left out of the output whole,
 * as in Mustache, so sections can stand on their own lines.
 *
 * A value that was never set renders as an empty text, false or no tags:
 * empty is how a caller says "unknown" (no resolution target for a
 * Severity 2 ticket, no customer zone), and a template tests for it with a
 * section.
 *
 * Inserted values can never change the shape of the message: in a header
 * every line break and tab becomes a space and every other control
 * character is removed, so a value cannot add a header or a line; in the
 * body newlines stay and other control characters are removed. Bidi
 * overrides and isolates go everywhere.
 */
#ifndef POSTDESK_TEMPLATE_H
#define POSTDESK_TEMPLATE_H

#include "postdesk/common.h"

/* A template file larger than this is refused: templates are short
 * letters, and the limit keeps a mistaken file (a log, a binary) out. */
#define PD_TEMPLATE_MAX_BYTES (64 * 1024)

/* Sections nested deeper than this are refused. */
#define PD_TEMPLATE_MAX_DEPTH 16

/* A rendered message larger than this is refused: only a list of tags
 * repeats text, and no letter needs a megabyte. */
#define PD_TEMPLATE_MAX_OUTPUT (1024 * 1024)

typedef enum {
  PD_TVAR_TEXT,  /* {{name}} inserts it; a section tests it for being non-empty */
  PD_TVAR_BOOL,  /* only in sections: {{#name}} and {{^name}} */
  PD_TVAR_LIST,  /* the tags: {{name}} inserts them space-separated; a
                    section repeats once per item with {{tag}} set */
} pd_tvar_kind_t;

typedef struct {
  const char *name;         /* borrowed: static */
  pd_tvar_kind_t kind;
  const char *description;  /* borrowed: static, one sentence for people */
} pd_tvar_info_t;

/* The fixed set of variables, ending with an entry whose name is NULL.
 * (borrowed: static) */
const pd_tvar_info_t *pd_template_variables (void);

/* ---- values ------------------------------------------------------------ */

/* The values one message is rendered with. */
typedef struct pd_tvars pd_tvars_t;

pd_tvars_t *pd_tvars_new (void);
void pd_tvars_free (pd_tvars_t *vars);  /* NULL-safe */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (pd_tvars_t, pd_tvars_free)

/* Sets a text variable (the value is copied; NULL means empty). Naming a
 * variable that is not in the set, or one of another kind, is a bug in
 * the caller: it logs a critical and returns false. */
bool pd_tvars_set (pd_tvars_t *vars, const char *name, const char *value);
bool pd_tvars_set_int (pd_tvars_t *vars, const char *name, gint64 value);
bool pd_tvars_set_bool (pd_tvars_t *vars, const char *name, bool value);
/* Appends one tag to the 'tags' list (copied). */
void pd_tvars_add_tag (pd_tvars_t *vars, const char *tag);

/* ---- templates --------------------------------------------------------- */

typedef struct pd_template pd_template_t;
typedef struct pd_templates pd_templates_t;

/* Parses one template from 'text'; 'path' names it in problems ("path:line:
 * message", every problem of the text in one error, PD_ERROR_PARSE) and
 * its file name without ".tmpl" is the template's name. (transfer full) */
bool pd_template_parse (const char *path, const char *text, gsize len, pd_template_t **out,
                        GError **err);
void pd_template_free (pd_template_t *t);  /* NULL-safe */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (pd_template_t, pd_template_free)

/* The name: "ack" for ack.tmpl. (borrowed from t) */
const char *pd_template_name (const pd_template_t *t);

/* Reads every *.tmpl file in 'dir'. Every problem of every file is in the
 * one error (PD_ERROR_PARSE), one per line as "file:line: message"; a
 * folder without ack.tmpl is a problem too, since every new ticket needs
 * its acknowledgement. A folder that cannot be read is PD_ERROR_IO. On
 * failure *out is NULL. (transfer full) */
bool pd_templates_load (const char *dir, pd_templates_t **out, GError **err);
void pd_templates_free (pd_templates_t *set);  /* NULL-safe */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (pd_templates_t, pd_templates_free)

guint pd_templates_count (const pd_templates_t *set);
/* The template called 'name', or NULL. (borrowed from set) */
const pd_template_t *pd_templates_get (const pd_templates_t *set, const char *name);

/* The loader for a pd_reloadable_t holding templates: pd_templates_load()
 * on 'source' (a folder). Free values with pd_templates_free. */
gpointer pd_templates_reload_load (const char *source, GError **err);

/* ---- rendering --------------------------------------------------------- */

typedef struct {
  char *name;   /* owned: as the template wrote it */
  char *value;  /* owned: one line, UTF-8, no control characters */
} pd_template_header_t;

typedef struct {
  char *subject;      /* owned: one line, UTF-8, no control characters, never empty */
  GPtrArray *headers; /* owned, of pd_template_header_t*: the other headers, in
                         template order */
  char *body;         /* owned: UTF-8 with "\n" line ends, ending in one "\n" */
} pd_rendered_t;

/* Renders 't' with 'vars'. Fails (PD_ERROR_REJECTED, naming the template)
 * when the Subject comes out empty or the message over
 * PD_TEMPLATE_MAX_OUTPUT; *out is then NULL. (transfer full) */
bool pd_template_render (const pd_template_t *t, const pd_tvars_t *vars, pd_rendered_t **out,
                         GError **err);
void pd_rendered_free (pd_rendered_t *r);  /* NULL-safe */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (pd_rendered_t, pd_rendered_free)

/* The value of the rendered header 'name' (case-insensitive; "Subject"
 * too), or NULL. (borrowed from r) */
const char *pd_rendered_header (const pd_rendered_t *r, const char *name);

/* Header names a template may set: Subject (required), Organization and
 * X-... except X-Auto-Response-Suppress. Everything else either comes from
 * postdesk itself (From, To, Reply-To, Date, Message-ID, In-Reply-To,
 * References, Auto-Submitted, MIME and transport headers) or would send
 * mail elsewhere (Cc, Bcc). Case-insensitive. */
bool pd_template_header_allowed (const char *name);

#endif
