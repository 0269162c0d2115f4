/* test_transport.c - the transports: a Maildir delivery is atomic, synced
 * and never doubled; sendmail gets exactly the argument vector expected,
 * without a shell, and its exit status decides the retry class. The
 * sendmail here is a shell script each test writes into a temporary
 * folder: it records its arguments and input, then exits as told. */
#include "testutil.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include "postdesk/transport.h"

static const char *const ann[] = { "ann@example.org", NULL };

/* A folder no other test uses. (transfer full) */
static char *
fresh_dir (const char *what)
{
  static int n;
  g_autofree char *name = g_strdup_printf ("%s-%d", what, ++n);
  return g_build_filename (pd_test_tmpdir (), name, NULL);
}

static GBytes *
message (const char *message_id)
{
  char *text = g_strdup_printf ("From: support@example.com\r\nTo: ann@example.org\r\n"
                                "Message-ID: <%s>\r\nSubject: [SUP-1] Hello\r\n\r\n"
                                "Line one.\r\nLine two.\r\n", message_id);
  return g_bytes_new_take (text, strlen (text));
}

static pd_transport_t *
open_transport (const char *url)
{
  pd_transport_t *t = NULL;
  GError *err = NULL;
  g_assert_true (pd_transport_open (url, NULL, &t, &err));
  g_assert_no_error (err);
  return t;
}

