/* store.c - the SQLite database behind postdesk.
 *
 * This is the only file that includes sqlite3.h. Every statement is prepared
 * once, on first use, and kept on the handle; each call binds, steps, resets
 * and clears it. Nothing is ever spliced into SQL text: the only SQL built at
 * run time is the user_version pragma, from a constant of this file.
 *
 * Ownership: the handle owns the connection, every cached statement and the
 * JSON helpers. Strings bound to statements are borrowed with SQLITE_STATIC:
 * this is safe because every use of a statement ends with reset and
 * clear_bindings before the function returns, so SQLite never keeps a
 * pointer past the call that lent it.
 */
#include "postdesk/store.h"

#include <json-glib/json-glib.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* ---- schema ------------------------------------------------------------ */

/* Each step takes the schema from version (index) to version (index + 1).
 * Steps are append-only: a released step is never edited, a change to the
 * schema is a new step. All of them run inside one BEGIN IMMEDIATE, so a
 * crash mid-migration leaves the previous version intact. */
static const char *const migrations[] = {
  /* 0 -> 1: the first schema, shaped for the whole product. Times are UTC
   * Unix seconds (NULL = none); addresses are stored lower-case (ASCII, as
   * SQLite's lower() does) so equality is the comparison everywhere; lists
   * are JSON arrays in TEXT columns, read back with json_each() in SQL. */
  "CREATE TABLE tickets (\n"
  "  id                 INTEGER PRIMARY KEY,\n"
  "  subject            TEXT NOT NULL,\n"
  "  status             TEXT NOT NULL DEFAULT 'new'\n"
  "                     CHECK (status IN ('new','open','pending','solved','closed')),\n"
  "  severity           INTEGER NOT NULL CHECK (severity IN (1, 2)),\n"
  "  severity_rules     TEXT NOT NULL DEFAULT '[]'\n"
  "                     CHECK (json_valid(severity_rules) AND json_type(severity_rules) = 'array'),\n"
  "  requester_name     TEXT,\n"
  "  requester_address  TEXT NOT NULL CHECK (requester_address = lower(requester_address)),\n"
  "  customer           TEXT,\n"
  "  plan               TEXT,\n"
  "  created_at         INTEGER NOT NULL,\n"
  "  updated_at         INTEGER NOT NULL,\n"
  "  first_response_due INTEGER,\n"
  "  resolution_due     INTEGER,\n"
  "  first_response_at  INTEGER,\n"
  "  solved_at          INTEGER,\n"
  "  closed_at          INTEGER,\n"
  "  assignee           TEXT CHECK (assignee = lower(assignee)),\n"
  "  tags               TEXT NOT NULL DEFAULT '[]'\n"
  "                     CHECK (json_valid(tags) AND json_type(tags) = 'array'),\n"
  "  csat_score         INTEGER CHECK (csat_score BETWEEN 1 AND 5),\n"
  "  csat_comment       TEXT,\n"
  "  csat_at            INTEGER,\n"
  "  linked_to          INTEGER REFERENCES tickets (id),\n"
  "  mailbox            TEXT\n"
  ") STRICT;\n"
  /* The list by status is ordered by id, and KPI reports scan by creation
   * time; both indexes carry what those queries filter on. */
  "CREATE INDEX tickets_status ON tickets (status, id);\n"
  "CREATE INDEX tickets_created ON tickets (created_at);\n"
  "CREATE INDEX tickets_linked ON tickets (linked_to) WHERE linked_to IS NOT NULL;\n"

  "CREATE TABLE raw_messages (\n"
  "  id     INTEGER PRIMARY KEY,\n"
  "  sha256 TEXT NOT NULL UNIQUE,\n"
  "  size   INTEGER NOT NULL CHECK (size >= 0),\n"
  "  bytes  BLOB NOT NULL\n"
  ") STRICT;\n"

  "CREATE TABLE messages (\n"
  "  id                   INTEGER PRIMARY KEY,\n"
  "  ticket_id            INTEGER NOT NULL REFERENCES tickets (id),\n"
  "  message_id           TEXT NOT NULL UNIQUE,\n"
  "  direction            TEXT NOT NULL CHECK (direction IN ('in','out')),\n"
  "  kind                 TEXT NOT NULL CHECK (kind IN ('customer','staff','auto-reply',\n"
  "                                                   'bounce','ack','relay','notice')),\n"
  "  from_name            TEXT,\n"
  "  from_address         TEXT CHECK (from_address = lower(from_address)),\n"
  "  to_json              TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(to_json)),\n"
  "  cc_json              TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(cc_json)),\n"
  "  subject              TEXT NOT NULL,\n"
  "  date                 INTEGER,\n"
  "  received_at          INTEGER NOT NULL,\n"
  "  in_reply_to          TEXT,\n"
  "  references_json      TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(references_json)),\n"
  "  body_text            TEXT NOT NULL,\n"
  "  auto_reply           INTEGER NOT NULL DEFAULT 0 CHECK (auto_reply IN (0, 1)),\n"
  "  bulk                 INTEGER NOT NULL DEFAULT 0 CHECK (bulk IN (0, 1)),\n"
  "  bounce               INTEGER NOT NULL DEFAULT 0 CHECK (bounce IN (0, 1)),\n"
  "  bounced_message_id   TEXT,\n"
  "  message_id_synthetic INTEGER NOT NULL DEFAULT 0 CHECK (message_id_synthetic IN (0, 1)),\n"
  "  fingerprint          TEXT,\n"
  "  raw_id               INTEGER REFERENCES raw_messages (id),\n"
  "  mailbox              TEXT,\n"
  "  imap_uidvalidity     INTEGER,\n"
  "  imap_uid             INTEGER,\n"
  "  origin               TEXT\n"
  ") STRICT;\n"
  /* Arrival order within a ticket comes straight from this index. */
  "CREATE INDEX messages_ticket ON messages (ticket_id, received_at, id);\n"
  /* A UID names one message for as long as UIDVALIDITY holds: a second row
   * for the same UID means the same mail was ingested twice. Partial, so
   * messages from files cost nothing here. */
  "CREATE UNIQUE INDEX messages_imap_uid ON messages (mailbox, imap_uidvalidity, imap_uid)\n"
  "  WHERE imap_uid IS NOT NULL;\n"
  "CREATE INDEX messages_raw ON messages (raw_id) WHERE raw_id IS NOT NULL;\n"

  /* Metadata only: attachment content is never stored, the raw message
   * keeps it. The (message, position) key makes order explicit. */
  "CREATE TABLE attachments (\n"
  "  message_row INTEGER NOT NULL REFERENCES messages (id),\n"
  "  position    INTEGER NOT NULL CHECK (position >= 0),\n"
  "  filename    TEXT NOT NULL,\n"
  "  mime_type   TEXT NOT NULL,\n"
  "  size        INTEGER NOT NULL CHECK (size >= 0),\n"
  "  PRIMARY KEY (message_row, position)\n"
  ") STRICT, WITHOUT ROWID;\n"

  "CREATE TABLE participants (\n"
  "  ticket_id INTEGER NOT NULL REFERENCES tickets (id),\n"
  "  address   TEXT NOT NULL CHECK (address = lower(address)),\n"
  "  name      TEXT,\n"
  "  role      TEXT NOT NULL CHECK (role IN ('requester','customer','staff')),\n"
  "  PRIMARY KEY (ticket_id, address)\n"
  ") STRICT, WITHOUT ROWID;\n"
  "CREATE INDEX participants_address ON participants (address);\n"

  /* The history every report is computed from: rows are only ever added. */
  "CREATE TABLE events (\n"
  "  id        INTEGER PRIMARY KEY,\n"
  "  ticket_id INTEGER NOT NULL REFERENCES tickets (id),\n"
  "  at        INTEGER NOT NULL,\n"
  "  actor     TEXT NOT NULL,\n"
  "  type      TEXT NOT NULL,\n"
  "  detail    TEXT CHECK (detail IS NULL OR (json_valid(detail) AND json_type(detail) = 'object'))\n"
  ") STRICT;\n"
  "CREATE INDEX events_ticket ON events (ticket_id, at);\n"
  "CREATE INDEX events_type_at ON events (type, at, ticket_id);\n"
  "CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events\n"
  "BEGIN SELECT RAISE (ABORT, 'events are append-only'); END;\n"
  "CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events\n"
  "BEGIN SELECT RAISE (ABORT, 'events are append-only'); END;\n"
  /* Any event is activity on the ticket. Done in the database so that every
   * writer, present and future, keeps updated_at right; the WHERE skips the
   * write when an older event is recorded late. */
  "CREATE TRIGGER events_touch_ticket AFTER INSERT ON events\n"
  "BEGIN\n"
  "  UPDATE tickets SET updated_at = NEW.at\n"
  "   WHERE id = NEW.ticket_id AND updated_at < NEW.at;\n"
  "END;\n"

  /* Outbound mail waits here, written in the same transaction as the
   * ticket change that caused it; message_row is its row in messages, so a
   * reply to it threads like any other message. */
  "CREATE TABLE outbox (\n"
  "  id              INTEGER PRIMARY KEY,\n"
  "  ticket_id       INTEGER NOT NULL REFERENCES tickets (id),\n"
  "  message_row     INTEGER UNIQUE REFERENCES messages (id),\n"
  "  kind            TEXT NOT NULL CHECK (kind IN ('ack','relay','notice')),\n"
  "  recipients      TEXT NOT NULL\n"
  "                  CHECK (json_valid(recipients) AND json_type(recipients) = 'array'),\n"
  "  subject         TEXT NOT NULL,\n"
  "  message_id      TEXT NOT NULL UNIQUE,\n"
  "  in_reply_to     TEXT,\n"
  "  body_text       TEXT NOT NULL,\n"
  "  raw             BLOB,\n"
  "  status          TEXT NOT NULL DEFAULT 'queued'\n"
  "                  CHECK (status IN ('queued','sending','sent','failed')),\n"
  "  attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),\n"
  "  next_attempt_at INTEGER,\n"
  "  last_error      TEXT,\n"
  "  created_at      INTEGER NOT NULL,\n"
  "  sent_at         INTEGER\n"
  ") STRICT;\n"
  "CREATE INDEX outbox_due ON outbox (status, next_attempt_at);\n"
  "CREATE INDEX outbox_ticket ON outbox (ticket_id);\n"

  "CREATE TABLE mailbox_state (\n"
  "  mailbox     TEXT PRIMARY KEY,\n"
  "  uidvalidity INTEGER NOT NULL,\n"
  "  last_uid    INTEGER NOT NULL,\n"
  "  updated_at  INTEGER NOT NULL\n"
  ") STRICT, WITHOUT ROWID;\n"

  "CREATE TABLE quarantine (\n"
  "  id          INTEGER PRIMARY KEY,\n"
  "  raw_id      INTEGER NOT NULL REFERENCES raw_messages (id),\n"
  "  size        INTEGER NOT NULL CHECK (size >= 0),\n"
  "  reason      TEXT NOT NULL,\n"
  "  received_at INTEGER NOT NULL,\n"
  "  mailbox     TEXT,\n"
  "  origin      TEXT,\n"
  "  status      TEXT NOT NULL DEFAULT 'held' CHECK (status IN ('held','released')),\n"
  "  ticket_id   INTEGER REFERENCES tickets (id),\n"
  "  created_at  INTEGER NOT NULL,\n"
  "  updated_at  INTEGER NOT NULL\n"
  ") STRICT;\n"
  "CREATE INDEX quarantine_status ON quarantine (status, id);\n"
  /* The same bytes are held at most once; once released they may be held
   * again (a later copy that fails for a new reason). */
  "CREATE UNIQUE INDEX quarantine_held_raw ON quarantine (raw_id) WHERE status = 'held';\n",
};

