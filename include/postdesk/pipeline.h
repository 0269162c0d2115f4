/* pipeline.h - one raw message through every stage: size check, MIME,
 * threading, store; or into quarantine with the reason. Every source
 * (files, and IMAP later) and `quarantine retry` go through here.
 *
 * Messages are committed in batches: the pipeline opens a transaction on the
 * first message and commits every PD_PIPELINE_BATCH messages or
 * PD_PIPELINE_BATCH_MS milliseconds, and at pd_pipeline_flush(). Each message
 * runs in its own savepoint, so one that fails halfway leaves nothing behind
 * and does not disturb the rest of its batch. A crash loses at most the
 * uncommitted batch, which re-ingesting the same input restores exactly
 * because ingest is idempotent.
 *
 * Bulk sources use two cores: pd_pipeline_submit() reads, parses and hashes
 * a message in the calling thread and hands it to a writer thread that owns
 * the store until pd_pipeline_finish(). Threading decisions depend on what
 * came before, so the writer takes messages strictly in submission order. */
#ifndef POSTDESK_PIPELINE_H
#define POSTDESK_PIPELINE_H

#include "postdesk/config.h"
#include "postdesk/reload.h"
#include "postdesk/store.h"

#define PD_PIPELINE_BATCH 500
#define PD_PIPELINE_BATCH_MS 1000
/* Raw bytes waiting for the writer, at most; memory stays flat however
 * large the mailbox (one message over the limit still goes through alone). */
#define PD_PIPELINE_QUEUE_BYTES (2 * 1024 * 1024)

typedef struct pd_pipeline pd_pipeline_t;

typedef enum {
  PD_OUTCOME_NEW_TICKET,
  PD_OUTCOME_THREADED,
  PD_OUTCOME_DUPLICATE,
  PD_OUTCOME_QUARANTINED,
} pd_outcome_t;

/* Counts of committed messages only: what a summary may call stored. */
typedef struct {
  guint new_tickets, threaded, duplicates, quarantined;
  guint rolled_back;   /* stored in a batch that was then rolled back (an
                          error stopped the run): a rerun stores them */
} pd_pipeline_stats_t;

/* 'cfg' and 'store' are borrowed and must outlive the pipeline. */
pd_pipeline_t *pd_pipeline_new (const pd_config_t *cfg, pd_store_t *store);
/* Stops the writer if one runs and rolls back an uncommitted batch: call
 * pd_pipeline_flush() or pd_pipeline_finish() first to keep it. */
void pd_pipeline_free (pd_pipeline_t *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (pd_pipeline_t, pd_pipeline_free)

/* Classifies every message with the severity rules in force in 'rules'
 * (borrowed, must outlive the pipeline; NULL: every ticket opens as
 * Severity 2). The rules run on the parsing thread; a SIGHUP noted by
 * pd_reload_watch_sighup reloads them before the next message. */
void pd_pipeline_set_rules (pd_pipeline_t *p, pd_reloadable_t *rules);

/* Acknowledges customers' new tickets with the templates in force in
 * 'templates' (borrowed, must outlive the pipeline; NULL: nothing is
 * acknowledged), in the transaction that stores the message. */
void pd_pipeline_set_templates (pd_pipeline_t *p, pd_reloadable_t *templates);

/* 'no_ack' (copied; NULL for none) is why this run acknowledges nothing,
 * such as "ingest --no-ack"; mail that arrived more than 'max_age' seconds
 * ago (0: no limit) is not acknowledged either. Either way each ticket gets
 * an event with the reason. */
void pd_pipeline_set_ack_policy (pd_pipeline_t *p, const char *no_ack, gint64 max_age);

/* Ingests one message. Returns false only when it could not be handled at
 * all (a database error), with nothing of it stored; bad mail is not an
 * error, it is quarantined. *ticket_id (may be NULL) receives the ticket
 * the message now belongs to, or for a quarantined one the quarantine id.
 *
 * 'arrival' is borrowed for the call. When its received_at is 0 the
 * message's Date header is taken, unless it is missing or in the future,
 * and then the time of ingest. When its true_size is larger than 'len',
 * 'raw' is only the first bytes of a message over the size limit: it is
 * quarantined with its true size and never becomes a ticket. */
bool pd_pipeline_ingest (pd_pipeline_t *p, const char *raw, gsize len,
                         const pd_arrival_t *arrival, pd_outcome_t *outcome,
                         gint64 *ticket_id, GError **err);

/* Commits the current batch, if any (synchronous use). */
bool pd_pipeline_flush (pd_pipeline_t *p, GError **err);

/* Parses 'raw' (copied) here and queues it for the writer thread, starting
 * the writer on first use; 'arrival' as for pd_pipeline_ingest(). Blocks while PD_PIPELINE_QUEUE_BYTES are
 * waiting. Returns false once the writer has failed: then the error is the
 * writer's, and nothing more is accepted. */
bool pd_pipeline_submit (pd_pipeline_t *p, const char *raw, gsize len,
                         const pd_arrival_t *arrival, GError **err);

/* Waits for the writer to store everything submitted, commits, and stops
 * it; the store is the caller's again. Returns the writer's error if it
 * failed. */
bool pd_pipeline_finish (pd_pipeline_t *p, GError **err);

/* Read after finish (or between synchronous ingests). */
const pd_pipeline_stats_t *pd_pipeline_stats (pd_pipeline_t *p);

#endif
