/* sla.h - working calendars and SLA clock arithmetic.
 *
 * Pure functions of their arguments: no store, no configuration, no clock.
 * The ingest pipeline, the SLA watch and the reports all compute deadlines
 * and working time here, so they can never disagree.
 *
 * Clock semantics (postdesk.conf(5) says the same for admins):
 *   - Working hours are wall-clock times in the calendar's zone. Each day's
 *     openings and closings are built from the local date and time, so a
 *     daylight-saving change moves the UTC instant, never the opening hour.
 *   - A holiday is a whole local date, whatever its length in UTC.
 *   - The clock starts at arrival when the calendar is open then, else at the
 *     next opening. Ranges are half-open: at 17:00 a 09:00-17:00 day is
 *     closed, at 09:00 it is open.
 *   - Nh (Nm) is N working hours (minutes): the deadline is the instant the
 *     Nth working hour ends, so one ending exactly at closing time is that
 *     closing time, not the next opening.
 *   - Nd is N working days: the same position on the working clock (the
 *     working time elapsed since that day's first opening) on the Nth working
 *     day after the day the clock starts. When that day is shorter than the
 *     position, the deadline is its last closing: it never slips past the
 *     Nth working day.
 *   - On an 'always' calendar both are elapsed time (Nd = N x 24 hours).
 *   - There is no horizon: a calendar closed for six weeks still yields a
 *     date. A calendar with no working time at all cannot be built.
 *
 * Times are pd_time_t (UTC Unix seconds). Every function that returns a
 * time returns 0 when the answer would lie outside what GLib's calendar
 * arithmetic can represent (after the year 9999).
 */
#ifndef POSTDESK_SLA_H
#define POSTDESK_SLA_H

#include "postdesk/common.h"

typedef struct pd_calendar pd_calendar_t;

typedef enum {
  PD_SLA_MINUTES,
  PD_SLA_HOURS,
  PD_SLA_DAYS,
} pd_sla_unit_t;

/* An SLA target such as 24h or 5d: a count of working units. */
typedef struct {
  pd_sla_unit_t unit;
  int count; /* 1 or more */
} pd_sla_duration_t;

/* Parses "24h", "5d" or "30m" (a whole number from 1 to a year's worth of
 * the unit, directly followed by the unit letter). On failure *out is
 * zeroed and the PD_ERROR_CONFIG error quotes the text. */
bool pd_sla_duration_parse (const char *text, pd_sla_duration_t *out, GError **err);

/* "24h", "5d", "30m" (transfer full). */
char *pd_sla_duration_format (pd_sla_duration_t d);

/* Checks a time zone identifier ("America/Los_Angeles", "UTC"). The error
 * (PD_ERROR_CONFIG) reminds that an unknown zone may mean tzdata is missing,
 * since GLib cannot tell the two apart. */
bool pd_calendar_check_zone (const char *zone, GError **err);

/* Checks a working-hours spec: "always", or comma-separated groups of a day
 * or day range followed by one or more time ranges:
 * "Mon-Thu 08:00-12:00 13:00-17:00, Fri 08:00-12:00". Days are Mon..Sun
 * (or their full English names, any case); a day range may wrap
 * ("Fri-Mon"); times are HH:MM, an end may be 24:00; a range ends after it
 * starts and after the range before it; no day appears twice. */
bool pd_calendar_check_hours (const char *hours, GError **err);

/* Checks a holiday date, YYYY-MM-DD, a real date from 1970 to 9999. */
bool pd_calendar_check_holiday (const char *date, GError **err);

/* Reads an iCalendar file's holidays without building a calendar, for a
 * check that names the file. Errors are "PATH:LINE: message". */
bool pd_calendar_check_holidays_file (const char *path, GError **err);

