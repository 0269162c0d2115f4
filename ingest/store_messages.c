/* store_messages.c - messages on tickets and their attachments' metadata. */
#include "store_internal.h"

#include <string.h>

static const char *const stmt_sql[ST_COUNT] = {
  /* The oldest message holding the id: a reused id never moves a thread. */
  [ST_FIND_MESSAGE] =
    "SELECT ticket_id FROM messages WHERE message_id = ?1 ORDER BY id LIMIT 1",
  [ST_FIND_SAME_ID] =
    "SELECT ticket_id, content_sha256, raw_id FROM messages"
    " WHERE message_id = ?1 AND direction = 'in' ORDER BY id",
  [ST_FIND_IMAP_UID] =
    "SELECT ticket_id FROM messages WHERE mailbox = ?1 AND imap_uidvalidity = ?2 AND imap_uid = ?3",
  [ST_FIND_REFERENCING] =
    "SELECT m.ticket_id FROM message_refs r JOIN messages m ON m.id = r.message_row"
    " WHERE r.ref = ?1 ORDER BY m.id LIMIT 1",
  [ST_MESSAGE_INSERT] =
    "INSERT INTO messages (ticket_id, message_id, direction, kind, from_name, from_address,"
    " to_json, cc_json, subject, date, received_at, in_reply_to, references_json, body_text,"
    " auto_reply, bulk, bounce, bounced_message_id, message_id_synthetic, content_sha256,"
    " raw_id, mailbox, imap_uidvalidity, imap_uid, origin)"
    " VALUES (?1, ?2, 'in', ?3, ?4, lower(?5), ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
    " ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)",
  [ST_REF_INSERT] =
    "INSERT INTO message_refs (ref, message_row) VALUES (?1, ?2)"
    " ON CONFLICT (ref, message_row) DO NOTHING",
  [ST_ATTACHMENT_INSERT] =
    "INSERT INTO attachments (message_row, position, filename, mime_type, size)"
    " VALUES (?1, ?2, ?3, ?4, ?5)",
  [ST_TICKET_MESSAGES] =
    "SELECT id, ticket_id, message_id, direction, kind, from_name, from_address, subject,"
    " received_at, in_reply_to, body_text, date"
    " FROM messages WHERE ticket_id = ?1 ORDER BY received_at, id",
  [ST_MESSAGE_ATTACHMENTS] =
    "SELECT filename, mime_type, size FROM attachments WHERE message_row = ?1 ORDER BY position",
};

static sqlite3_stmt *
stmt (pd_store_t *s, stmt_id_t id, GError **err)
{
  return store_stmt (s, id, stmt_sql[id], err);
}

/* The ticket of the first row statement 'id' finds for 'key', or 0. */
static bool
ticket_by_text (pd_store_t *s, stmt_id_t id, const char *key, gint64 *ticket_id, GError **err)
{
  *ticket_id = 0;
  sqlite3_stmt *st = stmt (s, id, err);
  if (st == NULL)
    return false;
  bind_text (s, st, 1, key);
  int rc = step (s, st);
  if (rc == SQLITE_ROW)
    *ticket_id = sqlite3_column_int64 (st, 0);
  else if (rc != SQLITE_DONE)
    {
      store_db_error (s, err, "cannot look up message %s", key);
      done (s, st);
      return false;
    }
  done (s, st);
  return true;
}

bool
pd_store_find_message (pd_store_t *store, const char *message_id, gint64 *ticket_id, GError **err)
{
  return ticket_by_text (store, ST_FIND_MESSAGE, message_id, ticket_id, err);
}

bool
pd_store_find_referencing (pd_store_t *store, const char *message_id, gint64 *ticket_id,
                           GError **err)
{
  return ticket_by_text (store, ST_FIND_REFERENCING, message_id, ticket_id, err);
}

bool
pd_store_find_imap_message (pd_store_t *store, const char *mailbox, gint64 uidvalidity, gint64 uid,
                            gint64 *ticket_id, GError **err)
{
  *ticket_id = 0;
  sqlite3_stmt *st = stmt (store, ST_FIND_IMAP_UID, err);
  if (st == NULL)
    return false;
  bind_text (store, st, 1, mailbox);
  bind_int (store, st, 2, uidvalidity);
  bind_int (store, st, 3, uid);
  int rc = step (store, st);
  if (rc == SQLITE_ROW)
    *ticket_id = sqlite3_column_int64 (st, 0);
  else if (rc != SQLITE_DONE)
    {
      store_db_error (store, err, "cannot look up UID %" G_GINT64_FORMAT " of mailbox %s", uid, mailbox);
      done (store, st);
      return false;
    }
  done (store, st);
  return true;
}

