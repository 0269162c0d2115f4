/* store_outbox.c - outbound mail waiting to be sent, and IMAP mailbox state. */
#include "store_internal.h"

#include <string.h>

/* What pd_outbox_item_t holds, in the order read_item() reads it; one
 * more column follows: the raw bytes, or NULL. */
#define OUTBOX_COLUMNS                                                                    \
  "id, ticket_id, kind, recipients, subject, message_id, in_reply_to, status, attempts," \
  " last_error, body_text, created_at, next_attempt_at, sent_at, bounce_recipient,"      \
  " bounce_status, bounce_diagnostic, bounced_at"
#define OUTBOX_RAW_COLUMN 18

#define SUPPRESSED_COLUMNS "address, reason, status, diagnostic, ticket_id, outbox_id, created_at"

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
  [ST_OUTBOX_ALL] = "SELECT " OUTBOX_COLUMNS ", NULL FROM outbox ORDER BY id",
  /* Oldest first, so a message held up by retries does not wait behind
   * newer ones once it is due again. */
  [ST_OUTBOX_DUE] =
    "SELECT " OUTBOX_COLUMNS ", raw FROM outbox WHERE status = 'queued'"
    " AND (next_attempt_at IS NULL OR next_attempt_at <= ?1) ORDER BY created_at, id LIMIT 1",
  [ST_OUTBOX_SET_SENDING] = "UPDATE outbox SET status = 'sending' WHERE id = ?1 AND status = 'queued'",
  [ST_OUTBOX_ROW] =
    "SELECT ticket_id, message_id, recipients, attempts, created_at FROM outbox"
    " WHERE id = ?1 AND status = 'sending'",
  [ST_OUTBOX_SENT] =
    "UPDATE outbox SET status = 'sent', sent_at = ?2, attempts = attempts + 1,"
    " next_attempt_at = NULL WHERE id = ?1 AND status = 'sending'",
  [ST_OUTBOX_RETRY] =
    "UPDATE outbox SET status = 'queued', attempts = attempts + 1, last_error = ?2,"
    " next_attempt_at = ?3 WHERE id = ?1 AND status = 'sending'",
  [ST_OUTBOX_FAILED] =
    "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?2,"
    " next_attempt_at = NULL WHERE id = ?1 AND status = 'sending'",
  [ST_OUTBOX_RECOVER] = "UPDATE outbox SET status = 'queued' WHERE status = 'sending'",
  [ST_OUTBOX_NEXT_DUE] =
    "SELECT min(coalesce(next_attempt_at, 0)) FROM outbox WHERE status = 'queued'",
  [ST_OUTBOX_BY_MESSAGE_ID] = "SELECT " OUTBOX_COLUMNS ", NULL FROM outbox WHERE message_id = ?1",
  /* A queued row that bounced (sent before a crash, queued again by
   * recovery) is not sent again: it reached the server that refused it. */
  [ST_OUTBOX_BOUNCED] =
    "UPDATE outbox SET status = 'bounced', bounce_recipient = ?2, bounce_status = ?3,"
    " bounce_diagnostic = ?4, bounced_at = ?5, next_attempt_at = NULL"
    " WHERE id = ?1 AND status <> 'sending'",
  [ST_OUTBOX_SUPPRESSED] =
    "UPDATE outbox SET status = 'failed', last_error = 'suppressed', next_attempt_at = NULL"
    " WHERE id = ?1 AND status = 'sending'",
  [ST_SUPPRESSED_UPSERT] =
    "INSERT INTO suppressed (" SUPPRESSED_COLUMNS ") VALUES (lower(?1), ?2, ?3, ?4, ?5, ?6, ?7)"
    " ON CONFLICT (address) DO UPDATE SET reason = excluded.reason, status = excluded.status,"
    " diagnostic = excluded.diagnostic, ticket_id = excluded.ticket_id,"
    " outbox_id = excluded.outbox_id",
  [ST_SUPPRESSED_GET] = "SELECT " SUPPRESSED_COLUMNS " FROM suppressed WHERE address = lower(?1)",
  [ST_SUPPRESSED_ALL] = "SELECT " SUPPRESSED_COLUMNS " FROM suppressed ORDER BY address",
  [ST_SUPPRESSED_DELETE] = "DELETE FROM suppressed WHERE address = lower(?1)",
  [ST_SUPPRESSED_JOURNAL] = "INSERT INTO journal (at, actor, action, detail) VALUES (?1, ?2, ?3, ?4)",
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
  g_clear_pointer (&o->raw, g_bytes_unref);
  g_free (o->bounce_recipient);
  g_free (o->bounce_status);
  g_free (o->bounce_diagnostic);
  g_free (o);
}

