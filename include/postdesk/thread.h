/* thread.h - which ticket a message belongs to.
 *
 * In order: the subject token [SUP-N] of an existing ticket; the Message-ID
 * of a stored message (ours included) in In-Reply-To, then References from
 * the newest, then the original of a bounce; a plus-address support+N@.
 * A token or plus-address is easy to copy, so when one comes from a sender
 * who is neither a participant, nor staff, nor of the requester's
 * organisation, the message opens a new ticket linked to N instead. A
 * Message-ID is proof of having the mail itself, so it is trusted as is.
 * Last, a message that a stored reply names in its In-Reply-To or
 * References (the reply came first, in an import out of order) joins that
 * reply's ticket; that id could have been guessed, so the stranger rule
 * applies to it as to a token.
 */
#ifndef POSTDESK_THREAD_H
#define POSTDESK_THREAD_H

#include "postdesk/config.h"
#include "postdesk/mime.h"
#include "postdesk/store.h"

typedef struct {
  gint64 ticket_id;   /* the ticket to join; 0 to open a new one */
  gint64 linked_to;   /* for a new ticket: the ticket a stranger's token named, else 0 */
  const char *how;    /* static: token|in-reply-to|references|bounce|plus-address|
                         referenced-by|new|stranger */
} pd_thread_t;

bool pd_thread_find (pd_store_t *store, const pd_config_t *cfg,
                     const pd_message_t *msg, pd_thread_t *out, GError **err);

/* N from the first "[PREFIX-N]" in 'subject' (case-insensitive), else 0. */
gint64 pd_thread_subject_token (const char *subject, const char *prefix);

/* N from "local+N@domain" when local@domain is the support address, else 0. */
gint64 pd_thread_plus_address (const char *address, const char *support_address);

/* The subject for display: reply and forward prefixes (Re:, Fwd:, Fw:, AW:,
 * WG:, SV:, VS:, Antw:, RE[2]: ...) and ticket tokens removed, white space
 * folded. Never NULL. (transfer full) */
char *pd_thread_normalize_subject (const char *subject, const char *prefix);

#endif
