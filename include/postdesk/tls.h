/* tls.h - what every mail connection (IMAP, SMTP) does about TLS that
 * Debian's libetpan does not: send SNI, and verify the server's
 * certificate chain and host name before any credential is sent.
 *
 * Debian's libetpan 1.9.4 (GnuTLS build) completes the handshake without
 * a trust store and without a verification call, and sends no SNI unless
 * the connect callback sets it. So every TLS connection is made like this:
 *
 *   mailsmtp_socket_starttls_with_callback (smtp, pd_tls_sni_callback, (void *) host);
 *   if (!pd_tls_verify_stream (smtp->stream, host, ca_file, &err))
 *     ... close the connection; no AUTH, no LOGIN, no MAIL ...
 *
 * This header deliberately does not include libetpan's: the two types it
 * names are declared incompletely below, so a file can hold a TLS error
 * without depending on libetpan. ingest/tls.c is, with the IMAP and SMTP
 * modules, the only code that includes libetpan headers.
 */
#ifndef POSTDESK_TLS_H
#define POSTDESK_TLS_H

#include "postdesk/common.h"

/* libetpan's own types (mailstream_ssl.h, mailstream_types.h), declared
 * here by their struct tags; 'mailstream *' is 'struct _mailstream *'. */
struct mailstream_ssl_context;
struct _mailstream;

#define PD_TLS_ERROR (pd_tls_error_quark ())
GQuark pd_tls_error_quark (void);

/* Why a server's certificate was refused. When several reasons hold, the
 * code is the first of this list that does, and the message names all. */
typedef enum {
  PD_TLS_ERROR_NOT_TLS,          /* the stream is not a TLS stream at all */
  PD_TLS_ERROR_NO_CERTIFICATE,   /* the server presented no certificate */
  PD_TLS_ERROR_TRUST_STORE,      /* ca_file (or the system store) gave no CA to trust */
  PD_TLS_ERROR_UNKNOWN_ISSUER,   /* the chain does not lead to a trusted CA */
  PD_TLS_ERROR_REVOKED,
  PD_TLS_ERROR_EXPIRED,
  PD_TLS_ERROR_NOT_YET_VALID,
  PD_TLS_ERROR_NAME_MISMATCH,    /* the certificate is for another host name or address */
  PD_TLS_ERROR_PURPOSE,          /* the certificate is not for TLS servers */
  PD_TLS_ERROR_OTHER,            /* a bad signature, an insecure algorithm, a broken certificate */
} pd_tls_error_t;

/* A connect callback for libetpan's *_with_callback calls
 * (mailsmtp_socket_starttls_with_callback, mailsmtp_ssl_connect_with_callback,
 * mailimap_ssl_connect_with_callback, ...): sets SNI to 'host', a
 * NUL-terminated host name (borrowed; libetpan copies it). An IP address
 * is not sent as SNI (RFC 6066 allows only DNS names there). */
void pd_tls_sni_callback (struct mailstream_ssl_context *ctx, void *host);

/* Verifies the certificate the server presented on 'stream' (a libetpan
 * mailstream after a TLS handshake; borrowed): the chain must lead to a CA
 * in 'ca_file' (a PEM file, borrowed; NULL: the system trust store), every
 * certificate must be valid now and not revoked, the leaf must be for TLS
 * servers and name 'host' (a DNS name, matched with wildcards as RFC 6125
 * says, or an IPv4/IPv6 address, matched against the IP addresses in the
 * certificate). Call it after the handshake and before any credential or
 * message is sent; on false, close the connection.
 *
 * On failure 'err' is in PD_TLS_ERROR and says, in words, why and for which
 * host, e.g. "TLS certificate of mail.example.com refused: unknown issuer
 * (not signed by a trusted CA)". Never falls back to accepting. */
bool pd_tls_verify_stream (struct _mailstream *stream, const char *host, const char *ca_file,
                           GError **err);

/* Whether 'host' may be talked to without TLS (tls = none): only the
 * loopback, written as "localhost", an address in 127.0.0.0/8 or ::1
 * (brackets allowed). A name that merely resolves to the loopback does not
 * count: DNS can be made to say anything. */
bool pd_tls_plain_allowed (const char *host);

#endif
