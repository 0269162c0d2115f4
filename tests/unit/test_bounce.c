/* test_bounce.c - delivery-failure reports as real mail servers send them
 * (tests/corpus/bounces/), what postdesk reads from them, and the mail
 * that only looks like one: a customer's pasted or forwarded bounce, a
 * human postmaster, a delay warning, a read receipt. */
#include <string.h>

#include "postdesk/bounces.h"
#include "postdesk/mime.h"
#include "testutil.h"

/* ---- Helpers --------------------------------------------------------------- */

static pd_message_t *
parse_bounce_file (const char *name)
{
  g_autofree char *path = g_strconcat ("bounces/", name, NULL);
  g_autoptr (GBytes) raw = pd_test_corpus (path);
  gsize len;
  const char *data = g_bytes_get_data (raw, &len);
  GError *err = NULL;
  pd_message_t *msg = pd_mime_parse (data, len, 0, &err);
  g_assert_no_error (err);
  g_assert_nonnull (msg);
  return msg;
}

static pd_message_t *
parse_text (const char *text)
{
  GError *err = NULL;
  pd_message_t *msg = pd_mime_parse (text, strlen (text), 0, &err);
  g_assert_no_error (err);
  g_assert_nonnull (msg);
  return msg;
}

/* A bounce carries its detail and keeps bounced_message_id, which
 * threading reads, equal to the detail's original_message_id. */
static const pd_bounce_detail_t *
assert_bounce (const pd_message_t *msg)
{
  g_assert_true (msg->bounce);
  g_assert_nonnull (msg->bounce_detail);
  g_assert_cmpstr (msg->bounced_message_id, ==, msg->bounce_detail->original_message_id);
  return msg->bounce_detail;
}

static void
assert_not_bounce (const pd_message_t *msg, const char *name)
{
  if (msg->bounce)
    g_error ("%s: taken for a bounce", name);
  g_assert_null (msg->bounce_detail);
  g_assert_null (msg->bounced_message_id);
}

/* ---- Machine-readable reports ---------------------------------------------- */

static void
test_postfix_report_gives_every_detail (void)
{
  g_autoptr (pd_message_t) msg = parse_bounce_file ("postfix-report.eml");
  const pd_bounce_detail_t *d = assert_bounce (msg);
  g_assert_cmpstr (d->recipient, ==, "kim.osei@northwind.example");
  g_assert_cmpstr (d->status, ==, "5.1.1");
  /* The "smtp;" type is dropped and the folded Diagnostic-Code unfolded. */
  g_assert_cmpstr (d->diagnostic, ==,
                   "550 5.1.1 <kim.osei@northwind.example>: Recipient address rejected: User unknown in virtual "
                   "mailbox table");
  g_assert_cmpstr (d->original_message_id, ==, "ticket-2001-3@helpdesk.example.com");
}

static void
test_report_nested_below_a_gateway_counts (void)
{
  /* A security gateway wrapped the report in multipart/mixed, changed the
   * subject and dropped Return-Path: the report part alone decides. */
  g_autoptr (pd_message_t) msg = parse_bounce_file ("postfix-report-behind-gateway.eml");
  const pd_bounce_detail_t *d = assert_bounce (msg);
  g_assert_cmpstr (d->recipient, ==, "ops@fabrikam.example");
  g_assert_cmpstr (d->status, ==, "5.2.2");
  g_assert_cmpstr (d->diagnostic, ==, "maildir delivery failed: mailbox full");
  g_assert_cmpstr (d->original_message_id, ==, "ticket-2002-1@helpdesk.example.com");
}

static void
test_general_status_gives_way_to_the_specific_one (void)
{
  /* Exim's report says 5.0.0; its diagnostic has the real 5.1.1. */
  g_autoptr (pd_message_t) msg = parse_bounce_file ("exim-failed-recipients.eml");
  const pd_bounce_detail_t *d = assert_bounce (msg);
  g_assert_cmpstr (d->status, ==, "5.1.1");
  /* Courier's 5.0.0 has nothing more specific beside it and stays. */
  g_autoptr (pd_message_t) courier = parse_bounce_file ("courier-dsn.eml");
  g_assert_cmpstr (assert_bounce (courier)->status, ==, "5.0.0");
  g_assert_cmpstr (courier->bounce_detail->diagnostic, ==, "550 User unknown");
}

