/* test_sla.c - the SLA clock: working calendars, deadlines and their words,
 * pinned case by case against dates read off a wall calendar. */
#include <string.h>

#include "postdesk/sla.h"
#include "testutil.h"

/* The business calendar: Pacific Time, Monday to Friday 9 to 5,
 * closed on Christmas Day and New Year's Day. */
static const char *const business_holidays[] = { "2026-12-25", "2027-01-01", NULL };

/* A team's holiday file as calendar programs export it: CRLF lines, a
 * folded line, a yearly day off, a yearly one for two years only, a
 * two-day closure, a timezone block and an alarm inside an event. */
static const char holidays_ics[] =
  "BEGIN:VCALENDAR\r\n"
  "VERSION:2.0\r\n"
  "PRODID:-//Example//Holidays//EN\r\n"
  "BEGIN:VTIMEZONE\r\n"
  "TZID:America/Los_Angeles\r\n"
  "BEGIN:STANDARD\r\n"
  "DTSTART:19701101T020000\r\n"
  "END:STANDARD\r\n"
  "END:VTIMEZONE\r\n"
  "BEGIN:VEVENT\r\n"
  "UID:founders-day@example.com\r\n"
  "SUMMARY:Founders' day\r\n"
  "DTSTART;VALUE=DATE:20200914\r\n"
  "RRULE:FREQ=YEARLY\r\n"
  "END:VEVENT\r\n"
  "BEGIN:VEVENT\r\n"
  "UID:anniversary@example.com\r\n"
  "DTSTART;VALUE=DATE:20250610\r\n"
  "DTEND;VALUE=DATE:20250611\r\n"
  "RRULE:FREQ=YEARLY;COUNT=2\r\n"
  "BEGIN:VALARM\r\n"
  "TRIGGER:-PT15M\r\n"
  "ACTION:DISPLAY\r\n"
  "END:VALARM\r\n"
  "END:VEVENT\r\n"
  "BEGIN:VEVENT\r\n"
  "UID:thanksgiving-2026@example.com\r\n"
  "SUMMARY:Thanksgiving and the day after, a summary long enough to be\r\n"
  "  folded\r\n"
  "DTSTART;VALUE=DATE:2026\r\n"
  " 1126\r\n"
  "DTEND;VALUE=DATE:20261128\r\n"
  "END:VEVENT\r\n"
  "END:VCALENDAR\r\n";

/* Six weeks closed: 1 July to 11 August 2026, reopening Wednesday 12. */
static const char closure_ics[] =
  "BEGIN:VCALENDAR\n"
  "BEGIN:VEVENT\n"
  "DTSTART;VALUE=DATE:20260701\n"
  "DTEND;VALUE=DATE:20260812\n"
  "END:VEVENT\n"
  "END:VCALENDAR\n";

static char *
write_file (const char *name, const char *text)
{
  char *path = g_build_filename (pd_test_tmpdir (), name, NULL);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  return path;
}

static pd_time_t
at (const char *iso)
{
  pd_time_t t = 0;
  GError *err = NULL;
  if (!pd_time_parse (iso, &t, &err))
    g_error ("bad time in the test itself: %s: %s", iso, err->message);
  return t;
}

static pd_sla_duration_t
dur (const char *text)
{
  pd_sla_duration_t d;
  GError *err = NULL;
  if (!pd_sla_duration_parse (text, &d, &err))
    g_error ("bad duration in the test itself: %s", err->message);
  return d;
}

typedef enum { CAL_BUSINESS, CAL_ICS, CAL_CLOSURE, CAL_BERLIN_SPLIT, CAL_ALWAYS, N_CALS } cal_id_t;

static pd_calendar_t *cals[N_CALS];

