/* store_tickets.c - tickets, their participants and their history (events). */
#include "store_internal.h"

#include <string.h>

#define TICKET_COLUMNS \
  "id, subject, status, severity, severity_rules, requester_name, requester_address," \
  " customer, plan, created_at, updated_at, first_response_due, resolution_due," \
  " first_response_at, linked_to, mailbox," \
  " (SELECT count(*) FROM messages m WHERE m.ticket_id = tickets.id), tags, opened_by," \
  " clock_started_at"

static const char *const stmt_sql[ST_COUNT] = {
  [ST_TICKET_EXISTS] = "SELECT 1 FROM tickets WHERE id = ?1",
  [ST_IS_PARTICIPANT] =
    "SELECT 1 FROM participants WHERE ticket_id = ?1 AND address = lower(?2)",
  [ST_REQUESTER] = "SELECT requester_address FROM tickets WHERE id = ?1",
  [ST_TICKET_INSERT] =
    "INSERT INTO tickets (subject, status, severity, severity_rules, requester_name,"
    " requester_address, created_at, updated_at, linked_to, mailbox, tags, opened_by,"
    " customer, plan, clock_started_at, first_response_due, resolution_due)"
    " VALUES (?1, 'new', ?2, ?3, ?4, lower(?5), ?6, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
  [ST_TICKET_SET_SLA] =
    "UPDATE tickets SET customer = ?2, plan = ?3, clock_started_at = ?4,"
    " first_response_due = ?5, resolution_due = ?6 WHERE id = ?1",
  /* Only ever up: a reply never makes a ticket less severe. */
  [ST_TICKET_RAISE_SEVERITY] =
    "UPDATE tickets SET severity = ?2, severity_rules = ?3 WHERE id = ?1 AND severity > ?2",
  [ST_PARTICIPANT_INSERT] =
    "INSERT INTO participants (ticket_id, address, name, role)"
    " VALUES (?1, lower(?2), ?3, ?4) ON CONFLICT (ticket_id, address) DO NOTHING",
  [ST_EVENT_INSERT] =
    "INSERT INTO events (ticket_id, at, actor, type, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
  [ST_TICKET_GET] = "SELECT " TICKET_COLUMNS " FROM tickets WHERE id = ?1",
  [ST_TICKETS_ALL] = "SELECT " TICKET_COLUMNS " FROM tickets ORDER BY id",
  [ST_TICKETS_BY_STATUS] =
    "SELECT " TICKET_COLUMNS " FROM tickets WHERE status = ?1 ORDER BY id",
};

static sqlite3_stmt *
stmt (pd_store_t *s, stmt_id_t id, GError **err)
{
  return store_stmt (s, id, stmt_sql[id], err);
}

bool
pd_store_ticket_exists (pd_store_t *store, gint64 ticket_id, bool *exists, GError **err)
{
  g_autofree char *what = g_strdup_printf ("cannot look up ticket %" G_GINT64_FORMAT, ticket_id);
  return store_exists (store, stmt (store, ST_TICKET_EXISTS, err), ticket_id, NULL, exists, err, what);
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
  return store_exists (store, stmt (store, ST_IS_PARTICIPANT, err), ticket_id, address, out, err, what);
}

bool
pd_store_ticket_requester (pd_store_t *store, gint64 ticket_id, char **address, GError **err)
{
  *address = NULL;
  sqlite3_stmt *st = store_row_by_id (store, stmt (store, ST_REQUESTER, err), ticket_id, "ticket", err);
  if (st == NULL)
    return false;
  *address = col_strdup (st, 0);
  done (store, st);
  return true;
}

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
  bind_text (store, st, 3, store_strings_json (store, 0, t->severity_rules, -1));
  bind_text (store, st, 4, t->requester_name);
  bind_text (store, st, 5, t->requester_address);
  bind_int (store, st, 6, t->created_at);
  bind_int_or_null (store, st, 7, t->linked_to);
  bind_text (store, st, 8, t->mailbox);
  bind_text (store, st, 9, store_strings_json (store, 1, t->tags, -1));
  bind_text (store, st, 10, t->opened_by != NULL ? t->opened_by : "customer");
  bind_text (store, st, 11, t->customer);
  bind_text (store, st, 12, t->plan);
  bind_int_or_null (store, st, 13, t->clock_started_at);
  bind_int_or_null (store, st, 14, t->first_response_due);
  bind_int_or_null (store, st, 15, t->resolution_due);
  int rc = step (store, st);
  if (rc != SQLITE_DONE)
    {
      store_db_error (store, err, "cannot create ticket for %s",
                t->requester_address != NULL ? t->requester_address : "(no address)");
      done (store, st);
      return false;
    }
  *ticket_id = sqlite3_last_insert_rowid (store->db);
  done (store, st);
  return true;
}

