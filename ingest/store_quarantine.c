/* store_quarantine.c - mail postdesk could not turn into a ticket, kept
 * with its raw bytes and the reason; what people do with it (delete, purge,
 * release by hand) goes to the journal. */
#include "store_internal.h"

#include <string.h>

#define QUARANTINE_COLUMNS \
  "q.id, q.reason, q.received_at, q.size, q.mailbox, q.origin, q.status, q.ticket_id," \
  " q.message_id"
/* The column of ST_QUARANTINE_GET after QUARANTINE_COLUMNS. */
#define QUARANTINE_BYTES_COLUMN 9

static const char *const stmt_sql[ST_COUNT] = {
  [ST_QUARANTINE_FIND_HELD] =
    "SELECT id FROM quarantine WHERE raw_id = ?1 AND status = 'held'",
  [ST_QUARANTINE_INSERT] =
    "INSERT INTO quarantine (raw_id, size, reason, received_at, mailbox, origin, status,"
    " created_at, updated_at, message_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'held', ?7, ?7, ?8)",
  /* An entry from before Message-IDs were recorded learns its id here. */
  [ST_QUARANTINE_TOUCH] =
    "UPDATE quarantine SET reason = ?2, updated_at = ?3, message_id = coalesce (message_id, ?4)"
    " WHERE id = ?1",
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
  [ST_QUARANTINE_LINK] =
    "UPDATE quarantine SET ticket_id = ?2, updated_at = ?3 WHERE id = ?1",
  [ST_QUARANTINE_HELD_BY_MESSAGE] =
    "SELECT q.id, r.bytes FROM quarantine q JOIN raw_messages r ON r.id = q.raw_id"
    " WHERE q.message_id = ?1 AND q.status = 'held' ORDER BY q.id",
  [ST_QUARANTINE_DELETE] = "DELETE FROM quarantine WHERE id = ?1 RETURNING raw_id",
  /* Raw bytes are shared by SHA-256 between messages and entries: they go
   * only with the last row that holds them. */
  [ST_RAW_DELETE_UNUSED] =
    "DELETE FROM raw_messages WHERE id = ?1"
    " AND NOT EXISTS (SELECT 1 FROM messages WHERE raw_id = ?1)"
    " AND NOT EXISTS (SELECT 1 FROM quarantine WHERE raw_id = ?1)",
  [ST_QUARANTINE_OLDER] = "SELECT id FROM quarantine WHERE created_at < ?1 ORDER BY id",
  /* SQLite writes the detail: it escapes every control character a reason
   * or a file name may hold, and the journal's CHECK wants valid JSON. */
  [ST_QUARANTINE_DETAIL] =
    "SELECT json_object ('id', id, 'reason', reason, 'origin', origin, 'size', size)"
    " FROM quarantine WHERE id = ?1",
  [ST_JSON_SET] = "SELECT json_set (?1, '$.' || ?2, ?3)",
  [ST_JOURNAL_INSERT] =
    "INSERT INTO journal (at, actor, action, detail) VALUES (?1, ?2, ?3, ?4)",
};

static sqlite3_stmt *
stmt (pd_store_t *s, stmt_id_t id, GError **err)
{
  return store_stmt (s, id, stmt_sql[id], err);
}

void
pd_quarantine_item_free (pd_quarantine_item_t *q)
{
  if (q == NULL)
    return;
  g_free (q->reason);
  g_free (q->mailbox);
  g_free (q->origin);
  g_free (q->message_id);
  g_free (q->status);
  g_free (q);
}

