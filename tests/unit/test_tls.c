/* test_tls.c - certificate verification against a real TLS server: each
 * test makes its certificates with GnuTLS (a private CA, server
 * certificates for the right and wrong names, expired, not yet valid, for
 * the wrong purpose), starts `openssl s_server` with them on a loopback
 * port, does the handshake through libetpan exactly as the SMTP and IMAP
 * code does (pd_tls_sni_callback), and checks what pd_tls_verify_stream
 * says about it. */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <libetpan/libetpan.h>
#include <libetpan/mailstream_ssl.h>

#include "postdesk/tls.h"

#define DAY (24 * 60 * 60)

/* ---- certificates ------------------------------------------------------- */

typedef struct {
  gnutls_x509_crt_t crt;        /* owned */
  gnutls_x509_privkey_t key;    /* owned */
  char *cert_path;              /* owned: PEM file */
  char *key_path;               /* owned: PEM file */
} cert_t;

typedef struct {
  const char *cn;
  const char *dns;       /* subjectAltName DNS, or NULL */
  const char *ip;        /* subjectAltName IP, or NULL */
  time_t from, until;    /* 0: a day ago, a day from now */
  const char *purpose;   /* extended key usage; NULL: TLS server */
  bool ca;
} cert_spec_t;

static void
cert_free (cert_t *c)
{
  gnutls_x509_crt_deinit (c->crt);
  gnutls_x509_privkey_deinit (c->key);
  g_free (c->cert_path);
  g_free (c->key_path);
  g_free (c);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (cert_t, cert_free)

static void
write_datum (const char *path, gnutls_datum_t *d)
{
  g_assert_true (g_file_set_contents (path, (const char *) d->data, d->size, NULL));
  gnutls_free (d->data);
}

/* A certificate and key as 'spec' says, signed by 'issuer' (NULL:
 * self-signed), written to PEM files named after 'name'. (transfer full) */
static cert_t *
make_cert (const char *name, const cert_spec_t *spec, const cert_t *issuer)
{
  static unsigned char serial;
  cert_t *c = g_new0 (cert_t, 1);
  g_assert_cmpint (gnutls_x509_privkey_init (&c->key), ==, 0);
  g_assert_cmpint (gnutls_x509_privkey_generate (c->key, GNUTLS_PK_ECDSA,
                                                 GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), 0),
                   ==, 0);
  g_assert_cmpint (gnutls_x509_crt_init (&c->crt), ==, 0);
  gnutls_x509_crt_t crt = c->crt;
  time_t now = time (NULL);
  unsigned char sn[2] = { 1, ++serial };
  g_assert_cmpint (gnutls_x509_crt_set_version (crt, 3), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_serial (crt, sn, sizeof sn), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_activation_time (crt, spec->from ? spec->from : now - DAY), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_expiration_time (crt, spec->until ? spec->until : now + DAY), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0, spec->cn,
                                                  strlen (spec->cn)), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_key (crt, c->key), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_basic_constraints (crt, spec->ca, -1), ==, 0);
  if (spec->ca)
    g_assert_cmpint (gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN), ==, 0);
  else
    {
      g_assert_cmpint (gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_DIGITAL_SIGNATURE), ==, 0);
      const char *purpose = spec->purpose != NULL ? spec->purpose : GNUTLS_KP_TLS_WWW_SERVER;
      g_assert_cmpint (gnutls_x509_crt_set_key_purpose_oid (crt, purpose, 0), ==, 0);
    }
  if (spec->dns != NULL)
    g_assert_cmpint (gnutls_x509_crt_set_subject_alt_name (crt, GNUTLS_SAN_DNSNAME, spec->dns,
                                                           strlen (spec->dns), GNUTLS_FSAN_APPEND), ==, 0);
  if (spec->ip != NULL)
    {
      unsigned char addr[16];
      g_assert_cmpint (inet_pton (AF_INET, spec->ip, addr), ==, 1);
      g_assert_cmpint (gnutls_x509_crt_set_subject_alt_name (crt, GNUTLS_SAN_IPADDRESS, addr, 4,
                                                             GNUTLS_FSAN_APPEND), ==, 0);
    }
  g_assert_cmpint (gnutls_x509_crt_sign2 (crt, issuer ? issuer->crt : crt,
                                                 issuer ? issuer->key : c->key, GNUTLS_DIG_SHA256, 0),
                   ==, 0);
  c->cert_path = g_strdup_printf ("%s/%s.pem", pd_test_tmpdir (), name);
  c->key_path = g_strdup_printf ("%s/%s.key", pd_test_tmpdir (), name);
  gnutls_datum_t d;
  g_assert_cmpint (gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, &d), ==, 0);
  write_datum (c->cert_path, &d);
  g_assert_cmpint (gnutls_x509_privkey_export2 (c->key, GNUTLS_X509_FMT_PEM, &d), ==, 0);
  write_datum (c->key_path, &d);
  return c;
}