/* The row 'st' is on (OUTBOX_COLUMNS, then raw) as an item (transfer full),
 * or NULL when its recipients cannot be read. */
static pd_outbox_item_t *
read_item (pd_store_t *store, sqlite3_stmt *st, GError **err)
{
  g_autoptr (pd_outbox_item_t) o = g_new0 (pd_outbox_item_t, 1);
  o->id = sqlite3_column_int64 (st, 0);
  o->ticket_id = sqlite3_column_int64 (st, 1);
  o->kind = col_strdup (st, 2);
  GError *local = NULL;
  if (!store_parse_strv (store, (const char *) sqlite3_column_text (st, 3), &o->to, &local))
    {
      g_set_error (err, PD_ERROR, PD_ERROR_DB, "outbox entry %" G_GINT64_FORMAT
                   " has unreadable recipients: %s", o->id, local->message);
      g_error_free (local);
      return NULL;
    }
  o->subject = col_strdup (st, 4);
  o->message_id = col_strdup (st, 5);
  o->in_reply_to = col_strdup (st, 6);
  o->status = col_strdup (st, 7);
  o->attempts = sqlite3_column_int (st, 8);
  o->last_error = col_strdup (st, 9);
  o->body_text = col_strdup (st, 10);
  o->created_at = sqlite3_column_int64 (st, 11);
  o->next_attempt_at = sqlite3_column_int64 (st, 12);
  o->sent_at = sqlite3_column_int64 (st, 13);
  o->bounce_recipient = col_strdup (st, 14);
  o->bounce_status = col_strdup (st, 15);
  o->bounce_diagnostic = col_strdup (st, 16);
  o->bounced_at = sqlite3_column_int64 (st, 17);
  if (sqlite3_column_type (st, OUTBOX_RAW_COLUMN) != SQLITE_NULL)
    o->raw = g_bytes_new (sqlite3_column_blob (st, OUTBOX_RAW_COLUMN),
                          (gsize) sqlite3_column_bytes (st, OUTBOX_RAW_COLUMN));
  return g_steal_pointer (&o);
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
      pd_outbox_item_t *o = read_item (store, st, err);
      if (o == NULL)
        {
          done (store, st);
          return false;
        }
      g_ptr_array_add (list, o);
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

/* ---- delivery ------------------------------------------------------------- */

pd_time_t
pd_outbox_retry_delay (int attempts)
{
  /* Quick at first, for a relay restarting or a full disk cleared, then
   * hourly: the schedule of most mail servers, a little faster because a
   * customer waits for an answer. */
  static const pd_time_t schedule[] = { 60, 5 * 60, 15 * 60, 60 * 60 };
  if (attempts < 1)
    attempts = 1;
  if ((gsize) attempts > G_N_ELEMENTS (schedule))
    return schedule[G_N_ELEMENTS (schedule) - 1];
  return schedule[attempts - 1];
}

bool
pd_store_outbox_claim (pd_store_t *store, pd_time_t now, pd_outbox_item_t **out, GError **err)
{
  *out = NULL;
  if (pd_store_in_transaction (store))
    {
      /* The claim must be committed before the message leaves, or a crash
       * would forget it was taken; inside a caller's transaction it could
       * not be. */
      g_set_error (err, PD_ERROR, PD_ERROR_DB, "an outbox claim must run in its own transaction");
      return false;
    }
  if (!pd_store_begin (store, err))
    return false;
  sqlite3_stmt *st = stmt (store, ST_OUTBOX_DUE, err);
  if (st == NULL)
    {
      pd_store_rollback (store);
      return false;
    }
  bind_int (store, st, 1, now);
  g_autoptr (pd_outbox_item_t) item = NULL;
  int rc = step (store, st);
  if (rc == SQLITE_ROW)
    {
      item = read_item (store, st, err);
      done (store, st);
      if (item == NULL)
        {
          pd_store_rollback (store);
          return false;
        }
    }
  else if (rc == SQLITE_DONE)
    done (store, st);
  else
    {
      store_db_error (store, err, "cannot read the outbox");
      done (store, st);
      pd_store_rollback (store);
      return false;
    }
  if (item != NULL)
    {
      st = stmt (store, ST_OUTBOX_SET_SENDING, err);
      if (st == NULL)
        {
          pd_store_rollback (store);
          return false;
        }
      bind_int (store, st, 1, item->id);
      if (!store_exec (store, st, err, "cannot mark outbox entry %" G_GINT64_FORMAT " as sending",
                       item->id))
        {
          pd_store_rollback (store);
          return false;
        }
      g_free (item->status);
      item->status = g_strdup ("sending");
    }
  if (!pd_store_commit (store, err))
    {
      pd_store_rollback (store);
      return false;
    }
  *out = g_steal_pointer (&item);
  return true;
}

/* Runs an outbox UPDATE on row 'id' that must find it being sent: a row
 * that is not (marked by someone else, or never claimed) is an error, not
 * a silent no-op. */
static bool
update_sending (pd_store_t *s, sqlite3_stmt *st, gint64 id, const char *what, GError **err)
{
  if (!store_exec (s, st, err, "cannot mark outbox entry %" G_GINT64_FORMAT " %s", id, what))
    return false;
  if (sqlite3_changes (s->db) != 1)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_NOT_FOUND,
                   "outbox entry %" G_GINT64_FORMAT " is not being sent", id);
      return false;
    }
  return true;
}