bool
pd_store_find_duplicate (pd_store_t *store, const char *message_id, const char *content_sha256,
                         pd_content_hash_fn hash_raw, gint64 *ticket_id, GError **err)
{
  *ticket_id = 0;
  sqlite3_stmt *st = stmt (store, ST_FIND_SAME_ID, err);
  if (st == NULL)
    return false;
  bind_text (store, st, 1, message_id);
  /* Rows are collected first: reading a legacy row's raw bytes runs
   * another statement, which must not interleave with this one's binds. */
  typedef struct { gint64 ticket, raw; } legacy_row_t;
  g_autoptr (GArray) legacy = g_array_new (FALSE, FALSE, sizeof (legacy_row_t));
  int rc;
  while ((rc = step (store, st)) == SQLITE_ROW)
    {
      const char *stored = (const char *) sqlite3_column_text (st, 1);
      if (stored != NULL && strcmp (stored, content_sha256) == 0)
        {
          *ticket_id = sqlite3_column_int64 (st, 0);
          break;
        }
      if (stored == NULL && sqlite3_column_type (st, 2) != SQLITE_NULL)
        {
          legacy_row_t row = { sqlite3_column_int64 (st, 0), sqlite3_column_int64 (st, 2) };
          g_array_append_val (legacy, row);
        }
    }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    {
      store_db_error (store, err, "cannot look up message %s", message_id);
      done (store, st);
      return false;
    }
  done (store, st);

  /* Rows from before content hashes were stored: hash their raw bytes. */
  for (guint i = 0; *ticket_id == 0 && i < legacy->len; i++)
    {
      const legacy_row_t *row = &g_array_index (legacy, legacy_row_t, i);
      g_autoptr (GBytes) raw = NULL;
      if (!pd_store_raw_get (store, row->raw, &raw, err))
        return false;
      gsize len;
      const char *data = g_bytes_get_data (raw, &len);
      g_autofree char *hash = hash_raw (data, len);
      if (strcmp (hash, content_sha256) == 0)
        *ticket_id = row->ticket;
    }
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
      if (!store_exec (s, st, err, "cannot add attachment %u (%s) of message %s",
                      i, a->filename != NULL ? a->filename : "unnamed", msg->message_id))
        return false;
    }
  return true;
}

/* What the message points back to, for pd_store_find_referencing. */
static bool
insert_refs (pd_store_t *s, gint64 message_row, const pd_message_t *msg, GError **err)
{
  guint n = msg->references != NULL ? msg->references->len : 0;
  if (msg->in_reply_to == NULL && n == 0)
    return true;
  sqlite3_stmt *st = stmt (s, ST_REF_INSERT, err);
  if (st == NULL)
    return false;
  for (guint i = 0; i <= n; i++)
    {
      const char *ref = i < n ? g_ptr_array_index (msg->references, i) : msg->in_reply_to;
      if (ref == NULL || *ref == '\0')
        continue;
      bind_text (s, st, 1, ref);
      bind_int (s, st, 2, message_row);
      if (!store_exec (s, st, err, "cannot record that message %s refers to %s", msg->message_id, ref))
        return false;
    }
  return true;
}

bool
pd_store_message_add (pd_store_t *store, gint64 ticket_id,
                      const pd_message_t *msg, const char *kind,
                      const char *content_sha256, gint64 raw_id,
                      const pd_arrival_t *arrival, gint64 *message_row,
                      GError **err)
{
  *message_row = 0;
  bool own;
  if (!store_own_begin (store, &own, err))
    return false;

  bool ok = false;
  sqlite3_stmt *st = stmt (store, ST_MESSAGE_INSERT, err);
  if (st == NULL)
    return store_own_end (store, own, false, NULL);

  /* Without an arrival the message is taken to arrive now. */
  pd_time_t received_at = arrival != NULL && arrival->received_at != 0
                            ? arrival->received_at : pd_time_now ();
  bind_int (store, st, 1, ticket_id);
  bind_text (store, st, 2, msg->message_id);
  bind_text (store, st, 3, kind);
  bind_text (store, st, 4, msg->from != NULL ? msg->from->name : NULL);
  bind_text (store, st, 5, msg->from != NULL ? msg->from->address : NULL);
  bind_text (store, st, 6, store_addresses_json (store, 0, msg->to));
  bind_text (store, st, 7, store_addresses_json (store, 1, msg->cc));
  bind_text (store, st, 8, msg->subject != NULL ? msg->subject : "");
  bind_int_or_null (store, st, 9, msg->date);
  bind_int (store, st, 10, received_at);
  bind_text (store, st, 11, msg->in_reply_to);
  bind_text (store, st, 12, msg->references != NULL
                              ? store_strings_json (store, 2, (const char *const *) msg->references->pdata,
                                              msg->references->len)
                              : "[]");
  bind_text (store, st, 13, msg->body_text != NULL ? msg->body_text : "");
  bind_int (store, st, 14, msg->auto_reply);
  bind_int (store, st, 15, msg->bulk);
  bind_int (store, st, 16, msg->bounce);
  bind_text (store, st, 17, msg->bounced_message_id);
  bind_int (store, st, 18, msg->message_id_synthetic);
  bind_text (store, st, 19, content_sha256);
  bind_int_or_null (store, st, 20, raw_id);
  bind_text (store, st, 21, arrival != NULL ? arrival->mailbox : NULL);
  bind_int_or_null (store, st, 22, arrival != NULL ? arrival->uidvalidity : 0);
  bind_int_or_null (store, st, 23, arrival != NULL ? arrival->uid : 0);
  bind_text (store, st, 24, arrival != NULL ? arrival->origin : NULL);
  if (store_exec (store, st, err, "cannot add message %s",
                 msg->message_id != NULL ? msg->message_id : "(no Message-ID)"))
    {
      gint64 row = sqlite3_last_insert_rowid (store->db);
      if (insert_attachments (store, row, msg, err) && insert_refs (store, row, msg, err))
        {
          *message_row = row;
          ok = true;
        }
    }
  if (!store_own_end (store, own, ok, ok ? err : NULL))
    {
      *message_row = 0;
      return false;
    }
  return true;
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
      store_db_error (s, err, "cannot read the attachments of message %s", m->message_id);
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
      m->date = sqlite3_column_int64 (st, 11);
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
      store_db_error (store, err, "cannot read the messages of ticket %" G_GINT64_FORMAT, ticket_id);
      done (store, st);
      return false;
    }
  done (store, st);
  *out = g_steal_pointer (&list);
  return true;
}
