/* outbox.h - what postdesk writes to customers. For now the
 * acknowledgement: whether a message gets one, the template's values for a
 * ticket, and the finished mail queued in the outbox in the same
 * transaction as the ticket change that caused it, so that a crash never
 * leaves a ticket without its acknowledgement or an acknowledgement
 * without its ticket. `postdesk send` delivers the outbox. */
#ifndef POSTDESK_OUTBOX_H
#define POSTDESK_OUTBOX_H

#include "postdesk/config.h"
#include "postdesk/rules.h"
#include "postdesk/store.h"
#include "postdesk/template.h"

/* Why an acknowledgement is sent. */
typedef enum {
  PD_ACK_NEW,       /* a customer's message opened the ticket (or started its clock) */
  PD_ACK_RAISED,    /* a customer's reply raised the severity */
  PD_ACK_REOPENED,  /* a customer's reply reopened the ticket */
} pd_ack_why_t;

/* The values templates see for 'ticket' (borrowed), on the calendar of its
 * requester's SLA in 'cfg'. 'why' and 'previous_severity' fill raised,
 * reopened and previous_severity; 'cls' (may be NULL) severity_reason.
 * (transfer full) */
pd_tvars_t *pd_outbox_ticket_vars (const pd_config_t *cfg, const pd_ticket_t *ticket,
                                   const pd_classification_t *cls, pd_ack_why_t why,
                                   int previous_severity);

/* Everything an acknowledgement needs; all borrowed. */
typedef struct {
  const pd_config_t *cfg;
  pd_store_t *store;                /* inside the caller's transaction */
  const pd_templates_t *templates;  /* the set in force */
  const pd_ticket_t *ticket;        /* as stored, after the change */
  const pd_message_t *msg;          /* the customer's message it answers */
  const pd_classification_t *cls;   /* the rules' verdict on msg; may be NULL */
  pd_ack_why_t why;
  int previous_severity;            /* for PD_ACK_RAISED */
  const char *suppress;             /* a reason decided by the caller (ingest
                                       --no-ack, mail older than ack_max_age);
                                       NULL for none */
  pd_time_t now;                    /* for the rate limits and the Date */
} pd_ack_t;

/* Acknowledges ack->msg, or records why not. Never acknowledged: a caller's
 * reason, a rule's no-ack, mail from the support address or a system
 * address, a requester whose address is suppressed after a bounce
 * (bounces.h), and a sender who already got ack_limit_per_hour or
 * ack_limit_per_day acknowledgements (so that two auto-responders can never
 * loop). Either way an event on the ticket says what happened: "ack-queued"
 * with the Message-ID, or "ack-suppressed" with the reason. *queued (may be
 * NULL) says which. Fails only on a store error or a template that cannot
 * be rendered for this ticket. */
bool pd_outbox_acknowledge (const pd_ack_t *ack, bool *queued, GError **err);

#endif