static bool
quarantine_add_in_tx (pd_store_t *s, const char *raw, gsize len, const char *reason,
                      const char *message_id, const pd_arrival_t *arrival, gint64 *id,
                      bool *was_new, GError **err)
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
      bind_text (s, st, 4, message_id);
      if (!store_exec (s, st, err, "cannot update quarantine entry %" G_GINT64_FORMAT, existing))
        return false;
      *id = existing;
      *was_new = false;
      return true;
    }
  if (rc != SQLITE_DONE)
    {
      store_db_error (s, err, "cannot look up quarantined raw message %" G_GINT64_FORMAT, raw_id);
      done (s, st);
      return false;
    }
  done (s, st);

  /* Mail from IMAP has no file to name: its mailbox and UID say where it
   * is. (owned) */
  g_autofree char *imap_origin = NULL;
  if (arrival != NULL && arrival->origin == NULL && arrival->uid > 0)
    imap_origin = g_strdup_printf ("%s UID %" G_GINT64_FORMAT " (UIDVALIDITY %" G_GINT64_FORMAT ")",
                                   arrival->mailbox != NULL ? arrival->mailbox : "mailbox",
                                   arrival->uid, arrival->uidvalidity);

  st = stmt (s, ST_QUARANTINE_INSERT, err);
  if (st == NULL)
    return false;
  bind_int (s, st, 1, raw_id);
  bind_int (s, st, 2, arrival != NULL && arrival->true_size > (gint64) len ? arrival->true_size : (gint64) len);
  bind_text (s, st, 3, reason);
  bind_int (s, st, 4, arrival != NULL && arrival->received_at != 0 ? arrival->received_at : now);
  bind_text (s, st, 5, arrival != NULL ? arrival->mailbox : NULL);
  bind_text (s, st, 6, imap_origin != NULL ? imap_origin : arrival != NULL ? arrival->origin : NULL);
  bind_int (s, st, 7, now);
  bind_text (s, st, 8, message_id);
  if (!store_exec (s, st, err, "cannot quarantine message (%s)", reason != NULL ? reason : "no reason"))
    return false;
  *id = sqlite3_last_insert_rowid (s->db);
  *was_new = true;
  return true;
}

