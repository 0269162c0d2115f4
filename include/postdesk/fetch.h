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

/* ---- one mailbox being watched ------------------------------------------------
 * What `postdesk fetch` and `postdesk run` keep per mailbox between cycles:
 * the session (reused while it works), and after a failure when to try
 * again. A watch is used by one thread at a time. */
typedef struct pd_fetch_watch pd_fetch_watch_t;

/* A watch of 'mb' (borrowed: must outlive the watch), not connected yet. */
pd_fetch_watch_t *pd_fetch_watch_new (const pd_config_mailbox_t *mb);
/* Logs out if connected, and frees. NULL-safe. */
void pd_fetch_watch_free (pd_fetch_watch_t *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (pd_fetch_watch_t, pd_fetch_watch_free)

/* (borrowed: the configuration's) */
const pd_config_mailbox_t *pd_fetch_watch_mailbox (const pd_fetch_watch_t *w);

/* What one cycle did, for the summary. */
typedef struct {
  bool ran;                    /* the cycle got past connecting and logging in */
  pd_fetch_report_t report;    /* valid when 'ran' */
  pd_pipeline_stats_t stats;   /* committed by the cycle's pipeline */
} pd_fetch_outcome_t;

/* Whether a cycle is due: not given up, and connected or its backoff over. */
bool pd_fetch_watch_due (const pd_fetch_watch_t *w);
/* A TLS failure: nothing is tried again until the configuration changes. */
bool pd_fetch_watch_given_up (const pd_fetch_watch_t *w);

/* Connects and logs in if the watch has no session, then runs one
 * pd_fetch_cycle through a pipeline of its own with 'rules' and
 * 'templates' (borrowed, may be NULL; a SIGHUP taken by the pipeline
 * reloads them) and the mailbox's ack policy. *outcome says what was
 * committed, also after an error. A success ends any backoff; after an
 * error call pd_fetch_watch_failed. */
bool pd_fetch_watch_cycle (pd_fetch_watch_t *w, const pd_config_t *cfg, pd_store_t *store,
                           pd_reloadable_t *rules, pd_reloadable_t *templates, pd_fetch_outcome_t *outcome,
                           GError **err);

/* After a failed cycle or wait with error 'e': drops the session and
 * decides when to try again. Returns the seconds until then, or 0 when
 * the watch gives up (a TLS failure: pd_fetch_watch_given_up). */
int pd_fetch_watch_failed (pd_fetch_watch_t *w, const GError *e);

/* Seconds until the watch wants its next cycle: the rest of its backoff
 * when disconnected, its poll_interval when connected, -1 when given up. */
int pd_fetch_watch_next (const pd_fetch_watch_t *w);

/* Whether the watch has a session to wait on (pd_fetch_watch_wait). */
bool pd_fetch_watch_connected (const pd_fetch_watch_t *w);

/* Waits on the session for new mail (pd_imap_wait): in IDLE, up to 28
 * minutes, when the mailbox allows it and the server has it, else up to
 * the poll_interval; never longer than 'max_seconds' (> 0; or 0: no limit
 * of the caller's), and returns early when 'interrupt_fd' becomes
 * readable. An error is the session's: call pd_fetch_watch_failed. */
bool pd_fetch_watch_wait (pd_fetch_watch_t *w, int max_seconds, int interrupt_fd, GError **err);

/* The summary of one cycle, for a person: "nothing new in mailbox NAME"
 * or "ingested N messages from mailbox NAME: ...". (transfer full) */
char *pd_fetch_summary (const pd_config_mailbox_t *mb, const pd_fetch_outcome_t *o);

#endif
