/* source_imap.c - one IMAP folder through libetpan (imap.h).
 *
 * Debian's libetpan 1.9.4 neither verifies certificates nor sends SNI
 * (../shared/notes/libraries.md, section 1): the TLS module does both, and
 * the chain is checked before LOGIN, so a man in the middle never sees the
 * password. The library's own limits shape the rest: connect succeeds with
 * 1 or 2, "UID SEARCH n:*" answers the highest UID even below n, a literal
 * is allocated at whatever size the server announces (so sizes are
 * fetched, and checked, before bodies), and COMPRESS must never be used
 * (zlib is not linked in).
 */
#include "postdesk/imap.h"

#include <errno.h>
#include <libetpan/libetpan.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "postdesk/text.h"
#include "postdesk/tls.h"

/* Bytes of bodies asked for in one UID FETCH, at most (a single message
 * over it is fetched alone): with the pipeline's own queue this bounds what
 * a fetch holds, however large the mailbox. */
#define FETCH_BYTES (4 * 1024 * 1024)

/* RFC 2177: a server may drop an IDLE client after 30 minutes. */
#define IDLE_MAX_SECONDS (28 * 60)

G_DEFINE_QUARK (pd-imap-error-quark, pd_imap_error)

struct pd_imap {
  const pd_config_mailbox_t *mb; /* borrowed */
  int timeout;
  mailimap *s;                   /* owned; NULL before connect */
  bool broken;                   /* the stream failed: close, do not LOGOUT */
  bool selected;
};

/* ---- URLs and names --------------------------------------------------- */

bool
pd_imap_folder_valid (const char *folder)
{
  size_t n = strlen (folder);
  if (n == 0 || n > 200)
    return false;
  for (size_t i = 0; i < n; i++)
    {
      unsigned char c = (unsigned char) folder[i];
      /* Quotes and backslashes would need quoting libetpan does not do
       * for every command; '*' and '%' are LIST wildcards; 8-bit needs
       * modified UTF-7, which 1.9.4 cannot write. */
      if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '*' || c == '%')
        return false;
    }
  return true;
}

bool
pd_imap_url_parse (const char *url, bool *implicit_tls, char **host, guint16 *port, char **folder,
                   GError **err)
{
  g_autofree char *shown = pd_text_short (url, 60);
  bool tls;
  const char *rest;
  if (g_str_has_prefix (url, "imaps://"))
    tls = true, rest = url + 8;
  else if (g_str_has_prefix (url, "imap://"))
    tls = false, rest = url + 7;
  else
    {
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                   "'%s' is not an IMAP URL (imaps://HOST[:PORT]/FOLDER, or imap:// for STARTTLS)", shown);
      return false;
    }
  const char *slash = strchr (rest, '/');
  if (slash == NULL || slash[1] == '\0')
    {
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "'%s' names no folder (e.g. %s/INBOX)", shown, shown);
      return false;
    }
  if (strchr (rest, '@') != NULL && strchr (rest, '@') < slash)
    {
      /* A password in the URL would be shown in every message that
       * quotes the URL. */
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                   "the URL must not carry a user or password: use username and password_file");
      return false;
    }
  g_autofree char *hostport = g_strndup (rest, slash - rest);
  g_autofree char *h = NULL;
  const char *port_text = NULL;
  if (hostport[0] == '[')
    {
      char *close = strchr (hostport, ']');
      if (close == NULL || (close[1] != '\0' && close[1] != ':'))
        {
          g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "'%s': an IPv6 address is written [ADDRESS]", shown);
          return false;
        }
      h = g_strndup (hostport + 1, close - hostport - 1);
      port_text = close[1] == ':' ? close + 2 : NULL;
    }
  else
    {
      char *colon = strchr (hostport, ':');
      h = colon != NULL ? g_strndup (hostport, colon - hostport) : g_strdup (hostport);
      port_text = colon != NULL ? colon + 1 : NULL;
    }
  bool host_ok = h[0] != '\0';
  for (const char *p = h; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '.' && *p != '-' && *p != ':' && *p != '_')
      host_ok = false;
  if (!host_ok)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "'%s' has no valid host name", shown);
      return false;
    }
  guint64 p = tls ? 993 : 143;
  if (port_text != NULL
      && (!g_ascii_string_to_unsigned (port_text, 10, 1, 65535, &p, NULL)))
    {
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "'%s': the port is a number from 1 to 65535", shown);
      return false;
    }
  if (!pd_imap_folder_valid (slash + 1))
    {
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                   "'%s': the folder must be printable ASCII without '\"', '\\', '*' or '%%'", shown);
      return false;
    }
  if (implicit_tls != NULL)
    *implicit_tls = tls;
  if (host != NULL)
    *host = g_steal_pointer (&h);
  if (port != NULL)
    *port = (guint16) p;
  if (folder != NULL)
    *folder = g_strdup (slash + 1);
  return true;
}

