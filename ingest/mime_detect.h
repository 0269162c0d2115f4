/* mime_detect.h - what mime.c asks of the detectors that live beside it
 * (mime_bounce.c). Private to the MIME module: it names GMime types, which
 * never leave ingest/mime*.c, so only those files include it. */
#ifndef POSTDESK_MIME_DETECT_H
#define POSTDESK_MIME_DETECT_H

#include <gmime/gmime.h>

#include "postdesk/mime.h"

/* Decides whether 'message' (borrowed) is a delivery-failure report and,
 * when it is, sets msg->bounce, msg->bounce_detail and
 * msg->bounced_message_id. Reads msg's sender, subject, headers and
 * body_text, so it runs after those are filled in. Only the message's own
 * MIME tree counts: an attached message (a customer forwarding a bounce)
 * is never entered. */
void pd_mime_detect_bounce (GMimeMessage *message, pd_message_t *msg);

#endif