/* File names in 'dir', sorted. (transfer full) */
static char **
names_in (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  GPtrArray *names = g_ptr_array_new ();
  const char *n;
  while ((n = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (n));
  g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
  g_ptr_array_add (names, NULL);
  return (char **) g_ptr_array_free (names, FALSE);
}

/* ---- URLs --------------------------------------------------------------- */

static void
test_url_check_resolves_paths (void)
{
  GError *err = NULL;
  g_autofree char *url = NULL;
  g_assert_true (pd_transport_url_check ("maildir:var/outgoing", "/srv/desk", &url, &err));
  g_assert_no_error (err);
  g_assert_cmpstr (url, ==, "maildir:/srv/desk/var/outgoing");
  g_clear_pointer (&url, g_free);
  g_assert_true (pd_transport_url_check ("sendmail:/usr/sbin/sendmail", "/srv/desk", &url, &err));
  g_assert_cmpstr (url, ==, "sendmail:/usr/sbin/sendmail");
  g_clear_pointer (&url, g_free);

  /* SMTP URLs are checked in transport_smtp.c (test_transport_smtp.c). */
  g_assert_true (pd_transport_url_check ("smtp://smtp.example.com", "/srv", &url, &err));
  g_assert_cmpstr (url, ==, "smtp://smtp.example.com:587");
  g_clear_pointer (&url, g_free);
  g_assert_false (pd_transport_url_check ("pigeon:/loft", "/srv", &url, &err));
  g_assert_nonnull (strstr (err->message, "unknown transport 'pigeon:'"));
  g_clear_error (&err);
  g_assert_false (pd_transport_url_check ("maildir:", "/srv", &url, &err));
  g_assert_nonnull (strstr (err->message, "needs a path"));
  g_clear_error (&err);
  g_assert_false (pd_transport_url_check ("/var/mail", "/srv", &url, &err));
  g_assert_nonnull (strstr (err->message, "not a transport URL"));
  g_clear_error (&err);
  g_assert_null (url);
}

static void
test_address_rules (void)
{
  g_assert_true (pd_transport_address_ok ("ann@example.org"));
  g_assert_true (pd_transport_address_ok ("a;b$(id)@example.org"));  /* odd but harmless in argv */
  g_assert_false (pd_transport_address_ok ("-oQ/tmp@example.org"));
  g_assert_false (pd_transport_address_ok ("ann@example.org\r\nRCPT TO:<x@y>"));
  g_assert_false (pd_transport_address_ok ("ann example@example.org"));
  g_assert_false (pd_transport_address_ok ("<ann@example.org>"));
  g_assert_false (pd_transport_address_ok ("annexample.org"));
  g_assert_false (pd_transport_address_ok ("ann@b@example.org"));
  g_assert_false (pd_transport_address_ok (""));
  g_assert_false (pd_transport_address_ok (NULL));
  g_autofree char *local = g_strnfill (243, 'a');
  g_autofree char *too_long = g_strconcat (local, "@example.org", NULL);   /* 255 bytes */
  g_assert_false (pd_transport_address_ok (too_long));
  g_autofree char *fits = g_strconcat (local + 1, "@example.org", NULL); /* 254 bytes */
  g_assert_true (pd_transport_address_ok (fits));
}

/* ---- maildir: ------------------------------------------------------------ */

static void
test_maildir_creates_folders_and_delivers_one_synced_file (void)
{
  g_autofree char *dir = fresh_dir ("maildir");
  g_autofree char *url = g_strconcat ("maildir:", dir, NULL);
  g_autoptr (pd_transport_t) t = open_transport (url);
  g_autofree char *tmp = g_build_filename (dir, "tmp", NULL);
  g_autofree char *new_dir = g_build_filename (dir, "new", NULL);
  g_autofree char *cur = g_build_filename (dir, "cur", NULL);
  g_assert_true (g_file_test (tmp, G_FILE_TEST_IS_DIR));
  g_assert_true (g_file_test (cur, G_FILE_TEST_IS_DIR));

  g_autoptr (GBytes) raw = message ("m1@example.com");
  GError *err = NULL;
  g_assert_true (pd_transport_send (t, "support@example.com", ann, "m1@example.com", raw, &err));
  g_assert_no_error (err);

  g_auto (GStrv) in_new = names_in (new_dir);
  g_assert_cmpuint (g_strv_length (in_new), ==, 1);
  g_autofree char *hash = pd_sha256_hex ("m1@example.com", 14);
  g_autofree char *expected = g_strconcat ("postdesk-", hash, NULL);
  g_assert_cmpstr (in_new[0], ==, expected);
  /* Nothing is left half-written in tmp/. */
  g_auto (GStrv) in_tmp = names_in (tmp);
  g_assert_cmpuint (g_strv_length (in_tmp), ==, 0);

  /* The file is the message with local line ends. */
  g_autofree char *path = g_build_filename (new_dir, in_new[0], NULL);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_assert_null (strchr (text, '\r'));
  g_assert_true (g_str_has_prefix (text, "From: support@example.com\nTo: ann@example.org\n"));
  g_assert_true (g_str_has_suffix (text, "\n\nLine one.\nLine two.\n"));
}

static void
test_maildir_delivers_a_message_id_once_even_after_it_was_read (void)
{
  g_autofree char *dir = fresh_dir ("maildir");
  g_autofree char *url = g_strconcat ("maildir:", dir, NULL);
  g_autoptr (pd_transport_t) t = open_transport (url);
  g_autofree char *new_dir = g_build_filename (dir, "new", NULL);
  g_autofree char *cur = g_build_filename (dir, "cur", NULL);
  g_autoptr (GBytes) raw = message ("again@example.com");
  GError *err = NULL;

  /* A crash between "written" and "marked sent" delivers the row again. */
  g_assert_true (pd_transport_send (t, "support@example.com", ann, "again@example.com", raw, &err));
  g_assert_true (pd_transport_send (t, "support@example.com", ann, "again@example.com", raw, &err));
  g_assert_no_error (err);
  g_auto (GStrv) in_new = names_in (new_dir);
  g_assert_cmpuint (g_strv_length (in_new), ==, 1);

  /* A mail reader moved it to cur/ with flags: still there, still once. */
  g_autofree char *from = g_build_filename (new_dir, in_new[0], NULL);
  g_autofree char *seen_name = g_strconcat (in_new[0], ":2,S", NULL);
  g_autofree char *seen = g_build_filename (cur, seen_name, NULL);
  g_assert_cmpint (g_rename (from, seen), ==, 0);
  g_assert_true (pd_transport_send (t, "support@example.com", ann, "again@example.com", raw, &err));
  g_assert_no_error (err);
  g_auto (GStrv) after = names_in (new_dir);
  g_assert_cmpuint (g_strv_length (after), ==, 0);

  /* Another Message-ID is another file. */
  g_autoptr (GBytes) other = message ("other@example.com");
  g_assert_true (pd_transport_send (t, "support@example.com", ann, "other@example.com", other, &err));
  g_auto (GStrv) now = names_in (new_dir);
  g_assert_cmpuint (g_strv_length (now), ==, 1);
}

static void
test_maildir_broken_folder_is_unavailable (void)
{
  g_autofree char *dir = fresh_dir ("maildir");
  g_autofree char *url = g_strconcat ("maildir:", dir, NULL);
  g_autoptr (pd_transport_t) t = open_transport (url);
  /* new/ replaced by a file after the transport opened: no message can be
   * delivered, whoever runs the test (root ignores permissions). */
  g_autofree char *new_dir = g_build_filename (dir, "new", NULL);
  g_assert_cmpint (g_rmdir (new_dir), ==, 0);
  g_assert_true (g_file_set_contents (new_dir, "", 0, NULL));
  g_autoptr (GBytes) raw = message ("ro@example.com");
  GError *err = NULL;
  g_assert_false (pd_transport_send (t, "support@example.com", ann, "ro@example.com", raw, &err));
  g_assert_error (err, PD_TRANSPORT_ERROR, PD_TRANSPORT_ERROR_UNAVAILABLE);
  g_assert_nonnull (strstr (err->message, new_dir));
  g_clear_error (&err);
  g_assert_cmpint (g_unlink (new_dir), ==, 0);
  g_assert_cmpint (g_mkdir (new_dir, 0700), ==, 0);
  /* Whatever that attempt left in tmp/ does not stop the next one. */
  g_assert_true (pd_transport_send (t, "support@example.com", ann, "ro@example.com", raw, &err));
  g_assert_no_error (err);
  g_auto (GStrv) in_new = names_in (new_dir);
  g_assert_cmpuint (g_strv_length (in_new), ==, 1);
}

static void
test_bad_addresses_are_permanent_and_nothing_is_written (void)
{
  g_autofree char *dir = fresh_dir ("maildir");
  g_autofree char *url = g_strconcat ("maildir:", dir, NULL);
  g_autoptr (pd_transport_t) t = open_transport (url);
  g_autoptr (GBytes) raw = message ("bad@example.com");
  GError *err = NULL;
  const char *const injected[] = { "ann@example.org", "x@y\r\nBcc: all@example.org", NULL };
  g_assert_false (pd_transport_send (t, "support@example.com", injected, "bad@example.com", raw, &err));
  g_assert_error (err, PD_TRANSPORT_ERROR, PD_TRANSPORT_ERROR_PERMANENT);
  g_assert_null (strchr (err->message, '\n'));
  g_clear_error (&err);
  g_assert_false (pd_transport_send (t, "-f@example.com", ann, "bad@example.com", raw, &err));
  g_assert_error (err, PD_TRANSPORT_ERROR, PD_TRANSPORT_ERROR_PERMANENT);
  g_clear_error (&err);
  const char *const none[] = { NULL };
  g_assert_false (pd_transport_send (t, "support@example.com", none, "bad@example.com", raw, &err));
  g_assert_error (err, PD_TRANSPORT_ERROR, PD_TRANSPORT_ERROR_PERMANENT);
  g_clear_error (&err);
  g_autofree char *new_dir = g_build_filename (dir, "new", NULL);
  g_auto (GStrv) in_new = names_in (new_dir);
  g_assert_cmpuint (g_strv_length (in_new), ==, 0);
}

/* ---- sendmail: ------------------------------------------------------------- */

/* A fake sendmail in a fresh folder: it writes each argument on its own
 * line to args, its input to input, prints 'says' on stderr and runs
 * 'then' (e.g. "exit 75"). Returns the folder (transfer full); the program
 * is FOLDER/sendmail. */
static char *
fake_sendmail (const char *says, const char *then)
{
  char *dir = fresh_dir ("sendmail");
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_autofree char *script = g_strdup_printf ("#!/bin/sh\n"
                                             "for a in \"$@\"; do printf '%%s\\n' \"$a\"; done > '%s/args'\n"
                                             "cat > '%s/input'\n"
                                             "printf '%%s\\n' '%s' >&2\n"
                                             "%s\n",
                                             dir, dir, says, then);
  g_autofree char *path = g_build_filename (dir, "sendmail", NULL);
  g_assert_true (g_file_set_contents (path, script, -1, NULL));
  g_assert_cmpint (g_chmod (path, 0700), ==, 0);
  return dir;
}

static pd_transport_t *
open_sendmail (const char *dir, guint timeout)
{
  g_autofree char *url = g_strconcat ("sendmail:", dir, "/sendmail", NULL);
  pd_transport_options_t options = { .timeout_seconds = timeout };
  pd_transport_t *t = NULL;
  GError *err = NULL;
  g_assert_true (pd_transport_open (url, &options, &t, &err));
  g_assert_no_error (err);
  return t;
}

static char *
file_in (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return text;
}

static void
test_sendmail_gets_exact_argv_and_lf_message (void)
{
  g_autofree char *dir = fake_sendmail ("", "exit 0");
  g_autoptr (pd_transport_t) t = open_sendmail (dir, 0);
  g_autoptr (GBytes) raw = message ("s1@example.com");
  const char *const two[] = { "ann@example.org", "bob@example.net", NULL };
  GError *err = NULL;
  g_assert_true (pd_transport_send (t, "support@example.com", two, "s1@example.com", raw, &err));
  g_assert_no_error (err);
  g_autofree char *args = file_in (dir, "args");
  g_assert_cmpstr (args, ==, "-i\n-f\nsupport@example.com\n--\nann@example.org\nbob@example.net\n");
  g_autofree char *input = file_in (dir, "input");
  g_assert_null (strchr (input, '\r'));
  g_assert_true (g_str_has_suffix (input, "\n\nLine one.\nLine two.\n"));
}

static void
test_sendmail_shell_characters_reach_argv_literally (void)
{
  g_autofree char *dir = fake_sendmail ("", "exit 0");
  g_autoptr (pd_transport_t) t = open_sendmail (dir, 0);
  g_autoptr (GBytes) raw = message ("s2@example.com");
  g_autofree char *marker = g_build_filename (dir, "pwned", NULL);
  g_autofree char *evil = g_strdup_printf ("a;touch${IFS}%s;$(touch${IFS}%s)`id`@example.org", marker, marker);
  const char *const to[] = { evil, NULL };
  GError *err = NULL;
  g_assert_true (pd_transport_send (t, "support@example.com", to, "s2@example.com", raw, &err));
  g_assert_no_error (err);
  g_autofree char *args = file_in (dir, "args");
  g_autofree char *expected = g_strdup_printf ("-i\n-f\nsupport@example.com\n--\n%s\n", evil);
  g_assert_cmpstr (args, ==, expected);
  g_assert_false (g_file_test (marker, G_FILE_TEST_EXISTS));
}

static void
test_sendmail_exit_75_is_temporary_with_its_words (void)
{
  g_autofree char *dir = fake_sendmail ("queue file write error", "exit 75");
  g_autoptr (pd_transport_t) t = open_sendmail (dir, 0);
  g_autoptr (GBytes) raw = message ("s3@example.com");
  GError *err = NULL;
  g_assert_false (pd_transport_send (t, "support@example.com", ann, "s3@example.com", raw, &err));
  g_assert_error (err, PD_TRANSPORT_ERROR, PD_TRANSPORT_ERROR_TEMPORARY);
  g_assert_nonnull (strstr (err->message, "exited with status 75: queue file write error"));
  g_clear_error (&err);
}

static void
test_sendmail_other_exit_is_permanent (void)
{
  g_autofree char *dir = fake_sendmail ("User unknown", "exit 1");
  g_autoptr (pd_transport_t) t = open_sendmail (dir, 0);
  g_autoptr (GBytes) raw = message ("s4@example.com");
  GError *err = NULL;
  g_assert_false (pd_transport_send (t, "support@example.com", ann, "s4@example.com", raw, &err));
  g_assert_error (err, PD_TRANSPORT_ERROR, PD_TRANSPORT_ERROR_PERMANENT);
  g_assert_nonnull (strstr (err->message, "status 1: User unknown"));
  g_clear_error (&err);
}

static void
test_sendmail_killed_or_too_slow_is_temporary (void)
{
  g_autofree char *killed = fake_sendmail ("", "kill -9 $$");
  g_autoptr (pd_transport_t) t = open_sendmail (killed, 0);
  g_autoptr (GBytes) raw = message ("s5@example.com");
  GError *err = NULL;
  g_assert_false (pd_transport_send (t, "support@example.com", ann, "s5@example.com", raw, &err));
  g_assert_error (err, PD_TRANSPORT_ERROR, PD_TRANSPORT_ERROR_TEMPORARY);
  g_assert_nonnull (strstr (err->message, "signal 9"));
  g_clear_error (&err);

  g_autofree char *slow = fake_sendmail ("", "sleep 30");
  g_autoptr (pd_transport_t) t2 = open_sendmail (slow, 1);
  gint64 start = g_get_monotonic_time ();
  g_assert_false (pd_transport_send (t2, "support@example.com", ann, "s5@example.com", raw, &err));
  g_assert_error (err, PD_TRANSPORT_ERROR, PD_TRANSPORT_ERROR_TEMPORARY);
  g_assert_nonnull (strstr (err->message, "did not finish within 1 seconds"));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);
  g_clear_error (&err);
}

