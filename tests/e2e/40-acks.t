#!/bin/bash
# A customer's new ticket is acknowledged at once: deadlines on the right
# calendar, one mail that states status, next steps and timelines, queued
# with the ticket and delivered by `postdesk send`. Machine mail, staff,
# the support address, system addresses and a rule's no-ack get none, and
# no sender gets more than the rate limits allow; each suppression is an
# event with its reason.
. "$POSTDESK_SRC/tests/e2e/lib.sh"
new_desk
db () { sqlite3 "$DESK/var/postdesk.db" "$1"; }
sed -i 's/^system_addresses =.*/system_addresses = alerts@monitor.test/' "$CONF"
msg () { # msg FROM MESSAGE-ID SUBJECT BODY [EXTRA-HEADER]
  printf 'From: %s\nTo: support@example.com\nSubject: %s\nMessage-ID: <%s>\n' "$1" "$3" "$2"
  [ -n "${5:-}" ] && printf '%s\n' "$5"
  printf '\n%s\n' "$4"
}
acks_to () { db "SELECT count(*) FROM outbox WHERE kind = 'ack' AND recipients LIKE '%$1%'"; }
sev1_of () { pd tickets list --json | jq -r --arg s "$1" '.[] | select(.subject == $s) | .id'; }

# ---- the published SLA, on its calendar ---------------------------------------
msg "Dana Ortiz <dana@acme.test>" outage@acme.test "Production is down" "All users get 502 since 15:40." > "$T/outage.eml"
pd ingest --received 2026-03-06T16:00:00-08:00 "$T/outage.eml" >/dev/null; ok $? "a Severity 1 outage arrives on Friday at 16:00 Pacific"
is "$(ticket 1 '.severity')" 1 "it is Severity 1"
is "$(ticket 1 '.plan')" "self-hosted" "of the default plan, self-hosted"
is "$(ticket 1 '.opened_by')" "customer" "opened by a customer"
is "$(ticket 1 '.first_response_due')" "2026-03-11T23:00:00Z" \
   "first response within 24 working hours: Wednesday 11 March 16:00 PDT, across the weekend and the clock change"
is "$(ticket 1 '.resolution_due')" "2026-03-19T23:00:00Z" "resolution within 72 working hours: Thursday 19 March 16:00 PDT"
is "$(db "SELECT count(*) FROM outbox WHERE ticket_id = 1 AND kind = 'ack' AND status = 'queued'")" 1 \
   "one acknowledgement is queued with the ticket"

