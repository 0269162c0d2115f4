/* transport_smtp.c - url = smtp://HOST[:PORT] (STARTTLS required, port 587)
 * or smtps://HOST[:PORT] (TLS from the first byte, port 465), through
 * libetpan's SMTP client.
 *
 * The order of a connection is the point of this file:
 *   connect (with the timeout set first), EHLO,
 *   STARTTLS with SNI (smtp://: refused when not offered, never downgraded),
 *   certificate verified (tls.c) BEFORE anything else is sent,
 *   EHLO again (what the server offered in clear is stale),
 *   AUTH PLAIN, only over TLS and only with a username,
 *   then per message MAIL FROM, RCPT TO for each recipient, DATA.
 * With tls = none (loopback only, see pd_transport_options_check) there is
 * no TLS and no AUTH.
 *
 * Batching: the connection is made at the first send and kept for the
 * sends that follow, until pd_transport_end_batch (postdesk send calls it
 * after each round) or pd_transport_free closes it with QUIT. A refused
 * message is followed by RSET, so the next one starts clean on the same
 * connection; a connection that broke is dropped and the next send makes
 * a new one.
 *
 * Retry classes come from the reply code (smtp->response_code), because
 * libetpan's error numbers fold 450 and 550 together: 4xx is TEMPORARY,
 * 5xx PERMANENT with the server's words in the message; a connection,
 * TLS, greeting or AUTH failure, and 421 (the server is closing), are
 * UNAVAILABLE: nothing else can go out either, so the round stops.
 *
 * SMTP cannot tell whether it delivered a Message-ID before: a crash
 * between the server's 250 and the outbox row marked sent sends the
 * message again (at least once, as every SMTP client).
 */
#include "transport_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libetpan/libetpan.h>

#include "postdesk/text.h"
#include "postdesk/tls.h"

#define DEFAULT_TIMEOUT_SECONDS 120
/* A password is one line; anything longer than this is not one. */
#define PASSWORD_MAX 1024

typedef struct {
  bool implicit_tls;     /* smtps:// */
  bool tls_none;         /* tls = none: plain text, loopback only */
  char *host;            /* owned: name or address as given, IPv6 without brackets */
  guint16 port;
  char *username;        /* owned, or NULL: no AUTH */
  char *password;        /* owned, wiped at close; never logged */
  char *ca_file;         /* owned, or NULL: the system trust store */
  guint timeout_seconds;
  mailsmtp *smtp;        /* owned: the connection of the current batch, or NULL */
} smtp_t;

/* ---- URL and options ---------------------------------------------------- */

/* Splits "//HOST[:PORT][/]" into *host (transfer full; IPv6 without its
 * brackets) and *port (the default when none is given). */
static bool
parse_authority (const char *scheme, const char *rest, char **host, guint16 *port, GError **err)
{
  *host = NULL;
  guint16 default_port = strcmp (scheme, "smtps") == 0 ? 465 : 587;
  if (!g_str_has_prefix (rest, "//"))
    {
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                   "%s: needs a server, as in %s://smtp.example.com", scheme, scheme);
      return false;
    }
  g_autofree char *auth = g_strdup (rest + 2);
  gsize len = strlen (auth);
  if (len > 0 && auth[len - 1] == '/')
    auth[--len] = '\0';
  if (strchr (auth, '@') != NULL)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                   "%s://: put the user name in 'username' and the password in 'password_file', "
                   "not in the URL", scheme);
      return false;
    }
  if (strpbrk (auth, "/?#") != NULL)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                   "%s://: a server and a port only, as in %s://smtp.example.com:%u", scheme, scheme,
                   default_port);
      return false;
    }
  const char *port_text = NULL;
  g_autofree char *name = NULL;
  if (auth[0] == '[')
    {
      char *close = strchr (auth, ']');
      unsigned char addr[16];
      if (close == NULL)
        goto bad_host;
      name = g_strndup (auth + 1, close - auth - 1);
      if (inet_pton (AF_INET6, name, addr) != 1)
        goto bad_host;
      if (close[1] == ':')
        port_text = close + 2;
      else if (close[1] != '\0')
        goto bad_host;
    }
  else
    {
      char *colon = strchr (auth, ':');
      name = colon != NULL ? g_strndup (auth, colon - auth) : g_strdup (auth);
      port_text = colon != NULL ? colon + 1 : NULL;
      if (*name == '\0' || strlen (name) > 253)
        goto bad_host;
      for (const char *p = name; *p != '\0'; p++)
        if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.')
          goto bad_host;
    }
  *port = default_port;
  if (port_text != NULL)
    {
      guint64 n = 0;
      if (!g_ascii_string_to_unsigned (port_text, 10, 1, 65535, &n, NULL))
        {
          g_autofree char *shown = pd_text_short (port_text, 20);
          g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "%s://: '%s' is not a port (1 to 65535)",
                       scheme, shown);
          return false;
        }
      *port = (guint16) n;
    }
  *host = g_ascii_strdown (name, -1);
  return true;

