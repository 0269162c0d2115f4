/* sender.h - the one sender of a database: delivers the outbox through the
 * configured [transport], for `postdesk send` and `postdesk run`.
 *
 * Each due row is claimed (marked sending in its own transaction), handed
 * to the transport, and marked sent only after the transport accepted it;
 * a failure is recorded on the row with its retry class. One sender runs
 * per database, held by a lock file beside it ('<database>.send-lock'), so
 * that rows a killed sender left "sending" can safely be queued again when
 * the next one opens.
 */
#ifndef POSTDESK_SENDER_H
#define POSTDESK_SENDER_H

#include <signal.h>

#include "postdesk/config.h"
#include "postdesk/store.h"

#define PD_SENDER_ERROR (pd_sender_error_quark ())
GQuark pd_sender_error_quark (void);

typedef enum {
  /* Another process holds the sender lock of this database. */
  PD_SENDER_ERROR_LOCKED,
  /* The lock file cannot be opened or locked. */
  PD_SENDER_ERROR_LOCK,
} pd_sender_error_t;

typedef struct pd_sender pd_sender_t;

/* Takes the sender lock, opens the transport of cfg->transport_url (which
 * must be set) and queues again the rows a killed sender left "sending"
 * (*recovered, may be NULL, says how many). 'cfg' and 'store' are
 * borrowed and must outlive the sender. On failure *out is NULL and 'err'
 * is PD_SENDER_ERROR (the lock), the transport's error (PD_ERROR for its
 * configuration, PD_TRANSPORT_ERROR otherwise) or the store's. */
bool pd_sender_open (const pd_config_t *cfg, pd_store_t *store, pd_sender_t **out, guint *recovered,
                     GError **err);

/* Closes the transport and releases the lock. NULL-safe. */
void pd_sender_free (pd_sender_t *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (pd_sender_t, pd_sender_free)

/* What one round of delivery ended with. */
typedef enum {
  PD_SEND_DONE,        /* nothing more is due */
  PD_SEND_UNAVAILABLE, /* the transport cannot deliver now; the rest waits */
  PD_SEND_STOPPED,     /* *stop was set */
  PD_SEND_DB_ERROR,    /* the database failed: 'err' says how */
} pd_send_round_t;

/* Delivers everything due now, oldest first, until nothing is due, the
 * transport is unavailable, or *stop (may be NULL; set by a signal) is
 * set: checked between messages, never during one, after dispatching the
 * default GLib main context (where g_unix_signal_add handlers run). Each
 * failure is logged with the outbox id, ticket, recipients and reason.
 * The transport's connection is closed at the end of the round, not held
 * while idle. */
pd_send_round_t pd_sender_round (pd_sender_t *s, const volatile sig_atomic_t *stop, GError **err);

/* What the sender did since it was opened. */
typedef struct {
  guint sent;   /* accepted by the transport */
  guint later;  /* failed for now, queued for a retry */
  guint failed; /* failed for good (permanent, given up, suppressed) */
} pd_sender_counts_t;

pd_sender_counts_t pd_sender_counts (const pd_sender_t *s);

#endif
