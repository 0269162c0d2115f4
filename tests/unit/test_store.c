/* test_store.c - the SQLite store: schema, migrations, round trips,
 * transactions and durability. Some tests open the database file directly
 * with SQLite to check what the store wrote, or to write what the store's
 * API cannot (a schema from the future, an outbox row). */
#include "testutil.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

#include "postdesk/store.h"

/* ---- helpers ------------------------------------------------------------ */

/* A path for a database no other test uses. (transfer full) */
static char *
fresh_db_path (void)
{
  static int n;
  g_autofree char *name = g_strdup_printf ("store-%d.db", ++n);
  return g_build_filename (pd_test_tmpdir (), name, NULL);
}

static pd_store_t *
open_store (const char *path)
{
  GError *err = NULL;
  pd_store_t *store = NULL;
  g_assert_true (pd_store_open (path, &store, &err));
  g_assert_no_error (err);
  g_assert_nonnull (store);
  return store;
}

/* A direct connection to check what the store wrote. */
static sqlite3 *
raw_db (const char *path)
{
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  sqlite3_extended_result_codes (db, 1);
  sqlite3_busy_timeout (db, 5000);
  return db;
}

/* The single integer a query returns. */
static gint64
query_int (sqlite3 *db, const char *sql)
{
  sqlite3_stmt *st = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &st, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (st), ==, SQLITE_ROW);
  gint64 v = sqlite3_column_int64 (st, 0);
  sqlite3_finalize (st);
  return v;
}

/* The single text value a query returns. (transfer full) */
static char *
query_text (sqlite3 *db, const char *sql)
{
  sqlite3_stmt *st = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &st, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (st), ==, SQLITE_ROW);
  char *v = g_strdup ((const char *) sqlite3_column_text (st, 0));
  sqlite3_finalize (st);
  return v;
}

static gint64
count_rows (const char *path, const char *sql)
{
  sqlite3 *db = raw_db (path);
  gint64 n = query_int (db, sql);
  sqlite3_close (db);
  return n;
}

static gint64
make_ticket (pd_store_t *store, const char *subject, const char *address, pd_time_t at)
{
  pd_ticket_new_t t = {
    .subject = subject,
    .requester_name = "Ada Lovelace",
    .requester_address = address,
    .severity = 2,
    .created_at = at,
  };
  gint64 id = 0;
  GError *err = NULL;
  g_assert_true (pd_store_ticket_create (store, &t, &id, &err));
  g_assert_no_error (err);
  g_assert_cmpint (id, >, 0);
  return id;
}

static pd_address_t *
address_new (const char *name, const char *address)
{
  pd_address_t *a = g_new0 (pd_address_t, 1);
  a->name = g_strdup (name);
  a->address = g_strdup (address);
  return a;
}

/* A small inbound message. (transfer full) */
static pd_message_t *
make_message (const char *message_id, const char *subject)
{
  pd_message_t *m = pd_message_new ();
  m->message_id = g_strdup (message_id);
  m->from = address_new ("Ada Lovelace", "ada@example.org");
  g_ptr_array_add (m->to, address_new (NULL, "support@postdesk.test"));
  g_free (m->subject);
  m->subject = g_strdup (subject);
  g_free (m->body_text);
  m->body_text = g_strdup ("The engine stopped.");
  m->date = 1767225600;
  return m;
}

static gint64
add_message (pd_store_t *store, gint64 ticket, const pd_message_t *m, pd_time_t received_at)
{
  pd_arrival_t arrival = { .received_at = received_at, .origin = "test" };
  gint64 row = 0;
  GError *err = NULL;
  g_assert_true (pd_store_message_add (store, ticket, m, "customer", "fp-1", 0,
                                       &arrival, &row, &err));
  g_assert_no_error (err);
  g_assert_cmpint (row, >, 0);
  return row;
}

/* ---- opening and migrations ---------------------------------------------------- */

static void
test_open_creates_file_with_newest_schema (void)
{
  g_autofree char *path = fresh_db_path ();
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_autoptr (pd_store_t) store = open_store (path);
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_cmpint (pd_store_schema_version (store), >=, 2);

  sqlite3 *db = raw_db (path);
  g_assert_cmpint (query_int (db, "PRAGMA user_version"), ==, pd_store_schema_version (store));
  g_autofree char *mode = query_text (db, "PRAGMA journal_mode");
  g_assert_cmpstr (mode, ==, "wal");
  const char *tables[] = { "tickets", "raw_messages", "messages", "attachments", "participants",
                           "events", "outbox", "mailbox_state", "quarantine", "message_refs", "journal",
                           "suppressed" };
  for (guint i = 0; i < G_N_ELEMENTS (tables); i++)
    {
      sqlite3_stmt *st = NULL;
      g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT strict FROM pragma_table_list WHERE name = ?1",
                                           -1, &st, NULL), ==, SQLITE_OK);
      sqlite3_bind_text (st, 1, tables[i], -1, SQLITE_STATIC);
      g_assert_cmpint (sqlite3_step (st), ==, SQLITE_ROW);
      g_test_message ("table %s", tables[i]);
      g_assert_cmpint (sqlite3_column_int (st, 0), ==, 1);
      sqlite3_finalize (st);
    }
  sqlite3_close (db);
}