static void
build_calendars (void)
{
  g_autofree char *ics = write_file ("holidays.ics", holidays_ics);
  g_autofree char *closure = write_file ("closure.ics", closure_ics);
  GError *err = NULL;
  g_assert_true (pd_calendar_new ("business", "America/Los_Angeles", "Mon-Fri 09:00-17:00", business_holidays,
                                  NULL, &cals[CAL_BUSINESS], &err));
  g_assert_no_error (err);
  g_assert_true (pd_calendar_new ("ics", "America/Los_Angeles", "Mon-Fri 09:00-17:00", NULL, ics, &cals[CAL_ICS],
                                  &err));
  g_assert_no_error (err);
  g_assert_true (pd_calendar_new ("summer", "America/Los_Angeles", "mon-fri 9:00-17:00", NULL, closure,
                                  &cals[CAL_CLOSURE], &err));
  g_assert_no_error (err);
  g_assert_true (pd_calendar_new ("berlin", "Europe/Berlin", "Mon-Thu 08:00-12:00 13:00-17:00, Fri 08:00-12:00",
                                  NULL, NULL, &cals[CAL_BERLIN_SPLIT], &err));
  g_assert_no_error (err);
  g_assert_true (pd_calendar_new ("always", "UTC", "always", NULL, NULL, &cals[CAL_ALWAYS], &err));
  g_assert_no_error (err);
}

typedef struct {
  const char *what;
  cal_id_t cal;
  const char *arrival;
  const char *duration;
  const char *clock_start; /* expected */
  const char *deadline;    /* expected */
} deadline_case_t;

