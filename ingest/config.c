/* config.c - reads postdesk.conf (GKeyFile) and checks every key before any
 * command runs, so a typo is an error naming file, line and key instead of a
 * setting silently left at its default. */
#include "postdesk/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "postdesk/imap.h"
#include "postdesk/mime.h"
#include "postdesk/sla.h"
#include "postdesk/text.h"
#include "postdesk/tls.h"
#include "postdesk/transport.h"

/* How much of a line or value an error message quotes: enough to find it,
 * never a screenful of whatever the file holds. */
#define SHOWN_CHARS 40

/* Mail providers whose users are strangers to each other: two senders at
 * gmail.com are not "the same organisation" for threading. Admins replace
 * the list with [postdesk] public_domains. */
static const char *const default_public_domains[] = {
  "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "hotmail.co.uk",
  "hotmail.fr", "live.com", "msn.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr",
  "ymail.com", "aol.com", "icloud.com", "me.com", "mac.com", "proton.me",
  "protonmail.com", "pm.me", "gmx.de", "gmx.net", "gmx.com", "web.de",
  "t-online.de", "mail.ru", "yandex.ru", "yandex.com", "qq.com", "163.com",
  "126.com", "free.fr", "orange.fr", "laposte.net", "wanadoo.fr", "libero.it",
  "zoho.com", "fastmail.com", "hey.com", "tutanota.com", "mail.com", NULL,
};

typedef enum {
  KEY_STRING, KEY_PATH, KEY_ADDRESS, KEY_PREFIX, KEY_BYTES, KEY_LIST,
  KEY_TRANSPORT, /* a transport URL (transport.h) */
  KEY_SMTP, /* [transport] username, password_file, ca_file, tls */
  KEY_CHARSETS,  /* a list of character sets iconv knows */
  KEY_COUNT,    /* a whole number from 0 to 1000 */
  KEY_REF,      /* the name of a plan or calendar */
  KEY_ZONE,     /* a time zone identifier */
  KEY_HOURS,    /* working hours (sla.h) */
  KEY_DATES,    /* a list of dates YYYY-MM-DD */
  KEY_FILE,     /* an existing file, relative to the configuration's folder */
  KEY_DURATION, /* an SLA target: 24h, 5d, 30m */
  KEY_BOOL,     /* yes or no */
  /* [mailbox NAME] (imap.h) */
  KEY_MAILURL,  /* imaps://host[:port]/FOLDER or imap://... */
  KEY_LINE,     /* one non-empty line of text */
  KEY_LOCATION, /* a path resolved against the configuration's folder, not read here */
  KEY_COMMAND,  /* a command line, split like a shell's words but never run by one */
  KEY_TLS,      /* verify or none */
  KEY_AFTER,    /* move:FOLDER or flag:seen */
  KEY_SECONDS,  /* a whole number of seconds from 1 to 86400 */
  KEY_AGE,      /* a duration: 90s, 30m, 12h, 1d */
} key_kind_t;

typedef struct {
  const char *section;
  const char *key;
  key_kind_t kind;
} known_key_t;

static const known_key_t known_keys[] = {
  { "postdesk", "database", KEY_PATH },
  { "postdesk", "rules", KEY_PATH },
  { "postdesk", "templates", KEY_PATH },
  { "postdesk", "support_address", KEY_ADDRESS },
  { "postdesk", "support_name", KEY_STRING },
  { "postdesk", "ticket_prefix", KEY_PREFIX },
  { "postdesk", "max_message_bytes", KEY_BYTES },
  { "postdesk", "public_domains", KEY_LIST },
  { "postdesk", "fallback_charsets", KEY_CHARSETS },
  { "postdesk", "system_addresses", KEY_LIST },
  { "postdesk", "default_plan", KEY_REF },
  { "postdesk", "ack_limit_per_hour", KEY_COUNT },
  { "postdesk", "ack_limit_per_day", KEY_COUNT },
  { "staff", "domains", KEY_LIST },
  { "staff", "addresses", KEY_LIST },
  { "calendar", "timezone", KEY_ZONE },
  { "calendar", "hours", KEY_HOURS },
  { "calendar", "holidays", KEY_DATES },
  { "calendar", "holidays_file", KEY_FILE },
  { "plan", "calendar", KEY_REF },
  { "plan", "sev1_first_response", KEY_DURATION },
  { "plan", "sev1_resolution", KEY_DURATION },
  { "plan", "sev2_first_response", KEY_DURATION },
  { "plan", "sev2_resolution", KEY_DURATION },
  { "plan", "oncall", KEY_BOOL },
  { "customer", "domains", KEY_LIST },
  { "customer", "addresses", KEY_LIST },
  { "customer", "plan", KEY_REF },
  { "customer", "timezone", KEY_ZONE },
  { "customer", "sev1_first_response", KEY_DURATION },
  { "customer", "sev1_resolution", KEY_DURATION },
  { "customer", "sev2_first_response", KEY_DURATION },
  { "customer", "sev2_resolution", KEY_DURATION },
  { "transport", "url", KEY_TRANSPORT },
  { "mailbox", "url", KEY_MAILURL },
  { "mailbox", "username", KEY_LINE },
  { "mailbox", "password_file", KEY_LOCATION },
  { "mailbox", "password_command", KEY_COMMAND },
  { "mailbox", "ca_file", KEY_LOCATION },
  { "mailbox", "tls", KEY_TLS },
  { "mailbox", "after", KEY_AFTER },
  { "mailbox", "idle", KEY_BOOL },
  { "mailbox", "poll_interval", KEY_SECONDS },
  { "mailbox", "ack_max_age", KEY_AGE },
  { "transport", "username", KEY_SMTP },
  { "transport", "password_file", KEY_SMTP },
  { "transport", "ca_file", KEY_SMTP },
  { "transport", "tls", KEY_SMTP },
};

/* Sections that hold one of many named things: [calendar business]. */
static const char *const named_kinds[] = { "calendar", "plan", "customer", "mailbox" };

#define KNOWN_SECTIONS \
  "[postdesk], [staff], [transport], [calendar NAME], [plan NAME], [customer NAME], [mailbox NAME]"

/* The SLA defaults: the support team's published SLA. Severity 1: response
 * within 24 hours, resolution or workaround within 72 hours; Severity 2:
 * response within one business week. Self-hosted customers' SLA counts
 * working hours only, 9:00-17:00 Pacific, Monday to Friday. A section of
 * the same name in the file replaces one of these whole. */
static const char builtin_sections[] =
  "[calendar business]\n"
  "timezone = America/Los_Angeles\n"
  "hours = Mon-Fri 09:00-17:00\n"
  "holidays = 2026-12-25, 2027-01-01\n"
  "[calendar always]\n"
  "timezone = UTC\n"
  "hours = always\n"
  "[plan self-hosted]\n"
  "calendar = business\n"
  "sev1_first_response = 24h\n"
  "sev1_resolution = 72h\n"
  "sev2_first_response = 5d\n"
  "[plan managed]\n"
  "calendar = always\n"
  "sev1_first_response = 24h\n"
  "sev1_resolution = 72h\n"
  "sev2_first_response = 5d\n";

#define BUILTIN_PATH "built-in defaults"

/* The kind of a section: its first word ("calendar" of "calendar business"). */
static char *
section_kind (const char *section)
{
  return g_strndup (section, strcspn (section, " \t"));
}

