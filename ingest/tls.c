/* tls.c - SNI and certificate verification for libetpan's TLS streams
 * (see tls.h for why libetpan's own handshake is not enough on Debian).
 *
 * The certificates come from the stream as DER (leaf first), are imported
 * into GnuTLS and verified against a trust list of our own, with the host
 * name (or address) and the TLS server key purpose as verification data,
 * so one call checks chain, dates, revocation (for CRLs in ca_file), name
 * and purpose together. */
#include "postdesk/tls.h"

#include <arpa/inet.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <libetpan/libetpan.h>
#include <libetpan/mailstream_ssl.h>

/* Exported by Debian's libetpan (a GnuTLS build) but declared only under
 * USE_SSL, which the installed headers do not define. */
extern mailstream_low_driver *mailstream_ssl_driver;

#include "postdesk/text.h"

G_DEFINE_QUARK (pd-tls-error-quark, pd_tls_error)

/* A host as an address: 4 or 16 bytes in 'out', their count returned, or
 * 0 when 'host' is a name. Brackets around an IPv6 address are allowed. */
static gsize
host_address (const char *host, unsigned char out[16])
{
  char buf[INET6_ADDRSTRLEN + 2];
  gsize len = strlen (host);
  if (len >= 2 && host[0] == '[' && host[len - 1] == ']' && len - 2 < sizeof buf)
    {
      memcpy (buf, host + 1, len - 2);
      buf[len - 2] = '\0';
      host = buf;
    }
  if (inet_pton (AF_INET, host, out) == 1)
    return 4;
  if (inet_pton (AF_INET6, host, out) == 1)
    return 16;
  return 0;
}

void
pd_tls_sni_callback (struct mailstream_ssl_context *ctx, void *host)
{
  unsigned char addr[16];
  const char *name = host;
  /* RFC 6066: "Literal IPv4 and IPv6 addresses are not permitted" in SNI,
   * and some servers end the handshake when they get one. */
  if (name == NULL || *name == '\0' || host_address (name, addr) > 0)
    return;
  /* libetpan declares the name 'char *' but copies it (gnutls_server_name_set). */
  mailstream_ssl_set_server_name (ctx, (char *) name);
}

/* The reasons in 'status', in words, in the order of pd_tls_error_t; the
 * first one's code in *code. (transfer full) */
static char *
describe_status (unsigned int status, pd_tls_error_t *code)
{
  static const struct {
    unsigned int bits;
    pd_tls_error_t code;
    const char *words;
  } reasons[] = {
    { GNUTLS_CERT_SIGNER_NOT_FOUND, PD_TLS_ERROR_UNKNOWN_ISSUER,
      "unknown issuer (not signed by a trusted CA)" },
    { GNUTLS_CERT_SIGNER_NOT_CA, PD_TLS_ERROR_UNKNOWN_ISSUER, "issuer is not a CA" },
    { GNUTLS_CERT_REVOKED, PD_TLS_ERROR_REVOKED, "revoked" },
    { GNUTLS_CERT_EXPIRED, PD_TLS_ERROR_EXPIRED, "expired" },
    { GNUTLS_CERT_NOT_ACTIVATED, PD_TLS_ERROR_NOT_YET_VALID, "not yet valid" },
    { GNUTLS_CERT_UNEXPECTED_OWNER, PD_TLS_ERROR_NAME_MISMATCH,
      "name mismatch (the certificate is for another host)" },
    { GNUTLS_CERT_PURPOSE_MISMATCH, PD_TLS_ERROR_PURPOSE, "not a certificate for TLS servers" },
    { GNUTLS_CERT_SIGNATURE_FAILURE, PD_TLS_ERROR_OTHER, "bad signature" },
    { GNUTLS_CERT_INSECURE_ALGORITHM, PD_TLS_ERROR_OTHER, "insecure algorithm" },
    { GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE, PD_TLS_ERROR_OTHER, "issuer constraints violated" },
    { GNUTLS_CERT_UNKNOWN_CRIT_EXTENSIONS, PD_TLS_ERROR_OTHER, "unknown critical extension" },
  };
  GString *s = g_string_new (NULL);
  bool have_code = false;
  unsigned int left = status;
  for (gsize i = 0; i < G_N_ELEMENTS (reasons); i++)
    if (status & reasons[i].bits)
      {
        if (!have_code)
          *code = reasons[i].code;
        have_code = true;
        g_string_append_printf (s, "%s%s", s->len > 0 ? ", " : "", reasons[i].words);
        left &= ~reasons[i].bits;
      }
  /* GNUTLS_CERT_INVALID only says "one of the above"; anything else is
   * named by GnuTLS itself rather than lost. */
  left &= ~(unsigned int) GNUTLS_CERT_INVALID;
  if (left != 0 || !have_code)
    {
      gnutls_datum_t out = { NULL, 0 };
      if (gnutls_certificate_verification_status_print (left != 0 ? left : status,
                                                        GNUTLS_CRT_X509, &out, 0) == 0)
        {
          g_autofree char *line = pd_text_line ((const char *) out.data);
          g_string_append_printf (s, "%s%s", s->len > 0 ? ", " : "", line);
        }
      gnutls_free (out.data);
      if (!have_code)
        *code = PD_TLS_ERROR_OTHER;
    }
  return g_string_free (s, FALSE);
}