static const deadline_case_t deadline_cases[] = {
  /* The example: Severity 1 of a self-hosted customer. */
  { "issue example: first response 24h", CAL_BUSINESS, "2026-03-06T16:00:00-08:00", "24h",
    "2026-03-06T16:00:00-08:00", "2026-03-11T16:00:00-07:00" },
  { "issue example: first response is 23:00 UTC", CAL_BUSINESS, "2026-03-06T16:00:00-08:00", "24h",
    "2026-03-07T00:00:00Z", "2026-03-11T23:00:00Z" },
  { "issue example: resolution 72h", CAL_BUSINESS, "2026-03-06T16:00:00-08:00", "72h",
    "2026-03-06T16:00:00-08:00", "2026-03-19T16:00:00-07:00" },
  { "issue example: Severity 2 first response 5d, one business week", CAL_BUSINESS, "2026-03-06T16:00:00-08:00",
    "5d", "2026-03-06T16:00:00-08:00", "2026-03-13T16:00:00-07:00" },

  /* Inside, before and after hours. */
  { "inside hours: same day", CAL_BUSINESS, "2026-03-03T10:00:00-08:00", "4h",
    "2026-03-03T10:00:00-08:00", "2026-03-03T14:00:00-08:00" },
  { "ends exactly at closing: that closing, not the next opening", CAL_BUSINESS, "2026-03-03T10:00:00-08:00", "7h",
    "2026-03-03T10:00:00-08:00", "2026-03-03T17:00:00-08:00" },
  { "one minute more spills into the next morning", CAL_BUSINESS, "2026-03-03T10:00:00-08:00", "421m",
    "2026-03-03T10:00:00-08:00", "2026-03-04T09:01:00-08:00" },
  { "arrival exactly at opening: the clock starts then", CAL_BUSINESS, "2026-03-02T09:00:00-08:00", "8h",
    "2026-03-02T09:00:00-08:00", "2026-03-02T17:00:00-08:00" },
  { "arrival exactly at closing: the clock starts next morning", CAL_BUSINESS, "2026-03-02T17:00:00-08:00", "1h",
    "2026-03-03T09:00:00-08:00", "2026-03-03T10:00:00-08:00" },
  { "arrival before hours: the clock starts at opening", CAL_BUSINESS, "2026-03-02T07:30:00-08:00", "30m",
    "2026-03-02T09:00:00-08:00", "2026-03-02T09:30:00-08:00" },
  { "Friday evening: Monday morning, three days end at Wednesday's closing", CAL_BUSINESS,
    "2026-03-13T18:30:00-07:00", "24h", "2026-03-16T09:00:00-07:00", "2026-03-18T17:00:00-07:00" },
  { "Saturday: Monday morning", CAL_BUSINESS, "2026-02-28T12:00:00-08:00", "1h",
    "2026-03-02T09:00:00-08:00", "2026-03-02T10:00:00-08:00" },

  /* Daylight saving in Los Angeles, 2026: 8 March and 1 November. */
  { "spring forward over the weekend keeps 9:00 local", CAL_BUSINESS, "2026-03-07T12:00:00-08:00", "1h",
    "2026-03-09T09:00:00-07:00", "2026-03-09T10:00:00-07:00" },
  { "spring forward: Friday 15:30 PST plus 4h is Monday 11:30 PDT", CAL_BUSINESS, "2026-03-06T15:30:00-08:00", "4h",
    "2026-03-06T15:30:00-08:00", "2026-03-09T11:30:00-07:00" },
  { "fall back over the weekend keeps 9:00 local", CAL_BUSINESS, "2026-10-30T16:00:00-07:00", "2h",
    "2026-10-30T16:00:00-07:00", "2026-11-02T10:00:00-08:00" },
  { "fall back: 1d keeps the wall-clock position", CAL_BUSINESS, "2026-10-30T11:00:00-07:00", "1d",
    "2026-10-30T11:00:00-07:00", "2026-11-02T11:00:00-08:00" },

  /* Holidays from the list. */
  { "Christmas Eve afternoon: Christmas Day is skipped", CAL_BUSINESS, "2026-12-24T16:00:00-08:00", "2h",
    "2026-12-24T16:00:00-08:00", "2026-12-28T10:00:00-08:00" },
  { "arrival on Christmas Day: the clock starts the next working day", CAL_BUSINESS, "2026-12-25T10:00:00-08:00",
    "1h", "2026-12-28T09:00:00-08:00", "2026-12-28T10:00:00-08:00" },
  { "New Year's Eve: New Year's Day is skipped", CAL_BUSINESS, "2026-12-31T12:00:00-08:00", "8h",
    "2026-12-31T12:00:00-08:00", "2027-01-04T12:00:00-08:00" },
  { "5d across Christmas: the holiday is not a working day", CAL_BUSINESS, "2026-12-21T11:00:00-08:00", "5d",
    "2026-12-21T11:00:00-08:00", "2026-12-29T11:00:00-08:00" },
  { "1d from Saturday: the clock starts Monday, due Tuesday at opening", CAL_BUSINESS,
    "2026-03-07T10:00:00-08:00", "1d", "2026-03-09T09:00:00-07:00", "2026-03-10T09:00:00-07:00" },

  /* Holidays from an iCalendar file. */
  { "ics: a yearly day off, years after its first", CAL_ICS, "2026-09-11T16:30:00-07:00", "1h",
    "2026-09-11T16:30:00-07:00", "2026-09-15T09:30:00-07:00" },
  { "ics: a yearly day off with COUNT=2 is off in its second year", CAL_ICS, "2026-06-09T16:00:00-07:00", "2h",
    "2026-06-09T16:00:00-07:00", "2026-06-11T10:00:00-07:00" },
  { "ics: ... and working in its third", CAL_ICS, "2027-06-09T16:00:00-07:00", "2h",
    "2027-06-09T16:00:00-07:00", "2027-06-10T10:00:00-07:00" },
  { "ics: a folded two-day event with an exclusive DTEND", CAL_ICS, "2026-11-25T16:00:00-08:00", "2h",
    "2026-11-25T16:00:00-08:00", "2026-11-30T10:00:00-08:00" },
  { "ics: six weeks closed still yields a date", CAL_CLOSURE, "2026-06-30T16:00:00-07:00", "2h",
    "2026-06-30T16:00:00-07:00", "2026-08-12T10:00:00-07:00" },
  { "ics: arrival inside the closure", CAL_CLOSURE, "2026-07-15T10:00:00-07:00", "1d",
    "2026-08-12T09:00:00-07:00", "2026-08-13T09:00:00-07:00" },

  /* Another zone, split hours, a short Friday. */
  { "split hours: the lunch break does not count", CAL_BERLIN_SPLIT, "2026-03-02T11:00:00+01:00", "2h",
    "2026-03-02T11:00:00+01:00", "2026-03-02T14:00:00+01:00" },
  { "split hours: ending at the start of lunch is the start of lunch", CAL_BERLIN_SPLIT,
    "2026-03-02T10:00:00+01:00", "2h", "2026-03-02T10:00:00+01:00", "2026-03-02T12:00:00+01:00" },
  { "split hours: arrival at lunch starts the clock at 13:00", CAL_BERLIN_SPLIT, "2026-03-02T12:30:00+01:00", "1h",
    "2026-03-02T13:00:00+01:00", "2026-03-02T14:00:00+01:00" },
  { "split hours: Friday closes at noon", CAL_BERLIN_SPLIT, "2026-03-06T11:00:00+01:00", "2h",
    "2026-03-06T11:00:00+01:00", "2026-03-09T09:00:00+01:00" },
  { "split hours: 1d from 13:00 is 13:00 the next day", CAL_BERLIN_SPLIT, "2026-03-02T12:30:00+01:00", "1d",
    "2026-03-02T13:00:00+01:00", "2026-03-03T13:00:00+01:00" },
  { "split hours: 1d into a short Friday stays on Friday, at its closing", CAL_BERLIN_SPLIT,
    "2026-03-05T15:00:00+01:00", "1d", "2026-03-05T15:00:00+01:00", "2026-03-06T12:00:00+01:00" },
  { "Berlin's own DST change (29 March) keeps 8:00 local", CAL_BERLIN_SPLIT, "2026-03-27T11:30:00+01:00", "1h",
    "2026-03-27T11:30:00+01:00", "2026-03-30T08:30:00+02:00" },

  /* An 'always' calendar counts elapsed time. */
  { "always: 24h is a day of elapsed time, weekend or not", CAL_ALWAYS, "2026-03-07T03:00:00Z", "24h",
    "2026-03-07T03:00:00Z", "2026-03-08T03:00:00Z" },
  { "always: 72h", CAL_ALWAYS, "2026-03-06T16:00:00-08:00", "72h", "2026-03-06T16:00:00-08:00",
    "2026-03-09T16:00:00-08:00" },
  { "always: 5d is five times 24 hours", CAL_ALWAYS, "2026-03-07T03:00:00Z", "5d", "2026-03-07T03:00:00Z",
    "2026-03-12T03:00:00Z" },
  { "always: 30m", CAL_ALWAYS, "2026-12-25T23:45:00Z", "30m", "2026-12-25T23:45:00Z", "2026-12-26T00:15:00Z" },
};

