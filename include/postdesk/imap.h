/* imap.h - one IMAP folder, read over a verified TLS connection with
 * libetpan: connect, log in, select, fetch what is new, and, only after the
 * caller has committed it, move or flag it on the server.
 *
 * A pd_imap_t is one session for one [mailbox NAME] section and is used by
 * one thread at a time (libetpan sessions are not shared). Every error is
 * in the PD_IMAP_ERROR domain, and its code is what the caller does next:
 * a daemon reconnects after CONNECTION with pd_backoff_next(), waits long
 * after LOGIN, and stops trying after TLS until the configuration changes.
 * Messages never carry a password.
 */
#ifndef POSTDESK_IMAP_H
#define POSTDESK_IMAP_H

#include "postdesk/config.h"

#define PD_IMAP_ERROR (pd_imap_error_quark ())
GQuark pd_imap_error_quark (void);

typedef enum {
  /* The server could not be trusted: no TLS, STARTTLS not offered, an
   * unknown issuer, a name mismatch, an expired certificate. Nothing was
   * sent to it. Permanent until the configuration (or the server) changes. */
  PD_IMAP_ERROR_TLS,
  /* The server refused the user name and password: retry slowly (a
   * password being changed), never hammer. */
  PD_IMAP_ERROR_LOGIN,
  /* The connection failed or broke (refused, timeout, stream, parse, TLS
   * record error): drop the session and reconnect with backoff. */
  PD_IMAP_ERROR_CONNECTION,
  /* The server refused a command on a working connection (SELECT of a
   * missing folder, MOVE to a missing folder): reconnect later, slowly. */
  PD_IMAP_ERROR_REFUSED,
  /* The password could not be read (password_file, password_command). */
  PD_IMAP_ERROR_SECRET,
} pd_imap_error_t;

/* Reads an IMAP URL: imaps://HOST[:PORT]/FOLDER (TLS from the first byte,
 * port 993) or imap://HOST[:PORT]/FOLDER (STARTTLS required, port 143).
 * HOST may be an IPv6 address in brackets. FOLDER is printable ASCII
 * (libetpan 1.9.4 has no modified UTF-7). Each out-parameter may be NULL;
 * *host and *folder are transfer full. PD_ERROR_CONFIG on failure. */
bool pd_imap_url_parse (const char *url, bool *implicit_tls, char **host, guint16 *port,
                        char **folder, GError **err);

/* True for a folder name postdesk can send as it is: 1 to 200 printable
 * ASCII characters, no '"', '\\', '*' or '%'. */
bool pd_imap_folder_valid (const char *folder);

/* The next wait after a connection failure: doubles 'previous' (seconds;
 * 0 for the first failure) from 'base' up to 'cap', then adds up to a
 * fifth at random, so that several workers that lost the same server do
 * not all come back in the same second. */
int pd_backoff_next (int previous, int base, int cap);

typedef struct pd_imap pd_imap_t;

/* A session for 'mb' (borrowed: must outlive the session); nothing is sent
 * before pd_imap_connect. 'timeout' is the per-read and per-write limit in
 * seconds (also of connect()). */
pd_imap_t *pd_imap_new (const pd_config_mailbox_t *mb, int timeout);
/* Logs out if still connected (bounded by the timeout), and frees. */
void pd_imap_free (pd_imap_t *imap);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (pd_imap_t, pd_imap_free)

/* Connects and secures the connection: imaps:// starts TLS at once with
 * SNI; imap:// requires STARTTLS in the greeting's capabilities (refused
 * with PD_IMAP_ERROR_TLS otherwise, no downgrade) and reads the
 * capabilities again inside TLS. The server's certificate chain is then
 * verified against ca_file (or the system trust store) and the host name,
 * before any credential leaves. tls = none (loopback only) skips TLS.
 * Sets SO_KEEPALIVE so that a silently dropped connection is noticed. */
bool pd_imap_connect (pd_imap_t *imap, GError **err);

