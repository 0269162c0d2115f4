/* sla.c - working calendars and the SLA clock. Every day's openings and
 * closings are built from the local date and wall-clock time in the
 * calendar's zone (g_date_time_new), never by adding hours to an instant,
 * because a daylight-saving day is 23 or 25 hours long. Days are walked as
 * Julian day numbers of local dates, so a holiday is always a whole local
 * date. */
#include "postdesk/sla.h"

#include <string.h>

#include "postdesk/text.h"

/* How much of a token an error message quotes. */
#define SHOWN_CHARS 40
/* Time ranges per day: lunch breaks and shifts, not a timetable. */
#define MAX_RANGES 8
/* An iCalendar file larger than this is not a holiday list. */
#define MAX_ICS_BYTES (8 * 1024 * 1024)
/* The Gregorian calendar repeats, weekdays included, every 400 years. */
#define GREGORIAN_CYCLE_DAYS 146097

typedef struct {
  int start; /* minutes after local midnight */
  int end;   /* minutes after local midnight, 1440 for 24:00 */
} range_t;

/* An all-day event that repeats every year on the same month and day. */
typedef struct {
  int month, day;
  int span;       /* days, 1 to 366 */
  int first_year;
  int last_year;  /* 0: forever */
} yearly_t;

struct pd_calendar {
  char *name;   /* owned */
  char *zone;   /* owned: the identifier as given */
  GTimeZone *tz; /* owned */
  bool always;
  range_t ranges[7][MAX_RANGES]; /* [0] Monday .. [6] Sunday, in order */
  int n_ranges[7];
  GHashTable *holidays; /* owned: set of Julian day numbers (GUINT_TO_POINTER) */
  GArray *yearly;       /* owned: yearly_t */
};

static const char *const day_names[7] = {
  "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
};

static const char *const month_names[12] = {
  "January", "February", "March", "April", "May", "June",
  "July", "August", "September", "October", "November", "December",
};

/* ---- durations ---------------------------------------------------------- */

bool
pd_sla_duration_parse (const char *text, pd_sla_duration_t *out, GError **err)
{
  memset (out, 0, sizeof *out);
  g_autofree char *shown = pd_text_short (text, SHOWN_CHARS);
  const char *p = text != NULL ? text : "";
  gint64 n = 0;
  const char *digits = p;
  /* Every digit is read; the count stops growing once it is too large. */
  for (; g_ascii_isdigit (*p); p++)
    if (n <= 1000000)
      n = n * 10 + (*p - '0');
  pd_sla_unit_t unit;
  gint64 max;
  if (p == digits || p[0] == '\0' || p[1] != '\0')
    goto bad;
  switch (*p)
    {
    case 'm': unit = PD_SLA_MINUTES; max = 366 * 24 * 60; break;
    case 'h': unit = PD_SLA_HOURS; max = 366 * 24; break;
    case 'd': unit = PD_SLA_DAYS; max = 366; break;
    default: goto bad;
    }
  if (n < 1 || n > max)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "'%s' is not a duration from 1%c to %" G_GINT64_FORMAT "%c",
                   shown, *p, max, *p);
      return false;
    }
  out->unit = unit;
  out->count = (int) n;
  return true;
bad:
  g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
               "'%s' is not a duration (a whole number and h for working hours, "
               "d for working days or m for minutes: 24h, 5d, 30m)", shown);
  return false;
}

char *
pd_sla_duration_format (pd_sla_duration_t d)
{
  char unit = d.unit == PD_SLA_MINUTES ? 'm' : d.unit == PD_SLA_HOURS ? 'h' : 'd';
  return g_strdup_printf ("%d%c", d.count, unit);
}

/* ---- zones -------------------------------------------------------------- */

/* GLib reads an empty identifier as "the local zone" and "UTC" from tzdata;
 * postdesk wants neither surprise, so UTC is built in and empty is refused. */
static GTimeZone *
zone_new (const char *zone)
{
  if (zone == NULL || *zone == '\0')
    return NULL;
  if (strcmp (zone, "UTC") == 0)
    return g_time_zone_new_utc ();
  return g_time_zone_new_identifier (zone);
}

bool
pd_calendar_check_zone (const char *zone, GError **err)
{
  GTimeZone *tz = zone_new (zone);
  if (tz == NULL)
    {
      g_autofree char *shown = pd_text_short (zone, SHOWN_CHARS);
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                   "unknown time zone '%s' (a name such as America/Los_Angeles or UTC; "
                   "is the tzdata package installed?)", shown);
      return false;
    }
  g_time_zone_unref (tz);
  return true;
}

/* ---- dates -------------------------------------------------------------- */

static guint32
julian (int year, int month, int day)
{
  GDate d;
  g_date_clear (&d, 1);
  g_date_set_dmy (&d, (GDateDay) day, (GDateMonth) month, (GDateYear) year);
  return g_date_get_julian (&d);
}

static void
from_julian (guint32 jd, int *year, int *month, int *day, int *weekday)
{
  GDate d;
  g_date_clear (&d, 1);
  g_date_set_julian (&d, jd);
  if (year != NULL)
    *year = g_date_get_year (&d);
  if (month != NULL)
    *month = g_date_get_month (&d);
  if (day != NULL)
    *day = g_date_get_day (&d);
  if (weekday != NULL)
    *weekday = g_date_get_weekday (&d) - 1; /* 0 = Monday */
}