static const known_key_t *
find_known (const char *section, const char *key)
{
  g_autofree char *kind = section_kind (section);
  for (gsize i = 0; i < G_N_ELEMENTS (known_keys); i++)
    if (strcmp (known_keys[i].section, kind) == 0
        && (key == NULL || strcmp (known_keys[i].key, key) == 0))
      return &known_keys[i];
  return NULL;
}

static bool
is_named_kind (const char *kind)
{
  for (gsize i = 0; i < G_N_ELEMENTS (named_kinds); i++)
    if (strcmp (named_kinds[i], kind) == 0)
      return true;
  return false;
}

/* GKeyFile keeps no line numbers, so errors find them again in the text:
 * the line of 'key' inside '[section]', or of the section header itself
 * when key is NULL. 0 when not found. */
static int
line_of (const char *text, const char *section, const char *key)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  bool in_section = false;
  for (int i = 0; lines[i] != NULL; i++)
    {
      const char *l = lines[i];
      while (*l == ' ' || *l == '\t')
        l++;
      if (*l == '[')
        {
          const char *end = strchr (l, ']');
          in_section = end != NULL && (size_t) (end - l - 1) == strlen (section)
                       && strncmp (l + 1, section, end - l - 1) == 0;
          if (in_section && key == NULL)
            return i + 1;
          continue;
        }
      if (in_section && key != NULL && strncmp (l, key, strlen (key)) == 0)
        {
          const char *rest = l + strlen (key);
          while (*rest == ' ' || *rest == '\t')
            rest++;
          if (*rest == '=')
            return i + 1;
        }
    }
  return 0;
}

static void
set_key_error (GError **err, const char *path, const char *text,
               const char *section, const char *key, const char *fmt, ...) G_GNUC_PRINTF (6, 7);

/* GKeyFile's own errors name no line and quote the offending line raw,
 * binary garbage included, so every line is checked here first, with its
 * number. A line is blank, a # comment, a [section] header or key = value
 * inside a section. GKeyFile also accepts "key[de] = value" as a
 * translation of key and lists it nowhere, so such a line would be
 * silently ignored; postdesk has no localised settings, so it is an error
 * like any other unknown key. */
static bool
check_lines (const char *path, const char *text, gsize len, GError **err)
{
  const char *nul = memchr (text, '\0', len);
  if (nul != NULL)
    {
      int line = 1;
      for (const char *p = text; p < nul; p++)
        line += *p == '\n';
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "%s:%d: a NUL byte: this is not a text file", path, line);
      return false;
    }
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_autofree char *section = NULL;
  for (int i = 0; lines[i] != NULL; i++)
    {
      const char *l = lines[i];
      g_autofree char *shown = pd_text_short (g_strstrip (lines[i]), SHOWN_CHARS);
      if (!g_utf8_validate (l, -1, NULL))
        {
          g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "%s:%d: not UTF-8 text: '%s'", path, i + 1, shown);
          return false;
        }
      if (*l == '#' || *l == '\0')
        continue;
      if (*l == '[')
        {
          const char *end = strchr (l, ']');
          if (end == NULL || end[1] != '\0')
            {
              g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                           "%s:%d: a section header is [name] alone on its line: '%s'", path, i + 1, shown);
              return false;
            }
          g_autofree char *name = g_strndup (l + 1, end - l - 1);
          g_free (section);
          section = pd_text_short (name, SHOWN_CHARS);
          continue;
        }
      const char *eq = strchr (l, '=');
      if (eq == NULL || eq == l)
        {
          g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                       "%s:%d: not a setting (key = value), a [section] or a # comment: '%s'", path, i + 1, shown);
          return false;
        }
      g_autofree char *key = g_strstrip (g_strndup (l, eq - l));
      g_autofree char *shown_key = pd_text_short (key, SHOWN_CHARS);
      if (section == NULL)
        {
          g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                       "%s:%d: %s: a setting before any section (start with [postdesk])", path, i + 1, shown_key);
          return false;
        }
      if (strchr (key, '[') != NULL)
        {
          g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                       "%s:%d: [%s] %s: localised keys are not supported", path, i + 1, section, shown_key);
          return false;
        }
    }
  return true;
}

const char *
pd_config_suggest (const char *section, const char *key)
{
  const char *best = NULL;
  gsize best_distance = G_MAXSIZE;
  /* Keys are looked up by the kind of their section, and a misspelt
   * section is compared by its kind: [calender business] is near
   * "calendar". */
  g_autofree char *kind = section_kind (section);
  for (gsize i = 0; i < G_N_ELEMENTS (known_keys); i++)
    {
      const char *candidate = key != NULL ? known_keys[i].key : known_keys[i].section;
      if (key != NULL && strcmp (known_keys[i].section, kind) != 0)
        continue;
      gsize distance = pd_edit_distance (key != NULL ? key : kind, candidate);
      if (distance < best_distance)
        {
          best = candidate;
          best_distance = distance;
        }
    }
  /* A guess further off than a third of the word is noise, not help. */
  gsize typed = strlen (key != NULL ? key : kind);
  if (best == NULL || best_distance == 0 || best_distance > MAX (1, typed / 3))
    return NULL;
  return best;
}

static void
set_key_error (GError **err, const char *path, const char *text,
               const char *section, const char *key, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  int line = text != NULL ? line_of (text, section, key) : 0;
  g_autofree char *where = line > 0 ? g_strdup_printf ("%s:%d", path, line) : g_strdup (path);
  /* What the file says is quoted only in a safe, short form (text.h). */
  g_autofree char *shown_what = pd_text_line (what);
  g_autofree char *shown_section = pd_text_short (section, SHOWN_CHARS);
  g_autofree char *shown_key = pd_text_short (key, SHOWN_CHARS);
  if (key != NULL)
    g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "%s: [%s] %s: %s", where, shown_section, shown_key, shown_what);
  else
    g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "%s: [%s]: %s", where, shown_section, shown_what);
}

/* A value may end with a comment after whitespace ("SUP   # token"), as in
 * the documented examples; GKeyFile itself only knows whole-line comments. */
static char *
strip_inline_comment (char *value)
{
  for (char *p = value; *p != '\0'; p++)
    if (*p == '#' && p > value && (p[-1] == ' ' || p[-1] == '\t'))
      {
        *p = '\0';
        break;
      }
  return g_strstrip (value);
}

static bool in_list (char *const *list, const char *item);
static char *resolve_path (const char *dir, const char *value);

static char **
split_list (const char *value)
{
  g_auto (GStrv) parts = g_strsplit_set (value, ", \t;", -1);
  GPtrArray *out = g_ptr_array_new ();
  for (int i = 0; parts[i] != NULL; i++)
    if (parts[i][0] != '\0')
      g_ptr_array_add (out, g_ascii_strdown (parts[i], -1));
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}

static bool
valid_address (const char *a)
{
  const char *at = strchr (a, '@');
  if (at == NULL || at == a || at[1] == '\0' || strchr (at + 1, '@') != NULL)
    return false;
  for (const char *p = a; *p != '\0'; p++)
    if ((unsigned char) *p <= ' ' || *p == '<' || *p == '>' || *p == '"' || *p == ',' || *p == 0x7f)
      return false;
  return strlen (a) <= 254;
}

static bool
valid_prefix (const char *p)
{
  size_t n = strlen (p);
  if (n == 0 || n > 16 || !g_ascii_isalpha (p[0]))
    return false;
  for (size_t i = 0; i < n; i++)
    if (!g_ascii_isalnum (p[i]))
      return false;
  return true;
}