/* Builds a calendar. 'holidays' (may be NULL, NULL-terminated) are local
 * dates YYYY-MM-DD; 'holidays_file' (may be NULL) is an iCalendar file whose
 * all-day VEVENTs add holidays: DTSTART;VALUE=DATE, an optional DTEND
 * (exclusive) or DURATION:PnD, an optional RRULE:FREQ=YEARLY (with COUNT or
 * UNTIL). Folded lines are unfolded. A timed event or any other repetition
 * is an error rather than a holiday silently missed. An 'always' calendar
 * takes no holidays: it never closes. On failure *out is NULL and the
 * PD_ERROR_CONFIG error says what is wrong, without naming the calendar
 * (the caller knows which one it built). */
bool pd_calendar_new (const char *name, const char *timezone, const char *hours,
                      const char *const *holidays, const char *holidays_file,
                      pd_calendar_t **out, GError **err);
void pd_calendar_free (pd_calendar_t *cal); /* NULL-safe */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (pd_calendar_t, pd_calendar_free)

/* (borrowed: valid while 'cal' lives) */
const char *pd_calendar_name (const pd_calendar_t *cal);
const char *pd_calendar_timezone (const pd_calendar_t *cal);
/* True for an 'always' calendar: the clock never stops. */
bool pd_calendar_is_always (const pd_calendar_t *cal);

/* True when the clock runs at 't'. */
bool pd_calendar_is_open (const pd_calendar_t *cal, pd_time_t t);

/* When the clock starts for a message arriving at 'arrival': 'arrival'
 * itself when open, else the next opening. */
pd_time_t pd_calendar_clock_start (const pd_calendar_t *cal, pd_time_t arrival);

/* The deadline 'duration' after 'start' on the working clock (see the
 * semantics above); the clock starts as pd_calendar_clock_start says. */
pd_time_t pd_calendar_add (const pd_calendar_t *cal, pd_time_t start, pd_sla_duration_t duration);

/* Working seconds between 'from' and 'to' (0 when to <= from), for reports:
 * how much of an SLA a ticket used. */
gint64 pd_calendar_working_seconds (const pd_calendar_t *cal, pd_time_t from, pd_time_t to);

/* The working hours in English words for messages to customers:
 * "Monday to Friday, 9:00–17:00 Pacific Time (America/Los_Angeles)",
 * "around the clock, every day" for 'always'. (transfer full) */
char *pd_calendar_hours_text (const pd_calendar_t *cal);

/* 't' as a person reads it in the calendar's zone, in English whatever the
 * locale: "Wednesday 11 March 2026, 16:00 PDT". (transfer full) */
char *pd_calendar_format (const pd_calendar_t *cal, pd_time_t t);

/* The same in any zone, for a customer's own zone: NULL when 'zone' is not
 * a known zone (pd_calendar_check_zone says why). (transfer full) */
char *pd_zone_format (const char *zone, pd_time_t t);

/* The SLA that applies to one sender, as the configuration resolves it
 * (pd_config_sla_for in config.h). Targets are per severity; a target a
 * plan does not set has its has_* flag false. */
typedef struct {
  bool has_first_response;
  pd_sla_duration_t first_response;
  bool has_resolution;
  pd_sla_duration_t resolution;
} pd_sla_targets_t;

typedef struct {
  const char *customer;          /* borrowed from the configuration; NULL: no configured customer */
  const char *plan;              /* borrowed from the configuration */
  const pd_calendar_t *calendar; /* borrowed from the configuration */
  const char *customer_timezone; /* borrowed from the configuration; may be NULL */
  bool oncall;                   /* the plan has on-call support outside hours */
  pd_sla_targets_t sev1;         /* Severity 1, after the customer's overrides */
  pd_sla_targets_t sev2;         /* Severity 2, after the customer's overrides */
} pd_sla_t;

/* The deadlines of a ticket of 'severity' (1 or 2) that arrived at
 * 'arrival': when its clock starts and when the first response and the
 * resolution are due, 0 for a target the SLA does not set. Any out-pointer
 * may be NULL. Returns false, with every time 0, for another severity. */
bool pd_sla_deadlines (const pd_sla_t *sla, int severity, pd_time_t arrival, pd_time_t *clock_start,
                       pd_time_t *first_response_due, pd_time_t *resolution_due);

#endif
