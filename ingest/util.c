/* util.c - small helpers every module uses: errors, times, hashes. */
#include "postdesk/common.h"

#include <gnutls/crypto.h>
#include <string.h>

G_DEFINE_QUARK (postdesk-error-quark, pd_error)

int
pd_error_exit_status (const GError *err)
{
  if (err != NULL && err->domain == PD_ERROR
      && (err->code == PD_ERROR_USAGE || err->code == PD_ERROR_CONFIG))
    return 2;
  return 1;
}

char *
pd_time_format (pd_time_t t)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (t);
  if (dt == NULL)
    return g_strdup ("invalid-time");
  return g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ");
}

bool
pd_time_parse (const char *text, pd_time_t *out, GError **err)
{
  *out = 0;
  if (text == NULL || *text == '\0')
    {
      g_set_error (err, PD_ERROR, PD_ERROR_USAGE, "empty time");
      return false;
    }
  g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr (GDateTime) dt = g_date_time_new_from_iso8601 (text, utc);
  if (dt == NULL && strlen (text) == 10)
    {
      /* A plain date: midnight UTC of that day. */
      g_autofree char *full = g_strconcat (text, "T00:00:00Z", NULL);
      dt = g_date_time_new_from_iso8601 (full, utc);
    }
  if (dt == NULL)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_USAGE,
                   "'%s' is not an ISO 8601 time (expected e.g. 2026-03-06T16:00:00-08:00)", text);
      return false;
    }
  *out = g_date_time_to_unix (dt);
  return true;
}

pd_time_t
pd_time_now (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

/* GnuTLS (through nettle) uses the CPU's SHA instructions where it has
 * them: five to ten times GLib's portable code, and every byte of every
 * message is hashed once. */
char *
pd_sha256_hex (const void *data, gsize len)
{
  unsigned char digest[32];
  if (gnutls_hash_fast (GNUTLS_DIG_SHA256, data, len, digest) != 0)
    return g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, len);
  return pd_sha256_digest_hex (digest);
}

char *
pd_sha256_digest_hex (const guint8 digest[32])
{
  char *hex = g_malloc (65);
  for (int i = 0; i < 32; i++)
    {
      hex[2 * i] = "0123456789abcdef"[digest[i] >> 4];
      hex[2 * i + 1] = "0123456789abcdef"[digest[i] & 15];
    }
  hex[64] = '\0';
  return hex;
}

char *
pd_address_domain (const char *address)
{
  const char *at = address != NULL ? strrchr (address, '@') : NULL;
  if (at == NULL || at[1] == '\0')
    return NULL;
  return g_ascii_strdown (at + 1, -1);
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

GPtrArray *
pd_dir_names (const char *dir, const char *suffix, const char *what, GError **err)
{
  GError *local = NULL;
  g_autoptr (GDir) d = g_dir_open (dir, 0, &local);
  if (d == NULL)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_IO, "cannot read the %s folder %s: %s", what, dir, local->message);
      g_error_free (local);
      return NULL;
    }
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  for (const char *n; (n = g_dir_read_name (d)) != NULL;)
    if (g_str_has_suffix (n, suffix) && n[0] != '.')
      g_ptr_array_add (names, g_strdup (n));
  g_ptr_array_sort (names, compare_names);
  return names;
}

/* The edit distance between 'a' and 'b' (optimal string alignment: an
 * insertion, a deletion, a substitution or a swap of two neighbours each
 * count one), ignoring ASCII case. */
gsize
pd_edit_distance (const char *a, const char *b)
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

bool
pd_valid_name (const char *s, gsize len)
{
  if (len == 0 || !g_ascii_isalnum (s[0]))
    return false;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
      return false;
  return true;
}