/* The trust list: 'ca_file' or the system store. (transfer full, NULL on error) */
static gnutls_x509_trust_list_t
trust_list (const char *host, const char *ca_file, GError **err)
{
  gnutls_x509_trust_list_t tl = NULL;
  int r = gnutls_x509_trust_list_init (&tl, 0);
  if (r < 0)
    {
      g_set_error (err, PD_TLS_ERROR, PD_TLS_ERROR_TRUST_STORE, "cannot verify %s: %s", host,
                   gnutls_strerror (r));
      return NULL;
    }
  /* Both return the number of CAs added: none is as bad as an error,
   * since an empty store would make every verification fail with a
   * misleading "unknown issuer". */
  if (ca_file == NULL)
    r = gnutls_x509_trust_list_add_system_trust (tl, 0, 0);
  else
    {
      /* CRLs in ca_file are used too, so a revoked certificate can be
       * refused; GnuTLS reads them only when asked to, and fails on a
       * CRL file that holds none, hence the look first. */
      g_autofree char *text = NULL;
      gsize len = 0;
      GError *local = NULL;
      if (!g_file_get_contents (ca_file, &text, &len, &local))
        {
          g_set_error (err, PD_TLS_ERROR, PD_TLS_ERROR_TRUST_STORE, "cannot verify %s: %s", host,
                       local->message);
          g_error_free (local);
          gnutls_x509_trust_list_deinit (tl, 1);
          return NULL;
        }
      gnutls_datum_t pem = { (unsigned char *) text, (unsigned int) len };
      bool crls = strstr (text, "-----BEGIN X509 CRL-----") != NULL;
      r = gnutls_x509_trust_list_add_trust_mem (tl, &pem, crls ? &pem : NULL, GNUTLS_X509_FMT_PEM,
                                                crls ? GNUTLS_TL_VERIFY_CRL : 0, 0);
    }
  if (r <= 0)
    {
      g_set_error (err, PD_TLS_ERROR, PD_TLS_ERROR_TRUST_STORE,
                   "cannot verify %s: %s holds no CA certificate%s%s", host,
                   ca_file != NULL ? ca_file : "the system trust store", r < 0 ? ": " : "",
                   r < 0 ? gnutls_strerror (r) : "");
      gnutls_x509_trust_list_deinit (tl, 1);
      return NULL;
    }
  return tl;
}