static void
test_deadlines_follow_the_working_clock (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (deadline_cases); i++)
    {
      const deadline_case_t *c = &deadline_cases[i];
      const pd_calendar_t *cal = cals[c->cal];
      pd_time_t arrival = at (c->arrival);
      g_autofree char *start = pd_time_format (pd_calendar_clock_start (cal, arrival));
      g_autofree char *want_start = pd_time_format (at (c->clock_start));
      g_autofree char *due = pd_time_format (pd_calendar_add (cal, arrival, dur (c->duration)));
      g_autofree char *want_due = pd_time_format (at (c->deadline));
      if (strcmp (start, want_start) != 0 || strcmp (due, want_due) != 0)
        g_error ("%s: %s + %s: clock starts %s (expected %s), due %s (expected %s)", c->what, c->arrival,
                 c->duration, start, want_start, due, want_due);
    }
}

static void
test_is_open_inside_half_open_hours_only (void)
{
  const pd_calendar_t *b = cals[CAL_BUSINESS];
  g_assert_true (pd_calendar_is_open (b, at ("2026-03-02T09:00:00-08:00")));
  g_assert_true (pd_calendar_is_open (b, at ("2026-03-02T16:59:59-08:00")));
  g_assert_false (pd_calendar_is_open (b, at ("2026-03-02T17:00:00-08:00")));
  g_assert_false (pd_calendar_is_open (b, at ("2026-03-02T08:59:59-08:00")));
  g_assert_false (pd_calendar_is_open (b, at ("2026-03-07T12:00:00-08:00"))); /* Saturday */
  g_assert_false (pd_calendar_is_open (b, at ("2026-12-25T12:00:00-08:00"))); /* Christmas */
  /* 9:00 after the change is 16:00 UTC, no longer 17:00 UTC. */
  g_assert_true (pd_calendar_is_open (b, at ("2026-03-09T16:00:00Z")));
  g_assert_false (pd_calendar_is_open (b, at ("2026-03-09T15:59:59Z")));
  g_assert_false (pd_calendar_is_open (cals[CAL_BERLIN_SPLIT], at ("2026-03-02T12:30:00+01:00")));
  g_assert_true (pd_calendar_is_open (cals[CAL_ALWAYS], at ("2026-12-25T03:00:00Z")));
}