out=$(pd send --once); ok $? "send delivers it"
file=$(ls "$DESK"/var/outgoing/new/* | head -1)
ok $([ -f "$file" ] && echo 0 || echo 1) "into the desk's outgoing Maildir"
head=$(sed -n '1,/^$/p' "$file")
like "$head" "^From: Example Support <support@example.com>" "From the support name and address"
like "$head" "Reply-To: support@example.com" "Reply-To the support address"
like "$head" "To: dana@acme.test" "to the requester"
like "$head" "Subject: \[SUP-1\] Production is down" "the subject carries the ticket reference"
like "$head" "In-Reply-To: <outage@acme.test>" "In-Reply-To the customer's message"
like "$head" "References: <outage@acme.test>" "and References it"
like "$head" "Auto-Submitted: auto-replied" "marked as an automatic reply (RFC 3834)"
like "$head" "X-Auto-Response-Suppress: All" "and asks Exchange not to answer it"
ack_id=$(printf '%s\n' "$head" | sed -n 's/^Message-I[dD]: <\(.*\)>.*/\1/p')
like "$ack_id" '^pd\.[a-z2-7]{32}@example\.com$' "its Message-ID carries 160 random bits on the support domain"
body=$("$POSTDESK" parse --json "$file" | jq -r .body_text)
like "$body" "received, waiting for an engineer" "the body states the current status"
like "$body" "WHAT HAPPENS NEXT" "the next steps"
like "$body" "First response by: +Wednesday 11 March 2026, 16:00 PDT" "the first-response deadline in the calendar's zone"
like "$body" "Resolution or a workaround by: +Thursday 19 March 2026, 16:00 PDT" "and for Severity 1 the resolution target"
like "$body" 'Production is down' "why it is Severity 1"
like "$body" "keep \[SUP-1\] in the subject" "and how to reply"
pd send --once >/dev/null; is "$(ls "$DESK"/var/outgoing/new | wc -l)" 1 "a second send delivers nothing twice"

# A reply to the acknowledgement threads by In-Reply-To and is not acknowledged again.
msg dana@acme.test reply1@acme.test "Re: [SUP-1] Production is down" "Logs attached." "In-Reply-To: <$ack_id>" > "$T/reply1.eml"
out=$(pd ingest "$T/reply1.eml"); like "$out" "1 threaded" "the customer's reply to the acknowledgement joins SUP-1"
is "$(acks_to dana@acme.test)" 1 "and gets no second acknowledgement"
# An id postdesk never sent does not thread (nothing is guessable to aim at).
msg eve@other.test guess@other.test "Re: hello" "hi" "In-Reply-To: <pd.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com>" > "$T/guess.eml"
out=$(pd ingest "$T/guess.eml"); like "$out" "1 new ticket" "a made-up postdesk Message-ID threads nowhere"

# ---- a raise moves the deadlines and says so ----------------------------------
msg bob@initech.test q1@initech.test "How do I export?" "Where is the export button?" > "$T/q1.eml"
pd ingest --received 2026-03-10T10:00:00-07:00 "$T/q1.eml" >/dev/null
id=$(sev1_of "How do I export?")
is "$(ticket "$id" '.severity')" 2 "a question is Severity 2"
is "$(ticket "$id" '.first_response_due')" "2026-03-17T17:00:00Z" "first response within one business week"
is "$(ticket "$id" '.resolution_due')" "null" "and no resolution target"
msg bob@initech.test q2@initech.test "Re: How do I export?" "Now production is down for everyone." "In-Reply-To: <q1@initech.test>" > "$T/q2.eml"
pd ingest --received 2026-03-10T11:00:00-07:00 "$T/q2.eml" >/dev/null
is "$(ticket "$id" '.severity')" 1 "a customer's reply that production is down raises it"
is "$(ticket "$id" '.first_response_due')" "2026-03-13T17:00:00Z" "the deadlines are recomputed from the ticket's start"
is "$(db "SELECT count(*) FROM events WHERE ticket_id = $id AND type = 'deadlines'")" 1 "with an event"
is "$(acks_to bob@initech.test)" 2 "and a second acknowledgement states the new severity"
is "$(db "SELECT body_text LIKE '%raised ticket SUP-$id from Severity 2 to Severity 1%' FROM outbox
          WHERE recipients LIKE '%bob@initech.test%' ORDER BY id DESC LIMIT 1")" 1 "saying it was raised"

# ---- never acknowledged ----------------------------------------------------------
never () { # never DESCRIPTION FILE OPENED_BY
  out=$(pd ingest "$2"); like "$out" "1 new ticket" "$1 opens a ticket"
  local tid
  tid=$(pd tickets list --json | jq 'max_by(.id) | .id')
  is "$(ticket "$tid" '.opened_by')" "$3" "opened by $3"
  is "$(db "SELECT count(*) FROM outbox WHERE ticket_id = $tid")" 0 "$1 is not acknowledged"
  is "$(ticket "$tid" '.first_response_due')" "null" "and starts no clock"
  like "$(db "SELECT json_extract(detail, '$.reason') FROM events WHERE ticket_id = $tid AND type = 'ack-suppressed'")" \
       "opened by $3 mail" "an event says why"
}
msg ooo@far.test ooo1@far.test "Out of office" "Back Monday." "Auto-Submitted: auto-replied" > "$T/ooo.eml"
never "an auto-reply" "$T/ooo.eml" auto-reply
msg news@vendor.test list1@vendor.test "Our newsletter" "News." "List-Id: <news.vendor.test>" > "$T/list.eml"
never "list mail" "$T/list.eml" bulk
msg eng@example.com eng1@example.com "Heads-up for a customer" "FYI." > "$T/staff.eml"
never "an engineer's mail" "$T/staff.eml" staff
suppressed () { # suppressed DESCRIPTION FILE REASON-PATTERN
  out=$(pd ingest "$2"); like "$out" "1 new ticket" "$1 opens a ticket"
  local tid
  tid=$(pd tickets list --json | jq 'max_by(.id) | .id')
  is "$(db "SELECT count(*) FROM outbox WHERE ticket_id = $tid")" 0 "$1 is not acknowledged"
  like "$(db "SELECT json_extract(detail, '$.reason') FROM events WHERE ticket_id = $tid AND type = 'ack-suppressed'")" \
       "$3" "an event says why"
}
msg support@example.com self1@example.com "Loop?" "x" > "$T/self.eml"
never "mail from the support address (in the staff domain)" "$T/self.eml" staff
msg alerts@monitor.test alert1@monitor.test "Disk 91% on db-3" "x" > "$T/alert.eml"
suppressed "mail from a system address" "$T/alert.eml" "system_addresses"
printf 'rule quiet\n  subject ~ "do not reply"\n  no-ack\n' > "$DESK/rules/quiet.rules"
msg ann@quiet.test quiet1@quiet.test "Report, do not reply" "x" > "$T/quiet.eml"
suppressed "mail a rule marks no-ack" "$T/quiet.eml" "no-ack"
msg old@past.test old1@past.test "An old question" "x" > "$T/old.eml"
out=$(pd ingest --no-ack "$T/old.eml"); like "$out" "1 new ticket" "ingest --no-ack opens the ticket"
tid=$(pd tickets list --json | jq 'max_by(.id) | .id')
is "$(db "SELECT count(*) FROM outbox WHERE ticket_id = $tid")" 0 "without acknowledging it"
like "$(db "SELECT json_extract(detail, '$.reason') FROM events WHERE ticket_id = $tid AND type = 'ack-suppressed'")" \
     "no-ack" "and says so in an event"
is "$(ticket "$tid" '.first_response_due | type')" "string" "its clock still runs"

# A robot without auto-reply marks opening 50 conversations in an hour.
mkdir -p "$T/robot"
for i in $(seq 1 50); do msg robot@noisy.test "r$i@noisy.test" "Alert $i" "x" > "$T/robot/$i.eml"; done
out=$(pd ingest "$T/robot"); like "$out" "50 new tickets" "a robot opens 50 tickets"
is "$(acks_to robot@noisy.test)" 3 "and gets 3 acknowledgements: ack_limit_per_hour"
is "$(db "SELECT count(*) FROM events e JOIN tickets t ON t.id = e.ticket_id
          WHERE t.requester_address = 'robot@noisy.test' AND e.type = 'ack-suppressed'
          AND json_extract(e.detail, '$.reason') LIKE '%ack_limit_per_hour%'")" 47 "the other 47 record the limit"

# A customer writing into a ticket no customer opened starts its clock.
msg news@vendor.test list2@vendor.test "Re: Our newsletter" "Please remove me, and also: how do I export?" "In-Reply-To: <list1@vendor.test>" \
  > "$T/list2.eml"
pd ingest "$T/list2.eml" >/dev/null
tid=$(pd tickets list --json | jq -r '.[] | select(.subject == "Our newsletter") | .id')
is "$(ticket "$tid" '.first_response_due | type')" "string" "a customer writing into a list-mail ticket starts its clock"
is "$(db "SELECT count(*) FROM outbox WHERE ticket_id = $tid AND kind = 'ack'")" 1 "and is acknowledged"
done_testing
