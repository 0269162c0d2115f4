/* transport_internal.h - what transport.c shares with its backends
 * (transport_maildir.c, transport_sendmail.c): the handle and the table of
 * functions each URL scheme provides. Private to ingest/transport*.c. */
#ifndef POSTDESK_TRANSPORT_INTERNAL_H
#define POSTDESK_TRANSPORT_INTERNAL_H

#include "postdesk/transport.h"

typedef struct {
  const char *scheme;   /* borrowed: static, the part of the URL before ':' */
  /* Opens with 'path' (the URL after "scheme:", absolute or relative to
   * the current folder) and sets t->state. */
  bool (*open) (pd_transport_t *t, const char *path, const pd_transport_options_t *options,
                GError **err);
  /* Delivers one message whose addresses were already checked; 'raw' has
   * LF line ends, as local delivery and sendmail expect. */
  bool (*send) (pd_transport_t *t, const char *envelope_from, const char *const *recipients,
                const char *message_id, GBytes *raw, GError **err);
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

#endif