int
pd_backoff_next (int previous, int base, int cap)
{
  int next = previous <= 0 ? base : previous >= cap / 2 ? cap : previous * 2;
  next = MIN (MAX (next, 1), cap);
  return next + g_random_int_range (0, next / 5 + 1);
}

/* ---- errors ----------------------------------------------------------- */

/* libetpan codes that leave the session unusable: the caller must drop it
 * and reconnect (the notes, 1.5). */
static bool
is_connection_error (int r)
{
  return r == MAILIMAP_ERROR_STREAM || r == MAILIMAP_ERROR_PARSE || r == MAILIMAP_ERROR_FATAL
         || r == MAILIMAP_ERROR_SSL || r == MAILIMAP_ERROR_CONNECTION_REFUSED
         || r == MAILIMAP_ERROR_MEMORY || r == MAILIMAP_ERROR_BAD_STATE;
}

/* Sets 'err' for libetpan's 'r' after 'what': a connection error when the
 * code says the session is gone (marked broken), else 'code', with the
 * server's reply text when it gave one. */
static void
set_error (pd_imap_t *imap, GError **err, int r, pd_imap_error_t code, const char *what)
{
  const pd_config_mailbox_t *mb = imap->mb;
  if (is_connection_error (r))
    {
      imap->broken = true;
      code = PD_IMAP_ERROR_CONNECTION;
    }
  const char *reply = imap->s != NULL ? imap->s->imap_response : NULL;
  g_autofree char *shown = reply != NULL && *reply != '\0' ? pd_text_short (reply, 200) : NULL;
  g_set_error (err, PD_IMAP_ERROR, code, "mailbox %s (%s:%u): %s failed (libetpan error %d%s%s%s)", mb->name,
               mb->host, mb->port, what, r, shown != NULL ? ", server said \"" : "", shown != NULL ? shown : "",
               shown != NULL ? "\"" : "");
}

/* ---- connect and log in ----------------------------------------------- */

pd_imap_t *
pd_imap_new (const pd_config_mailbox_t *mb, int timeout)
{
  pd_imap_t *imap = g_new0 (pd_imap_t, 1);
  imap->mb = mb;
  imap->timeout = timeout > 0 ? timeout : 60;
  return imap;
}

void
pd_imap_free (pd_imap_t *imap)
{
  if (imap == NULL)
    return;
  if (imap->s != NULL)
    {
      /* mailimap_free sends LOGOUT on a live stream; on a broken one that
       * would only wait for the timeout, so the stream is closed first. */
      if (imap->broken && imap->s->imap_stream != NULL)
        {
          mailstream_close (imap->s->imap_stream);
          imap->s->imap_stream = NULL;
        }
      mailimap_free (imap->s);
    }
  g_free (imap);
}

bool
pd_imap_has (pd_imap_t *imap, const char *capability)
{
  return imap->s != NULL && mailimap_has_extension (imap->s, (char *) capability);
}

static bool
refresh_capability (pd_imap_t *imap, GError **err)
{
  struct mailimap_capability_data *cap = NULL;
  int r = mailimap_capability (imap->s, &cap);
  if (r != MAILIMAP_NO_ERROR)
    {
      set_error (imap, err, r, PD_IMAP_ERROR_REFUSED, "CAPABILITY");
      return false;
    }
  mailimap_capability_data_free (cap);
  return true;
}

