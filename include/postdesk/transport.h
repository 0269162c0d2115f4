/* transport.h - handing a finished outgoing message to whatever carries it
 * on: a Maildir (for tests, demos and local delivery), the system's
 * sendmail, or an SMTP server (smtp:// with STARTTLS, smtps://).
 *
 * A transport is chosen by the scheme of its URL, as OpenSMTPD picks a
 * queue or table backend by name: each scheme is one small table of
 * functions in transport.c, so a new one adds a row there and nothing
 * here. The caller (postdesk send) owns the outbox and its retries; a
 * transport only says, for each message, whether it was accepted, or why
 * not and what kind of failure that is.
 */
#ifndef POSTDESK_TRANSPORT_H
#define POSTDESK_TRANSPORT_H

#include "postdesk/common.h"

typedef struct pd_transport pd_transport_t;

/* The error domain of pd_transport_send. Its codes are the retry class,
 * kept apart from the message (which says what went wrong): the caller
 * decides from the code alone what happens to the message next. */
#define PD_TRANSPORT_ERROR (pd_transport_error_quark ())
GQuark pd_transport_error_quark (void);

typedef enum {
  /* This message was not accepted now and may be tomorrow (sendmail's
   * EX_TEMPFAIL, a timeout, an SMTP 4xx): retry it later with backoff. */
  PD_TRANSPORT_ERROR_TEMPORARY,
  /* This message will never be accepted as it is (an invalid address,
   * sendmail refusing it, an SMTP 5xx): stop and tell a person. */
  PD_TRANSPORT_ERROR_PERMANENT,
  /* The transport itself cannot deliver anything now (the Maildir is not
   * writable, the disk is full, sendmail cannot be started, the SMTP
   * server is unreachable). Like TEMPORARY for this message, but the
   * caller stops the round instead of failing every other message the
   * same way. */
  PD_TRANSPORT_ERROR_UNAVAILABLE,
} pd_transport_error_t;

/* Settings beside the URL. All borrowed; a NULL pointer to the struct
 * means every default. */
typedef struct {
  /* Longest a sendmail child may take to accept one message before it is
   * killed and the message retried later, and longest an SMTP server may
   * take to answer one command; 0 means 120 seconds. */
  guint timeout_seconds;
  /* SMTP only ([transport] keys of the same names). */
  const char *username;       /* AUTH PLAIN as this user (over TLS only); NULL: no AUTH */
  const char *password_file;  /* its password, the file's first line; needed with username */
  const char *ca_file;        /* PEM CAs to trust; NULL: the system trust store */
  bool tls_none;              /* tls = none: no TLS at all, loopback hosts only */
} pd_transport_options_t;

/* Checks a transport URL, as written in [transport] url, and returns it
 * with a relative path made absolute against 'base_dir' (the folder of the
 * configuration file) in *normalized (transfer full). Known now:
 *   maildir:PATH    each message becomes a file in the Maildir PATH
 *   sendmail:PATH   each message is piped to the sendmail program PATH
 *   smtp://HOST[:PORT]   SMTP with STARTTLS required (port 587 by default)
 *   smtps://HOST[:PORT]  SMTP over TLS from the first byte (port 465)
 * HOST is a DNS name, an IPv4 address or an [IPv6] address; an SMTP URL is
 * normalized to carry its port. On failure *normalized is NULL and 'err'
 * (PD_ERROR_CONFIG) says what is wrong, without naming a file: the caller
 * adds where the URL came from. */
bool pd_transport_url_check (const char *url, const char *base_dir, char **normalized,
                             GError **err);

/* Checks the options against the URL they go with, as the configuration
 * is read: SMTP settings on a maildir: or sendmail: URL, tls = none on
 * anything but smtp:// to a loopback host, a username without a
 * password_file (or the reverse) and a username with tls = none (AUTH
 * would send the password in clear) are refused with PD_ERROR_CONFIG. */
bool pd_transport_options_check (const char *url, const pd_transport_options_t *options,
                                 GError **err);

/* Opens the transport for 'url' (relative paths resolve against the
 * current folder; pass a URL from pd_transport_url_check). Nothing is
 * delivered yet, but what can be checked early is: a Maildir's folders
 * are created when missing, a sendmail program must exist and be
 * executable, an SMTP password file is read (once: it is not read again
 * while the transport is open) and refused if others may read it. An SMTP
 * transport connects at its first pd_transport_send, not here. On failure *out is NULL and 'err' says why
 * (PD_ERROR_CONFIG for the URL, PD_TRANSPORT_ERROR_UNAVAILABLE for the
 * rest).
 *
 * A process that uses the sendmail transport must ignore SIGPIPE: a child
 * that exits before reading the whole message must be a failure to
 * report, not the end of postdesk. */
bool pd_transport_open (const char *url, const pd_transport_options_t *options,
                        pd_transport_t **out, GError **err);

/* Delivers one message: 'raw' is the complete message with CRLF line ends
 * (as the outbox keeps it), from 'envelope_from' to 'recipients'
 * (NULL-terminated, at least one). 'message_id' (without <>) identifies
 * the message across attempts: a transport that can tell whether it has
 * delivered a message before (the Maildir) delivers each id at most once,
 * so sending again after a crash between acceptance and "marked sent"
 * does not double it. All borrowed.
 *
 * Every address is checked first, before anything is written or started:
 * at most 254 bytes, one '@', no space, control character, '<' or '>',
 * and none may start with '-' (it would read as an option). A bad address
 * is PD_TRANSPORT_ERROR_PERMANENT.
 *
 * Returns true once the transport has accepted the message durably (the
 * file and its folder synced; sendmail exited 0). Otherwise 'err' is in
 * PD_TRANSPORT_ERROR with the retry class as its code and the reason as
 * its message, on one line. */
bool pd_transport_send (pd_transport_t *t, const char *envelope_from,
                        const char *const *recipients, const char *message_id, GBytes *raw,
                        GError **err);

/* Ends a batch: the messages sent since the last call shared one SMTP
 * connection, which is closed now (QUIT), so that no idle connection is
 * held open between rounds of delivery; the next send connects again. A
 * call with nothing to end, or on a transport without connections, does
 * nothing. pd_transport_free ends the batch too. */
void pd_transport_end_batch (pd_transport_t *t);

/* The URL it was opened with, for messages. (borrowed: valid until free) */
const char *pd_transport_url (const pd_transport_t *t);

/* Whether an address may go on an envelope (the rules above). */
bool pd_transport_address_ok (const char *address);

void pd_transport_free (pd_transport_t *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (pd_transport_t, pd_transport_free)

#endif