#define SCHEMA_VERSION ((int) G_N_ELEMENTS (migrations))

/* ---- statements ---------------------------------------------------------- */

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
  ST_FIND_MESSAGE,
  ST_TICKET_EXISTS,
  ST_IS_PARTICIPANT,
  ST_REQUESTER,
  ST_TICKET_INSERT,
  ST_MESSAGE_INSERT,
  ST_ATTACHMENT_INSERT,
  ST_PARTICIPANT_INSERT,
  ST_EVENT_INSERT,
  ST_TICKET_GET,
  ST_TICKETS_ALL,
  ST_TICKETS_BY_STATUS,
  ST_TICKET_MESSAGES,
  ST_MESSAGE_ATTACHMENTS,
  ST_OUTBOX_ALL,
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
  ST_COUNT
} stmt_id_t;

/* The savepoint name is fixed: batches isolate one message at a time and
 * never nest. */
#define SAVEPOINT_NAME "pd_message"

#define TICKET_COLUMNS \
  "id, subject, status, severity, severity_rules, requester_name, requester_address," \
  " customer, plan, created_at, updated_at, first_response_due, resolution_due," \
  " first_response_at, linked_to, mailbox," \
  " (SELECT count(*) FROM messages m WHERE m.ticket_id = tickets.id)"

#define QUARANTINE_COLUMNS \
  "q.id, q.reason, q.received_at, q.size, q.mailbox, q.origin, q.status, q.ticket_id"

static const char *const stmt_sql[ST_COUNT] = {
  [ST_BEGIN] = "BEGIN IMMEDIATE",
  [ST_COMMIT] = "COMMIT",
  [ST_ROLLBACK] = "ROLLBACK",
  [ST_SAVEPOINT] = "SAVEPOINT " SAVEPOINT_NAME,
  [ST_RELEASE] = "RELEASE " SAVEPOINT_NAME,
  [ST_ROLLBACK_TO] = "ROLLBACK TO " SAVEPOINT_NAME,
  [ST_USER_VERSION] = "PRAGMA user_version",
  [ST_RAW_INSERT] =
    "INSERT INTO raw_messages (sha256, size, bytes) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (sha256) DO NOTHING RETURNING id",
  [ST_RAW_FIND] = "SELECT id FROM raw_messages WHERE sha256 = ?1",
  [ST_RAW_GET] = "SELECT bytes FROM raw_messages WHERE id = ?1",
  [ST_FIND_MESSAGE] = "SELECT ticket_id, fingerprint FROM messages WHERE message_id = ?1",
  [ST_TICKET_EXISTS] = "SELECT 1 FROM tickets WHERE id = ?1",
  [ST_IS_PARTICIPANT] =
    "SELECT 1 FROM participants WHERE ticket_id = ?1 AND address = lower(?2)",
  [ST_REQUESTER] = "SELECT requester_address FROM tickets WHERE id = ?1",
  [ST_TICKET_INSERT] =
    "INSERT INTO tickets (subject, status, severity, severity_rules, requester_name,"
    " requester_address, created_at, updated_at, linked_to, mailbox)"
    " VALUES (?1, 'new', ?2, ?3, ?4, lower(?5), ?6, ?6, ?7, ?8)",
  [ST_MESSAGE_INSERT] =
    "INSERT INTO messages (ticket_id, message_id, direction, kind, from_name, from_address,"
    " to_json, cc_json, subject, date, received_at, in_reply_to, references_json, body_text,"
    " auto_reply, bulk, bounce, bounced_message_id, message_id_synthetic, fingerprint,"
    " raw_id, mailbox, imap_uidvalidity, imap_uid, origin)"
    " VALUES (?1, ?2, 'in', ?3, ?4, lower(?5), ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
    " ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)",
  [ST_ATTACHMENT_INSERT] =
    "INSERT INTO attachments (message_row, position, filename, mime_type, size)"
    " VALUES (?1, ?2, ?3, ?4, ?5)",
  [ST_PARTICIPANT_INSERT] =
    "INSERT INTO participants (ticket_id, address, name, role)"
    " VALUES (?1, lower(?2), ?3, ?4) ON CONFLICT (ticket_id, address) DO NOTHING",
  [ST_EVENT_INSERT] =
    "INSERT INTO events (ticket_id, at, actor, type, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
  [ST_TICKET_GET] = "SELECT " TICKET_COLUMNS " FROM tickets WHERE id = ?1",
  [ST_TICKETS_ALL] = "SELECT " TICKET_COLUMNS " FROM tickets ORDER BY id",
  [ST_TICKETS_BY_STATUS] =
    "SELECT " TICKET_COLUMNS " FROM tickets WHERE status = ?1 ORDER BY id",
  [ST_TICKET_MESSAGES] =
    "SELECT id, ticket_id, message_id, direction, kind, from_name, from_address, subject,"
    " received_at, in_reply_to, body_text"
    " FROM messages WHERE ticket_id = ?1 ORDER BY received_at, id",
  [ST_MESSAGE_ATTACHMENTS] =
    "SELECT filename, mime_type, size FROM attachments WHERE message_row = ?1 ORDER BY position",
  [ST_OUTBOX_ALL] =
    "SELECT id, ticket_id, kind, recipients, subject, message_id, in_reply_to, status,"
    " attempts, last_error, body_text FROM outbox ORDER BY id",
  [ST_MAILBOX_GET] = "SELECT uidvalidity, last_uid FROM mailbox_state WHERE mailbox = ?1",
  [ST_MAILBOX_SET] =
    "INSERT INTO mailbox_state (mailbox, uidvalidity, last_uid, updated_at)"
    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (mailbox) DO UPDATE SET"
    " uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid,"
    " updated_at = excluded.updated_at",
  [ST_QUARANTINE_FIND_HELD] =
    "SELECT id FROM quarantine WHERE raw_id = ?1 AND status = 'held'",
  [ST_QUARANTINE_INSERT] =
    "INSERT INTO quarantine (raw_id, size, reason, received_at, mailbox, origin, status,"
    " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'held', ?7, ?7)",
  [ST_QUARANTINE_TOUCH] =
    "UPDATE quarantine SET reason = ?2, updated_at = ?3 WHERE id = ?1",
  [ST_QUARANTINE_HELD] =
    "SELECT " QUARANTINE_COLUMNS " FROM quarantine q WHERE q.status = 'held' ORDER BY q.id",
  [ST_QUARANTINE_ALL] = "SELECT " QUARANTINE_COLUMNS " FROM quarantine q ORDER BY q.id",
  [ST_QUARANTINE_GET] =
    "SELECT " QUARANTINE_COLUMNS ", r.bytes FROM quarantine q"
    " JOIN raw_messages r ON r.id = q.raw_id WHERE q.id = ?1",
  [ST_QUARANTINE_RELEASE] =
    "UPDATE quarantine SET status = 'released', ticket_id = ?2, updated_at = ?3 WHERE id = ?1",
  [ST_QUARANTINE_SET_REASON] =
    "UPDATE quarantine SET reason = ?2, updated_at = ?3 WHERE id = ?1",
};