static void
test_a_mail_system_with_a_real_return_path_still_reports (void)
{
  /* Amazon SES sends its reports with its own envelope sender; the report
   * part from MAILER-DAEMON is what counts. */
  g_autoptr (pd_message_t) msg = parse_bounce_file ("amazon-ses-bounce.eml");
  const pd_bounce_detail_t *d = assert_bounce (msg);
  g_assert_cmpstr (d->recipient, ==, "no-longer-here@retailer.example");
  g_assert_cmpstr (d->original_message_id, ==, "ticket-2017-1@helpdesk.example.com");
}

static void
test_feedback_report_names_the_complainer (void)
{
  g_autoptr (pd_message_t) msg = parse_bounce_file ("feedback-loop-complaint.eml");
  const pd_bounce_detail_t *d = assert_bounce (msg);
  g_assert_cmpstr (d->recipient, ==, "angry.reader@isp-mail.example");
  g_assert_null (d->status);
  g_assert_cmpstr (d->diagnostic, ==, "Feedback-Type: abuse");
  g_assert_cmpstr (d->original_message_id, ==, "ticket-2023-1@helpdesk.example.com");
}

/* ---- Plain-text reports ------------------------------------------------------ */

static void
test_plain_text_reports_give_their_details (void)
{
  static const struct {
    const char *file, *recipient, *status, *diagnostic, *original;
  } cases[] = {
    { "qmail-failure-notice.eml", "info@tinyhost.example", "5.1.1",
      "192.0.2.77 does not like recipient. Remote host said: 550 5.1.1 <info@tinyhost.example>: Recipient "
      "address rejected Giving up on 192.0.2.77.",
      "ticket-2007-1@helpdesk.example.com" },
    { "sendmail-plain-text.eml", "jmeyer@oldhost.example", "5.1.1",
      "550 5.1.1 jmeyer@oldhost.example... User unknown", "ticket-2004-1@helpdesk.example.com" },
    { "exim-plain-german.eml", "t.huber@alpenwerk.example", NULL, "Mailbox ist voll",
      "ticket-2006-2@helpdesk.example.com" },
    { "domino-delivery-failure.eml", "hans.keller@maschinenbau-keller.example", NULL,
      "User hans.keller (hans.keller@maschinenbau-keller.example) not listed in Domino Directory",
      "ticket-2019-1@helpdesk.example.com" },
    { "carrier-gateway.eml", "5550142233@txt.carrier.example", NULL,
      "Your message to 5550142233@txt.carrier.example could not be delivered: the subscriber is not "
      "enabled for email-to-text messaging.",
      NULL },
    { "exchange-unzustellbar.eml", "m.wagner@kanzlei-wagner.example", "5.1.1",
      "Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'",
      "ticket-2010-2@helpdesk.example.com" },
    { "exchange-haishin-funou.eml", "tanaka@shouji.example", "5.1.1",
      "Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'",
      "ticket-2013-1@helpdesk.example.com" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("%s", cases[i].file);
      g_autoptr (pd_message_t) msg = parse_bounce_file (cases[i].file);
      const pd_bounce_detail_t *d = assert_bounce (msg);
      g_assert_cmpstr (d->recipient, ==, cases[i].recipient);
      g_assert_cmpstr (d->status, ==, cases[i].status);
      g_assert_cmpstr (d->diagnostic, ==, cases[i].diagnostic);
      g_assert_cmpstr (d->original_message_id, ==, cases[i].original);
    }
}

static void
test_status_codes_are_not_read_from_addresses_or_versions (void)
{
  /* "10.5.1.1" is an address, "Exim 4.96" a version, "2.5.1.1.2" a
   * dotted number: the code is the 5.7.1 in the server's reply. */
  static const char text[] = "Return-Path: <>\n"
                             "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\n"
                             "Subject: Mail delivery failed: returning message to sender\n"
                             "\n"
                             "Exim 4.96 at mx.example.org (v 2.5.1.1.2) could not deliver to:\n"
                             "  bob@example.net\n"
                             "    host 10.5.1.1 said: 550 5.7.1 relaying denied\n";
  g_autoptr (pd_message_t) msg = parse_text (text);
  const pd_bounce_detail_t *d = assert_bounce (msg);
  g_assert_cmpstr (d->recipient, ==, "bob@example.net");
  g_assert_cmpstr (d->status, ==, "5.7.1");
  g_assert_cmpstr (d->diagnostic, ==, "host 10.5.1.1 said: 550 5.7.1 relaying denied");
  g_assert_null (d->original_message_id);
}

static void
test_a_mail_system_saying_it_failed_is_enough (void)
{
  /* No report part, no known subject, no Return-Path recorded: a sender
   * called "Mail Delivery System" that says the mail was not delivered. */
  static const char text[] = "From: Mail Delivery System <mailer-daemon@relay.example.org>\n"
                             "To: support@helpdesk.example.com\n"
                             "Subject: Notification\n"
                             "\n"
                             "Your mail to carol@example.net was not delivered.\n";
  g_autoptr (pd_message_t) msg = parse_text (text);
  g_assert_cmpstr (assert_bounce (msg)->recipient, ==, "carol@example.net");

  /* The same words under a null Return-Path from a person (a vacation
   * program) are not enough. */
  static const char person[] = "Return-Path: <>\n"
                               "From: Carol <carol@example.net>\n"
                               "Subject: Away\n"
                               "\n"
                               "Your mail was not delivered to my desk: I am away.\n";
  g_autoptr (pd_message_t) away = parse_text (person);
  assert_not_bounce (away, "a vacation reply");
}

static void
test_details_are_one_bounded_line_of_utf8 (void)
{
  /* A diagnostic of 3,000 bytes of two-byte characters is cut at a
   * character boundary, within the bound. */
  GString *text = g_string_new ("Return-Path: <>\n"
                                "From: MAILER-DAEMON@mx.example.org\n"
                                "Subject: Undelivered Mail Returned to Sender\n"
                                "MIME-Version: 1.0\n"
                                "Content-Type: multipart/report; report-type=delivery-status; boundary=b\n"
                                "\n--b\nContent-Type: message/delivery-status\n\n"
                                "Final-Recipient: rfc822; dora@example.net\nAction: failed\nStatus: 5.3.0\n"
                                "Diagnostic-Code: smtp; 550 ");
  for (int i = 0; i < 1500; i++)
    g_string_append (text, "é");
  g_string_append (text, "\n\n--b--\n");
  g_autoptr (pd_message_t) msg = parse_text (text->str);
  g_string_free (text, TRUE);
  const pd_bounce_detail_t *d = assert_bounce (msg);
  g_assert_cmpuint (strlen (d->diagnostic), <=, 500);
  g_assert_true (g_str_has_prefix (d->diagnostic, "550 éé"));
  g_assert_true (g_utf8_validate (d->diagnostic, -1, NULL));

  static const char *const files[] = {
    "postfix-report.eml", "qmail-failure-notice.eml", "office365-ndr.eml", "exchange-non-remis.eml",
    "gmail-dsn-failure.eml", "opensmtpd-error.eml", "yahoo-failure-notice.eml",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autoptr (pd_message_t) m = parse_bounce_file (files[i]);
      const pd_bounce_detail_t *bd = assert_bounce (m);
      g_assert_nonnull (bd->diagnostic);
      g_assert_null (strchr (bd->diagnostic, '\n'));
      g_assert_true (g_utf8_validate (bd->diagnostic, -1, NULL));
    }
}

/* ---- What is not a bounce ------------------------------------------------------ */

static void
test_look_alikes_are_not_bounces (void)
{
  static const char *const files[] = {
    "not-customer-pasted-bounce.eml",                /* a person pasted one in the text */
    "not-customer-forwarded-bounce-attachment.eml",  /* ... or attached it: never entered */
    "not-customer-undeliverable-subject-attachment.eml",
    "not-human-postmaster.eml",                      /* postmaster@, but a real Return-Path */
    "not-delay-warning.eml",                         /* Action: delayed */
    "not-success-notification.eml",                  /* Action: relayed */
    "not-read-receipt.eml",                          /* a disposition notification */
    "not-customer-reply-quoting-ndr.eml",
    "not-vacation-null-return-path.eml",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autoptr (pd_message_t) msg = parse_bounce_file (files[i]);
      assert_not_bounce (msg, files[i]);
    }
}

static void
test_a_delay_warning_without_a_report_is_not_a_bounce (void)
{
  static const char text[] = "Return-Path: <>\n"
                             "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.org>\n"
                             "Subject: Warning: could not send message for past 4 hours\n"
                             "\n"
                             "Your message could not be delivered to ed@example.net for 4 hours.\n"
                             "Will keep trying until the message is 5 days old.\n";
  g_autoptr (pd_message_t) msg = parse_text (text);
  assert_not_bounce (msg, "a Sendmail delay warning");
}

/* Only a failure that says it is permanent suppresses an address: a
 * wrong suppression silences a customer, a missed one costs a bounce. */
static void
test_permanent_failures_are_5xx_only (void)
{
  g_assert_true (pd_bounce_is_permanent ("5.1.1", NULL));
  g_assert_true (pd_bounce_is_permanent ("5.7.1", "451 4.7.1 greylisted"));  /* the status decides */
  g_assert_false (pd_bounce_is_permanent ("4.2.2", "552 mailbox full"));
  g_assert_false (pd_bounce_is_permanent ("2.0.0", NULL));
  /* Without a status, the diagnostic's SMTP reply or enhanced code. */
  g_assert_true (pd_bounce_is_permanent (NULL, "smtp; 550 User unknown"));
  g_assert_true (pd_bounce_is_permanent (NULL, "550-5.1.1 The email account does not exist"));
  g_assert_true (pd_bounce_is_permanent (NULL, "Remote server said: mailbox unavailable (5.1.1)."));
  g_assert_false (pd_bounce_is_permanent (NULL, "smtp; 451 try again later"));
  g_assert_false (pd_bounce_is_permanent (NULL, "connect to 10.5.1.1 timed out"));
  g_assert_false (pd_bounce_is_permanent (NULL, "host 5.1.1.2 said nothing"));
  g_assert_false (pd_bounce_is_permanent (NULL, "mailbox unavailable"));
  g_assert_false (pd_bounce_is_permanent (NULL, NULL));
  g_assert_false (pd_bounce_is_permanent ("", NULL));
}

static void
test_suppression_reason_names_the_failure (void)
{
  pd_suppression_t s = { .status = (char *) "5.1.1", .diagnostic = (char *) "550 5.1.1 User unknown" };
  g_autofree char *full = pd_bounce_suppression_reason (&s);
  g_assert_cmpstr (full, ==, "the address is suppressed after a bounce: 5.1.1 550 5.1.1 User unknown");
  pd_suppression_t bare = { 0 };
  g_autofree char *none = pd_bounce_suppression_reason (&bare);
  g_assert_cmpstr (none, ==, "the address is suppressed after a bounce: a permanent failure");
}

int
main (int argc, char **argv)
{
  pd_test_init (&argc, &argv);
  g_test_add_func ("/bounce/report/postfix", test_postfix_report_gives_every_detail);
  g_test_add_func ("/bounce/report/nested", test_report_nested_below_a_gateway_counts);
  g_test_add_func ("/bounce/report/specific-status", test_general_status_gives_way_to_the_specific_one);
  g_test_add_func ("/bounce/report/real-return-path", test_a_mail_system_with_a_real_return_path_still_reports);
  g_test_add_func ("/bounce/report/feedback", test_feedback_report_names_the_complainer);
  g_test_add_func ("/bounce/text/details", test_plain_text_reports_give_their_details);
  g_test_add_func ("/bounce/text/status-codes", test_status_codes_are_not_read_from_addresses_or_versions);
  g_test_add_func ("/bounce/text/mail-system-sentences", test_a_mail_system_saying_it_failed_is_enough);
  g_test_add_func ("/bounce/detail/bounded", test_details_are_one_bounded_line_of_utf8);
  g_test_add_func ("/bounce/not/look-alikes", test_look_alikes_are_not_bounces);
  g_test_add_func ("/bounce/not/delay-warning", test_a_delay_warning_without_a_report_is_not_a_bounce);
  g_test_add_func ("/bounce/permanent/5xx-only", test_permanent_failures_are_5xx_only);
  g_test_add_func ("/bounce/permanent/suppression-reason", test_suppression_reason_names_the_failure);
  return g_test_run ();
}
