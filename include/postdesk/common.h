/* common.h - what every postdesk module shares: the error domain, ownership
 * conventions and the cleanup functions GMime does not declare itself.
 *
 * Conventions used in every header:
 *   - A function that can fail returns bool and sets a GError (domain PD_ERROR)
 *     at the place that knows what went wrong; out-parameters are set to NULL
 *     or 0 on failure.
 *   - Each pointer says who owns it: "owned" (the struct frees it), "borrowed"
 *     (valid while the named owner lives), "transfer full" (caller frees).
 *   - Every *_free function accepts NULL.
 */
#ifndef POSTDESK_COMMON_H
#define POSTDESK_COMMON_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#define PD_ERROR (pd_error_quark ())
GQuark pd_error_quark (void);

typedef enum {
  PD_ERROR_USAGE,     /* bad command line: exit status 2 */
  PD_ERROR_CONFIG,    /* bad or missing configuration: exit status 2 */
  PD_ERROR_IO,        /* a file or stream could not be read or written */
  PD_ERROR_DB,        /* SQLite failed */
  PD_ERROR_PARSE,     /* input that is not what it claims to be */
  PD_ERROR_TOO_BIG,   /* input over a configured or built-in limit */
  PD_ERROR_NOT_FOUND, /* no such ticket, message or quarantine entry */
  PD_ERROR_READ_ONLY, /* the work needs write access that was not asked for or given */
  PD_ERROR_REJECTED,  /* the database refused one record (a constraint, a value
                         over a limit): the record is at fault, not the database */
} pd_error_code_t;

/* Exit status for an error: 2 for usage and configuration, 1 otherwise. */
int pd_error_exit_status (const GError *err);

/* Times are UTC Unix seconds everywhere inside postdesk; 0 means "none". */
typedef gint64 pd_time_t;

/* Returns "2026-03-11T23:00:00Z" (transfer full). */
char *pd_time_format (pd_time_t t);
/* Parses ISO 8601 with a zone ("2026-03-06T16:00:00-08:00", "...Z") or a
 * plain date ("2026-03-06", taken as midnight UTC). */
bool pd_time_parse (const char *text, pd_time_t *out, GError **err);
pd_time_t pd_time_now (void);

/* Lower-case hex SHA-256 of the bytes (transfer full). */
char *pd_sha256_hex (const void *data, gsize len);
/* The same for a digest already computed. (transfer full) */
char *pd_sha256_digest_hex (const guint8 digest[32]);

/* The names of the files in 'dir' ending in 'suffix', hidden ones left out,
 * in name order: the files an admin edits (rules, templates) are read in an
 * order they can predict. NULL with PD_ERROR_IO naming the folder (called
 * the 'what' folder) when it cannot be read. (transfer full, of char*) */
GPtrArray *pd_dir_names (const char *dir, const char *suffix, const char *what, GError **err);

/* The edit distance between 'a' and 'b' for "did you mean" (optimal string
 * alignment: an insertion, a deletion, a substitution or a swap of two
 * neighbours each count one), ignoring ASCII case. */
gsize pd_edit_distance (const char *a, const char *b);

/* True when the 'len' bytes at 's' are a name an admin gives a rule or a
 * tag: a letter or digit, then letters, digits, '-', '_' or '.'. Rules
 * and templates share it, so that every tag a rule can give a template
 * can name. */
bool pd_valid_name (const char *s, gsize len);

/* The domain of an address, lower-cased, or NULL when there is no '@'
 * (transfer full). */
char *pd_address_domain (const char *address);

#endif