bad_host:
  {
    g_autofree char *shown = pd_text_short (auth, 60);
    g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                 "%s://: '%s' is not a server (a host name, an IPv4 address or an [IPv6] address, "
                 "then :PORT if not %u)", scheme, shown, default_port);
    return false;
  }
}

static bool
smtp_check_url (const char *scheme, const char *rest, char **normalized, GError **err)
{
  g_autofree char *host = NULL;
  guint16 port = 0;
  if (!parse_authority (scheme, rest, &host, &port, err))
    return false;
  bool v6 = strchr (host, ':') != NULL;
  *normalized = g_strdup_printf ("%s://%s%s%s:%u", scheme, v6 ? "[" : "", host, v6 ? "]" : "", port);
  return true;
}

bool
pd_transport_smtp_check_options (const char *scheme, const char *rest,
                                 const pd_transport_options_t *o, GError **err)
{
  g_autofree char *host = NULL;
  guint16 port = 0;
  if (!parse_authority (scheme, rest, &host, &port, err))
    return false;
  if (o->tls_none && strcmp (scheme, "smtps") == 0)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                   "tls = none contradicts smtps://, which is TLS from the first byte");
      return false;
    }
  if (o->tls_none && !pd_tls_plain_allowed (host))
    {
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                   "tls = none is allowed only for a loopback server (localhost, 127.0.0.0/8, ::1), "
                   "not %s: mail would cross the network in clear", host);
      return false;
    }
  if (o->tls_none && o->username != NULL)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                   "username needs TLS: AUTH is never sent in clear, so it cannot go with tls = none");
      return false;
    }
  if ((o->username != NULL) != (o->password_file != NULL))
    {
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "%s is set but %s is not: give both or neither",
                   o->username != NULL ? "username" : "password_file",
                   o->username != NULL ? "password_file" : "username");
      return false;
    }
  return true;
}

/* The first line of 'path' (transfer full; wipe it with secret_free).
 * Refuses a file anyone may read or write: a password in it is no secret,
 * and saying so now beats finding out later. Group access is allowed, for
 * the usual root:postdesk 0640. Errors never quote the file's content. */
static char *
read_password (const char *path, GError **err)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "password_file %s: %s", path,
                   g_strerror (errno));
      return NULL;
    }
  struct stat st;
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "password_file %s: not a regular file", path);
      close (fd);
      return NULL;
    }
  if (st.st_mode & (S_IROTH | S_IWOTH))
    {
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG,
                   "password_file %s may be read or changed by anyone (mode %04o): "
                   "chmod o-rwx %s", path, (unsigned) (st.st_mode & 07777), path);
      close (fd);
      return NULL;
    }
  char *buf = g_malloc0 (PASSWORD_MAX + 1);
  gsize n = 0;
  while (n < PASSWORD_MAX)
    {
      ssize_t r = read (fd, buf + n, PASSWORD_MAX - n);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        break;
      n += (gsize) r;
    }
  close (fd);
  char *nl = memchr (buf, '\n', n);
  gsize line = nl != NULL ? (gsize) (nl - buf) : n;
  if (line > 0 && buf[line - 1] == '\r')
    line--;
  const char *why = NULL;
  if (nl == NULL && n == PASSWORD_MAX)
    why = "its first line is too long to be a password";
  else if (line == 0)
    why = "its first line is empty";
  else if (memchr (buf, '\0', line) != NULL)
    why = "it holds a NUL byte";
  if (why != NULL)
    {
      explicit_bzero (buf, PASSWORD_MAX + 1);
      g_free (buf);
      g_set_error (err, PD_ERROR, PD_ERROR_CONFIG, "password_file %s: %s", path, why);
      return NULL;
    }
  /* Everything after the first line is wiped too. */
  explicit_bzero (buf + line, PASSWORD_MAX + 1 - line);
  return buf;
}

