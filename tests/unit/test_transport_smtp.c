/* test_transport_smtp.c - what the SMTP transport accepts before it ever
 * connects: the URL forms and their normalization, the option rules
 * (tls = none on loopback only, no AUTH without TLS, username and
 * password_file together) and the password file's checks. Delivery
 * itself is tested against real servers in tests/e2e/38-smtp.t. */
#include "testutil.h"

#include <glib/gstdio.h>
#include <string.h>

#include "postdesk/transport.h"

static void
url_ok (const char *url, const char *normalized)
{
  g_autofree char *got = NULL;
  GError *err = NULL;
  g_assert_true (pd_transport_url_check (url, "/srv", &got, &err));
  g_assert_no_error (err);
  g_assert_cmpstr (got, ==, normalized);
}

static void
url_refused (const char *url, const char *words)
{
  g_autofree char *got = NULL;
  GError *err = NULL;
  g_assert_false (pd_transport_url_check (url, "/srv", &got, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_CONFIG);
  if (strstr (err->message, words) == NULL)
    g_error ("%s: '%s' does not say '%s'", url, err->message, words);
  g_assert_null (got);
  g_error_free (err);
}

static void
test_urls (void)
{
  url_ok ("smtp://smtp.example.com", "smtp://smtp.example.com:587");
  url_ok ("smtps://SMTP.Example.com/", "smtps://smtp.example.com:465");
  url_ok ("smtp://mail.example.com:25", "smtp://mail.example.com:25");
  url_ok ("smtp://127.0.0.1:2525", "smtp://127.0.0.1:2525");
  url_ok ("smtps://[::1]:4650", "smtps://[::1]:4650");
  url_ok ("smtp://[2001:db8::1]", "smtp://[2001:db8::1]:587");
  url_refused ("smtp://support:secret@smtp.example.com", "not in the URL");
  url_refused ("smtp:smtp.example.com", "needs a server");
  url_refused ("smtp://", "is not a server");
  url_refused ("smtp://smtp.example.com:0", "is not a port");
  url_refused ("smtp://smtp.example.com:65536", "is not a port");
  url_refused ("smtp://smtp.example.com:x", "is not a port");
  url_refused ("smtp://smtp.example.com/path", "a server and a port only");
  url_refused ("smtp://smtp.example.com?x=1", "a server and a port only");
  url_refused ("smtp://smtp example.com", "is not a server");
  url_refused ("smtp://[::1", "is not a server");
  url_refused ("smtp://[not-v6]:25", "is not a server");
  url_refused ("smtp://a\r\nb", "is not a server");
}

static void
options_refused (const char *url, const pd_transport_options_t *o, const char *words)
{
  GError *err = NULL;
  g_assert_false (pd_transport_options_check (url, o, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_CONFIG);
  if (strstr (err->message, words) == NULL)
    g_error ("%s: '%s' does not say '%s'", url, err->message, words);
  g_error_free (err);
}

static void
test_options (void)
{
  GError *err = NULL;
  pd_transport_options_t plain = { .tls_none = true };
  g_assert_true (pd_transport_options_check ("smtp://127.0.0.1:2525", &plain, &err));
  g_assert_true (pd_transport_options_check ("smtp://localhost:2525", &plain, &err));
  g_assert_true (pd_transport_options_check ("smtp://[::1]:2525", &plain, &err));
  g_assert_no_error (err);
  options_refused ("smtp://smtp.example.com:587", &plain, "only for a loopback server");
  options_refused ("smtp://10.0.0.1:25", &plain, "only for a loopback server");
  options_refused ("smtps://127.0.0.1:465", &plain, "contradicts smtps://");
  pd_transport_options_t plain_auth = { .tls_none = true, .username = "u", .password_file = "/p" };
  options_refused ("smtp://127.0.0.1:2525", &plain_auth, "AUTH is never sent in clear");
  pd_transport_options_t no_password = { .username = "u" };
  options_refused ("smtp://smtp.example.com", &no_password, "username is set but password_file is not");
  pd_transport_options_t no_user = { .password_file = "/p" };
  options_refused ("smtp://smtp.example.com", &no_user, "password_file is set but username is not");
  pd_transport_options_t ca = { .ca_file = "/etc/ca.pem" };
  g_assert_true (pd_transport_options_check ("smtp://smtp.example.com:587", &ca, &err));
  options_refused ("maildir:/srv/out", &ca, "for smtp:// and smtps:// only");
  g_assert_true (pd_transport_options_check ("maildir:/srv/out", NULL, &err));
  g_assert_no_error (err);
}

/* The password file is read at open: refused when anyone may read it,
 * empty, or missing; the error never quotes what the file holds. */
static void
test_password_file (void)
{
  g_autofree char *path = g_build_filename (pd_test_tmpdir (), "smtp.pass", NULL);
  pd_transport_options_t o = { .username = "support", .password_file = path };
  pd_transport_t *t = NULL;
  GError *err = NULL;

  g_assert_true (g_file_set_contents (path, "Secret-Word\nsecond line\n", -1, NULL));
  g_assert_cmpint (g_chmod (path, 0644), ==, 0);
  g_assert_false (pd_transport_open ("smtp://smtp.example.com:587", &o, &t, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_CONFIG);
  g_assert_nonnull (strstr (err->message, "may be read or changed by anyone (mode 0644)"));
  g_assert_null (strstr (err->message, "Secret"));
  g_assert_null (t);
  g_clear_error (&err);

  /* Owner and group only: opened, and nothing is connected yet. */
  g_assert_cmpint (g_chmod (path, 0640), ==, 0);
  g_assert_true (pd_transport_open ("smtp://smtp.example.com:587", &o, &t, &err));
  g_assert_no_error (err);
  g_assert_cmpstr (pd_transport_url (t), ==, "smtp://smtp.example.com:587");
  pd_transport_end_batch (t);   /* nothing to end: harmless */
  g_clear_pointer (&t, pd_transport_free);

  g_assert_true (g_file_set_contents (path, "\nSecret-Word\n", -1, NULL));
  g_assert_cmpint (g_chmod (path, 0600), ==, 0);
  g_assert_false (pd_transport_open ("smtp://smtp.example.com:587", &o, &t, &err));
  g_assert_nonnull (strstr (err->message, "its first line is empty"));
  g_assert_null (strstr (err->message, "Secret"));
  g_clear_error (&err);

  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_false (pd_transport_open ("smtp://smtp.example.com:587", &o, &t, &err));
  g_assert_error (err, PD_ERROR, PD_ERROR_CONFIG);
  g_assert_nonnull (strstr (err->message, path));
  g_clear_error (&err);
}

int
main (int argc, char **argv)
{
  pd_test_init (&argc, &argv);
  g_test_add_func ("/transport-smtp/urls", test_urls);
  g_test_add_func ("/transport-smtp/options", test_options);
  g_test_add_func ("/transport-smtp/password-file", test_password_file);
  return g_test_run ();
}
