/* test_config.c - postdesk.conf: defaults, paths, and an error naming file,
 * line and key for every kind of mistake. */
#include <glib/gstdio.h>
#include <string.h>

#include "postdesk/config.h"
#include "postdesk/sla.h"
#include "testutil.h"

static char *
write_conf (const char *name, const char *text)
{
  char *path = g_build_filename (pd_test_tmpdir (), name, NULL);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  return path;
}

static void
test_full_file_is_read_and_paths_resolve_against_its_folder (void)
{
  g_autofree char *path = write_conf ("full.conf",
                                      "[postdesk]\n"
                                      "database = var/desk.db\n"
                                      "rules = /etc/postdesk/rules\n"
                                      "support_address = Help@Example.ORG\n"
                                      "support_name = ACME Help   # shown in From\n"
                                      "ticket_prefix = hd\n"
                                      "max_message_bytes = 1048576\n"
                                      "\n[staff]\n"
                                      "domains = example.org, Example.NET\n"
                                      "addresses = contractor@freelance.dev\n");
  g_autoptr (pd_config_t) cfg = NULL;
  GError *err = NULL;
  g_assert_true (pd_config_load (path, &cfg, &err));
  g_assert_no_error (err);
  g_autofree char *db = g_build_filename (pd_test_tmpdir (), "var", "desk.db", NULL);
  g_assert_cmpstr (cfg->database, ==, db);
  g_assert_cmpstr (cfg->rules_dir, ==, "/etc/postdesk/rules");
  g_autofree char *templates = g_build_filename (pd_test_tmpdir (), "templates", NULL);
  g_assert_cmpstr (cfg->templates_dir, ==, templates);
  g_assert_cmpstr (cfg->support_address, ==, "help@example.org");
  g_assert_cmpstr (cfg->support_name, ==, "ACME Help");
  g_assert_cmpstr (cfg->ticket_prefix, ==, "HD");
  g_assert_cmpint (cfg->max_message_bytes, ==, 1048576);
  g_assert_true (pd_config_is_staff (cfg, "anyone@example.net"));
  g_assert_true (pd_config_is_staff (cfg, "Contractor@Freelance.dev"));
  g_assert_false (pd_config_is_staff (cfg, "someone@freelance.dev"));
  g_assert_false (pd_config_is_staff (cfg, "someone@sub.example.org"));
}

static void
test_defaults_when_keys_are_absent (void)
{
  g_autofree char *path = write_conf ("empty.conf", "# nothing set\n[postdesk]\n");
  g_autoptr (pd_config_t) cfg = NULL;
  g_assert_true (pd_config_load (path, &cfg, NULL));
  g_assert_cmpstr (cfg->support_address, ==, "support@example.com");
  g_assert_cmpstr (cfg->support_name, ==, "Example Support");
  g_assert_cmpstr (cfg->ticket_prefix, ==, "SUP");
  g_assert_cmpint (cfg->max_message_bytes, ==, 26214400);
  g_assert_true (pd_config_is_public_domain (cfg, "gmail.com"));
  g_assert_false (pd_config_is_public_domain (cfg, "acme.com"));
  g_assert_false (pd_config_is_staff (cfg, "x@example.com"));
}

static void
test_public_domains_replace_the_built_in_list (void)
{
  g_autofree char *path = write_conf ("public.conf", "[postdesk]\npublic_domains = mailbox.org\n");
  g_autoptr (pd_config_t) cfg = NULL;
  g_assert_true (pd_config_load (path, &cfg, NULL));
  g_assert_true (pd_config_is_public_domain (cfg, "MAILBOX.org"));
  g_assert_false (pd_config_is_public_domain (cfg, "gmail.com"));
}

static void
test_support_address_and_its_plus_addresses (void)
{
  g_autoptr (pd_config_t) cfg = pd_config_new_default ();
  g_assert_true (pd_config_is_support_address (cfg, "support@example.com"));
  g_assert_true (pd_config_is_support_address (cfg, "Support+42@Example.com"));
  g_assert_false (pd_config_is_support_address (cfg, "supporter@example.com"));
  g_assert_false (pd_config_is_support_address (cfg, "support@example.org"));
}