static void
test_open_enforces_foreign_keys (void)
{
  /* foreign_keys is off by default and per connection: only its effect
   * on the store's own connection shows it was turned on. */
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  g_autoptr (pd_message_t) m = make_message ("orphan@example.org", "Orphan");
  gint64 row = 0;
  GError *err = NULL;
  g_assert_false (pd_store_message_add (store, 999, m, "customer", NULL, 0, NULL, &row, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_REJECTED);
  g_assert_nonnull (strstr (err->message, "FOREIGN KEY constraint failed"));
  g_assert_cmpint (row, ==, 0);
  g_clear_error (&err);
}

static void
test_reopen_is_noop_and_keeps_data (void)
{
  g_autofree char *path = fresh_db_path ();
  gint64 id;
  {
    g_autoptr (pd_store_t) store = open_store (path);
    id = make_ticket (store, "Kept", "ada@example.org", 1000);
  }
  sqlite3 *db = raw_db (path);
  g_autofree char *schema_before = query_text (db, "SELECT group_concat(sql, ';') FROM sqlite_schema");
  sqlite3_close (db);

  g_autoptr (pd_store_t) store = open_store (path);
  g_assert_cmpint (pd_store_schema_version (store), >=, 2);
  g_autoptr (pd_ticket_t) t = NULL;
  GError *err = NULL;
  g_assert_true (pd_store_ticket_get (store, id, &t, &err));
  g_assert_no_error (err);
  g_assert_cmpstr (t->subject, ==, "Kept");

  db = raw_db (path);
  g_autofree char *schema_after = query_text (db, "SELECT group_concat(sql, ';') FROM sqlite_schema");
  sqlite3_close (db);
  g_assert_cmpstr (schema_before, ==, schema_after);
}

static void
test_open_refuses_future_schema (void)
{
  g_autofree char *path = fresh_db_path ();
  {
    g_autoptr (pd_store_t) store = open_store (path);
  }
  sqlite3 *db = raw_db (path);
  g_assert_cmpint (sqlite3_exec (db, "PRAGMA user_version = 99", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  pd_store_t *store = (pd_store_t *) 0x1;
  GError *err = NULL;
  g_assert_false (pd_store_open (path, &store, &err));
  g_assert_null (store);
  g_assert_error (err, PD_ERROR, PD_ERROR_DB);
  g_assert_nonnull (strstr (err->message, path));
  g_assert_nonnull (strstr (err->message, "99"));
  g_clear_error (&err);

  /* Refusing must not have touched the database. */
  db = raw_db (path);
  g_assert_cmpint (query_int (db, "PRAGMA user_version"), ==, 99);
  sqlite3_close (db);
}

static void
test_open_missing_folder_is_not_created (void)
{
  g_autofree char *dir = g_build_filename (pd_test_tmpdir (), "no-such-dir", NULL);
  g_autofree char *path = g_build_filename (dir, "x.db", NULL);
  pd_store_t *store = (pd_store_t *) 0x1;
  GError *err = NULL;
  g_assert_false (pd_store_open (path, &store, &err));
  g_assert_null (store);
  g_assert_error (err, PD_ERROR, PD_ERROR_NOT_FOUND);
  g_autofree char *expected = g_strdup_printf ("cannot create database %s: the folder %s does not exist",
                                               path, dir);
  g_assert_cmpstr (err->message, ==, expected);
  g_clear_error (&err);
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
}

/* Only the commands that store mail create a database: a reader or a
 * writer that finds none says so, and leaves no file behind. */
static void
test_open_existing_modes_refuse_missing_file (void)
{
  g_autofree char *path = fresh_db_path ();
  for (int mode = PD_STORE_READ; mode <= PD_STORE_WRITE; mode++)
    {
      pd_store_t *store = (pd_store_t *) 0x1;
      GError *err = NULL;
      g_assert_false (pd_store_open_mode (path, mode, &store, &err));
      g_assert_null (store);
      g_assert_error (err, PD_ERROR, PD_ERROR_NOT_FOUND);
      g_assert_nonnull (strstr (err->message, path));
      g_clear_error (&err);
      g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
    }
}

static void
test_open_marks_database_as_postdesk (void)
{
  g_autofree char *path = fresh_db_path ();
  {
    g_autoptr (pd_store_t) store = open_store (path);
  }
  sqlite3 *db = raw_db (path);
  g_assert_cmpint (query_int (db, "PRAGMA application_id"), ==, 0x7064736b);
  sqlite3_close (db);
}

/* Another program's SQLite file must come out exactly as it went in. */
static void
test_open_refuses_other_programs_database (void)
{
  g_autofree char *path = fresh_db_path ();
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "CREATE TABLE recipes (name TEXT); INSERT INTO recipes VALUES ('bread')",
                                 NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  for (int mode = PD_STORE_READ; mode <= PD_STORE_CREATE; mode++)
    {
      pd_store_t *store = (pd_store_t *) 0x1;
      GError *err = NULL;
      g_assert_false (pd_store_open_mode (path, mode, &store, &err));
      g_assert_null (store);
      g_assert_error (err, PD_ERROR, PD_ERROR_DB);
      g_assert_nonnull (strstr (err->message, "is not a postdesk database"));
      g_assert_nonnull (strstr (err->message, "'recipes'"));
      g_clear_error (&err);
    }
  db = raw_db (path);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM sqlite_schema"), ==, 1);
  g_assert_cmpint (query_int (db, "PRAGMA application_id"), ==, 0);
  g_assert_cmpint (query_int (db, "PRAGMA user_version"), ==, 0);
  sqlite3_close (db);
}

/* Databases made before postdesk marked its files are still its own. */
static void
test_open_adopts_unmarked_postdesk_database (void)
{
  g_autofree char *path = fresh_db_path ();
  {
    g_autoptr (pd_store_t) store = open_store (path);
  }
  sqlite3 *db = raw_db (path);
  g_assert_cmpint (sqlite3_exec (db, "PRAGMA application_id = 0", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
  {
    GError *err = NULL;
    pd_store_t *store = NULL;
    g_assert_true (pd_store_open_mode (path, PD_STORE_READ, &store, &err));
    g_assert_no_error (err);
    pd_store_free (store);
  }
  {
    g_autoptr (pd_store_t) store = open_store (path);
  }
  db = raw_db (path);
  g_assert_cmpint (query_int (db, "PRAGMA application_id"), ==, 0x7064736b);
  sqlite3_close (db);
}

/* A read-only handle reads, and cannot write by accident. */
static void
test_open_read_only_reads_and_refuses_writes (void)
{
  g_autofree char *path = fresh_db_path ();
  {
    g_autoptr (pd_store_t) store = open_store (path);
    pd_ticket_new_t t = { .subject = "Hello", .requester_address = "a@example.org", .severity = 2,
                          .created_at = 1000 };
    gint64 id;
    g_assert_true (pd_store_ticket_create (store, &t, &id, NULL));
  }
  GError *err = NULL;
  pd_store_t *store = NULL;
  g_assert_true (pd_store_open_mode (path, PD_STORE_READ, &store, &err));
  g_assert_no_error (err);
  g_autoptr (pd_ticket_t) got = NULL;
  g_assert_true (pd_store_ticket_get (store, 1, &got, &err));
  g_assert_cmpstr (got->subject, ==, "Hello");
  pd_ticket_new_t t = { .subject = "Other", .requester_address = "b@example.org", .severity = 2,
                        .created_at = 1000 };
  gint64 id;
  g_assert_false (pd_store_ticket_create (store, &t, &id, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_DB);
  g_clear_error (&err);
  pd_store_free (store);
}

static void
test_open_not_a_database (void)
{
  g_autofree char *path = fresh_db_path ();
  g_assert_true (g_file_set_contents (path, "From: not a database\n\nHello, this is plain text "
                                      "long enough to fill a header page of SQLite's format.\n",
                                      -1, NULL));
  pd_store_t *store = NULL;
  GError *err = NULL;
  g_assert_false (pd_store_open (path, &store, &err));
  g_assert_null (store);
  g_assert_error (err, PD_ERROR, PD_ERROR_DB);
  g_assert_true (g_str_has_prefix (err->message, "cannot open database "));
  g_assert_nonnull (strstr (err->message, path));
  g_clear_error (&err);
}

/* ---- tickets --------------------------------------------------------------------- */

static void
test_ticket_create_get_round_trip (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  gint64 first = make_ticket (store, "First", "first@example.org", 100);
  const char *rules[] = { "outage", "vip-customer", NULL };
  pd_ticket_new_t nt = {
    .subject = "Production is down",
    .requester_name = "Grace Hopper",
    .requester_address = "Grace@Example.ORG",
    .severity = 1,
    .severity_rules = rules,
    .created_at = 1767225600,
    .linked_to = first,
    .mailbox = "INBOX",
  };
  gint64 id = 0;
  GError *err = NULL;
  g_assert_true (pd_store_ticket_create (store, &nt, &id, &err));
  g_assert_no_error (err);
  g_assert_cmpint (id, ==, first + 1);

  g_autoptr (pd_ticket_t) t = NULL;
  g_assert_true (pd_store_ticket_get (store, id, &t, &err));
  g_assert_no_error (err);
  g_assert_cmpint (t->id, ==, id);
  g_assert_cmpstr (t->subject, ==, "Production is down");
  g_assert_cmpstr (t->status, ==, "new");
  g_assert_cmpint (t->severity, ==, 1);
  g_assert_nonnull (t->severity_rules);
  g_assert_cmpuint (g_strv_length (t->severity_rules), ==, 2);
  g_assert_cmpstr (t->severity_rules[0], ==, "outage");
  g_assert_cmpstr (t->severity_rules[1], ==, "vip-customer");
  g_assert_cmpstr (t->requester.name, ==, "Grace Hopper");
  g_assert_cmpstr (t->requester.address, ==, "grace@example.org");
  g_assert_null (t->customer);
  g_assert_null (t->plan);
  g_assert_cmpint (t->created_at, ==, 1767225600);
  g_assert_cmpint (t->updated_at, ==, 1767225600);
  g_assert_cmpint (t->first_response_due, ==, 0);
  g_assert_cmpint (t->resolution_due, ==, 0);
  g_assert_cmpint (t->first_response_at, ==, 0);
  g_assert_cmpint (t->linked_to, ==, first);
  g_assert_cmpstr (t->mailbox, ==, "INBOX");
  g_assert_cmpint (t->message_count, ==, 0);

  /* No rules is an empty list, not NULL. */
  g_autoptr (pd_ticket_t) f = NULL;
  g_assert_true (pd_store_ticket_get (store, first, &f, &err));
  g_assert_nonnull (f->severity_rules);
  g_assert_cmpuint (g_strv_length (f->severity_rules), ==, 0);
  g_assert_cmpint (f->linked_to, ==, 0);
  g_assert_null (f->mailbox);

  sqlite3 *db = raw_db (path);
  g_autofree char *json = query_text (db, "SELECT severity_rules FROM tickets WHERE id = 2");
  g_assert_cmpstr (json, ==, "[\"outage\",\"vip-customer\"]");
  sqlite3_close (db);
}

static void
test_ticket_get_missing_is_not_found (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  pd_ticket_t *t = (pd_ticket_t *) 0x1;
  GError *err = NULL;
  g_assert_false (pd_store_ticket_get (store, 42, &t, &err));
  g_assert_null (t);
  g_assert_error (err, PD_ERROR, PD_ERROR_NOT_FOUND);
  g_assert_cmpstr (err->message, ==, "no ticket 42");
  g_clear_error (&err);

  bool exists = true;
  g_assert_true (pd_store_ticket_exists (store, 42, &exists, &err));
  g_assert_false (exists);
  gint64 id = make_ticket (store, "Now there is one", "a@example.org", 1);
  g_assert_true (pd_store_ticket_exists (store, id, &exists, &err));
  g_assert_true (exists);
}

static void
test_ticket_invalid_severity_is_refused (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  pd_ticket_new_t nt = { .subject = "s", .requester_address = "a@example.org",
                         .severity = 3, .created_at = 1 };
  gint64 id = 7;
  GError *err = NULL;
  g_assert_false (pd_store_ticket_create (store, &nt, &id, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_REJECTED);
  g_assert_nonnull (strstr (err->message, "cannot create ticket for a@example.org: CHECK constraint failed"));
  g_assert_cmpint (id, ==, 0);
  g_clear_error (&err);
}

static void
test_ticket_requester (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  gint64 id = make_ticket (store, "Hello", "Ada@Example.org", 1);
  g_autofree char *address = NULL;
  GError *err = NULL;
  g_assert_true (pd_store_ticket_requester (store, id, &address, &err));
  g_assert_no_error (err);
  g_assert_cmpstr (address, ==, "ada@example.org");

  char *none = (char *) 0x1;
  g_assert_false (pd_store_ticket_requester (store, id + 1, &none, &err));
  g_assert_null (none);
  g_assert_error (err, PD_ERROR, PD_ERROR_NOT_FOUND);
  g_clear_error (&err);
}

static void
test_tickets_list_all_and_by_status (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  gint64 a = make_ticket (store, "A", "a@example.org", 30);
  gint64 b = make_ticket (store, "B", "b@example.org", 10);
  gint64 c = make_ticket (store, "C", "c@example.org", 20);
  g_autoptr (pd_message_t) m = make_message ("b1@example.org", "B");
  add_message (store, b, m, 11);

  /* No API changes status yet; the next release's commands will. */
  sqlite3 *db = raw_db (path);
  g_assert_cmpint (sqlite3_exec (db, "UPDATE tickets SET status = 'open' WHERE id = 2",
                                 NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  g_autoptr (GPtrArray) all = NULL;
  GError *err = NULL;
  g_assert_true (pd_store_tickets_list (store, NULL, &all, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (all->len, ==, 3);
  g_assert_cmpint (((pd_ticket_t *) all->pdata[0])->id, ==, a);
  g_assert_cmpint (((pd_ticket_t *) all->pdata[1])->id, ==, b);
  g_assert_cmpint (((pd_ticket_t *) all->pdata[2])->id, ==, c);
  g_assert_cmpint (((pd_ticket_t *) all->pdata[1])->message_count, ==, 1);
  g_assert_cmpint (((pd_ticket_t *) all->pdata[0])->message_count, ==, 0);

  g_autoptr (GPtrArray) fresh = NULL;
  g_assert_true (pd_store_tickets_list (store, "new", &fresh, &err));
  g_assert_cmpuint (fresh->len, ==, 2);
  g_assert_cmpint (((pd_ticket_t *) fresh->pdata[0])->id, ==, a);
  g_assert_cmpint (((pd_ticket_t *) fresh->pdata[1])->id, ==, c);

  g_autoptr (GPtrArray) open = NULL;
  g_assert_true (pd_store_tickets_list (store, "open", &open, &err));
  g_assert_cmpuint (open->len, ==, 1);
  g_assert_cmpstr (((pd_ticket_t *) open->pdata[0])->status, ==, "open");

  g_autoptr (GPtrArray) closed = NULL;
  g_assert_true (pd_store_tickets_list (store, "closed", &closed, &err));
  g_assert_cmpuint (closed->len, ==, 0);
}

/* ---- messages ------------------------------------------------------------------------ */

static void
test_message_add_then_find_by_message_id (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  gint64 ticket = make_ticket (store, "Engine", "ada@example.org", 100);
  g_autoptr (pd_message_t) m = make_message ("engine-1@example.org", "Engine");
  add_message (store, ticket, m, 100);

  gint64 found = 0;
  GError *err = NULL;
  g_assert_true (pd_store_find_message (store, "engine-1@example.org", &found, &err));
  g_assert_no_error (err);
  g_assert_cmpint (found, ==, ticket);

  gint64 none = 99;
  g_assert_true (pd_store_find_message (store, "unknown@example.org", &none, &err));
  g_assert_no_error (err);
  g_assert_cmpint (none, ==, 0);

  g_autoptr (pd_ticket_t) t = NULL;
  g_assert_true (pd_store_ticket_get (store, ticket, &t, &err));
  g_assert_cmpint (t->message_count, ==, 1);
}

/* Stands in for pd_mime_content_hash on rows without a stored hash. */
static char *
hash_of_raw (const char *raw, gsize len)
{
  return g_strdup_printf ("raw:%.*s", (int) len, raw);
}

/* Senders choose their Message-IDs: the same id with other content is
 * other mail, stored beside the first; the same id with the same content
 * is the one thing the database refuses. */
static void
test_message_reused_id_is_other_mail_same_content_is_duplicate (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  gint64 t1 = make_ticket (store, "One", "ada@example.org", 100);
  gint64 t2 = make_ticket (store, "Two", "ada@example.org", 200);
  g_autoptr (pd_message_t) first = make_message ("same@example.org", "First");
  add_message (store, t1, first, 100);   /* content hash "fp-1" */

  g_autoptr (pd_message_t) second = make_message ("same@example.org", "Second");
  gint64 row = 0;
  GError *err = NULL;
  g_assert_true (pd_store_message_add (store, t2, second, "customer", "fp-2", 0, NULL, &row, &err));
  g_assert_no_error (err);
  g_assert_cmpint (row, >, 0);

  gint64 dup = 99;
  g_assert_true (pd_store_find_duplicate (store, "same@example.org", "fp-2", hash_of_raw, &dup, &err));
  g_assert_cmpint (dup, ==, t2);
  g_assert_true (pd_store_find_duplicate (store, "same@example.org", "fp-1", hash_of_raw, &dup, &err));
  g_assert_cmpint (dup, ==, t1);
  g_assert_true (pd_store_find_duplicate (store, "same@example.org", "fp-3", hash_of_raw, &dup, &err));
  g_assert_cmpint (dup, ==, 0);

  /* A reused id never moves a thread: replies still find the first. */
  gint64 found = 0;
  g_assert_true (pd_store_find_message (store, "same@example.org", &found, &err));
  g_assert_cmpint (found, ==, t1);

  g_autoptr (pd_message_t) again = make_message ("same@example.org", "Second");
  row = 5;
  g_assert_false (pd_store_message_add (store, t2, again, "customer", "fp-2", 0, NULL, &row, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_REJECTED);
  g_assert_cmpint (row, ==, 0);
  g_clear_error (&err);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM messages"), ==, 2);
  g_assert_false (pd_store_in_transaction (store));
}

/* Rows stored before content hashes existed are compared by their raw bytes. */
static void
test_message_duplicate_of_row_without_hash_reads_raw_bytes (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  gint64 ticket = make_ticket (store, "Old", "ada@example.org", 100);
  gint64 raw_id = 0;
  GError *err = NULL;
  g_assert_true (pd_store_raw_put (store, "old bytes", 9, NULL, &raw_id, &err));
  g_autoptr (pd_message_t) m = make_message ("old@example.org", "Old");
  gint64 row;
  g_assert_true (pd_store_message_add (store, ticket, m, "customer", NULL, raw_id, NULL, &row, &err));

  gint64 dup = 0;
  g_assert_true (pd_store_find_duplicate (store, "old@example.org", "raw:old bytes", hash_of_raw, &dup, &err));
  g_assert_no_error (err);
  g_assert_cmpint (dup, ==, ticket);
  g_assert_true (pd_store_find_duplicate (store, "old@example.org", "raw:new bytes", hash_of_raw, &dup, &err));
  g_assert_cmpint (dup, ==, 0);
}

/* A message finds the ticket of a reply that was stored before it. */
static void
test_message_find_referencing (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  gint64 ticket = make_ticket (store, "Reply first", "ada@example.org", 100);
  g_autoptr (pd_message_t) reply = make_message ("reply@example.org", "Re: Original");
  reply->in_reply_to = g_strdup ("parent@example.org");
  g_ptr_array_add (reply->references, g_strdup ("root@example.org"));
  g_ptr_array_add (reply->references, g_strdup ("parent@example.org"));
  add_message (store, ticket, reply, 100);

  GError *err = NULL;
  gint64 found = 0;
  g_assert_true (pd_store_find_referencing (store, "parent@example.org", &found, &err));
  g_assert_cmpint (found, ==, ticket);
  g_assert_true (pd_store_find_referencing (store, "root@example.org", &found, &err));
  g_assert_cmpint (found, ==, ticket);
  g_assert_true (pd_store_find_referencing (store, "stranger@example.org", &found, &err));
  g_assert_no_error (err);
  g_assert_cmpint (found, ==, 0);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM message_refs"), ==, 2);
}

static void
test_message_attachments_round_trip_in_order (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  gint64 ticket = make_ticket (store, "Files", "ada@example.org", 100);
  g_autoptr (pd_message_t) m = make_message ("files@example.org", "Files");
  const char *names[] = { "zeta.pdf", "alpha.png", "middle.txt" };
  const char *types[] = { "application/pdf", "image/png", "text/plain" };
  for (guint i = 0; i < 3; i++)
    {
      pd_attachment_t *a = g_new0 (pd_attachment_t, 1);
      a->filename = g_strdup (names[i]);
      a->mime_type = g_strdup (types[i]);
      a->size = 1000 * (i + 1);
      a->content = g_bytes_new_static ("never stored", 12);
      g_ptr_array_add (m->attachments, a);
    }
  add_message (store, ticket, m, 100);

  g_autoptr (GPtrArray) msgs = NULL;
  GError *err = NULL;
  g_assert_true (pd_store_ticket_messages (store, ticket, &msgs, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (msgs->len, ==, 1);
  pd_stored_message_t *sm = msgs->pdata[0];
  g_assert_cmpuint (sm->attachments->len, ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      pd_attachment_t *a = sm->attachments->pdata[i];
      g_assert_cmpstr (a->filename, ==, names[i]);
      g_assert_cmpstr (a->mime_type, ==, types[i]);
      g_assert_cmpuint (a->size, ==, 1000 * (i + 1));
      g_assert_null (a->content);
    }
}

static void
test_message_with_bad_attachment_leaves_nothing (void)
{
  /* Outside a transaction a message goes in whole or not at all. */
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  gint64 ticket = make_ticket (store, "Half", "ada@example.org", 100);
  g_autoptr (pd_message_t) m = make_message ("half@example.org", "Half");
  pd_attachment_t *good = g_new0 (pd_attachment_t, 1);
  good->filename = g_strdup ("good.txt");
  good->mime_type = g_strdup ("text/plain");
  g_ptr_array_add (m->attachments, good);
  /* No MIME type: refused by NOT NULL after the message row went in. */
  pd_attachment_t *bad = g_new0 (pd_attachment_t, 1);
  bad->filename = g_strdup ("bad.bin");
  g_ptr_array_add (m->attachments, bad);
  gint64 row = 0;
  GError *err = NULL;
  g_assert_false (pd_store_message_add (store, ticket, m, "customer", NULL, 0, NULL, &row, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_REJECTED);
  g_assert_nonnull (strstr (err->message, "bad.bin"));
  g_assert_nonnull (strstr (err->message, "NOT NULL constraint failed: attachments.mime_type"));
  g_clear_error (&err);
  g_assert_cmpint (row, ==, 0);
  g_assert_false (pd_store_in_transaction (store));
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM messages"), ==, 0);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM attachments"), ==, 0);
}

static void
test_message_fields_and_json_columns (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  gint64 ticket = make_ticket (store, "Fields", "ada@example.org", 100);
  g_autoptr (pd_message_t) m = make_message ("fields@example.org", "Fields");
  g_free (m->from->address);
  m->from->address = g_strdup ("Ada@Example.ORG");
  g_ptr_array_add (m->to, address_new ("Bob \"the\" Builder", "BOB@example.org"));
  g_ptr_array_add (m->cc, address_new ("Zoë", "zoe@example.org"));
  g_ptr_array_add (m->references, g_strdup ("root@example.org"));
  g_ptr_array_add (m->references, g_strdup ("quote\"back\\slash@example.org"));
  m->in_reply_to = g_strdup ("root@example.org");
  m->auto_reply = true;
  pd_arrival_t arrival = { .received_at = 500, .mailbox = "INBOX", .origin = "imap",
                           .uidvalidity = 7, .uid = 42 };
  gint64 row = 0;
  GError *err = NULL;
  g_assert_true (pd_store_message_add (store, ticket, m, "auto-reply", "fp", 0, &arrival, &row, &err));
  g_assert_no_error (err);

  sqlite3 *db = raw_db (path);
  g_autofree char *to = query_text (db, "SELECT to_json FROM messages");
  g_assert_cmpstr (to, ==, "[{\"address\":\"support@postdesk.test\"},"
                           "{\"name\":\"Bob \\\"the\\\" Builder\",\"address\":\"bob@example.org\"}]");
  g_autofree char *cc = query_text (db, "SELECT cc_json->'$[0].name' FROM messages");
  g_assert_cmpstr (cc, ==, "\"Zoë\"");
  g_autofree char *ref = query_text (db, "SELECT references_json->>'$[1]' FROM messages");
  g_assert_cmpstr (ref, ==, "quote\"back\\slash@example.org");
  g_assert_cmpint (query_int (db, "SELECT json_array_length(references_json) FROM messages"), ==, 2);
  g_autofree char *from = query_text (db, "SELECT from_address FROM messages");
  g_assert_cmpstr (from, ==, "ada@example.org");
  g_assert_cmpint (query_int (db, "SELECT auto_reply * 100 + bulk * 10 + bounce FROM messages"), ==, 100);
  g_assert_cmpint (query_int (db, "SELECT imap_uidvalidity * 1000 + imap_uid FROM messages"), ==, 7042);
  g_assert_cmpint (query_int (db, "SELECT date FROM messages"), ==, 1767225600);
  g_assert_cmpint (query_int (db, "SELECT raw_id IS NULL FROM messages"), ==, 1);
  sqlite3_close (db);

  /* A message from a file: no IMAP fields, stored as NULL rather than 0. */
  g_autoptr (pd_message_t) f = make_message ("file@example.org", "File");
  pd_arrival_t from_file = { .received_at = 600, .origin = "/tmp/mail.eml" };
  g_assert_true (pd_store_message_add (store, ticket, f, "customer", NULL, 0, &from_file, &row, &err));
  db = raw_db (path);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM messages WHERE message_id = 'file@example.org'"
                                  " AND mailbox IS NULL AND imap_uid IS NULL AND imap_uidvalidity IS NULL"
                                  " AND content_sha256 IS NULL AND origin = '/tmp/mail.eml'"), ==, 1);
  sqlite3_close (db);
}

static void
test_ticket_messages_in_arrival_order (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  gint64 ticket = make_ticket (store, "Order", "ada@example.org", 100);
  gint64 other = make_ticket (store, "Other", "bob@example.org", 100);
  /* Added out of arrival order; two share a time and keep insertion order. */
  const char *ids[] = { "late@x", "early@x", "tie-a@x", "tie-b@x" };
  pd_time_t times[] = { 300, 100, 200, 200 };
  for (guint i = 0; i < 4; i++)
    {
      g_autoptr (pd_message_t) m = make_message (ids[i], "Order");
      add_message (store, ticket, m, times[i]);
    }
  g_autoptr (pd_message_t) elsewhere = make_message ("elsewhere@x", "Other");
  add_message (store, other, elsewhere, 150);

  /* An outbound acknowledgement, as the outbox will write it. */
  sqlite3 *db = raw_db (path);
  g_assert_cmpint (sqlite3_exec (db,
      "INSERT INTO messages (ticket_id, message_id, direction, kind, from_address, subject,"
      " received_at, body_text) VALUES (1, 'ack@postdesk', 'out', 'ack', 'support@postdesk.test',"
      " 'Re: Order', 150, 'We got it')", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  g_autoptr (GPtrArray) msgs = NULL;
  GError *err = NULL;
  g_assert_true (pd_store_ticket_messages (store, ticket, &msgs, &err));
  g_assert_no_error (err);
  const char *expected[] = { "early@x", "ack@postdesk", "tie-a@x", "tie-b@x", "late@x" };
  g_assert_cmpuint (msgs->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < msgs->len; i++)
    g_assert_cmpstr (((pd_stored_message_t *) msgs->pdata[i])->message_id, ==, expected[i]);

  pd_stored_message_t *ack = msgs->pdata[1];
  g_assert_cmpstr (ack->direction, ==, "out");
  g_assert_cmpstr (ack->kind, ==, "ack");
  g_assert_null (ack->from.name);
  g_assert_cmpstr (ack->from.address, ==, "support@postdesk.test");
  pd_stored_message_t *early = msgs->pdata[0];
  g_assert_cmpstr (early->direction, ==, "in");
  g_assert_cmpstr (early->kind, ==, "customer");
  g_assert_cmpstr (early->from.name, ==, "Ada Lovelace");
  g_assert_cmpstr (early->body_text, ==, "The engine stopped.");
  g_assert_cmpint (early->received_at, ==, 100);
  g_assert_cmpint (early->ticket_id, ==, ticket);
  g_assert_cmpuint (early->attachments->len, ==, 0);

  /* The outbound message threads: its Message-ID finds the ticket. */
  gint64 found = 0;
  g_assert_true (pd_store_find_message (store, "ack@postdesk", &found, &err));
  g_assert_cmpint (found, ==, ticket);
}

/* ---- participants and events -------------------------------------------------------------- */

static void
test_participant_add_twice_is_one_row (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  gint64 ticket = make_ticket (store, "P", "ada@example.org", 1);
  GError *err = NULL;
  g_assert_true (pd_store_participant_add (store, ticket, "ada@example.org", "Ada", "requester", &err));
  g_assert_true (pd_store_participant_add (store, ticket, "ADA@example.org", "Other Name", "customer", &err));
  g_assert_no_error (err);
  sqlite3 *db = raw_db (path);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM participants"), ==, 1);
  g_autofree char *role = query_text (db, "SELECT role || ' ' || name || ' ' || address FROM participants");
  g_assert_cmpstr (role, ==, "requester Ada ada@example.org");
  sqlite3_close (db);

  g_assert_false (pd_store_participant_add (store, ticket, "x@example.org", NULL, "boss", &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_REJECTED);
  g_clear_error (&err);
}

static void
test_participant_lookup_is_case_insensitive (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  gint64 ticket = make_ticket (store, "P", "ada@example.org", 1);
  gint64 other = make_ticket (store, "Q", "ada@example.org", 1);
  GError *err = NULL;
  g_assert_true (pd_store_participant_add (store, ticket, "Bob@Example.org", "Bob", "customer", &err));
  bool is = false;
  g_assert_true (pd_store_is_participant (store, ticket, "bob@example.org", &is, &err));
  g_assert_true (is);
  g_assert_true (pd_store_is_participant (store, ticket, "BOB@EXAMPLE.ORG", &is, &err));
  g_assert_true (is);
  g_assert_true (pd_store_is_participant (store, other, "bob@example.org", &is, &err));
  g_assert_false (is);
  g_assert_true (pd_store_is_participant (store, ticket, "carol@example.org", &is, &err));
  g_assert_false (is);
  g_assert_no_error (err);
}

static void
test_event_bumps_updated_at (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  gint64 ticket = make_ticket (store, "E", "ada@example.org", 1000);
  GError *err = NULL;
  g_assert_true (pd_store_event_add (store, ticket, 1000, "postdesk", "opened", NULL, &err));
  g_assert_true (pd_store_event_add (store, ticket, 2000, "ada@example.org", "message",
                                     "{\"message_id\":\"m@x\"}", &err));
  g_assert_no_error (err);
  g_autoptr (pd_ticket_t) t = NULL;
  g_assert_true (pd_store_ticket_get (store, ticket, &t, &err));
  g_assert_cmpint (t->updated_at, ==, 2000);

  /* An event recorded late never moves updated_at back. */
  g_assert_true (pd_store_event_add (store, ticket, 1500, "postdesk", "severity", NULL, &err));
  g_autoptr (pd_ticket_t) t2 = NULL;
  g_assert_true (pd_store_ticket_get (store, ticket, &t2, &err));
  g_assert_cmpint (t2->updated_at, ==, 2000);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM events"), ==, 3);

  /* Details must be JSON; events need an existing ticket. */
  g_assert_false (pd_store_event_add (store, ticket, 3000, "postdesk", "status", "not json", &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_REJECTED);
  g_clear_error (&err);
  g_assert_false (pd_store_event_add (store, ticket, 3000, "postdesk", "status", "[1]", &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_REJECTED);
  g_clear_error (&err);
  g_assert_false (pd_store_event_add (store, 999, 3000, "postdesk", "status", NULL, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_REJECTED);
  g_assert_nonnull (strstr (err->message, "ticket 999"));
  g_clear_error (&err);
}

static void
test_events_are_append_only (void)
{
  g_autofree char *path = fresh_db_path ();
  {
    g_autoptr (pd_store_t) store = open_store (path);
    gint64 ticket = make_ticket (store, "E", "ada@example.org", 1000);
    GError *err = NULL;
    g_assert_true (pd_store_event_add (store, ticket, 1000, "postdesk", "opened", NULL, &err));
  }
  sqlite3 *db = raw_db (path);
  g_assert_cmpint (sqlite3_exec (db, "UPDATE events SET type = 'x'", NULL, NULL, NULL), ==,
                   SQLITE_CONSTRAINT_TRIGGER);
  g_assert_cmpstr (sqlite3_errmsg (db), ==, "events are append-only");
  g_assert_cmpint (sqlite3_exec (db, "DELETE FROM events", NULL, NULL, NULL), ==,
                   SQLITE_CONSTRAINT_TRIGGER);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM events"), ==, 1);
  sqlite3_close (db);
}

/* ---- raw bytes ------------------------------------------------------------------------------- */

static void
test_raw_put_dedupes_identical_bytes_only (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  const char a[] = "From: a@example.org\r\n\r\nhello\r\n";
  const char b[] = "From: a@example.org\r\n\r\nhello!\r\n";
  gint64 id1 = 0, id2 = 0, id3 = 0;
  GError *err = NULL;
  g_assert_true (pd_store_raw_put (store, a, strlen (a), NULL, &id1, &err));
  g_assert_true (pd_store_raw_put (store, a, strlen (a), NULL, &id2, &err));
  g_assert_true (pd_store_raw_put (store, b, strlen (b), NULL, &id3, &err));
  g_assert_no_error (err);
  g_assert_cmpint (id1, >, 0);
  g_assert_cmpint (id1, ==, id2);
  g_assert_cmpint (id3, !=, id1);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM raw_messages"), ==, 2);

  g_autoptr (GBytes) back = NULL;
  g_assert_true (pd_store_raw_get (store, id3, &back, &err));
  gsize len = 0;
  const char *data = g_bytes_get_data (back, &len);
  g_assert_cmpmem (data, len, b, strlen (b));

  /* Empty bytes are a valid (if useless) raw message. */
  gint64 empty = 0;
  g_assert_true (pd_store_raw_put (store, "", 0, NULL, &empty, &err));
  g_autoptr (GBytes) nothing = NULL;
  g_assert_true (pd_store_raw_get (store, empty, &nothing, &err));
  g_assert_cmpuint (g_bytes_get_size (nothing), ==, 0);

  GBytes *missing = (GBytes *) 0x1;
  g_assert_false (pd_store_raw_get (store, 12345, &missing, &err));
  g_assert_null (missing);
  g_assert_error (err, PD_ERROR, PD_ERROR_NOT_FOUND);
  g_clear_error (&err);

  sqlite3 *db = raw_db (path);
  g_autofree char *sha = pd_sha256_hex (a, strlen (a));
  g_autofree char *stored = query_text (db, "SELECT sha256 FROM raw_messages WHERE id = 1");
  g_assert_cmpstr (stored, ==, sha);
  sqlite3_close (db);
}

/* ---- quarantine --------------------------------------------------------------------------------- */

static void
test_quarantine_add_list_get_release (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  const char raw1[] = "garbage one";
  const char raw2[] = "garbage two";
  pd_arrival_t arrival = { .received_at = 777, .mailbox = "INBOX", .origin = "imap:INBOX/5" };
  gint64 q1 = 0, q2 = 0;
  bool was_new = false;
  GError *err = NULL;
  g_assert_true (pd_store_quarantine_add (store, raw1, strlen (raw1), "no sender", NULL, &arrival,
                                          &q1, &was_new, &err));
  g_assert_no_error (err);
  g_assert_true (was_new);
  g_assert_true (pd_store_quarantine_add (store, raw2, strlen (raw2), "header too big", NULL, NULL,
                                          &q2, &was_new, &err));
  g_assert_true (was_new);
  g_assert_cmpint (q2, >, q1);
  g_assert_false (pd_store_in_transaction (store));

  g_autoptr (GPtrArray) held = NULL;
  g_assert_true (pd_store_quarantine_list (store, false, &held, &err));
  g_assert_cmpuint (held->len, ==, 2);
  pd_quarantine_item_t *first = held->pdata[0];
  g_assert_cmpint (first->id, ==, q1);
  g_assert_cmpstr (first->reason, ==, "no sender");
  g_assert_cmpint (first->received_at, ==, 777);
  g_assert_cmpint (first->size, ==, (gint64) strlen (raw1));
  g_assert_cmpstr (first->mailbox, ==, "INBOX");
  g_assert_cmpstr (first->origin, ==, "imap:INBOX/5");
  g_assert_cmpstr (first->status, ==, "held");
  g_assert_cmpint (first->ticket_id, ==, 0);
  g_assert_null (((pd_quarantine_item_t *) held->pdata[1])->mailbox);

  g_autoptr (pd_quarantine_item_t) item = NULL;
  g_autoptr (GBytes) raw = NULL;
  g_assert_true (pd_store_quarantine_get (store, q2, &item, &raw, &err));
  g_assert_cmpstr (item->reason, ==, "header too big");
  g_assert_cmpmem (g_bytes_get_data (raw, NULL), g_bytes_get_size (raw), raw2, strlen (raw2));

  g_assert_true (pd_store_quarantine_set_reason (store, q2, "still too big", &err));
  gint64 ticket = make_ticket (store, "Released", "ada@example.org", 800);
  g_assert_true (pd_store_quarantine_release (store, q1, ticket, &err));
  g_assert_no_error (err);

  g_autoptr (GPtrArray) still = NULL;
  g_assert_true (pd_store_quarantine_list (store, false, &still, &err));
  g_assert_cmpuint (still->len, ==, 1);
  g_assert_cmpint (((pd_quarantine_item_t *) still->pdata[0])->id, ==, q2);
  g_assert_cmpstr (((pd_quarantine_item_t *) still->pdata[0])->reason, ==, "still too big");

  g_autoptr (GPtrArray) all = NULL;
  g_assert_true (pd_store_quarantine_list (store, true, &all, &err));
  g_assert_cmpuint (all->len, ==, 2);
  pd_quarantine_item_t *released = all->pdata[0];
  g_assert_cmpint (released->id, ==, q1);
  g_assert_cmpstr (released->status, ==, "released");
  g_assert_cmpint (released->ticket_id, ==, ticket);
}

static void
test_quarantine_missing_is_not_found (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  pd_quarantine_item_t *item = (pd_quarantine_item_t *) 0x1;
  GBytes *raw = (GBytes *) 0x1;
  GError *err = NULL;
  g_assert_false (pd_store_quarantine_get (store, 3, &item, &raw, &err));
  g_assert_null (item);
  g_assert_null (raw);
  g_assert_error (err, PD_ERROR, PD_ERROR_NOT_FOUND);
  g_assert_cmpstr (err->message, ==, "no quarantine entry 3");
  g_clear_error (&err);
  g_assert_false (pd_store_quarantine_release (store, 3, 1, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_NOT_FOUND);
  g_clear_error (&err);
  g_assert_false (pd_store_quarantine_set_reason (store, 3, "why", &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_NOT_FOUND);
  g_clear_error (&err);
}

static void
test_quarantine_same_bytes_while_held_reuse_entry (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  const char raw[] = "the same broken bytes";
  gint64 id1 = 0, id2 = 0, id3 = 0;
  bool was_new = false;
  GError *err = NULL;
  g_assert_true (pd_store_quarantine_add (store, raw, strlen (raw), "first reason", NULL, NULL,
                                          &id1, &was_new, &err));
  g_assert_true (was_new);

  /* Inside a caller's transaction too, and it stays open afterwards. */
  g_assert_true (pd_store_begin (store, &err));
  g_assert_true (pd_store_quarantine_add (store, raw, strlen (raw), "second reason", NULL, NULL,
                                          &id2, &was_new, &err));
  g_assert_true (pd_store_in_transaction (store));
  g_assert_true (pd_store_commit (store, &err));
  g_assert_no_error (err);
  g_assert_false (was_new);
  g_assert_cmpint (id2, ==, id1);

  g_autoptr (pd_quarantine_item_t) item = NULL;
  g_assert_true (pd_store_quarantine_get (store, id1, &item, NULL, &err));
  g_assert_cmpstr (item->reason, ==, "second reason");
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM quarantine"), ==, 1);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM raw_messages"), ==, 1);

  /* Once released, the same bytes failing again are a new entry. */
  gint64 ticket = make_ticket (store, "T", "ada@example.org", 1);
  g_assert_true (pd_store_quarantine_release (store, id1, ticket, &err));
  g_assert_true (pd_store_quarantine_add (store, raw, strlen (raw), "third reason", NULL, NULL,
                                          &id3, &was_new, &err));
  g_assert_true (was_new);
  g_assert_cmpint (id3, !=, id1);
}

/* ---- mailbox state --------------------------------------------------------------------------------- */

static void
test_mailbox_state_set_get_upsert (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  gint64 validity = 9, last = 9;
  GError *err = NULL;
  g_assert_true (pd_store_mailbox_state_get (store, "INBOX", &validity, &last, &err));
  g_assert_cmpint (validity, ==, 0);
  g_assert_cmpint (last, ==, 0);

  g_assert_true (pd_store_mailbox_state_set (store, "INBOX", 1700000000, 10, &err));
  g_assert_true (pd_store_mailbox_state_set (store, "Support", 5, 3, &err));
  g_assert_true (pd_store_mailbox_state_set (store, "INBOX", 1700000000, 25, &err));
  g_assert_no_error (err);
  g_assert_true (pd_store_mailbox_state_get (store, "INBOX", &validity, &last, &err));
  g_assert_cmpint (validity, ==, 1700000000);
  g_assert_cmpint (last, ==, 25);
  g_assert_true (pd_store_mailbox_state_get (store, "Support", &validity, &last, &err));
  g_assert_cmpint (validity, ==, 5);
  g_assert_cmpint (last, ==, 3);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM mailbox_state"), ==, 2);
}

/* ---- transactions ----------------------------------------------------------------------------------- */

/* One message's worth of ingest, as the batch loop does it. */
static bool
ingest_one (pd_store_t *store, const char *message_id, pd_time_t at, GError **err)
{
  g_autoptr (pd_message_t) m = make_message (message_id, "Batch");
  gint64 raw_id = 0, ticket = 0, row = 0;
  g_autofree char *raw = g_strdup_printf ("Message-ID: <%s>\r\n\r\nbody\r\n", message_id);
  pd_ticket_new_t nt = { .subject = "Batch", .requester_address = "ada@example.org",
                         .severity = 2, .created_at = at };
  pd_arrival_t arrival = { .received_at = at, .origin = "batch" };
  return pd_store_raw_put (store, raw, strlen (raw), NULL, &raw_id, err)
         && pd_store_ticket_create (store, &nt, &ticket, err)
         && pd_store_message_add (store, ticket, m, "customer", "fp", raw_id, &arrival, &row, err)
         && pd_store_participant_add (store, ticket, "ada@example.org", NULL, "requester", err)
         && pd_store_event_add (store, ticket, at, "postdesk", "opened", NULL, err);
}

static void
test_savepoint_rollback_undoes_one_message_only (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  GError *err = NULL;
  g_assert_true (pd_store_begin (store, &err));
  g_assert_true (pd_store_in_transaction (store));
  const char *ids[] = { "one@x", "two@x", "one@x", "three@x" };
  int failed = 0;
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_assert_true (pd_store_savepoint (store, &err));
      if (ingest_one (store, ids[i], 100 + i, &err))
        g_assert_true (pd_store_release (store, &err));
      else
        {
          /* The duplicate fails after its raw bytes and ticket went in. */
          g_assert_error (err, PD_ERROR, PD_ERROR_REJECTED);
          g_clear_error (&err);
          pd_store_rollback_savepoint (store);
          failed++;
        }
      g_assert_true (pd_store_in_transaction (store));
    }
  g_assert_true (pd_store_commit (store, &err));
  g_assert_no_error (err);
  g_assert_false (pd_store_in_transaction (store));
  g_assert_cmpint (failed, ==, 1);

  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM messages"), ==, 3);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM tickets"), ==, 3);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM events"), ==, 3);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM raw_messages"), ==, 3);
  gint64 ticket = 0;
  g_assert_true (pd_store_find_message (store, "three@x", &ticket, &err));
  g_assert_cmpint (ticket, ==, 3);
}

static void
test_rolled_back_transaction_leaves_nothing (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  GError *err = NULL;
  g_assert_true (pd_store_begin (store, &err));
  g_assert_true (ingest_one (store, "gone-1@x", 1, &err));
  g_assert_true (ingest_one (store, "gone-2@x", 2, &err));
  g_assert_true (pd_store_quarantine_add (store, "q", 1, "r", NULL, NULL, &(gint64){ 0 }, &(bool){ 0 }, &err));
  g_assert_true (pd_store_mailbox_state_set (store, "INBOX", 1, 2, &err));
  pd_store_rollback (store);
  g_assert_false (pd_store_in_transaction (store));

  const char *tables[] = { "tickets", "messages", "raw_messages", "participants", "events",
                           "quarantine", "mailbox_state", "attachments" };
  sqlite3 *db = raw_db (path);
  for (guint i = 0; i < G_N_ELEMENTS (tables); i++)
    {
      g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM %s", tables[i]);
      g_test_message ("table %s", tables[i]);
      g_assert_cmpint (query_int (db, sql), ==, 0);
    }
  sqlite3_close (db);

  /* Outside a transaction rollback does nothing and savepoints are refused. */
  pd_store_rollback (store);
  pd_store_rollback_savepoint (store);
  g_assert_false (pd_store_savepoint (store, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_DB);
  g_clear_error (&err);
  g_assert_false (pd_store_in_transaction (store));
}

/* ---- working the quarantine: delete, purge, release by Message-ID, journal ------------------- */

/* Quarantines 'raw' with 'reason' and 'message_id'; returns the entry's id. */
static gint64
hold (pd_store_t *store, const char *raw, const char *reason, const char *message_id)
{
  gint64 id = 0;
  bool was_new = false;
  GError *err = NULL;
  g_assert_true (pd_store_quarantine_add (store, raw, strlen (raw), reason, message_id, NULL, &id, &was_new, &err));
  g_assert_no_error (err);
  g_assert_true (was_new);
  return id;
}

static void
test_quarantine_delete_keeps_shared_raw_bytes (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  GError *err = NULL;
  /* A stored message and an entry holding the very same bytes share one row. */
  g_assert_true (ingest_one (store, "shared@x", 10, &err));
  gint64 shared = hold (store, "Message-ID: <shared@x>\r\n\r\nbody\r\n", "refused", NULL);
  gint64 own = hold (store, "root:x:0:0::/root:/bin/bash\n", "not an RFC 5322 message", NULL);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM raw_messages"), ==, 2);

  g_assert_true (pd_store_quarantine_delete (store, shared, "ada", "quarantine-delete", &err));
  g_assert_no_error (err);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM raw_messages"), ==, 2);
  g_assert_true (pd_store_quarantine_delete (store, own, "ada", "quarantine-delete", &err));
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM raw_messages"), ==, 1);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM raw_messages WHERE CAST(bytes AS TEXT) LIKE 'root:%'"), ==, 0);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM quarantine"), ==, 0);

  sqlite3 *db = raw_db (path);
  g_autofree char *row = query_text (db, "SELECT actor || ' ' || action || ' ' || detail FROM journal ORDER BY id DESC LIMIT 1");
  g_autofree char *want = g_strdup_printf ("ada quarantine-delete {\"id\":%" G_GINT64_FORMAT
                                           ",\"reason\":\"not an RFC 5322 message\",\"origin\":null,\"size\":28}",
                                           own);
  g_assert_cmpstr (row, ==, want);
  sqlite3_close (db);

  g_assert_false (pd_store_quarantine_delete (store, own, "ada", "quarantine-delete", &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_NOT_FOUND);
  g_clear_error (&err);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM journal"), ==, 2);
}

static void
test_quarantine_delete_keeps_bytes_of_another_entry (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  GError *err = NULL;
  const char *raw = "no sender here\n\nbody\n";
  gint64 first = hold (store, raw, "no sender", NULL);
  gint64 ticket = make_ticket (store, "T", "ada@example.org", 1);
  g_assert_true (pd_store_quarantine_release (store, first, ticket, &err));
  gint64 second = hold (store, raw, "no sender again", NULL);
  g_assert_cmpint (second, !=, first);
  g_assert_true (pd_store_quarantine_delete (store, first, "ada", "quarantine-delete", &err));
  g_autoptr (GBytes) bytes = NULL;
  g_assert_true (pd_store_quarantine_get (store, second, NULL, &bytes, &err));
  g_assert_no_error (err);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), raw, strlen (raw));
}

static void
test_quarantine_purge_by_age (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  GError *err = NULL;
  gint64 old = hold (store, "old", "r", NULL);
  gint64 older = hold (store, "older", "r", NULL);
  gint64 young = hold (store, "young", "r", NULL);
  sqlite3 *db = raw_db (path);
  g_autofree char *sql = g_strdup_printf ("UPDATE quarantine SET created_at = 1000 WHERE id = %" G_GINT64_FORMAT ";"
                                          "UPDATE quarantine SET created_at = 500 WHERE id = %" G_GINT64_FORMAT ";"
                                          "UPDATE quarantine SET created_at = 2000 WHERE id = %" G_GINT64_FORMAT,
                                          old, older, young);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  guint removed = 99;
  g_assert_true (pd_store_quarantine_purge (store, 1500, "bob", &removed, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (removed, ==, 2);
  g_autoptr (GPtrArray) left = NULL;
  g_assert_true (pd_store_quarantine_list (store, true, &left, &err));
  g_assert_cmpuint (left->len, ==, 1);
  g_assert_cmpint (((pd_quarantine_item_t *) left->pdata[0])->id, ==, young);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM raw_messages"), ==, 1);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM journal WHERE actor = 'bob' AND action = 'quarantine-purge'"), ==, 2);

  g_assert_true (pd_store_quarantine_purge (store, 1500, "bob", &removed, &err));
  g_assert_cmpuint (removed, ==, 0);
}

/* Accepts held bytes that are 'data' exactly. */
static bool
bytes_equal (const void *held, gsize len, gpointer data)
{
  return strlen (data) == len && memcmp (held, data, len) == 0;
}

static void
test_quarantine_release_by_message_id (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  GError *err = NULL;
  gint64 mine = hold (store, "no sender 1", "no sender", "mine@x");
  gint64 other = hold (store, "no sender 2", "no sender", "other@x");
  gint64 unknown = hold (store, "no sender 3", "no sender", NULL);
  gint64 ticket = make_ticket (store, "T", "ada@example.org", 1);

  guint released = 99;
  /* The Message-ID alone is not enough: the bytes must be the mail's. */
  g_assert_true (pd_store_quarantine_release_message (store, "mine@x", ticket, bytes_equal,
                                                      "someone else's mail", &released, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (released, ==, 0);
  g_assert_true (pd_store_quarantine_release_message (store, "mine@x", ticket, bytes_equal,
                                                      "no sender 1", &released, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (released, ==, 1);
  g_autoptr (pd_quarantine_item_t) item = NULL;
  g_assert_true (pd_store_quarantine_get (store, mine, &item, NULL, &err));
  g_assert_cmpstr (item->status, ==, "released");
  g_assert_cmpint (item->ticket_id, ==, ticket);
  g_assert_cmpstr (item->message_id, ==, "mine@x");

  /* Released once; an entry without a Message-ID is never matched. */
  g_assert_true (pd_store_quarantine_release_message (store, "mine@x", ticket, bytes_equal,
                                                      "no sender 1", &released, &err));
  g_assert_cmpuint (released, ==, 0);
  g_assert_true (pd_store_quarantine_release_message (store, NULL, ticket, bytes_equal,
                                                      "no sender 3", &released, &err));
  g_assert_cmpuint (released, ==, 0);
  g_autoptr (GPtrArray) held = NULL;
  g_assert_true (pd_store_quarantine_list (store, false, &held, &err));
  g_assert_cmpuint (held->len, ==, 2);
  g_assert_cmpint (((pd_quarantine_item_t *) held->pdata[0])->id, ==, other);
  g_assert_cmpint (((pd_quarantine_item_t *) held->pdata[1])->id, ==, unknown);
  g_assert_null (((pd_quarantine_item_t *) held->pdata[1])->message_id);

  /* The same bytes held again learn the Message-ID they lacked. */
  gint64 again = 0;
  bool was_new = true;
  g_assert_true (pd_store_quarantine_add (store, "no sender 3", 11, "no sender", "late@x", NULL, &again, &was_new, &err));
  g_assert_false (was_new);
  g_autoptr (pd_quarantine_item_t) late = NULL;
  g_assert_true (pd_store_quarantine_get (store, unknown, &late, NULL, &err));
  g_assert_cmpstr (late->message_id, ==, "late@x");
}

static void
test_quarantine_link_keeps_entry_held (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  GError *err = NULL;
  gint64 id = hold (store, "From: a@x\n\nfirst bytes of something huge", "too big", "huge@x");
  gint64 ticket = make_ticket (store, "Huge", "a@x", 1);
  g_assert_true (pd_store_quarantine_link (store, id, ticket, &err));
  g_assert_no_error (err);
  g_autoptr (pd_quarantine_item_t) item = NULL;
  g_assert_true (pd_store_quarantine_get (store, id, &item, NULL, &err));
  g_assert_cmpstr (item->status, ==, "held");
  g_assert_cmpint (item->ticket_id, ==, ticket);
  g_assert_false (pd_store_quarantine_link (store, id + 1, ticket, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_NOT_FOUND);
  g_clear_error (&err);
}

static void
test_quarantine_journal_detail_is_strict_json (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  GError *err = NULL;
  /* A reason and an origin can hold any character, U+001F included, which
   * json-glib would write raw. */
  gint64 id = 0;
  bool was_new = false;
  pd_arrival_t arrival = { .received_at = 5, .origin = "/mail/odd\x1f\nname" };
  g_assert_true (pd_store_quarantine_add (store, "x", 1, "bad \x1f header", NULL, &arrival, &id, &was_new, &err));
  const char *extra[] = { "file", "/tmp/fixed\x1f.eml", NULL };
  g_assert_true (pd_store_quarantine_journal (store, id, "ada", "quarantine-retry", 42, extra, &err));
  g_assert_no_error (err);
  sqlite3 *db = raw_db (path);
  g_autofree char *detail = query_text (db, "SELECT detail FROM journal");
  g_assert_cmpstr (detail, ==, "{\"id\":1,\"reason\":\"bad \\u001f header\",\"origin\":\"/mail/odd\\u001f\\nname\","
                               "\"size\":1,\"ticket\":42,\"file\":\"/tmp/fixed\\u001f.eml\"}");
  sqlite3_close (db);
  g_assert_false (pd_store_quarantine_journal (store, id + 1, "ada", "quarantine-retry", 0, NULL, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_NOT_FOUND);
  g_clear_error (&err);
}

static void
test_quarantine_imap_origin (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  GError *err = NULL;
  pd_arrival_t arrival = { .received_at = 5, .mailbox = "INBOX", .uidvalidity = 9, .uid = 41 };
  gint64 id = 0;
  bool was_new = false;
  g_assert_true (pd_store_quarantine_add (store, "x", 1, "r", NULL, &arrival, &id, &was_new, &err));
  g_autoptr (pd_quarantine_item_t) item = NULL;
  g_assert_true (pd_store_quarantine_get (store, id, &item, NULL, &err));
  g_assert_cmpstr (item->origin, ==, "INBOX UID 41 (UIDVALIDITY 9)");
}

static void
test_two_handles_write_in_turn (void)
{
  /* Ingest and the command line each hold their own handle on one file:
   * each sees what the other committed. */
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) a = open_store (path);
  g_autoptr (pd_store_t) b = open_store (path);
  GError *err = NULL;
  g_assert_true (pd_store_begin (a, &err));
  make_ticket (a, "A", "a@example.org", 1);
  g_assert_true (pd_store_commit (a, &err));
  g_assert_true (pd_store_begin (b, &err));
  make_ticket (b, "B", "b@example.org", 2);
  g_assert_true (pd_store_commit (b, &err));
  g_assert_no_error (err);
  g_autoptr (GPtrArray) list = NULL;
  g_assert_true (pd_store_tickets_list (a, NULL, &list, &err));
  g_assert_cmpuint (list->len, ==, 2);
}

/* ---- schema --------------------------------------------------------------------------------------------- */

static void
test_strict_tables_reject_wrong_types (void)
{
  g_autofree char *path = fresh_db_path ();
  {
    g_autoptr (pd_store_t) store = open_store (path);
    make_ticket (store, "T", "ada@example.org", 1);
  }
  sqlite3 *db = raw_db (path);
  g_assert_cmpint (sqlite3_exec (db, "UPDATE tickets SET created_at = 'yesterday'", NULL, NULL, NULL),
                   ==, SQLITE_CONSTRAINT_DATATYPE);
  g_assert_cmpint (sqlite3_exec (db, "INSERT INTO mailbox_state VALUES ('INBOX', 'x', 1, 1)",
                                 NULL, NULL, NULL), ==, SQLITE_CONSTRAINT_DATATYPE);
  g_assert_cmpint (sqlite3_exec (db, "UPDATE tickets SET status = 'lost'", NULL, NULL, NULL),
                   ==, SQLITE_CONSTRAINT_CHECK);
  g_assert_cmpint (sqlite3_exec (db, "UPDATE tickets SET requester_address = 'Ada@Example.org'",
                                 NULL, NULL, NULL), ==, SQLITE_CONSTRAINT_CHECK);
  g_assert_cmpint (sqlite3_exec (db, "UPDATE tickets SET tags = 'not json'", NULL, NULL, NULL),
                   ==, SQLITE_CONSTRAINT_CHECK);
  g_assert_cmpint (query_int (db, "SELECT created_at FROM tickets"), ==, 1);
  sqlite3_close (db);
}

/* An acknowledgement is queued as one outgoing message: its row in
 * messages (so a reply threads to it), its outbox row, and an ack_log row
 * per recipient that the rate limits count. */
static void
test_outbox_add_queues_message_and_logs_ack (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  gint64 ticket = make_ticket (store, "Help", "ada@example.org", 1);
  const char *to[] = { "Ada@Example.org", NULL };
  const char *refs[] = { "q1@example.org", NULL };
  g_autoptr (GBytes) raw = g_bytes_new_static ("Subject: x\r\n\r\nhello\r\n", 22);
  pd_outbox_new_t o = {
    .ticket_id = ticket, .kind = "ack", .from_name = "Example Support",
    .from_address = "support@example.com", .to = to, .subject = "[SUP-1] Help",
    .message_id = "ack-1@example.com", .in_reply_to = "q1@example.org", .references = refs,
    .body_text = "hello", .raw = raw, .created_at = 1000,
  };
  gint64 id = 0;
  GError *err = NULL;
  g_assert_true (pd_store_outbox_add (store, &o, &id, &err));
  g_assert_no_error (err);
  g_assert_cmpint (id, >, 0);

  gint64 found = 0;
  g_assert_true (pd_store_find_message (store, "ack-1@example.com", &found, &err));
  g_assert_cmpint (found, ==, ticket);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM messages WHERE direction = 'out' AND kind = 'ack'"
                                     " AND raw_id IS NOT NULL"), ==, 1);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM outbox o JOIN messages m ON m.id = o.message_row"
                                     " WHERE o.status = 'queued' AND o.next_attempt_at = 1000"
                                     " AND length(o.raw) = 22"), ==, 1);
  guint n = 99;
  g_assert_true (pd_store_acks_since (store, "ada@example.org", 999, &n, &err));
  g_assert_cmpuint (n, ==, 1);
  g_assert_true (pd_store_acks_since (store, "ada@example.org", 1000, &n, &err));
  g_assert_cmpuint (n, ==, 0);
  g_assert_true (pd_store_acks_since (store, "bob@example.org", 0, &n, &err));
  g_assert_cmpuint (n, ==, 0);
}

static void
test_outbox_list (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  gint64 ticket = make_ticket (store, "O", "ada@example.org", 1);
  g_assert_cmpint (ticket, ==, 1);
  /* The outbox writer comes later; rows are written directly here. */
  sqlite3 *db = raw_db (path);
  g_assert_cmpint (sqlite3_exec (db,
      "INSERT INTO outbox (ticket_id, kind, recipients, subject, message_id, body_text, created_at)"
      " VALUES (1, 'ack', '[\"ada@example.org\",\"bob@example.org\"]', 'Re: O', 'ack-1@postdesk',"
      " 'Thanks', 10);"
      "INSERT INTO outbox (ticket_id, kind, recipients, subject, message_id, in_reply_to,"
      " body_text, status, attempts, last_error, created_at)"
      " VALUES (1, 'relay', '[\"ada@example.org\"]', 'Re: O', 'relay-1@postdesk', 'm@x',"
      " 'Answer', 'failed', 3, '550 no such user', 20)", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  g_autoptr (GPtrArray) items = NULL;
  GError *err = NULL;
  g_assert_true (pd_store_outbox_list (store, &items, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (items->len, ==, 2);
  pd_outbox_item_t *ack = items->pdata[0];
  g_assert_cmpint (ack->ticket_id, ==, 1);
  g_assert_cmpstr (ack->kind, ==, "ack");
  g_assert_cmpuint (g_strv_length (ack->to), ==, 2);
  g_assert_cmpstr (ack->to[0], ==, "ada@example.org");
  g_assert_cmpstr (ack->to[1], ==, "bob@example.org");
  g_assert_cmpstr (ack->status, ==, "queued");
  g_assert_cmpint (ack->attempts, ==, 0);
  g_assert_null (ack->in_reply_to);
  g_assert_null (ack->last_error);
  pd_outbox_item_t *relay = items->pdata[1];
  g_assert_cmpstr (relay->message_id, ==, "relay-1@postdesk");
  g_assert_cmpstr (relay->in_reply_to, ==, "m@x");
  g_assert_cmpstr (relay->status, ==, "failed");
  g_assert_cmpint (relay->attempts, ==, 3);
  g_assert_cmpstr (relay->last_error, ==, "550 no such user");
  g_assert_cmpstr (relay->body_text, ==, "Answer");
}

/* ---- durability -------------------------------------------------------------------------------------------- */

static void
test_committed_batch_survives_reopen (void)
{
  g_autofree char *path = fresh_db_path ();
  GError *err = NULL;
  {
    g_autoptr (pd_store_t) store = open_store (path);
    g_assert_true (pd_store_begin (store, &err));
    for (int i = 0; i < 50; i++)
      {
        g_autofree char *id = g_strdup_printf ("batch-%d@x", i);
        g_assert_true (pd_store_savepoint (store, &err));
        g_assert_true (ingest_one (store, id, 1000 + i, &err));
        g_assert_true (pd_store_release (store, &err));
      }
    g_assert_true (pd_store_mailbox_state_set (store, "INBOX", 3, 50, &err));
    g_assert_true (pd_store_commit (store, &err));
    g_assert_no_error (err);
  }
  g_autoptr (pd_store_t) again = open_store (path);
  g_autoptr (GPtrArray) tickets = NULL;
  g_assert_true (pd_store_tickets_list (again, NULL, &tickets, &err));
  g_assert_cmpuint (tickets->len, ==, 50);
  for (guint i = 0; i < tickets->len; i++)
    {
      pd_ticket_t *t = tickets->pdata[i];
      g_assert_cmpint (t->message_count, ==, 1);
      g_assert_cmpint (t->updated_at, ==, 1000 + (gint64) i);
    }
  gint64 ticket = 0;
  g_assert_true (pd_store_find_message (again, "batch-49@x", &ticket, &err));
  g_assert_cmpint (ticket, ==, 50);
  bool is = false;
  g_assert_true (pd_store_is_participant (again, 50, "ADA@example.org", &is, &err));
  g_assert_true (is);
  gint64 validity = 0, last = 0;
  g_assert_true (pd_store_mailbox_state_get (again, "INBOX", &validity, &last, &err));
  g_assert_cmpint (last, ==, 50);
  g_autoptr (GBytes) raw = NULL;
  g_assert_true (pd_store_raw_get (again, 50, &raw, &err));
  g_assert_nonnull (g_strstr_len (g_bytes_get_data (raw, NULL), g_bytes_get_size (raw), "batch-49@x"));
}

/* ---- delivery ---------------------------------------------------------------- */

/* Queues a relay to ada@example.org created at 'at'; returns its outbox id. */
static gint64
queue_at (pd_store_t *store, gint64 ticket, const char *message_id, pd_time_t at)
{
  const char *to[] = { "ada@example.org", NULL };
  g_autoptr (GBytes) raw = g_bytes_new_static ("Subject: x\r\n\r\nhello\r\n", 22);
  pd_outbox_new_t o = {
    .ticket_id = ticket, .kind = "relay", .from_address = "support@example.com", .to = to,
    .subject = "[SUP-1] Help", .message_id = message_id, .body_text = "hello", .raw = raw,
    .created_at = at,
  };
  gint64 id = 0;
  GError *err = NULL;
  g_assert_true (pd_store_outbox_add (store, &o, &id, &err));
  g_assert_no_error (err);
  return id;
}

/* The id of the row claimed at 'now', 0 when none is due. */
static gint64
claim_id (pd_store_t *store, pd_time_t now)
{
  g_autoptr (pd_outbox_item_t) o = NULL;
  GError *err = NULL;
  g_assert_true (pd_store_outbox_claim (store, now, &o, &err));
  g_assert_no_error (err);
  if (o == NULL)
    return 0;
  g_assert_cmpstr (o->status, ==, "sending");
  g_assert_nonnull (o->raw);
  g_assert_cmpuint (g_bytes_get_size (o->raw), ==, 22);
  return o->id;
}

static void
test_outbox_claims_due_rows_oldest_first_once_each (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  gint64 ticket = make_ticket (store, "Help", "ada@example.org", 1);
  gint64 newer = queue_at (store, ticket, "newer@example.com", 2000);
  gint64 older = queue_at (store, ticket, "older@example.com", 1000);
  gint64 later = queue_at (store, ticket, "later@example.com", 5000);
  /* Nothing is due before it was queued. */
  g_assert_cmpint (claim_id (store, 999), ==, 0);
  g_assert_cmpint (claim_id (store, 3000), ==, older);
  g_assert_cmpint (claim_id (store, 3000), ==, newer);
  /* A claimed row is not handed out again; 'later' is not due yet. */
  g_assert_cmpint (claim_id (store, 3000), ==, 0);
  g_assert_cmpint (claim_id (store, 5000), ==, later);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM outbox WHERE status = 'sending'"), ==, 3);
}

/* Two senders with their own connections never take the same row. */
static void
test_outbox_two_senders_never_take_the_same_row (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) a = open_store (path);
  g_autoptr (pd_store_t) b = open_store (path);
  gint64 ticket = make_ticket (a, "Help", "ada@example.org", 1);
  gint64 first = queue_at (a, ticket, "one@example.com", 1000);
  gint64 second = queue_at (a, ticket, "two@example.com", 1001);
  g_assert_cmpint (claim_id (a, 2000), ==, first);
  g_assert_cmpint (claim_id (b, 2000), ==, second);
  g_assert_cmpint (claim_id (a, 2000), ==, 0);
  g_assert_cmpint (claim_id (b, 2000), ==, 0);
}

static void
test_outbox_retry_delay_schedule (void)
{
  g_assert_cmpint (pd_outbox_retry_delay (1), ==, 60);
  g_assert_cmpint (pd_outbox_retry_delay (2), ==, 5 * 60);
  g_assert_cmpint (pd_outbox_retry_delay (3), ==, 15 * 60);
  g_assert_cmpint (pd_outbox_retry_delay (4), ==, 3600);
  g_assert_cmpint (pd_outbox_retry_delay (40), ==, 3600);
}

static void
test_outbox_temporary_failure_backs_off_then_sends (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  gint64 ticket = make_ticket (store, "Help", "ada@example.org", 1);
  gint64 id = queue_at (store, ticket, "slow@example.com", 1000);
  GError *err = NULL;
  pd_time_t now = 1000;
  for (int attempt = 1; attempt <= 5; attempt++)
    {
      g_assert_cmpint (claim_id (store, now), ==, id);
      bool gave_up = true;
      pd_time_t next = 0;
      g_assert_true (pd_store_outbox_mark_retry (store, id, now, "sendmail exited with status 75",
                                                 &gave_up, &next, &err));
      g_assert_no_error (err);
      g_assert_false (gave_up);
      /* The schedule, plus at most a tenth of jitter, never less. */
      pd_time_t delay = pd_outbox_retry_delay (attempt);
      g_assert_cmpint (next, >=, now + delay);
      g_assert_cmpint (next, <=, now + delay + delay / 10);
      g_assert_cmpint (claim_id (store, next - 1), ==, 0);
      now = next;
    }
  g_autoptr (GPtrArray) items = NULL;
  g_assert_true (pd_store_outbox_list (store, &items, &err));
  pd_outbox_item_t *o = items->pdata[0];
  g_assert_cmpstr (o->status, ==, "queued");
  g_assert_cmpint (o->attempts, ==, 5);
  g_assert_cmpstr (o->last_error, ==, "sendmail exited with status 75");
  g_assert_cmpint (o->next_attempt_at, ==, now);
  g_assert_null (o->raw);

  g_assert_cmpint (claim_id (store, now), ==, id);
  g_assert_true (pd_store_outbox_mark_sent (store, id, now + 1, &err));
  g_assert_no_error (err);
  g_clear_pointer (&items, g_ptr_array_unref);
  g_assert_true (pd_store_outbox_list (store, &items, &err));
  o = items->pdata[0];
  g_assert_cmpstr (o->status, ==, "sent");
  g_assert_cmpint (o->attempts, ==, 6);
  g_assert_cmpint (o->sent_at, ==, now + 1);
  g_assert_cmpint (o->next_attempt_at, ==, 0);
  /* Sent means never claimed again. */
  g_assert_cmpint (claim_id (store, now + 100000), ==, 0);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM events WHERE type = 'delivery-failed'"), ==, 0);
}

static void
test_outbox_gives_up_after_max_age_with_an_event (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  gint64 ticket = make_ticket (store, "Help", "ada@example.org", 1);
  gint64 id = queue_at (store, ticket, "old@example.com", 1000);
  pd_time_t now = 1000 + PD_OUTBOX_MAX_AGE;
  g_assert_cmpint (claim_id (store, now), ==, id);
  bool gave_up = false;
  pd_time_t next = 99;
  GError *err = NULL;
  g_assert_true (pd_store_outbox_mark_retry (store, id, now, "connection refused", &gave_up, &next, &err));
  g_assert_no_error (err);
  g_assert_true (gave_up);
  g_assert_cmpint (next, ==, 0);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM outbox WHERE status = 'failed'"
                                     " AND last_error LIKE 'gave up after 1 attempts over 2 days: connection refused'"), ==, 1);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM events WHERE type = 'delivery-failed'"), ==, 1);
}

static void
test_outbox_permanent_failure_is_an_event_on_the_ticket (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  gint64 ticket = make_ticket (store, "Help", "ada@example.org", 1);
  gint64 id = queue_at (store, ticket, "refused@example.com", 1000);
  GError *err = NULL;
  /* Only a row being sent can fail or be sent. */
  g_assert_false (pd_store_outbox_mark_failed (store, id, 1500, "User unknown", &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_NOT_FOUND);
  g_clear_error (&err);
  g_assert_false (pd_store_outbox_mark_sent (store, id, 1500, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_NOT_FOUND);
  g_clear_error (&err);

  g_assert_cmpint (claim_id (store, 1500), ==, id);
  g_assert_true (pd_store_outbox_mark_failed (store, id, 1500, "sendmail exited with status 67: User unknown", &err));
  g_assert_no_error (err);
  sqlite3 *db = raw_db (path);
  g_assert_cmpint (query_int (db, "SELECT attempts FROM outbox"), ==, 1);
  g_autofree char *status = query_text (db, "SELECT status FROM outbox");
  g_assert_cmpstr (status, ==, "failed");
  g_autofree char *event = query_text (db, "SELECT json_object('actor', actor, 'at', at, 'detail', json(detail))"
                                           " FROM events WHERE type = 'delivery-failed'");
  g_assert_cmpstr (event, ==, "{\"actor\":\"postdesk\",\"at\":1500,\"detail\":{\"outbox_id\":1,"
                              "\"message_id\":\"refused@example.com\",\"to\":[\"ada@example.org\"],"
                              "\"error\":\"sendmail exited with status 67: User unknown\",\"attempts\":1}}");
  sqlite3_close (db);
  /* Failed is final. */
  g_assert_cmpint (claim_id (store, 100000), ==, 0);
}

/* A sender killed between claim and mark leaves the row sending; the next
 * sender puts it back in the queue and delivers it. */
static void
test_outbox_recover_requeues_rows_a_crashed_sender_left (void)
{
  g_autofree char *path = fresh_db_path ();
  gint64 id = 0;
  {
    g_autoptr (pd_store_t) crashed = open_store (path);
    gint64 ticket = make_ticket (crashed, "Help", "ada@example.org", 1);
    id = queue_at (crashed, ticket, "inflight@example.com", 1000);
    queue_at (crashed, ticket, "waiting@example.com", 1001);
    g_assert_cmpint (claim_id (crashed, 2000), ==, id);
  }
  g_autoptr (pd_store_t) store = open_store (path);
  guint recovered = 99;
  GError *err = NULL;
  g_assert_true (pd_store_outbox_recover (store, &recovered, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (recovered, ==, 1);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM outbox WHERE status = 'queued' AND attempts = 0"), ==, 2);
  g_assert_cmpint (claim_id (store, 2000), ==, id);
  g_assert_true (pd_store_outbox_recover (store, &recovered, &err));
  g_assert_cmpuint (recovered, ==, 1);
}

static void
test_free_is_null_safe (void)
{
  pd_store_free (NULL);
  pd_ticket_free (NULL);
  pd_stored_message_free (NULL);
  pd_outbox_item_free (NULL);
  pd_quarantine_item_free (NULL);
}

/* ---- bounces and the suppression list ------------------------------------------ */

static void
test_outbox_find_and_mark_bounced (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  gint64 ticket = make_ticket (store, "Help", "ada@example.org", 1);
  gint64 id = queue_at (store, ticket, "ack-1@example.com", 1000);
  GError *err = NULL;
  g_autoptr (pd_outbox_item_t) none = NULL;
  g_assert_true (pd_store_outbox_find (store, "someone-elses@example.com", &none, &err));
  g_assert_no_error (err);
  g_assert_null (none);

  g_assert_cmpint (claim_id (store, 1000), ==, id);
  /* A row a sender holds is left to it; the caller learns so. */
  bool marked = true;
  g_assert_true (pd_store_outbox_mark_bounced (store, id, "ada@example.org", "5.1.1", "User unknown", 1200,
                                               &marked, &err));
  g_assert_no_error (err);
  g_assert_false (marked);
  g_assert_true (pd_store_outbox_mark_sent (store, id, 1100, &err));
  g_assert_no_error (err);

  g_assert_true (pd_store_outbox_mark_bounced (store, id, "ada@example.org", "5.1.1",
                                               "550 5.1.1 User unknown", 1200, &marked, &err));
  g_assert_no_error (err);
  g_assert_true (marked);
  g_autoptr (pd_outbox_item_t) o = NULL;
  g_assert_true (pd_store_outbox_find (store, "ack-1@example.com", &o, &err));
  g_assert_no_error (err);
  g_assert_nonnull (o);
  g_assert_cmpint (o->id, ==, id);
  g_assert_cmpint (o->ticket_id, ==, ticket);
  g_assert_cmpstr (o->status, ==, "bounced");
  g_assert_cmpstr (o->bounce_recipient, ==, "ada@example.org");
  g_assert_cmpstr (o->bounce_status, ==, "5.1.1");
  g_assert_cmpstr (o->bounce_diagnostic, ==, "550 5.1.1 User unknown");
  g_assert_cmpint (o->bounced_at, ==, 1200);
  g_assert_cmpint (o->sent_at, ==, 1100);
  g_assert_null (o->raw);

  /* The list shows the same; a bounced row is never due again. */
  g_autoptr (GPtrArray) items = NULL;
  g_assert_true (pd_store_outbox_list (store, &items, &err));
  g_assert_cmpuint (items->len, ==, 1);
  pd_outbox_item_t *listed = items->pdata[0];
  g_assert_cmpstr (listed->status, ==, "bounced");
  g_assert_cmpstr (listed->bounce_status, ==, "5.1.1");
  g_assert_cmpint (claim_id (store, 999999), ==, 0);

  g_assert_false (pd_store_outbox_mark_bounced (store, 4242, NULL, NULL, NULL, 1300, &marked, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_NOT_FOUND);
  g_clear_error (&err);
}

static void
test_suppression_add_get_list_keeps_first_date (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  gint64 ticket = make_ticket (store, "Help", "ada@example.org", 1);
  gint64 row = queue_at (store, ticket, "ack-1@example.com", 1000);
  GError *err = NULL;
  pd_suppression_t in = {
    .address = (char *) "Ada@Example.ORG", .reason = (char *) "bounce", .status = (char *) "5.2.2",
    .diagnostic = (char *) "mailbox full", .ticket_id = ticket, .outbox_id = row, .created_at = 2000,
  };
  g_assert_true (pd_store_suppress (store, &in, &err));
  g_assert_no_error (err);
  pd_suppression_t other = { .address = (char *) "bob@example.org", .reason = (char *) "bounce", .created_at = 2100 };
  g_assert_true (pd_store_suppress (store, &other, &err));
  g_assert_no_error (err);

  /* Suppressed again later: the newer report, the first date. */
  in.status = (char *) "5.1.1";
  in.diagnostic = (char *) "User unknown";
  in.created_at = 3000;
  g_assert_true (pd_store_suppress (store, &in, &err));
  g_assert_no_error (err);

  g_autoptr (pd_suppression_t) got = NULL;
  g_assert_true (pd_store_suppression_get (store, "ADA@example.org", &got, &err));
  g_assert_no_error (err);
  g_assert_nonnull (got);
  g_assert_cmpstr (got->address, ==, "ada@example.org");
  g_assert_cmpstr (got->reason, ==, "bounce");
  g_assert_cmpstr (got->status, ==, "5.1.1");
  g_assert_cmpstr (got->diagnostic, ==, "User unknown");
  g_assert_cmpint (got->ticket_id, ==, ticket);
  g_assert_cmpint (got->outbox_id, ==, row);
  g_assert_cmpint (got->created_at, ==, 2000);

  g_autoptr (pd_suppression_t) missing = NULL;
  g_assert_true (pd_store_suppression_get (store, "carol@example.org", &missing, &err));
  g_assert_no_error (err);
  g_assert_null (missing);

  g_autoptr (GPtrArray) list = NULL;
  g_assert_true (pd_store_suppressed_list (store, &list, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (list->len, ==, 2);
  pd_suppression_t *second = list->pdata[1];
  g_assert_cmpstr (((pd_suppression_t *) list->pdata[0])->address, ==, "ada@example.org");
  g_assert_cmpstr (second->address, ==, "bob@example.org");
  g_assert_null (second->status);
  g_assert_cmpint (second->ticket_id, ==, 0);
}

static void
test_suppression_remove_journals_and_tells_the_ticket (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  gint64 ticket = make_ticket (store, "Help", "ada@example.org", 1);
  GError *err = NULL;
  pd_suppression_t in = {
    .address = (char *) "ada@example.org", .reason = (char *) "bounce", .status = (char *) "5.1.1",
    .diagnostic = (char *) "User unknown", .ticket_id = ticket, .created_at = 2000,
  };
  g_assert_true (pd_store_suppress (store, &in, &err));
  pd_suppression_t loose = { .address = (char *) "bob@example.org", .reason = (char *) "bounce", .created_at = 2000 };
  g_assert_true (pd_store_suppress (store, &loose, &err));
  g_assert_no_error (err);

  g_assert_true (pd_store_suppression_remove (store, "Ada@Example.org", "alice", 5000, &err));
  g_assert_no_error (err);
  g_autoptr (pd_suppression_t) gone = NULL;
  g_assert_true (pd_store_suppression_get (store, "ada@example.org", &gone, &err));
  g_assert_null (gone);
  sqlite3 *db = raw_db (path);
  g_autofree char *journal = query_text (db, "SELECT json_object('at', at, 'actor', actor, 'action', action,"
                                             " 'detail', json(detail)) FROM journal");
  g_assert_cmpstr (journal, ==, "{\"at\":5000,\"actor\":\"alice\",\"action\":\"suppressed-remove\","
                                "\"detail\":{\"address\":\"ada@example.org\",\"reason\":\"bounce\","
                                "\"status\":\"5.1.1\",\"diagnostic\":\"User unknown\",\"ticket\":1,"
                                "\"since\":2000}}");
  g_autofree char *event = query_text (db, "SELECT actor || ' ' || json_extract(detail, '$.address')"
                                           " FROM events WHERE type = 'unsuppressed'");
  g_assert_cmpstr (event, ==, "alice ada@example.org");
  sqlite3_close (db);

  /* An entry with no ticket is journalled only. */
  g_assert_true (pd_store_suppression_remove (store, "bob@example.org", "alice", 5001, &err));
  g_assert_no_error (err);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM journal"), ==, 2);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM events WHERE type = 'unsuppressed'"), ==, 1);

  g_assert_false (pd_store_suppression_remove (store, "ada@example.org", "alice", 5002, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_NOT_FOUND);
  g_clear_error (&err);
  g_assert_cmpint (count_rows (path, "SELECT count(*) FROM journal"), ==, 2);
}

static void
test_outbox_mark_suppressed_fails_without_an_attempt (void)
{
  g_autofree char *path = fresh_db_path ();
  g_autoptr (pd_store_t) store = open_store (path);
  gint64 ticket = make_ticket (store, "Help", "ada@example.org", 1);
  gint64 id = queue_at (store, ticket, "ack-2@example.com", 1000);
  GError *err = NULL;
  /* Only a row being sent can be given up. */
  g_assert_false (pd_store_outbox_mark_suppressed (store, id, 1500, "suppressed", &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_NOT_FOUND);
  g_clear_error (&err);

  g_assert_cmpint (claim_id (store, 1500), ==, id);
  g_assert_true (pd_store_outbox_mark_suppressed (store, id, 1500,
                                                  "ada@example.org: the address is suppressed after a bounce: 5.1.1",
                                                  &err));
  g_assert_no_error (err);
  sqlite3 *db = raw_db (path);
  g_autofree char *row = query_text (db, "SELECT status || ' ' || last_error || ' ' || attempts"
                                         " || ' ' || coalesce(next_attempt_at, 'none') FROM outbox");
  g_assert_cmpstr (row, ==, "failed suppressed 0 none");
  g_autofree char *event = query_text (db, "SELECT json_object('at', at, 'detail', json(detail))"
                                           " FROM events WHERE type = 'delivery-suppressed'");
  g_assert_cmpstr (event, ==, "{\"at\":1500,\"detail\":{\"outbox_id\":1,\"message_id\":\"ack-2@example.com\","
                              "\"to\":[\"ada@example.org\"],\"reason\":\"ada@example.org: the address is"
                              " suppressed after a bounce: 5.1.1\"}}");
  sqlite3_close (db);
}

int
main (int argc, char **argv)
{
  pd_test_init (&argc, &argv);
  g_test_add_func ("/store/open/creates-file-with-newest-schema", test_open_creates_file_with_newest_schema);
  g_test_add_func ("/store/open/enforces-foreign-keys", test_open_enforces_foreign_keys);
  g_test_add_func ("/store/open/reopen-is-noop-and-keeps-data", test_reopen_is_noop_and_keeps_data);
  g_test_add_func ("/store/open/refuses-future-schema", test_open_refuses_future_schema);
  g_test_add_func ("/store/open/missing-folder-is-not-created", test_open_missing_folder_is_not_created);
  g_test_add_func ("/store/open/existing-modes-refuse-missing-file",
                   test_open_existing_modes_refuse_missing_file);
  g_test_add_func ("/store/open/marks-database-as-postdesk", test_open_marks_database_as_postdesk);
  g_test_add_func ("/store/open/refuses-other-programs-database",
                   test_open_refuses_other_programs_database);
  g_test_add_func ("/store/open/adopts-unmarked-postdesk-database",
                   test_open_adopts_unmarked_postdesk_database);
  g_test_add_func ("/store/open/read-only-reads-and-refuses-writes",
                   test_open_read_only_reads_and_refuses_writes);
  g_test_add_func ("/store/open/not-a-database", test_open_not_a_database);
  g_test_add_func ("/store/ticket/create-get-round-trip", test_ticket_create_get_round_trip);
  g_test_add_func ("/store/ticket/get-missing-is-not-found", test_ticket_get_missing_is_not_found);
  g_test_add_func ("/store/ticket/invalid-severity-is-refused", test_ticket_invalid_severity_is_refused);
  g_test_add_func ("/store/ticket/requester", test_ticket_requester);
  g_test_add_func ("/store/tickets-list/all-and-by-status", test_tickets_list_all_and_by_status);
  g_test_add_func ("/store/message/add-then-find-by-message-id", test_message_add_then_find_by_message_id);
  g_test_add_func ("/store/message/reused-id-is-other-mail-same-content-is-duplicate",
                   test_message_reused_id_is_other_mail_same_content_is_duplicate);
  g_test_add_func ("/store/message/duplicate-of-row-without-hash-reads-raw-bytes",
                   test_message_duplicate_of_row_without_hash_reads_raw_bytes);
  g_test_add_func ("/store/message/find-referencing", test_message_find_referencing);
  g_test_add_func ("/store/message/attachments-round-trip-in-order",
                   test_message_attachments_round_trip_in_order);
  g_test_add_func ("/store/message/bad-attachment-leaves-nothing",
                   test_message_with_bad_attachment_leaves_nothing);
  g_test_add_func ("/store/message/fields-and-json-columns", test_message_fields_and_json_columns);
  g_test_add_func ("/store/message/ticket-messages-in-arrival-order", test_ticket_messages_in_arrival_order);
  g_test_add_func ("/store/participant/add-twice-is-one-row", test_participant_add_twice_is_one_row);
  g_test_add_func ("/store/participant/lookup-is-case-insensitive", test_participant_lookup_is_case_insensitive);
  g_test_add_func ("/store/event/bumps-updated-at", test_event_bumps_updated_at);
  g_test_add_func ("/store/event/append-only", test_events_are_append_only);
  g_test_add_func ("/store/raw/put-dedupes-identical-bytes-only", test_raw_put_dedupes_identical_bytes_only);
  g_test_add_func ("/store/quarantine/add-list-get-release", test_quarantine_add_list_get_release);
  g_test_add_func ("/store/quarantine/missing-is-not-found", test_quarantine_missing_is_not_found);
  g_test_add_func ("/store/quarantine/same-bytes-while-held-reuse-entry",
                   test_quarantine_same_bytes_while_held_reuse_entry);
  g_test_add_func ("/store/quarantine/delete-keeps-shared-raw-bytes", test_quarantine_delete_keeps_shared_raw_bytes);
  g_test_add_func ("/store/quarantine/delete-keeps-bytes-of-another-entry",
                   test_quarantine_delete_keeps_bytes_of_another_entry);
  g_test_add_func ("/store/quarantine/purge-by-age", test_quarantine_purge_by_age);
  g_test_add_func ("/store/quarantine/release-by-message-id", test_quarantine_release_by_message_id);
  g_test_add_func ("/store/quarantine/link-keeps-entry-held", test_quarantine_link_keeps_entry_held);
  g_test_add_func ("/store/quarantine/journal-detail-is-strict-json", test_quarantine_journal_detail_is_strict_json);
  g_test_add_func ("/store/quarantine/imap-origin", test_quarantine_imap_origin);
  g_test_add_func ("/store/mailbox-state/set-get-upsert", test_mailbox_state_set_get_upsert);
  g_test_add_func ("/store/tx/savepoint-rollback-undoes-one-message-only",
                   test_savepoint_rollback_undoes_one_message_only);
  g_test_add_func ("/store/tx/rolled-back-transaction-leaves-nothing",
                   test_rolled_back_transaction_leaves_nothing);
  g_test_add_func ("/store/tx/two-handles-write-in-turn", test_two_handles_write_in_turn);
  g_test_add_func ("/store/schema/strict-tables-reject-wrong-types", test_strict_tables_reject_wrong_types);
  g_test_add_func ("/store/outbox/list", test_outbox_list);
  g_test_add_func ("/store/outbox/claims-due-rows-oldest-first-once-each",
                   test_outbox_claims_due_rows_oldest_first_once_each);
  g_test_add_func ("/store/outbox/two-senders-never-take-the-same-row",
                   test_outbox_two_senders_never_take_the_same_row);
  g_test_add_func ("/store/outbox/retry-delay-schedule", test_outbox_retry_delay_schedule);
  g_test_add_func ("/store/outbox/temporary-failure-backs-off-then-sends",
                   test_outbox_temporary_failure_backs_off_then_sends);
  g_test_add_func ("/store/outbox/gives-up-after-max-age-with-an-event",
                   test_outbox_gives_up_after_max_age_with_an_event);
  g_test_add_func ("/store/outbox/permanent-failure-is-an-event-on-the-ticket",
                   test_outbox_permanent_failure_is_an_event_on_the_ticket);
  g_test_add_func ("/store/outbox/recover-requeues-rows-a-crashed-sender-left",
                   test_outbox_recover_requeues_rows_a_crashed_sender_left);
  g_test_add_func ("/store/outbox/add-queues-message-and-logs-ack",
                   test_outbox_add_queues_message_and_logs_ack);
  g_test_add_func ("/store/outbox/find-and-mark-bounced", test_outbox_find_and_mark_bounced);
  g_test_add_func ("/store/outbox/mark-suppressed-fails-without-an-attempt",
                   test_outbox_mark_suppressed_fails_without_an_attempt);
  g_test_add_func ("/store/suppressed/add-get-list-keeps-first-date",
                   test_suppression_add_get_list_keeps_first_date);
  g_test_add_func ("/store/suppressed/remove-journals-and-tells-the-ticket",
                   test_suppression_remove_journals_and_tells_the_ticket);
  g_test_add_func ("/store/durability/committed-batch-survives-reopen", test_committed_batch_survives_reopen);
  g_test_add_func ("/store/free-is-null-safe", test_free_is_null_safe);
  return g_test_run ();
}