static void
test_working_seconds_count_only_open_time (void)
{
  const pd_calendar_t *b = cals[CAL_BUSINESS];
  /* The issue example's 24 working hours, seen from the other end. */
  g_assert_cmpint (pd_calendar_working_seconds (b, at ("2026-03-06T16:00:00-08:00"), at ("2026-03-11T23:00:00Z")),
                   ==, 24 * 3600);
  /* A weekend and the night: nothing. */
  g_assert_cmpint (pd_calendar_working_seconds (b, at ("2026-03-06T17:00:00-08:00"), at ("2026-03-09T09:00:00-07:00")),
                   ==, 0);
  /* Christmas: Monday to Thursday, then Monday to Wednesday (Friday 25 is the holiday). */
  g_assert_cmpint (pd_calendar_working_seconds (b, at ("2026-12-21T00:00:00-08:00"), at ("2026-12-31T00:00:00-08:00")),
                   ==, 7 * 8 * 3600);
  g_assert_cmpint (pd_calendar_working_seconds (b, at ("2026-03-11T00:00:00Z"), at ("2026-03-10T00:00:00Z")), ==, 0);
  g_assert_cmpint (pd_calendar_working_seconds (cals[CAL_BERLIN_SPLIT], at ("2026-03-02T00:00:00+01:00"),
                                                at ("2026-03-09T00:00:00+01:00")),
                   ==, (4 * 8 + 4) * 3600);
  g_assert_cmpint (pd_calendar_working_seconds (cals[CAL_ALWAYS], at ("2026-03-07T00:00:00Z"), at ("2026-03-08T00:00:00Z")),
                   ==, 86400);
}

static void
test_hours_and_dates_in_words (void)
{
  g_autofree char *business = pd_calendar_hours_text (cals[CAL_BUSINESS]);
  g_assert_cmpstr (business, ==, "Monday to Friday, 9:00\u201317:00 Pacific Time (America/Los_Angeles)");
  g_autofree char *split = pd_calendar_hours_text (cals[CAL_BERLIN_SPLIT]);
  g_assert_cmpstr (split, ==,
                   "Monday to Thursday, 8:00\u201312:00 and 13:00\u201317:00; Friday, 8:00\u201312:00 "
                   "Central European Time (Europe/Berlin)");
  g_autofree char *always = pd_calendar_hours_text (cals[CAL_ALWAYS]);
  g_assert_cmpstr (always, ==, "around the clock, every day");

  g_autoptr (pd_calendar_t) weekend = NULL;
  g_assert_true (pd_calendar_new ("weekend", "UTC", "Sat-Sun 10:00-14:00", NULL, NULL, &weekend, NULL));
  g_autofree char *weekend_text = pd_calendar_hours_text (weekend);
  g_assert_cmpstr (weekend_text, ==, "Saturday and Sunday, 10:00\u201314:00 UTC");
  g_autoptr (pd_calendar_t) odd = NULL;
  g_assert_true (pd_calendar_new ("odd", "Africa/Nairobi", "Mon 09:00-17:00, Wed 09:00-17:00, Fri 09:00-24:00",
                                  NULL, NULL, &odd, NULL));
  g_autofree char *odd_text = pd_calendar_hours_text (odd);
  g_assert_cmpstr (odd_text, ==, "Monday and Wednesday, 9:00\u201317:00; Friday, 9:00\u201324:00 Africa/Nairobi time");

  g_autofree char *due = pd_calendar_format (cals[CAL_BUSINESS], at ("2026-03-11T23:00:00Z"));
  g_assert_cmpstr (due, ==, "Wednesday 11 March 2026, 16:00 PDT");
  g_autofree char *winter = pd_calendar_format (cals[CAL_BUSINESS], at ("2026-03-06T17:05:00Z"));
  g_assert_cmpstr (winter, ==, "Friday 6 March 2026, 09:05 PST");
  /* The same deadline in a customer's own zone. */
  g_autofree char *berlin = pd_zone_format ("Europe/Berlin", at ("2026-03-11T23:00:00Z"));
  g_assert_cmpstr (berlin, ==, "Thursday 12 March 2026, 00:00 CET");
  g_autofree char *tokyo = pd_zone_format ("Asia/Tokyo", at ("2026-03-19T23:00:00Z"));
  g_assert_cmpstr (tokyo, ==, "Friday 20 March 2026, 08:00 JST");
  g_assert_null (pd_zone_format ("Mars/Olympus_Mons", 0));
  g_assert_null (pd_zone_format ("", 0));
}