bool
pd_store_ticket_raise_severity (pd_store_t *store, gint64 ticket_id, int severity,
                                const char *const *rules, bool *raised, GError **err)
{
  *raised = false;
  sqlite3_stmt *st = stmt (store, ST_TICKET_RAISE_SEVERITY, err);
  if (st == NULL)
    return false;
  bind_int (store, st, 1, ticket_id);
  bind_int (store, st, 2, severity);
  bind_text (store, st, 3, store_strings_json (store, 0, rules, -1));
  if (!store_exec (store, st, err, "cannot raise the severity of ticket %" G_GINT64_FORMAT, ticket_id))
    return false;
  *raised = sqlite3_changes (store->db) > 0;
  return true;
}

bool
pd_store_ticket_set_sla (pd_store_t *store, gint64 ticket_id, const pd_ticket_sla_t *sla,
                         GError **err)
{
  sqlite3_stmt *st = stmt (store, ST_TICKET_SET_SLA, err);
  if (st == NULL)
    return false;
  bind_int (store, st, 1, ticket_id);
  bind_text (store, st, 2, sla->customer);
  bind_text (store, st, 3, sla->plan);
  bind_int_or_null (store, st, 4, sla->clock_started_at);
  bind_int_or_null (store, st, 5, sla->first_response_due);
  bind_int_or_null (store, st, 6, sla->resolution_due);
  return store_exec (store, st, err, "cannot set the deadlines of ticket %" G_GINT64_FORMAT, ticket_id);
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
  return store_exec (store, st, err, "cannot add participant %s to ticket %" G_GINT64_FORMAT,
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
  return store_exec (store, st, err, "cannot add %s event to ticket %" G_GINT64_FORMAT,
                    type != NULL ? type : "(untyped)", ticket_id);
}

void
pd_ticket_free (pd_ticket_t *t)
{
  if (t == NULL)
    return;
  g_free (t->subject);
  g_free (t->status);
  g_strfreev (t->severity_rules);
  g_strfreev (t->tags);
  g_free (t->opened_by);
  g_free (t->requester.name);
  g_free (t->requester.address);
  g_free (t->customer);
  g_free (t->plan);
  g_free (t->mailbox);
  g_free (t);
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
  if (!store_parse_strv (s, (const char *) sqlite3_column_text (st, 4), &t->severity_rules, &local)
      || !store_parse_strv (s, (const char *) sqlite3_column_text (st, 17), &t->tags, &local))
    {
      g_set_error (err, PD_ERROR, PD_ERROR_DB, "ticket %" G_GINT64_FORMAT
                   " has unreadable severity_rules or tags: %s", t->id, local->message);
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
  t->opened_by = col_strdup (st, 18);
  t->clock_started_at = sqlite3_column_int64 (st, 19);
  return t;
}

bool
pd_store_ticket_get (pd_store_t *store, gint64 ticket_id, pd_ticket_t **out, GError **err)
{
  *out = NULL;
  sqlite3_stmt *st = store_row_by_id (store, stmt (store, ST_TICKET_GET, err), ticket_id, "ticket", err);
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
      store_db_error (store, err, "cannot list tickets");
      done (store, st);
      return false;
    }
  done (store, st);
  *out = g_steal_pointer (&list);
  return true;
}
