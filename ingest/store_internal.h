/* store_internal.h - what the store_*.c files share: the handle, the
 * statement cache and small helpers. Private to the store: nothing outside
 * ingest/store*.c includes it, and only these files include sqlite3.h. */
#ifndef POSTDESK_STORE_INTERNAL_H
#define POSTDESK_STORE_INTERNAL_H

#include "postdesk/store.h"

#include <json-glib/json-glib.h>
#include <sqlite3.h>

/* Every cached statement has a slot on the handle; its SQL text lives in
 * the file that uses it, next to the code, and is handed to store_stmt(). */
typedef enum {
  ST_BEGIN,
  ST_COMMIT,
  ST_ROLLBACK,
  ST_SAVEPOINT,
  ST_RELEASE,
  ST_ROLLBACK_TO,
  ST_USER_VERSION,
  ST_RAW_INSERT,
  ST_RAW_FIND,
  ST_RAW_GET,
  ST_TICKET_EXISTS,
  ST_IS_PARTICIPANT,
  ST_REQUESTER,
  ST_TICKET_INSERT,
  ST_TICKET_RAISE_SEVERITY,
  ST_TICKET_SET_SLA,
  ST_PARTICIPANT_INSERT,
  ST_EVENT_INSERT,
  ST_TICKET_GET,
  ST_TICKETS_ALL,
  ST_TICKETS_BY_STATUS,
  ST_FIND_MESSAGE,
  ST_FIND_SAME_ID,
  ST_FIND_IMAP_UID,
  ST_FIND_REFERENCING,
  ST_REF_INSERT,
  ST_MESSAGE_INSERT,
  ST_ATTACHMENT_INSERT,
  ST_TICKET_MESSAGES,
  ST_MESSAGE_ATTACHMENTS,
  ST_OUTBOX_ALL,
  ST_OUTBOX_DUE,
  ST_OUTBOX_SET_SENDING,
  ST_OUTBOX_ROW,
  ST_OUTBOX_SENT,
  ST_OUTBOX_RETRY,
  ST_OUTBOX_FAILED,
  ST_OUTBOX_RECOVER,
  ST_OUTBOX_NEXT_DUE,
  ST_OUTBOX_MESSAGE_INSERT,
  ST_OUTBOX_INSERT,
  ST_OUTBOX_BY_MESSAGE_ID,
  ST_OUTBOX_BOUNCED,
  ST_OUTBOX_SUPPRESSED,
  ST_SUPPRESSED_UPSERT,
  ST_SUPPRESSED_GET,
  ST_SUPPRESSED_ALL,
  ST_SUPPRESSED_DELETE,
  ST_SUPPRESSED_JOURNAL,
  ST_ACK_LOG_INSERT,
  ST_ACK_LOG_COUNT,
  ST_MAILBOX_GET,
  ST_MAILBOX_SET,
  ST_QUARANTINE_FIND_HELD,
  ST_QUARANTINE_INSERT,
  ST_QUARANTINE_TOUCH,
  ST_QUARANTINE_HELD,
  ST_QUARANTINE_ALL,
  ST_QUARANTINE_GET,
  ST_QUARANTINE_RELEASE,
  ST_QUARANTINE_SET_REASON,
  ST_QUARANTINE_LINK,
  ST_QUARANTINE_HELD_BY_MESSAGE,
  ST_QUARANTINE_DELETE,
  ST_QUARANTINE_OLDER,
  ST_RAW_DELETE_UNUSED,
  ST_QUARANTINE_DETAIL,
  ST_JSON_SET,
  ST_JOURNAL_INSERT,
  ST_COUNT
} stmt_id_t;

struct pd_store {
  sqlite3 *db;                     /* owned */
  char *path;                      /* owned: for error messages */
  sqlite3_stmt *stmts[ST_COUNT];   /* owned, each prepared on first use */
  int bind_rc;                     /* first failed bind since the last step */
  JsonBuilder *builder;            /* owned, reset and reused for every array */
  JsonParser *parser;              /* owned */
  GString *json[3];                /* owned: JSON text bound to one statement at once */
  GString *lower;                  /* owned: scratch for lower-casing addresses */

  /* Background checkpoints (pd_store_background_checkpoints). */
  GThread *ckpt_thread;            /* owned; NULL when checkpoints run at commit */
  sqlite3 *ckpt_db;                /* owned: the checkpointer's own connection */
  GMutex ckpt_lock;
  GCond ckpt_cond;
  bool ckpt_wanted;                /* guarded by ckpt_lock */
  bool ckpt_stop;                  /* guarded by ckpt_lock */
  int page_size;                   /* of this database, in bytes */
};

/* The cached statement in slot 'id', prepared from 'sql' on first use.
 * PERSISTENT tells SQLite the statement lives long, so it is not carved out
 * of the lookaside pool meant for short-lived allocations. */
sqlite3_stmt *store_stmt (pd_store_t *s, stmt_id_t id, const char *sql, GError **err);

/* Sets 'err' to "<what>: <SQLite's message>". Must run before the failing
 * statement is reset, while the connection still holds its message. */
