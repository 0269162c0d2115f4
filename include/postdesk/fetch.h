/* fetch.h - one mailbox's fetch cycle: what `postdesk fetch` runs once per
 * mailbox and `postdesk run` after every wake-up, on a session it keeps.
 *
 * Exactly once, as far as a crash allows: messages are handed to the
 * pipeline a batch (PD_IMAP_BATCH UIDs) at a time; the batch is committed
 * (pd_pipeline_finish), then the mailbox state (UIDVALIDITY, last UID) is
 * saved in its own transaction right after, then the batch is moved or
 * flagged on the server. The state never runs ahead of the messages: a
 * crash between the commit and the saved state fetches the batch again,
 * and the pipeline recognises every message by its (mailbox, UIDVALIDITY,
 * UID) as a duplicate; a crash before the move leaves messages the next
 * cycle moves (pd_imap_after_pending). A UIDVALIDITY change reads the
 * folder from the start and relies on the same recognition (by content,
 * since the UIDs are new).
 */
#ifndef POSTDESK_FETCH_H
#define POSTDESK_FETCH_H

#include "postdesk/imap.h"
#include "postdesk/pipeline.h"

typedef struct {
  guint32 uidvalidity;       /* the folder's, as selected */
  guint32 previous_uidvalidity; /* what the state said; 0 for a new mailbox */
  guint32 last_uid;          /* saved after the cycle */
  guint fetched;             /* messages handed to the pipeline */
  guint oversized;           /* of which only the header section was fetched */
  guint after_done;          /* moved or flagged, caught-up ones included */
} pd_fetch_report_t;

/* Selects the folder of 'imap' (connected and logged in) and ingests what
 * is new since the saved state through 'pipeline' (borrowed; its store is
 * 'store', which the cycle gives back with no transaction open). An error
 * from the server is in PD_IMAP_ERROR (what to do next: imap.h); a
 * database or pipeline error is the pipeline's. *report is filled as far
 * as the cycle got. */
bool pd_fetch_cycle (pd_imap_t *imap, const pd_config_t *cfg, const pd_config_mailbox_t *mb,
                     pd_pipeline_t *pipeline, pd_store_t *store, pd_fetch_report_t *report, GError **err);

#endif