/* 'len' digits at 's' as a number, or -1. */
static int
number (const char *s, int len)
{
  int n = 0;
  for (int i = 0; i < len; i++)
    {
      if (!g_ascii_isdigit (s[i]))
        return -1;
      n = n * 10 + (s[i] - '0');
    }
  return n;
}

/* A real date from 1970 to 9999 as y, m, d: later years leave no room for
 * GDateTime's arithmetic after them. */
static bool
valid_date (int y, int m, int d)
{
  return y >= 1970 && y <= 9999 && m >= 1 && m <= 12 && d >= 1
         && g_date_valid_dmy ((GDateDay) d, (GDateMonth) m, (GDateYear) y);
}

static bool
parse_iso_date (const char *s, guint32 *jd)
{
  if (s == NULL || strlen (s) != 10 || s[4] != '-' || s[7] != '-')
    return false;
  int y = number (s, 4), m = number (s + 5, 2), d = number (s + 8, 2);
  if (!valid_date (y, m, d))
    return false;
  *jd = julian (y, m, d);
  return true;
}

bool
pd_calendar_check_holiday (const char *date, GError **err)
{
  guint32 jd;
  if (parse_iso_date (date, &jd))
    return true;
  g_autofree char *shown = pd_text_short (date, SHOWN_CHARS);
  g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "'%s' is not a date (YYYY-MM-DD, e.g. 2026-12-25)", shown);
  return false;
}

/* ---- working hours ------------------------------------------------------ */

static bool
parse_day (const char *tok, gsize len, int *out)
{
  for (int i = 0; i < 7; i++)
    if ((len == 3 || len == strlen (day_names[i])) && g_ascii_strncasecmp (tok, day_names[i], len) == 0)
      {
        *out = i;
        return true;
      }
  return false;
}

/* "9:00", "09:00" or "24:00" as minutes after midnight. */
static bool
parse_clock (const char *s, gsize len, int *minutes)
{
  if (len < 4 || len > 5 || s[len - 3] != ':')
    return false;
  int h = number (s, (int) len - 3), m = number (s + len - 2, 2);
  if (h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0))
    return false;
  *minutes = h * 60 + m;
  return true;
}

/* Sets the error "'TOKEN' WHAT", the token quoted shortened. */
static bool
hours_error (GError **err, const char *token, const char *what)
{
  g_autofree char *shown = pd_text_short (token, SHOWN_CHARS);
  g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "'%s' %s", shown, what);
  return false;
}

/* Parses a working-hours spec into per-weekday ranges (see sla.h). */
static bool
parse_hours (const char *hours, bool *always, range_t ranges[7][MAX_RANGES], int n_ranges[7], GError **err)
{
  *always = false;
  memset (n_ranges, 0, 7 * sizeof (int));
  g_autofree char *spec = g_strstrip (g_strdup (hours != NULL ? hours : ""));
  if (*spec == '\0')
    {
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                   "no working time: give 'always' or days and times such as Mon-Fri 09:00-17:00");
      return false;
    }
  if (g_ascii_strcasecmp (spec, "always") == 0)
    {
      *always = true;
      return true;
    }
  bool seen[7] = { false };
  g_auto (GStrv) groups = g_strsplit (spec, ",", -1);
  for (int g = 0; groups[g] != NULL; g++)
    {
      g_auto (GStrv) words = g_strsplit_set (g_strstrip (groups[g]), " \t", -1);
      GPtrArray *tokens = g_ptr_array_new ();
      for (int w = 0; words[w] != NULL; w++)
        if (words[w][0] != '\0')
          g_ptr_array_add (tokens, words[w]);
      g_autoptr (GPtrArray) toks = tokens;
      if (toks->len == 0)
        {
          g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                       "an empty group between commas (groups are like Mon-Fri 09:00-17:00)");
          return false;
        }

      const char *days = toks->pdata[0];
      const char *dash = strchr (days, '-');
      int first, last;
      if (dash != NULL ? !(parse_day (days, dash - days, &first) && parse_day (dash + 1, strlen (dash + 1), &last))
                       : !parse_day (days, strlen (days), &first))
        return hours_error (err, days, "is not a day or a range of days (Mon, Tue, Wed, Thu, Fri, Sat, Sun; e.g. Mon-Fri)");
      if (dash == NULL)
        last = first;
      if (toks->len == 1)
        return hours_error (err, days, "has no time range (e.g. Mon-Fri 09:00-17:00)");
      if (toks->len - 1 > MAX_RANGES)
        return hours_error (err, days, "has more than 8 time ranges");

      range_t group[MAX_RANGES];
      int n = 0;
      for (guint t = 1; t < toks->len; t++)
        {
          const char *tok = toks->pdata[t];
          const char *sep = strchr (tok, '-');
          range_t r;
          if (sep == NULL || !parse_clock (tok, sep - tok, &r.start) || !parse_clock (sep + 1, strlen (sep + 1), &r.end))
            return hours_error (err, tok, "is not a time range (HH:MM-HH:MM, e.g. 09:00-17:00)");
          if (r.end <= r.start)
            return hours_error (err, tok, "does not end after it starts (a range cannot run past midnight)");
          if (n > 0 && r.start < group[n - 1].end)
            return hours_error (err, tok, "starts before the range before it ends (list ranges in order)");
          group[n++] = r;
        }

      /* A day range may wrap around the week end: Fri-Mon. */
      for (int d = first;; d = (d + 1) % 7)
        {
          if (seen[d])
            {
              g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "%s is listed twice", day_names[d]);
              return false;
            }
          seen[d] = true;
          memcpy (ranges[d], group, n * sizeof (range_t));
          n_ranges[d] = n;
          if (d == last)
            break;
        }
    }
  return true;
}

