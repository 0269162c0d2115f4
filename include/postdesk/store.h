/* store.h - the SQLite database: tickets, messages, raw bytes, events,
 * outbox, mailbox state and quarantine. Only ingest/store*.c include
 * sqlite3.h: store.c opens and migrates, one file per kind of record.
 *
 * Every write happens inside pd_store_begin()/pd_store_commit() (BEGIN
 * IMMEDIATE); callers group many messages into one transaction and isolate
 * each message with a savepoint, so a batch is committed durably at once
 * (synchronous=FULL) and one bad message never rolls back its neighbours.
 * All SQL is prepared once with bound parameters; nothing is ever spliced.
 */
#ifndef POSTDESK_STORE_H
#define POSTDESK_STORE_H

#include "postdesk/common.h"
#include "postdesk/mime.h"

typedef struct pd_store pd_store_t;

/* How a command opens the database. Only the commands that store mail
 * (init, ingest, the daemon) create one; every other command opening a
 * missing file is a mistyped path, and says so instead of showing an empty
 * desk. */
typedef enum {
  PD_STORE_READ,    /* an existing database, read-only: works on a read-only
                       file or mount, for a support lead or a backup */
  PD_STORE_WRITE,   /* an existing database, read-write */
  PD_STORE_CREATE,  /* read-write, created when missing; its folder must exist */
} pd_store_mode_t;

/* Opens and migrates the database at 'path'. A file that is not a postdesk
 * database (another program's SQLite file) is refused untouched. A reader
 * of a database that needs a schema upgrade upgrades it first when it can
 * write. On failure *out is NULL and 'err' says why, naming the file:
 * PD_ERROR_NOT_FOUND for a missing file or folder, PD_ERROR_READ_ONLY when
 * writing was needed and is not possible, PD_ERROR_DB otherwise. */
