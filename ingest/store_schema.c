/* store_schema.c - the database schema and its migrations. */
#include "store_internal.h"

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

  /* 1 -> 2: a Message-ID no longer names one row. Senders choose their
   * Message-IDs, so a reused one must never block, replace or hide other
   * mail: the same id with the same content (content_sha256, see
   * pd_mime_content_hash) is a duplicate, the same id with other content
   * is other mail, stored as it is. The table is rebuilt to drop the
   * UNIQUE; this runs with foreign keys off, as SQLite's own procedure for
   * changing a table asks. Rows of schema 1 have no content hash (their
   * fingerprint hashed less); the duplicate check reads their raw bytes.
   * Ids the first schema derived for reused Message-IDs ("<id>#<hex>")
   * become the id again. */
  "CREATE TABLE messages_v2 (\n"
  "  id                   INTEGER PRIMARY KEY,\n"
  "  ticket_id            INTEGER NOT NULL REFERENCES tickets (id),\n"
  "  message_id           TEXT NOT NULL,\n"
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
  "  content_sha256       TEXT,\n"
  "  raw_id               INTEGER REFERENCES raw_messages (id),\n"
  "  mailbox              TEXT,\n"
  "  imap_uidvalidity     INTEGER,\n"
  "  imap_uid             INTEGER,\n"
  "  origin               TEXT\n"
  ") STRICT;\n"
  "INSERT INTO messages_v2 SELECT id, ticket_id, message_id, direction, kind, from_name,"
  " from_address, to_json, cc_json, subject, date, received_at, in_reply_to, references_json,"
  " body_text, auto_reply, bulk, bounce, bounced_message_id, message_id_synthetic, NULL,"
  " raw_id, mailbox, imap_uidvalidity, imap_uid, origin FROM messages;\n"
  "DROP TABLE messages;\n"
  "ALTER TABLE messages_v2 RENAME TO messages;\n"
  "UPDATE messages AS m SET message_id = substr (m.message_id, 1, instr (m.message_id, '#') - 1)\n"
  " WHERE m.direction = 'in' AND (m.message_id GLOB '*#' || replace (hex (zeroblob (12)), '00', '[0-9a-f]')\n"
  "                           OR m.message_id GLOB '*#' || replace (hex (zeroblob (64)), '00', '[0-9a-f]'))\n"
  "   AND instr (m.message_id, '#') > 1;\n"
  "CREATE INDEX messages_ticket ON messages (ticket_id, received_at, id);\n"
  "CREATE UNIQUE INDEX messages_imap_uid ON messages (mailbox, imap_uidvalidity, imap_uid)\n"
  "  WHERE imap_uid IS NOT NULL;\n"
  "CREATE INDEX messages_raw ON messages (raw_id) WHERE raw_id IS NOT NULL;\n"
  /* Lookups by Message-ID, and the safety net under the duplicate check:
   * one content per id. Rows without a hash (outbound mail, schema 1) are
   * NULL, which UNIQUE never counts as equal. */
  "CREATE UNIQUE INDEX messages_id_content ON messages (message_id, content_sha256);\n"

  /* Every Message-ID a message points back to (In-Reply-To and
   * References), so that a message arriving after its own reply (an
   * out-of-order import) finds the ticket that reply opened. */
  "CREATE TABLE message_refs (\n"
  "  ref         TEXT NOT NULL,\n"
  "  message_row INTEGER NOT NULL REFERENCES messages (id),\n"
  "  PRIMARY KEY (ref, message_row)\n"
  ") STRICT, WITHOUT ROWID;\n"
  "INSERT OR IGNORE INTO message_refs (ref, message_row)\n"
  "  SELECT in_reply_to, id FROM messages WHERE in_reply_to IS NOT NULL AND direction = 'in';\n"
  "INSERT OR IGNORE INTO message_refs (ref, message_row)\n"
  "  SELECT j.value, m.id FROM messages m, json_each (m.references_json) j\n"
  "   WHERE m.direction = 'in' AND j.type = 'text';\n"

  /* The Message-ID of quarantined mail, when it has a readable one: a
   * corrected copy ingested later releases the entry. */
  "ALTER TABLE quarantine ADD COLUMN message_id TEXT;\n"
  "CREATE INDEX quarantine_message_id ON quarantine (message_id) WHERE status = 'held';\n"
  /* What people did that concerns no ticket (a quarantine entry deleted,
   * purged or released by hand): the desk's own history, append-only. */
  "CREATE TABLE journal (\n"
  "  id     INTEGER PRIMARY KEY,\n"
  "  at     INTEGER NOT NULL,\n"
  "  actor  TEXT NOT NULL,\n"
  "  action TEXT NOT NULL,\n"
  "  detail TEXT CHECK (detail IS NULL OR (json_valid(detail) AND json_type(detail) = 'object'))\n"
  ") STRICT;\n"
  "CREATE TRIGGER journal_append_only_update BEFORE UPDATE ON journal\n"
  "BEGIN SELECT RAISE (ABORT, 'the journal is append-only'); END;\n"
  "CREATE TRIGGER journal_append_only_delete BEFORE DELETE ON journal\n"
  "BEGIN SELECT RAISE (ABORT, 'the journal is append-only'); END;\n",

  /* 2 -> 3: SLA clocks and acknowledgements. A ticket says what opened it
   * (only a customer's question starts a clock and gets an
   * acknowledgement) and when its clock started: at arrival, or at the
   * next opening of its calendar. ack_log counts acknowledgements per
   * address, so that two auto-responders can never mail each other in a
   * loop. */
  "ALTER TABLE tickets ADD COLUMN opened_by TEXT NOT NULL DEFAULT 'customer'\n"
  "  CHECK (opened_by IN ('customer','staff','auto-reply','bulk','bounce'));\n"
  "ALTER TABLE tickets ADD COLUMN clock_started_at INTEGER;\n"
  "UPDATE tickets SET opened_by = coalesce ((\n"
  "  SELECT CASE WHEN m.kind = 'customer' AND m.bulk = 1 THEN 'bulk'\n"
  "              WHEN m.kind IN ('customer','staff','auto-reply','bounce') THEN m.kind\n"
  "              ELSE 'customer' END\n"
  "    FROM messages m WHERE m.ticket_id = tickets.id ORDER BY m.received_at, m.id LIMIT 1),\n"
  "  'customer');\n"
  "CREATE TABLE ack_log (\n"
  "  address   TEXT NOT NULL CHECK (address = lower(address)),\n"
  "  at        INTEGER NOT NULL,\n"
  "  ticket_id INTEGER NOT NULL REFERENCES tickets (id)\n"
  ") STRICT;\n"
  "CREATE INDEX ack_log_address ON ack_log (address, at);\n",

  /* 3 -> 4: delivery failures that come back by mail. An outbox row a
   * bounce returned becomes 'bounced', with what the report said about
   * it; SQLite cannot change a CHECK, so the table is rebuilt (foreign
   * keys off, as in step 2; no table refers to the outbox yet). An
   * address whose mail failed permanently is suppressed: postdesk sends
   * it nothing until an admin lifts it, and the row says why and which
   * mail of which ticket bounced. */
  "CREATE TABLE outbox_v4 (\n"
  "  id                INTEGER PRIMARY KEY,\n"
  "  ticket_id         INTEGER NOT NULL REFERENCES tickets (id),\n"
  "  message_row       INTEGER UNIQUE REFERENCES messages (id),\n"
  "  kind              TEXT NOT NULL CHECK (kind IN ('ack','relay','notice')),\n"
  "  recipients        TEXT NOT NULL\n"
  "                    CHECK (json_valid(recipients) AND json_type(recipients) = 'array'),\n"
  "  subject           TEXT NOT NULL,\n"
  "  message_id        TEXT NOT NULL UNIQUE,\n"
  "  in_reply_to       TEXT,\n"
  "  body_text         TEXT NOT NULL,\n"
  "  raw               BLOB,\n"
  "  status            TEXT NOT NULL DEFAULT 'queued'\n"
  "                    CHECK (status IN ('queued','sending','sent','failed','bounced')),\n"
  "  attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),\n"
  "  next_attempt_at   INTEGER,\n"
  "  last_error        TEXT,\n"
  "  created_at        INTEGER NOT NULL,\n"
  "  sent_at           INTEGER,\n"
  "  bounce_recipient  TEXT,\n"
  "  bounce_status     TEXT,\n"
  "  bounce_diagnostic TEXT,\n"
  "  bounced_at        INTEGER\n"
  ") STRICT;\n"
  "INSERT INTO outbox_v4 (id, ticket_id, message_row, kind, recipients, subject, message_id,"
  " in_reply_to, body_text, raw, status, attempts, next_attempt_at, last_error, created_at, sent_at)"
  " SELECT id, ticket_id, message_row, kind, recipients, subject, message_id, in_reply_to,"
  " body_text, raw, status, attempts, next_attempt_at, last_error, created_at, sent_at FROM outbox;\n"
  "DROP TABLE outbox;\n"
  "ALTER TABLE outbox_v4 RENAME TO outbox;\n"
  "CREATE INDEX outbox_due ON outbox (status, next_attempt_at);\n"
  "CREATE INDEX outbox_ticket ON outbox (ticket_id);\n"
  "CREATE TABLE suppressed (\n"
  "  address    TEXT PRIMARY KEY CHECK (address = lower(address)),\n"
  "  reason     TEXT NOT NULL,\n"
  "  status     TEXT,\n"
  "  diagnostic TEXT,\n"
  "  ticket_id  INTEGER REFERENCES tickets (id),\n"
  "  outbox_id  INTEGER REFERENCES outbox (id),\n"
  "  created_at INTEGER NOT NULL\n"
  ") STRICT, WITHOUT ROWID;\n",
};