typedef struct {
  const char *text;
  const char *expected;   /* substring of the error message */
} bad_case_t;

static void
test_every_mistake_names_file_line_and_key (void)
{
  static const bad_case_t cases[] = {
    { "[postdesk]\nticket_prefx = SUP\n", "bad.conf:2: [postdesk] ticket_prefx: unknown key; did you mean 'ticket_prefix'?" },
    { "[postdesk]\ndatabse = x.db\n", "bad.conf:2: [postdesk] databse: unknown key; did you mean 'database'?" },
    { "[postdesk]\nfrobnication = 1\n", "bad.conf:2: [postdesk] frobnication: unknown key" },
    { "[postdsk]\n", "bad.conf:1: [postdsk]: unknown section; did you mean [postdesk]?" },
    { "[postdesk]\nsupport_name = x\nthis line is not a key\n", "bad.conf:3: not a setting (key = value), a [section] or a # comment: 'this line is not a key'" },
    { "[postdesk\n", "bad.conf:1: a section header is [name] alone on its line" },
    { "database = x.db\n", "bad.conf:1: database: a setting before any section" },
    { "[postdesk]\n# ok\n\033[2J\377garbage\n", "bad.conf:3: not UTF-8 text: '\\x1b[2J\\xffgarbage'" },
    { "[postdesk]\nsupport_address = \033[31mx\n", "support_address: '\\x1b[31mx' is not a mail address" },
    { "[postdesk]\n\n[mailbx support]\nurl = x\n", "bad.conf:3: [mailbx support]: unknown section" },
    { "[postdesk]\nmax_message_bytes = lots\n", "bad.conf:2: [postdesk] max_message_bytes: 'lots' is not a size" },
    { "[postdesk]\nmax_message_bytes = 10\n", "max_message_bytes: '10' is not a size in bytes between 1024" },
    { "[postdesk]\nsupport_address = support\n", "bad.conf:2: [postdesk] support_address: 'support' is not a mail address" },
    { "[postdesk]\nticket_prefix = SUP-\n", "[postdesk] ticket_prefix: 'SUP-' is not a ticket prefix" },
    { "[staff]\naddresses = bob, alice@example.com\n", "bad.conf:2: [staff] addresses: 'bob' is not a mail address" },
    { "[staff]\ndomains = @example.com\n", "[staff] domains: '@example.com' is not a domain" },
    { "[postdesk]\ndatabase =\n", "[postdesk] database: empty path" },
    { "[postdesk]\nthis line is not a key\n", "bad.conf" },
    { "[postdesk]\n# a comment\nticket_prefix[de] = FALL\n", "bad.conf:3: [postdesk] ticket_prefix[de]: localised keys are not supported" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = write_conf ("bad.conf", cases[i].text);
      pd_config_t *cfg = (pd_config_t *) 0x1;
      GError *err = NULL;
      g_assert_false (pd_config_load (path, &cfg, &err));
      g_assert_null (cfg);
      g_assert_error (err, PD_ERROR, PD_ERROR_CONFIG);
      if (strstr (err->message, cases[i].expected) == NULL)
        g_error ("case %" G_GSIZE_FORMAT ": expected \"%s\" in \"%s\"", i, cases[i].expected, err->message);
      g_assert_cmpint (pd_error_exit_status (err), ==, 2);
      g_error_free (err);
    }
}

static void
test_suggestions_come_from_the_section_and_stay_close (void)
{
  g_assert_cmpstr (pd_config_suggest ("postdesk", "databse"), ==, "database");
  g_assert_cmpstr (pd_config_suggest ("postdesk", "Support_Adress"), ==, "support_address");
  g_assert_cmpstr (pd_config_suggest ("postdesk", "max_mesage_bytes"), ==, "max_message_bytes");
  g_assert_cmpstr (pd_config_suggest ("staff", "adresses"), ==, "addresses");
  g_assert_cmpstr (pd_config_suggest ("staff", "domian"), ==, "domains");
  /* "domains" is a [staff] key, not a [postdesk] one. */
  g_assert_null (pd_config_suggest ("postdesk", "domians"));
  g_assert_null (pd_config_suggest ("postdesk", "colour"));
  g_assert_null (pd_config_suggest ("postdesk", "database"));
  g_assert_cmpstr (pd_config_suggest ("Staf", NULL), ==, "staff");
  g_assert_null (pd_config_suggest ("mailbox", NULL));
}

static void
test_garbage_is_never_echoed_raw_or_long (void)
{
  GString *text = g_string_new ("[postdesk]\nsupport_name = ok\n\033]0;title\007");
  for (int i = 0; i < 5000; i++)
    g_string_append_c (text, 'x');
  g_string_append (text, "\n");
  g_autofree char *path = write_conf ("garbage.conf", text->str);
  g_string_free (text, TRUE);
  pd_config_t *cfg = NULL;
  GError *err = NULL;
  g_assert_false (pd_config_load (path, &cfg, &err));
  g_assert_nonnull (strstr (err->message, "garbage.conf:3: "));
  g_assert_null (strchr (err->message, '\033'));
  g_assert_null (strchr (err->message, '\007'));
  g_assert_cmpuint (strlen (err->message), <, strlen (path) + 200);
  g_clear_error (&err);

  /* A NUL byte ends GKeyFile's reading early; it is named, not skipped. */
  g_autofree char *nul = g_build_filename (pd_test_tmpdir (), "nul.conf", NULL);
  g_assert_true (g_file_set_contents (nul, "[postdesk]\nsupport_name = a\0b\n", 30, NULL));
  g_assert_false (pd_config_load (nul, &cfg, &err));
  g_assert_nonnull (strstr (err->message, "nul.conf:2: a NUL byte"));
  g_error_free (err);
}

static void
test_missing_file_is_a_config_error (void)
{
  g_autofree char *path = g_build_filename (pd_test_tmpdir (), "nope.conf", NULL);
  pd_config_t *cfg = NULL;
  GError *err = NULL;
  g_assert_false (pd_config_load (path, &cfg, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_CONFIG);
  g_assert_nonnull (strstr (err->message, "nope.conf"));
  g_error_free (err);
}

static void
test_find_prefers_the_option_then_the_environment (void)
{
  g_autofree char *a = write_conf ("a.conf", "[postdesk]\n");
  g_autofree char *b = write_conf ("b.conf", "[postdesk]\n");
  g_setenv ("POSTDESK_CONFIG", b, TRUE);
  g_autofree char *found_a = pd_config_find (a, NULL);
  g_assert_cmpstr (found_a, ==, a);
  g_autofree char *found_b = pd_config_find (NULL, NULL);
  g_assert_cmpstr (found_b, ==, b);
  GError *err = NULL;
  g_autofree char *missing = g_build_filename (pd_test_tmpdir (), "missing.conf", NULL);
  g_assert_null (pd_config_find (missing, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_CONFIG);
  g_assert_nonnull (strstr (err->message, "--config"));
  g_clear_error (&err);
  g_setenv ("POSTDESK_CONFIG", missing, TRUE);
  g_assert_null (pd_config_find (NULL, &err));
  g_assert_nonnull (strstr (err->message, "$POSTDESK_CONFIG"));
  g_clear_error (&err);
  g_unsetenv ("POSTDESK_CONFIG");
}

/* [transport] url: a Maildir path resolves against the file's folder,
 * sendmail keeps its absolute path, an SMTP URL comes with its keys
 * (paths resolved too), and tls = none for a server elsewhere is refused
 * with the file, the line and the section. */
static void
test_transport_url (void)
{
  g_autofree char *path = write_conf ("transport.conf", "[postdesk]\n[transport]\nurl = maildir:var/outgoing\n");
  g_autofree char *dir = g_path_get_dirname (path);
  pd_config_t *cfg = NULL;
  GError *err = NULL;
  g_assert_true (pd_config_load (path, &cfg, &err));
  g_assert_no_error (err);
  g_autofree char *expected = g_strconcat ("maildir:", dir, "/var/outgoing", NULL);
  g_assert_cmpstr (cfg->transport_url, ==, expected);
  pd_config_free (cfg);

  g_autofree char *none = write_conf ("no-transport.conf", "[postdesk]\n");
  g_assert_true (pd_config_load (none, &cfg, &err));
  g_assert_null (cfg->transport_url);
  pd_config_free (cfg);

  g_autofree char *smtp = write_conf ("smtp.conf", "[postdesk]\n\n[transport]\nurl = smtp://smtp.example.com:587\n"
                                      "username = support\npassword_file = smtp.pass\nca_file = /etc/ca.pem\n");
  g_assert_true (pd_config_load (smtp, &cfg, &err));
  g_assert_no_error (err);
  g_assert_cmpstr (cfg->transport_url, ==, "smtp://smtp.example.com:587");
  g_assert_cmpstr (cfg->transport_username, ==, "support");
  g_autofree char *pass = g_build_filename (dir, "smtp.pass", NULL);
  g_assert_cmpstr (cfg->transport_password_file, ==, pass);
  g_assert_cmpstr (cfg->transport_ca_file, ==, "/etc/ca.pem");
  g_assert_false (cfg->transport_tls_none);
  g_clear_pointer (&cfg, pd_config_free);

  g_autofree char *plain = write_conf ("plain.conf", "[postdesk]\n\n[transport]\nurl = smtp://smtp.example.com\ntls = none\n");
  g_assert_false (pd_config_load (plain, &cfg, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_CONFIG);
  g_autofree char *message = g_strconcat (plain, ":3: [transport]: tls = none is allowed only for a loopback server", NULL);
  g_assert_true (g_str_has_prefix (err->message, message));
  g_clear_error (&err);
  g_assert_null (cfg);
}

static pd_time_t
at (const char *iso)
{
  pd_time_t t = 0;
  g_assert_true (pd_time_parse (iso, &t, NULL));
  return t;
}

static void
assert_target (const pd_sla_targets_t *t, const char *first, const char *resolution)
{
  g_autofree char *f = t->has_first_response ? pd_sla_duration_format (t->first_response) : NULL;
  g_autofree char *r = t->has_resolution ? pd_sla_duration_format (t->resolution) : NULL;
  g_assert_cmpstr (f, ==, first);
  g_assert_cmpstr (r, ==, resolution);
}

/* The defaults, whether there is no file or a file without SLA sections. */
static void
check_published_sla (const pd_config_t *cfg)
{
  g_assert_cmpstr (cfg->default_plan, ==, "self-hosted");
  g_assert_cmpint (cfg->ack_limit_per_hour, ==, 3);
  g_assert_cmpint (cfg->ack_limit_per_day, ==, 10);
  g_assert_null (cfg->system_addresses[0]);
  g_assert_cmpuint (cfg->calendars->len, ==, 2);
  g_assert_cmpuint (cfg->plans->len, ==, 2);
  g_assert_cmpuint (cfg->customers->len, ==, 0);

  const pd_calendar_t *business = pd_config_calendar (cfg, "business");
  g_assert_nonnull (business);
  g_assert_cmpstr (pd_calendar_timezone (business), ==, "America/Los_Angeles");
  g_autofree char *hours = pd_calendar_hours_text (business);
  g_assert_cmpstr (hours, ==, "Monday to Friday, 9:00\u201317:00 Pacific Time (America/Los_Angeles)");
  g_assert_false (pd_calendar_is_open (business, at ("2026-12-25T10:00:00-08:00")));
  g_assert_false (pd_calendar_is_open (business, at ("2027-01-01T10:00:00-08:00")));
  g_assert_true (pd_calendar_is_open (business, at ("2026-12-24T10:00:00-08:00")));
  const pd_calendar_t *always = pd_config_calendar (cfg, "always");
  g_assert_true (pd_calendar_is_always (always));
  g_assert_cmpstr (pd_calendar_timezone (always), ==, "UTC");

  const pd_config_plan_t *self_hosted = pd_config_plan (cfg, "self-hosted");
  g_assert_true (self_hosted->calendar == business);
  assert_target (&self_hosted->sev1, "24h", "72h");
  assert_target (&self_hosted->sev2, "5d", NULL);
  g_assert_false (self_hosted->oncall);
  const pd_config_plan_t *managed = pd_config_plan (cfg, "managed");
  g_assert_true (managed->calendar == always);
  assert_target (&managed->sev1, "24h", "72h");
  assert_target (&managed->sev2, "5d", NULL);
  g_assert_null (pd_config_plan (cfg, "enterprise-plus"));

  /* The example, through the resolver: a sender of no customer. */
  pd_sla_t sla;
  g_assert_true (pd_config_sla_for (cfg, "ops@stranger.example", &sla));
  g_assert_null (sla.customer);
  g_assert_cmpstr (sla.plan, ==, "self-hosted");
  g_assert_null (sla.customer_timezone);
  pd_time_t start, first, resolution;
  g_assert_true (pd_sla_deadlines (&sla, 1, at ("2026-03-06T16:00:00-08:00"), &start, &first, &resolution));
  g_assert_cmpint (first, ==, at ("2026-03-11T23:00:00Z"));
  g_assert_cmpint (resolution, ==, at ("2026-03-19T16:00:00-07:00"));
  g_assert_true (pd_sla_deadlines (&sla, 2, at ("2026-03-06T16:00:00-08:00"), &start, &first, &resolution));
  g_assert_cmpint (first, ==, at ("2026-03-13T16:00:00-07:00"));
  g_assert_cmpint (resolution, ==, 0);
}

static void
test_sla_defaults_are_the_published_sla (void)
{
  g_autoptr (pd_config_t) defaults = pd_config_new_default ();
  check_published_sla (defaults);
  g_autofree char *path = write_conf ("plain.conf", "[postdesk]\nsupport_name = Help\n");
  g_autoptr (pd_config_t) cfg = NULL;
  GError *err = NULL;
  g_assert_true (pd_config_load (path, &cfg, &err));
  g_assert_no_error (err);
  check_published_sla (cfg);
}

static void
test_the_shipped_example_is_the_built_in_sla (void)
{
  const char *src = g_getenv ("POSTDESK_SRC");
  g_autofree char *path = g_build_filename (src != NULL ? src : ".", "examples", "postdesk.conf", NULL);
  g_autoptr (pd_config_t) cfg = NULL;
  GError *err = NULL;
  g_assert_true (pd_config_load (path, &cfg, &err));
  g_assert_no_error (err);
  check_published_sla (cfg);
}

static const char customers_conf[] =
  "[postdesk]\n"
  "default_plan = managed\n"
  "system_addresses = Monitor@Example.com, billing@example.com\n"
  "ack_limit_per_hour = 5\n"
  "ack_limit_per_day = 0\n"
  "\n"
  "[calendar berlin]\n"
  "timezone = Europe/Berlin\n"
  "hours = Mon-Thu 08:00-12:00 13:00-17:00, Fri 08:00-12:00   # short Fridays\n"
  "holidays_file = holidays/de.ics\n"
  "\n"
  "[plan gold]\n"
  "calendar = berlin\n"
  "sev1_first_response = 4h\n"
  "sev1_resolution = 2d\n"
  "sev2_first_response = 1d\n"
  "sev2_resolution = 10d\n"
  "oncall = yes\n"
  "\n"
  "# The business calendar is replaced whole: no holidays any more.\n"
  "[calendar business]\n"
  "timezone = America/New_York\n"
  "hours = Mon-Fri 09:00-17:00\n"
  "\n"
  "[customer acme]\n"
  "domains = Acme.com, acme.io\n"
  "plan = gold\n"
  "timezone = Asia/Tokyo\n"
  "sev1_first_response = 2h\n"
  "sev2_resolution = 5d\n"
  "\n"
  "[customer globex]\n"
  "addresses = cto@acme.com, ops@globex.example\n"
  "\n"
  "[customer initech]\n"
  "domains = initech.example\n"
  "plan = self-hosted\n";

static void
test_customers_plans_and_overrides_resolve (void)
{
  g_autofree char *dir = g_build_filename (pd_test_tmpdir (), "holidays", NULL);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_autofree char *ics = write_conf ("holidays/de.ics",
                                     "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261003\r\n"
                                     "RRULE:FREQ=YEARLY\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\n"
                                     "DTSTART;VALUE=DATE:20260406\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n");
  g_autofree char *path = write_conf ("customers.conf", customers_conf);
  g_autoptr (pd_config_t) cfg = NULL;
  GError *err = NULL;
  g_assert_true (pd_config_load (path, &cfg, &err));
  g_assert_no_error (err);
  g_assert_cmpstr (cfg->default_plan, ==, "managed");
  g_assert_cmpint (cfg->ack_limit_per_hour, ==, 5);
  g_assert_cmpint (cfg->ack_limit_per_day, ==, 0);
  g_assert_true (pd_config_is_system_address (cfg, "monitor@example.COM"));
  g_assert_true (pd_config_is_system_address (cfg, "billing@example.com"));
  g_assert_false (pd_config_is_system_address (cfg, "someone@example.com"));
  g_assert_cmpuint (cfg->calendars->len, ==, 3);
  g_assert_cmpstr (pd_calendar_timezone (pd_config_calendar (cfg, "business")), ==, "America/New_York");
  /* The file's business calendar has no holidays: Christmas is a working day. */
  g_assert_true (pd_calendar_is_open (pd_config_calendar (cfg, "business"), at ("2026-12-25T10:00:00-05:00")));
  /* The holidays file was found beside the configuration: Easter Monday is off. */
  g_assert_false (pd_calendar_is_open (pd_config_calendar (cfg, "berlin"), at ("2026-04-06T10:00:00+02:00")));

  /* A domain customer, any case, with two overrides on its plan's targets. */
  pd_sla_t sla;
  g_assert_true (pd_config_sla_for (cfg, "Jane@ACME.com", &sla));
  g_assert_cmpstr (sla.customer, ==, "acme");
  g_assert_cmpstr (sla.plan, ==, "gold");
  g_assert_cmpstr (sla.customer_timezone, ==, "Asia/Tokyo");
  g_assert_true (sla.calendar == pd_config_calendar (cfg, "berlin"));
  g_assert_true (sla.oncall);
  assert_target (&sla.sev1, "2h", "2d");
  assert_target (&sla.sev2, "1d", "5d");
  /* The plan itself is untouched by the customer's contract. */
  assert_target (&pd_config_plan (cfg, "gold")->sev1, "4h", "2d");
  /* Overrides count on the plan's calendar: Thursday 11:30 plus 2h is after lunch. */
  pd_time_t first;
  g_assert_true (pd_sla_deadlines (&sla, 1, at ("2026-03-05T11:30:00+01:00"), NULL, &first, NULL));
  g_assert_cmpint (first, ==, at ("2026-03-05T14:30:00+01:00"));

  /* An address listed by one customer wins over another's domain. */
  g_assert_true (pd_config_sla_for (cfg, "CTO@acme.com", &sla));
  g_assert_cmpstr (sla.customer, ==, "globex");
  /* A customer without a plan has the default plan. */
  g_assert_cmpstr (sla.plan, ==, "managed");
  g_assert_null (sla.customer_timezone);
  g_assert_false (sla.oncall);
  assert_target (&sla.sev1, "24h", "72h");
  g_assert_true (pd_config_sla_for (cfg, "ops@globex.example", &sla));
  g_assert_cmpstr (sla.customer, ==, "globex");

  /* A built-in plan named by a customer uses the file's calendar of the same name. */
  g_assert_true (pd_config_sla_for (cfg, "pm@initech.example", &sla));
  g_assert_cmpstr (sla.plan, ==, "self-hosted");
  g_assert_true (sla.calendar == pd_config_calendar (cfg, "business"));

  /* Subdomains and strangers are no customer: the default plan. */
  g_assert_true (pd_config_sla_for (cfg, "x@eu.acme.com", &sla));
  g_assert_null (sla.customer);
  g_assert_cmpstr (sla.plan, ==, "managed");
  g_assert_true (pd_config_sla_for (cfg, NULL, &sla));
  g_assert_null (sla.customer);
  g_assert_null (pd_config_customer_for (cfg, "nobody"));
  g_assert_cmpstr (pd_config_customer (cfg, "initech")->name, ==, "initech");
}

static void
test_sla_mistakes_name_file_line_and_key (void)
{
  static const bad_case_t cases[] = {
    { "[plan gold]\ncalendar = biz\n", "bad.conf:2: [plan gold] calendar: no calendar 'biz' (known: always, business)" },
    { "[customer acme]\ndomains = acme.com\nplan = gold\n", "bad.conf:3: [customer acme] plan: no plan 'gold' (known: managed, self-hosted)" },
    { "[postdesk]\ndefault_plan = gold\n", "bad.conf:2: [postdesk] default_plan: no plan 'gold' (known: managed, self-hosted)" },
    { "[calendar x]\ntimezone = America/Los_Angles\nhours = always\n",
      "bad.conf:2: [calendar x] timezone: unknown time zone 'America/Los_Angles' (a name such as America/Los_Angeles or UTC; is the tzdata package installed?)" },
    { "[customer acme]\ndomains = acme.com\ntimezone = CEST\n", "bad.conf:3: [customer acme] timezone: unknown time zone 'CEST'" },
    { "[plan gold]\ncalendar = always\nsev1_first_response = 4 hours\n",
      "bad.conf:3: [plan gold] sev1_first_response: '4 hours' is not a duration (a whole number and h for working hours, d for working days or m for minutes: 24h, 5d, 30m)" },
    { "[customer acme]\ndomains = acme.com\nsev2_resolution = 0d\n", "bad.conf:3: [customer acme] sev2_resolution: '0d' is not a duration from 1d to 366d" },
    { "[calendar x]\ntimezone = UTC\nhours = Mon-Fri 9-5\n",
      "bad.conf:3: [calendar x] hours: '9-5' is not a time range (HH:MM-HH:MM, e.g. 09:00-17:00)" },
    { "[calendar x]\ntimezone = UTC\nhours = Mon-Fri 09:00-17:00\nholidays = 2026-12-25, 2026-13-01\n",
      "bad.conf:4: [calendar x] holidays: '2026-13-01' is not a date (YYYY-MM-DD, e.g. 2026-12-25)" },
    { "[calendar x]\ntimezone = UTC\nhours = always\nholidays = 2026-12-25\n",
      "bad.conf:4: [calendar x] holidays: an 'always' calendar never closes, so it has no holidays" },
    { "[calendar x]\ntimezone = UTC\nholidays_file = nowhere.ics\nhours = always\n", "bad.conf:3: [calendar x] holidays_file: " },
    { "[calendar x]\ntimezone = UTC\n", "bad.conf:1: [calendar x]: a calendar needs timezone and hours" },
    { "[calendar x]\ntimezone = UTC\nhours = Mon-Fri 09:00-17:00\nhoilday = 2026-12-25\n",
      "bad.conf:4: [calendar x] hoilday: unknown key" },
    { "[calendar x]\ntimezone = UTC\nhours = always\nhoursx = 1\n", "bad.conf:4: [calendar x] hoursx: unknown key; did you mean 'hours'?" },
    { "[plan gold]\nsev1_first_response = 4h\n", "bad.conf:1: [plan gold]: a plan needs a calendar (e.g. calendar = business)" },
    { "[plan gold]\ncalendar = always\noncall = maybe\n", "bad.conf:3: [plan gold] oncall: 'maybe' is not yes or no" },
    { "[plan gold]\ncalendar = always\nsev1_first_respons = 4h\n",
      "bad.conf:3: [plan gold] sev1_first_respons: unknown key; did you mean 'sev1_first_response'?" },
    { "[plan]\ncalendar = always\n", "bad.conf:1: [plan]: a plan needs a name: [plan NAME]" },
    { "[plan gold plus]\ncalendar = always\n", "bad.conf:1: [plan gold plus]: a plan name is one word of letters, digits" },
    { "[calender business]\n", "bad.conf:1: [calender business]: unknown section; did you mean [calendar business]?" },
    { "[postdesk main]\n", "bad.conf:1: [postdesk main]: [postdesk] takes no name" },
    { "[customer acme]\nplan = managed\n", "bad.conf:1: [customer acme]: a customer needs domains or addresses" },
    { "[customer acme]\ndomains = acme\n", "bad.conf:2: [customer acme] domains: 'acme' is not a domain" },
    { "[customer a]\ndomains = acme.com\n[customer b]\naddresses = x@y.com\ndomains = ACME.com\n",
      "bad.conf:5: [customer b] domains: 'acme.com' is already a domain of [customer a]" },
    { "[customer a]\naddresses = x@y.com\n[customer b]\naddresses = X@y.com\n",
      "bad.conf:4: [customer b] addresses: 'x@y.com' is already an address of [customer a]" },
    { "[customer a]\ndomains = gmail.com\n",
      "bad.conf:2: [customer a] domains: 'gmail.com' is a public mail domain (see public_domains)" },
    { "[postdesk]\nsystem_addresses = monitoring\n", "bad.conf:2: [postdesk] system_addresses: 'monitoring' is not a mail address" },
    { "[postdesk]\nack_limit_per_hour = many\n", "bad.conf:2: [postdesk] ack_limit_per_hour: 'many' is not a whole number from 0 to 1000" },
    { "[postdesk]\nack_limit_per_day = -1\n", "bad.conf:2: [postdesk] ack_limit_per_day: '-1' is not a whole number from 0 to 1000" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = write_conf ("bad.conf", cases[i].text);
      pd_config_t *cfg = (pd_config_t *) 0x1;
      GError *err = NULL;
      g_assert_false (pd_config_load (path, &cfg, &err));
      g_assert_null (cfg);
      g_assert_error (err, PD_ERROR, PD_ERROR_CONFIG);
      if (strstr (err->message, cases[i].expected) == NULL)
        g_error ("case %" G_GSIZE_FORMAT ": expected \"%s\" in \"%s\"", i, cases[i].expected, err->message);
      g_error_free (err);
    }
}

static void
test_a_holidays_file_error_names_both_files (void)
{
  g_autofree char *ics = write_conf ("timed.ics",
                                     "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20261225T090000Z\nEND:VEVENT\nEND:VCALENDAR\n");
  g_autofree char *path = write_conf ("ics.conf", "[calendar x]\ntimezone = UTC\nhours = Mon-Fri 09:00-17:00\n"
                                                  "holidays_file = timed.ics\n");
  pd_config_t *cfg = NULL;
  GError *err = NULL;
  g_assert_false (pd_config_load (path, &cfg, &err));
  g_autofree char *expected = g_strdup_printf ("ics.conf:4: [calendar x] holidays_file: %s:3: DTSTART '20261225T090000Z' "
                                               "has a time of day", ics);
  if (strstr (err->message, expected) == NULL)
    g_error ("expected \"%s\" in \"%s\"", expected, err->message);
  g_error_free (err);
}

int
main (int argc, char **argv)
{
  pd_test_init (&argc, &argv);
  g_test_add_func ("/config/full-file-read-paths-resolve", test_full_file_is_read_and_paths_resolve_against_its_folder);
  g_test_add_func ("/config/defaults", test_defaults_when_keys_are_absent);
  g_test_add_func ("/config/public-domains-replace-list", test_public_domains_replace_the_built_in_list);
  g_test_add_func ("/config/support-address-plus", test_support_address_and_its_plus_addresses);
  g_test_add_func ("/config/mistakes-name-file-line-key", test_every_mistake_names_file_line_and_key);
  g_test_add_func ("/config/suggestions", test_suggestions_come_from_the_section_and_stay_close);
  g_test_add_func ("/config/garbage-not-echoed", test_garbage_is_never_echoed_raw_or_long);
  g_test_add_func ("/config/missing-file", test_missing_file_is_a_config_error);
  g_test_add_func ("/config/transport-url", test_transport_url);
  g_test_add_func ("/config/find-order", test_find_prefers_the_option_then_the_environment);
  g_test_add_func ("/config/sla-defaults-are-the-published-sla", test_sla_defaults_are_the_published_sla);
  g_test_add_func ("/config/shipped-example-is-the-built-in-sla", test_the_shipped_example_is_the_built_in_sla);
  g_test_add_func ("/config/customers-plans-overrides", test_customers_plans_and_overrides_resolve);
  g_test_add_func ("/config/sla-mistakes-name-file-line-key", test_sla_mistakes_name_file_line_and_key);
  g_test_add_func ("/config/holidays-file-error-names-both", test_a_holidays_file_error_names_both_files);
  return g_test_run ();
}