bool
pd_store_outbox_mark_sent (pd_store_t *store, gint64 id, pd_time_t at, GError **err)
{
  bool own;
  if (!store_own_begin (store, &own, err))
    return false;
  sqlite3_stmt *st = stmt (store, ST_OUTBOX_SENT, err);
  bool ok = st != NULL;
  if (ok)
    {
      bind_int (store, st, 1, id);
      bind_int (store, st, 2, at);
      ok = update_sending (store, st, id, "sent", err);
    }
  return store_own_end (store, own, ok, ok ? err : NULL) && ok;
}

/* What a failure needs to know of a row being sent. */
typedef struct {
  gint64 ticket_id;
  char *message_id;   /* owned */
  char **to;          /* owned */
  int attempts;
  pd_time_t created_at;
} sending_row_t;

static void
sending_row_clear (sending_row_t *r)
{
  g_free (r->message_id);
  g_strfreev (r->to);
}

static bool
read_sending_row (pd_store_t *s, gint64 id, sending_row_t *r, GError **err)
{
  sqlite3_stmt *st = stmt (s, ST_OUTBOX_ROW, err);
  if (st == NULL)
    return false;
  bind_int (s, st, 1, id);
  int rc = step (s, st);
  if (rc != SQLITE_ROW)
    {
      if (rc == SQLITE_DONE)
        g_set_error (err, PD_ERROR, PD_ERROR_NOT_FOUND,
                     "outbox entry %" G_GINT64_FORMAT " is not being sent", id);
      else
        store_db_error (s, err, "cannot read outbox entry %" G_GINT64_FORMAT, id);
      done (s, st);
      return false;
    }
  r->ticket_id = sqlite3_column_int64 (st, 0);
  r->message_id = col_strdup (st, 1);
  r->attempts = sqlite3_column_int (st, 3);
  r->created_at = sqlite3_column_int64 (st, 4);
  bool ok = store_parse_strv (s, (const char *) sqlite3_column_text (st, 2), &r->to, err);
  done (s, st);
  return ok;
}

/* Marks the row failed and tells the ticket, in the caller's transaction. */
static bool
fail_in_tx (pd_store_t *s, gint64 id, const sending_row_t *r, pd_time_t now, const char *error,
            GError **err)
{
  sqlite3_stmt *st = stmt (s, ST_OUTBOX_FAILED, err);
  if (st == NULL)
    return false;
  bind_int (s, st, 1, id);
  bind_text (s, st, 2, error);
  if (!update_sending (s, st, id, "failed", err))
    return false;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "outbox_id");
  json_builder_add_int_value (b, id);
  json_builder_set_member_name (b, "message_id");
  json_builder_add_string_value (b, r->message_id);
  json_builder_set_member_name (b, "to");
  json_builder_begin_array (b);
  for (gsize i = 0; r->to != NULL && r->to[i] != NULL; i++)
    json_builder_add_string_value (b, r->to[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "error");
  json_builder_add_string_value (b, error);
  json_builder_set_member_name (b, "attempts");
  json_builder_add_int_value (b, r->attempts + 1);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, root);
  g_autofree char *detail = json_generator_to_data (gen, NULL);
  return pd_store_event_add (s, r->ticket_id, now, "postdesk", "delivery-failed", detail, err);
}