static void
test_durations_parse_strictly (void)
{
  pd_sla_duration_t d;
  g_assert_true (pd_sla_duration_parse ("24h", &d, NULL));
  g_assert_cmpint (d.unit, ==, PD_SLA_HOURS);
  g_assert_cmpint (d.count, ==, 24);
  g_assert_true (pd_sla_duration_parse ("5d", &d, NULL));
  g_assert_cmpint (d.unit, ==, PD_SLA_DAYS);
  g_assert_cmpint (d.count, ==, 5);
  g_autofree char *five_days = pd_sla_duration_format (d);
  g_assert_cmpstr (five_days, ==, "5d");
  g_assert_true (pd_sla_duration_parse ("30m", &d, NULL));
  g_assert_cmpint (d.unit, ==, PD_SLA_MINUTES);

  static const struct {
    const char *text, *message;
  } bad[] = {
    { "", "'' is not a duration (a whole number and h for working hours, d for working days or m for minutes: 24h, 5d, 30m)" },
    { "24", "'24' is not a duration (" },
    { "h", "'h' is not a duration (" },
    { "24 h", "'24 h' is not a duration (" },
    { "-1h", "'-1h' is not a duration (" },
    { "1w", "'1w' is not a duration (" },
    { "24hours", "'24hours' is not a duration (" },
    { "0h", "'0h' is not a duration from 1h to 8784h" },
    { "367d", "'367d' is not a duration from 1d to 366d" },
    { "99999999999999999999h", "is not a duration from 1h to 8784h" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      GError *err = NULL;
      d.count = 7;
      g_assert_false (pd_sla_duration_parse (bad[i].text, &d, &err));
      g_assert_cmpint (d.count, ==, 0);
      g_assert_error (err, PD_ERROR, PD_ERROR_CONFIG);
      if (strstr (err->message, bad[i].message) == NULL)
        g_error ("'%s': expected \"%s\" in \"%s\"", bad[i].text, bad[i].message, err->message);
      g_error_free (err);
    }
}

typedef struct {
  const char *zone;
  const char *hours;
  const char *holiday;  /* one holiday, or NULL */
  const char *ics;      /* contents of a holidays file, or NULL */
  const char *message;  /* the whole error message; "%s" stands for the file */
} bad_calendar_t;

static const bad_calendar_t bad_calendars[] = {
  { "America/Los_Angeles", "Mon-Fry 09:00-17:00", NULL, NULL,
    "'Mon-Fry' is not a day or a range of days (Mon, Tue, Wed, Thu, Fri, Sat, Sun; e.g. Mon-Fri)" },
  { "America/Los_Angeles", "Mon-Fri 9-17", NULL, NULL,
    "'9-17' is not a time range (HH:MM-HH:MM, e.g. 09:00-17:00)" },
  { "America/Los_Angeles", "Mon-Fri 09:00-25:00", NULL, NULL,
    "'09:00-25:00' is not a time range (HH:MM-HH:MM, e.g. 09:00-17:00)" },
  { "America/Los_Angeles", "Mon-Fri", NULL, NULL, "'Mon-Fri' has no time range (e.g. Mon-Fri 09:00-17:00)" },
  { "America/Los_Angeles", "Mon-Fri 17:00-09:00", NULL, NULL,
    "'17:00-09:00' does not end after it starts (a range cannot run past midnight)" },
  { "America/Los_Angeles", "Mon-Fri 09:00-09:00", NULL, NULL,
    "'09:00-09:00' does not end after it starts (a range cannot run past midnight)" },
  { "America/Los_Angeles", "Mon 13:00-17:00 08:00-12:00", NULL, NULL,
    "'08:00-12:00' starts before the range before it ends (list ranges in order)" },
  { "America/Los_Angeles", "Mon-Fri 09:00-17:00, Fri 10:00-12:00", NULL, NULL, "Friday is listed twice" },
  { "America/Los_Angeles", "Mon-Fri 09:00-17:00,", NULL, NULL,
    "an empty group between commas (groups are like Mon-Fri 09:00-17:00)" },
  { "America/Los_Angeles", "  ", NULL, NULL,
    "no working time: give 'always' or days and times such as Mon-Fri 09:00-17:00" },
  { "Mars/Olympus_Mons", "always", NULL, NULL,
    "unknown time zone 'Mars/Olympus_Mons' (a name such as America/Los_Angeles or UTC; "
    "is the tzdata package installed?)" },
  { "", "always", NULL, NULL,
    "unknown time zone '' (a name such as America/Los_Angeles or UTC; is the tzdata package installed?)" },
  { "UTC", "Mon-Fri 09:00-17:00", "2026-02-30", NULL, "'2026-02-30' is not a date (YYYY-MM-DD, e.g. 2026-12-25)" },
  { "UTC", "Mon-Fri 09:00-17:00", "25.12.2026", NULL, "'25.12.2026' is not a date (YYYY-MM-DD, e.g. 2026-12-25)" },
  { "UTC", "always", "2026-12-25", NULL, "an 'always' calendar never closes, so it has no holidays" },
  /* Every day of every year from 2026 on is a holiday. */
  { "UTC", "Mon-Sun 00:00-24:00", NULL,
    "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20260101\nDTEND;VALUE=DATE:20270102\n"
    "RRULE:FREQ=YEARLY\nEND:VEVENT\nEND:VCALENDAR\n",
    "no working time: the holidays cover every working day" },
  { "UTC", "Mon-Fri 09:00-17:00", NULL,
    "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;TZID=Europe/Berlin:20261225T090000\nEND:VEVENT\nEND:VCALENDAR\n",
    "%s:3: DTSTART '20261225T090000' has a time of day: holidays are all-day events "
    "(DTSTART;VALUE=DATE:YYYYMMDD)" },
  { "UTC", "Mon-Fri 09:00-17:00", NULL,
    "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20260101\nRRULE:FREQ=MONTHLY\nEND:VEVENT\nEND:VCALENDAR\n",
    "%s:4: RRULE: 'FREQ=MONTHLY' is not understood (holidays repeat with FREQ=YEARLY, COUNT or UNTIL)" },
  { "UTC", "Mon-Fri 09:00-17:00", NULL,
    "BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:no date\nEND:VEVENT\nEND:VCALENDAR\n", "%s:2: an event without DTSTART" },
  { "UTC", "Mon-Fri 09:00-17:00", NULL,
    "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20260101\n", "%s: BEGIN:VEVENT is never ended" },
  { "UTC", "Mon-Fri 09:00-17:00", NULL, "2026-12-25\n2027-01-01\n",
    "%s:1: not an iCalendar line (NAME:VALUE): '2026-12-25'" },
  { "UTC", "Mon-Fri 09:00-17:00", NULL, "", "%s: not an iCalendar file (no BEGIN:VCALENDAR)" },
};

static void
test_bad_calendars_say_what_is_wrong (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bad_calendars); i++)
    {
      const bad_calendar_t *c = &bad_calendars[i];
      const char *holidays[] = { c->holiday, NULL };
      g_autofree char *file = c->ics != NULL ? write_file ("bad.ics", c->ics) : NULL;
      pd_calendar_t *cal = (pd_calendar_t *) 0x1;
      GError *err = NULL;
      g_assert_false (pd_calendar_new ("bad", c->zone, c->hours, holidays, file, &cal, &err));
      g_assert_null (cal);
      g_assert_error (err, PD_ERROR, PD_ERROR_CONFIG);
      g_auto (GStrv) around = g_strsplit (c->message, "%s", 2);
      g_autofree char *expected = g_strjoinv (file, around);
      if (strcmp (err->message, expected) != 0)
        g_error ("case %" G_GSIZE_FORMAT ": expected \"%s\", got \"%s\"", i, expected, err->message);
      g_error_free (err);
    }
  /* The checkers give the same messages, for checking a configuration key by key. */
  GError *err = NULL;
  g_assert_false (pd_calendar_check_hours ("Mon-Fri", &err));
  g_assert_cmpstr (err->message, ==, "'Mon-Fri' has no time range (e.g. Mon-Fri 09:00-17:00)");
  g_clear_error (&err);
  g_assert_true (pd_calendar_check_hours ("Fri-Mon 00:00-06:00 22:00-24:00", NULL));
  g_assert_true (pd_calendar_check_zone ("UTC", NULL));
  g_assert_false (pd_calendar_check_holiday ("2026-1-1", NULL));
  g_autofree char *missing = g_build_filename (pd_test_tmpdir (), "missing.ics", NULL);
  g_assert_false (pd_calendar_check_holidays_file (missing, &err));
  g_assert_nonnull (strstr (err->message, "missing.ics: cannot read holidays: "));
  g_clear_error (&err);
  pd_calendar_free (NULL);
}