bool
pd_imap_connect (pd_imap_t *imap, GError **err)
{
  const pd_config_mailbox_t *mb = imap->mb;
  g_return_val_if_fail (imap->s == NULL, false);
  imap->s = mailimap_new (0, NULL);
  if (imap->s == NULL)
    g_error ("out of memory");
  /* Before connect: the connect helpers copy it into the stream, and a
   * later change has no effect. */
  mailimap_set_timeout (imap->s, imap->timeout);
  imap->broken = true; /* until connected: nothing to log out from */

  if (mb->tls_none && !pd_tls_plain_allowed (mb->host))
    {
      g_set_error (err, PD_IMAP_ERROR, PD_IMAP_ERROR_TLS,
                   "mailbox %s: tls = none is allowed for a loopback server only, not %s", mb->name, mb->host);
      return false;
    }
  int r;
  if (mb->implicit_tls)
    r = mailimap_ssl_connect_with_callback (imap->s, mb->host, mb->port, pd_tls_sni_callback, mb->host);
  else
    r = mailimap_socket_connect (imap->s, mb->host, mb->port);
  if (r != MAILIMAP_NO_ERROR_AUTHENTICATED && r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED)
    {
      set_error (imap, err, r, PD_IMAP_ERROR_CONNECTION, mb->implicit_tls ? "connecting with TLS" : "connecting");
      /* A handshake that fails is a connection error by code, but no
       * other attempt will do better if the server speaks no TLS. */
      return false;
    }
  imap->broken = false;

  /* A connection the peer dropped without a word (a NAT timeout) is only
   * noticed by keepalive: 1.9.4 does not set it (upstream added it later). */
  int fd = mailimap_idle_get_fd (imap->s);
  int on = 1;
  if (fd >= 0 && setsockopt (fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) != 0)
    g_debug ("mailbox %s: SO_KEEPALIVE: %s", mb->name, g_strerror (errno));

  if (!mb->implicit_tls && !mb->tls_none)
    {
      /* The greeting may carry no capability list: ask, then require
       * STARTTLS. Without it there is no downgrade to plain text. */
      if (!refresh_capability (imap, err))
        return false;
      if (!mailimap_has_extension (imap->s, "STARTTLS"))
        {
          g_set_error (err, PD_IMAP_ERROR, PD_IMAP_ERROR_TLS,
                       "mailbox %s (%s:%u): the server does not offer STARTTLS: refusing to log in without TLS "
                       "(use imaps:// if it speaks TLS on another port)",
                       mb->name, mb->host, mb->port);
          return false;
        }
      r = mailimap_socket_starttls_with_callback (imap->s, pd_tls_sni_callback, mb->host);
      if (r != MAILIMAP_NO_ERROR)
        {
          set_error (imap, err, r, PD_IMAP_ERROR_TLS, "STARTTLS");
          /* The connection may be half in TLS: never reuse it. */
          imap->broken = true;
          return false;
        }
    }
  if (!mb->tls_none)
    {
      GError *why = NULL;
      if (!pd_tls_verify_stream (imap->s->imap_stream, mb->host, mb->ca_file, &why))
        {
          g_set_error (err, PD_IMAP_ERROR, PD_IMAP_ERROR_TLS,
                       "mailbox %s (%s:%u): the server's certificate is not trusted, refusing to log in: %s",
                       mb->name, mb->host, mb->port, why->message);
          g_error_free (why);
          /* LOGOUT would be one more command to an untrusted server. */
          imap->broken = true;
          return false;
        }
    }
  /* What the server offered before TLS may have been written by a man in
   * the middle: read it again inside the protected channel. */
  return refresh_capability (imap, err);
}