bool
pd_calendar_check_hours (const char *hours, GError **err)
{
  bool always;
  range_t ranges[7][MAX_RANGES];
  int n[7];
  return parse_hours (hours, &always, ranges, n, err);
}

/* ---- holidays from iCalendar ------------------------------------------ */

typedef struct {
  int line;          /* of BEGIN:VEVENT */
  guint32 start;     /* Julian day of DTSTART, 0 when none yet */
  guint32 end;       /* Julian day of DTEND (exclusive), 0 when none */
  int duration_days; /* from DURATION, 0 when none */
  char *rrule;       /* owned: the RRULE value, or NULL */
  int rrule_line;
} ics_event_t;

/* A DATE value, YYYYMMDD, as a Julian day number. */
static bool
ics_date (const char *v, guint32 *jd)
{
  if (strlen (v) != 8)
    return false;
  int y = number (v, 4), m = number (v + 4, 2), d = number (v + 6, 2);
  if (!valid_date (y, m, d))
    return false;
  *jd = julian (y, m, d);
  return true;
}

static bool
ics_error (GError **err, const char *path, int line, const char *fmt, ...) G_GNUC_PRINTF (4, 5);

static bool
ics_error (GError **err, const char *path, int line, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_autofree char *shown = pd_text_line (what);
  if (line > 0)
    g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "%s:%d: %s", path, line, shown);
  else
    g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "%s: %s", path, shown);
  return false;
}

/* A DTSTART or DTEND: only a date is a holiday. A value with a time of day
 * is a meeting, not a closure, and reading it as one would be a guess. */
static bool
ics_date_property (const char *path, int line, const char *name, const char *value, guint32 *jd, GError **err)
{
  g_autofree char *shown = pd_text_short (value, SHOWN_CHARS);
  if (strchr (value, 'T') != NULL)
    return ics_error (err, path, line,
                      "%s '%s' has a time of day: holidays are all-day events (%s;VALUE=DATE:YYYYMMDD)", name,
                      shown, name);
  if (!ics_date (value, jd))
    return ics_error (err, path, line, "%s '%s' is not a date (YYYYMMDD)", name, shown);
  return true;
}

static bool
ics_finish_event (const char *path, ics_event_t *ev, GHashTable *fixed, GArray *yearly, GError **err)
{
  if (ev->start == 0)
    return ics_error (err, path, ev->line, "an event without DTSTART");
  gint64 span = 1;
  if (ev->end != 0)
    {
      if (ev->end <= ev->start)
        return ics_error (err, path, ev->line, "an event whose DTEND is not after its DTSTART");
      span = ev->end - ev->start;
    }
  else if (ev->duration_days > 0)
    span = ev->duration_days;

  int y, m, d;
  from_julian (ev->start, &y, &m, &d, NULL);
  if (ev->rrule == NULL)
    {
      /* Ten years is a closure nobody plans; more is a typo in a date. */
      if (span > 3660)
        return ics_error (err, path, ev->line, "an event longer than ten years");
      for (gint64 i = 0; i < span; i++)
        g_hash_table_add (fixed, GUINT_TO_POINTER ((guint) (ev->start + i)));
      return true;
    }

  /* Only what a holiday calendar needs: every year, from DTSTART, for a
   * COUNT of years or UNTIL a date. Anything else (monthly, by weekday,
   * every other year) would be read wrong, so it is refused. */
  yearly_t rule = { .month = m, .day = d, .span = (int) span, .first_year = y, .last_year = 0 };
  if (span > 366)
    return ics_error (err, path, ev->line, "a yearly event longer than a year");
  bool freq = false;
  g_auto (GStrv) parts = g_strsplit (ev->rrule, ";", -1);
  for (int i = 0; parts[i] != NULL; i++)
    {
      const char *p = parts[i];
      g_autofree char *shown = pd_text_short (p, SHOWN_CHARS);
      if (g_ascii_strcasecmp (p, "FREQ=YEARLY") == 0)
        freq = true;
      else if (g_ascii_strcasecmp (p, "INTERVAL=1") == 0 || *p == '\0')
        ;
      else if (g_ascii_strncasecmp (p, "COUNT=", 6) == 0)
        {
          int n = strlen (p + 6) <= 4 ? number (p + 6, (int) strlen (p + 6)) : -1;
          if (n < 1)
            return ics_error (err, path, ev->rrule_line, "RRULE: '%s' is not a count of years", shown);
          rule.last_year = MIN (y + n - 1, 9999);
        }
      else if (g_ascii_strncasecmp (p, "UNTIL=", 6) == 0)
        {
          g_autofree char *date = g_strndup (p + 6, 8);
          guint32 until;
          if (!ics_date (date, &until) || until < ev->start)
            return ics_error (err, path, ev->rrule_line, "RRULE: '%s' is not a date after DTSTART", shown);
          int uy, um, ud;
          from_julian (until, &uy, &um, &ud, NULL);
          rule.last_year = (um > m || (um == m && ud >= d)) ? uy : uy - 1;
        }
      else if (g_ascii_strncasecmp (p, "BYMONTH=", 8) == 0 && number (p + 8, (int) strlen (p + 8)) == m)
        ;
      else if (g_ascii_strncasecmp (p, "BYMONTHDAY=", 11) == 0 && number (p + 11, (int) strlen (p + 11)) == d)
        ;
      else
        return ics_error (err, path, ev->rrule_line,
                          "RRULE: '%s' is not understood (holidays repeat with FREQ=YEARLY, COUNT or UNTIL)",
                          shown);
    }
  if (!freq)
    return ics_error (err, path, ev->rrule_line, "RRULE: only yearly repetition (FREQ=YEARLY) is understood");
  g_array_append_val (yearly, rule);
  return true;
}