static void
test_sla_deadlines_per_severity (void)
{
  pd_sla_t sla = {
    .plan = "self-hosted",
    .calendar = cals[CAL_BUSINESS],
    .sev1 = { true, dur ("24h"), true, dur ("72h") },
    .sev2 = { true, dur ("5d"), false, { 0 } },
  };
  pd_time_t start, first, resolution;
  g_assert_true (pd_sla_deadlines (&sla, 1, at ("2026-03-06T16:00:00-08:00"), &start, &first, &resolution));
  g_assert_cmpint (start, ==, at ("2026-03-06T16:00:00-08:00"));
  g_assert_cmpint (first, ==, at ("2026-03-11T23:00:00Z"));
  g_assert_cmpint (resolution, ==, at ("2026-03-19T16:00:00-07:00"));
  /* Severity 2 has no resolution target: 0 says so. */
  g_assert_true (pd_sla_deadlines (&sla, 2, at ("2026-03-07T10:00:00-08:00"), &start, &first, &resolution));
  g_assert_cmpint (start, ==, at ("2026-03-09T09:00:00-07:00"));
  g_assert_cmpint (first, ==, at ("2026-03-16T09:00:00-07:00"));
  g_assert_cmpint (resolution, ==, 0);
  g_assert_true (pd_sla_deadlines (&sla, 2, at ("2026-03-07T10:00:00-08:00"), NULL, NULL, NULL));
  g_assert_false (pd_sla_deadlines (&sla, 3, at ("2026-03-07T10:00:00-08:00"), &start, &first, &resolution));
  g_assert_cmpint (start + first + resolution, ==, 0);
}

int
main (int argc, char **argv)
{
  pd_test_init (&argc, &argv);
  build_calendars ();
  g_test_add_func ("/sla/deadlines-follow-the-working-clock", test_deadlines_follow_the_working_clock);
  g_test_add_func ("/sla/is-open-half-open-hours", test_is_open_inside_half_open_hours_only);
  g_test_add_func ("/sla/working-seconds", test_working_seconds_count_only_open_time);
  g_test_add_func ("/sla/hours-and-dates-in-words", test_hours_and_dates_in_words);
  g_test_add_func ("/sla/durations-parse-strictly", test_durations_parse_strictly);
  g_test_add_func ("/sla/bad-calendars-say-what-is-wrong", test_bad_calendars_say_what_is_wrong);
  g_test_add_func ("/sla/deadlines-per-severity", test_sla_deadlines_per_severity);
  int status = g_test_run ();
  for (int i = 0; i < N_CALS; i++)
    pd_calendar_free (cals[i]);
  return status;
}
