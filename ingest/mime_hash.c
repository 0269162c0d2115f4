/* mime_hash.c - what a message carries, as one hash: the test of whether
 * two copies of a message are the same mail.
 *
 * The same mail reaches postdesk by different roads (two mailboxes, a
 * forward rule, an mbox export and then IMAP), and every road adds its own
 * trace headers and may change line endings. Everything the sender wrote,
 * attachments included, is hashed; what transport adds is not. A sender
 * who reuses a Message-ID for different mail therefore always gets a
 * different hash, and no sender can make two different mails hash alike.
 */
#include "postdesk/mime.h"

#include <gnutls/crypto.h>
#include <string.h>

/* Header fields added or rewritten on the way, never by the sender. */
static const char *const transport_headers[] = {
  "received", "return-path", "delivered-to", "x-original-to", "envelope-to",
  "received-spf", "authentication-results", "x-received", "x-delivered-to",
  /* Local delivery agents and mbox readers. */
  "status", "x-status", "x-keywords", "x-uid", "content-length", "lines",
  NULL,
};
static const char *const transport_prefixes[] = {
  "arc-", "x-spam-", "x-virus-", "x-rspamd-", "x-envelope-", NULL,
};

static bool
named_in (const char *const *names, const char *name, gsize len)
{
  for (int i = 0; names != NULL && names[i] != NULL; i++)
    if (strlen (names[i]) == len && g_ascii_strncasecmp (name, names[i], len) == 0)
      return true;
  return false;
}

static bool
is_transport_header (const char *name, gsize len)
{
  for (int i = 0; transport_headers[i] != NULL; i++)
    if (strlen (transport_headers[i]) == len && g_ascii_strncasecmp (name, transport_headers[i], len) == 0)
      return true;
  for (int i = 0; transport_prefixes[i] != NULL; i++)
    {
      gsize n = strlen (transport_prefixes[i]);
      if (len >= n && g_ascii_strncasecmp (name, transport_prefixes[i], n) == 0)
        return true;
    }
  return false;
}

/* Hashes 'data' with every CR that ends a line left out, so CRLF and LF
 * copies agree. */
static void
hash_lf (gnutls_hash_hd_t h, const char *data, gsize len)
{
  const char *end = data + len;
  while (data < end)
    {
      const char *cr = memchr (data, '\r', (gsize) (end - data));
      if (cr == NULL)
        {
          gnutls_hash (h, data, (gsize) (end - data));
          return;
        }
      if (cr + 1 < end && cr[1] == '\n')
        {
          gnutls_hash (h, data, (gsize) (cr - data));
          data = cr + 1;
        }
      else
        {
          gnutls_hash (h, data, (gsize) (cr + 1 - data));
          data = cr + 1;
        }
    }
}

char *
pd_mime_content_hash (const char *raw, gsize len)
{
  return pd_mime_content_hash_except (raw, len, NULL);
}

char *
pd_mime_content_hash_except (const char *raw, gsize len, const char *const *also_ignore)
{
  const char *p = raw, *end = raw + len;
  /* An mbox separator is the mailbox's, not the message's. */
  if (len >= 5 && memcmp (p, "From ", 5) == 0)
    {
      const char *nl = memchr (p, '\n', len);
      p = nl != NULL ? nl + 1 : end;
    }

  gnutls_hash_hd_t h;
  if (gnutls_hash_init (&h, GNUTLS_DIG_SHA256) != 0)
    return pd_sha256_hex (raw, len);

  /* Header fields, each with its continuation lines, up to the empty line. */
  while (p < end && *p != '\n' && !(*p == '\r' && p + 1 < end && p[1] == '\n'))
    {
      const char *field = p;
      do
        {
          const char *nl = memchr (p, '\n', (gsize) (end - p));
          p = nl != NULL ? nl + 1 : end;
        }
      while (p < end && (*p == ' ' || *p == '\t'));
      const char *colon = memchr (field, ':', (gsize) (p - field));
      if (colon == NULL || (!is_transport_header (field, (gsize) (colon - field))
                            && !named_in (also_ignore, field, (gsize) (colon - field))))
        hash_lf (h, field, (gsize) (p - field));
    }

  /* The body, less the line endings and blank lines transport appends. */
  while (end > p && (end[-1] == '\n' || end[-1] == '\r'))
    end--;
  gnutls_hash (h, "\n", 1);
  hash_lf (h, p, (gsize) (end - p));

  guint8 digest[32];
  gnutls_hash_deinit (h, digest);
  return pd_sha256_digest_hex (digest);
}