static void
secret_free (char *secret)
{
  if (secret == NULL)
    return;
  explicit_bzero (secret, strlen (secret));
  g_free (secret);
}

/* ---- the connection ----------------------------------------------------- */

/* host:port as people write it, for messages. (transfer full) */
static char *
server_name (const smtp_t *s)
{
  bool v6 = strchr (s->host, ':') != NULL;
  return g_strdup_printf ("%s%s%s:%u", v6 ? "[" : "", s->host, v6 ? "]" : "", s->port);
}

/* The server's last reply, code and text on one safe line. (transfer full) */
static char *
server_reply (const smtp_t *s)
{
  /* libetpan keeps the text of every line of a reply, each ending in a
   * line break: one line for the log, the lines joined by spaces. */
  g_autofree char *text = g_strdup (s->smtp->response != NULL ? s->smtp->response : "");
  g_strdelimit (g_strstrip (text), "\r\n", ' ');
  g_autofree char *line = pd_text_line (text);
  g_autofree char *shown = pd_text_short (line, 300);
  if (s->smtp->response_code == 0)
    return g_strdup ("no reply");
  return g_strdup_printf ("%d %s", s->smtp->response_code, shown);
}

static void
hang_up (smtp_t *s)
{
  if (s->smtp == NULL)
    return;
  /* mailsmtp_free says QUIT when the stream is still there. */
  mailsmtp_free (s->smtp);
  s->smtp = NULL;
}

/* Fails the connection attempt: UNAVAILABLE, the connection dropped. */
static bool
connect_failed (smtp_t *s, GError **err, const char *format, ...) G_GNUC_PRINTF (3, 4);
static bool
connect_failed (smtp_t *s, GError **err, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *why = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_autofree char *server = server_name (s);
  g_set_error (err, PD_TRANSPORT_ERROR, PD_TRANSPORT_ERROR_UNAVAILABLE, "SMTP server %s: %s",
               server, why);
  hang_up (s);
  return false;
}

/* EHLO; with tls = none a server without ESMTP may still take HELO. */
static int
greet (smtp_t *s)
{
  int r = mailesmtp_ehlo (s->smtp);
  if (r == MAILSMTP_ERROR_NOT_IMPLEMENTED && s->tls_none)
    r = mailsmtp_helo (s->smtp);
  return r;
}

static bool
verify (smtp_t *s, GError **err)
{
  GError *tls = NULL;
  if (pd_tls_verify_stream (s->smtp->stream, s->host, s->ca_file, &tls))
    return true;
  /* Not even QUIT goes to a server that could not prove who it is. */
  mailstream_close (s->smtp->stream);
  s->smtp->stream = NULL;
  bool r = connect_failed (s, err, "%s; nothing was sent", tls->message);
  g_error_free (tls);
  return r;
}

