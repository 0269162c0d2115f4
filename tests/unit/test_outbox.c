/* test_outbox.c - the values an acknowledgement is written with: deadlines
 * in the calendar's zone and the customer's own, and nothing a sender
 * wrote can add a line to postdesk's text. */
#include <string.h>

#include "postdesk/config.h"
#include "postdesk/outbox.h"
#include "testutil.h"

static pd_config_t *
load (const char *text)
{
  g_autofree char *path = g_build_filename (pd_test_tmpdir (), "outbox.conf", NULL);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  pd_config_t *cfg = NULL;
  GError *err = NULL;
  g_assert_true (pd_config_load (path, &cfg, &err));
  g_assert_no_error (err);
  return cfg;
}

/* Renders 'body' (a template body) for 't'. (transfer full) */
static char *
render (const pd_config_t *cfg, const pd_ticket_t *t, const char *body)
{
  g_autofree char *text = g_strconcat ("Subject: x\n\n", body, NULL);
  g_autoptr (pd_template_t) tmpl = NULL;
  GError *err = NULL;
  g_assert_true (pd_template_parse ("test.tmpl", text, strlen (text), &tmpl, &err));
  g_assert_no_error (err);
  g_autoptr (pd_tvars_t) vars = pd_outbox_ticket_vars (cfg, t, NULL, PD_ACK_NEW, 0);
  g_autoptr (pd_rendered_t) out = NULL;
  g_assert_true (pd_template_render (tmpl, vars, &out, &err));
  g_assert_no_error (err);
  return g_strdup (out->body);
}

static void
test_deadlines_in_both_zones (void)
{
  g_autoptr (pd_config_t) cfg = load ("[postdesk]\n"
                                       "[customer acme]\ndomains = acme.test\nplan = self-hosted\n"
                                       "timezone = Europe/Berlin\n");
  char *tags[] = { "outage", NULL };
  pd_ticket_t t = {
    .id = 7, .subject = "Down", .status = "new", .severity = 1,
    .requester = { .name = "Dana", .address = "dana@acme.test" },
    .customer = "acme", .plan = "self-hosted", .tags = tags,
    /* Friday 16:00 PST, and the deadlines the SLA gives it. */
    .created_at = 1772841600, .clock_started_at = 1772841600,
    .first_response_due = 1773270000, .resolution_due = 1773961200,
  };
  g_autofree char *body = render (cfg, &t, "{{ticket_ref}}|{{first_response_due}}|{{first_response_due_customer}}|"
                                           "{{customer}}|{{#tags}}{{tag}}{{/tags}}|{{^outside_hours}}in hours{{/outside_hours}}\n");
  g_assert_cmpstr (body, ==, "SUP-7|Wednesday 11 March 2026, 16:00 PDT|Thursday 12 March 2026, 00:00 CET|"
                             "acme|outage|in hours\n");
}

/* A name or subject the sender chose cannot put a line of its own into
 * the acknowledgement's body. */
static void
test_sender_values_stay_on_one_line (void)
{
  g_autoptr (pd_config_t) cfg = load ("[postdesk]\n");
  pd_ticket_t t = {
    .id = 1, .subject = "Help\nFirst response by: never", .status = "new", .severity = 2,
    .requester = { .name = "Eve\r\nSeverity: 1", .address = "eve@x.test" },
    .created_at = 1772841600,
  };
  g_autofree char *body = render (cfg, &t, "Hello {{requester_name}}: {{subject}}\n");
  g_assert_cmpstr (body, ==, "Hello Eve  Severity: 1: Help First response by: never\n");
}

/* Arriving outside working hours: the clock starts at the next opening. */
static void
test_outside_hours_says_when_the_clock_starts (void)
{
  g_autoptr (pd_config_t) cfg = load ("[postdesk]\n");
  pd_ticket_t t = {
    .id = 2, .subject = "Q", .status = "new", .severity = 2,
    .requester = { .address = "bob@x.test" },
    /* Saturday 7 March 2026 10:00 PST; Monday 9 March 09:00 PDT. */
    .created_at = 1772906400, .clock_started_at = 1773072000,
  };
  g_autofree char *body = render (cfg, &t, "{{#outside_hours}}from {{clock_starts}}{{/outside_hours}}\n");
  g_assert_cmpstr (body, ==, "from Monday 9 March 2026, 09:00 PDT\n");
}

int
main (int argc, char **argv)
{
  pd_test_init (&argc, &argv);
  g_test_add_func ("/outbox/deadlines-in-both-zones", test_deadlines_in_both_zones);
  g_test_add_func ("/outbox/sender-values-stay-on-one-line", test_sender_values_stay_on_one_line);
  g_test_add_func ("/outbox/outside-hours-says-when-the-clock-starts", test_outside_hours_says_when_the_clock_starts);
  return g_test_run ();
}
