/* transport.c - picks a transport by the scheme of its URL and does what
 * every transport needs before a message leaves: the envelope checked, the
 * line ends made local. The backends live in transport_<scheme>.c. */
#include "transport_internal.h"

#include <string.h>

#include "postdesk/text.h"

G_DEFINE_QUARK (pd-transport-error-quark, pd_transport_error)

static const pd_transport_backend_t *const backends[] = {
  &pd_transport_maildir,
  &pd_transport_sendmail,
  &pd_transport_smtp,
  &pd_transport_smtps,
};

#define KNOWN_URLS "maildir:PATH, sendmail:PATH, smtp://HOST[:PORT], smtps://HOST[:PORT]"

/* Splits "scheme:rest" into its scheme (transfer full) and a pointer into
 * 'url' after the colon; NULL when there is no scheme. */
static char *
split_scheme (const char *url, const char **rest)
{
  const char *colon = strchr (url, ':');
  if (colon == NULL || colon == url)
    return NULL;
  for (const char *p = url; p < colon; p++)
    if (!g_ascii_isalnum (*p) && *p != '+' && *p != '-' && *p != '.')
      return NULL;
  *rest = colon + 1;
  return g_ascii_strdown (url, colon - url);
}

static const pd_transport_backend_t *
find_backend (const char *scheme)
{
  for (gsize i = 0; i < G_N_ELEMENTS (backends); i++)
    if (strcmp (backends[i]->scheme, scheme) == 0)
      return backends[i];
  return NULL;
}

bool
pd_transport_url_check (const char *url, const char *base_dir, char **normalized, GError **err)
{
  *normalized = NULL;
  g_autofree char *shown = pd_text_short (url, 60);
  const char *rest = NULL;
  g_autofree char *scheme = split_scheme (url, &rest);
  if (scheme == NULL)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                   "'%s' is not a transport URL (expected one of " KNOWN_URLS ")", shown);
      return false;
    }
  const pd_transport_backend_t *backend = find_backend (scheme);
  if (backend == NULL)
    {
      g_autofree char *shown_scheme = pd_text_short (scheme, 20);
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                   "unknown transport '%s:' (known: " KNOWN_URLS ")", shown_scheme);
      return false;
    }
  if (backend->check_url != NULL)
    return backend->check_url (scheme, rest, normalized, err);
  /* The other schemes take a path. A path that could carry a second URL or an
   * option is refused rather than interpreted. */
  if (*rest == '\0' || g_str_has_prefix (rest, "//"))
    {
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "%s: needs a path after the colon, as in %s:%s",
                   scheme, scheme, strcmp (scheme, "maildir") == 0 ? "var/outgoing" : "/usr/sbin/sendmail");
      return false;
    }
  if (strpbrk (rest, "\r\n") != NULL)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "%s: a path on one line, please", scheme);
      return false;
    }
  g_autofree char *path = g_path_is_absolute (rest) ? g_canonicalize_filename (rest, NULL)
                                                    : g_canonicalize_filename (rest, base_dir);
  *normalized = g_strconcat (scheme, ":", path, NULL);
  return true;
}

bool
pd_transport_options_check (const char *url, const pd_transport_options_t *o, GError **err)
{
  if (o == NULL)
    return true;
  const char *rest = NULL;
  g_autofree char *scheme = split_scheme (url, &rest);
  const pd_transport_backend_t *backend = scheme != NULL ? find_backend (scheme) : NULL;
  if (backend == &pd_transport_smtp || backend == &pd_transport_smtps)
    return pd_transport_smtp_check_options (scheme, rest, o, err);
  if (o->username != NULL || o->password_file != NULL || o->ca_file != NULL || o->tls_none)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                   "username, password_file, ca_file and tls are for smtp:// and smtps:// only");
      return false;
    }
  return true;
}