static cert_t *
make_ca (const char *name)
{
  cert_spec_t spec = { .cn = name, .ca = true };
  return make_cert (name, &spec, NULL);
}

/* ---- a TLS server ------------------------------------------------------- */

typedef struct {
  GPid pid;
  int stdin_fd;    /* kept open: s_server reads its stdin */
  guint16 port;
} server_t;

static guint16
free_port (void)
{
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  g_assert_cmpint (bind (fd, (struct sockaddr *) &a, sizeof a), ==, 0);
  socklen_t len = sizeof a;
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &a, &len), ==, 0);
  close (fd);
  return ntohs (a.sin_port);
}

/* Connects to 127.0.0.1:port, waiting up to 10 s for the listener. */
static int
connect_port (guint16 port)
{
  for (int tries = 0; tries < 200; tries++)
    {
      int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons (port),
                               .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
      if (connect (fd, (struct sockaddr *) &a, sizeof a) == 0)
        return fd;
      close (fd);
      g_usleep (50 * 1000);
    }
  g_error ("nothing listens on port %u", port);
  return -1;
}

/* `openssl s_server` presenting 'cert', or 'sni_cert' to a client that
 * asks for 'sni_name' (both optional). */
static server_t
serve (const cert_t *cert, const char *sni_name, const cert_t *sni_cert)
{
  server_t s = { .port = free_port () };
  g_autofree char *accept = g_strdup_printf ("127.0.0.1:%u", s.port);
  GPtrArray *argv = g_ptr_array_new ();
  const char *base[] = { "openssl", "s_server", "-quiet", "-accept", accept,
                         "-cert", cert->cert_path, "-key", cert->key_path };
  for (gsize i = 0; i < G_N_ELEMENTS (base); i++)
    g_ptr_array_add (argv, (char *) base[i]);
  if (sni_cert != NULL)
    {
      const char *more[] = { "-servername", sni_name, "-cert2", sni_cert->cert_path,
                             "-key2", sni_cert->key_path };
      for (gsize i = 0; i < G_N_ELEMENTS (more); i++)
        g_ptr_array_add (argv, (char *) more[i]);
    }
  g_ptr_array_add (argv, NULL);
  GError *err = NULL;
  int devnull_out = -1;
  g_assert_true (g_spawn_async_with_pipes (NULL, (char **) argv->pdata, NULL,
                                           G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL
                                             | G_SPAWN_DO_NOT_REAP_CHILD,
                                           NULL, NULL, &s.pid, &s.stdin_fd, &devnull_out, NULL, &err));
  g_assert_no_error (err);
  close (devnull_out);
  g_ptr_array_free (argv, TRUE);
  return s;
}

static void
stop (server_t *s)
{
  kill (s->pid, SIGTERM);
  waitpid (s->pid, NULL, 0);
  g_spawn_close_pid (s->pid);
  close (s->stdin_fd);
}

/* Handshakes with the server as libetpan's connect calls do, SNI 'host',
 * and verifies as 'host' against 'ca_file'. Returns the verdict; 'err' as
 * pd_tls_verify_stream sets it. */
static bool
handshake_and_verify (const server_t *s, const char *host, const char *ca_file, GError **err)
{
  int fd = connect_port (s->port);
  mailstream *stream = mailstream_ssl_open_with_callback (fd, pd_tls_sni_callback, (void *) host);
  g_assert_nonnull (stream);   /* libetpan accepts any certificate: the point of tls.c */
  bool ok = pd_tls_verify_stream (stream, host, ca_file, err);
  mailstream_close (stream);
  return ok;
}

/* ---- fixtures ----------------------------------------------------------- */

static cert_t *ca, *other_ca;

static void
setup_cas (void)
{
  ca = make_ca ("test-ca");
  other_ca = make_ca ("other-ca");
}

static cert_t *
server_cert (const char *name, const cert_spec_t *spec)
{
  return make_cert (name, spec, ca);
}

/* ---- tests -------------------------------------------------------------- */