bool
pd_store_outbox_mark_retry (pd_store_t *store, gint64 id, pd_time_t now, const char *error,
                            bool *gave_up, pd_time_t *next_attempt_at, GError **err)
{
  if (gave_up != NULL)
    *gave_up = false;
  if (next_attempt_at != NULL)
    *next_attempt_at = 0;
  bool own;
  if (!store_own_begin (store, &own, err))
    return false;
  sending_row_t r = { 0 };
  bool ok = read_sending_row (store, id, &r, err);
  bool expired = ok && now - r.created_at >= PD_OUTBOX_MAX_AGE;
  pd_time_t next = 0;
  if (ok && expired)
    {
      g_autofree char *why = g_strdup_printf ("gave up after %d attempts over %d days: %s",
                                              r.attempts + 1, PD_OUTBOX_MAX_AGE / (24 * 3600), error);
      ok = fail_in_tx (store, id, &r, now, why, err);
    }
  else if (ok)
    {
      pd_time_t delay = pd_outbox_retry_delay (r.attempts + 1);
      next = now + delay + g_random_int_range (0, (gint32) (delay / 10) + 1);
      sqlite3_stmt *st = stmt (store, ST_OUTBOX_RETRY, err);
      ok = st != NULL;
      if (ok)
        {
          bind_int (store, st, 1, id);
          bind_text (store, st, 2, error);
          bind_int (store, st, 3, next);
          ok = update_sending (store, st, id, "for a retry", err);
        }
    }
  sending_row_clear (&r);
  if (!store_own_end (store, own, ok, ok ? err : NULL) || !ok)
    return false;
  if (gave_up != NULL)
    *gave_up = expired;
  if (next_attempt_at != NULL)
    *next_attempt_at = next;
  return true;
}

bool
pd_store_outbox_mark_failed (pd_store_t *store, gint64 id, pd_time_t now, const char *error,
                             GError **err)
{
  bool own;
  if (!store_own_begin (store, &own, err))
    return false;
  sending_row_t r = { 0 };
  bool ok = read_sending_row (store, id, &r, err) && fail_in_tx (store, id, &r, now, error, err);
  sending_row_clear (&r);
  return store_own_end (store, own, ok, ok ? err : NULL) && ok;
}

bool
pd_store_outbox_recover (pd_store_t *store, guint *recovered, GError **err)
{
  if (recovered != NULL)
    *recovered = 0;
  sqlite3_stmt *st = stmt (store, ST_OUTBOX_RECOVER, err);
  if (st == NULL)
    return false;
  if (!store_exec (store, st, err, "cannot put interrupted deliveries back in the outbox"))
    return false;
  if (recovered != NULL)
    *recovered = (guint) sqlite3_changes (store->db);
  return true;
}

bool
pd_store_outbox_next_due (pd_store_t *store, pd_time_t *when, GError **err)
{
  *when = 0;
  sqlite3_stmt *st = stmt (store, ST_OUTBOX_NEXT_DUE, err);
  if (st == NULL)
    return false;
  int rc = step (store, st);
  if (rc == SQLITE_ROW && sqlite3_column_type (st, 0) != SQLITE_NULL)
    /* A row without next_attempt_at is due at once: it reads as 1, long
     * past, since 0 means that nothing is queued. */
    *when = MAX (sqlite3_column_int64 (st, 0), 1);
  else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    {
      store_db_error (store, err, "cannot read when the outbox is next due");
      done (store, st);
      return false;
    }
  done (store, st);
  return true;
}

/* ---- bounces and the suppression list ------------------------------------- */