bool pd_store_open_mode (const char *path, pd_store_mode_t mode, pd_store_t **out, GError **err);
/* The same with PD_STORE_CREATE. */
bool pd_store_open (const char *path, pd_store_t **out, GError **err);
void pd_store_free (pd_store_t *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (pd_store_t, pd_store_free)

/* The schema version after migration (PRAGMA user_version). */
int pd_store_schema_version (pd_store_t *store);

/* ---- transactions ---------------------------------------------------- */
bool pd_store_begin (pd_store_t *store, GError **err);     /* BEGIN IMMEDIATE */
bool pd_store_commit (pd_store_t *store, GError **err);
void pd_store_rollback (pd_store_t *store);                 /* no-op outside a transaction */
bool pd_store_in_transaction (pd_store_t *store);
/* One message's work inside a batch: SAVEPOINT msg / RELEASE / ROLLBACK TO. */
bool pd_store_savepoint (pd_store_t *store, GError **err);
bool pd_store_release (pd_store_t *store, GError **err);
void pd_store_rollback_savepoint (pd_store_t *store);

/* Moves WAL checkpoints (copying committed pages into the database file,
 * and syncing it) to a thread with its own connection, so that a bulk
 * import never waits for them: its commits only append to the WAL. Off
 * again (checkpoints at commit, as SQLite does by default) with on=false,
 * and always by pd_store_free. */
bool pd_store_background_checkpoints (pd_store_t *store, bool on, GError **err);

/* ---- plain records handed to and from the store ---------------------- */

typedef struct {
  gint64 id;
  char *subject;               /* owned: normalised subject */
  char *status;                /* owned: new|open|pending|solved|closed */
  int severity;                /* 1 or 2 */
  char **severity_rules;       /* owned, NULL-terminated: rule names that set it */
  char **tags;                 /* owned, NULL-terminated: from the rules (and engineers, later) */
  pd_address_t requester;      /* fields owned */
  char *customer;              /* owned, NULL until customers exist */
  char *plan;                  /* owned, NULL until plans exist */
  pd_time_t created_at;        /* arrival of the message that opened it */
  pd_time_t updated_at;
  pd_time_t first_response_due;  /* 0 = none */
  pd_time_t resolution_due;      /* 0 = none */
  pd_time_t first_response_at;   /* 0 = none yet */
  gint64 linked_to;            /* 0 = none */
  char *mailbox;               /* owned: mailbox the opening message came from, NULL for files */
  gint64 message_count;
  char *opened_by;             /* owned: customer|staff|auto-reply|bulk|bounce */
  pd_time_t clock_started_at;  /* when the SLA clock started; 0 = not started */
} pd_ticket_t;
void pd_ticket_free (pd_ticket_t *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (pd_ticket_t, pd_ticket_free)

typedef struct {
  gint64 id;
  gint64 ticket_id;
  char *message_id;      /* owned */
  char *direction;       /* owned: "in" | "out" */
  char *kind;            /* owned: customer|staff|auto-reply|bounce|ack|relay|notice */
  pd_address_t from;     /* fields owned */
  char *subject;         /* owned */
  pd_time_t received_at;
  pd_time_t date;        /* its Date header; 0 when absent */
  char *in_reply_to;     /* owned, may be NULL */
  char *body_text;       /* owned */
  GPtrArray *attachments;/* owned, of pd_attachment_t* (content NULL) */
} pd_stored_message_t;
void pd_stored_message_free (pd_stored_message_t *m);

typedef struct {
  gint64 id;
  gint64 ticket_id;
  char *kind;            /* owned: ack|relay|notice|... */
  char **to;             /* owned, NULL-terminated addresses */
  char *subject;         /* owned */
  char *message_id;      /* owned */
  char *in_reply_to;     /* owned, may be NULL */
  char *status;          /* owned: queued|sending|sent|failed|bounced */
  int attempts;          /* deliveries tried, successful or not */
  char *last_error;      /* owned, may be NULL: the latest failure, kept after a success */
  char *body_text;       /* owned */
  pd_time_t created_at;
  pd_time_t next_attempt_at;  /* 0 = none (sent or failed) */
  pd_time_t sent_at;          /* 0 = not sent */
  GBytes *raw;           /* owned: the message as it leaves; only from
                          * pd_store_outbox_claim, NULL in lists */
  /* What a bounce that returned it said (status bounced); each owned and
   * NULL when the report did not say, or when it never bounced. */
  char *bounce_recipient;
  char *bounce_status;   /* the enhanced status code, e.g. "5.1.1" */
  char *bounce_diagnostic;
  pd_time_t bounced_at;  /* 0 = never bounced */
} pd_outbox_item_t;
void pd_outbox_item_free (pd_outbox_item_t *o);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (pd_outbox_item_t, pd_outbox_item_free)

typedef struct {
  gint64 id;
  char *reason;          /* owned */
  pd_time_t received_at;
  gint64 size;
  char *mailbox;         /* owned, NULL for files */
  char *origin;          /* owned: the file (and position in an mbox), or the IMAP
                          * mailbox and UID, it came from; NULL when unknown */
  char *message_id;      /* owned: its Message-ID when one could be read, else NULL */
  char *status;          /* owned: held | released */
  gint64 ticket_id;      /* the ticket it became after a retry; for a held entry
                          * over the size limit, the ticket opened from its
                          * headers; else 0 */
} pd_quarantine_item_t;
void pd_quarantine_item_free (pd_quarantine_item_t *q);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (pd_quarantine_item_t, pd_quarantine_item_free)

/* Where an inbound message came from; all borrowed. */
typedef struct {
  pd_time_t received_at;
  const char *mailbox;   /* NULL for files and stdin */
  const char *origin;    /* file path, "path#N" in an mbox, or "-" */
  gint64 uidvalidity;    /* IMAP only, else 0 */
  gint64 uid;            /* IMAP only, else 0 */
  gint64 true_size;      /* when the raw bytes are only the first part of a message
                          * over the size limit: its whole size, which a quarantine
                          * entry records; else 0 */
} pd_arrival_t;

/* ---- raw bytes -------------------------------------------------------- */
/* Stores raw bytes once per SHA-256 and returns their row id; storing the
 * same bytes again returns the existing row. 'sha256' is the lower-case hex
 * digest of the bytes when the caller has it already (ingest computes it on
 * another thread), or NULL to have it computed here. */
bool pd_store_raw_put (pd_store_t *store, const char *raw, gsize len, const char *sha256,
                       gint64 *raw_id, GError **err);
bool pd_store_raw_get (pd_store_t *store, gint64 raw_id, GBytes **out, GError **err);

/* ---- lookups for threading ------------------------------------------- */
/* The ticket holding the oldest message (inbound or outbound) with this
 * Message-ID; *ticket_id is 0 when there is none. */
bool pd_store_find_message (pd_store_t *store, const char *message_id,
                            gint64 *ticket_id, GError **err);
/* The ticket of the oldest message whose In-Reply-To or References name
 * 'message_id': the thread a message joins when its reply came first. */
bool pd_store_find_referencing (pd_store_t *store, const char *message_id,
                                gint64 *ticket_id, GError **err);
/* Hashes raw bytes as pd_mime_content_hash does (transfer full). */
typedef char *(*pd_content_hash_fn) (const char *raw, gsize len);
/* The ticket of an inbound message with this Message-ID and this content
 * hash: the same mail stored before. *ticket_id is 0 when there is none,
 * even if the id is stored with other content. Rows stored before content
 * hashes existed are checked by hashing their raw bytes with 'hash_raw'. */
bool pd_store_find_duplicate (pd_store_t *store, const char *message_id,
                              const char *content_sha256, pd_content_hash_fn hash_raw,
                              gint64 *ticket_id, GError **err);
/* The ticket of the inbound message stored from this IMAP UID, or 0: a
 * UID names one message while UIDVALIDITY holds, so a message fetched
 * again after a crash is recognised by it even if its content hash would
 * not match (a changed hash, a whole message after its headers). */
bool pd_store_find_imap_message (pd_store_t *store, const char *mailbox, gint64 uidvalidity, gint64 uid,
                                 gint64 *ticket_id, GError **err);
bool pd_store_ticket_exists (pd_store_t *store, gint64 ticket_id, bool *exists, GError **err);
/* True when 'address' (case-insensitive) is a participant of the ticket. */
bool pd_store_is_participant (pd_store_t *store, gint64 ticket_id,
                              const char *address, bool *out, GError **err);
/* The requester's address (transfer full). */
bool pd_store_ticket_requester (pd_store_t *store, gint64 ticket_id,
                                char **address, GError **err);

/* ---- writes ----------------------------------------------------------- */
typedef struct {
  const char *subject;           /* normalised */
  const char *requester_name;    /* may be NULL */
  const char *requester_address;
  int severity;                  /* 1 or 2 */
  const char *const *severity_rules; /* NULL-terminated, may be NULL */
  pd_time_t created_at;
  gint64 linked_to;              /* 0 = none */
  const char *mailbox;           /* may be NULL */
  const char *const *tags;       /* NULL-terminated, may be NULL */
  const char *opened_by;         /* customer|staff|auto-reply|bulk|bounce; NULL = customer */
  const char *customer;          /* may be NULL */
  const char *plan;              /* may be NULL */
  pd_time_t clock_started_at;    /* 0 = no clock (a ticket no customer opened) */
  pd_time_t first_response_due;  /* 0 = none */
  pd_time_t resolution_due;      /* 0 = none */
} pd_ticket_new_t;
bool pd_store_ticket_create (pd_store_t *store, const pd_ticket_new_t *t,
                             gint64 *ticket_id, GError **err);

/* Adds an inbound message to a ticket with its attachments' metadata and
 * the Message-IDs it refers to. 'kind' is customer|staff|auto-reply|bounce;
 * 'content_sha256' is pd_mime_content_hash of its raw bytes. Fails with
 * PD_ERROR_DB when the same id with the same content is already stored
 * (callers check pd_store_find_duplicate first). */
bool pd_store_message_add (pd_store_t *store, gint64 ticket_id,
                           const pd_message_t *msg, const char *kind,
                           const char *content_sha256, gint64 raw_id,
                           const pd_arrival_t *arrival, gint64 *message_row,
                           GError **err);

/* A ticket's customer, plan, clock start and deadlines, all borrowed; 0
 * or NULL is "none". */
typedef struct {
  const char *customer;
  const char *plan;
  pd_time_t clock_started_at;
  pd_time_t first_response_due;
  pd_time_t resolution_due;
} pd_ticket_sla_t;
/* Replaces them: after a severity change, or when the clock of a ticket
 * no customer opened starts. */
bool pd_store_ticket_set_sla (pd_store_t *store, gint64 ticket_id, const pd_ticket_sla_t *sla,
                              GError **err);

/* Sets the ticket's severity to 'severity' with the rules that set it, but
 * only when that is more severe (a lower number) than it has: *raised says
 * whether it changed. */
bool pd_store_ticket_raise_severity (pd_store_t *store, gint64 ticket_id, int severity,
                                     const char *const *rules, bool *raised, GError **err);

/* Adds a participant; adding one that exists changes nothing.
 * 'role' is requester|customer|staff. */
bool pd_store_participant_add (pd_store_t *store, gint64 ticket_id,
                               const char *address, const char *name,
                               const char *role, GError **err);

/* Appends to the ticket's history. 'type' is e.g. opened|message|linked|
 * status|severity; 'actor' is an address or "postdesk"; 'detail' is a JSON
 * object as text, or NULL. Also bumps the ticket's updated_at. */
bool pd_store_event_add (pd_store_t *store, gint64 ticket_id, pd_time_t at,
                         const char *actor, const char *type,
                         const char *detail, GError **err);

/* ---- reads for the command line --------------------------------------- */
/* PD_ERROR_NOT_FOUND when there is no such ticket. (transfer full) */
bool pd_store_ticket_get (pd_store_t *store, gint64 ticket_id,
                          pd_ticket_t **out, GError **err);
/* Tickets by id, optionally only those with 'status' (NULL = all).
 * (transfer full, of pd_ticket_t*) */
bool pd_store_tickets_list (pd_store_t *store, const char *status,
                            GPtrArray **out, GError **err);
/* Messages of a ticket in arrival order, inbound and outbound.
 * (transfer full, of pd_stored_message_t*) */
bool pd_store_ticket_messages (pd_store_t *store, gint64 ticket_id,
                               GPtrArray **out, GError **err);
/* (transfer full, of pd_outbox_item_t*) */
bool pd_store_outbox_list (pd_store_t *store, GPtrArray **out, GError **err);

/* An outgoing message, ready to send: 'raw' is the whole message as it
 * will leave (CRLF line ends). All borrowed. */
typedef struct {
  gint64 ticket_id;
  const char *kind;               /* ack|relay|notice */
  const char *from_name;          /* may be NULL */
  const char *from_address;
  const char *const *to;          /* NULL-terminated recipient addresses */
  const char *subject;
  const char *message_id;         /* without <> */
  const char *in_reply_to;        /* without <>, may be NULL */
  const char *const *references;  /* NULL-terminated, without <>, may be NULL */
  const char *body_text;          /* the text part, for the ticket's history */
  GBytes *raw;
  pd_time_t created_at;
} pd_outbox_new_t;

/* Queues 'o': a row in messages (direction out, so that a reply to it
 * threads by In-Reply-To), one in the outbox (status queued, due now) and,
 * for an acknowledgement, one in ack_log per recipient. All in the
 * caller's transaction, or in one of its own. */
bool pd_store_outbox_add (pd_store_t *store, const pd_outbox_new_t *o, gint64 *outbox_id,
                          GError **err);

/* ---- delivery (postdesk send) -------------------------------------------
 * A row moves queued -> sending -> sent, or back to queued with a later
 * next_attempt_at after a temporary failure, or to failed. Only one sender
 * runs per database (postdesk send holds a lock), and each claim is its
 * own BEGIN IMMEDIATE transaction, so no row is ever delivered by two
 * senders at once. These functions open their own transactions: call
 * them outside one. */

/* How long after its 'attempts'th failed delivery a message is tried
 * again, before jitter: 1 minute, 5 minutes, 15 minutes, 1 hour, then
 * every hour. The store adds up to a tenth more at random, so that
 * messages that failed together do not all come back at the same second. */
pd_time_t pd_outbox_retry_delay (int attempts);

/* A message not accepted this long after it was queued fails on its next
 * temporary failure instead of being retried again (2 days). */
#define PD_OUTBOX_MAX_AGE (2 * 24 * 3600)

/* Takes the oldest row that is due (status queued and next_attempt_at at
 * or before 'now'; a row without next_attempt_at is due) and marks it
 * sending, in one BEGIN IMMEDIATE transaction. *out is the row with its
 * raw bytes (transfer full), or NULL when nothing is due. */
bool pd_store_outbox_claim (pd_store_t *store, pd_time_t now, pd_outbox_item_t **out, GError **err);

/* The transport accepted row 'id' (claimed before) at 'at'. */
bool pd_store_outbox_mark_sent (pd_store_t *store, gint64 id, pd_time_t at, GError **err);

/* A temporary failure of row 'id' (claimed before) at 'now': one more
 * attempt, 'error' recorded, and the row queued again at now plus
 * pd_outbox_retry_delay and jitter; *next_attempt_at (may be NULL) says
 * when. A message older than PD_OUTBOX_MAX_AGE fails instead, as
 * pd_store_outbox_mark_failed does: then *gave_up (may be NULL) is true
 * and *next_attempt_at 0. */
bool pd_store_outbox_mark_retry (pd_store_t *store, gint64 id, pd_time_t now, const char *error,
                                 bool *gave_up, pd_time_t *next_attempt_at, GError **err);

/* A permanent failure of row 'id' (claimed before) at 'now': one more
 * attempt, status failed, 'error' recorded, and a "delivery-failed" event
 * on the ticket (detail: outbox_id, message_id, to, error, attempts) so
 * that an engineer sees that the customer was not reached. */
bool pd_store_outbox_mark_failed (pd_store_t *store, gint64 id, pd_time_t now, const char *error,
                                  GError **err);

/* Puts every row left sending back in the queue, due at once: a sender
 * that crashed or was killed never marked them. Only a sender holding the
 * sender lock calls this, so no live sender owns such a row. The message
 * may have been accepted just before the crash: delivering it again is
 * harmless into a Maildir (the file is named after its Message-ID, so it
 * is not doubled) and for sendmail means the customer may get it twice,
 * with the same Message-ID (mail readers show it once); at least once is
 * preferred to possibly never. *recovered (may be NULL) is how many. */
bool pd_store_outbox_recover (pd_store_t *store, guint *recovered, GError **err);

/* When the earliest queued row is due (a time in the past when one is due
 * already), or 0 when nothing is queued: how long a daemon may sleep
 * before its sender has something to do. */
bool pd_store_outbox_next_due (pd_store_t *store, pd_time_t *when, GError **err);

/* ---- bounces and the suppression list ------------------------------------
 * A bounce that returns one of postdesk's own messages marks its outbox
 * row bounced; an address whose mail failed permanently is suppressed,
 * and postdesk sends it nothing until an admin lifts it. */

/* The outbox row that sent the message 'message_id' (without <>), without
 * its raw bytes (transfer full); NULL when postdesk sent no such message. */
bool pd_store_outbox_find (pd_store_t *store, const char *message_id, pd_outbox_item_t **out,
                           GError **err);

/* Marks row 'id' bounced at 'at' with what the report said ('recipient',
 * 'status', 'diagnostic', each may be NULL); a later bounce of the same
 * row replaces them. A row being sent belongs to its sender and is left
 * as it is: then *marked is false. PD_ERROR_NOT_FOUND when there is no
 * such row. In the caller's transaction, or in one of its own. */
bool pd_store_outbox_mark_bounced (pd_store_t *store, gint64 id, const char *recipient,
                                   const char *status, const char *diagnostic, pd_time_t at,
                                   bool *marked, GError **err);

/* Row 'id' (claimed before) is not delivered because every recipient is
 * suppressed: status failed, last_error "suppressed", no attempt counted,
 * and a "delivery-suppressed" event on the ticket (detail: outbox_id,
 * message_id, to, reason) with 'reason', which says why. */
bool pd_store_outbox_mark_suppressed (pd_store_t *store, gint64 id, pd_time_t now, const char *reason,
                                      GError **err);

/* One address on the suppression list. */
typedef struct {
  char *address;         /* owned, lower-case */
  char *reason;          /* owned: what put it there: "bounce" */
  char *status;          /* owned, may be NULL: the bounce's status code, e.g. "5.1.1" */
  char *diagnostic;      /* owned, may be NULL: what the receiving server said */
  gint64 ticket_id;      /* the ticket of the mail that bounced; 0 = none */
  gint64 outbox_id;      /* the outbox row that bounced; 0 = none */
  pd_time_t created_at;  /* since when */
} pd_suppression_t;
void pd_suppression_free (pd_suppression_t *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (pd_suppression_t, pd_suppression_free)

/* Puts s->address (any case) on the list, with the rest of 's' (all
 * borrowed; created_at is when). An address already there keeps its
 * created_at and takes the newer reason, codes, ticket and row. */
bool pd_store_suppress (pd_store_t *store, const pd_suppression_t *s, GError **err);
/* The entry for 'address' (any case; transfer full), or NULL when it is
 * not suppressed. */
bool pd_store_suppression_get (pd_store_t *store, const char *address, pd_suppression_t **out,
                               GError **err);
/* Every entry, by address. (transfer full, of pd_suppression_t*) */
bool pd_store_suppressed_list (pd_store_t *store, GPtrArray **out, GError **err);
/* Lifts the suppression of 'address' (any case) at 'at': the entry goes,
 * a journal row ("suppressed-remove" by 'actor', detail: the entry) keeps
 * what it was, and its ticket, if any, gets an "unsuppressed" event. One
 * transaction. PD_ERROR_NOT_FOUND when the address is not suppressed. */
bool pd_store_suppression_remove (pd_store_t *store, const char *address, const char *actor,
                                  pd_time_t at, GError **err);

/* How many acknowledgements went to 'address' after 'since'. */
bool pd_store_acks_since (pd_store_t *store, const char *address, pd_time_t since,
                          guint *count, GError **err);

/* ---- mailbox state (IMAP, per mailbox) ------------------------------- */
/* *uidvalidity and *last_uid are 0 for a mailbox never seen. */
bool pd_store_mailbox_state_get (pd_store_t *store, const char *mailbox,
                                 gint64 *uidvalidity, gint64 *last_uid, GError **err);
bool pd_store_mailbox_state_set (pd_store_t *store, const char *mailbox,
                                 gint64 uidvalidity, gint64 last_uid, GError **err);

/* ---- quarantine ------------------------------------------------------- */
/* Keeps raw bytes postdesk could not turn into a ticket, with the reason and
 * the message's Message-ID when one could be read ('message_id', NULL when
 * unknown), so that the same mail stored later releases the entry. An
 * arrival without an origin but with an IMAP UID records the mailbox and
 * UID as its origin. The same bytes quarantined again while still held
 * update the reason and return the existing id (*was_new false). */
bool pd_store_quarantine_add (pd_store_t *store, const char *raw, gsize len,
                              const char *reason, const char *message_id,
                              const pd_arrival_t *arrival,
                              gint64 *id, bool *was_new, GError **err);
/* Held entries when 'all' is false, every entry otherwise.
 * (transfer full, of pd_quarantine_item_t*) */
bool pd_store_quarantine_list (pd_store_t *store, bool all, GPtrArray **out, GError **err);
/* PD_ERROR_NOT_FOUND when there is no such entry. (transfer full) */
bool pd_store_quarantine_get (pd_store_t *store, gint64 id,
                              pd_quarantine_item_t **item, GBytes **raw, GError **err);
/* Marks an entry released into 'ticket_id'. */
bool pd_store_quarantine_release (pd_store_t *store, gint64 id, gint64 ticket_id, GError **err);
/* Records a new reason after a retry that failed again. */
bool pd_store_quarantine_set_reason (pd_store_t *store, gint64 id, const char *reason, GError **err);
/* Links a held entry to the ticket opened from its headers (mail over the
 * size limit); it stays held, since its body is not stored. */
bool pd_store_quarantine_link (pd_store_t *store, gint64 id, gint64 ticket_id, GError **err);
/* Says whether a held entry's raw bytes are the mail just stored. */
typedef bool (*pd_quarantine_match_fn) (const void *held_raw, gsize len, gpointer data);
/* Marks every held entry whose Message-ID is 'message_id' and whose bytes
 * 'same_mail' accepts released into 'ticket_id': mail stored after all (a
 * corrected copy ingested by hand) does not stay held forever. A sender's
 * Message-ID alone is not enough, or reusing one would hide held mail.
 * *released (may be NULL) is how many were. */
bool pd_store_quarantine_release_message (pd_store_t *store, const char *message_id,
                                          gint64 ticket_id, pd_quarantine_match_fn same_mail,
                                          gpointer data, guint *released, GError **err);
/* Removes an entry, held or released, and its raw bytes unless a message or
 * another entry holds the same bytes; the removal is recorded in the
 * journal (pd_store_quarantine_journal) as 'action' by 'actor'.
 * PD_ERROR_NOT_FOUND when there is no such entry. */
bool pd_store_quarantine_delete (pd_store_t *store, gint64 id, const char *actor,
                                 const char *action, GError **err);
/* Removes, as pd_store_quarantine_delete does with the action
 * "quarantine-purge", every entry quarantined before 'before'; *removed is
 * how many. One transaction: all or none. */
bool pd_store_quarantine_purge (pd_store_t *store, pd_time_t before, const char *actor,
                                guint *removed, GError **err);

/* ---- journal ----------------------------------------------------------- */
/* Appends to the journal (what people did that concerns no ticket) that
 * 'actor', a Unix user name, did 'action' to quarantine entry 'id'. The
 * detail is a JSON object with the entry's id, reason, origin and size, the
 * ticket it went to when 'ticket_id' is not 0, and the string pairs of
 * 'extra' (key, value, ..., NULL; may be NULL). Journal rows are never
 * changed. PD_ERROR_NOT_FOUND when there is no such entry. */
bool pd_store_quarantine_journal (pd_store_t *store, gint64 id, const char *actor,
                                  const char *action, gint64 ticket_id,
                                  const char *const *extra, GError **err);

#endif