/* Reads the all-day events of an iCalendar file (RFC 5545) into 'fixed'
 * (Julian days) and 'yearly'. Lines are unfolded first: a line starting
 * with a blank continues the one before. */
static bool
load_ics (const char *path, GHashTable *fixed, GArray *yearly, GError **err)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  GError *local = NULL;
  if (!g_file_get_contents (path, &data, &len, &local))
    {
      ics_error (err, path, 0, "cannot read holidays: %s", local->message);
      g_error_free (local);
      return false;
    }
  if (len > MAX_ICS_BYTES)
    return ics_error (err, path, 0, "larger than 8 MiB: not a holiday list");
  if (memchr (data, '\0', len) != NULL)
    return ics_error (err, path, 0, "a NUL byte: not an iCalendar file");

  g_auto (GStrv) raw = g_strsplit (data, "\n", -1);
  g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) numbers = g_array_new (FALSE, FALSE, sizeof (int));
  for (int i = 0; raw[i] != NULL; i++)
    {
      char *l = raw[i];
      gsize n = strlen (l);
      if (n > 0 && l[n - 1] == '\r')
        l[n - 1] = '\0';
      if ((l[0] == ' ' || l[0] == '\t') && lines->len > 0)
        {
          char *prev = lines->pdata[lines->len - 1];
          lines->pdata[lines->len - 1] = g_strconcat (prev, l + 1, NULL);
          g_free (prev);
          continue;
        }
      if (l[0] == '\0')
        continue;
      g_ptr_array_add (lines, g_strdup (l));
      int number_of_line = i + 1;
      g_array_append_val (numbers, number_of_line);
    }

  bool calendar = false;
  g_autoptr (GPtrArray) stack = g_ptr_array_new_with_free_func (g_free);
  ics_event_t ev = { 0 };
  bool ok = true;
  for (guint i = 0; ok && i < lines->len; i++)
    {
      const char *l = lines->pdata[i];
      int line = g_array_index (numbers, int, i);
      /* The value starts after the first colon outside quoted parameters. */
      const char *colon = NULL;
      bool quoted = false;
      for (const char *p = l; *p != '\0' && colon == NULL; p++)
        if (*p == '"')
          quoted = !quoted;
        else if (*p == ':' && !quoted)
          colon = p;
      if (colon == NULL)
        {
          g_autofree char *shown = pd_text_short (l, SHOWN_CHARS);
          ok = ics_error (err, path, line, "not an iCalendar line (NAME:VALUE): '%s'", shown);
          break;
        }
      gsize name_len = strcspn (l, ";:");
      g_autofree char *name = g_ascii_strup (l, name_len);
      const char *value = colon + 1;
      const char *top = stack->len > 0 ? stack->pdata[stack->len - 1] : NULL;

      if (strcmp (name, "BEGIN") == 0)
        {
          g_autofree char *component = g_ascii_strup (value, -1);
          if (strcmp (component, "VCALENDAR") == 0)
            calendar = true;
          if (strcmp (component, "VEVENT") == 0)
            {
              g_free (ev.rrule);
              ev = (ics_event_t) { .line = line };
            }
          g_ptr_array_add (stack, g_steal_pointer (&component));
        }
      else if (strcmp (name, "END") == 0)
        {
          g_autofree char *component = g_ascii_strup (value, -1);
          if (top == NULL || strcmp (top, component) != 0)
            {
              g_autofree char *shown = pd_text_short (value, SHOWN_CHARS);
              ok = ics_error (err, path, line, "END:%s without its BEGIN", shown);
              break;
            }
          if (strcmp (component, "VEVENT") == 0)
            ok = ics_finish_event (path, &ev, fixed, yearly, err);
          g_ptr_array_remove_index (stack, stack->len - 1);
        }
      else if (top != NULL && strcmp (top, "VEVENT") == 0)
        {
          if (strcmp (name, "DTSTART") == 0)
            ok = ics_date_property (path, line, "DTSTART", value, &ev.start, err);
          else if (strcmp (name, "DTEND") == 0)
            ok = ics_date_property (path, line, "DTEND", value, &ev.end, err);
          else if (strcmp (name, "DURATION") == 0)
            {
              gsize n = strlen (value);
              int count = n >= 3 && value[0] == 'P' && n <= 6 ? number (value + 1, (int) n - 2) : -1;
              if (count < 1 || (value[n - 1] != 'D' && value[n - 1] != 'W'))
                {
                  g_autofree char *shown = pd_text_short (value, SHOWN_CHARS);
                  ok = ics_error (err, path, line, "DURATION '%s' is not whole days or weeks (PnD, PnW)", shown);
                }
              else
                ev.duration_days = value[n - 1] == 'W' ? 7 * count : count;
            }
          else if (strcmp (name, "RRULE") == 0)
            {
              g_free (ev.rrule);
              ev.rrule = g_strdup (value);
              ev.rrule_line = line;
            }
          else if (strcmp (name, "EXDATE") == 0 || strcmp (name, "RDATE") == 0)
            ok = ics_error (err, path, line, "%s is not understood: list the holidays as separate events", name);
        }
    }
  g_free (ev.rrule);
  if (!ok)
    return false;
  if (!calendar)
    return ics_error (err, path, 0, "not an iCalendar file (no BEGIN:VCALENDAR)");
  if (stack->len > 0)
    return ics_error (err, path, 0, "BEGIN:%s is never ended", (const char *) stack->pdata[stack->len - 1]);
  return true;
}