/* The object 'b' built, as JSON text (transfer full). */
static char *
builder_text (JsonBuilder *b)
{
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

/* A string member, skipped when NULL: absent says "not known". */
static void
add_member (JsonBuilder *b, const char *key, const char *value)
{
  if (value == NULL)
    return;
  json_builder_set_member_name (b, key);
  json_builder_add_string_value (b, value);
}

bool
pd_store_outbox_find (pd_store_t *store, const char *message_id, pd_outbox_item_t **out, GError **err)
{
  *out = NULL;
  sqlite3_stmt *st = stmt (store, ST_OUTBOX_BY_MESSAGE_ID, err);
  if (st == NULL)
    return false;
  bind_text (store, st, 1, message_id);
  int rc = step (store, st);
  if (rc == SQLITE_ROW)
    {
      *out = read_item (store, st, err);
      done (store, st);
      return *out != NULL;
    }
  if (rc != SQLITE_DONE)
    {
      store_db_error (store, err, "cannot look for the outgoing message %s", message_id);
      done (store, st);
      return false;
    }
  done (store, st);
  return true;
}

bool
pd_store_outbox_mark_bounced (pd_store_t *store, gint64 id, const char *recipient, const char *status,
                              const char *diagnostic, pd_time_t at, bool *marked, GError **err)
{
  *marked = false;
  sqlite3_stmt *st = stmt (store, ST_OUTBOX_BOUNCED, err);
  if (st == NULL)
    return false;
  bind_int (store, st, 1, id);
  bind_text (store, st, 2, recipient);
  bind_text (store, st, 3, status);
  bind_text (store, st, 4, diagnostic);
  bind_int (store, st, 5, at);
  if (!store_exec (store, st, err, "cannot mark outbox entry %" G_GINT64_FORMAT " bounced", id))
    return false;
  if (sqlite3_changes (store->db) == 1)
    {
      *marked = true;
      return true;
    }
  /* Nothing changed: the row is being sent, or does not exist. */
  bool sending = false;
  if (!store_exists (store, stmt (store, ST_OUTBOX_ROW, err), id, NULL, &sending, err,
                     "cannot read an outbox entry"))
    return false;
  if (!sending)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_NOT_FOUND, "no outbox entry %" G_GINT64_FORMAT, id);
      return false;
    }
  return true;
}

bool
pd_store_outbox_mark_suppressed (pd_store_t *store, gint64 id, pd_time_t now, const char *reason,
                                 GError **err)
{
  bool own;
  if (!store_own_begin (store, &own, err))
    return false;
  sending_row_t r = { 0 };
  bool ok = read_sending_row (store, id, &r, err);
  sqlite3_stmt *st = ok ? stmt (store, ST_OUTBOX_SUPPRESSED, err) : NULL;
  ok = st != NULL;
  if (ok)
    {
      bind_int (store, st, 1, id);
      ok = update_sending (store, st, id, "suppressed", err);
    }
  if (ok)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "outbox_id");
      json_builder_add_int_value (b, id);
      add_member (b, "message_id", r.message_id);
      json_builder_set_member_name (b, "to");
      json_builder_begin_array (b);
      for (gsize i = 0; r.to != NULL && r.to[i] != NULL; i++)
        json_builder_add_string_value (b, r.to[i]);
      json_builder_end_array (b);
      add_member (b, "reason", reason);
      json_builder_end_object (b);
      g_autofree char *detail = builder_text (b);
      ok = pd_store_event_add (store, r.ticket_id, now, "postdesk", "delivery-suppressed", detail, err);
    }
  sending_row_clear (&r);
  return store_own_end (store, own, ok, ok ? err : NULL) && ok;
}

void
pd_suppression_free (pd_suppression_t *s)
{
  if (s == NULL)
    return;
  g_free (s->address);
  g_free (s->reason);
  g_free (s->status);
  g_free (s->diagnostic);
  g_free (s);
}

/* The row 'st' is on (SUPPRESSED_COLUMNS). (transfer full) */
static pd_suppression_t *
read_suppression (sqlite3_stmt *st)
{
  pd_suppression_t *s = g_new0 (pd_suppression_t, 1);
  s->address = col_strdup (st, 0);
  s->reason = col_strdup (st, 1);
  s->status = col_strdup (st, 2);
  s->diagnostic = col_strdup (st, 3);
  s->ticket_id = sqlite3_column_int64 (st, 4);
  s->outbox_id = sqlite3_column_int64 (st, 5);
  s->created_at = sqlite3_column_int64 (st, 6);
  return s;
}

bool
pd_store_suppress (pd_store_t *store, const pd_suppression_t *s, GError **err)
{
  sqlite3_stmt *st = stmt (store, ST_SUPPRESSED_UPSERT, err);
  if (st == NULL)
    return false;
  bind_text (store, st, 1, s->address);
  bind_text (store, st, 2, s->reason);
  bind_text (store, st, 3, s->status);
  bind_text (store, st, 4, s->diagnostic);
  bind_int_or_null (store, st, 5, s->ticket_id);
  bind_int_or_null (store, st, 6, s->outbox_id);
  bind_int (store, st, 7, s->created_at);
  return store_exec (store, st, err, "cannot suppress %s", s->address);
}

