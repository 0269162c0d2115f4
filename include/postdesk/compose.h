/* compose.h - one outgoing message, from plain strings to the bytes a
 * transport sends.
 *
 * Only ingest/compose.c (with the MIME module) includes GMime. The result
 * is RFC 5322 with CRLF line ends and 7-bit clean: a text/plain body in
 * UTF-8, quoted-printable or base64 as GMime finds shorter, and RFC 2047
 * encoded words in headers that need them.
 */
#ifndef POSTDESK_COMPOSE_H
#define POSTDESK_COMPOSE_H

#include "postdesk/common.h"

/* The longest address postdesk writes (RFC 5321's path limit less <>). */
#define PD_COMPOSE_MAX_ADDRESS 254

/* Random bytes in a Message-ID: 160 bits, far beyond guessing. */
#define PD_COMPOSE_ID_RANDOM_BYTES 20

typedef struct {
  const char *from_name;        /* borrowed; NULL or "" for none */
  const char *from_address;     /* borrowed; required */
  const char *reply_to;         /* borrowed address; NULL for no Reply-To */
  const char *const *to;        /* borrowed, NULL-terminated addresses; at least one */
  const char *subject;          /* borrowed, UTF-8, one line; required */
  const GPtrArray *headers;     /* borrowed, of pd_template_header_t* (template.h):
                                   further headers a template may set; NULL for none */
  const char *body;             /* borrowed, UTF-8 text with "\n" line ends */
  const char *in_reply_to;      /* borrowed: a Message-ID without <>; NULL for none */
  const char *const *references;/* borrowed, NULL-terminated ids without <>, oldest
                                   first; NULL for none */
  const char *id_domain;        /* borrowed: the domain of the new Message-ID (the
                                   support address's) */
  pd_time_t date;               /* the Date header; 0 for now */
  bool auto_reply;              /* an automatic reply (an acknowledgement): adds
                                   "Auto-Submitted: auto-replied" (RFC 3834) and
                                   "X-Auto-Response-Suppress: All", so that other
                                   robots neither answer it nor loop */
} pd_compose_t;

/* Builds the message. *raw (transfer full) holds its bytes and
 * *message_id (transfer full) its new Message-ID without <>: at least 128
 * bits from the system's CSPRNG, in base32, "@" the id domain, since
 * threading trusts a Message-ID match and an id that could be guessed would
 * let anyone write into a stranger's ticket.
 *
 * Refused with PD_ERROR_REJECTED, naming the field: an address that is
 * empty, longer than PD_COMPOSE_MAX_ADDRESS, without exactly one '@' or
 * with a space, control character or any of < > ( ) , ; : " [ ] \ (which
 * could add a recipient or a header); an id or domain with a space,
 * control character, < or >; a subject that is empty or holds a control
 * character; an extra header that template.h does not allow or whose value
 * holds a control character. On failure both out-parameters are NULL. */
bool pd_compose_message (const pd_compose_t *in, GBytes **raw, char **message_id, GError **err);

/* A new Message-ID (without <>) on 'domain' (transfer full), or NULL with
 * 'err' set when the system's random generator fails. */
char *pd_compose_message_id (const char *domain, GError **err);

#endif
