/* store.c - the SQLite database behind postdesk: opening, the statement
 * cache, transactions and background checkpoints. What is stored lives in
 * the files beside it, one per kind of record (store_tickets.c,
 * store_messages.c, store_raw.c, store_outbox.c, store_quarantine.c), and
 * the schema in store_schema.c; store_internal.h is what they share.
 *
 * Only the store_*.c files include sqlite3.h. Every statement is prepared
 * once, on first use, and kept on the handle; each call binds, steps, resets
 * and clears it. Nothing is ever spliced into SQL text: the only SQL built at
 * run time is the user_version pragma, from a constant of store_schema.c.
 *
 * Ownership: the handle owns the connection, every cached statement and the
 * JSON helpers. Strings bound to statements are borrowed with SQLITE_STATIC:
 * this is safe because every use of a statement ends with reset and
 * clear_bindings before the function returns, so SQLite never keeps a
 * pointer past the call that lent it.
 */
#include "store_internal.h"

#include "postdesk/json.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The savepoint name is fixed: batches isolate one message at a time and
 * never nest. */
#define SAVEPOINT_NAME "pd_message"

static const char *const stmt_sql[ST_COUNT] = {
  [ST_BEGIN] = "BEGIN IMMEDIATE",
  [ST_COMMIT] = "COMMIT",
  [ST_ROLLBACK] = "ROLLBACK",
  [ST_SAVEPOINT] = "SAVEPOINT " SAVEPOINT_NAME,
  [ST_RELEASE] = "RELEASE " SAVEPOINT_NAME,
  [ST_ROLLBACK_TO] = "ROLLBACK TO " SAVEPOINT_NAME,
};

static sqlite3_stmt *
stmt (pd_store_t *s, stmt_id_t id, GError **err)
{
  return store_stmt (s, id, stmt_sql[id], err);
}

sqlite3_stmt *
store_stmt (pd_store_t *s, stmt_id_t id, const char *sql_text, GError **err)
{
  if (s->stmts[id] != NULL)
    return s->stmts[id];
  if (sqlite3_prepare_v3 (s->db, sql_text, -1, SQLITE_PREPARE_PERSISTENT,
                          &s->stmts[id], NULL) != SQLITE_OK)
    {
      store_db_error (s, err, "cannot prepare statement '%s' on %s", sql_text, s->path);
      s->stmts[id] = NULL;
      return NULL;
    }
  return s->stmts[id];
}

void
store_db_error (pd_store_t *s, GError **err, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  /* A record the schema refuses is the record's fault: the caller can set
   * it aside and go on. Everything else is the database's. */
  int code = sqlite3_extended_errcode (s->db) & 0xff;
  bool rejected = code == SQLITE_CONSTRAINT || code == SQLITE_TOOBIG || code == SQLITE_MISMATCH;
  g_set_error (err, PD_ERROR, rejected ? PD_ERROR_REJECTED : PD_ERROR_DB, "%s: %s", what,
               sqlite3_errmsg (s->db));
}

bool
store_exec (pd_store_t *s, sqlite3_stmt *st, GError **err, const char *fmt, ...)
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
      store_db_error (s, err, "%s", what);
      done (s, st);
      return false;
    }
  done (s, st);
  return true;
}

/* Lower-cased copy in the handle's scratch buffer, ASCII only so it agrees
 * with SQLite's lower(). (borrowed: valid until the next call) */
const char *
store_lower (pd_store_t *s, const char *v)
{
  g_string_assign (s->lower, v);
  g_string_ascii_down (s->lower);
  return s->lower->str;
}

/* JSON text of a list of strings into buffer 'slot'. (borrowed from the
 * handle: valid until the slot is used again) */
const char *
store_strings_json (pd_store_t *s, int slot, const char *const *v, gssize n)
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
  g_string_truncate (s->json[slot], 0);
  pd_json_write (s->json[slot], root, false);
  json_node_unref (root);
  return s->json[slot]->str;
}

/* JSON text of a list of pd_address_t*: [{"name": ..., "address": ...}],
 * addresses lower-cased, "name" left out when there is none. */
