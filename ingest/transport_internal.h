/* transport_internal.h - what transport.c shares with its backends
 * (transport_maildir.c, transport_sendmail.c, transport_smtp.c): the handle and the table of
 * functions each URL scheme provides. Private to ingest/transport*.c. */
#ifndef POSTDESK_TRANSPORT_INTERNAL_H
#define POSTDESK_TRANSPORT_INTERNAL_H

#include "postdesk/transport.h"

typedef struct {
  const char *scheme;   /* borrowed: static, the part of the URL before ':' */
  /* Checks what follows "scheme:" and sets *normalized (transfer full) to
   * the whole URL as it will be opened; NULL for the schemes that take a
   * path, which transport.c checks itself. */
  bool (*check_url) (const char *scheme, const char *rest, char **normalized, GError **err);
  /* Opens with 'path' (the URL after "scheme:", absolute or relative to
   * the current folder) and sets t->state. */
  bool (*open) (pd_transport_t *t, const char *path, const pd_transport_options_t *options,
                GError **err);
  /* Delivers one message whose addresses were already checked; 'raw' has
   * LF line ends, as local delivery and sendmail expect. */
  bool (*send) (pd_transport_t *t, const char *envelope_from, const char *const *recipients,
                const char *message_id, GBytes *raw, GError **err);
  /* Closes the connection a batch of sends shared; NULL when there is none. */
  void (*end_batch) (void *state);
  /* Frees t->state (NULL-safe). */
  void (*close) (void *state);
} pd_transport_backend_t;

struct pd_transport {
  const pd_transport_backend_t *backend;  /* borrowed: static */
  char *url;                              /* owned */
  void *state;                            /* owned by the backend, freed by its close */
};

extern const pd_transport_backend_t pd_transport_maildir;
extern const pd_transport_backend_t pd_transport_sendmail;
extern const pd_transport_backend_t pd_transport_smtp;
extern const pd_transport_backend_t pd_transport_smtps;

/* pd_transport_options_check for smtp:// and smtps:// ('rest' is the URL
 * after "scheme:"); transport_smtp.c. */
bool pd_transport_smtp_check_options (const char *scheme, const char *rest,
                                      const pd_transport_options_t *options, GError **err);

#endif
