/* test_thread.c - which ticket a message joins, and how subjects read. */
#include <string.h>

#include "postdesk/thread.h"
#include "testutil.h"

static void
test_token_is_found_anywhere_in_the_subject (void)
{
  g_assert_cmpint (pd_thread_subject_token ("Re: [SUP-42] disk full", "SUP"), ==, 42);
  g_assert_cmpint (pd_thread_subject_token ("disk full [sup-7]", "SUP"), ==, 7);
  g_assert_cmpint (pd_thread_subject_token ("[ext] [SUP-9] x", "SUP"), ==, 9);
  g_assert_cmpint (pd_thread_subject_token ("[SUP-] x", "SUP"), ==, 0);
  g_assert_cmpint (pd_thread_subject_token ("[SUP-12a] x", "SUP"), ==, 0);
  g_assert_cmpint (pd_thread_subject_token ("[SUPPORT-12] x", "SUP"), ==, 0);
  g_assert_cmpint (pd_thread_subject_token ("[HD-12] x", "SUP"), ==, 0);
  g_assert_cmpint (pd_thread_subject_token ("[HD-12] x", "HD"), ==, 12);
  g_assert_cmpint (pd_thread_subject_token ("[SUP-0] x", "SUP"), ==, 0);
  g_assert_cmpint (pd_thread_subject_token ("[SUP-99999999999999] x", "SUP"), ==, 0);
  g_assert_cmpint (pd_thread_subject_token (NULL, "SUP"), ==, 0);
}

static void
test_plus_address_names_a_ticket_only_on_the_support_address (void)
{
  g_assert_cmpint (pd_thread_plus_address ("support+42@example.com", "support@example.com"), ==, 42);
  g_assert_cmpint (pd_thread_plus_address ("Support+42@Example.COM", "support@example.com"), ==, 42);
  g_assert_cmpint (pd_thread_plus_address ("support+abc@example.com", "support@example.com"), ==, 0);
  g_assert_cmpint (pd_thread_plus_address ("support+42@example.org", "support@example.com"), ==, 0);
  g_assert_cmpint (pd_thread_plus_address ("sales+42@example.com", "support@example.com"), ==, 0);
  g_assert_cmpint (pd_thread_plus_address ("support@example.com", "support@example.com"), ==, 0);
  g_assert_cmpint (pd_thread_plus_address ("support+@example.com", "support@example.com"), ==, 0);
}