const char *
store_addresses_json (pd_store_t *s, int slot, const GPtrArray *addrs)
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
      json_builder_add_string_value (s->builder, store_lower (s, a->address));
      json_builder_end_object (s->builder);
    }
  json_builder_end_array (s->builder);
  JsonNode *root = json_builder_get_root (s->builder);
  g_string_truncate (s->json[slot], 0);
  pd_json_write (s->json[slot], root, false);
  json_node_unref (root);
  return s->json[slot]->str;
}

/* Parses a JSON array of strings into a NULL-terminated vector.
 * (transfer full) */
bool
store_parse_strv (pd_store_t *s, const char *text, char ***out, GError **err)
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
bool
store_own_begin (pd_store_t *s, bool *own, GError **err)
{
  *own = sqlite3_get_autocommit (s->db) != 0;
  if (!*own)
    return true;
  return pd_store_begin (s, err);
}

bool
store_own_end (pd_store_t *s, bool own, bool ok, GError **err)
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

sqlite3_stmt *
store_row_by_id (pd_store_t *s, sqlite3_stmt *st, gint64 key, const char *what, GError **err)
{
  if (st == NULL)
    return NULL;
  bind_int (s, st, 1, key);
  int rc = step (s, st);
  if (rc == SQLITE_ROW)
    return st;
  if (rc == SQLITE_DONE)
    g_set_error (err, PD_ERROR, PD_ERROR_NOT_FOUND, "no %s %" G_GINT64_FORMAT, what, key);
  else
    store_db_error (s, err, "cannot read %s %" G_GINT64_FORMAT, what, key);
  done (s, st);
  return NULL;
}