/* A name of a calendar, plan or customer: it appears in section headers,
 * references and reports, so it stays plain. */
static bool
valid_name (const char *name)
{
  size_t n = strlen (name);
  if (n == 0 || n > 64)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!g_ascii_isalnum (name[i]) && name[i] != '-' && name[i] != '_' && name[i] != '.')
      return false;
  return true;
}

/* The items of a list key, each checked: addresses for *addresses keys,
 * domains otherwise. (transfer full) */
static char **
check_list (const char *key, const char *value, GError **err)
{
  bool addresses = g_str_has_suffix (key, "addresses");
  char **list = split_list (value);
  for (int i = 0; list[i] != NULL; i++)
    {
      bool ok = addresses ? valid_address (list[i])
                          : strchr (list[i], '@') == NULL && strchr (list[i], '.') != NULL;
      if (!ok)
        {
          g_autofree char *item = pd_text_short (list[i], SHOWN_CHARS);
          g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "'%s' is not a %s", item, addresses ? "mail address" : "domain");
          g_strfreev (list);
          return NULL;
        }
    }
  return list;
}

/* "90s", "30m", "12h", "1d" as seconds: a whole number from 1 directly
 * followed by its unit, at most ten years. */
static bool
parse_age (const char *value, gint64 *seconds)
{
  char *end = NULL;
  errno = 0;
  gint64 n = g_ascii_strtoll (value, &end, 10);
  if (errno != 0 || end == value || !g_ascii_isdigit (value[0]) || n < 1 || end[0] == '\0' || end[1] != '\0')
    return false;
  gint64 unit = end[0] == 's' ? 1 : end[0] == 'm' ? 60 : end[0] == 'h' ? 3600 : end[0] == 'd' ? 86400 : 0;
  if (unit == 0 || n > 3650 * 86400 / unit)
    return false;
  *seconds = n * unit;
  return true;
}

/* Checks one value of the kinds the SLA sections use. The error says what
 * is wrong with the value; the caller adds file, line, section and key.
 * *normalised is the value to keep (a file resolved against 'dir').
 * (transfer full) */
static bool
check_value (const known_key_t *known, const char *dir, const char *value, char **normalised, GError **err)
{
  *normalised = NULL;
  g_autofree char *shown = pd_text_short (value, SHOWN_CHARS);
  switch (known->kind)
    {
    case KEY_COUNT:
      {
        char *end = NULL;
        errno = 0;
        gint64 count = g_ascii_strtoll (value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || count < 0 || count > 1000)
          {
            g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "'%s' is not a whole number from 0 to 1000", shown);
            return false;
          }
        break;
      }
    case KEY_REF:
      if (!valid_name (value))
        {
          g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                       "'%s' is not a name (letters, digits, '.', '_' and '-')", shown);
          return false;
        }
      break;
    case KEY_ZONE:
      if (!pd_calendar_check_zone (value, err))
        return false;
      break;
    case KEY_HOURS:
      if (!pd_calendar_check_hours (value, err))
        return false;
      break;
    case KEY_DATES:
      {
        g_auto (GStrv) dates = split_list (value);
        for (int i = 0; dates[i] != NULL; i++)
          if (!pd_calendar_check_holiday (dates[i], err))
            return false;
        break;
      }
    case KEY_FILE:
      {
        if (*value == '\0')
          {
            g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "empty path");
            return false;
          }
        g_autofree char *file = resolve_path (dir, value);
        if (!pd_calendar_check_holidays_file (file, err))
          return false;
        *normalised = g_steal_pointer (&file);
        return true;
      }
    case KEY_DURATION:
      {
        pd_sla_duration_t d;
        if (!pd_sla_duration_parse (value, &d, err))
          return false;
        break;
      }
    case KEY_BOOL:
      if (g_ascii_strcasecmp (value, "yes") != 0 && g_ascii_strcasecmp (value, "no") != 0
          && g_ascii_strcasecmp (value, "true") != 0 && g_ascii_strcasecmp (value, "false") != 0)
        {
          g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "'%s' is not yes or no", shown);
          return false;
        }
      break;
    case KEY_LIST:
      {
        g_auto (GStrv) list = check_list (known->key, value, err);
        if (list == NULL)
          return false;
        break;
      }
    case KEY_MAILURL:
      if (!pd_imap_url_parse (value, NULL, NULL, NULL, NULL, err))
        return false;
      break;
    case KEY_LINE:
      if (*value == '\0' || strpbrk (value, "\r\n") != NULL)
        {
          g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "must be one non-empty line of text");
          return false;
        }
      break;
    case KEY_LOCATION:
      if (*value == '\0')
        {
          g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "empty path");
          return false;
        }
      /* Not read here: a password file is often readable by the daemon's
       * user only, and every command loads this file. */
      *normalised = resolve_path (dir, value);
      return true;
    case KEY_COMMAND:
      {
        /* Split once here so that a bad quote is a configuration error;
         * the words are split again when the command runs. */
        g_auto (GStrv) argv = NULL;
        GError *why = NULL;
        if (!g_shell_parse_argv (value, NULL, &argv, &why))
          {
            g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "not a command line: %s", why->message);
            g_error_free (why);
            return false;
          }
        break;
      }
    case KEY_TLS:
      if (strcmp (value, "verify") != 0 && strcmp (value, "none") != 0)
        {
          g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                       "'%s' is not verify or none (none: plain text, for loopback servers only)", shown);
          return false;
        }
      break;
    case KEY_AFTER:
      {
        const char *folder = g_str_has_prefix (value, "move:") ? value + 5 : NULL;
        if (strcmp (value, "flag:seen") != 0 && (folder == NULL || !pd_imap_folder_valid (folder)))
          {
            g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                         "'%s' is not move:FOLDER (a printable ASCII folder name) or flag:seen", shown);
            return false;
          }
        break;
      }
    case KEY_SECONDS:
      {
        char *end = NULL;
        errno = 0;
        gint64 secs = g_ascii_strtoll (value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || secs < 1 || secs > 86400)
          {
            g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "'%s' is not a number of seconds from 1 to 86400", shown);
            return false;
          }
        break;
      }
    case KEY_AGE:
      {
        gint64 seconds = 0;
        if (!parse_age (value, &seconds))
          {
            g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                         "'%s' is not a duration (a whole number and s, m, h or d, up to 3650d: e.g. 1d)", shown);
            return false;
          }
        *normalised = g_strdup_printf ("%" G_GINT64_FORMAT, seconds);
        return true;
      }
    /* Checked where they are read, in pd_config_load. */
    case KEY_STRING:
    case KEY_PATH:
    case KEY_ADDRESS:
    case KEY_PREFIX:
    case KEY_BYTES:
    case KEY_TRANSPORT:
    case KEY_SMTP:
    case KEY_CHARSETS:
      break;
    }
  *normalised = g_strdup (value);
  return true;
}

/* Reads the value of 'key' in [section]: an unknown key is an error with a
 * suggestion, an inline comment is dropped. (transfer full) */