/* Reads the password (transfer full: the caller wipes and frees it). */
static char *
read_password (const pd_config_mailbox_t *mb, GError **err)
{
  char *out = NULL;
  gsize len = 0;
  GError *local = NULL;
  if (mb->password_file != NULL)
    {
      if (!g_file_get_contents (mb->password_file, &out, &len, &local))
        {
          g_set_error (err, PD_IMAP_ERROR, PD_IMAP_ERROR_SECRET, "mailbox %s: password_file: %s", mb->name,
                       local->message);
          g_error_free (local);
          return NULL;
        }
      /* Its first line: editors add a newline, and a second line is not
       * part of any password. */
      char *nl = memchr (out, '\n', len);
      if (nl != NULL)
        {
          explicit_bzero (nl, len - (nl - out));
          len = nl - out;
        }
    }
  else
    {
      int status = 0;
      /* No shell: the words were split when the configuration was read.
       * The command's own complaints go to our stderr; its output is the
       * password and is never shown. */
      if (!g_spawn_sync (NULL, mb->password_command, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_CHILD_INHERITS_STDIN, NULL,
                         NULL, &out, NULL, &status, &local)
          || !g_spawn_check_wait_status (status, &local))
        {
          g_set_error (err, PD_IMAP_ERROR, PD_IMAP_ERROR_SECRET, "mailbox %s: password_command %s: %s", mb->name,
                       mb->password_command[0], local->message);
          g_error_free (local);
          if (out != NULL)
            {
              explicit_bzero (out, strlen (out));
              g_free (out);
            }
          return NULL;
        }
      len = strlen (out);
    }
  /* Trimmed at both ends: a password of spaces is not one anyone types. */
  g_strstrip (out);
  if (*out == '\0' || memchr (out, '\r', strlen (out)) != NULL)
    {
      explicit_bzero (out, len);
      g_free (out);
      g_set_error (err, PD_IMAP_ERROR, PD_IMAP_ERROR_SECRET, "mailbox %s: the %s gives %s", mb->name,
                   mb->password_file != NULL ? "password_file" : "password_command",
                   "no password (empty, or more than one line)");
      return NULL;
    }
  return out;
}

bool
pd_imap_login (pd_imap_t *imap, GError **err)
{
  const pd_config_mailbox_t *mb = imap->mb;
  g_return_val_if_fail (imap->s != NULL && !imap->broken, false);
  char *password = read_password (mb, err);
  if (password == NULL)
    return false;
  int r = mailimap_login (imap->s, mb->username, password);
  explicit_bzero (password, strlen (password));
  g_free (password);
  if (r != MAILIMAP_NO_ERROR)
    {
      /* The user name is named, never the password. */
      g_autofree char *what = g_strdup_printf ("LOGIN as %s", mb->username);
      set_error (imap, err, r, PD_IMAP_ERROR_LOGIN, what);
      return false;
    }
  /* Some servers announce more once logged in (MOVE, IDLE). */
  return refresh_capability (imap, err);
}

bool
pd_imap_select (pd_imap_t *imap, guint32 *uidvalidity, GError **err)
{
  const pd_config_mailbox_t *mb = imap->mb;
  int r = mailimap_select (imap->s, mb->folder);
  if (r != MAILIMAP_NO_ERROR)
    {
      g_autofree char *what = g_strdup_printf ("SELECT %s", mb->folder);
      set_error (imap, err, r, PD_IMAP_ERROR_REFUSED, what);
      return false;
    }
  struct mailimap_selection_info *sel = imap->s->imap_selection_info;
  if (sel == NULL || sel->sel_uidvalidity == 0)
    {
      /* Without UIDVALIDITY a UID means nothing across sessions. */
      g_set_error (err, PD_IMAP_ERROR, PD_IMAP_ERROR_REFUSED, "mailbox %s: SELECT %s gave no UIDVALIDITY", mb->name,
                   mb->folder);
      return false;
    }
  imap->selected = true;
  if (uidvalidity != NULL)
    *uidvalidity = sel->sel_uidvalidity;
  return true;
}

/* ---- fetching --------------------------------------------------------- */

/* A set of UIDs in as few ranges as they allow. (transfer full) */
static struct mailimap_set *
set_of (const guint32 *uids, guint n)
{
  struct mailimap_set *set = mailimap_set_new_empty ();
  for (guint i = 0; i < n;)
    {
      guint j = i;
      while (j + 1 < n && uids[j + 1] == uids[j] + 1)
        j++;
      if (mailimap_set_add_interval (set, uids[i], uids[j]) != MAILIMAP_NO_ERROR)
        g_error ("out of memory");
      i = j + 1;
    }
  return set;
}

static gint
compare_uid (gconstpointer a, gconstpointer b)
{
  guint32 x = *(const guint32 *) a, y = *(const guint32 *) b;
  return x < y ? -1 : x > y;
}

/* Runs UID SEARCH with 'key' (consumed) and returns the UIDs, ascending,
 * for which 'keep' (may be NULL) holds. (transfer full) */