static void
test_subjects_lose_reply_prefixes_and_tokens (void)
{
  static const char *const cases[][2] = {
    { "Re: [SUP-42] Disk full", "Disk full" },
    { "RE: RE: Fwd: Disk full", "Disk full" },
    { "AW: WG: Lizenz", "Lizenz" },
    { "SV: Fråga om licens", "Fråga om licens" },
    { "Re[2]: Disk   full  ", "Disk full" },
    { "Fw : Disk full", "Disk full" },
    { "回复：Re: 磁盘已满", "磁盘已满" },
    { "转发: 磁盘已满", "磁盘已满" },
    { "Disk full [SUP-42]", "Disk full" },
    { "Reply needed: Disk full", "Reply needed: Disk full" },
    { "Error: disk full", "Error: disk full" },
    { "", "" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *got = pd_thread_normalize_subject (cases[i][0], "SUP");
      g_assert_cmpstr (got, ==, cases[i][1]);
    }
}

/* ---- pd_thread_find against a real database --------------------------- */

typedef struct {
  pd_config_t *cfg;
  pd_store_t *store;
} fixture_t;

static void
fixture_set_up (fixture_t *f, gconstpointer data)
{
  (void) data;
  static int n;
  f->cfg = pd_config_new_default ();
  g_strfreev (f->cfg->staff_domains);
  f->cfg->staff_domains = g_strsplit ("example.com", ",", -1);
  g_autofree char *name = g_strdup_printf ("thread-%d.db", n++);
  g_autofree char *path = g_build_filename (pd_test_tmpdir (), name, NULL);
  GError *err = NULL;
  g_assert_true (pd_store_open (path, &f->store, &err));
  g_assert_no_error (err);
  g_assert_true (pd_store_begin (f->store, &err));
}

static void
fixture_tear_down (fixture_t *f, gconstpointer data)
{
  (void) data;
  pd_store_rollback (f->store);
  pd_store_free (f->store);
  pd_config_free (f->cfg);
}

static pd_message_t *
message (const char *from, const char *message_id, const char *subject)
{
  pd_message_t *m = pd_message_new ();
  m->from = g_new0 (pd_address_t, 1);
  m->from->address = g_strdup (from);
  m->message_id = g_strdup (message_id);
  g_free (m->subject);
  m->subject = g_strdup (subject);
  return m;
}

/* Opens a ticket the way the pipeline does: ticket, message, requester. */
static gint64
open_ticket (fixture_t *f, const char *from, const char *message_id)
{
  g_autoptr (pd_message_t) m = message (from, message_id, "Broken");
  pd_ticket_new_t t = { .subject = "Broken", .requester_address = from, .severity = 2, .created_at = 1000 };
  gint64 id = 0, row = 0, raw = 0;
  GError *err = NULL;
  pd_arrival_t arrival = { .received_at = 1000 };
  g_assert_true (pd_store_raw_put (f->store, message_id, strlen (message_id), NULL, &raw, &err));
  g_assert_true (pd_store_ticket_create (f->store, &t, &id, &err));
  g_assert_true (pd_store_message_add (f->store, id, m, "customer", "fp", raw, &arrival, &row, &err));
  g_assert_true (pd_store_participant_add (f->store, id, from, NULL, "requester", &err));
  g_assert_no_error (err);
  return id;
}

static pd_thread_t
find (fixture_t *f, const pd_message_t *m)
{
  pd_thread_t th;
  GError *err = NULL;
  g_assert_true (pd_thread_find (f->store, f->cfg, m, &th, &err));
  g_assert_no_error (err);
  return th;
}

static void
test_unrelated_mail_opens_a_new_ticket (fixture_t *f, gconstpointer data)
{
  (void) data;
  open_ticket (f, "dana@acme.com", "a1@acme.com");
  g_autoptr (pd_message_t) m = message ("kim@other.org", "k1@other.org", "Question");
  pd_thread_t th = find (f, m);
  g_assert_cmpint (th.ticket_id, ==, 0);
  g_assert_cmpint (th.linked_to, ==, 0);
  g_assert_cmpstr (th.how, ==, "new");
}

static void
test_token_joins_for_requester_colleague_and_staff (fixture_t *f, gconstpointer data)
{
  (void) data;
  gint64 t = open_ticket (f, "dana@acme.com", "a1@acme.com");
  g_autofree char *subject = g_strdup_printf ("Re: [SUP-%" G_GINT64_FORMAT "] Broken", t);
  const char *senders[] = { "dana@acme.com", "lee@ACME.com", "priya@example.com" };
  for (gsize i = 0; i < G_N_ELEMENTS (senders); i++)
    {
      g_autoptr (pd_message_t) m = message (senders[i], "r@x", subject);
      pd_thread_t th = find (f, m);
      g_assert_cmpint (th.ticket_id, ==, t);
      g_assert_cmpstr (th.how, ==, "token");
    }
}

static void
test_stranger_with_a_token_opens_a_linked_ticket (fixture_t *f, gconstpointer data)
{
  (void) data;
  gint64 t = open_ticket (f, "dana@acme.com", "a1@acme.com");
  g_autofree char *subject = g_strdup_printf ("[SUP-%" G_GINT64_FORMAT "] me too", t);
  g_autoptr (pd_message_t) m = message ("sam@evil.test", "s1@evil.test", subject);
  pd_thread_t th = find (f, m);
  g_assert_cmpint (th.ticket_id, ==, 0);
  g_assert_cmpint (th.linked_to, ==, t);
  g_assert_cmpstr (th.how, ==, "stranger");
}

static void
test_a_public_domain_is_not_an_organisation (fixture_t *f, gconstpointer data)
{
  (void) data;
  gint64 t = open_ticket (f, "dana@gmail.com", "a1@gmail.com");
  g_autofree char *subject = g_strdup_printf ("[SUP-%" G_GINT64_FORMAT "] me too", t);
  g_autoptr (pd_message_t) m = message ("sam@gmail.com", "s1@gmail.com", subject);
  pd_thread_t th = find (f, m);
  g_assert_cmpint (th.ticket_id, ==, 0);
  g_assert_cmpint (th.linked_to, ==, t);
}

static void
test_a_participant_from_elsewhere_may_use_the_token (fixture_t *f, gconstpointer data)
{
  (void) data;
  gint64 t = open_ticket (f, "dana@acme.com", "a1@acme.com");
  GError *err = NULL;
  g_assert_true (pd_store_participant_add (f->store, t, "consultant@partner.io", NULL, "customer", &err));
  g_autofree char *subject = g_strdup_printf ("[SUP-%" G_GINT64_FORMAT "] logs", t);
  g_autoptr (pd_message_t) m = message ("Consultant@Partner.io", "c1@partner.io", subject);
  pd_thread_t th = find (f, m);
  g_assert_cmpint (th.ticket_id, ==, t);
}

static void
test_token_of_a_missing_ticket_is_ignored (fixture_t *f, gconstpointer data)
{
  (void) data;
  open_ticket (f, "dana@acme.com", "a1@acme.com");
  g_autoptr (pd_message_t) m = message ("dana@acme.com", "d2@acme.com", "[SUP-999] hello");
  pd_thread_t th = find (f, m);
  g_assert_cmpint (th.ticket_id, ==, 0);
  g_assert_cmpint (th.linked_to, ==, 0);
}

static void
test_in_reply_to_joins_even_from_a_stranger (fixture_t *f, gconstpointer data)
{
  (void) data;
  gint64 t = open_ticket (f, "dana@acme.com", "a1@acme.com");
  g_autoptr (pd_message_t) m = message ("sam@evil.test", "s1@evil.test", "Re: Broken");
  m->in_reply_to = g_strdup ("a1@acme.com");
  pd_thread_t th = find (f, m);
  g_assert_cmpint (th.ticket_id, ==, t);
  g_assert_cmpstr (th.how, ==, "in-reply-to");
}

static void
test_references_are_searched_newest_first (fixture_t *f, gconstpointer data)
{
  (void) data;
  gint64 older = open_ticket (f, "dana@acme.com", "old@acme.com");
  gint64 newer = open_ticket (f, "dana@acme.com", "new@acme.com");
  g_autoptr (pd_message_t) m = message ("dana@acme.com", "d3@acme.com", "Re: Broken");
  g_ptr_array_add (m->references, g_strdup ("unknown@nowhere"));
  g_ptr_array_add (m->references, g_strdup ("old@acme.com"));
  g_ptr_array_add (m->references, g_strdup ("new@acme.com"));
  pd_thread_t th = find (f, m);
  g_assert_cmpint (th.ticket_id, ==, newer);
  g_assert_cmpint (th.ticket_id, !=, older);
  g_assert_cmpstr (th.how, ==, "references");
}

static void
test_a_bounce_joins_the_ticket_of_the_mail_it_returns (fixture_t *f, gconstpointer data)
{
  (void) data;
  gint64 t = open_ticket (f, "dana@acme.com", "a1@acme.com");
  g_autoptr (pd_message_t) m = message ("mailer-daemon@mx.acme.com", "b1@mx", "Undelivered Mail");
  m->bounce = true;
  m->bounced_message_id = g_strdup ("a1@acme.com");
  pd_thread_t th = find (f, m);
  g_assert_cmpint (th.ticket_id, ==, t);
  g_assert_cmpstr (th.how, ==, "bounce");
}

static void
test_plus_address_joins_in_to_cc_or_delivered_to (fixture_t *f, gconstpointer data)
{
  (void) data;
  gint64 t = open_ticket (f, "dana@acme.com", "a1@acme.com");
  g_autofree char *plus = g_strdup_printf ("support+%" G_GINT64_FORMAT "@example.com", t);
  for (int where = 0; where < 3; where++)
    {
      g_autoptr (pd_message_t) m = message ("dana@acme.com", "p@acme.com", "more logs");
      pd_address_t *a = g_new0 (pd_address_t, 1);
      a->address = g_strdup (plus);
      if (where == 0)
        g_ptr_array_add (m->to, a);
      else if (where == 1)
        g_ptr_array_add (m->cc, a);
      else
        {
          g_ptr_array_add (m->envelope_to, g_strdup (plus));
          pd_address_free (a);
        }
      pd_thread_t th = find (f, m);
      g_assert_cmpint (th.ticket_id, ==, t);
      g_assert_cmpstr (th.how, ==, "plus-address");
    }
}

static void
test_a_stranger_on_the_plus_address_is_linked_not_joined (fixture_t *f, gconstpointer data)
{
  (void) data;
  gint64 t = open_ticket (f, "dana@acme.com", "a1@acme.com");
  g_autoptr (pd_message_t) m = message ("sam@evil.test", "s@evil.test", "hi");
  pd_address_t *a = g_new0 (pd_address_t, 1);
  a->address = g_strdup_printf ("support+%" G_GINT64_FORMAT "@example.com", t);
  g_ptr_array_add (m->to, a);
  pd_thread_t th = find (f, m);
  g_assert_cmpint (th.ticket_id, ==, 0);
  g_assert_cmpint (th.linked_to, ==, t);
}

static void
test_token_wins_over_references (fixture_t *f, gconstpointer data)
{
  (void) data;
  gint64 a = open_ticket (f, "dana@acme.com", "a1@acme.com");
  gint64 b = open_ticket (f, "dana@acme.com", "b1@acme.com");
  g_autofree char *subject = g_strdup_printf ("[SUP-%" G_GINT64_FORMAT "] split", b);
  g_autoptr (pd_message_t) m = message ("dana@acme.com", "d9@acme.com", subject);
  m->in_reply_to = g_strdup ("a1@acme.com");
  pd_thread_t th = find (f, m);
  g_assert_cmpint (th.ticket_id, ==, b);
  g_assert_cmpint (th.ticket_id, !=, a);
}

int
main (int argc, char **argv)
{
  pd_test_init (&argc, &argv);
  g_test_add_func ("/thread/token", test_token_is_found_anywhere_in_the_subject);
  g_test_add_func ("/thread/plus-address", test_plus_address_names_a_ticket_only_on_the_support_address);
  g_test_add_func ("/thread/normalize-subject", test_subjects_lose_reply_prefixes_and_tokens);
#define ADD(path, fn) g_test_add (path, fixture_t, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/thread/find/unrelated-opens-new", test_unrelated_mail_opens_a_new_ticket);
  ADD ("/thread/find/token-requester-colleague-staff", test_token_joins_for_requester_colleague_and_staff);
  ADD ("/thread/find/stranger-token-links", test_stranger_with_a_token_opens_a_linked_ticket);
  ADD ("/thread/find/public-domain-not-organisation", test_a_public_domain_is_not_an_organisation);
  ADD ("/thread/find/participant-may-use-token", test_a_participant_from_elsewhere_may_use_the_token);
  ADD ("/thread/find/missing-ticket-token-ignored", test_token_of_a_missing_ticket_is_ignored);
  ADD ("/thread/find/in-reply-to-trusted", test_in_reply_to_joins_even_from_a_stranger);
  ADD ("/thread/find/references-newest-first", test_references_are_searched_newest_first);
  ADD ("/thread/find/bounce-joins-original", test_a_bounce_joins_the_ticket_of_the_mail_it_returns);
  ADD ("/thread/find/plus-address-to-cc-delivered", test_plus_address_joins_in_to_cc_or_delivered_to);
  ADD ("/thread/find/plus-address-stranger-links", test_a_stranger_on_the_plus_address_is_linked_not_joined);
  ADD ("/thread/find/token-wins-over-references", test_token_wins_over_references);
#undef ADD
  return g_test_run ();
}
