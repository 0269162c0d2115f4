/* config.c - reads postdesk.conf (GKeyFile) and checks every key before any
 * command runs, so a typo is an error naming file, line and key instead of a
 * setting silently left at its default. */
#include "postdesk/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "postdesk/mime.h"
#include "postdesk/text.h"
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
  KEY_STRING, KEY_PATH, KEY_ADDRESS, KEY_PREFIX, KEY_BYTES, KEY_LIST, KEY_TRANSPORT, KEY_CHARSETS
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
  { "staff", "domains", KEY_LIST },
  { "staff", "addresses", KEY_LIST },
  { "transport", "url", KEY_TRANSPORT },
};

static const known_key_t *
find_known (const char *section, const char *key)
{
  for (gsize i = 0; i < G_N_ELEMENTS (known_keys); i++)
    if (strcmp (known_keys[i].section, section) == 0
        && (key == NULL || strcmp (known_keys[i].key, key) == 0))
      return &known_keys[i];
  return NULL;
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

/* The edit distance between 'a' and 'b' (optimal string alignment: an
 * insertion, a deletion, a substitution or a swap of two neighbours each
 * count one), ignoring ASCII case. */
static gsize
edit_distance (const char *a, const char *b)
{
  gsize n = strlen (a), m = strlen (b);
  g_autofree gsize *d = g_new (gsize, (n + 1) * (m + 1));
#define D(i, j) d[(i) * (m + 1) + (j)]
  for (gsize i = 0; i <= n; i++)
    D (i, 0) = i;
  for (gsize j = 0; j <= m; j++)
    D (0, j) = j;
  for (gsize i = 1; i <= n; i++)
    for (gsize j = 1; j <= m; j++)
      {
        gsize cost = g_ascii_tolower (a[i - 1]) == g_ascii_tolower (b[j - 1]) ? 0 : 1;
        gsize best = MIN (MIN (D (i - 1, j) + 1, D (i, j - 1) + 1), D (i - 1, j - 1) + cost);
        if (i > 1 && j > 1 && g_ascii_tolower (a[i - 1]) == g_ascii_tolower (b[j - 2])
            && g_ascii_tolower (a[i - 2]) == g_ascii_tolower (b[j - 1]))
          best = MIN (best, D (i - 2, j - 2) + 1);
        D (i, j) = best;
      }
  gsize result = D (n, m);
#undef D
  return result;
}

const char *
pd_config_suggest (const char *section, const char *key)
{
  const char *best = NULL;
  gsize best_distance = G_MAXSIZE;
  for (gsize i = 0; i < G_N_ELEMENTS (known_keys); i++)
    {
      const char *candidate = key != NULL ? known_keys[i].key : known_keys[i].section;
      if (key != NULL && strcmp (known_keys[i].section, section) != 0)
        continue;
      gsize distance = edit_distance (key != NULL ? key : section, candidate);
      if (distance < best_distance)
        {
          best = candidate;
          best_distance = distance;
        }
    }
  /* A guess further off than a third of the word is noise, not help. */
  gsize typed = strlen (key != NULL ? key : section);
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

pd_config_t *
pd_config_new_default (void)
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

  g_autoptr (pd_config_t) cfg = pd_config_new_default ();
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

  g_auto (GStrv) groups = g_key_file_get_groups (kf, NULL);
  for (int g = 0; groups[g] != NULL; g++)
    {
      const char *section = groups[g];
      if (find_known (section, NULL) == NULL)
        {
          const char *near = pd_config_suggest (section, NULL);
          if (near != NULL)
            set_key_error (err, path, text, section, NULL,
                           "unknown section; did you mean [%s]? (known: [postdesk], [staff], [transport])", near);
          else
            set_key_error (err, path, text, section, NULL, "unknown section (known: [postdesk], [staff], [transport])");
          return false;
        }
      g_auto (GStrv) keys = g_key_file_get_keys (kf, section, NULL, NULL);
      for (int k = 0; keys != NULL && keys[k] != NULL; k++)
        {
          const char *key = keys[k];
          const known_key_t *known = find_known (section, key);
          if (known == NULL)
            {
              const char *near = pd_config_suggest (section, key);
              if (near != NULL)
                set_key_error (err, path, text, section, key, "unknown key; did you mean '%s'?", near);
              else
                set_key_error (err, path, text, section, key, "unknown key");
              return false;
            }
          g_autofree char *raw = g_key_file_get_string (kf, section, key, &local);
          if (raw == NULL)
            {
              set_key_error (err, path, text, section, key, "%s", local->message);
              g_error_free (local);
              return false;
            }
          char *value = strip_inline_comment (raw);
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
                char **list = split_list (value);
                for (int i = 0; list[i] != NULL; i++)
                  {
                    bool ok = strcmp (key, "addresses") == 0 ? valid_address (list[i])
                                                              : strchr (list[i], '@') == NULL && strchr (list[i], '.') != NULL;
                    if (!ok)
                      {
                        g_autofree char *item = pd_text_short (list[i], SHOWN_CHARS);
                        set_key_error (err, path, text, section, key, "'%s' is not a %s", item,
                                       strcmp (key, "addresses") == 0 ? "mail address" : "domain");
                        g_strfreev (list);
                        return false;
                      }
                  }
                char ***slot = strcmp (section, "postdesk") == 0 ? &cfg->public_domains
                               : strcmp (key, "domains") == 0    ? &cfg->staff_domains
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
            }
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