struct pd_store {
  sqlite3 *db;                     /* owned */
  char *path;                      /* owned: for error messages */
  sqlite3_stmt *stmts[ST_COUNT];   /* owned, each prepared on first use */
  int bind_rc;                     /* first failed bind since the last step */
  JsonBuilder *builder;            /* owned, reset and reused for every array */
  JsonGenerator *generator;        /* owned */
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

/* ---- small helpers -------------------------------------------------------- */

/* Sets 'err' to "<what>: <SQLite's message>". Must run before the failing
 * statement is reset, while the connection still holds its message. */
static void db_error (pd_store_t *s, GError **err, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static void
db_error (pd_store_t *s, GError **err, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (err, PD_ERROR, PD_ERROR_DB, "%s: %s", what, sqlite3_errmsg (s->db));
}

/* The cached statement 'id', prepared on first use. PERSISTENT tells SQLite
 * the statement lives long, so it is not carved out of the lookaside pool
 * meant for short-lived allocations. */
static sqlite3_stmt *
stmt (pd_store_t *s, stmt_id_t id, GError **err)
{
  if (s->stmts[id] != NULL)
    return s->stmts[id];
  if (sqlite3_prepare_v3 (s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                          &s->stmts[id], NULL) != SQLITE_OK)
    {
      db_error (s, err, "cannot prepare statement '%s' on %s", stmt_sql[id], s->path);
      s->stmts[id] = NULL;
      return NULL;
    }
  return s->stmts[id];
}

/* Binding can fail only on values over SQLite's limits or out of memory;
 * the first failure is remembered and reported by step() below, so call
 * sites stay a plain list of binds. */
static void
note_bind (pd_store_t *s, int rc)
{
  if (rc != SQLITE_OK && s->bind_rc == SQLITE_OK)
    s->bind_rc = rc;
}

/* A NULL string binds SQL NULL. */
static void
bind_text (pd_store_t *s, sqlite3_stmt *st, int i, const char *v)
{
  note_bind (s, sqlite3_bind_text (st, i, v, -1, SQLITE_STATIC));
}

static void
bind_int (pd_store_t *s, sqlite3_stmt *st, int i, gint64 v)
{
  note_bind (s, sqlite3_bind_int64 (st, i, v));
}

/* For ids and times where 0 means "none": stored as NULL. */
static void
bind_int_or_null (pd_store_t *s, sqlite3_stmt *st, int i, gint64 v)
{
  if (v == 0)
    note_bind (s, sqlite3_bind_null (st, i));
  else
    note_bind (s, sqlite3_bind_int64 (st, i, v));
}

/* Borrowed bytes; a zero-length value is an empty blob, not NULL. */
static void
bind_blob (pd_store_t *s, sqlite3_stmt *st, int i, const void *data, gsize len)
{
  if (len == 0)
    note_bind (s, sqlite3_bind_zeroblob (st, i, 0));
  else
    note_bind (s, sqlite3_bind_blob64 (st, i, data, (sqlite3_uint64) len, SQLITE_STATIC));
}

static int
step (pd_store_t *s, sqlite3_stmt *st)
{
  if (s->bind_rc != SQLITE_OK)
    return s->bind_rc;
  return sqlite3_step (st);
}

/* Ends one use of a statement: it is ready to bind again and holds no
 * borrowed pointer. */
static void
done (pd_store_t *s, sqlite3_stmt *st)
{
  sqlite3_reset (st);
  sqlite3_clear_bindings (st);
  s->bind_rc = SQLITE_OK;
}

/* Runs a statement that returns no row we need. */
static bool
exec_stmt (pd_store_t *s, sqlite3_stmt *st, GError **err, const char *fmt, ...)
  G_GNUC_PRINTF (4, 5);

static bool
exec_stmt (pd_store_t *s, sqlite3_stmt *st, GError **err, const char *fmt, ...)
{
  int rc = step (s, st);
  while (rc == SQLITE_ROW)
    rc = sqlite3_step (st);
  if (rc != SQLITE_DONE)
    {
      va_list ap;
      va_start (ap, fmt);
      g_autofree char *what = g_strdup_vprintf (fmt, ap);
      va_end (ap);
      db_error (s, err, "%s", what);
      done (s, st);
      return false;
    }
  done (s, st);
  return true;
}

static char *
col_strdup (sqlite3_stmt *st, int i)
{
  return g_strdup ((const char *) sqlite3_column_text (st, i));
}

/* Lower-cased copy in the handle's scratch buffer, ASCII only so it agrees
 * with SQLite's lower(). (borrowed: valid until the next call) */
static const char *
scratch_lower (pd_store_t *s, const char *v)
{
  g_string_assign (s->lower, v);
  g_string_ascii_down (s->lower);
  return s->lower->str;
}

/* JSON text of a list of strings into buffer 'slot'. (borrowed from the
 * handle: valid until the slot is used again) */
static const char *
strings_json (pd_store_t *s, int slot, const char *const *v, gssize n)
{
  gsize count = 0;
  if (v != NULL)
    count = n >= 0 ? (gsize) n : g_strv_length ((char **) v);
  /* Most lists are empty; skip json-glib entirely for them. */
  if (count == 0)
    return "[]";
  json_builder_reset (s->builder);
  json_builder_begin_array (s->builder);
  for (gsize i = 0; i < count; i++)
    json_builder_add_string_value (s->builder, v[i]);
  json_builder_end_array (s->builder);
  JsonNode *root = json_builder_get_root (s->builder);
  json_generator_set_root (s->generator, root);
  json_node_unref (root);
  g_string_truncate (s->json[slot], 0);
  json_generator_to_gstring (s->generator, s->json[slot]);
  return s->json[slot]->str;
}

/* JSON text of a list of pd_address_t*: [{"name": ..., "address": ...}],
 * addresses lower-cased, "name" left out when there is none. */
static const char *
addresses_json (pd_store_t *s, int slot, const GPtrArray *addrs)
{
  if (addrs == NULL || addrs->len == 0)
    return "[]";
  json_builder_reset (s->builder);
  json_builder_begin_array (s->builder);
  for (guint i = 0; i < addrs->len; i++)
    {
      const pd_address_t *a = g_ptr_array_index ((GPtrArray *) addrs, i);
      if (a == NULL || a->address == NULL)
        continue;
      json_builder_begin_object (s->builder);
      if (a->name != NULL)
        {
          json_builder_set_member_name (s->builder, "name");
          json_builder_add_string_value (s->builder, a->name);
        }
      json_builder_set_member_name (s->builder, "address");
      json_builder_add_string_value (s->builder, scratch_lower (s, a->address));
      json_builder_end_object (s->builder);
    }
  json_builder_end_array (s->builder);
  JsonNode *root = json_builder_get_root (s->builder);
  json_generator_set_root (s->generator, root);
  json_node_unref (root);
  g_string_truncate (s->json[slot], 0);
  json_generator_to_gstring (s->generator, s->json[slot]);
  return s->json[slot]->str;
}

/* Parses a JSON array of strings into a NULL-terminated vector.
 * (transfer full) */
static bool
parse_strv (pd_store_t *s, const char *text, char ***out, GError **err)
{
  *out = NULL;
  if (text == NULL || strcmp (text, "[]") == 0)
    {
      *out = g_new0 (char *, 1);
      return true;
    }
  GError *local = NULL;
  if (!json_parser_load_from_data (s->parser, text, -1, &local))
    {
      g_set_error (err, PD_ERROR, PD_ERROR_DB, "%s", local->message);
      g_error_free (local);
      return false;
    }
  JsonNode *root = json_parser_get_root (s->parser);
  if (root == NULL || !JSON_NODE_HOLDS_ARRAY (root))
    {
      g_set_error (err, PD_ERROR, PD_ERROR_DB, "not a JSON array: %s", text);
      return false;
    }
  JsonArray *arr = json_node_get_array (root);
  guint n = json_array_get_length (arr);
  char **v = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    {
      JsonNode *el = json_array_get_element (arr, i);
      if (!JSON_NODE_HOLDS_VALUE (el) || json_node_get_value_type (el) != G_TYPE_STRING)
        {
          g_strfreev (v);
          g_set_error (err, PD_ERROR, PD_ERROR_DB, "element %u is not a string in %s", i, text);
          return false;
        }
      v[i] = g_strdup (json_node_get_string (el));
    }
  *out = v;
  return true;
}

/* Writes that touch several rows run in their own transaction when the
 * caller has none, so they are never half done. Inside the caller's
 * transaction the caller's savepoint (or rollback) gives the same. */
static bool
own_begin (pd_store_t *s, bool *own, GError **err)
{
  *own = sqlite3_get_autocommit (s->db) != 0;
  if (!*own)
    return true;
  return pd_store_begin (s, err);
}

static bool
own_end (pd_store_t *s, bool own, bool ok, GError **err)
{
  if (!own)
    return ok;
  if (ok)
    {
      if (pd_store_commit (s, err))
        return true;
    }
  pd_store_rollback (s);
  return false;
}

/* ---- opening and migrating ------------------------------------------------ */

static bool
read_user_version (pd_store_t *s, int *version, GError **err)
{
  *version = 0;
  sqlite3_stmt *st = stmt (s, ST_USER_VERSION, err);
  if (st == NULL)
    return false;
  int rc = step (s, st);
  if (rc != SQLITE_ROW)
    {
      db_error (s, err, "cannot open database %s", s->path);
      done (s, st);
      return false;
    }
  *version = sqlite3_column_int (st, 0);
  done (s, st);
  return true;
}

static bool
check_version (pd_store_t *s, int version, GError **err)
{
  if (version <= SCHEMA_VERSION)
    return true;
  g_set_error (err, PD_ERROR, PD_ERROR_DB,
               "cannot open database %s: its schema version is %d but this postdesk "
               "knows only up to version %d; use a newer postdesk",
               s->path, version, SCHEMA_VERSION);
  return false;
}

/* Runs inside the migration transaction. */
static bool
apply_migrations (pd_store_t *s, GError **err)
{
  int version;
  /* Another process may have migrated between the first read and the lock. */
  if (!read_user_version (s, &version, err) || !check_version (s, version, err))
    return false;
  for (int v = version; v < SCHEMA_VERSION; v++)
    {
      if (sqlite3_exec (s->db, migrations[v], NULL, NULL, NULL) != SQLITE_OK)
        {
          db_error (s, err, "cannot migrate database %s to schema version %d", s->path, v + 1);
          return false;
        }
    }
  /* A pragma takes no parameters; the number is this file's constant. */
  g_autofree char *set = g_strdup_printf ("PRAGMA user_version = %d", SCHEMA_VERSION);
  if (sqlite3_exec (s->db, set, NULL, NULL, NULL) != SQLITE_OK)
    {
      db_error (s, err, "cannot set the schema version of %s", s->path);
      return false;
    }
  return true;
}

static bool
migrate (pd_store_t *s, GError **err)
{
  int version;
  /* Reading first, without a lock, lets an up-to-date database open while
   * another process holds a long write transaction. */
  if (!read_user_version (s, &version, err) || !check_version (s, version, err))
    return false;
  if (version == SCHEMA_VERSION)
    return true;

  if (!pd_store_begin (s, err))
    return false;
  if (!apply_migrations (s, err))
    {
      pd_store_rollback (s);
      return false;
    }
  return pd_store_commit (s, err);
}

/* Runs a pragma and hands back its first column as text, when it has one.
 * (transfer full) */
static bool
pragma (pd_store_t *s, const char *sql, char **result, GError **err)
{
  sqlite3_stmt *st = NULL;
  if (result != NULL)
    *result = NULL;
  int rc = sqlite3_prepare_v2 (s->db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK)
    {
      rc = sqlite3_step (st);
      if (rc == SQLITE_ROW)
        {
          if (result != NULL)
            *result = col_strdup (st, 0);
          rc = SQLITE_DONE;
        }
    }
  if (rc != SQLITE_DONE)
    {
      db_error (s, err, "cannot open database %s", s->path);
      sqlite3_finalize (st);
      return false;
    }
  sqlite3_finalize (st);
  return true;
}

bool
pd_store_open (const char *path, pd_store_t **out, GError **err)
{
  *out = NULL;
  pd_store_t *s = g_new0 (pd_store_t, 1);
  g_mutex_init (&s->ckpt_lock);
  g_cond_init (&s->ckpt_cond);
  s->path = g_strdup (path);

  /* NOMUTEX: a connection is only ever used by one thread at a time (the
   * ingest writer hands it back by being joined), so SQLite's per-call
   * mutex in its default serialized mode is pure overhead. */
  int rc = sqlite3_open_v2 (path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK)
    {
      /* On most failures SQLite still returns a handle holding the message. */
      if (s->db != NULL)
        db_error (s, err, "cannot open database %s", path);
      else
        g_set_error (err, PD_ERROR, PD_ERROR_DB, "cannot open database %s: %s",
                     path, sqlite3_errstr (rc));
      pd_store_free (s);
      return false;
    }
  sqlite3_extended_result_codes (s->db, 1);
  sqlite3_busy_timeout (s->db, 5000);

  /* READWRITE silently falls back to read-only on a file we may not write;
   * say so now rather than at the first insert. */
  if (sqlite3_db_readonly (s->db, "main") == 1)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_DB,
                   "cannot open database %s: the file is read-only", path);
      pd_store_free (s);
      return false;
    }

