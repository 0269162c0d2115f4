/* thread.c - decides which ticket a message joins. See thread.h for the
 * order and the reasoning behind the stranger rule. */
#include "postdesk/thread.h"

#include <string.h>

/* Parses "[PREFIX-N]" at 's'; returns N and sets *len, or 0. */
static gint64
token_at (const char *s, const char *prefix, size_t *len)
{
  size_t plen = strlen (prefix);
  if (s[0] != '[' || g_ascii_strncasecmp (s + 1, prefix, plen) != 0 || s[1 + plen] != '-')
    return 0;
  const char *p = s + 2 + plen;
  gint64 n = 0;
  int digits = 0;
  while (g_ascii_isdigit (*p) && digits < 12)
    {
      n = n * 10 + (*p - '0');
      p++;
      digits++;
    }
  if (digits == 0 || *p != ']' || n <= 0)
    return 0;
  *len = (size_t) (p + 1 - s);
  return n;
}

gint64
pd_thread_subject_token (const char *subject, const char *prefix)
{
  if (subject == NULL)
    return 0;
  for (const char *s = strchr (subject, '['); s != NULL; s = strchr (s + 1, '['))
    {
      size_t len;
      gint64 n = token_at (s, prefix, &len);
      if (n > 0)
        return n;
    }
  return 0;
}

gint64
pd_thread_plus_address (const char *address, const char *support_address)
{
  const char *at = strrchr (support_address, '@');
  const char *their_at = address != NULL ? strrchr (address, '@') : NULL;
  if (at == NULL || their_at == NULL || g_ascii_strcasecmp (at, their_at) != 0)
    return 0;
  size_t local = at - support_address;
  if (g_ascii_strncasecmp (address, support_address, local) != 0 || address[local] != '+')
    return 0;
  const char *p = address + local + 1;
  gint64 n = 0;
  int digits = 0;
  while (p < their_at && g_ascii_isdigit (*p) && digits < 12)
    {
      n = n * 10 + (*p - '0');
      p++;
      digits++;
    }
  return (p == their_at && digits > 0) ? n : 0;
}

/* Reply and forward markers in the languages support mail arrives in:
 * English, German (AW, WG), Nordic (SV, VS), Dutch (Antw), French (TR),
 * Italian (R, RIF), Portuguese (RES, ENC) and Chinese (回复, 答复, 转发). */
static const char *const reply_prefixes[] = {
  "re", "fwd", "fw", "aw", "wg", "sv", "vs", "antw", "tr", "rif", "r", "enc", "res",
  "\xe5\x9b\x9e\xe5\xa4\x8d", "\xe7\xad\x94\xe5\xa4\x8d", "\xe8\xbd\xac\xe5\x8f\x91", NULL,
};

/* Length of a marker like "Re:", "RE[2]:", "Fwd :" at 's', or 0. */
static size_t
marker_at (const char *s)
{
  for (int i = 0; reply_prefixes[i] != NULL; i++)
    {
      size_t n = strlen (reply_prefixes[i]);
      if (g_ascii_strncasecmp (s, reply_prefixes[i], n) != 0)
        continue;
      const char *p = s + n;
      if (*p == '[' || *p == '(')
        {
          char close = *p == '[' ? ']' : ')';
          p++;
          while (g_ascii_isdigit (*p))
            p++;
          if (*p != close)
            continue;
          p++;
        }
      while (*p == ' ')
        p++;
      if (*p == ':')
        return (size_t) (p + 1 - s);
      /* The full-width colon of Chinese and Japanese mail clients. */
      if (strncmp (p, "\xef\xbc\x9a", 3) == 0)
        return (size_t) (p + 3 - s);
    }
  return 0;
}

char *
pd_thread_normalize_subject (const char *subject, const char *prefix)
{
  if (subject == NULL)
    return g_strdup ("");
  GString *out = g_string_sized_new (strlen (subject));
  const char *s = subject;
  bool leading = true;
  while (*s != '\0')
    {
      size_t len = 0;
      if (token_at (s, prefix, &len) > 0)
        {
          s += len;
          continue;
        }
      if (leading)
        {
          if (*s == ' ' || *s == '\t')
            {
              s++;
              continue;
            }
          size_t m = marker_at (s);
          if (m > 0)
            {
              s += m;
              continue;
            }
          leading = false;
        }
      /* Fold runs of white space into one space. */
      if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        {
          if (out->len > 0 && out->str[out->len - 1] != ' ')
            g_string_append_c (out, ' ');
          s++;
          continue;
        }
      g_string_append_c (out, *s);
      s++;
    }
  while (out->len > 0 && out->str[out->len - 1] == ' ')
    g_string_truncate (out, out->len - 1);
  return g_string_free (out, FALSE);
}