/* The server presents the localhost certificate only to a client that
 * sends SNI "localhost"; anyone else gets one for wrong.example. So a pass
 * here shows SNI was sent as well as the chain and name accepted. */
static void
test_sni_sent_and_good_certificate_accepted (void)
{
  cert_spec_t wrong = { .cn = "wrong.example", .dns = "wrong.example" };
  cert_spec_t good = { .cn = "localhost", .dns = "localhost" };
  g_autoptr (cert_t) fallback = server_cert ("fallback", &wrong);
  g_autoptr (cert_t) right = server_cert ("localhost", &good);
  server_t s = serve (fallback, "localhost", right);
  GError *err = NULL;
  bool ok = handshake_and_verify (&s, "localhost", ca->cert_path, &err);
  g_assert_no_error (err);
  g_assert_true (ok);
  stop (&s);
}

static void
test_ip_address_matches_ip_san (void)
{
  cert_spec_t spec = { .cn = "loopback", .ip = "127.0.0.1" };
  g_autoptr (cert_t) c = server_cert ("ip", &spec);
  server_t s = serve (c, NULL, NULL);
  GError *err = NULL;
  bool ok = handshake_and_verify (&s, "127.0.0.1", ca->cert_path, &err);
  g_assert_no_error (err);
  g_assert_true (ok);
  /* The same certificate does not vouch for a name it does not carry. */
  g_assert_false (handshake_and_verify (&s, "mail.example.org", ca->cert_path, &err));
  g_assert_error (err, PD_TLS_ERROR, PD_TLS_ERROR_NAME_MISMATCH);
  g_clear_error (&err);
  stop (&s);
}

static void
test_wrong_host_name_refused_with_reason_and_host (void)
{
  cert_spec_t spec = { .cn = "wrong.example", .dns = "wrong.example" };
  g_autoptr (cert_t) c = server_cert ("wrong", &spec);
  server_t s = serve (c, NULL, NULL);
  GError *err = NULL;
  g_assert_false (handshake_and_verify (&s, "mail.example.org", ca->cert_path, &err));
  g_assert_error (err, PD_TLS_ERROR, PD_TLS_ERROR_NAME_MISMATCH);
  g_assert_nonnull (strstr (err->message, "mail.example.org"));
  g_assert_nonnull (strstr (err->message, "name mismatch"));
  g_clear_error (&err);
  stop (&s);
}

static void
test_unknown_issuer_refused (void)
{
  cert_spec_t spec = { .cn = "localhost", .dns = "localhost" };
  g_autoptr (cert_t) c = server_cert ("issuer", &spec);
  server_t s = serve (c, NULL, NULL);
  GError *err = NULL;
  /* Another private CA, and the system store: neither signed it. */
  g_assert_false (handshake_and_verify (&s, "localhost", other_ca->cert_path, &err));
  g_assert_error (err, PD_TLS_ERROR, PD_TLS_ERROR_UNKNOWN_ISSUER);
  g_assert_nonnull (strstr (err->message, "unknown issuer"));
  g_assert_nonnull (strstr (err->message, "localhost"));
  g_clear_error (&err);
  g_assert_false (handshake_and_verify (&s, "localhost", NULL, &err));
  g_assert_error (err, PD_TLS_ERROR, PD_TLS_ERROR_UNKNOWN_ISSUER);
  g_clear_error (&err);
  stop (&s);
}

static void
test_expired_and_not_yet_valid_refused (void)
{
  time_t now = time (NULL);
  cert_spec_t old = { .cn = "localhost", .dns = "localhost", .from = now - 30 * DAY,
                      .until = now - DAY };
  cert_spec_t future = { .cn = "localhost", .dns = "localhost", .from = now + DAY,
                         .until = now + 30 * DAY };
  g_autoptr (cert_t) expired = server_cert ("expired", &old);
  g_autoptr (cert_t) early = server_cert ("early", &future);
  GError *err = NULL;

  server_t s = serve (expired, NULL, NULL);
  g_assert_false (handshake_and_verify (&s, "localhost", ca->cert_path, &err));
  g_assert_error (err, PD_TLS_ERROR, PD_TLS_ERROR_EXPIRED);
  g_assert_nonnull (strstr (err->message, "expired"));
  g_clear_error (&err);
  stop (&s);

  s = serve (early, NULL, NULL);
  g_assert_false (handshake_and_verify (&s, "localhost", ca->cert_path, &err));
  g_assert_error (err, PD_TLS_ERROR, PD_TLS_ERROR_NOT_YET_VALID);
  g_assert_nonnull (strstr (err->message, "not yet valid"));
  g_clear_error (&err);
  stop (&s);
}