bool
pd_transport_open (const char *url, const pd_transport_options_t *options, pd_transport_t **out,
                   GError **err)
{
  *out = NULL;
  const char *rest = NULL;
  g_autofree char *scheme = split_scheme (url, &rest);
  const pd_transport_backend_t *backend = scheme != NULL ? find_backend (scheme) : NULL;
  if (backend == NULL || *rest == '\0')
    {
      /* The same words as the configuration check gives. */
      g_autofree char *ignored = NULL;
      if (pd_transport_url_check (url, "/", &ignored, err))
        g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "cannot open transport %s", url);
      return false;
    }
  static const pd_transport_options_t defaults = { 0 };
  g_autoptr (pd_transport_t) t = g_new0 (pd_transport_t, 1);
  t->backend = backend;
  t->url = g_strdup (url);
  if (!backend->open (t, rest, options != NULL ? options : &defaults, err))
    return false;
  *out = g_steal_pointer (&t);
  return true;
}

bool
pd_transport_address_ok (const char *a)
{
  if (a == NULL || *a == '\0' || *a == '-')
    return false;
  gsize len = strlen (a);
  if (len > 254)
    return false;
  const char *at = strchr (a, '@');
  if (at == NULL || at == a || at[1] == '\0' || strchr (at + 1, '@') != NULL)
    return false;
  for (const char *p = a; *p != '\0'; p++)
    {
      unsigned char c = (unsigned char) *p;
      if (c <= ' ' || c == 0x7f || c == '<' || c == '>')
        return false;
    }
  return true;
}

/* The message with CRLF turned into LF: a file in a Maildir and the input
 * of sendmail are local text, and sendmail would otherwise pass the CRs on
 * as part of each line. A lone CR is left as it is. (transfer full) */
static GBytes *
local_line_ends (GBytes *raw)
{
  gsize len = 0;
  const char *data = g_bytes_get_data (raw, &len);
  char *out = g_malloc (len > 0 ? len : 1);
  gsize n = 0;
  for (gsize i = 0; i < len; i++)
    {
      if (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n')
        continue;
      out[n++] = data[i];
    }
  return g_bytes_new_take (out, n);
}

bool
pd_transport_send (pd_transport_t *t, const char *envelope_from, const char *const *recipients,
                   const char *message_id, GBytes *raw, GError **err)
{
  if (!pd_transport_address_ok (envelope_from))
    {
      g_autofree char *shown = pd_text_short (envelope_from != NULL ? envelope_from : "", 60);
      g_set_error (err, PD_TRANSPORT_ERROR, PD_TRANSPORT_ERROR_PERMANENT,
                   "the envelope sender '%s' is not a usable address", shown);
      return false;
    }
  if (recipients == NULL || recipients[0] == NULL)
    {
      g_set_error (err, PD_TRANSPORT_ERROR, PD_TRANSPORT_ERROR_PERMANENT, "no recipients");
      return false;
    }
  for (gsize i = 0; recipients[i] != NULL; i++)
    if (!pd_transport_address_ok (recipients[i]))
      {
        g_autofree char *shown = pd_text_short (recipients[i], 60);
        g_set_error (err, PD_TRANSPORT_ERROR, PD_TRANSPORT_ERROR_PERMANENT,
                     "the recipient '%s' is not a usable address", shown);
        return false;
      }
  if (message_id == NULL || *message_id == '\0')
    {
      g_set_error (err, PD_TRANSPORT_ERROR, PD_TRANSPORT_ERROR_PERMANENT,
                   "the message has no Message-ID");
      return false;
    }
  g_autoptr (GBytes) local = local_line_ends (raw);
  return t->backend->send (t, envelope_from, recipients, message_id, local, err);
}

const char *
pd_transport_url (const pd_transport_t *t)
{
  return t->url;
}

void
pd_transport_end_batch (pd_transport_t *t)
{
  if (t != NULL && t->backend->end_batch != NULL && t->state != NULL)
    t->backend->end_batch (t->state);
}

void
pd_transport_free (pd_transport_t *t)
{
  if (t == NULL)
    return;
  if (t->backend != NULL && t->state != NULL)
    t->backend->close (t->state);
  g_free (t->url);
  g_free (t);
}