static char *
read_value (GKeyFile *kf, const char *path, const char *text, const char *section, const char *key,
            const known_key_t **known_out, GError **err)
{
  const known_key_t *known = find_known (section, key);
  *known_out = known;
  if (known == NULL)
    {
      const char *near = pd_config_suggest (section, key);
      if (near != NULL)
        set_key_error (err, path, text, section, key, "unknown key; did you mean '%s'?", near);
      else
        set_key_error (err, path, text, section, key, "unknown key");
      return NULL;
    }
  GError *local = NULL;
  g_autofree char *raw = g_key_file_get_string (kf, section, key, &local);
  if (raw == NULL)
    {
      set_key_error (err, path, text, section, key, "%s", local->message);
      g_error_free (local);
      return NULL;
    }
  return g_strdup (strip_inline_comment (raw));
}

/* A [calendar|plan|customer NAME] section as read and checked key by key.
 * The sections are built only when all are read, because a plan may name a
 * calendar defined further down, and one from the file replaces the
 * built-in section of the same name. */
typedef struct {
  char *section;      /* owned: as written ("calendar business"), for errors */
  char *kind;         /* owned: "calendar", "plan" or "customer" */
  char *name;         /* owned */
  const char *path;   /* borrowed: the file, valid while pd_config_load runs */
  const char *text;   /* borrowed: its text for line numbers, NULL for the built-in defaults */
  GHashTable *values; /* owned: key -> checked value */
} staged_t;

static void
staged_free (gpointer p)
{
  staged_t *st = p;
  g_free (st->section);
  g_free (st->kind);
  g_free (st->name);
  g_hash_table_unref (st->values);
  g_free (st);
}

static bool
stage_section (GPtrArray *stage, GKeyFile *kf, const char *section, const char *path, const char *text,
               const char *dir, GError **err)
{
  g_auto (GStrv) words = g_strsplit_set (section, " \t", -1);
  g_autoptr (GPtrArray) parts = g_ptr_array_new ();
  for (int i = 0; words[i] != NULL; i++)
    if (words[i][0] != '\0')
      g_ptr_array_add (parts, words[i]);
  const char *kind = parts->pdata[0];
  if (parts->len == 1)
    {
      set_key_error (err, path, text, section, NULL, "a %s needs a name: [%s NAME]", kind, kind);
      return false;
    }
  if (parts->len > 2 || !valid_name (parts->pdata[1]))
    {
      set_key_error (err, path, text, section, NULL,
                     "a %s name is one word of letters, digits, '.', '_' and '-'", kind);
      return false;
    }
  staged_t *st = g_new0 (staged_t, 1);
  st->section = g_strdup (section);
  st->kind = g_strdup (kind);
  st->name = g_strdup (parts->pdata[1]);
  st->path = path;
  st->text = text;
  st->values = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GPtrArray) owner = g_ptr_array_new_with_free_func (staged_free);
  g_ptr_array_add (owner, st);

  g_auto (GStrv) keys = g_key_file_get_keys (kf, section, NULL, NULL);
  for (int k = 0; keys != NULL && keys[k] != NULL; k++)
    {
      const known_key_t *known;
      g_autofree char *value = read_value (kf, path, text, section, keys[k], &known, err);
      if (value == NULL)
        return false;
      GError *why = NULL;
      char *checked = NULL;
      if (!check_value (known, dir, value, &checked, &why))
        {
          set_key_error (err, path, text, section, keys[k], "%s", why->message);
          g_error_free (why);
          return false;
        }
      g_hash_table_replace (st->values, g_strdup (keys[k]), checked);
    }

  for (guint i = 0; i < stage->len; i++)
    {
      const staged_t *other = stage->pdata[i];
      if (strcmp (other->kind, st->kind) == 0 && strcmp (other->name, st->name) == 0)
        {
          g_ptr_array_remove_index (stage, i);
          break;
        }
    }
  g_ptr_array_add (stage, g_ptr_array_steal_index (owner, 0));
  return true;
}

static bool
stage_builtins (GPtrArray *stage, GError **err)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  if (!g_key_file_load_from_data (kf, builtin_sections, -1, G_KEY_FILE_NONE, err))
    return false;
  g_auto (GStrv) groups = g_key_file_get_groups (kf, NULL);
  for (int g = 0; groups[g] != NULL; g++)
    if (!stage_section (stage, kf, groups[g], BUILTIN_PATH, NULL, "/", err))
      return false;
  return true;
}

/* g_ptr_array_sort hands over pointers to the elements. */
static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* "a, b, c": the names of what exists, for an error about what does not. */
static char *
known_names (GPtrArray *items, const char *(*name_of) (gconstpointer))
{
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  for (guint i = 0; i < items->len; i++)
    g_ptr_array_add (names, (gpointer) name_of (items->pdata[i]));
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (", ", (char **) names->pdata);
}

static const char *
calendar_name_of (gconstpointer p)
{
  return pd_calendar_name (p);
}

static const char *
plan_name_of (gconstpointer p)
{
  return ((const pd_config_plan_t *) p)->name;
}

static void
plan_free (gpointer p)
{
  pd_config_plan_t *plan = p;
  g_free (plan->name);
  g_free (plan);
}

static void
customer_free (gpointer p)
{
  pd_config_customer_t *c = p;
  g_free (c->name);
  g_strfreev (c->domains);
  g_strfreev (c->addresses);
  g_free (c->timezone);
  g_free (c);
}

/* Reads the four SLA targets of a plan or customer; values were checked
 * when staged, so parsing cannot fail here. */
static void
read_targets (const staged_t *st, pd_sla_targets_t *sev1, pd_sla_targets_t *sev2)
{
  static const char *const keys[] = { "sev1_first_response", "sev1_resolution", "sev2_first_response",
                                      "sev2_resolution" };
  pd_sla_targets_t *targets[] = { sev1, sev1, sev2, sev2 };
  for (int i = 0; i < 4; i++)
    {
      const char *value = g_hash_table_lookup (st->values, keys[i]);
      if (value == NULL)
        continue;
      bool first = i % 2 == 0;
      pd_sla_duration_t *d = first ? &targets[i]->first_response : &targets[i]->resolution;
      if (!pd_sla_duration_parse (value, d, NULL))
        g_assert_not_reached ();
      if (first)
        targets[i]->has_first_response = true;
      else
        targets[i]->has_resolution = true;
    }
}

static bool
build_calendar (pd_config_t *cfg, const staged_t *st, GError **err)
{
  const char *zone = g_hash_table_lookup (st->values, "timezone");
  const char *hours = g_hash_table_lookup (st->values, "hours");
  const char *dates = g_hash_table_lookup (st->values, "holidays");
  const char *file = g_hash_table_lookup (st->values, "holidays_file");
  if (zone == NULL || hours == NULL)
    {
      set_key_error (err, st->path, st->text, st->section, NULL,
                     "a calendar needs timezone and hours (e.g. timezone = America/Los_Angeles, "
                     "hours = Mon-Fri 09:00-17:00)");
      return false;
    }
  g_auto (GStrv) holidays = dates != NULL ? split_list (dates) : NULL;
  pd_calendar_t *cal = NULL;
  GError *why = NULL;
  if (!pd_calendar_new (st->name, zone, hours, (const char *const *) holidays, file, &cal, &why))
    {
      /* Each value passed its own check, so what is left is how they go
       * together: holidays on an 'always' calendar, or holidays that leave
       * no working day (only a yearly event of a holidays file can). */
      const char *key = g_ascii_strcasecmp (hours, "always") == 0 && dates != NULL ? "holidays"
                        : file != NULL                                            ? "holidays_file"
                                                                                  : "hours";
      set_key_error (err, st->path, st->text, st->section, key, "%s", why->message);
      g_error_free (why);
      return false;
    }
  g_ptr_array_add (cfg->calendars, cal);
  return true;
}