static void
test_sendmail_that_stops_reading_is_not_accepted (void)
{
  /* Exits 0 without reading its input: a large message cannot all be
   * written, so it was not accepted, whatever the status says. */
  g_autofree char *dir = g_build_filename (pd_test_tmpdir (), "sendmail-deaf", NULL);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_autofree char *path = g_build_filename (dir, "sendmail", NULL);
  g_assert_true (g_file_set_contents (path, "#!/bin/sh\nexec 0<&-\nexit 0\n", -1, NULL));
  g_assert_cmpint (g_chmod (path, 0700), ==, 0);
  g_autoptr (pd_transport_t) t = open_sendmail (dir, 0);
  GString *big = g_string_new ("Subject: big\r\n\r\n");
  for (int i = 0; i < 40000; i++)
    g_string_append (big, "0123456789012345678901234567890123456789\r\n");
  g_autoptr (GBytes) raw = g_string_free_to_bytes (big);
  GError *err = NULL;
  g_assert_false (pd_transport_send (t, "support@example.com", ann, "big@example.com", raw, &err));
  g_assert_error (err, PD_TRANSPORT_ERROR, PD_TRANSPORT_ERROR_TEMPORARY);
  g_assert_nonnull (strstr (err->message, "before reading the whole message"));
  g_clear_error (&err);
}

