/* config.h - postdesk.conf: a GKeyFile, validated whole before anything runs.
 *
 * Unknown sections and keys are errors (a typo must not silently turn a
 * setting off). Relative paths resolve against the folder of the file.
 * Values may carry a trailing comment after whitespace: "SUP   # token".
 */
#ifndef POSTDESK_CONFIG_H
#define POSTDESK_CONFIG_H

#include "postdesk/common.h"

typedef struct pd_config {
  char *path;              /* owned: absolute path of the file read, or NULL for defaults */
  char *dir;               /* owned: folder relative paths resolve against */
  char *database;          /* owned: absolute path */
  char *rules_dir;         /* owned: absolute path */
  char *templates_dir;     /* owned: absolute path */
  char *support_address;   /* owned, lower-case */
  char *support_name;      /* owned */
  char *ticket_prefix;     /* owned, e.g. "SUP" */
  gint64 max_message_bytes;
  char **staff_domains;    /* owned, NULL-terminated, lower-case */
  char **staff_addresses;  /* owned, NULL-terminated, lower-case */
  char **public_domains;   /* owned, NULL-terminated, lower-case: never "the same organisation" */
  char *transport_url;     /* owned: [transport] url with its path made absolute
                            * (pd_transport_url_check), NULL when not set */
  char **fallback_charsets; /* owned, NULL-terminated: how text mislabelled UTF-8 is read */
} pd_config_t;

/* Finds the configuration file: 'explicit_path' (from --config) if given,
 * else $POSTDESK_CONFIG, else ./postdesk.conf, else /etc/postdesk/postdesk.conf.
 * Returns the path (transfer full), or NULL with a PD_ERROR_CONFIG error
 * naming every place tried. */
char *pd_config_find (const char *explicit_path, GError **err);

/* Reads and validates 'path'. On failure *out is NULL and the error
 * (PD_ERROR_CONFIG) names the file, the line where it can, and the key. */
bool pd_config_load (const char *path, pd_config_t **out, GError **err);

/* The known key of [section] nearest to the misspelt 'key' (or, with 'key'
 * NULL, the known section nearest to 'section'), for "did you mean"; NULL
 * when none is close (more than a third of the word differs).
 * (borrowed: static) */
const char *pd_config_suggest (const char *section, const char *key);

/* The built-in defaults, for commands that can run without a file. */
pd_config_t *pd_config_new_default (void);

void pd_config_free (pd_config_t *cfg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (pd_config_t, pd_config_free)

/* True when 'address' is an engineer: listed in [staff] addresses or in one
 * of [staff] domains. Case-insensitive. */
bool pd_config_is_staff (const pd_config_t *cfg, const char *address);

/* True when 'domain' is a public mail provider (gmail.com, ...). */
bool pd_config_is_public_domain (const pd_config_t *cfg, const char *domain);

/* True when 'address' is the support address itself or a plus-address of it. */
bool pd_config_is_support_address (const pd_config_t *cfg, const char *address);

#endif