bool
pd_tls_verify_stream (struct _mailstream *stream, const char *host, const char *ca_file,
                      GError **err)
{
  g_return_val_if_fail (host != NULL, false);
  /* A stream that never did a handshake has no certificate to check: the
   * caller asked for TLS and did not get it, which must not pass. */
  if (stream == NULL || stream->low == NULL
      || stream->low->driver != mailstream_ssl_driver)
    {
      g_set_error (err, PD_TLS_ERROR, PD_TLS_ERROR_NOT_TLS,
                   "the connection to %s is not encrypted (no TLS)", host);
      return false;
    }
  /* Debian's 1.9.4 may return an uninitialised pointer when the peer sent
   * no certificate (see libraries.md 1.1); the ciphers libetpan offers all
   * need a server certificate, so that case does not get this far, but
   * NULL and an empty chain are still refused, never accepted. */
  carray *chain = mailstream_get_certificate_chain (stream);   /* owned: freed below */
  unsigned int n = chain != NULL ? carray_count (chain) : 0;
  if (n == 0)
    {
      if (chain != NULL)
        mailstream_certificate_chain_free (chain);
      g_set_error (err, PD_TLS_ERROR, PD_TLS_ERROR_NO_CERTIFICATE,
                   "TLS certificate of %s refused: the server presented no certificate", host);
      return false;
    }

  bool ok = false;
  gnutls_x509_trust_list_t tl = NULL;
  gnutls_x509_crt_t *crts = g_new0 (gnutls_x509_crt_t, n);   /* owned, with each element */
  unsigned int imported = 0;
  for (; imported < n; imported++)
    {
      MMAPString *der = carray_get (chain, imported);          /* borrowed from chain */
      gnutls_datum_t d = { (unsigned char *) der->str, (unsigned int) der->len };
      int r = gnutls_x509_crt_init (&crts[imported]);
      if (r >= 0)
        r = gnutls_x509_crt_import (crts[imported], &d, GNUTLS_X509_FMT_DER);
      if (r < 0)
        {
          imported++;   /* crts[imported] was initialised (or is NULL): free it below */
          g_set_error (err, PD_TLS_ERROR, PD_TLS_ERROR_OTHER,
                       "TLS certificate of %s refused: certificate %u of the chain cannot be "
                       "read: %s", host, imported, gnutls_strerror (r));
          goto out;
        }
    }
  if ((tl = trust_list (host, ca_file, err)) == NULL)
    goto out;

  unsigned char addr[16];
  gsize addr_len = host_address (host, addr);
  gnutls_typed_vdata_st vdata[2] = {
    { .type = GNUTLS_DT_KEY_PURPOSE_OID, .data = (void *) GNUTLS_KP_TLS_WWW_SERVER },
    addr_len > 0 ? (gnutls_typed_vdata_st) { .type = GNUTLS_DT_IP_ADDRESS, .data = addr,
                                             .size = (unsigned int) addr_len }
                 : (gnutls_typed_vdata_st) { .type = GNUTLS_DT_DNS_HOSTNAME,
                                             .data = (void *) host },
  };
  unsigned int status = 0;
  int r = gnutls_x509_trust_list_verify_crt2 (tl, crts, n, vdata, 2, 0, &status, NULL);
  if (r < 0)
    {
      g_set_error (err, PD_TLS_ERROR, PD_TLS_ERROR_OTHER,
                   "TLS certificate of %s refused: cannot verify: %s", host, gnutls_strerror (r));
      goto out;
    }
  if (status != 0)
    {
      pd_tls_error_t code = PD_TLS_ERROR_OTHER;
      g_autofree char *why = describe_status (status, &code);
      g_set_error (err, PD_TLS_ERROR, code, "TLS certificate of %s refused: %s", host, why);
      goto out;
    }
  ok = true;

out:
  if (tl != NULL)
    gnutls_x509_trust_list_deinit (tl, 1);
  for (unsigned int i = 0; i < imported; i++)
    if (crts[i] != NULL)
      gnutls_x509_crt_deinit (crts[i]);
  g_free (crts);
  mailstream_certificate_chain_free (chain);
  return ok;
}

bool
pd_tls_plain_allowed (const char *host)
{
  if (host == NULL)
    return false;
  if (g_ascii_strcasecmp (host, "localhost") == 0)
    return true;
  unsigned char addr[16];
  gsize len = host_address (host, addr);
  if (len == 4)
    return addr[0] == 127;
  if (len == 16)
    {
      static const unsigned char loopback6[16] = { [15] = 1 };
      return memcmp (addr, loopback6, 16) == 0;
    }
  return false;
}