static void
test_sendmail_refuses_bad_addresses_before_starting (void)
{
  g_autofree char *dir = fake_sendmail ("", "exit 0");
  g_autoptr (pd_transport_t) t = open_sendmail (dir, 0);
  g_autoptr (GBytes) raw = message ("s6@example.com");
  const char *const option[] = { "-oQ/tmp/x@example.org", NULL };
  GError *err = NULL;
  g_assert_false (pd_transport_send (t, "support@example.com", option, "s6@example.com", raw, &err));
  g_assert_error (err, PD_TRANSPORT_ERROR, PD_TRANSPORT_ERROR_PERMANENT);
  g_clear_error (&err);
  g_autofree char *args = g_build_filename (dir, "args", NULL);
  g_assert_false (g_file_test (args, G_FILE_TEST_EXISTS));
}

static void
test_sendmail_missing_program_is_unavailable (void)
{
  pd_transport_t *t = NULL;
  GError *err = NULL;
  g_assert_false (pd_transport_open ("sendmail:/nonexistent/sendmail", NULL, &t, &err));
  g_assert_error (err, PD_TRANSPORT_ERROR, PD_TRANSPORT_ERROR_UNAVAILABLE);
  g_assert_null (t);
  g_clear_error (&err);
  pd_transport_free (NULL);
}