static bool
smtp_connect (smtp_t *s, GError **err)
{
  s->smtp = mailsmtp_new (0, NULL);
  if (s->smtp == NULL)
    return connect_failed (s, err, "out of memory");
  /* Before connecting: the connect helpers copy it into the stream. */
  mailsmtp_set_timeout (s->smtp, s->timeout_seconds);
  int r = s->implicit_tls
            ? mailsmtp_ssl_connect_with_callback (s->smtp, s->host, s->port, pd_tls_sni_callback,
                                                  s->host)
            : mailsmtp_socket_connect (s->smtp, s->host, s->port);
  if (r != MAILSMTP_NO_ERROR)
    {
      if (r == MAILSMTP_ERROR_SERVICE_NOT_AVAILABLE || r == MAILSMTP_ERROR_UNEXPECTED_CODE)
        {
          g_autofree char *reply = server_reply (s);
          return connect_failed (s, err, "refused the connection: %s", reply);
        }
      return connect_failed (s, err, "cannot connect: %s",
                             r == MAILSMTP_ERROR_CONNECTION_REFUSED ? "connection refused or no such host"
                             : r == MAILSMTP_ERROR_SSL ? "TLS handshake failed"
                                                       : mailsmtp_strerror (r));
    }
  /* smtps://: the handshake is done; verify before even EHLO. */
  if (s->implicit_tls && !verify (s, err))
    return false;
  if ((r = greet (s)) != MAILSMTP_NO_ERROR)
    {
      g_autofree char *reply = server_reply (s);
      return connect_failed (s, err, "EHLO failed: %s", reply);
    }
  if (!s->implicit_tls && !s->tls_none)
    {
      /* smtp:// means STARTTLS or nothing: a server (or someone in the
       * middle) that leaves it out does not get the mail in clear. */
      if (!(s->smtp->esmtp & MAILSMTP_ESMTP_STARTTLS))
        return connect_failed (s, err, "does not offer STARTTLS; refusing to send without TLS "
                                       "(smtp:// requires it)");
      r = mailsmtp_socket_starttls_with_callback (s->smtp, pd_tls_sni_callback, s->host);
      if (r != MAILSMTP_NO_ERROR)
        {
          g_autofree char *reply = server_reply (s);
          return connect_failed (s, err, "STARTTLS failed: %s",
                                 r == MAILSMTP_ERROR_SSL ? "TLS handshake failed" : reply);
        }
      if (!verify (s, err))
        return false;
      if ((r = greet (s)) != MAILSMTP_NO_ERROR)
        {
          g_autofree char *reply = server_reply (s);
          return connect_failed (s, err, "EHLO after STARTTLS failed: %s", reply);
        }
    }
  if (s->username != NULL)
    {
      /* tls = none never gets here with a username (options check); the
       * test stays because sending a password in clear must take two bugs. */
      if (s->tls_none)
        return connect_failed (s, err, "AUTH refused: no TLS");
      if (!(s->smtp->auth & MAILSMTP_AUTH_PLAIN))
        return connect_failed (s, err, "does not offer AUTH PLAIN");
      /* PLAIN explicitly: mailsmtp_auth would pick DIGEST-MD5 or CRAM-MD5
       * first, which need the password stored in clear on the server. */
      r = mailsmtp_auth_type (s->smtp, s->username, s->password, MAILSMTP_AUTH_PLAIN);
      if (r != MAILSMTP_NO_ERROR)
        {
          g_autofree char *user = pd_text_short (s->username, 60);
          /* Without Cyrus SASL's PLAIN plugin libetpan fails before
           * sending anything: say what to install. */
          if (r == MAILSMTP_ERROR_AUTH_LOGIN && s->smtp->response_code == 0)
            return connect_failed (s, err, "cannot log in as %s: SASL PLAIN is not available "
                                           "(install libsasl2-modules)", user);
          g_autofree char *reply = server_reply (s);
          return connect_failed (s, err, "refused the login of %s: %s", user, reply);
        }
    }
  return true;
}

/* Classifies a failed command by the reply code and leaves the connection
 * ready for the next message (RSET) or dropped. Always returns false. */
static bool
command_failed (smtp_t *s, int r, const char *command, GError **err)
{
  g_autofree char *server = server_name (s);
  int code = s->smtp->response_code;
  bool broken = r == MAILSMTP_ERROR_STREAM || r == MAILSMTP_ERROR_SSL
                || r == MAILSMTP_ERROR_CONNECTION_REFUSED || r == MAILSMTP_ERROR_MEMORY
                || code == 421 || code < 400 || code > 599;
  if (broken)
    {
      g_autofree char *reply = code == 421 ? server_reply (s) : g_strdup (mailsmtp_strerror (r));
      g_set_error (err, PD_TRANSPORT_ERROR, PD_TRANSPORT_ERROR_UNAVAILABLE,
                   "SMTP server %s: connection lost at %s (%s)", server, command, reply);
      hang_up (s);
      return false;
    }
  g_autofree char *reply = server_reply (s);
  g_set_error (err, PD_TRANSPORT_ERROR,
               code >= 500 ? PD_TRANSPORT_ERROR_PERMANENT : PD_TRANSPORT_ERROR_TEMPORARY,
               "SMTP server %s answered %s to %s", server, reply, command);
  /* The transaction is abandoned; the connection can carry the next one. */
  if (mailsmtp_reset (s->smtp) != MAILSMTP_NO_ERROR)
    hang_up (s);
  return false;
}

/* ---- the backend -------------------------------------------------------- */