static bool
build_plan (pd_config_t *cfg, const staged_t *st, GError **err)
{
  const char *calendar = g_hash_table_lookup (st->values, "calendar");
  if (calendar == NULL)
    {
      set_key_error (err, st->path, st->text, st->section, NULL, "a plan needs a calendar (e.g. calendar = business)");
      return false;
    }
  const pd_calendar_t *cal = pd_config_calendar (cfg, calendar);
  if (cal == NULL)
    {
      g_autofree char *known = known_names (cfg->calendars, calendar_name_of);
      set_key_error (err, st->path, st->text, st->section, "calendar", "no calendar '%s' (known: %s)", calendar,
                     known);
      return false;
    }
  pd_config_plan_t *plan = g_new0 (pd_config_plan_t, 1);
  plan->name = g_strdup (st->name);
  plan->calendar = cal;
  const char *oncall = g_hash_table_lookup (st->values, "oncall");
  plan->oncall = oncall != NULL && (g_ascii_strcasecmp (oncall, "yes") == 0 || g_ascii_strcasecmp (oncall, "true") == 0);
  read_targets (st, &plan->sev1, &plan->sev2);
  g_ptr_array_add (cfg->plans, plan);
  return true;
}

/* The customer other than 'self' that lists 'item' as an address or a
 * domain, or NULL: mail from one sender must belong to one contract. */
static const pd_config_customer_t *
claimed_by (const pd_config_t *cfg, const pd_config_customer_t *self, const char *item, bool address)
{
  for (guint i = 0; i < cfg->customers->len; i++)
    {
      const pd_config_customer_t *c = cfg->customers->pdata[i];
      if (c != self && in_list (address ? c->addresses : c->domains, item))
        return c;
    }
  return NULL;
}

static bool
build_customer (pd_config_t *cfg, const staged_t *st, GError **err)
{
  const char *domains = g_hash_table_lookup (st->values, "domains");
  const char *addresses = g_hash_table_lookup (st->values, "addresses");
  const char *plan_name = g_hash_table_lookup (st->values, "plan");
  const char *zone = g_hash_table_lookup (st->values, "timezone");
  g_autoptr (GPtrArray) owner = g_ptr_array_new_with_free_func (customer_free);
  pd_config_customer_t *c = g_new0 (pd_config_customer_t, 1);
  g_ptr_array_add (owner, c);
  c->name = g_strdup (st->name);
  c->domains = split_list (domains != NULL ? domains : "");
  c->addresses = split_list (addresses != NULL ? addresses : "");
  c->timezone = g_strdup (zone);
  if (c->domains[0] == NULL && c->addresses[0] == NULL)
    {
      set_key_error (err, st->path, st->text, st->section, NULL,
                     "a customer needs domains or addresses (how else would its mail be recognised?)");
      return false;
    }
  c->plan = pd_config_plan (cfg, plan_name != NULL ? plan_name : cfg->default_plan);
  if (c->plan == NULL)
    {
      g_autofree char *known = known_names (cfg->plans, plan_name_of);
      set_key_error (err, st->path, st->text, st->section, "plan", "no plan '%s' (known: %s)", plan_name, known);
      return false;
    }
  for (int i = 0; c->domains[i] != NULL; i++)
    {
      const pd_config_customer_t *other = claimed_by (cfg, c, c->domains[i], false);
      if (other != NULL || pd_config_is_public_domain (cfg, c->domains[i]))
        {
          if (other != NULL)
            set_key_error (err, st->path, st->text, st->section, "domains",
                           "'%s' is already a domain of [customer %s]", c->domains[i], other->name);
          else
            set_key_error (err, st->path, st->text, st->section, "domains",
                           "'%s' is a public mail domain (see public_domains): list the customer's addresses instead",
                           c->domains[i]);
          return false;
        }
    }
  for (int i = 0; c->addresses[i] != NULL; i++)
    {
      const pd_config_customer_t *other = claimed_by (cfg, c, c->addresses[i], true);
      if (other != NULL)
        {
          set_key_error (err, st->path, st->text, st->section, "addresses",
                         "'%s' is already an address of [customer %s]", c->addresses[i], other->name);
          return false;
        }
    }
  read_targets (st, &c->sev1, &c->sev2);
  g_ptr_array_add (cfg->customers, g_ptr_array_steal_index (owner, 0));
  return true;
}

static void
mailbox_free (gpointer p)
{
  pd_config_mailbox_t *mb = p;
  g_free (mb->name);
  g_free (mb->url);
  g_free (mb->host);
  g_free (mb->folder);
  g_free (mb->username);
  g_free (mb->password_file);
  g_strfreev (mb->password_command);
  g_free (mb->ca_file);
  g_free (mb->after_folder);
  g_free (mb);
}

/* A [mailbox NAME] from its checked values: what each key needs of the
 * others (a password from one place, tls = none only on loopback). */
static bool
build_mailbox (pd_config_t *cfg, const staged_t *st, GError **err)
{
  const char *url = g_hash_table_lookup (st->values, "url");
  const char *username = g_hash_table_lookup (st->values, "username");
  const char *pw_file = g_hash_table_lookup (st->values, "password_file");
  const char *pw_command = g_hash_table_lookup (st->values, "password_command");
  const char *tls = g_hash_table_lookup (st->values, "tls");
  const char *after = g_hash_table_lookup (st->values, "after");
  const char *idle = g_hash_table_lookup (st->values, "idle");
  const char *poll = g_hash_table_lookup (st->values, "poll_interval");
  const char *age = g_hash_table_lookup (st->values, "ack_max_age");
  if (url == NULL || username == NULL)
    {
      set_key_error (err, st->path, st->text, st->section, NULL,
                     "a mailbox needs url and username (e.g. url = imaps://imap.example.com/INBOX)");
      return false;
    }
  if ((pw_file == NULL) == (pw_command == NULL))
    {
      set_key_error (err, st->path, st->text, st->section, pw_command != NULL ? "password_command" : NULL,
                     "give the password in one way: password_file or password_command");
      return false;
    }
  g_autoptr (GPtrArray) owner = g_ptr_array_new_with_free_func (mailbox_free);
  pd_config_mailbox_t *mb = g_new0 (pd_config_mailbox_t, 1);
  g_ptr_array_add (owner, mb);
  mb->name = g_strdup (st->name);
  mb->url = g_strdup (url);
  if (!pd_imap_url_parse (url, &mb->implicit_tls, &mb->host, &mb->port, &mb->folder, NULL))
    g_assert_not_reached (); /* checked when staged */
  mb->username = g_strdup (username);
  mb->password_file = g_strdup (pw_file);
  if (pw_command != NULL && !g_shell_parse_argv (pw_command, NULL, &mb->password_command, NULL))
    g_assert_not_reached ();
  mb->ca_file = g_strdup (g_hash_table_lookup (st->values, "ca_file"));
  mb->tls_none = tls != NULL && strcmp (tls, "none") == 0;
  if (mb->tls_none && !pd_tls_plain_allowed (mb->host))
    {
      set_key_error (err, st->path, st->text, st->section, "tls",
                     "tls = none sends the password in plain text: only for a loopback server "
                     "(localhost, 127.0.0.1, ::1), not %s", mb->host);
      return false;
    }
  if (mb->tls_none && mb->implicit_tls)
    {
      set_key_error (err, st->path, st->text, st->section, "tls", "tls = none needs an imap:// url, not imaps://");
      return false;
    }
  mb->after = PD_MAILBOX_AFTER_SEEN;
  if (after != NULL && g_str_has_prefix (after, "move:"))
    {
      mb->after = PD_MAILBOX_AFTER_MOVE;
      mb->after_folder = g_strdup (after + 5);
      if (strcmp (mb->after_folder, mb->folder) == 0)
        {
          set_key_error (err, st->path, st->text, st->section, "after",
                         "moving mail into the folder it is read from (%s) would read it again", mb->folder);
          return false;
        }
    }
  mb->idle = idle == NULL || g_ascii_strcasecmp (idle, "yes") == 0 || g_ascii_strcasecmp (idle, "true") == 0;
  mb->poll_interval = poll != NULL ? (int) g_ascii_strtoll (poll, NULL, 10) : 60;
  mb->ack_max_age = age != NULL ? g_ascii_strtoll (age, NULL, 10) : 86400;
  g_ptr_array_add (cfg->mailboxes, g_ptr_array_steal_index (owner, 0));
  return true;
}