bool
pd_calendar_check_holidays_file (const char *path, GError **err)
{
  g_autoptr (GHashTable) fixed = g_hash_table_new (g_direct_hash, g_direct_equal);
  g_autoptr (GArray) yearly = g_array_new (FALSE, FALSE, sizeof (yearly_t));
  return load_ics (path, fixed, yearly, err);
}

/* ---- the calendar ------------------------------------------------------- */

static bool
is_holiday (const pd_calendar_t *cal, guint32 jd)
{
  if (g_hash_table_contains (cal->holidays, GUINT_TO_POINTER (jd)))
    return true;
  if (cal->yearly->len == 0)
    return false;
  int year;
  from_julian (jd, &year, NULL, NULL, NULL);
  for (guint i = 0; i < cal->yearly->len; i++)
    {
      const yearly_t *r = &g_array_index (cal->yearly, yearly_t, i);
      /* A span of up to a year can start in the year before. */
      for (int y = year - 1; y <= year; y++)
        {
          if (y < r->first_year || (r->last_year != 0 && y > r->last_year))
            continue;
          /* A yearly 29 February happens in leap years only (RFC 5545). */
          if (!g_date_valid_dmy ((GDateDay) r->day, (GDateMonth) r->month, (GDateYear) y))
            continue;
          guint32 start = julian (y, r->month, r->day);
          if (jd >= start && jd < start + (guint32) r->span)
            return true;
        }
    }
  return false;
}

static bool
is_working_day (const pd_calendar_t *cal, guint32 jd)
{
  int weekday;
  from_julian (jd, NULL, NULL, NULL, &weekday);
  return cal->n_ranges[weekday] > 0 && !is_holiday (cal, jd);
}

/* The instant of 'minutes' after local midnight on local date 'jd' (24:00 is
 * the next day's midnight). False outside GDateTime's range. */
static bool
local_instant (const pd_calendar_t *cal, guint32 jd, int minutes, pd_time_t *out)
{
  if (minutes >= 24 * 60)
    {
      jd++;
      minutes -= 24 * 60;
    }
  int y, m, d;
  from_julian (jd, &y, &m, &d, NULL);
  if (y > 9999)
    return false;
  GDateTime *dt = g_date_time_new (cal->tz, y, m, d, minutes / 60, minutes % 60, 0);
  if (dt == NULL)
    return false;
  *out = g_date_time_to_unix (dt);
  g_date_time_unref (dt);
  return true;
}

/* The local date of 't' in the calendar's zone. */
static bool
local_day (const pd_calendar_t *cal, pd_time_t t, guint32 *jd)
{
  GDateTime *utc = g_date_time_new_from_unix_utc (t);
  if (utc == NULL)
    return false;
  GDateTime *dt = g_date_time_to_timezone (utc, cal->tz);
  g_date_time_unref (utc);
  if (dt == NULL)
    return false;
  int y, m, d;
  g_date_time_get_ymd (dt, &y, &m, &d);
  g_date_time_unref (dt);
  if (y > 9999 || y < 1)
    return false;
  *jd = julian (y, m, d);
  return true;
}

typedef struct {
  pd_time_t open, close;
} interval_t;

/* The working intervals of local date 'jd' as UTC instants, in order: none
 * on a holiday or a closed weekday. A range that daylight saving makes
 * empty (it lies in the skipped hour) is left out. False outside
 * GDateTime's range. */