static GArray *
search (pd_imap_t *imap, struct mailimap_search_key *key, guint32 above, guint32 at_most, GError **err)
{
  clist *found = NULL;
  int r = mailimap_uid_search (imap->s, NULL, key, &found);
  mailimap_search_key_free (key);
  if (r != MAILIMAP_NO_ERROR)
    {
      set_error (imap, err, r, PD_IMAP_ERROR_REFUSED, "UID SEARCH");
      return NULL;
    }
  GArray *uids = g_array_new (FALSE, FALSE, sizeof (guint32));
  for (clistiter *it = clist_begin (found); it != NULL; it = clist_next (it))
    {
      guint32 uid = *(uint32_t *) clist_content (it);
      /* "n:*" always matches the highest UID, even one below n. */
      if (uid > above && uid <= at_most)
        g_array_append_val (uids, uid);
    }
  mailimap_search_result_free (found);
  g_array_sort (uids, compare_uid);
  return uids;
}

/* What a FETCH said about one message. */
typedef struct {
  guint32 uid;
  gint64 size;           /* RFC822.SIZE, -1 when not given */
  pd_time_t internaldate;
  bool seen;             /* the server listed it at all */
} meta_t;

static pd_time_t
date_time_of (const struct mailimap_date_time *d)
{
  /* dt_zone is the zone as written, +HHMM read as a number. */
  int sign = d->dt_zone < 0 ? -1 : 1;
  int z = ABS (d->dt_zone);
  g_autoptr (GTimeZone) tz = g_time_zone_new_offset (sign * ((z / 100) * 3600 + (z % 100) * 60));
  g_autoptr (GDateTime) dt = g_date_time_new (tz, d->dt_year, d->dt_month, d->dt_day, d->dt_hour, d->dt_min,
                                              d->dt_sec);
  return dt != NULL ? g_date_time_to_unix (dt) : 0;
}

/* The UID and (for 'body') the section bytes of one FETCH response, or
 * false for a response without them (an unsolicited flag update). */
static bool
read_att (struct mailimap_msg_att *att, guint32 *uid, gint64 *size, pd_time_t *date, const char **body,
          size_t *body_len)
{
  *uid = 0;
  *size = -1;
  *date = 0;
  *body = NULL;
  *body_len = 0;
  for (clistiter *it = clist_begin (att->att_list); it != NULL; it = clist_next (it))
    {
      struct mailimap_msg_att_item *item = clist_content (it);
      if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
        continue;
      struct mailimap_msg_att_static *st = item->att_data.att_static;
      switch (st->att_type)
        {
        case MAILIMAP_MSG_ATT_UID:
          *uid = st->att_data.att_uid;
          break;
        case MAILIMAP_MSG_ATT_RFC822_SIZE:
          *size = st->att_data.att_rfc822_size;
          break;
        case MAILIMAP_MSG_ATT_INTERNALDATE:
          if (st->att_data.att_internal_date != NULL)
            *date = date_time_of (st->att_data.att_internal_date);
          break;
        case MAILIMAP_MSG_ATT_BODY_SECTION:
          if (st->att_data.att_body_section != NULL && st->att_data.att_body_section->sec_body_part != NULL)
            {
              *body = st->att_data.att_body_section->sec_body_part;
              *body_len = st->att_data.att_body_section->sec_length;
            }
          break;
        default:
          break;
        }
    }
  return *uid != 0;
}

static meta_t *
meta_find (meta_t *metas, guint n, guint32 uid)
{
  for (guint i = 0; i < n; i++)
    if (metas[i].uid == uid)
      return &metas[i];
  return NULL;
}

/* UID, RFC822.SIZE and INTERNALDATE of 'n' messages into metas[]. */
static bool
fetch_meta (pd_imap_t *imap, meta_t *metas, guint n, GError **err)
{
  g_autofree guint32 *uids = g_new (guint32, n);
  for (guint i = 0; i < n; i++)
    uids[i] = metas[i].uid;
  struct mailimap_set *set = set_of (uids, n);
  struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty ();
  mailimap_fetch_type_new_fetch_att_list_add (ft, mailimap_fetch_att_new_uid ());
  mailimap_fetch_type_new_fetch_att_list_add (ft, mailimap_fetch_att_new_rfc822_size ());
  mailimap_fetch_type_new_fetch_att_list_add (ft, mailimap_fetch_att_new_internaldate ());
  clist *res = NULL;
  int r = mailimap_uid_fetch (imap->s, set, ft, &res);
  mailimap_fetch_type_free (ft);
  mailimap_set_free (set);
  if (r != MAILIMAP_NO_ERROR)
    {
      set_error (imap, err, r, PD_IMAP_ERROR_REFUSED, "UID FETCH (RFC822.SIZE INTERNALDATE)");
      return false;
    }
  for (clistiter *it = clist_begin (res); it != NULL; it = clist_next (it))
    {
      guint32 uid;
      gint64 size;
      pd_time_t date;
      const char *body;
      size_t len;
      if (!read_att (clist_content (it), &uid, &size, &date, &body, &len))
        continue;
      meta_t *m = meta_find (metas, n, uid);
      if (m == NULL || size < 0)
        continue;
      m->size = size;
      m->internaldate = date;
      m->seen = true;
    }
  mailimap_fetch_list_free (res);
  return true;
}

