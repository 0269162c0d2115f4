/* store_outbox.c - outbound mail waiting to be sent, and IMAP mailbox state. */
#include "store_internal.h"

#include <string.h>

static const char *const stmt_sql[ST_COUNT] = {
  [ST_OUTBOX_MESSAGE_INSERT] =
    "INSERT INTO messages (ticket_id, message_id, direction, kind, from_name, from_address,"
    " to_json, subject, date, received_at, in_reply_to, references_json, body_text, raw_id)"
    " VALUES (?1, ?2, 'out', ?3, ?4, lower(?5), ?6, ?7, ?8, ?8, ?9, ?10, ?11, ?12)",
  [ST_OUTBOX_INSERT] =
    "INSERT INTO outbox (ticket_id, message_row, kind, recipients, subject, message_id,"
    " in_reply_to, body_text, raw, status, created_at, next_attempt_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'queued', ?10, ?10)",
  [ST_ACK_LOG_INSERT] = "INSERT INTO ack_log (address, at, ticket_id) VALUES (lower(?1), ?2, ?3)",
  [ST_ACK_LOG_COUNT] = "SELECT count(*) FROM ack_log WHERE address = lower(?1) AND at > ?2",
  [ST_OUTBOX_ALL] =
    "SELECT id, ticket_id, kind, recipients, subject, message_id, in_reply_to, status,"
    " attempts, last_error, body_text FROM outbox ORDER BY id",
  [ST_MAILBOX_GET] = "SELECT uidvalidity, last_uid FROM mailbox_state WHERE mailbox = ?1",
  [ST_MAILBOX_SET] =
    "INSERT INTO mailbox_state (mailbox, uidvalidity, last_uid, updated_at)"
    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (mailbox) DO UPDATE SET"
    " uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid,"
    " updated_at = excluded.updated_at",
};

static sqlite3_stmt *
stmt (pd_store_t *s, stmt_id_t id, GError **err)
{
  return store_stmt (s, id, stmt_sql[id], err);
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
      if (!store_parse_strv (store, (const char *) sqlite3_column_text (st, 3), &o->to, &local))
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
      store_db_error (store, err, "cannot list the outbox");
      done (store, st);
      return false;
    }
  done (store, st);
  *out = g_steal_pointer (&list);
  return true;
}

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
      store_db_error (store, err, "cannot read the state of mailbox %s", mailbox);
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
  return store_exec (store, st, err, "cannot save the state of mailbox %s",
                    mailbox != NULL ? mailbox : "(unnamed)");
}

/* ---- queueing ------------------------------------------------------------- */

static bool
outbox_add_in_tx (pd_store_t *s, const pd_outbox_new_t *o, gint64 *outbox_id, GError **err)
{
  gsize raw_len = 0;
  const char *raw = g_bytes_get_data (o->raw, &raw_len);
  gint64 raw_id = 0;
  if (!pd_store_raw_put (s, raw, raw_len, NULL, &raw_id, err))
    return false;
  g_autofree char *to_json = NULL;
  {
    /* Addresses as the inbound rows keep them: [{"address": ...}]. */
    g_autoptr (GPtrArray) addrs = g_ptr_array_new_with_free_func ((GDestroyNotify) pd_address_free);
    for (guint i = 0; o->to[i] != NULL; i++)
      {
        pd_address_t *a = g_new0 (pd_address_t, 1);
        a->address = g_strdup (o->to[i]);
        g_ptr_array_add (addrs, a);
      }
    to_json = g_strdup (store_addresses_json (s, 0, addrs));
  }
  sqlite3_stmt *st = stmt (s, ST_OUTBOX_MESSAGE_INSERT, err);
  if (st == NULL)
    return false;
  bind_int (s, st, 1, o->ticket_id);
  bind_text (s, st, 2, o->message_id);
  bind_text (s, st, 3, o->kind);
  bind_text (s, st, 4, o->from_name);
  bind_text (s, st, 5, o->from_address);
  bind_text (s, st, 6, to_json);
  bind_text (s, st, 7, o->subject);
  bind_int (s, st, 8, o->created_at);
  bind_text (s, st, 9, o->in_reply_to);
  bind_text (s, st, 10, store_strings_json (s, 1, o->references, -1));
  bind_text (s, st, 11, o->body_text);
  bind_int (s, st, 12, raw_id);
  if (!store_exec (s, st, err, "cannot add the outgoing %s %s to ticket %" G_GINT64_FORMAT,
                   o->kind, o->message_id, o->ticket_id))
    return false;
  gint64 message_row = sqlite3_last_insert_rowid (s->db);

  st = stmt (s, ST_OUTBOX_INSERT, err);
  if (st == NULL)
    return false;
  bind_int (s, st, 1, o->ticket_id);
  bind_int (s, st, 2, message_row);
  bind_text (s, st, 3, o->kind);
  bind_text (s, st, 4, store_strings_json (s, 0, o->to, -1));
  bind_text (s, st, 5, o->subject);
  bind_text (s, st, 6, o->message_id);
  bind_text (s, st, 7, o->in_reply_to);
  bind_text (s, st, 8, o->body_text);
  bind_blob (s, st, 9, raw, raw_len);
  bind_int (s, st, 10, o->created_at);
  if (!store_exec (s, st, err, "cannot queue the outgoing %s %s", o->kind, o->message_id))
    return false;
  *outbox_id = sqlite3_last_insert_rowid (s->db);

  if (strcmp (o->kind, "ack") != 0)
    return true;
  for (guint i = 0; o->to[i] != NULL; i++)
    {
      st = stmt (s, ST_ACK_LOG_INSERT, err);
      if (st == NULL)
        return false;
      bind_text (s, st, 1, o->to[i]);
      bind_int (s, st, 2, o->created_at);
      bind_int (s, st, 3, o->ticket_id);
      if (!store_exec (s, st, err, "cannot log the acknowledgement to %s", o->to[i]))
        return false;
    }
  return true;
}

bool
pd_store_outbox_add (pd_store_t *store, const pd_outbox_new_t *o, gint64 *outbox_id, GError **err)
{
  *outbox_id = 0;
  bool own;
  if (!store_own_begin (store, &own, err))
    return false;
  bool ok = outbox_add_in_tx (store, o, outbox_id, err);
  if (!store_own_end (store, own, ok, ok ? err : NULL))
    {
      *outbox_id = 0;
      return false;
    }
  return true;
}

bool
pd_store_acks_since (pd_store_t *store, const char *address, pd_time_t since, guint *count,
                     GError **err)
{
  *count = 0;
  sqlite3_stmt *st = stmt (store, ST_ACK_LOG_COUNT, err);
  if (st == NULL)
    return false;
  bind_text (store, st, 1, address);
  bind_int (store, st, 2, since);
  int rc = step (store, st);
  if (rc != SQLITE_ROW)
    {
      store_db_error (store, err, "cannot count the acknowledgements to %s", address);
      done (store, st);
      return false;
    }
  *count = (guint) sqlite3_column_int64 (st, 0);
  done (store, st);
  return true;
}