static bool
day_intervals (const pd_calendar_t *cal, guint32 jd, interval_t out[MAX_RANGES], int *n)
{
  *n = 0;
  if (!is_working_day (cal, jd))
    return true;
  int weekday;
  from_julian (jd, NULL, NULL, NULL, &weekday);
  for (int i = 0; i < cal->n_ranges[weekday]; i++)
    {
      interval_t iv;
      if (!local_instant (cal, jd, cal->ranges[weekday][i].start, &iv.open)
          || !local_instant (cal, jd, cal->ranges[weekday][i].end, &iv.close))
        return false;
      if (iv.close > iv.open && (*n == 0 || iv.open >= out[*n - 1].close))
        out[(*n)++] = iv;
    }
  return true;
}

void
pd_calendar_free (pd_calendar_t *cal)
{
  if (cal == NULL)
    return;
  g_free (cal->name);
  g_free (cal->zone);
  if (cal->tz != NULL)
    g_time_zone_unref (cal->tz);
  if (cal->holidays != NULL)
    g_hash_table_unref (cal->holidays);
  if (cal->yearly != NULL)
    g_array_unref (cal->yearly);
  g_free (cal);
}

bool
pd_calendar_new (const char *name, const char *timezone, const char *hours,
                 const char *const *holidays, const char *holidays_file,
                 pd_calendar_t **out, GError **err)
{
  *out = NULL;
  g_autoptr (pd_calendar_t) cal = g_new0 (pd_calendar_t, 1);
  cal->name = g_strdup (name != NULL ? name : "");
  cal->zone = g_strdup (timezone != NULL ? timezone : "");
  cal->holidays = g_hash_table_new (g_direct_hash, g_direct_equal);
  cal->yearly = g_array_new (FALSE, FALSE, sizeof (yearly_t));
  if (!pd_calendar_check_zone (timezone, err))
    return false;
  cal->tz = zone_new (timezone);
  if (!parse_hours (hours, &cal->always, cal->ranges, cal->n_ranges, err))
    return false;

  bool has_holidays = (holidays != NULL && holidays[0] != NULL) || holidays_file != NULL;
  if (cal->always && has_holidays)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "an 'always' calendar never closes, so it has no holidays");
      return false;
    }
  for (int i = 0; holidays != NULL && holidays[i] != NULL; i++)
    {
      guint32 jd;
      if (!parse_iso_date (holidays[i], &jd))
        return pd_calendar_check_holiday (holidays[i], err);
      g_hash_table_add (cal->holidays, GUINT_TO_POINTER (jd));
    }
  if (holidays_file != NULL && !load_ics (holidays_file, cal->holidays, cal->yearly, err))
    return false;

  /* The clock arithmetic walks forward day by day without a horizon, so it
   * must be certain to meet a working day. Fixed holidays end somewhere and
   * bounded yearly ones too; after the last of them the calendar repeats
   * every 400 years, so one cycle without a working day means none ever. */
  if (!cal->always)
    {
      guint32 tail = julian (1970, 1, 1);
      GHashTableIter it;
      gpointer key;
      g_hash_table_iter_init (&it, cal->holidays);
      while (g_hash_table_iter_next (&it, &key, NULL))
        tail = MAX (tail, GPOINTER_TO_UINT (key));
      for (guint i = 0; i < cal->yearly->len; i++)
        {
          const yearly_t *r = &g_array_index (cal->yearly, yearly_t, i);
          /* A rule is periodic from the year after its first, when no span
           * from before it reaches in any more. */
          tail = MAX (tail, julian (MIN (r->first_year + 1, 9999), 12, 31));
          if (r->last_year != 0)
            tail = MAX (tail, julian (MIN (r->last_year + 1, 9999), 12, 31));
        }
      bool found = false;
      for (guint32 k = 1; k <= GREGORIAN_CYCLE_DAYS && !found; k++)
        found = is_working_day (cal, tail + k);
      if (!found)
        {
          g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                       "no working time: the holidays cover every working day");
          return false;
        }
    }
  *out = g_steal_pointer (&cal);
  return true;
}

const char *
pd_calendar_name (const pd_calendar_t *cal)
{
  return cal->name;
}

const char *
pd_calendar_timezone (const pd_calendar_t *cal)
{
  return cal->zone;
}

bool
pd_calendar_is_always (const pd_calendar_t *cal)
{
  return cal->always;
}

bool
pd_calendar_is_open (const pd_calendar_t *cal, pd_time_t t)
{
  if (cal->always)
    return true;
  guint32 jd;
  interval_t iv[MAX_RANGES];
  int n;
  if (!local_day (cal, t, &jd) || !day_intervals (cal, jd, iv, &n))
    return false;
  for (int i = 0; i < n; i++)
    if (t >= iv[i].open && t < iv[i].close)
      return true;
  return false;
}

pd_time_t
pd_calendar_clock_start (const pd_calendar_t *cal, pd_time_t arrival)
{
  if (cal->always)
    return arrival;
  guint32 jd;
  if (!local_day (cal, arrival, &jd))
    return 0;
  /* pd_calendar_new made sure a working day comes. */
  for (;; jd++)
    {
      interval_t iv[MAX_RANGES];
      int n;
      if (!day_intervals (cal, jd, iv, &n))
        return 0;
      for (int i = 0; i < n; i++)
        if (arrival < iv[i].close)
          return MAX (arrival, iv[i].open);
    }
}

