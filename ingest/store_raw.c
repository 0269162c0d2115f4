/* store_raw.c - raw message bytes, stored once per SHA-256. */
#include "store_internal.h"

#include <string.h>

static const char *const stmt_sql[ST_COUNT] = {
  [ST_RAW_INSERT] =
    "INSERT INTO raw_messages (sha256, size, bytes) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (sha256) DO NOTHING RETURNING id",
  [ST_RAW_FIND] = "SELECT id FROM raw_messages WHERE sha256 = ?1",
  [ST_RAW_GET] = "SELECT bytes FROM raw_messages WHERE id = ?1",
};

static sqlite3_stmt *
stmt (pd_store_t *s, stmt_id_t id, GError **err)
{
  return store_stmt (s, id, stmt_sql[id], err);
}

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
      store_db_error (store, err, "cannot store raw message (%" G_GSIZE_FORMAT " bytes)", len);
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
        store_db_error (store, err, "cannot find raw message %s", sha);
      done (store, st);
      return false;
    }
  *raw_id = sqlite3_column_int64 (st, 0);
  done (store, st);
  return true;
}

bool
pd_store_raw_get (pd_store_t *store, gint64 raw_id, GBytes **out, GError **err)
{
  *out = NULL;
  sqlite3_stmt *st = store_row_by_id (store, stmt (store, ST_RAW_GET, err), raw_id, "raw message", err);
  if (st == NULL)
    return false;
  *out = g_bytes_new (sqlite3_column_blob (st, 0), (gsize) sqlite3_column_bytes (st, 0));
  done (store, st);
  return true;
}
