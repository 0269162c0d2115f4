/* bounces.h - delivery failures that come back by mail. A bounce that
 * returns one of postdesk's own messages marks its outbox row bounced and
 * tells the ticket; a permanent failure puts the address on the
 * suppression list, and postdesk sends it nothing more until an admin
 * lifts it (postdesk suppressed remove). */
#ifndef POSTDESK_BOUNCES_H
#define POSTDESK_BOUNCES_H

#include "postdesk/mime.h"
#include "postdesk/store.h"

/* Whether a failure is permanent: its enhanced status code is 5.x.x. A
 * report without one is read from its diagnostic: an SMTP reply (5xx) or
 * an enhanced code (5.x.x) in it counts; anything else does not, because
 * suppressing a working address silences a customer, while not
 * suppressing a dead one costs only one more bounce. Both may be NULL. */
bool pd_bounce_is_permanent (const char *status, const char *diagnostic);

/* For a stored bounce 'msg' (msg->bounce; borrowed): when the message it
 * returns is one postdesk sent (an outbox row with that Message-ID), marks
 * the row bounced with the failed recipient, status and diagnostic, adds a
 * "bounced" event to the row's ticket at 'at' (detail: outbox_id,
 * message_id, recipient, status, diagnostic, permanent, suppressed) and,
 * for a permanent failure, suppresses the address. The address suppressed
 * is the row's recipient the report names, or the row's only recipient
 * when the report names none of them (a forwarding address failed further
 * on). *outbox_id (may be NULL) is the row, 0 when the bounce returns no
 * mail of postdesk's. In the caller's transaction. */
bool pd_bounce_record (pd_store_t *store, const pd_message_t *msg, pd_time_t at, gint64 *outbox_id,
                       GError **err);

/* Why nothing is sent to a suppressed address, for events:
 * "the address is suppressed after a bounce: 5.1.1 <diagnostic>".
 * (transfer full) */
char *pd_bounce_suppression_reason (const pd_suppression_t *s);

#endif