/* Fetches BODY.PEEK[] (or, with 'headers_only', BODY.PEEK[HEADER]) of
 * metas[0..n) and hands each to 'fn' in UID order; *delivered[] gets the
 * UIDs handed over. A message gone from the server meanwhile is skipped. */
static bool
fetch_bodies (pd_imap_t *imap, const meta_t *metas, guint n, bool headers_only, pd_imap_message_fn fn,
              gpointer data, GArray *delivered, GError **err)
{
  g_autofree guint32 *uids = g_new (guint32, n);
  for (guint i = 0; i < n; i++)
    uids[i] = metas[i].uid;
  struct mailimap_set *set = set_of (uids, n);
  struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty ();
  mailimap_fetch_type_new_fetch_att_list_add (ft, mailimap_fetch_att_new_uid ());
  /* PEEK: \Seen is set (or the message moved) by pd_imap_after alone,
   * once the message is committed. */
  struct mailimap_section *section = headers_only ? mailimap_section_new_header () : mailimap_section_new (NULL);
  mailimap_fetch_type_new_fetch_att_list_add (ft, mailimap_fetch_att_new_body_peek_section (section));
  clist *res = NULL;
  int r = mailimap_uid_fetch (imap->s, set, ft, &res);
  mailimap_fetch_type_free (ft);
  mailimap_set_free (set);
  if (r != MAILIMAP_NO_ERROR)
    {
      set_error (imap, err, r, PD_IMAP_ERROR_REFUSED, headers_only ? "UID FETCH BODY.PEEK[HEADER]" : "UID FETCH BODY.PEEK[]");
      return false;
    }
  /* The server may answer in any order: hand over in UID order. */
  g_autofree struct mailimap_msg_att **by_index = g_new0 (struct mailimap_msg_att *, n);
  for (clistiter *it = clist_begin (res); it != NULL; it = clist_next (it))
    {
      guint32 uid;
      gint64 size;
      pd_time_t date;
      const char *body;
      size_t len;
      if (!read_att (clist_content (it), &uid, &size, &date, &body, &len) || body == NULL)
        continue;
      for (guint i = 0; i < n; i++)
        if (uids[i] == uid)
          by_index[i] = clist_content (it);
    }
  bool ok = true;
  for (guint i = 0; ok && i < n; i++)
    {
      if (by_index[i] == NULL)
        {
          g_debug ("mailbox %s: UID %u is gone from the server", imap->mb->name, uids[i]);
          continue;
        }
      guint32 uid;
      gint64 size;
      pd_time_t date;
      const char *body;
      size_t len;
      read_att (by_index[i], &uid, &size, &date, &body, &len);
      /* The size the server announced, or what it sent if that is more:
       * a server that under-reports still meets the pipeline's limit. */
      gint64 true_size = MAX (metas[i].size, (gint64) len);
      ok = fn (body, len, uid, metas[i].internaldate, true_size, data, err);
      if (ok)
        g_array_append_val (delivered, uid);
    }
  mailimap_fetch_list_free (res);
  return ok;
}