static void
smtp_end_batch (void *state)
{
  hang_up (state);
}

static void
smtp_close (void *state)
{
  smtp_t *s = state;
  if (s == NULL)
    return;
  hang_up (s);
  g_free (s->host);
  g_free (s->username);
  secret_free (s->password);
  g_free (s->ca_file);
  g_free (s);
}

static bool
open_either (pd_transport_t *t, const char *scheme, const char *rest,
             const pd_transport_options_t *o, GError **err)
{
  smtp_t *s = g_new0 (smtp_t, 1);
  t->state = s;
  s->implicit_tls = strcmp (scheme, "smtps") == 0;
  s->tls_none = o->tls_none;
  s->timeout_seconds = o->timeout_seconds > 0 ? o->timeout_seconds : DEFAULT_TIMEOUT_SECONDS;
  if (!parse_authority (scheme, rest, &s->host, &s->port, err)
      || !pd_transport_smtp_check_options (scheme, rest, o, err))
    return false;
  s->username = g_strdup (o->username);
  s->ca_file = g_strdup (o->ca_file);
  if (o->password_file != NULL && (s->password = read_password (o->password_file, err)) == NULL)
    return false;
  return true;
}

static bool
smtp_open (pd_transport_t *t, const char *rest, const pd_transport_options_t *o, GError **err)
{
  return open_either (t, "smtp", rest, o, err);
}

static bool
smtps_open (pd_transport_t *t, const char *rest, const pd_transport_options_t *o, GError **err)
{
  return open_either (t, "smtps", rest, o, err);
}

static bool
smtp_send (pd_transport_t *t, const char *envelope_from, const char *const *recipients,
           const char *message_id, GBytes *raw, GError **err)
{
  (void) message_id;   /* SMTP has no way to ask whether it was delivered before */
  smtp_t *s = t->state;
  /* transport.c checked every address (no CR, LF, <, >, space; at most
   * 254 bytes): libetpan pastes them into MAIL FROM:<%s> unescaped. */
  bool reused = s->smtp != NULL;
  if (!reused && !smtp_connect (s, err))
    return false;
  int r = mailsmtp_mail (s->smtp, envelope_from);
  if (r != MAILSMTP_NO_ERROR && reused
      && (r == MAILSMTP_ERROR_STREAM || s->smtp->response_code == 421))
    {
      /* The server closed the connection this batch kept (a per-connection
       * limit, an idle timeout): one new connection, not a failed message. */
      hang_up (s);
      if (!smtp_connect (s, err))
        return false;
      r = mailsmtp_mail (s->smtp, envelope_from);
    }
  if (r != MAILSMTP_NO_ERROR)
    return command_failed (s, r, "MAIL FROM", err);
  for (gsize i = 0; recipients[i] != NULL; i++)
    if ((r = mailsmtp_rcpt (s->smtp, recipients[i])) != MAILSMTP_NO_ERROR)
      {
        /* One row is one message to all its recipients: delivering to some
         * and retrying for all would double it for the others. */
        g_autofree char *command = g_strdup_printf ("RCPT TO:<%s>", recipients[i]);
        return command_failed (s, r, command, err);
      }
  if ((r = mailsmtp_data (s->smtp)) != MAILSMTP_NO_ERROR)
    return command_failed (s, r, "DATA", err);
  gsize len = 0;
  const char *data = g_bytes_get_data (raw, &len);
  /* libetpan turns LF into CRLF, dot-stuffs and appends "\r\n.\r\n"
   * itself; a final line end of ours would add an empty line. */
  if (len > 0 && data[len - 1] == '\n')
    len--;
  if ((r = mailsmtp_data_message (s->smtp, data, len)) != MAILSMTP_NO_ERROR)
    return command_failed (s, r, "the end of DATA", err);
  return true;
}

const pd_transport_backend_t pd_transport_smtp = {
  .scheme = "smtp",
  .check_url = smtp_check_url,
  .open = smtp_open,
  .send = smtp_send,
  .end_batch = smtp_end_batch,
  .close = smtp_close,
};

const pd_transport_backend_t pd_transport_smtps = {
  .scheme = "smtps",
  .check_url = smtp_check_url,
  .open = smtps_open,
  .send = smtp_send,
  .end_batch = smtp_end_batch,
  .close = smtp_close,
};