bool
store_exists (pd_store_t *s, sqlite3_stmt *st, gint64 p1, const char *p2, bool *out,
              GError **err, const char *what)
{
  *out = false;
  if (st == NULL)
    return false;
  bind_int (s, st, 1, p1);
  if (p2 != NULL)
    bind_text (s, st, 2, p2);
  int rc = step (s, st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    {
      store_db_error (s, err, "%s", what);
      done (s, st);
      return false;
    }
  *out = rc == SQLITE_ROW;
  done (s, st);
  return true;
}

/* Runs a pragma and hands back its first column as text, when it has one
 * (transfer full). Returns SQLite's result code; SQLITE_OK on success. */
static int
pragma_rc (pd_store_t *s, const char *sql_text, char **result)
{
  sqlite3_stmt *st = NULL;
  if (result != NULL)
    *result = NULL;
  int rc = sqlite3_prepare_v2 (s->db, sql_text, -1, &st, NULL);
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
  sqlite3_finalize (st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static bool
pragma (pd_store_t *s, const char *sql_text, char **result, GError **err)
{
  int rc = pragma_rc (s, sql_text, result);
  if (rc == SQLITE_OK)
    return true;
  g_set_error (err, PD_ERROR, PD_ERROR_DB, "cannot open database %s: %s", s->path,
               sqlite3_errstr (rc));
  return false;
}

#define BUSY_TIMEOUT_MS 5000

/* Switching to WAL takes an exclusive lock for a moment, and SQLite does
 * not call the busy handler for it: two processes opening a new database
 * at once would see "database is locked". So wait here, as long as the
 * busy timeout would have. */
static bool
enable_wal (pd_store_t *s, char **mode, GError **err)
{
  gint64 deadline = g_get_monotonic_time () + BUSY_TIMEOUT_MS * 1000;
  for (;;)
    {
      int rc = pragma_rc (s, "PRAGMA journal_mode = WAL", mode);
      if (rc == SQLITE_OK)
        return true;
      if (((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
          || g_get_monotonic_time () > deadline)
        {
          g_set_error (err, PD_ERROR, PD_ERROR_DB, "cannot open database %s: %s", s->path,
                       sqlite3_errstr (rc));
          return false;
        }
      g_usleep (10 * 1000);
    }
}

/* The settings of a connection that writes. */
static bool
configure_writer (pd_store_t *s, GError **err)
{
  g_autofree char *mode = NULL;
  /* WAL lets the command line read while ingest writes. synchronous=FULL
   * because ingest moves or flags IMAP mail right after a commit: that
   * commit must survive a power loss, which WAL with NORMAL does not
   * promise. */
  /* 8 KiB pages for a new database (an existing one keeps its own): raw
   * mail is most of what is written, and each page is one write to the WAL
   * and one more at checkpoint, so bigger pages mean half the system calls
   * (measured: ingest 12% faster than with 4 KiB). Must come before WAL. */
  if (!pragma (s, "PRAGMA page_size = 8192", NULL, err)
      || !enable_wal (s, &mode, err)
      || !pragma (s, "PRAGMA synchronous = FULL", NULL, err)
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
    return false;
  if (mode == NULL
      || (g_ascii_strcasecmp (mode, "wal") != 0 && g_ascii_strcasecmp (mode, "memory") != 0))
    {
      g_set_error (err, PD_ERROR, PD_ERROR_DB,
                   "cannot open database %s: write-ahead logging is unavailable (journal mode %s)",
                   s->path, mode != NULL ? mode : "unknown");
      return false;
    }
  g_autofree char *page_size = NULL;
  if (!pragma (s, "PRAGMA page_size", &page_size, err))
    return false;
  s->page_size = page_size != NULL ? atoi (page_size) : 4096;
  if (s->page_size <= 0)
    s->page_size = 4096;
  return true;
}

/* A folder we cannot write to, because of its permissions or a read-only
 * mount: a WAL database there cannot get its shared-memory file. */
static bool
folder_is_read_only (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  return access (dir, W_OK) != 0;
}

/* Opens the connection itself. A read-only connection is opened through a
 * URI, so that on a read-only mount it can fall back to immutable=1. */
static int
connect_db (pd_store_t *s, pd_store_mode_t mode, bool immutable)
{
  /* NOMUTEX: a connection is only ever used by one thread at a time (the
   * ingest writer hands it back by being joined), so SQLite's per-call
   * mutex in its default serialized mode is pure overhead. */
  int flags = SQLITE_OPEN_NOMUTEX;
  if (mode == PD_STORE_READ)
    {
      g_autofree char *escaped = g_uri_escape_string (s->path, "/", FALSE);
      g_autofree char *uri = g_strdup_printf ("file:%s?mode=ro%s", escaped,
                                              immutable ? "&immutable=1" : "");
      return sqlite3_open_v2 (uri, &s->db, flags | SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
    }
  flags |= SQLITE_OPEN_READWRITE | (mode == PD_STORE_CREATE ? SQLITE_OPEN_CREATE : 0);
  return sqlite3_open_v2 (s->path, &s->db, flags, NULL);
}

static bool
open_connection (pd_store_t *s, pd_store_mode_t mode, store_identity_t *identity, GError **err)
{
  bool immutable = false;
  for (;;)
    {
      int rc = connect_db (s, mode, immutable);
      if (rc != SQLITE_OK)
        {
          /* On most failures SQLite still returns a handle holding the message. */
          if (s->db != NULL)
            store_db_error (s, err, "cannot open database %s", s->path);
          else
            g_set_error (err, PD_ERROR, PD_ERROR_DB, "cannot open database %s: %s",
                         s->path, sqlite3_errstr (rc));
          return false;
        }
      sqlite3_extended_result_codes (s->db, 1);
      sqlite3_busy_timeout (s->db, BUSY_TIMEOUT_MS);
      GError *local = NULL;
      if (store_identify (s, identity, &local))
        return true;
      /* A WAL database on a read-only mount cannot be read normally: it
       * needs its shared-memory file. Nothing can write there either, so
       * reading the file as immutable is safe. */
      int code = sqlite3_extended_errcode (s->db) & 0xff;
      if (mode == PD_STORE_READ && !immutable && (code == SQLITE_CANTOPEN || code == SQLITE_READONLY)
          && folder_is_read_only (s->path))
        {
          g_error_free (local);
          sqlite3_close_v2 (s->db);
          s->db = NULL;
          immutable = true;
          continue;
        }
      if (mode != PD_STORE_READ && (code == SQLITE_CANTOPEN || code == SQLITE_READONLY)
          && folder_is_read_only (s->path))
        {
          g_error_free (local);
          g_set_error (err, PD_ERROR, PD_ERROR_READ_ONLY,
                       "cannot open database %s for writing: its folder is read-only", s->path);
          return false;
        }
      g_propagate_error (err, local);
      return false;
    }
}

static bool
open_mode (const char *path, pd_store_mode_t mode, pd_store_t **out, GError **err)
{
  *out = NULL;
  if (mode != PD_STORE_CREATE && !g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (err, PD_ERROR, PD_ERROR_NOT_FOUND,
                   "there is no database %s: 'postdesk init' or 'postdesk ingest' creates it", path);
      return false;
    }
  if (mode == PD_STORE_CREATE && !g_file_test (path, G_FILE_TEST_EXISTS))
    {
      /* A mistyped path must not quietly become a new, empty desk. */
      g_autofree char *dir = g_path_get_dirname (path);
      if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
        {
          g_set_error (err, PD_ERROR, PD_ERROR_NOT_FOUND,
                       "cannot create database %s: the folder %s does not exist", path, dir);
          return false;
        }
    }

  pd_store_t *s = g_new0 (pd_store_t, 1);
  g_mutex_init (&s->ckpt_lock);
  g_cond_init (&s->ckpt_cond);
  s->path = g_strdup (path);
  s->page_size = 4096;
  s->builder = json_builder_new_immutable ();
  s->parser = json_parser_new_immutable ();
  for (guint i = 0; i < G_N_ELEMENTS (s->json); i++)
    s->json[i] = g_string_sized_new (256);
  s->lower = g_string_sized_new (64);

  store_identity_t identity;
  bool ok = open_connection (s, mode, &identity, err);
  /* READWRITE silently falls back to read-only on a file we may not write;
   * say so now rather than at the first insert. */
  if (ok && mode != PD_STORE_READ && sqlite3_db_readonly (s->db, "main") == 1)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_READ_ONLY,
                   "cannot open database %s: the file is read-only", path);
      ok = false;
    }
  ok = ok && (mode == PD_STORE_READ || configure_writer (s, err))
       /* Migrations run before foreign keys are switched on (they are off
        * by default, per connection): a step that rebuilds a table needs
        * them off, and checks the references itself. */
       && store_migrate (s, identity, mode == PD_STORE_READ, err)
       && pragma (s, "PRAGMA foreign_keys = ON", NULL, err);
  if (!ok)
    {
      pd_store_free (s);
      return false;
    }
  *out = s;
  return true;
}

bool
pd_store_open_mode (const char *path, pd_store_mode_t mode, pd_store_t **out, GError **err)
{
  GError *local = NULL;
  if (open_mode (path, mode, out, &local))
    return true;
  /* A reader of a database that needs a schema upgrade does the upgrade
   * when it may write, and says so when it may not. */
  if (mode == PD_STORE_READ && g_error_matches (local, PD_ERROR, PD_ERROR_READ_ONLY)
      && access (path, W_OK) == 0 && !folder_is_read_only (path))
    {
      GError *upgrade = NULL;
      pd_store_t *writer = NULL;
      if (open_mode (path, PD_STORE_WRITE, &writer, &upgrade))
        {
          pd_store_free (writer);
          g_clear_error (&local);
          return open_mode (path, mode, out, err);
        }
      g_error_free (upgrade);
    }
  g_propagate_error (err, local);
  return false;
}

bool
pd_store_open (const char *path, pd_store_t **out, GError **err)
{
  return pd_store_open_mode (path, PD_STORE_CREATE, out, err);
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
  g_clear_object (&store->parser);
  for (guint i = 0; i < G_N_ELEMENTS (store->json); i++)
    if (store->json[i] != NULL)
      g_string_free (store->json[i], TRUE);
  if (store->lower != NULL)
    g_string_free (store->lower, TRUE);
  g_free (store->path);
  g_free (store);
}

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

static bool
run_simple (pd_store_t *s, stmt_id_t id, GError **err, const char *what)
{
  sqlite3_stmt *st = stmt (s, id, err);
  if (st == NULL)
    return false;
  return store_exec (s, st, err, "%s on %s", what, s->path);
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
