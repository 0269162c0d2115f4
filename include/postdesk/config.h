/* config.h - postdesk.conf: a GKeyFile, validated whole before anything runs.
 *
 * Unknown sections and keys are errors (a typo must not silently turn a
 * setting off). Relative paths resolve against the folder of the file.
 * Values may carry a trailing comment after whitespace: "SUP   # token".
 */
#ifndef POSTDESK_CONFIG_H
#define POSTDESK_CONFIG_H

#include "postdesk/common.h"
#include "postdesk/sla.h"

/* A [plan NAME] section: the calendar an SLA is counted on and its targets. */
typedef struct {
  char *name;                    /* owned */
  const pd_calendar_t *calendar; /* borrowed from pd_config_t.calendars */
  bool oncall;                   /* on-call support outside working hours (read, not yet acted on) */
  pd_sla_targets_t sev1;         /* a target the plan does not set has its has_* false */
  pd_sla_targets_t sev2;
} pd_config_plan_t;

/* A [customer NAME] section: who the customer's people are and their contract. */
typedef struct {
  char *name;                   /* owned */
  char **domains;               /* owned, NULL-terminated, lower-case */
  char **addresses;             /* owned, NULL-terminated, lower-case */
  const pd_config_plan_t *plan; /* borrowed from pd_config_t.plans */
  char *timezone;               /* owned, or NULL: deadlines are also shown in this zone */
  pd_sla_targets_t sev1;        /* per-contract overrides: each target with its has_* set */
  pd_sla_targets_t sev2;        /* replaces the plan's */
} pd_config_customer_t;

/* What happens on the server to a message once it is committed. */
typedef enum {
  PD_MAILBOX_AFTER_SEEN, /* flag:seen: set \Seen, the message stays */
  PD_MAILBOX_AFTER_MOVE, /* move:FOLDER */
} pd_mailbox_after_t;

/* A [mailbox NAME] section: one IMAP folder postdesk reads (imap.h). */
typedef struct {
  char *name;              /* owned: the NAME, recorded on every message */
  char *url;               /* owned: as written, for messages */
  bool implicit_tls;       /* imaps:// (true) or imap:// with STARTTLS required */
  char *host;              /* owned */
  guint16 port;            /* 993 or 143 unless the URL says */
  char *folder;            /* owned: e.g. "INBOX" (ASCII: no modified UTF-7) */
  char *username;          /* owned */
  char *password_file;     /* owned, absolute, or NULL */
  char **password_command; /* owned argv (run without a shell), or NULL */
  char *ca_file;           /* owned, absolute, or NULL: the system trust store */
  bool tls_none;           /* tls = none: plain text, loopback hosts only */
  pd_mailbox_after_t after;
  char *after_folder;      /* owned: the FOLDER of move:FOLDER, else NULL */
  bool idle;               /* IDLE when the server has it */
  int poll_interval;       /* seconds between polls without IDLE */
  gint64 ack_max_age;      /* seconds: older mail is not acknowledged */
} pd_config_mailbox_t;

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
  char *transport_username;      /* owned: [transport] username, or NULL */
  char *transport_password_file; /* owned: absolute path, or NULL */
  char *transport_ca_file;       /* owned: absolute path, or NULL: the system trust store */
  bool transport_tls_none;       /* [transport] tls = none (loopback SMTP only) */
  char **fallback_charsets; /* owned, NULL-terminated: how text mislabelled UTF-8 is read */
  char **system_addresses; /* owned, NULL-terminated, lower-case: never acknowledged */
  int ack_limit_per_hour;  /* acknowledgements one sender may receive in an hour */
  int ack_limit_per_day;   /* ... and in a day */
  char *default_plan;      /* owned: the plan of senders of no configured customer */
  GPtrArray *calendars;    /* owned: pd_calendar_t, built-in ones first, each name once */
  GPtrArray *plans;        /* owned: pd_config_plan_t, each name once */
  GPtrArray *customers;    /* owned: pd_config_customer_t, each name once */
  GPtrArray *mailboxes;    /* owned: pd_config_mailbox_t, each name once, in file order */
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

/* True when 'address' is listed in [postdesk] system_addresses. */
bool pd_config_is_system_address (const pd_config_t *cfg, const char *address);

/* The calendar, plan or customer of that name, or NULL.
 * (borrowed: valid while 'cfg' lives) */
const pd_calendar_t *pd_config_calendar (const pd_config_t *cfg, const char *name);
const pd_config_plan_t *pd_config_plan (const pd_config_t *cfg, const char *name);
const pd_config_customer_t *pd_config_customer (const pd_config_t *cfg, const char *name);
const pd_config_mailbox_t *pd_config_mailbox (const pd_config_t *cfg, const char *name);

/* The customer 'sender_address' belongs to: the one listing the address
 * itself, else the one listing its domain (both case-insensitive; a
 * subdomain is not included), else NULL. (borrowed: valid while 'cfg' lives) */
const pd_config_customer_t *pd_config_customer_for (const pd_config_t *cfg, const char *sender_address);

/* The SLA for mail from 'sender_address' (may be NULL: no customer): the
 * customer's plan with the customer's overrides applied, or the default
 * plan for a sender of no configured customer. Every pointer in *out is
 * borrowed from 'cfg'. False, with *out zeroed, only when the plan or its
 * calendar is missing, which a configuration from pd_config_load never
 * allows (a built-in calendar needs tzdata; pd_config_new_default warns). */
bool pd_config_sla_for (const pd_config_t *cfg, const char *sender_address, pd_sla_t *out);

#endif