static gint64
unit_seconds (pd_sla_unit_t unit)
{
  return unit == PD_SLA_MINUTES ? 60 : unit == PD_SLA_HOURS ? 3600 : 86400;
}

pd_time_t
pd_calendar_add (const pd_calendar_t *cal, pd_time_t start, pd_sla_duration_t duration)
{
  if (cal->always)
    return start + duration.count * unit_seconds (duration.unit);
  pd_time_t t = pd_calendar_clock_start (cal, start);
  guint32 jd;
  if (t == 0 || !local_day (cal, t, &jd))
    return 0;
  interval_t iv[MAX_RANGES];
  int n;

  if (duration.unit != PD_SLA_DAYS)
    {
      /* The deadline is where the last working second ends: "<=" keeps a
       * deadline that ends exactly at closing time on that closing time. */
      gint64 left = duration.count * unit_seconds (duration.unit);
      for (;; jd++)
        {
          if (!day_intervals (cal, jd, iv, &n))
            return 0;
          for (int i = 0; i < n; i++)
            {
              if (iv[i].close <= t)
                continue;
              pd_time_t from = MAX (iv[i].open, t);
              if (left <= iv[i].close - from)
                return from + left;
              left -= iv[i].close - from;
            }
        }
    }

  /* Working days: the position on the working clock is the working time
   * already gone on the clock's first day; the deadline is that position on
   * the Nth working day after it. */
  if (!day_intervals (cal, jd, iv, &n))
    return 0;
  gint64 position = 0;
  for (int i = 0; i < n; i++)
    if (iv[i].open < t)
      position += MIN (iv[i].close, t) - iv[i].open;
  for (int left = duration.count; left > 0;)
    {
      jd++;
      if (is_working_day (cal, jd))
        left--;
    }
  if (!day_intervals (cal, jd, iv, &n))
    return 0;
  /* A working day whose every range daylight saving swallowed is a corner
   * no real calendar has; its midnight stands in for it. */
  if (n == 0)
    return local_instant (cal, jd, 0, &t) ? t : 0;
  /* "<" puts a position that falls on a break at the opening after it, as
   * the clock itself would have started there. */
  for (int i = 0; i < n; i++)
    {
      if (position < iv[i].close - iv[i].open)
        return iv[i].open + position;
      position -= iv[i].close - iv[i].open;
    }
  /* A shorter day ends before the position: the deadline stays on it. */
  return iv[n - 1].close;
}

gint64
pd_calendar_working_seconds (const pd_calendar_t *cal, pd_time_t from, pd_time_t to)
{
  if (to <= from)
    return 0;
  if (cal->always)
    return to - from;
  guint32 jd, last;
  if (!local_day (cal, from, &jd) || !local_day (cal, to, &last))
    return 0;
  gint64 total = 0;
  for (; jd <= last; jd++)
    {
      interval_t iv[MAX_RANGES];
      int n;
      if (!day_intervals (cal, jd, iv, &n))
        break;
      for (int i = 0; i < n; i++)
        {
          pd_time_t a = MAX (iv[i].open, from), b = MIN (iv[i].close, to);
          if (b > a)
            total += b - a;
        }
    }
  return total;
}

/* ---- words -------------------------------------------------------------- */

/* What people call the zones support teams most often work in. Any other
 * zone is named by its identifier alone. */
static const struct {
  const char *zone;
  const char *words;
} zone_words[] = {
  { "America/Los_Angeles", "Pacific Time" },
  { "America/Vancouver", "Pacific Time" },
  { "America/Denver", "Mountain Time" },
  { "America/Phoenix", "Mountain Standard Time" },
  { "America/Chicago", "Central Time" },
  { "America/New_York", "Eastern Time" },
  { "America/Toronto", "Eastern Time" },
  { "America/Sao_Paulo", "Brasília Time" },
  { "Europe/London", "UK time" },
  { "Europe/Dublin", "Irish time" },
  { "Europe/Lisbon", "Western European Time" },
  { "Europe/Berlin", "Central European Time" },
  { "Europe/Paris", "Central European Time" },
  { "Europe/Amsterdam", "Central European Time" },
  { "Europe/Brussels", "Central European Time" },
  { "Europe/Madrid", "Central European Time" },
  { "Europe/Rome", "Central European Time" },
  { "Europe/Vienna", "Central European Time" },
  { "Europe/Zurich", "Central European Time" },
  { "Europe/Stockholm", "Central European Time" },
  { "Europe/Oslo", "Central European Time" },
  { "Europe/Copenhagen", "Central European Time" },
  { "Europe/Warsaw", "Central European Time" },
  { "Europe/Prague", "Central European Time" },
  { "Europe/Helsinki", "Eastern European Time" },
  { "Europe/Athens", "Eastern European Time" },
  { "Asia/Kolkata", "India Standard Time" },
  { "Asia/Singapore", "Singapore Time" },
  { "Asia/Tokyo", "Japan Standard Time" },
  { "Australia/Sydney", "Australian Eastern Time" },
};

static void
append_clock (GString *s, int minutes)
{
  g_string_append_printf (s, "%d:%02d", minutes / 60, minutes % 60);
}