  g_autofree char *mode = NULL;
  /* WAL lets the command line read while ingest writes. synchronous=FULL
   * because ingest moves or flags IMAP mail right after a commit: that
   * commit must survive a power loss, which WAL with NORMAL does not
   * promise. foreign_keys is off by default and per connection. */
  /* 8 KiB pages for a new database (an existing one keeps its own): raw
   * mail is most of what is written, and each page is one write to the WAL
   * and one more at checkpoint, so bigger pages mean half the system calls
   * (measured: ingest 12% faster than with 4 KiB). Must come before WAL. */
  if (!pragma (s, "PRAGMA page_size = 8192", NULL, err)
      || !pragma (s, "PRAGMA journal_mode = WAL", &mode, err)
      || !pragma (s, "PRAGMA synchronous = FULL", NULL, err)
      || !pragma (s, "PRAGMA foreign_keys = ON", NULL, err)
      /* Each message of a batch runs in a savepoint. SQLite journals the
       * pages a savepoint touches in a sub-journal, and truncates it on
       * RELEASE only when it is in memory: on disk it grows through the
       * whole batch and costs several writes per page (measured: 43 pwrite
       * calls per message on disk, 6 in memory). Only one message's pages
       * are ever held. The cost: transient tables and sorts of big reports
       * also stay in memory, so reports should aggregate over indexes
       * rather than sort millions of rows. */
      || !pragma (s, "PRAGMA temp_store = MEMORY", NULL, err)
      /* 4 MiB instead of the default 2 MiB: the dirty pages of a batch of
       * a few hundred messages then fit, and are written to the WAL once
       * at commit instead of spilling (and being rewritten) mid-batch. */
      || !pragma (s, "PRAGMA cache_size = -4096", NULL, err)
      /* A big batch grows the WAL file; this trims it back after a
       * checkpoint instead of keeping its largest size forever. */
      || !pragma (s, "PRAGMA journal_size_limit = 67108864", NULL, err))
    {
      pd_store_free (s);
      return false;
    }
  g_autofree char *page_size = NULL;
  if (!pragma (s, "PRAGMA page_size", &page_size, err))
    {
      pd_store_free (s);
      return false;
    }
  s->page_size = page_size != NULL ? atoi (page_size) : 4096;
  if (s->page_size <= 0)
    s->page_size = 4096;
  if (mode == NULL
      || (g_ascii_strcasecmp (mode, "wal") != 0 && g_ascii_strcasecmp (mode, "memory") != 0))
    {
      g_set_error (err, PD_ERROR, PD_ERROR_DB,
                   "cannot open database %s: write-ahead logging is unavailable (journal mode %s)",
                   path, mode != NULL ? mode : "unknown");
      pd_store_free (s);
      return false;
    }

  s->builder = json_builder_new_immutable ();
  s->generator = json_generator_new ();
  s->parser = json_parser_new_immutable ();
  for (guint i = 0; i < G_N_ELEMENTS (s->json); i++)
    s->json[i] = g_string_sized_new (256);
  s->lower = g_string_sized_new (64);

  if (!migrate (s, err))
    {
      pd_store_free (s);
      return false;
    }
  *out = s;
  return true;
}

void
pd_store_free (pd_store_t *store)
{
  if (store == NULL)
    return;
  pd_store_background_checkpoints (store, false, NULL);
  g_mutex_clear (&store->ckpt_lock);
  g_cond_clear (&store->ckpt_cond);
  for (int i = 0; i < ST_COUNT; i++)
    sqlite3_finalize (store->stmts[i]);
  /* close_v2 never fails for busy statements; all are finalized anyway. */
  sqlite3_close_v2 (store->db);
  g_clear_object (&store->builder);
  g_clear_object (&store->generator);
  g_clear_object (&store->parser);
  for (guint i = 0; i < G_N_ELEMENTS (store->json); i++)
    if (store->json[i] != NULL)
      g_string_free (store->json[i], TRUE);
  if (store->lower != NULL)
    g_string_free (store->lower, TRUE);
  g_free (store->path);
  g_free (store);
}