bool
pd_store_suppression_get (pd_store_t *store, const char *address, pd_suppression_t **out, GError **err)
{
  *out = NULL;
  sqlite3_stmt *st = stmt (store, ST_SUPPRESSED_GET, err);
  if (st == NULL)
    return false;
  bind_text (store, st, 1, address);
  int rc = step (store, st);
  if (rc == SQLITE_ROW)
    *out = read_suppression (st);
  else if (rc != SQLITE_DONE)
    {
      store_db_error (store, err, "cannot read whether %s is suppressed", address);
      done (store, st);
      return false;
    }
  done (store, st);
  return true;
}

bool
pd_store_suppressed_list (pd_store_t *store, GPtrArray **out, GError **err)
{
  *out = NULL;
  sqlite3_stmt *st = stmt (store, ST_SUPPRESSED_ALL, err);
  if (st == NULL)
    return false;
  g_autoptr (GPtrArray) list = g_ptr_array_new_with_free_func ((GDestroyNotify) pd_suppression_free);
  int rc;
  while ((rc = step (store, st)) == SQLITE_ROW)
    g_ptr_array_add (list, read_suppression (st));
  if (rc != SQLITE_DONE)
    {
      store_db_error (store, err, "cannot list the suppressed addresses");
      done (store, st);
      return false;
    }
  done (store, st);
  *out = g_steal_pointer (&list);
  return true;
}

/* Journals and deletes the entry, then tells its ticket; in the caller's
 * transaction. */
static bool
unsuppress_in_tx (pd_store_t *store, const char *address, const char *actor, pd_time_t at, GError **err)
{
  g_autoptr (pd_suppression_t) entry = NULL;
  if (!pd_store_suppression_get (store, address, &entry, err))
    return false;
  if (entry == NULL)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_NOT_FOUND, "%s is not suppressed", address);
      return false;
    }
  /* The journal keeps what the entry was, since the row itself goes. */
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  add_member (b, "address", entry->address);
  add_member (b, "reason", entry->reason);
  add_member (b, "status", entry->status);
  add_member (b, "diagnostic", entry->diagnostic);
  if (entry->ticket_id != 0)
    {
      json_builder_set_member_name (b, "ticket");
      json_builder_add_int_value (b, entry->ticket_id);
    }
  if (entry->outbox_id != 0)
    {
      json_builder_set_member_name (b, "outbox_id");
      json_builder_add_int_value (b, entry->outbox_id);
    }
  json_builder_set_member_name (b, "since");
  json_builder_add_int_value (b, entry->created_at);
  json_builder_end_object (b);
  g_autofree char *detail = builder_text (b);
  sqlite3_stmt *st = stmt (store, ST_SUPPRESSED_JOURNAL, err);
  if (st == NULL)
    return false;
  bind_int (store, st, 1, at);
  bind_text (store, st, 2, actor);
  bind_text (store, st, 3, "suppressed-remove");
  bind_text (store, st, 4, detail);
  if (!store_exec (store, st, err, "cannot record lifting the suppression of %s in the journal", address))
    return false;
  st = stmt (store, ST_SUPPRESSED_DELETE, err);
  if (st == NULL)
    return false;
  bind_text (store, st, 1, address);
  if (!store_exec (store, st, err, "cannot lift the suppression of %s", address))
    return false;
  if (entry->ticket_id == 0)
    return true;
  g_autoptr (JsonBuilder) e = json_builder_new ();
  json_builder_begin_object (e);
  add_member (e, "address", entry->address);
  add_member (e, "status", entry->status);
  add_member (e, "diagnostic", entry->diagnostic);
  json_builder_end_object (e);
  g_autofree char *event = builder_text (e);
  return pd_store_event_add (store, entry->ticket_id, at, actor, "unsuppressed", event, err);
}

bool
pd_store_suppression_remove (pd_store_t *store, const char *address, const char *actor, pd_time_t at,
                             GError **err)
{
  bool own;
  if (!store_own_begin (store, &own, err))
    return false;
  bool ok = unsuppress_in_tx (store, address, actor, at, err);
  return store_own_end (store, own, ok, ok ? err : NULL) && ok;
}