/* "a", "a and b", "a, b and c". */
static void
append_list (GString *s, GPtrArray *items)
{
  for (guint i = 0; i < items->len; i++)
    {
      if (i > 0)
        g_string_append (s, i + 1 == items->len ? " and " : ", ");
      g_string_append (s, items->pdata[i]);
    }
}

static bool
same_ranges (const pd_calendar_t *cal, int a, int b)
{
  return cal->n_ranges[a] == cal->n_ranges[b]
         && memcmp (cal->ranges[a], cal->ranges[b], cal->n_ranges[a] * sizeof (range_t)) == 0;
}

char *
pd_calendar_hours_text (const pd_calendar_t *cal)
{
  if (cal->always)
    return g_strdup ("around the clock, every day");
  GString *s = g_string_new (NULL);
  bool done[7] = { false };
  for (int d = 0; d < 7; d++)
    {
      if (done[d] || cal->n_ranges[d] == 0)
        continue;
      /* The days sharing these hours, three or more in a row as a range. */
      g_autoptr (GPtrArray) days = g_ptr_array_new_with_free_func (g_free);
      for (int e = d; e < 7;)
        {
          if (done[e] || !same_ranges (cal, d, e))
            {
              e++;
              continue;
            }
          int f = e;
          while (f + 1 < 7 && !done[f + 1] && same_ranges (cal, d, f + 1))
            f++;
          for (int k = e; k <= f; k++)
            done[k] = true;
          if (f - e >= 2)
            g_ptr_array_add (days, g_strdup_printf ("%s to %s", day_names[e], day_names[f]));
          else
            for (int k = e; k <= f; k++)
              g_ptr_array_add (days, g_strdup (day_names[k]));
          e = f + 1;
        }
      g_autoptr (GPtrArray) times = g_ptr_array_new_with_free_func (g_free);
      for (int i = 0; i < cal->n_ranges[d]; i++)
        {
          GString *t = g_string_new (NULL);
          append_clock (t, cal->ranges[d][i].start);
          g_string_append (t, "\u2013");
          append_clock (t, cal->ranges[d][i].end);
          g_ptr_array_add (times, g_string_free (t, FALSE));
        }
      if (s->len > 0)
        g_string_append (s, "; ");
      append_list (s, days);
      g_string_append (s, ", ");
      append_list (s, times);
    }
  const char *words = NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (zone_words); i++)
    if (strcmp (zone_words[i].zone, cal->zone) == 0)
      words = zone_words[i].words;
  if (words != NULL)
    g_string_append_printf (s, " %s (%s)", words, cal->zone);
  else if (strcmp (cal->zone, "UTC") == 0)
    g_string_append (s, " UTC");
  else
    g_string_append_printf (s, " %s time", cal->zone);
  return g_string_free (s, FALSE);
}

/* English names whatever the locale: the text goes to customers in mail
 * the support team writes in English, not to the server's terminal. */
static char *
format_in (GTimeZone *tz, pd_time_t t)
{
  GDateTime *utc = g_date_time_new_from_unix_utc (t);
  if (utc == NULL)
    return g_strdup ("(no date)");
  GDateTime *dt = g_date_time_to_timezone (utc, tz);
  g_date_time_unref (utc);
  if (dt == NULL)
    return g_strdup ("(no date)");
  char *text = g_strdup_printf ("%s %d %s %d, %02d:%02d %s", day_names[g_date_time_get_day_of_week (dt) - 1],
                                g_date_time_get_day_of_month (dt), month_names[g_date_time_get_month (dt) - 1],
                                g_date_time_get_year (dt), g_date_time_get_hour (dt),
                                g_date_time_get_minute (dt), g_date_time_get_timezone_abbreviation (dt));
  g_date_time_unref (dt);
  return text;
}

char *
pd_calendar_format (const pd_calendar_t *cal, pd_time_t t)
{
  return format_in (cal->tz, t);
}

char *
pd_zone_format (const char *zone, pd_time_t t)
{
  GTimeZone *tz = zone_new (zone);
  if (tz == NULL)
    return NULL;
  char *text = format_in (tz, t);
  g_time_zone_unref (tz);
  return text;
}

/* ---- an SLA ------------------------------------------------------------- */

bool
pd_sla_deadlines (const pd_sla_t *sla, int severity, pd_time_t arrival, pd_time_t *clock_start,
                  pd_time_t *first_response_due, pd_time_t *resolution_due)
{
  const pd_sla_targets_t *targets = severity == 1 ? &sla->sev1 : severity == 2 ? &sla->sev2 : NULL;
  pd_time_t start = 0, first = 0, resolution = 0;
  if (targets != NULL && sla->calendar != NULL)
    {
      start = pd_calendar_clock_start (sla->calendar, arrival);
      if (targets->has_first_response)
        first = pd_calendar_add (sla->calendar, arrival, targets->first_response);
      if (targets->has_resolution)
        resolution = pd_calendar_add (sla->calendar, arrival, targets->resolution);
    }
  if (clock_start != NULL)
    *clock_start = start;
  if (first_response_due != NULL)
    *first_response_due = first;
  if (resolution_due != NULL)
    *resolution_due = resolution;
  return targets != NULL && sla->calendar != NULL;
}