/* ---- background checkpoints --------------------------------------------- */

/* WAL pages after which a checkpoint is wanted: SQLite's own default. */
#define CHECKPOINT_PAGES 1000
/* WAL size after which the writer checkpoints itself. A WAL only starts over once a checkpoint has copied all of it,
 * and a checkpointer running beside a writer that never pauses never gets
 * there: without this the WAL of a long import would grow to its whole size. */
#define WAL_LIMIT_BYTES (64 * 1024 * 1024)

/* Runs on the writer's connection after every commit, in place of SQLite's
 * automatic checkpoint: it wakes the checkpointer, and past the limit
 * catches up itself, which is what SQLite's own hook does at every commit. */
static int
wal_hook (void *data, sqlite3 *db, const char *name, int pages)
{
  pd_store_t *s = data;
  if ((gint64) pages * s->page_size >= WAL_LIMIT_BYTES)
    {
      /* BUSY while the checkpointer holds the checkpoint lock: then the next
       * commit tries again. */
      sqlite3_wal_checkpoint_v2 (db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
      return SQLITE_OK;
    }
  if (pages >= CHECKPOINT_PAGES)
    {
      g_mutex_lock (&s->ckpt_lock);
      s->ckpt_wanted = true;
      g_cond_signal (&s->ckpt_cond);
      g_mutex_unlock (&s->ckpt_lock);
    }
  return SQLITE_OK;
}

static gpointer
checkpointer_main (gpointer data)
{
  pd_store_t *s = data;
  g_mutex_lock (&s->ckpt_lock);
  for (;;)
    {
      while (!s->ckpt_wanted && !s->ckpt_stop)
        g_cond_wait (&s->ckpt_cond, &s->ckpt_lock);
      if (s->ckpt_stop)
        break;
      s->ckpt_wanted = false;
      g_mutex_unlock (&s->ckpt_lock);
      /* PASSIVE copies what it can without blocking the writer; what it
       * cannot reach now is copied the next time. A failure here only
       * leaves the WAL longer, and the next checkpoint retries. */
      int rc = sqlite3_wal_checkpoint_v2 (s->ckpt_db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
      if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        g_warning ("checkpoint of %s failed: %s", s->path, sqlite3_errmsg (s->ckpt_db));
      g_mutex_lock (&s->ckpt_lock);
    }
  g_mutex_unlock (&s->ckpt_lock);
  return NULL;
}

bool
pd_store_background_checkpoints (pd_store_t *store, bool on, GError **err)
{
  if (on == (store->ckpt_thread != NULL))
    return true;
  if (!on)
    {
      g_mutex_lock (&store->ckpt_lock);
      store->ckpt_stop = true;
      g_cond_signal (&store->ckpt_cond);
      g_mutex_unlock (&store->ckpt_lock);
      g_thread_join (store->ckpt_thread);
      store->ckpt_thread = NULL;
      sqlite3_close_v2 (store->ckpt_db);
      store->ckpt_db = NULL;
      /* Back to SQLite's checkpoint at commit (this also removes wal_hook). */
      sqlite3_wal_autocheckpoint (store->db, CHECKPOINT_PAGES);
      return true;
    }
  int rc = sqlite3_open_v2 (store->path, &store->ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_DB, "cannot open database %s for checkpoints: %s", store->path,
                   store->ckpt_db != NULL ? sqlite3_errmsg (store->ckpt_db) : sqlite3_errstr (rc));
      sqlite3_close_v2 (store->ckpt_db);
      store->ckpt_db = NULL;
      return false;
    }
  sqlite3_busy_timeout (store->ckpt_db, 5000);
  /* The copy into the database file is synced like every commit is. */
  sqlite3_exec (store->ckpt_db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
  store->ckpt_stop = false;
  store->ckpt_wanted = false;
  sqlite3_wal_hook (store->db, wal_hook, store);
  store->ckpt_thread = g_thread_new ("postdesk-ckpt", checkpointer_main, store);
  return true;
}

int
pd_store_schema_version (pd_store_t *store)
{
  int version;
  if (!read_user_version (store, &version, NULL))
    return -1;
  return version;
}

/* ---- transactions ----------------------------------------------------------- */

static bool
run_simple (pd_store_t *s, stmt_id_t id, GError **err, const char *what)
{
  sqlite3_stmt *st = stmt (s, id, err);
  if (st == NULL)
    return false;
  return exec_stmt (s, st, err, "%s on %s", what, s->path);
}

bool
pd_store_begin (pd_store_t *store, GError **err)
{
  return run_simple (store, ST_BEGIN, err, "cannot begin a transaction");
}

bool
pd_store_commit (pd_store_t *store, GError **err)
{
  return run_simple (store, ST_COMMIT, err, "cannot commit");
}

void
pd_store_rollback (pd_store_t *store)
{
  /* SQLite rolls back by itself after some errors (disk full, I/O); then
   * there is nothing left to undo. */
  if (sqlite3_get_autocommit (store->db))
    return;
  if (!run_simple (store, ST_ROLLBACK, NULL, "cannot roll back"))
    g_warning ("cannot roll back on %s: %s", store->path, sqlite3_errmsg (store->db));
}

bool
pd_store_in_transaction (pd_store_t *store)
{
  return sqlite3_get_autocommit (store->db) == 0;
}

bool
pd_store_savepoint (pd_store_t *store, GError **err)
{
  /* Outside a transaction SAVEPOINT would open a deferred one, which can
   * fail with SQLITE_BUSY_SNAPSHOT when it first writes; batches must start
   * with pd_store_begin. */
  if (sqlite3_get_autocommit (store->db))
    {
      g_set_error (err, PD_ERROR, PD_ERROR_DB,
                   "cannot set a savepoint on %s: no transaction is open", store->path);
      return false;
    }
  return run_simple (store, ST_SAVEPOINT, err, "cannot set a savepoint");
}

bool
pd_store_release (pd_store_t *store, GError **err)
{
  return run_simple (store, ST_RELEASE, err, "cannot release the savepoint");
}

void
pd_store_rollback_savepoint (pd_store_t *store)
{
  if (sqlite3_get_autocommit (store->db))
    return;
  /* ROLLBACK TO keeps the savepoint open; RELEASE closes it so the next
   * message's savepoint is not nested inside this one. */
  if (!run_simple (store, ST_ROLLBACK_TO, NULL, "cannot roll back to the savepoint")
      || !run_simple (store, ST_RELEASE, NULL, "cannot release the savepoint"))
    g_warning ("cannot roll back the savepoint on %s: %s", store->path,
               sqlite3_errmsg (store->db));
}

/* ---- raw bytes ---------------------------------------------------------------- */

bool
pd_store_raw_put (pd_store_t *store, const char *raw, gsize len, const char *sha256,
                  gint64 *raw_id, GError **err)
{
  *raw_id = 0;
  g_autofree char *computed = sha256 == NULL ? pd_sha256_hex (raw, len) : NULL;
  const char *sha = sha256 != NULL ? sha256 : computed;
  sqlite3_stmt *st = stmt (store, ST_RAW_INSERT, err);
  if (st == NULL)
    return false;
  bind_text (store, st, 1, sha);
  bind_int (store, st, 2, (gint64) len);
  bind_blob (store, st, 3, raw, len);
  int rc = step (store, st);
  if (rc == SQLITE_ROW)
    {
      *raw_id = sqlite3_column_int64 (st, 0);
      done (store, st);
      return true;
    }
  if (rc != SQLITE_DONE)
    {
      db_error (store, err, "cannot store raw message (%" G_GSIZE_FORMAT " bytes)", len);
      done (store, st);
      return false;
    }
  done (store, st);

  /* No row returned: these bytes are already stored. */
  st = stmt (store, ST_RAW_FIND, err);
  if (st == NULL)
    return false;
  bind_text (store, st, 1, sha);
  rc = step (store, st);
  if (rc != SQLITE_ROW)
    {
      if (rc == SQLITE_DONE)
        g_set_error (err, PD_ERROR, PD_ERROR_DB,
                     "cannot store raw message: sha256 %s neither inserted nor found", sha);
      else
        db_error (store, err, "cannot find raw message %s", sha);
      done (store, st);
      return false;
    }
  *raw_id = sqlite3_column_int64 (st, 0);
  done (store, st);
  return true;
}

/* Runs statement 'id', whose one parameter is 'key', for the single row
 * it must find. Returns the statement on that row (the caller reads it,
 * then calls done()), or NULL with PD_ERROR_NOT_FOUND "no <what> <key>" or
 * the database's error, the statement already reset. */
static sqlite3_stmt *
row_by_id (pd_store_t *s, stmt_id_t id, gint64 key, const char *what, GError **err)
{
  sqlite3_stmt *st = stmt (s, id, err);
  if (st == NULL)
    return NULL;
  bind_int (s, st, 1, key);
  int rc = step (s, st);
  if (rc == SQLITE_ROW)
    return st;
  if (rc == SQLITE_DONE)
    g_set_error (err, PD_ERROR, PD_ERROR_NOT_FOUND, "no %s %" G_GINT64_FORMAT, what, key);
  else
    db_error (s, err, "cannot read %s %" G_GINT64_FORMAT, what, key);
  done (s, st);
  return NULL;
}

bool
pd_store_raw_get (pd_store_t *store, gint64 raw_id, GBytes **out, GError **err)
{
  *out = NULL;
  sqlite3_stmt *st = row_by_id (store, ST_RAW_GET, raw_id, "raw message", err);
  if (st == NULL)
    return false;
  *out = g_bytes_new (sqlite3_column_blob (st, 0), (gsize) sqlite3_column_bytes (st, 0));
  done (store, st);
  return true;
}

/* ---- lookups -------------------------------------------------------------------- */

bool
pd_store_find_message (pd_store_t *store, const char *message_id,
                       gint64 *ticket_id, char **fingerprint, GError **err)
{
  *ticket_id = 0;
  if (fingerprint != NULL)
    *fingerprint = NULL;
  sqlite3_stmt *st = stmt (store, ST_FIND_MESSAGE, err);
  if (st == NULL)
    return false;
  bind_text (store, st, 1, message_id);
  int rc = step (store, st);
  if (rc == SQLITE_ROW)
    {
      *ticket_id = sqlite3_column_int64 (st, 0);
      if (fingerprint != NULL)
        *fingerprint = col_strdup (st, 1);
    }
  else if (rc != SQLITE_DONE)
    {
      db_error (store, err, "cannot look up message %s", message_id);
      done (store, st);
      return false;
    }
  done (store, st);
  return true;
}

/* Runs a one-row existence query with an integer and an optional text
 * parameter. */
static bool
exists_query (pd_store_t *s, stmt_id_t id, gint64 p1, const char *p2, bool *out,
              GError **err, const char *what)
{
  *out = false;
  sqlite3_stmt *st = stmt (s, id, err);
  if (st == NULL)
    return false;
  bind_int (s, st, 1, p1);
  if (p2 != NULL)
    bind_text (s, st, 2, p2);
  int rc = step (s, st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    {
      db_error (s, err, "%s", what);
      done (s, st);
      return false;
    }
  *out = rc == SQLITE_ROW;
  done (s, st);
  return true;
}

bool
pd_store_ticket_exists (pd_store_t *store, gint64 ticket_id, bool *exists, GError **err)
{
  g_autofree char *what = g_strdup_printf ("cannot look up ticket %" G_GINT64_FORMAT, ticket_id);
  return exists_query (store, ST_TICKET_EXISTS, ticket_id, NULL, exists, err, what);
}

bool
pd_store_is_participant (pd_store_t *store, gint64 ticket_id,
                         const char *address, bool *out, GError **err)
{
  if (address == NULL)
    {
      *out = false;
      return true;
    }
  g_autofree char *what = g_strdup_printf ("cannot look up participant %s of ticket %"
                                           G_GINT64_FORMAT, address, ticket_id);
  return exists_query (store, ST_IS_PARTICIPANT, ticket_id, address, out, err, what);
}

bool
pd_store_ticket_requester (pd_store_t *store, gint64 ticket_id, char **address, GError **err)
{
  *address = NULL;
  sqlite3_stmt *st = row_by_id (store, ST_REQUESTER, ticket_id, "ticket", err);
  if (st == NULL)
    return false;
  *address = col_strdup (st, 0);
  done (store, st);
  return true;
}

/* ---- writes ----------------------------------------------------------------------- */

bool
pd_store_ticket_create (pd_store_t *store, const pd_ticket_new_t *t,
                        gint64 *ticket_id, GError **err)
{
  *ticket_id = 0;
  sqlite3_stmt *st = stmt (store, ST_TICKET_INSERT, err);
  if (st == NULL)
    return false;
  bind_text (store, st, 1, t->subject);
  bind_int (store, st, 2, t->severity);
  bind_text (store, st, 3, strings_json (store, 0, t->severity_rules, -1));
  bind_text (store, st, 4, t->requester_name);
  bind_text (store, st, 5, t->requester_address);
  bind_int (store, st, 6, t->created_at);
  bind_int_or_null (store, st, 7, t->linked_to);
  bind_text (store, st, 8, t->mailbox);
  int rc = step (store, st);
  if (rc != SQLITE_DONE)
    {
      db_error (store, err, "cannot create ticket for %s",
                t->requester_address != NULL ? t->requester_address : "(no address)");
      done (store, st);
      return false;
    }
  *ticket_id = sqlite3_last_insert_rowid (store->db);
  done (store, st);
  return true;
}

static bool
insert_attachments (pd_store_t *s, gint64 message_row, const pd_message_t *msg, GError **err)
{
  if (msg->attachments == NULL || msg->attachments->len == 0)
    return true;
  sqlite3_stmt *st = stmt (s, ST_ATTACHMENT_INSERT, err);
  if (st == NULL)
    return false;
  for (guint i = 0; i < msg->attachments->len; i++)
    {
      const pd_attachment_t *a = g_ptr_array_index (msg->attachments, i);
      bind_int (s, st, 1, message_row);
      bind_int (s, st, 2, i);
      bind_text (s, st, 3, a->filename);
      bind_text (s, st, 4, a->mime_type);
      bind_int (s, st, 5, (gint64) a->size);
      if (!exec_stmt (s, st, err, "cannot add attachment %u (%s) of message %s",
                      i, a->filename != NULL ? a->filename : "unnamed", msg->message_id))
        return false;
    }
  return true;
}

bool
pd_store_message_add (pd_store_t *store, gint64 ticket_id,
                      const pd_message_t *msg, const char *kind,
                      const char *fingerprint, gint64 raw_id,
                      const pd_arrival_t *arrival, gint64 *message_row,
                      GError **err)
{
  *message_row = 0;
  bool own;
  if (!own_begin (store, &own, err))
    return false;

  bool ok = false;
  sqlite3_stmt *st = stmt (store, ST_MESSAGE_INSERT, err);
  if (st == NULL)
    return own_end (store, own, false, NULL);

  /* Without an arrival the message is taken to arrive now. */
  pd_time_t received_at = arrival != NULL && arrival->received_at != 0
                            ? arrival->received_at : pd_time_now ();
  bind_int (store, st, 1, ticket_id);
  bind_text (store, st, 2, msg->message_id);
  bind_text (store, st, 3, kind);
  bind_text (store, st, 4, msg->from != NULL ? msg->from->name : NULL);
  bind_text (store, st, 5, msg->from != NULL ? msg->from->address : NULL);
  bind_text (store, st, 6, addresses_json (store, 0, msg->to));
  bind_text (store, st, 7, addresses_json (store, 1, msg->cc));
  bind_text (store, st, 8, msg->subject != NULL ? msg->subject : "");
  bind_int_or_null (store, st, 9, msg->date);
  bind_int (store, st, 10, received_at);
  bind_text (store, st, 11, msg->in_reply_to);
  bind_text (store, st, 12, msg->references != NULL
                              ? strings_json (store, 2, (const char *const *) msg->references->pdata,
                                              msg->references->len)
                              : "[]");
  bind_text (store, st, 13, msg->body_text != NULL ? msg->body_text : "");
  bind_int (store, st, 14, msg->auto_reply);
  bind_int (store, st, 15, msg->bulk);
  bind_int (store, st, 16, msg->bounce);
  bind_text (store, st, 17, msg->bounced_message_id);
  bind_int (store, st, 18, msg->message_id_synthetic);
  bind_text (store, st, 19, fingerprint);
  bind_int_or_null (store, st, 20, raw_id);
  bind_text (store, st, 21, arrival != NULL ? arrival->mailbox : NULL);
  bind_int_or_null (store, st, 22, arrival != NULL ? arrival->uidvalidity : 0);
  bind_int_or_null (store, st, 23, arrival != NULL ? arrival->uid : 0);
  bind_text (store, st, 24, arrival != NULL ? arrival->origin : NULL);
  if (exec_stmt (store, st, err, "cannot add message %s",
                 msg->message_id != NULL ? msg->message_id : "(no Message-ID)"))
    {
      gint64 row = sqlite3_last_insert_rowid (store->db);
      if (insert_attachments (store, row, msg, err))
        {
          *message_row = row;
          ok = true;
        }
    }
  if (!own_end (store, own, ok, ok ? err : NULL))
    {
      *message_row = 0;
      return false;
    }
  return true;
}

bool
pd_store_participant_add (pd_store_t *store, gint64 ticket_id,
                          const char *address, const char *name,
                          const char *role, GError **err)
{
  sqlite3_stmt *st = stmt (store, ST_PARTICIPANT_INSERT, err);
  if (st == NULL)
    return false;
  bind_int (store, st, 1, ticket_id);
  bind_text (store, st, 2, address);
  bind_text (store, st, 3, name);
  bind_text (store, st, 4, role);
  return exec_stmt (store, st, err, "cannot add participant %s to ticket %" G_GINT64_FORMAT,
                    address != NULL ? address : "(no address)", ticket_id);
}

bool
pd_store_event_add (pd_store_t *store, gint64 ticket_id, pd_time_t at,
                    const char *actor, const char *type,
                    const char *detail, GError **err)
{
  /* The events_touch_ticket trigger moves the ticket's updated_at. */
  sqlite3_stmt *st = stmt (store, ST_EVENT_INSERT, err);
  if (st == NULL)
    return false;
  bind_int (store, st, 1, ticket_id);
  bind_int (store, st, 2, at);
  bind_text (store, st, 3, actor);
  bind_text (store, st, 4, type);
  bind_text (store, st, 5, detail);
  return exec_stmt (store, st, err, "cannot add %s event to ticket %" G_GINT64_FORMAT,
                    type != NULL ? type : "(untyped)", ticket_id);
}

/* ---- reads --------------------------------------------------------------------------- */

void
pd_ticket_free (pd_ticket_t *t)
{
  if (t == NULL)
    return;
  g_free (t->subject);
  g_free (t->status);
  g_strfreev (t->severity_rules);
  g_free (t->requester.name);
  g_free (t->requester.address);
  g_free (t->customer);
  g_free (t->plan);
  g_free (t->mailbox);
  g_free (t);
}

void
pd_stored_message_free (pd_stored_message_t *m)
{
  if (m == NULL)
    return;
  g_free (m->message_id);
  g_free (m->direction);
  g_free (m->kind);
  g_free (m->from.name);
  g_free (m->from.address);
  g_free (m->subject);
  g_free (m->in_reply_to);
  g_free (m->body_text);
  g_clear_pointer (&m->attachments, g_ptr_array_unref);
  g_free (m);
}

void
pd_outbox_item_free (pd_outbox_item_t *o)
{
  if (o == NULL)
    return;
  g_free (o->kind);
  g_strfreev (o->to);
  g_free (o->subject);
  g_free (o->message_id);
  g_free (o->in_reply_to);
  g_free (o->status);
  g_free (o->last_error);
  g_free (o->body_text);
  g_free (o);
}

void
pd_quarantine_item_free (pd_quarantine_item_t *q)
{
  if (q == NULL)
    return;
  g_free (q->reason);
  g_free (q->mailbox);
  g_free (q->origin);
  g_free (q->status);
  g_free (q);
}

/* A ticket from a row of TICKET_COLUMNS. (transfer full) */
static pd_ticket_t *
ticket_from_row (pd_store_t *s, sqlite3_stmt *st, GError **err)
{
  pd_ticket_t *t = g_new0 (pd_ticket_t, 1);
  t->id = sqlite3_column_int64 (st, 0);
  t->subject = col_strdup (st, 1);
  t->status = col_strdup (st, 2);
  t->severity = sqlite3_column_int (st, 3);
  GError *local = NULL;
  if (!parse_strv (s, (const char *) sqlite3_column_text (st, 4), &t->severity_rules, &local))
    {
      g_set_error (err, PD_ERROR, PD_ERROR_DB, "ticket %" G_GINT64_FORMAT
                   " has unreadable severity_rules: %s", t->id, local->message);
      g_error_free (local);
      pd_ticket_free (t);
      return NULL;
    }
  t->requester.name = col_strdup (st, 5);
  t->requester.address = col_strdup (st, 6);
  t->customer = col_strdup (st, 7);
  t->plan = col_strdup (st, 8);
  t->created_at = sqlite3_column_int64 (st, 9);
  t->updated_at = sqlite3_column_int64 (st, 10);
  /* NULL reads as 0, which is "none" in pd_ticket_t. */
  t->first_response_due = sqlite3_column_int64 (st, 11);
  t->resolution_due = sqlite3_column_int64 (st, 12);
  t->first_response_at = sqlite3_column_int64 (st, 13);
  t->linked_to = sqlite3_column_int64 (st, 14);
  t->mailbox = col_strdup (st, 15);
  t->message_count = sqlite3_column_int64 (st, 16);
  return t;
}

bool
pd_store_ticket_get (pd_store_t *store, gint64 ticket_id, pd_ticket_t **out, GError **err)
{
  *out = NULL;
  sqlite3_stmt *st = row_by_id (store, ST_TICKET_GET, ticket_id, "ticket", err);
  if (st == NULL)
    return false;
  *out = ticket_from_row (store, st, err);
  done (store, st);
  return *out != NULL;
}

bool
pd_store_tickets_list (pd_store_t *store, const char *status, GPtrArray **out, GError **err)
{
  *out = NULL;
  sqlite3_stmt *st = stmt (store, status != NULL ? ST_TICKETS_BY_STATUS : ST_TICKETS_ALL, err);
  if (st == NULL)
    return false;
  if (status != NULL)
    bind_text (store, st, 1, status);
  g_autoptr (GPtrArray) list = g_ptr_array_new_with_free_func ((GDestroyNotify) pd_ticket_free);
  int rc;
  while ((rc = step (store, st)) == SQLITE_ROW)
    {
      pd_ticket_t *t = ticket_from_row (store, st, err);
      if (t == NULL)
        {
          done (store, st);
          return false;
        }
      g_ptr_array_add (list, t);
    }
  if (rc != SQLITE_DONE)
    {
      db_error (store, err, "cannot list tickets");
      done (store, st);
      return false;
    }
  done (store, st);
  *out = g_steal_pointer (&list);
  return true;
}

static bool
read_attachments (pd_store_t *s, pd_stored_message_t *m, GError **err)
{
  sqlite3_stmt *st = stmt (s, ST_MESSAGE_ATTACHMENTS, err);
  if (st == NULL)
    return false;
  bind_int (s, st, 1, m->id);
  int rc;
  while ((rc = step (s, st)) == SQLITE_ROW)
    {
      pd_attachment_t *a = g_new0 (pd_attachment_t, 1);
      a->filename = col_strdup (st, 0);
      a->mime_type = col_strdup (st, 1);
      a->size = (gsize) sqlite3_column_int64 (st, 2);
      g_ptr_array_add (m->attachments, a);
    }
  if (rc != SQLITE_DONE)
    {
      db_error (s, err, "cannot read the attachments of message %s", m->message_id);
      done (s, st);
      return false;
    }
  done (s, st);
  return true;
}

bool
pd_store_ticket_messages (pd_store_t *store, gint64 ticket_id, GPtrArray **out, GError **err)
{
  *out = NULL;
  sqlite3_stmt *st = stmt (store, ST_TICKET_MESSAGES, err);
  if (st == NULL)
    return false;
  bind_int (store, st, 1, ticket_id);
  g_autoptr (GPtrArray) list =
    g_ptr_array_new_with_free_func ((GDestroyNotify) pd_stored_message_free);
  int rc;
  while ((rc = step (store, st)) == SQLITE_ROW)
    {
      pd_stored_message_t *m = g_new0 (pd_stored_message_t, 1);
      m->id = sqlite3_column_int64 (st, 0);
      m->ticket_id = sqlite3_column_int64 (st, 1);
      m->message_id = col_strdup (st, 2);
      m->direction = col_strdup (st, 3);
      m->kind = col_strdup (st, 4);
      m->from.name = col_strdup (st, 5);
      m->from.address = col_strdup (st, 6);
      m->subject = col_strdup (st, 7);
      m->received_at = sqlite3_column_int64 (st, 8);
      m->in_reply_to = col_strdup (st, 9);
      m->body_text = col_strdup (st, 10);
      m->attachments = g_ptr_array_new_with_free_func ((GDestroyNotify) pd_attachment_free);
      g_ptr_array_add (list, m);
      /* A second statement may run while this one is mid-iteration. */
      if (!read_attachments (store, m, err))
        {
          done (store, st);
          return false;
        }
    }
  if (rc != SQLITE_DONE)
    {
      db_error (store, err, "cannot read the messages of ticket %" G_GINT64_FORMAT, ticket_id);
      done (store, st);
      return false;
    }
  done (store, st);
  *out = g_steal_pointer (&list);
  return true;
}

bool
pd_store_outbox_list (pd_store_t *store, GPtrArray **out, GError **err)
{
  *out = NULL;
  sqlite3_stmt *st = stmt (store, ST_OUTBOX_ALL, err);
  if (st == NULL)
    return false;
  g_autoptr (GPtrArray) list =
    g_ptr_array_new_with_free_func ((GDestroyNotify) pd_outbox_item_free);
  int rc;
  while ((rc = step (store, st)) == SQLITE_ROW)
    {
      pd_outbox_item_t *o = g_new0 (pd_outbox_item_t, 1);
      g_ptr_array_add (list, o);
      o->id = sqlite3_column_int64 (st, 0);
      o->ticket_id = sqlite3_column_int64 (st, 1);
      o->kind = col_strdup (st, 2);
      GError *local = NULL;
      if (!parse_strv (store, (const char *) sqlite3_column_text (st, 3), &o->to, &local))
        {
          g_set_error (err, PD_ERROR, PD_ERROR_DB, "outbox entry %" G_GINT64_FORMAT
                       " has unreadable recipients: %s", o->id, local->message);
          g_error_free (local);
          done (store, st);
          return false;
        }
      o->subject = col_strdup (st, 4);
      o->message_id = col_strdup (st, 5);
      o->in_reply_to = col_strdup (st, 6);
      o->status = col_strdup (st, 7);
      o->attempts = sqlite3_column_int (st, 8);
      o->last_error = col_strdup (st, 9);
      o->body_text = col_strdup (st, 10);
    }
  if (rc != SQLITE_DONE)
    {
      db_error (store, err, "cannot list the outbox");
      done (store, st);
      return false;
    }
  done (store, st);
  *out = g_steal_pointer (&list);
  return true;
}

/* ---- mailbox state ---------------------------------------------------------------------- */

bool
pd_store_mailbox_state_get (pd_store_t *store, const char *mailbox,
                            gint64 *uidvalidity, gint64 *last_uid, GError **err)
{
  *uidvalidity = 0;
  *last_uid = 0;
  sqlite3_stmt *st = stmt (store, ST_MAILBOX_GET, err);
  if (st == NULL)
    return false;
  bind_text (store, st, 1, mailbox);
  int rc = step (store, st);
  if (rc == SQLITE_ROW)
    {
      *uidvalidity = sqlite3_column_int64 (st, 0);
      *last_uid = sqlite3_column_int64 (st, 1);
    }
  else if (rc != SQLITE_DONE)
    {
      db_error (store, err, "cannot read the state of mailbox %s", mailbox);
      done (store, st);
      return false;
    }
  done (store, st);
  return true;
}

bool
pd_store_mailbox_state_set (pd_store_t *store, const char *mailbox,
                            gint64 uidvalidity, gint64 last_uid, GError **err)
{
  sqlite3_stmt *st = stmt (store, ST_MAILBOX_SET, err);
  if (st == NULL)
    return false;
  bind_text (store, st, 1, mailbox);
  bind_int (store, st, 2, uidvalidity);
  bind_int (store, st, 3, last_uid);
  bind_int (store, st, 4, pd_time_now ());
  return exec_stmt (store, st, err, "cannot save the state of mailbox %s",
                    mailbox != NULL ? mailbox : "(unnamed)");
}

/* ---- quarantine ------------------------------------------------------------------------- */

static bool
quarantine_add_in_tx (pd_store_t *s, const char *raw, gsize len, const char *reason,
                      const pd_arrival_t *arrival, gint64 *id, bool *was_new, GError **err)
{
  gint64 raw_id;
  if (!pd_store_raw_put (s, raw, len, NULL, &raw_id, err))
    return false;
  pd_time_t now = pd_time_now ();

  sqlite3_stmt *st = stmt (s, ST_QUARANTINE_FIND_HELD, err);
  if (st == NULL)
    return false;
  bind_int (s, st, 1, raw_id);
  int rc = step (s, st);
  if (rc == SQLITE_ROW)
    {
      gint64 existing = sqlite3_column_int64 (st, 0);
      done (s, st);
      st = stmt (s, ST_QUARANTINE_TOUCH, err);
      if (st == NULL)
        return false;
      bind_int (s, st, 1, existing);
      bind_text (s, st, 2, reason);
      bind_int (s, st, 3, now);
      if (!exec_stmt (s, st, err, "cannot update quarantine entry %" G_GINT64_FORMAT, existing))
        return false;
      *id = existing;
      *was_new = false;
      return true;
    }
  if (rc != SQLITE_DONE)
    {
      db_error (s, err, "cannot look up quarantined raw message %" G_GINT64_FORMAT, raw_id);
      done (s, st);
      return false;
    }
  done (s, st);

  st = stmt (s, ST_QUARANTINE_INSERT, err);
  if (st == NULL)
    return false;
  bind_int (s, st, 1, raw_id);
  bind_int (s, st, 2, arrival != NULL && arrival->true_size > (gint64) len ? arrival->true_size : (gint64) len);
  bind_text (s, st, 3, reason);
  bind_int (s, st, 4, arrival != NULL && arrival->received_at != 0 ? arrival->received_at : now);
  bind_text (s, st, 5, arrival != NULL ? arrival->mailbox : NULL);
  bind_text (s, st, 6, arrival != NULL ? arrival->origin : NULL);
  bind_int (s, st, 7, now);
  if (!exec_stmt (s, st, err, "cannot quarantine message (%s)", reason != NULL ? reason : "no reason"))
    return false;
  *id = sqlite3_last_insert_rowid (s->db);
  *was_new = true;
  return true;
}

bool
pd_store_quarantine_add (pd_store_t *store, const char *raw, gsize len,
                         const char *reason, const pd_arrival_t *arrival,
                         gint64 *id, bool *was_new, GError **err)
{
  *id = 0;
  *was_new = false;
  bool own;
  if (!own_begin (store, &own, err))
    return false;
  bool ok = quarantine_add_in_tx (store, raw, len, reason, arrival, id, was_new, err);
  if (!own_end (store, own, ok, ok ? err : NULL))
    {
      *id = 0;
      *was_new = false;
      return false;
    }
  return true;
}

static pd_quarantine_item_t *
quarantine_from_row (sqlite3_stmt *st)
{
  pd_quarantine_item_t *q = g_new0 (pd_quarantine_item_t, 1);
  q->id = sqlite3_column_int64 (st, 0);
  q->reason = col_strdup (st, 1);
  q->received_at = sqlite3_column_int64 (st, 2);
  q->size = sqlite3_column_int64 (st, 3);
  q->mailbox = col_strdup (st, 4);
  q->origin = col_strdup (st, 5);
  q->status = col_strdup (st, 6);
  q->ticket_id = sqlite3_column_int64 (st, 7);
  return q;
}

bool
pd_store_quarantine_list (pd_store_t *store, bool all, GPtrArray **out, GError **err)
{
  *out = NULL;
  sqlite3_stmt *st = stmt (store, all ? ST_QUARANTINE_ALL : ST_QUARANTINE_HELD, err);
  if (st == NULL)
    return false;
  g_autoptr (GPtrArray) list =
    g_ptr_array_new_with_free_func ((GDestroyNotify) pd_quarantine_item_free);
  int rc;
  while ((rc = step (store, st)) == SQLITE_ROW)
    g_ptr_array_add (list, quarantine_from_row (st));
  if (rc != SQLITE_DONE)
    {
      db_error (store, err, "cannot list the quarantine");
      done (store, st);
      return false;
    }
  done (store, st);
  *out = g_steal_pointer (&list);
  return true;
}

bool
pd_store_quarantine_get (pd_store_t *store, gint64 id,
                         pd_quarantine_item_t **item, GBytes **raw, GError **err)
{
  if (item != NULL)
    *item = NULL;
  if (raw != NULL)
    *raw = NULL;
  sqlite3_stmt *st = row_by_id (store, ST_QUARANTINE_GET, id, "quarantine entry", err);
  if (st == NULL)
    return false;
  if (item != NULL)
    *item = quarantine_from_row (st);
  if (raw != NULL)
    *raw = g_bytes_new (sqlite3_column_blob (st, 8), (gsize) sqlite3_column_bytes (st, 8));
  done (store, st);
  return true;
}

/* Runs one of the quarantine updates; no row changed means no such entry. */
static bool
quarantine_update (pd_store_t *s, stmt_id_t sid, gint64 id, bool with_ticket,
                   gint64 ticket_id, const char *reason, GError **err, const char *what)
{
  sqlite3_stmt *st = stmt (s, sid, err);
  if (st == NULL)
    return false;
  bind_int (s, st, 1, id);
  if (with_ticket)
    bind_int_or_null (s, st, 2, ticket_id);
  else
    bind_text (s, st, 2, reason);
  bind_int (s, st, 3, pd_time_now ());
  if (!exec_stmt (s, st, err, "%s %" G_GINT64_FORMAT, what, id))
    return false;
  if (sqlite3_changes (s->db) == 0)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_NOT_FOUND, "no quarantine entry %" G_GINT64_FORMAT, id);
      return false;
    }
  return true;
}

bool
pd_store_quarantine_release (pd_store_t *store, gint64 id, gint64 ticket_id, GError **err)
{
  return quarantine_update (store, ST_QUARANTINE_RELEASE, id, true, ticket_id, NULL, err,
                            "cannot release quarantine entry");
}

bool
pd_store_quarantine_set_reason (pd_store_t *store, gint64 id, const char *reason, GError **err)
{
  return quarantine_update (store, ST_QUARANTINE_SET_REASON, id, false, 0, reason, err,
                            "cannot set the reason of quarantine entry");
}