bool
pd_imap_fetch_new (pd_imap_t *imap, guint32 last_uid, gint64 max_bytes, pd_imap_message_fn fn,
                   pd_imap_batch_fn batch_fn, gpointer data, guint *fetched, GError **err)
{
  g_return_val_if_fail (imap->selected, false);
  if (fetched != NULL)
    *fetched = 0;
  if (last_uid == G_MAXUINT32)
    return true;
  struct mailimap_search_key *key = mailimap_search_key_new_uid (mailimap_set_new_interval (last_uid + 1, 0));
  g_autoptr (GArray) uids = search (imap, key, last_uid, G_MAXUINT32, err);
  if (uids == NULL)
    return false;
  for (guint start = 0; start < uids->len; start += PD_IMAP_BATCH)
    {
      guint n = MIN (PD_IMAP_BATCH, uids->len - start);
      g_autofree meta_t *metas = g_new0 (meta_t, n);
      for (guint i = 0; i < n; i++)
        metas[i] = (meta_t) { .uid = g_array_index (uids, guint32, start + i), .size = -1 };
      if (!fetch_meta (imap, metas, n, err))
        return false;
      /* Keep the messages still there, in order. */
      guint kept = 0;
      for (guint i = 0; i < n; i++)
        if (metas[i].seen)
          metas[kept++] = metas[i];
      g_autoptr (GArray) delivered = g_array_new (FALSE, FALSE, sizeof (guint32));
      /* Runs of neighbours of one kind: within the limit, up to
       * FETCH_BYTES together (or one alone); over it, headers only. */
      for (guint i = 0; i < kept;)
        {
          bool big = metas[i].size > max_bytes;
          gint64 bytes = metas[i].size;
          guint j = i + 1;
          while (j < kept && (metas[j].size > max_bytes) == big && (big || bytes + metas[j].size <= FETCH_BYTES))
            bytes += metas[j++].size;
          if (!fetch_bodies (imap, metas + i, j - i, big, fn, data, delivered, err))
            return false;
          i = j;
        }
      if (fetched != NULL)
        *fetched += delivered->len;
      if (batch_fn != NULL
          && !batch_fn ((const guint32 *) delivered->data, delivered->len,
                        g_array_index (uids, guint32, start + n - 1), data, err))
        return false;
    }
  return true;
}

/* ---- after the commit ------------------------------------------------- */

static bool
store_flag (pd_imap_t *imap, struct mailimap_set *set, struct mailimap_flag *flag, GError **err)
{
  struct mailimap_flag_list *fl = mailimap_flag_list_new_empty ();
  mailimap_flag_list_add (fl, flag);
  struct mailimap_store_att_flags *sf = mailimap_store_att_flags_new_add_flags_silent (fl);
  int r = mailimap_uid_store (imap->s, set, sf);
  mailimap_store_att_flags_free (sf);
  if (r != MAILIMAP_NO_ERROR)
    {
      set_error (imap, err, r, PD_IMAP_ERROR_REFUSED, "UID STORE +FLAGS");
      return false;
    }
  return true;
}

bool
pd_imap_after (pd_imap_t *imap, const guint32 *uids, guint n, GError **err)
{
  const pd_config_mailbox_t *mb = imap->mb;
  if (n == 0)
    return true;
  struct mailimap_set *set = set_of (uids, n);
  bool ok;
  if (mb->after == PD_MAILBOX_AFTER_SEEN)
    ok = store_flag (imap, set, mailimap_flag_new_seen (), err);
  else if (mailimap_has_extension (imap->s, "MOVE"))
    {
      int r = mailimap_uid_move (imap->s, set, mb->after_folder);
      ok = r == MAILIMAP_NO_ERROR;
      if (!ok)
        {
          g_autofree char *what = g_strdup_printf ("UID MOVE to %s", mb->after_folder);
          set_error (imap, err, r, PD_IMAP_ERROR_REFUSED, what);
        }
    }
  else
    {
      /* COPY, then \Deleted, then expunge: a crash in between leaves a
       * copy behind, never a loss. */
      int r = mailimap_uid_copy (imap->s, set, mb->after_folder);
      ok = r == MAILIMAP_NO_ERROR;
      if (!ok)
        {
          g_autofree char *what = g_strdup_printf ("UID COPY to %s", mb->after_folder);
          set_error (imap, err, r, PD_IMAP_ERROR_REFUSED, what);
        }
      ok = ok && store_flag (imap, set, mailimap_flag_new_deleted (), err);
      if (ok)
        {
          /* Plain EXPUNGE also removes what another client marked
           * \Deleted; UID EXPUNGE (UIDPLUS) only ours. */
          r = mailimap_has_uidplus (imap->s) ? mailimap_uid_expunge (imap->s, set) : mailimap_expunge (imap->s);
          ok = r == MAILIMAP_NO_ERROR;
          if (!ok)
            set_error (imap, err, r, PD_IMAP_ERROR_REFUSED, "EXPUNGE");
        }
    }
  mailimap_set_free (set);
  return ok;
}