/* Reads the password (password_file: its first line; password_command: its
 * output, trimmed), logs in, and wipes the password from memory. */
bool pd_imap_login (pd_imap_t *imap, GError **err);

/* Selects the folder (read-write, since messages are moved or flagged);
 * *uidvalidity (may be NULL) is its UIDVALIDITY. */
bool pd_imap_select (pd_imap_t *imap, guint32 *uidvalidity, GError **err);

/* The server's capability, as reported after TLS (e.g. "IDLE", "MOVE"). */
bool pd_imap_has (pd_imap_t *imap, const char *capability);

/* Called once per message, in UID order. 'raw' is borrowed for the call.
 * 'size' is the server's RFC822.SIZE: when it is larger than 'len', the
 * message was over the size limit and 'raw' is only its header section
 * (its body was never downloaded). 'internaldate' is when the server
 * received it. Return false (with err set) to stop. */
typedef bool (*pd_imap_message_fn) (const char *raw, gsize len, guint32 uid, pd_time_t internaldate,
                                    gint64 size, gpointer data, GError **err);
/* Called after each batch, with the UIDs handed over in it (ascending)
 * and 'highest', the highest UID the batch covered (a message expunged
 * meanwhile is covered but not handed over): where the caller commits,
 * saves 'highest' as its state and calls pd_imap_after(). Return false
 * (with err set) to stop. */
typedef bool (*pd_imap_batch_fn) (const guint32 *uids, guint n, guint32 highest, gpointer data, GError **err);

/* Hands over every message with a UID above 'last_uid' (the server's "n:*"
 * always answers with the highest UID, even below n: it is filtered out),
 * PD_IMAP_BATCH at a time: UID, RFC822.SIZE and INTERNALDATE first, then
 * BODY.PEEK[] of the messages within 'max_bytes' and BODY.PEEK[HEADER] of
 * the others, so memory stays bounded by the limit and nothing is marked
 * \Seen. 'batch_fn' may be NULL. *fetched (may be NULL) counts messages
 * handed over. */
#define PD_IMAP_BATCH 100
bool pd_imap_fetch_new (pd_imap_t *imap, guint32 last_uid, gint64 max_bytes, pd_imap_message_fn fn,
                        pd_imap_batch_fn batch_fn, gpointer data, guint *fetched, GError **err);

/* The configured after action (move:FOLDER or flag:seen) on 'uids' of the
 * selected folder. Call it ONLY after the messages are committed: a crash
 * before it leaves them to be fetched again (and recognised); a crash
 * after it, never lost. MOVE when the server has it, else COPY, \Deleted
 * and UID EXPUNGE (plain EXPUNGE without UIDPLUS). */
bool pd_imap_after (pd_imap_t *imap, const guint32 *uids, guint n, GError **err);

/* Catches up the after action for messages at or below 'last_uid' (all
 * committed) still waiting for it: left in the folder (move) or not \Seen
 * (flag) by a crash between the commit and pd_imap_after. *done (may be
 * NULL) is how many. */
bool pd_imap_after_pending (pd_imap_t *imap, guint32 last_uid, guint *done, GError **err);

typedef enum {
  PD_IMAP_WAKE_DATA,        /* the server said something (new mail, most likely) */
  PD_IMAP_WAKE_TIMEOUT,     /* the time was up */
  PD_IMAP_WAKE_INTERRUPTED, /* 'interrupt_fd' became readable (SIGTERM) */
} pd_imap_wake_t;

/* Waits up to 'seconds' for something new in the selected folder: in IDLE
 * when the server has it and the mailbox allows it (re-issued at most
 * every 28 minutes, RFC 2177), else by sleeping (then a NOOP keeps the
 * session alive). Returns early when 'interrupt_fd' (-1: none) becomes
 * readable; it is not read. Afterwards search again with
 * pd_imap_fetch_new: what woke the wait says nothing certain. */
bool pd_imap_wait (pd_imap_t *imap, int seconds, int interrupt_fd, pd_imap_wake_t *why, GError **err);

#endif