/* Builds calendars, then plans, then customers, so that each finds what it
 * names; [postdesk] default_plan is checked in between, with the line of
 * the file ('path', 'text') that set it. */
static bool
build_sla (pd_config_t *cfg, GPtrArray *stage, const char *path, const char *text, GError **err)
{
  for (guint i = 0; i < stage->len; i++)
    {
      const staged_t *st = stage->pdata[i];
      if (strcmp (st->kind, "calendar") == 0 && !build_calendar (cfg, st, err))
        return false;
    }
  for (guint i = 0; i < stage->len; i++)
    {
      const staged_t *st = stage->pdata[i];
      if (strcmp (st->kind, "plan") == 0 && !build_plan (cfg, st, err))
        return false;
    }
  if (pd_config_plan (cfg, cfg->default_plan) == NULL)
    {
      g_autofree char *known = known_names (cfg->plans, plan_name_of);
      set_key_error (err, path, text, "postdesk", "default_plan", "no plan '%s' (known: %s)", cfg->default_plan,
                     known);
      return false;
    }
  for (guint i = 0; i < stage->len; i++)
    {
      const staged_t *st = stage->pdata[i];
      if (strcmp (st->kind, "customer") == 0 && !build_customer (cfg, st, err))
        return false;
    }
  for (guint i = 0; i < stage->len; i++)
    {
      const staged_t *st = stage->pdata[i];
      if (strcmp (st->kind, "mailbox") == 0 && !build_mailbox (cfg, st, err))
        return false;
    }
  return true;
}

/* Everything but the SLA sections, at its default. */
static pd_config_t *
config_base (void)
{
  pd_config_t *cfg = g_new0 (pd_config_t, 1);
  cfg->dir = g_get_current_dir ();
  cfg->database = g_build_filename (cfg->dir, "var", "postdesk.db", NULL);
  cfg->rules_dir = g_build_filename (cfg->dir, "rules", NULL);
  cfg->templates_dir = g_build_filename (cfg->dir, "templates", NULL);
  cfg->support_address = g_strdup ("support@example.com");
  cfg->support_name = g_strdup ("Example Support");
  cfg->ticket_prefix = g_strdup ("SUP");
  cfg->max_message_bytes = 26214400;
  cfg->staff_domains = g_new0 (char *, 1);
  cfg->staff_addresses = g_new0 (char *, 1);
  cfg->public_domains = g_strdupv ((char **) default_public_domains);
  cfg->fallback_charsets = g_strsplit ("windows-1252", ",", -1);
  cfg->system_addresses = g_new0 (char *, 1);
  cfg->ack_limit_per_hour = 3;
  cfg->ack_limit_per_day = 10;
  cfg->default_plan = g_strdup ("self-hosted");
  cfg->calendars = g_ptr_array_new_with_free_func ((GDestroyNotify) pd_calendar_free);
  cfg->plans = g_ptr_array_new_with_free_func (plan_free);
  cfg->customers = g_ptr_array_new_with_free_func (customer_free);
  cfg->mailboxes = g_ptr_array_new_with_free_func (mailbox_free);
  return cfg;
}

pd_config_t *
pd_config_new_default (void)
{
  pd_config_t *cfg = config_base ();
  g_autoptr (GPtrArray) stage = g_ptr_array_new_with_free_func (staged_free);
  GError *err = NULL;
  /* Only a missing tzdata can stop the built-in calendars; the commands
   * that run without a file do not need them, so this is a warning. */
  if (!stage_builtins (stage, &err) || !build_sla (cfg, stage, BUILTIN_PATH, NULL, &err))
    {
      g_warning ("%s", err->message);
      g_error_free (err);
    }
  return cfg;
}

void
pd_config_free (pd_config_t *cfg)
{
  if (cfg == NULL)
    return;
  g_free (cfg->path);
  g_free (cfg->dir);
  g_free (cfg->database);
  g_free (cfg->rules_dir);
  g_free (cfg->templates_dir);
  g_strfreev (cfg->fallback_charsets);
  g_free (cfg->support_address);
  g_free (cfg->support_name);
  g_free (cfg->ticket_prefix);
  g_strfreev (cfg->staff_domains);
  g_strfreev (cfg->staff_addresses);
  g_strfreev (cfg->public_domains);
  g_free (cfg->transport_url);
  g_free (cfg->transport_username);
  g_free (cfg->transport_password_file);
  g_free (cfg->transport_ca_file);
  g_strfreev (cfg->system_addresses);
  g_free (cfg->default_plan);
  /* Plans borrow calendars and customers borrow plans: free the borrowers first. */
  if (cfg->mailboxes != NULL)
    g_ptr_array_unref (cfg->mailboxes);
  if (cfg->customers != NULL)
    g_ptr_array_unref (cfg->customers);
  if (cfg->plans != NULL)
    g_ptr_array_unref (cfg->plans);
  if (cfg->calendars != NULL)
    g_ptr_array_unref (cfg->calendars);
  g_free (cfg);
}

char *
pd_config_find (const char *explicit_path, GError **err)
{
  if (explicit_path != NULL)
    {
      if (!g_file_test (explicit_path, G_FILE_TEST_IS_REGULAR))
        {
          g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "%s: no such configuration file (from --config)",
                       explicit_path);
          return NULL;
        }
      return g_strdup (explicit_path);
    }
  const char *env = g_getenv ("POSTDESK_CONFIG");
  if (env != NULL && *env != '\0')
    {
      if (!g_file_test (env, G_FILE_TEST_IS_REGULAR))
        {
          g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                       "%s: no such configuration file (from $POSTDESK_CONFIG)", env);
          return NULL;
        }
      return g_strdup (env);
    }
  if (g_file_test ("postdesk.conf", G_FILE_TEST_IS_REGULAR))
    return g_strdup ("postdesk.conf");
  if (g_file_test ("/etc/postdesk/postdesk.conf", G_FILE_TEST_IS_REGULAR))
    return g_strdup ("/etc/postdesk/postdesk.conf");
  g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
               "no configuration file: give --config FILE or set $POSTDESK_CONFIG "
               "(also tried ./postdesk.conf and /etc/postdesk/postdesk.conf; "
               "'postdesk init DIR' writes one)");
  return NULL;
}

static char *
resolve_path (const char *dir, const char *value)
{
  if (g_path_is_absolute (value))
    return g_canonicalize_filename (value, NULL);
  return g_canonicalize_filename (value, dir);
}

