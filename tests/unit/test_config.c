/* test_config.c - postdesk.conf: defaults, paths, and an error naming file,
 * line and key for every kind of mistake. */
#include <glib/gstdio.h>
#include <string.h>

#include "postdesk/config.h"
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
 * sendmail keeps its absolute path, and SMTP is refused for now with the
 * file, the line and the key. */
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

  g_autofree char *smtp = write_conf ("smtp.conf", "[postdesk]\n\n[transport]\nurl = smtp://smtp.example.com:587\n");
  g_assert_false (pd_config_load (smtp, &cfg, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_CONFIG);
  g_autofree char *message = g_strconcat (smtp, ":4: [transport] url: smtp:// is not available", NULL);
  g_assert_true (g_str_has_prefix (err->message, message));
  g_clear_error (&err);
  g_assert_null (cfg);
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
  return g_test_run ();
}