bool
pd_imap_after_pending (pd_imap_t *imap, guint32 last_uid, guint *done, GError **err)
{
  if (done != NULL)
    *done = 0;
  if (last_uid == 0)
    return true;
  /* Moved mail is gone from the folder, so whatever is left (and not
   * already marked \Deleted by a COPY fallback) waits for its move;
   * flagged mail waits while it is unseen. */
  int not_yet = imap->mb->after == PD_MAILBOX_AFTER_SEEN ? MAILIMAP_SEARCH_KEY_UNSEEN : MAILIMAP_SEARCH_KEY_UNDELETED;
  struct mailimap_search_key *key = mailimap_search_key_new_multiple_empty ();
  mailimap_search_key_multiple_add (key, mailimap_search_key_new_uid (mailimap_set_new_interval (1, last_uid)));
  mailimap_search_key_multiple_add (
    key, mailimap_search_key_new (not_yet, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                  NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL));
  g_autoptr (GArray) uids = search (imap, key, 0, last_uid, err);
  if (uids == NULL)
    return false;
  if (uids->len > 0 && !pd_imap_after (imap, (const guint32 *) uids->data, uids->len, err))
    return false;
  if (done != NULL)
    *done = uids->len;
  return true;
}

/* ---- waiting ---------------------------------------------------------- */

/* Polls 'fd' (-1: none) and 'interrupt_fd' (-1: none) until 'deadline'
 * (monotonic microseconds), across signals. */
static pd_imap_wake_t
wait_fds (int fd, int interrupt_fd, gint64 deadline)
{
  for (;;)
    {
      struct pollfd fds[2] = { { .fd = interrupt_fd, .events = POLLIN }, { .fd = fd, .events = POLLIN } };
      gint64 left = deadline - g_get_monotonic_time ();
      if (left <= 0)
        return PD_IMAP_WAKE_TIMEOUT;
      int r = poll (fds, 2, (int) MIN (left / 1000 + 1, G_MAXINT));
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return PD_IMAP_WAKE_TIMEOUT;
      if (interrupt_fd >= 0 && fds[0].revents != 0)
        return PD_IMAP_WAKE_INTERRUPTED;
      if (fd >= 0 && fds[1].revents != 0)
        return PD_IMAP_WAKE_DATA;
    }
}

bool
pd_imap_wait (pd_imap_t *imap, int seconds, int interrupt_fd, pd_imap_wake_t *why, GError **err)
{
  g_return_val_if_fail (imap->selected, false);
  *why = PD_IMAP_WAKE_TIMEOUT;
  if (!imap->mb->idle || !mailimap_has_idle (imap->s))
    {
      *why = wait_fds (-1, interrupt_fd, g_get_monotonic_time () + (gint64) seconds * G_USEC_PER_SEC);
      if (*why == PD_IMAP_WAKE_INTERRUPTED)
        return true;
      /* Keeps the session alive and lets the server report new mail. */
      int r = mailimap_noop (imap->s);
      if (r != MAILIMAP_NO_ERROR)
        {
          set_error (imap, err, r, PD_IMAP_ERROR_CONNECTION, "NOOP");
          return false;
        }
      return true;
    }
  seconds = MIN (seconds, IDLE_MAX_SECONDS);
  int r = mailimap_idle (imap->s);
  if (r != MAILIMAP_NO_ERROR)
    {
      set_error (imap, err, r, PD_IMAP_ERROR_CONNECTION, "IDLE");
      return false;
    }
  /* What arrived with the server's "+ idling" is already read. */
  if (imap->s->imap_stream->read_buffer_len > 0)
    *why = PD_IMAP_WAKE_DATA;
  else
    *why = wait_fds (mailimap_idle_get_fd (imap->s), interrupt_fd,
                     g_get_monotonic_time () + (gint64) seconds * G_USEC_PER_SEC);
  r = mailimap_idle_done (imap->s);
  if (r != MAILIMAP_NO_ERROR)
    {
      set_error (imap, err, r, PD_IMAP_ERROR_CONNECTION, "DONE (end of IDLE)");
      return false;
    }
  return true;
}