bool
pd_config_load (const char *path, pd_config_t **out, GError **err)
{
  *out = NULL;
  g_autofree char *text = NULL;
  gsize len = 0;
  GError *local = NULL;
  if (!g_file_get_contents (path, &text, &len, &local))
    {
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "%s: cannot read configuration: %s", path,
                   local->message);
      g_error_free (local);
      return false;
    }
  if (!check_lines (path, text, len, err))
    return false;
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  if (!g_key_file_load_from_data (kf, text, len, G_KEY_FILE_NONE, &local))
    {
      g_autofree char *why = pd_text_short (local->message, 2 * SHOWN_CHARS);
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "%s: %s", path, why);
      g_error_free (local);
      return false;
    }

  g_autoptr (pd_config_t) cfg = config_base ();
  g_free (cfg->dir);
  g_autofree char *abs = g_canonicalize_filename (path, NULL);
  cfg->path = g_strdup (abs);
  cfg->dir = g_path_get_dirname (abs);
  g_free (cfg->database);
  cfg->database = g_build_filename (cfg->dir, "var", "postdesk.db", NULL);
  g_free (cfg->rules_dir);
  cfg->rules_dir = g_build_filename (cfg->dir, "rules", NULL);
  g_free (cfg->templates_dir);
  cfg->templates_dir = g_build_filename (cfg->dir, "templates", NULL);

  /* The built-in SLA sections come first, so that the file's sections of
   * the same name replace them. */
  g_autoptr (GPtrArray) stage = g_ptr_array_new_with_free_func (staged_free);
  if (!stage_builtins (stage, err))
    return false;

  g_auto (GStrv) groups = g_key_file_get_groups (kf, NULL);
  for (int g = 0; groups[g] != NULL; g++)
    {
      const char *section = groups[g];
      g_autofree char *kind = section_kind (section);
      if (is_named_kind (kind))
        {
          if (!stage_section (stage, kf, section, path, text, cfg->dir, err))
            return false;
          continue;
        }
      if (find_known (section, NULL) != NULL && strcmp (kind, section) != 0)
        {
          set_key_error (err, path, text, section, NULL, "[%s] takes no name (known: " KNOWN_SECTIONS ")", kind);
          return false;
        }
      if (find_known (section, NULL) == NULL)
        {
          const char *near = pd_config_suggest (section, NULL);
          if (near != NULL)
            set_key_error (err, path, text, section, NULL,
                           "unknown section; did you mean [%s%s]? (known: " KNOWN_SECTIONS ")", near,
                           section + strlen (kind));
          else
            set_key_error (err, path, text, section, NULL, "unknown section (known: " KNOWN_SECTIONS ")");
          return false;
        }
      g_auto (GStrv) keys = g_key_file_get_keys (kf, section, NULL, NULL);
      for (int k = 0; keys != NULL && keys[k] != NULL; k++)
        {
          const char *key = keys[k];
          const known_key_t *known;
          g_autofree char *value = read_value (kf, path, text, section, key, &known, err);
          if (value == NULL)
            return false;
          g_autofree char *shown = pd_text_short (value, SHOWN_CHARS);
          switch (known->kind)
            {
            case KEY_PATH:
              {
                if (*value == '\0')
                  {
                    set_key_error (err, path, text, section, key, "empty path");
                    return false;
                  }
                char **slot = strcmp (key, "database") == 0 ? &cfg->database
                              : strcmp (key, "rules") == 0  ? &cfg->rules_dir
                                                            : &cfg->templates_dir;
                g_free (*slot);
                *slot = resolve_path (cfg->dir, value);
                break;
              }
            case KEY_ADDRESS:
              if (!valid_address (value))
                {
                  set_key_error (err, path, text, section, key,
                                 "'%s' is not a mail address (expected e.g. support@example.com)", shown);
                  return false;
                }
              g_free (cfg->support_address);
              cfg->support_address = g_ascii_strdown (value, -1);
              break;
            case KEY_STRING:
              if (*value == '\0' || strpbrk (value, "\r\n") != NULL || !g_utf8_validate (value, -1, NULL))
                {
                  set_key_error (err, path, text, section, key, "must be one non-empty line of UTF-8 text");
                  return false;
                }
              g_free (cfg->support_name);
              cfg->support_name = g_strdup (value);
              break;
            case KEY_PREFIX:
              if (!valid_prefix (value))
                {
                  set_key_error (err, path, text, section, key,
                                 "'%s' is not a ticket prefix (1 to 16 letters and digits, starting with a letter)",
                                 shown);
                  return false;
                }
              g_free (cfg->ticket_prefix);
              cfg->ticket_prefix = g_ascii_strup (value, -1);
              break;
            case KEY_BYTES:
              {
                char *end = NULL;
                errno = 0;
                gint64 n = g_ascii_strtoll (value, &end, 10);
                if (errno != 0 || end == value || *end != '\0' || n < 1024 || n > 512 * 1024 * 1024)
                  {
                    set_key_error (err, path, text, section, key,
                                   "'%s' is not a size in bytes between 1024 and 536870912", shown);
                    return false;
                  }
                cfg->max_message_bytes = n;
                break;
              }
            case KEY_CHARSETS:
              {
                /* Text declared UTF-8 whose bytes are not is read in the
                 * first of these that takes it: each must be a charset the
                 * system's iconv knows, or no mail could ever use it. */
                char **list = split_list (value);
                for (int i = 0; list[i] != NULL; i++)
                  {
                    GIConv cd = g_iconv_open ("UTF-8", list[i]);
                    if (cd == (GIConv) -1)
                      {
                        g_autofree char *item = pd_text_short (list[i], SHOWN_CHARS);
                        set_key_error (err, path, text, section, key, "'%s' is not a charset iconv knows", item);
                        g_strfreev (list);
                        return false;
                      }
                    g_iconv_close (cd);
                  }
                if (list[0] == NULL)
                  {
                    set_key_error (err, path, text, section, key, "give at least one charset (default: windows-1252)");
                    g_strfreev (list);
                    return false;
                  }
                g_strfreev (cfg->fallback_charsets);
                cfg->fallback_charsets = list;
                break;
              }
            case KEY_LIST:
              {
                GError *why = NULL;
                char **list = check_list (key, value, &why);
                if (list == NULL)
                  {
                    set_key_error (err, path, text, section, key, "%s", why->message);
                    g_error_free (why);
                    return false;
                  }
                char ***slot = strcmp (key, "public_domains") == 0     ? &cfg->public_domains
                               : strcmp (key, "system_addresses") == 0 ? &cfg->system_addresses
                               : strcmp (key, "domains") == 0          ? &cfg->staff_domains
                                                                       : &cfg->staff_addresses;
                g_strfreev (*slot);
                *slot = list;
                break;
              }
            case KEY_TRANSPORT:
              {
                /* transport.c knows the schemes, so that the check here and
                 * the transport opened later never disagree. */
                g_autofree char *url = NULL;
                if (!pd_transport_url_check (value, cfg->dir, &url, &local))
                  {
                    set_key_error (err, path, text, section, key, "%s", local->message);
                    g_error_free (local);
                    return false;
                  }
                g_free (cfg->transport_url);
                cfg->transport_url = g_steal_pointer (&url);
                break;
              }
            case KEY_SMTP:
              {
                /* SMTP settings; whether they fit the url is checked once
                 * every key is read (pd_transport_options_check below). */
                if (*value == '\0' || strpbrk (value, "\r\n") != NULL || !g_utf8_validate (value, -1, NULL))
                  {
                    set_key_error (err, path, text, section, key, "must be one non-empty line of UTF-8 text");
                    return false;
                  }
                if (strcmp (key, "tls") == 0)
                  {
                    if (strcmp (value, "none") != 0 && strcmp (value, "required") != 0)
                      {
                        set_key_error (err, path, text, section, key,
                                       "'%s' is not a TLS setting (known: required, the default; "
                                       "none, for a loopback server only)", shown);
                        return false;
                      }
                    cfg->transport_tls_none = strcmp (value, "none") == 0;
                    break;
                  }
                char **slot = strcmp (key, "username") == 0        ? &cfg->transport_username
                              : strcmp (key, "password_file") == 0 ? &cfg->transport_password_file
                                                                   : &cfg->transport_ca_file;
                g_free (*slot);
                *slot = strcmp (key, "username") == 0 ? g_strdup (value) : resolve_path (cfg->dir, value);
                break;
              }
            default:
              {
                /* The SLA-related kinds: [postdesk] default_plan and the
                 * acknowledgement limits. */
                GError *why = NULL;
                g_autofree char *checked = NULL;
                if (!check_value (known, cfg->dir, value, &checked, &why))
                  {
                    set_key_error (err, path, text, section, key, "%s", why->message);
                    g_error_free (why);
                    return false;
                  }
                if (strcmp (key, "default_plan") == 0)
                  {
                    g_free (cfg->default_plan);
                    cfg->default_plan = g_steal_pointer (&checked);
                  }
                else if (strcmp (key, "ack_limit_per_hour") == 0)
                  cfg->ack_limit_per_hour = (int) g_ascii_strtoll (checked, NULL, 10);
                else
                  cfg->ack_limit_per_day = (int) g_ascii_strtoll (checked, NULL, 10);
                break;
              }
            }
        }
    }
  if (!build_sla (cfg, stage, path, text, err))
    return false;
  {
    const pd_transport_options_t topt = {
      .username = cfg->transport_username, .password_file = cfg->transport_password_file,
      .ca_file = cfg->transport_ca_file, .tls_none = cfg->transport_tls_none,
    };
    if (!pd_transport_options_check (cfg->transport_url != NULL ? cfg->transport_url : "",
                                     &topt, &local))
      {
        set_key_error (err, path, text, "transport", NULL, "%s", local->message);
        g_error_free (local);
        return false;
      }
  }
  *out = g_steal_pointer (&cfg);
  return true;
}