bool
pd_store_quarantine_add (pd_store_t *store, const char *raw, gsize len,
                         const char *reason, const char *message_id,
                         const pd_arrival_t *arrival,
                         gint64 *id, bool *was_new, GError **err)
{
  *id = 0;
  *was_new = false;
  bool own;
  if (!store_own_begin (store, &own, err))
    return false;
  bool ok = quarantine_add_in_tx (store, raw, len, reason, message_id, arrival, id, was_new, err);
  if (!store_own_end (store, own, ok, ok ? err : NULL))
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
  q->message_id = col_strdup (st, 8);
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
      store_db_error (store, err, "cannot list the quarantine");
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
  sqlite3_stmt *st = store_row_by_id (store, stmt (store, ST_QUARANTINE_GET, err), id, "quarantine entry", err);
  if (st == NULL)
    return false;
  if (item != NULL)
    *item = quarantine_from_row (st);
  if (raw != NULL)
    *raw = g_bytes_new (sqlite3_column_blob (st, QUARANTINE_BYTES_COLUMN),
                        (gsize) sqlite3_column_bytes (st, QUARANTINE_BYTES_COLUMN));
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
  if (!store_exec (s, st, err, "%s %" G_GINT64_FORMAT, what, id))
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

bool
pd_store_quarantine_link (pd_store_t *store, gint64 id, gint64 ticket_id, GError **err)
{
  return quarantine_update (store, ST_QUARANTINE_LINK, id, true, ticket_id, NULL, err,
                            "cannot link a ticket to quarantine entry");
}

bool
pd_store_quarantine_release_message (pd_store_t *store, const char *message_id,
                                     gint64 ticket_id, pd_quarantine_match_fn same_mail,
                                     gpointer data, guint *released, GError **err)
{
  if (released != NULL)
    *released = 0;
  if (message_id == NULL || *message_id == '\0')
    return true;
  sqlite3_stmt *st = stmt (store, ST_QUARANTINE_HELD_BY_MESSAGE, err);
  if (st == NULL)
    return false;
  bind_text (store, st, 1, message_id);
  /* The ids are collected first: releasing runs another statement. */
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  int rc;
  while ((rc = step (store, st)) == SQLITE_ROW)
    if (same_mail (sqlite3_column_blob (st, 1), (gsize) sqlite3_column_bytes (st, 1), data))
      {
        gint64 id = sqlite3_column_int64 (st, 0);
        g_array_append_val (ids, id);
      }
  if (rc != SQLITE_DONE)
    {
      store_db_error (store, err, "cannot look up the quarantine entries of message %s", message_id);
      done (store, st);
      return false;
    }
  done (store, st);
  for (guint i = 0; i < ids->len; i++)
    if (!pd_store_quarantine_release (store, g_array_index (ids, gint64, i), ticket_id, err))
      return false;
  if (released != NULL)
    *released = ids->len;
  return true;
}

/* 'json' with the member 'key' set to 'text', or to 'number' when 'text'
 * is NULL; NULL on a database error. (transfer full) */
static char *
json_with (pd_store_t *s, const char *json, const char *key, const char *text, gint64 number,
           GError **err)
{
  sqlite3_stmt *st = stmt (s, ST_JSON_SET, err);
  if (st == NULL)
    return NULL;
  bind_text (s, st, 1, json);
  bind_text (s, st, 2, key);
  if (text != NULL)
    bind_text (s, st, 3, text);
  else
    bind_int (s, st, 3, number);
  char *out = NULL;
  if (step (s, st) == SQLITE_ROW)
    out = col_strdup (st, 0);
  else
    store_db_error (s, err, "cannot add %s to a journal entry", key);
  done (s, st);
  return out;
}

bool
pd_store_quarantine_journal (pd_store_t *store, gint64 id, const char *actor,
                             const char *action, gint64 ticket_id,
                             const char *const *extra, GError **err)
{
  sqlite3_stmt *st = store_row_by_id (store, stmt (store, ST_QUARANTINE_DETAIL, err), id,
                                      "quarantine entry", err);
  if (st == NULL)
    return false;
  g_autofree char *detail = col_strdup (st, 0);
  done (store, st);
  if (ticket_id != 0)
    {
      char *more = json_with (store, detail, "ticket", NULL, ticket_id, err);
      if (more == NULL)
        return false;
      g_free (detail);
      detail = more;
    }
  for (guint i = 0; extra != NULL && extra[i] != NULL && extra[i + 1] != NULL; i += 2)
    {
      char *more = json_with (store, detail, extra[i], extra[i + 1], 0, err);
      if (more == NULL)
        return false;
      g_free (detail);
      detail = more;
    }
  st = stmt (store, ST_JOURNAL_INSERT, err);
  if (st == NULL)
    return false;
  bind_int (store, st, 1, pd_time_now ());
  bind_text (store, st, 2, actor);
  bind_text (store, st, 3, action);
  bind_text (store, st, 4, detail);
  return store_exec (store, st, err, "cannot record %s of quarantine entry %" G_GINT64_FORMAT " in the journal",
                     action, id);
}

/* The entry is journalled first, while its row still says what it was. */
static bool
quarantine_delete_in_tx (pd_store_t *s, gint64 id, const char *actor, const char *action, GError **err)
{
  if (!pd_store_quarantine_journal (s, id, actor, action, 0, NULL, err))
    return false;
  sqlite3_stmt *st = store_row_by_id (s, stmt (s, ST_QUARANTINE_DELETE, err), id, "quarantine entry", err);
  if (st == NULL)
    return false;
  gint64 raw_id = sqlite3_column_int64 (st, 0);
  /* RETURNING hands the row over before the delete is done: step to the end. */
  int rc = sqlite3_step (st);
  if (rc != SQLITE_DONE)
    {
      store_db_error (s, err, "cannot delete quarantine entry %" G_GINT64_FORMAT, id);
      done (s, st);
      return false;
    }
  done (s, st);
  st = stmt (s, ST_RAW_DELETE_UNUSED, err);
  if (st == NULL)
    return false;
  bind_int (s, st, 1, raw_id);
  return store_exec (s, st, err, "cannot delete the raw bytes of quarantine entry %" G_GINT64_FORMAT, id);
}

bool
pd_store_quarantine_delete (pd_store_t *store, gint64 id, const char *actor,
                            const char *action, GError **err)
{
  bool own;
  if (!store_own_begin (store, &own, err))
    return false;
  bool ok = quarantine_delete_in_tx (store, id, actor, action, err);
  return store_own_end (store, own, ok, ok ? err : NULL) && ok;
}

bool
pd_store_quarantine_purge (pd_store_t *store, pd_time_t before, const char *actor,
                           guint *removed, GError **err)
{
  *removed = 0;
  sqlite3_stmt *st = stmt (store, ST_QUARANTINE_OLDER, err);
  if (st == NULL)
    return false;
  bool own;
  if (!store_own_begin (store, &own, err))
    return false;
  /* The ids are read first: deleting while the SELECT steps would change
   * the table under it. */
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  bind_int (store, st, 1, before);
  int rc;
  while ((rc = step (store, st)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (st, 0);
      g_array_append_val (ids, id);
    }
  bool ok = rc == SQLITE_DONE;
  if (!ok)
    store_db_error (store, err, "cannot find quarantine entries to purge");
  done (store, st);
  for (guint i = 0; ok && i < ids->len; i++)
    ok = quarantine_delete_in_tx (store, g_array_index (ids, gint64, i), actor, "quarantine-purge", err);
  if (!store_own_end (store, own, ok, ok ? err : NULL) || !ok)
    return false;
  *removed = ids->len;
  return true;
}