#define SCHEMA_VERSION ((int) G_N_ELEMENTS (migrations))

static const char *const stmt_sql[ST_COUNT] = {
  [ST_USER_VERSION] = "PRAGMA user_version",
};

static sqlite3_stmt *
stmt (pd_store_t *s, stmt_id_t id, GError **err)
{
  return store_stmt (s, id, stmt_sql[id], err);
}

bool
store_read_user_version (pd_store_t *s, int *version, GError **err)
{
  *version = 0;
  sqlite3_stmt *st = stmt (s, ST_USER_VERSION, err);
  if (st == NULL)
    return false;
  int rc = step (s, st);
  if (rc != SQLITE_ROW)
    {
      store_db_error (s, err, "cannot open database %s", s->path);
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
  if (!store_read_user_version (s, &version, err) || !check_version (s, version, err))
    return false;
  for (int v = version; v < SCHEMA_VERSION; v++)
    {
      if (sqlite3_exec (s->db, migrations[v], NULL, NULL, NULL) != SQLITE_OK)
        {
          store_db_error (s, err, "cannot migrate database %s to schema version %d", s->path, v + 1);
          return false;
        }
    }
  /* Steps that rebuild a table run with foreign keys off; this proves
   * they left every reference whole. */
  sqlite3_stmt *check = NULL;
  int rc = sqlite3_prepare_v2 (s->db, "PRAGMA foreign_key_check", -1, &check, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_step (check);
  sqlite3_finalize (check);
  if (rc != SQLITE_DONE)
    {
      store_db_error (s, err, "cannot migrate database %s: %s", s->path,
                      rc == SQLITE_ROW ? "it would break a reference between tables"
                                       : "cannot check references between tables");
      return false;
    }
  /* A pragma takes no parameters; the number is this file's constant. */
  g_autofree char *set = g_strdup_printf ("PRAGMA user_version = %d", SCHEMA_VERSION);
  if (sqlite3_exec (s->db, set, NULL, NULL, NULL) != SQLITE_OK)
    {
      store_db_error (s, err, "cannot set the schema version of %s", s->path);
      return false;
    }
  return true;
}

/* Sets the mark that says "this file is postdesk's" on a database that
 * lacks it: a new one, or one made before the mark existed. */
static bool
mark_as_postdesk (pd_store_t *s, GError **err)
{
  /* A pragma takes no parameters; the number is this file's constant. */
  g_autofree char *set = g_strdup_printf ("PRAGMA application_id = %d", PD_STORE_APPLICATION_ID);
  if (sqlite3_exec (s->db, set, NULL, NULL, NULL) != SQLITE_OK)
    {
      store_db_error (s, err, "cannot mark %s as a postdesk database", s->path);
      return false;
    }
  return true;
}

bool
store_identify (pd_store_t *s, store_identity_t *identity, GError **err)
{
  *identity = STORE_OTHER;
  /* One read of the header and the schema table, before anything is
   * written: another program's database must leave here untouched. */
  static const char sql_text[] =
    "SELECT (SELECT application_id FROM pragma_application_id),"
    " (SELECT count(*) FROM sqlite_schema),"
    " (SELECT count(*) FROM sqlite_schema WHERE type = 'table'"
    "   AND name IN ('tickets', 'messages', 'raw_messages', 'quarantine', 'events')),"
    " (SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name LIMIT 1)";
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2 (s->db, sql_text, -1, &st, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_step (st);
  if (rc != SQLITE_ROW)
    {
      store_db_error (s, err, "cannot open database %s", s->path);
      sqlite3_finalize (st);
      return false;
    }
  gint64 app_id = sqlite3_column_int64 (st, 0);
  gint64 objects = sqlite3_column_int64 (st, 1);
  gint64 ours = sqlite3_column_int64 (st, 2);
  g_autofree char *some_table = col_strdup (st, 3);
  sqlite3_finalize (st);

  if (app_id == PD_STORE_APPLICATION_ID)
    *identity = STORE_POSTDESK;
  else if (app_id == 0 && objects == 0)
    *identity = STORE_EMPTY;
  /* Databases written before the mark existed have every table of the
   * first schema; anything less is somebody else's file. */
  else if (app_id == 0 && ours == 5)
    *identity = STORE_POSTDESK_UNMARKED;
  else
    {
      g_autofree char *shown = some_table != NULL ? g_strescape (some_table, NULL) : NULL;
      g_set_error (err, PD_ERROR, PD_ERROR_DB,
                   "%s is not a postdesk database (application id %" G_GINT64_FORMAT
                   "%s%s%s): postdesk will not add its tables to another program's file;"
                   " point 'database' in the configuration at a new file",
                   s->path, app_id, shown != NULL ? ", it holds a table named '" : "",
                   shown != NULL ? shown : "", shown != NULL ? "'" : "");
      return false;
    }
  return true;
}

bool
store_migrate (pd_store_t *s, store_identity_t identity, bool read_only, GError **err)
{
  int version;
  /* Reading first, without a lock, lets an up-to-date database open while
   * another process holds a long write transaction. */
  if (!store_read_user_version (s, &version, err) || !check_version (s, version, err))
    return false;
  if (version == SCHEMA_VERSION && identity == STORE_POSTDESK)
    return true;
  if (read_only)
    {
      /* An unmarked database of the current schema reads fine as it is;
       * the mark is set by the next command that writes. */
      if (identity == STORE_POSTDESK_UNMARKED && version == SCHEMA_VERSION)
        return true;
      if (identity == STORE_EMPTY)
        g_set_error (err, PD_ERROR, PD_ERROR_READ_ONLY,
                     "database %s is empty: 'postdesk init' or 'postdesk ingest' creates it", s->path);
      else
        g_set_error (err, PD_ERROR, PD_ERROR_READ_ONLY,
                     "database %s is at schema version %d and needs an upgrade to version %d,"
                     " which needs write access", s->path, version, SCHEMA_VERSION);
      return false;
    }

  if (!pd_store_begin (s, err))
    return false;
  if (!apply_migrations (s, err) || !mark_as_postdesk (s, err))
    {
      pd_store_rollback (s);
      return false;
    }
  return pd_store_commit (s, err);
}

int
pd_store_schema_version (pd_store_t *store)
{
  int version;
  if (!store_read_user_version (store, &version, NULL))
    return -1;
  return version;
}