void store_db_error (pd_store_t *s, GError **err, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

/* Runs a statement that returns no row we need; always resets it. */
bool store_exec (pd_store_t *s, sqlite3_stmt *st, GError **err, const char *fmt, ...)
  G_GNUC_PRINTF (4, 5);

/* Lower-cased copy in the handle's scratch buffer, ASCII only so it agrees
 * with SQLite's lower(). (borrowed: valid until the next call) */
const char *store_lower (pd_store_t *s, const char *v);

/* JSON text of a list of strings (n < 0: NULL-terminated) or of addresses,
 * in the handle's buffer 'slot' (0..2). (borrowed: valid until the slot is
 * used again) */
const char *store_strings_json (pd_store_t *s, int slot, const char *const *v, gssize n);
const char *store_addresses_json (pd_store_t *s, int slot, const GPtrArray *addrs);

/* Parses a JSON array of strings into a NULL-terminated vector. (transfer full) */
bool store_parse_strv (pd_store_t *s, const char *text, char ***out, GError **err);

/* A write of several rows runs in its own transaction when the caller has
 * none; store_own_end commits or rolls back what store_own_begin opened. */
bool store_own_begin (pd_store_t *s, bool *own, GError **err);
bool store_own_end (pd_store_t *s, bool own, bool ok, GError **err);

/* Steps 'st' (from stmt(); NULL passes its error through), whose one
 * parameter is 'key', for the single row it must find. Returns it on that
 * row (the caller reads it, then calls done()), or NULL with
 * PD_ERROR_NOT_FOUND "no <what> <key>" or the database's error. */
sqlite3_stmt *store_row_by_id (pd_store_t *s, sqlite3_stmt *st, gint64 key, const char *what,
                               GError **err);

/* A one-row existence query with an integer and an optional text parameter. */
bool store_exists (pd_store_t *s, sqlite3_stmt *st, gint64 p1, const char *p2, bool *out,
                   GError **err, const char *what);

/* What a database file is, read before anything is written to it. */
typedef enum {
  STORE_EMPTY,              /* no schema at all: a new file */
  STORE_POSTDESK,           /* carries postdesk's application id */
  STORE_POSTDESK_UNMARKED,  /* postdesk's tables, from before the mark existed */
  STORE_OTHER,              /* anything else: never touched */
} store_identity_t;

/* PRAGMA application_id of every postdesk database: "pdsk". */
#define PD_STORE_APPLICATION_ID 0x7064736b

/* store_schema.c. store_identify fails (naming the file and a table in it)
 * for STORE_OTHER. store_migrate brings the schema to the newest version
 * and sets the mark; with read_only it only checks, and fails with
 * PD_ERROR_READ_ONLY when the database would need a write. */
bool store_identify (pd_store_t *s, store_identity_t *identity, GError **err);
bool store_migrate (pd_store_t *s, store_identity_t identity, bool read_only, GError **err);
bool store_read_user_version (pd_store_t *s, int *version, GError **err);

/* ---- binding and stepping ---------------------------------------------- */

/* Binding can fail only on values over SQLite's limits or out of memory;
 * the first failure is remembered and reported by step() below, so call
 * sites stay a plain list of binds. */
static inline void
note_bind (pd_store_t *s, int rc)
{
  if (rc != SQLITE_OK && s->bind_rc == SQLITE_OK)
    s->bind_rc = rc;
}

/* A NULL string binds SQL NULL. */
static inline void
bind_text (pd_store_t *s, sqlite3_stmt *st, int i, const char *v)
{
  note_bind (s, sqlite3_bind_text (st, i, v, -1, SQLITE_STATIC));
}

static inline void
bind_int (pd_store_t *s, sqlite3_stmt *st, int i, gint64 v)
{
  note_bind (s, sqlite3_bind_int64 (st, i, v));
}

/* For ids and times where 0 means "none": stored as NULL. */
static inline void
bind_int_or_null (pd_store_t *s, sqlite3_stmt *st, int i, gint64 v)
{
  if (v == 0)
    note_bind (s, sqlite3_bind_null (st, i));
  else
    note_bind (s, sqlite3_bind_int64 (st, i, v));
}

/* Borrowed bytes; a zero-length value is an empty blob, not NULL. */
static inline void
bind_blob (pd_store_t *s, sqlite3_stmt *st, int i, const void *data, gsize len)
{
  if (len == 0)
    note_bind (s, sqlite3_bind_zeroblob (st, i, 0));
  else
    note_bind (s, sqlite3_bind_blob64 (st, i, data, (sqlite3_uint64) len, SQLITE_STATIC));
}

static inline int
step (pd_store_t *s, sqlite3_stmt *st)
{
  if (s->bind_rc != SQLITE_OK)
    return s->bind_rc;
  return sqlite3_step (st);
}

/* Ends one use of a statement: it is ready to bind again and holds no
 * borrowed pointer. */
static inline void
done (pd_store_t *s, sqlite3_stmt *st)
{
  sqlite3_reset (st);
  sqlite3_clear_bindings (st);
  s->bind_rc = SQLITE_OK;
}

static inline char *
col_strdup (sqlite3_stmt *st, int i)
{
  return g_strdup ((const char *) sqlite3_column_text (st, i));
}

#endif
