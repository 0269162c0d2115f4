/* store_outbox.c - outbound mail waiting to be sent, and IMAP mailbox state. */
#include "store_internal.h"

#include <string.h>

static const char *const stmt_sql[ST_COUNT] = {
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