static void
test_client_certificate_is_no_server_certificate (void)
{
  cert_spec_t spec = { .cn = "localhost", .dns = "localhost", .purpose = GNUTLS_KP_TLS_WWW_CLIENT };
  g_autoptr (cert_t) c = server_cert ("client", &spec);
  server_t s = serve (c, NULL, NULL);
  GError *err = NULL;
  g_assert_false (handshake_and_verify (&s, "localhost", ca->cert_path, &err));
  g_assert_error (err, PD_TLS_ERROR, PD_TLS_ERROR_PURPOSE);
  g_clear_error (&err);
  stop (&s);
}

static void
test_ca_file_without_ca_refused (void)
{
  cert_spec_t spec = { .cn = "localhost", .dns = "localhost" };
  g_autoptr (cert_t) c = server_cert ("noca", &spec);
  g_autofree char *empty = g_build_filename (pd_test_tmpdir (), "empty.pem", NULL);
  g_assert_true (g_file_set_contents (empty, "not a certificate\n", -1, NULL));
  server_t s = serve (c, NULL, NULL);
  GError *err = NULL;
  g_assert_false (handshake_and_verify (&s, "localhost", empty, &err));
  g_assert_error (err, PD_TLS_ERROR, PD_TLS_ERROR_TRUST_STORE);
  g_assert_nonnull (strstr (err->message, empty));
  g_clear_error (&err);
  stop (&s);
}

/* A stream that never did a handshake has nothing to verify: refused. */
static void
test_plain_stream_refused (void)
{
  int sv[2];
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
  mailstream *plain = mailstream_socket_open (sv[0]);
  g_assert_nonnull (plain);
  GError *err = NULL;
  g_assert_false (pd_tls_verify_stream (plain, "localhost", ca->cert_path, &err));
  g_assert_error (err, PD_TLS_ERROR, PD_TLS_ERROR_NOT_TLS);
  g_clear_error (&err);
  g_assert_false (pd_tls_verify_stream (NULL, "localhost", ca->cert_path, &err));
  g_assert_error (err, PD_TLS_ERROR, PD_TLS_ERROR_NOT_TLS);
  g_clear_error (&err);
  mailstream_close (plain);
  close (sv[1]);
}

static void
test_plain_allowed_only_on_loopback (void)
{
  const char *loopback[] = { "localhost", "LocalHost", "127.0.0.1", "127.3.2.1", "::1", "[::1]" };
  const char *elsewhere[] = { "", "localhost.example.com", "mail.example.com", "128.0.0.1",
                              "10.0.0.1", "0.0.0.0", "::", "::2", "::ffff:127.0.0.1x",
                              "[127.0.0.1", "127.0.0.1.example.com" };
  for (gsize i = 0; i < G_N_ELEMENTS (loopback); i++)
    g_assert_true (pd_tls_plain_allowed (loopback[i]));
  for (gsize i = 0; i < G_N_ELEMENTS (elsewhere); i++)
    g_assert_false (pd_tls_plain_allowed (elsewhere[i]));
  g_assert_false (pd_tls_plain_allowed (NULL));
}

int
main (int argc, char **argv)
{
  pd_test_init (&argc, &argv);
  /* The server is killed at the end of each test; a handshake it did not
   * finish must not end the test program. */
  signal (SIGPIPE, SIG_IGN);
  setup_cas ();
  g_test_add_func ("/tls/sni-and-good-certificate", test_sni_sent_and_good_certificate_accepted);
  g_test_add_func ("/tls/ip-address", test_ip_address_matches_ip_san);
  g_test_add_func ("/tls/name-mismatch", test_wrong_host_name_refused_with_reason_and_host);
  g_test_add_func ("/tls/unknown-issuer", test_unknown_issuer_refused);
  g_test_add_func ("/tls/expired-and-not-yet-valid", test_expired_and_not_yet_valid_refused);
  g_test_add_func ("/tls/purpose", test_client_certificate_is_no_server_certificate);
  g_test_add_func ("/tls/ca-file-without-ca", test_ca_file_without_ca_refused);
  g_test_add_func ("/tls/plain-stream", test_plain_stream_refused);
  g_test_add_func ("/tls/plain-allowed", test_plain_allowed_only_on_loopback);
  int rc = g_test_run ();
  cert_free (ca);
  cert_free (other_ca);
  return rc;
}