/* May 'sender' use ticket N's token or plus-address? */
static bool
trusted_for (pd_store_t *store, const pd_config_t *cfg, gint64 ticket, const char *sender,
             bool *out, GError **err)
{
  *out = false;
  if (pd_config_is_staff (cfg, sender) || pd_config_is_support_address (cfg, sender))
    {
      *out = true;
      return true;
    }
  if (!pd_store_is_participant (store, ticket, sender, out, err))
    return false;
  if (*out)
    return true;
  g_autofree char *requester = NULL;
  if (!pd_store_ticket_requester (store, ticket, &requester, err))
    return false;
  g_autofree char *theirs = pd_address_domain (sender);
  g_autofree char *owner = pd_address_domain (requester);
  *out = theirs != NULL && owner != NULL && strcmp (theirs, owner) == 0
         && !pd_config_is_public_domain (cfg, theirs);
  return true;
}

static bool
ticket_of_message (pd_store_t *store, const char *message_id, gint64 *ticket, GError **err)
{
  *ticket = 0;
  if (message_id == NULL || *message_id == '\0')
    return true;
  return pd_store_find_message (store, message_id, ticket, err);
}

/* Checks a ticket named by something a stranger could copy (token or
 * plus-address): joins it when trusted, otherwise remembers it as the link
 * of the new ticket. Returns false only on a store error. */
static bool
consider_named (pd_store_t *store, const pd_config_t *cfg, const pd_message_t *msg,
                gint64 n, const char *how, pd_thread_t *out, GError **err)
{
  bool exists = false;
  if (n <= 0 || !pd_store_ticket_exists (store, n, &exists, err))
    return n <= 0;
  if (!exists)
    return true;
  bool trusted = false;
  if (!trusted_for (store, cfg, n, msg->from->address, &trusted, err))
    return false;
  if (trusted)
    {
      out->ticket_id = n;
      out->how = how;
    }
  else if (out->linked_to == 0)
    out->linked_to = n;
  return true;
}

static gint64
plus_in (const GPtrArray *addrs, bool plain_strings, const pd_config_t *cfg)
{
  for (guint i = 0; addrs != NULL && i < addrs->len; i++)
    {
      const char *a = plain_strings ? g_ptr_array_index (addrs, i)
                                    : ((const pd_address_t *) g_ptr_array_index (addrs, i))->address;
      gint64 n = pd_thread_plus_address (a, cfg->support_address);
      if (n > 0)
        return n;
    }
  return 0;
}

bool
pd_thread_find (pd_store_t *store, const pd_config_t *cfg, const pd_message_t *msg,
                pd_thread_t *out, GError **err)
{
  *out = (pd_thread_t) { 0, 0, "new" };
  g_return_val_if_fail (msg->from != NULL, false);

  if (!consider_named (store, cfg, msg, pd_thread_subject_token (msg->subject, cfg->ticket_prefix),
                       "token", out, err))
    return false;
  if (out->ticket_id > 0)
    return true;

  gint64 t = 0;
  if (!ticket_of_message (store, msg->in_reply_to, &t, err))
    return false;
  if (t > 0)
    {
      *out = (pd_thread_t) { t, 0, "in-reply-to" };
      return true;
    }
  for (guint i = msg->references->len; i > 0; i--)
    {
      if (!ticket_of_message (store, g_ptr_array_index (msg->references, i - 1), &t, err))
        return false;
      if (t > 0)
        {
          *out = (pd_thread_t) { t, 0, "references" };
          return true;
        }
    }
  if (!ticket_of_message (store, msg->bounced_message_id, &t, err))
    return false;
  if (t > 0)
    {
      *out = (pd_thread_t) { t, 0, "bounce" };
      return true;
    }

  gint64 n = plus_in (msg->to, false, cfg);
  if (n == 0)
    n = plus_in (msg->cc, false, cfg);
  if (n == 0)
    n = plus_in (msg->envelope_to, true, cfg);
  if (!consider_named (store, cfg, msg, n, "plus-address", out, err))
    return false;
  if (out->ticket_id > 0)
    return true;

  /* A reply stored before the message it answers (an import out of
   * order): the message joins the reply's ticket. A Message-ID can be
   * guessed before it is sent, so this is trusted like a token. */
  if (!msg->message_id_synthetic)
    {
      if (!pd_store_find_referencing (store, msg->message_id, &t, err))
        return false;
      if (!consider_named (store, cfg, msg, t, "referenced-by", out, err))
        return false;
    }
  if (out->ticket_id == 0 && out->linked_to > 0)
    out->how = "stranger";
  return true;
}