int
main (int argc, char **argv)
{
  pd_test_init (&argc, &argv);
  signal (SIGPIPE, SIG_IGN);
  g_test_add_func ("/transport/url/check-resolves-paths",
                   test_url_check_resolves_paths);
  g_test_add_func ("/transport/address-rules", test_address_rules);
  g_test_add_func ("/transport/maildir/creates-folders-and-delivers-one-synced-file",
                   test_maildir_creates_folders_and_delivers_one_synced_file);
  g_test_add_func ("/transport/maildir/delivers-a-message-id-once-even-after-it-was-read",
                   test_maildir_delivers_a_message_id_once_even_after_it_was_read);
  g_test_add_func ("/transport/maildir/broken-folder-is-unavailable", test_maildir_broken_folder_is_unavailable);
  g_test_add_func ("/transport/bad-addresses-are-permanent-and-nothing-is-written",
                   test_bad_addresses_are_permanent_and_nothing_is_written);
  g_test_add_func ("/transport/sendmail/gets-exact-argv-and-lf-message",
                   test_sendmail_gets_exact_argv_and_lf_message);
  g_test_add_func ("/transport/sendmail/shell-characters-reach-argv-literally",
                   test_sendmail_shell_characters_reach_argv_literally);
  g_test_add_func ("/transport/sendmail/exit-75-is-temporary-with-its-words",
                   test_sendmail_exit_75_is_temporary_with_its_words);
  g_test_add_func ("/transport/sendmail/other-exit-is-permanent", test_sendmail_other_exit_is_permanent);
  g_test_add_func ("/transport/sendmail/killed-or-too-slow-is-temporary",
                   test_sendmail_killed_or_too_slow_is_temporary);
  g_test_add_func ("/transport/sendmail/that-stops-reading-is-not-accepted",
                   test_sendmail_that_stops_reading_is_not_accepted);
  g_test_add_func ("/transport/sendmail/refuses-bad-addresses-before-starting",
                   test_sendmail_refuses_bad_addresses_before_starting);
  g_test_add_func ("/transport/sendmail/missing-program-is-unavailable",
                   test_sendmail_missing_program_is_unavailable);
  return g_test_run ();
}