static bool
in_list (char *const *list, const char *item)
{
  for (int i = 0; list != NULL && list[i] != NULL; i++)
    if (g_ascii_strcasecmp (list[i], item) == 0)
      return true;
  return false;
}

bool
pd_config_is_staff (const pd_config_t *cfg, const char *address)
{
  if (address == NULL)
    return false;
  if (in_list (cfg->staff_addresses, address))
    return true;
  g_autofree char *domain = pd_address_domain (address);
  return domain != NULL && in_list (cfg->staff_domains, domain);
}

bool
pd_config_is_public_domain (const pd_config_t *cfg, const char *domain)
{
  return domain != NULL && in_list (cfg->public_domains, domain);
}

bool
pd_config_is_support_address (const pd_config_t *cfg, const char *address)
{
  if (address == NULL)
    return false;
  if (g_ascii_strcasecmp (address, cfg->support_address) == 0)
    return true;
  /* support+anything@domain */
  const char *at = strrchr (cfg->support_address, '@');
  size_t local_len = at - cfg->support_address;
  const char *their_at = strrchr (address, '@');
  return their_at != NULL && g_ascii_strcasecmp (their_at, at) == 0
         && g_ascii_strncasecmp (address, cfg->support_address, local_len) == 0
         && address[local_len] == '+';
}

bool
pd_config_is_system_address (const pd_config_t *cfg, const char *address)
{
  return address != NULL && in_list (cfg->system_addresses, address);
}

const pd_calendar_t *
pd_config_calendar (const pd_config_t *cfg, const char *name)
{
  for (guint i = 0; name != NULL && i < cfg->calendars->len; i++)
    if (strcmp (pd_calendar_name (cfg->calendars->pdata[i]), name) == 0)
      return cfg->calendars->pdata[i];
  return NULL;
}

const pd_config_plan_t *
pd_config_plan (const pd_config_t *cfg, const char *name)
{
  for (guint i = 0; name != NULL && i < cfg->plans->len; i++)
    if (strcmp (((const pd_config_plan_t *) cfg->plans->pdata[i])->name, name) == 0)
      return cfg->plans->pdata[i];
  return NULL;
}

const pd_config_customer_t *
pd_config_customer (const pd_config_t *cfg, const char *name)
{
  for (guint i = 0; name != NULL && i < cfg->customers->len; i++)
    if (strcmp (((const pd_config_customer_t *) cfg->customers->pdata[i])->name, name) == 0)
      return cfg->customers->pdata[i];
  return NULL;
}

const pd_config_mailbox_t *
pd_config_mailbox (const pd_config_t *cfg, const char *name)
{
  for (guint i = 0; name != NULL && i < cfg->mailboxes->len; i++)
    if (strcmp (((const pd_config_mailbox_t *) cfg->mailboxes->pdata[i])->name, name) == 0)
      return cfg->mailboxes->pdata[i];
  return NULL;
}

const pd_config_customer_t *
pd_config_customer_for (const pd_config_t *cfg, const char *sender_address)
{
  if (sender_address == NULL)
    return NULL;
  /* An address listed by one customer wins over another's domain: a
   * contractor at acme.com may be working for globex. */
  for (guint i = 0; i < cfg->customers->len; i++)
    {
      const pd_config_customer_t *c = cfg->customers->pdata[i];
      if (in_list (c->addresses, sender_address))
        return c;
    }
  g_autofree char *domain = pd_address_domain (sender_address);
  for (guint i = 0; domain != NULL && i < cfg->customers->len; i++)
    {
      const pd_config_customer_t *c = cfg->customers->pdata[i];
      if (in_list (c->domains, domain))
        return c;
    }
  return NULL;
}

static void
apply_overrides (pd_sla_targets_t *targets, const pd_sla_targets_t *overrides)
{
  if (overrides->has_first_response)
    {
      targets->has_first_response = true;
      targets->first_response = overrides->first_response;
    }
  if (overrides->has_resolution)
    {
      targets->has_resolution = true;
      targets->resolution = overrides->resolution;
    }
}

bool
pd_config_sla_for (const pd_config_t *cfg, const char *sender_address, pd_sla_t *out)
{
  memset (out, 0, sizeof *out);
  const pd_config_customer_t *customer = pd_config_customer_for (cfg, sender_address);
  const pd_config_plan_t *plan = customer != NULL ? customer->plan : pd_config_plan (cfg, cfg->default_plan);
  if (plan == NULL || plan->calendar == NULL)
    return false;
  out->customer = customer != NULL ? customer->name : NULL;
  out->plan = plan->name;
  out->calendar = plan->calendar;
  out->customer_timezone = customer != NULL ? customer->timezone : NULL;
  out->oncall = plan->oncall;
  out->sev1 = plan->sev1;
  out->sev2 = plan->sev2;
  if (customer != NULL)
    {
      apply_overrides (&out->sev1, &customer->sev1);
      apply_overrides (&out->sev2, &customer->sev2);
    }
  return true;
}
