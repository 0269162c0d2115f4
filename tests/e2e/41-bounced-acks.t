#!/bin/bash
# A bounce that returns one of postdesk's own messages marks its outbox
# row bounced and tells the ticket. A permanent failure (5.x.x) suppresses
# the address: no acknowledgement is queued for it and nothing queued for
# it is sent, each time with an event that says why, until
# `postdesk suppressed remove` lifts it. A temporary failure (4.x.x) is
# recorded but suppresses nothing. A bounce itself is never acknowledged
# and opens no ticket of its own.
. "$POSTDESK_SRC/tests/e2e/lib.sh"
new_desk
db () { sqlite3 "$DESK/var/postdesk.db" "$1"; }
msg () { # msg FROM MESSAGE-ID SUBJECT BODY
  printf 'From: %s\nTo: support@example.com\nSubject: %s\nMessage-ID: <%s>\n\n%s\n' "$1" "$3" "$2" "$4"
}
# dsn RECIPIENT STATUS DIAGNOSTIC RETURNED-MESSAGE-ID MESSAGE-ID: a Postfix
# delivery status notification returning postdesk's message by its headers.
dsn () {
  cat <<MAIL
Return-Path: <>
From: MAILER-DAEMON@mx.acme.test (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: support@example.com
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B.1/mx.acme.test"
Message-Id: <$5>

This is a MIME-encapsulated message.

--B.1/mx.acme.test
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.acme.test.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<$1>: $3

--B.1/mx.acme.test
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.acme.test
X-Postfix-Queue-ID: 4F2A19C0B1
Arrival-Date: Tue, 12 May 2026 08:14:08 +0000 (UTC)

Final-Recipient: rfc822; $1
Original-Recipient: rfc822;$1
Action: failed
Status: $2
Remote-MTA: dns; mail.acme.test
Diagnostic-Code: smtp; $3

--B.1/mx.acme.test
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Example Support <support@example.com>
To: $1
Subject: [SUP-1] We received your request
Message-ID: <$4>

--B.1/mx.acme.test--
MAIL
}
# sent_ack TICKET: the Message-ID of the acknowledgement of TICKET, read
# from the file `postdesk send` delivered.
sent_ack () {
  local id f
  id=$(db "SELECT message_id FROM outbox WHERE ticket_id = $1 AND kind = 'ack'")
  f=$(grep -l "^Message-I[dD]: <$id>" "$DESK"/var/outgoing/new/* | head -1)
  sed -n '1,/^$/s/^Message-I[dD]: <\(.*\)>.*/\1/p' "$f"
}
acks_to () { db "SELECT count(*) FROM outbox WHERE kind = 'ack' AND recipients LIKE '%\"$1\"%'"; }
last_ticket () { pd tickets list --json | jq 'max_by(.id) | .id'; }
event () { db "SELECT detail FROM events WHERE ticket_id = $1 AND type = '$2' ORDER BY id DESC LIMIT 1"; }

# ---- a permanent bounce of an acknowledgement ------------------------------------
msg "Carol Diaz <carol@acme.test>" q1@acme.test "Cannot log in" "The login page spins forever." > "$T/q1.eml"
pd ingest "$T/q1.eml" >/dev/null; ok $? "Carol's question opens SUP-1"
pd send --once >/dev/null; ok $? "its acknowledgement is sent to the desk's Maildir"
ack=$(sent_ack 1)
like "$ack" '^pd\..+@example\.com$' "the delivered file carries the acknowledgement's Message-ID"

dsn carol@acme.test 5.1.1 "550 5.1.1 <carol@acme.test>: Recipient address rejected: User unknown" \
    "$ack" bounce1@mx.acme.test > "$T/bounce1.eml"
out=$(pd ingest "$T/bounce1.eml"); ok $? "the bounce is ingested"
like "$out" "1 threaded" "it joins SUP-1 by the returned Message-ID"
is "$(pd tickets list --json | jq length)" 1 "and opens no ticket of its own"
is "$(db "SELECT count(*) FROM outbox")" 1 "a bounce is not acknowledged"
is "$(ticket 1 '.first_response_at // "none"')" "none" "and is no first response"

row=$(pd outbox list --json | jq -c '.[0]')
is "$(printf '%s' "$row" | jq -r .status)" bounced "the acknowledgement's outbox row is bounced"
is "$(printf '%s' "$row" | jq -r .bounce_recipient)" carol@acme.test "with the failed recipient"
is "$(printf '%s' "$row" | jq -r .bounce_status)" 5.1.1 "the status"
like "$(printf '%s' "$row" | jq -r .bounce_diagnostic)" "User unknown" "and the diagnostic"
like "$(printf '%s' "$row" | jq -r .bounced_at)" "Z$" "and when it bounced"
like "$(pd outbox list)" "ack +bounced" "outbox list shows it bounced"

detail=$(event 1 bounced)
is "$(printf '%s' "$detail" | jq -r '[.recipient, .status, .outbox_id, .permanent, .suppressed] | @tsv')" \
   "$(printf 'carol@acme.test\t5.1.1\t1\ttrue\tcarol@acme.test')" "SUP-1 has a 'bounced' event with the recipient, status and row"
like "$(printf '%s' "$detail" | jq -r .diagnostic)" "User unknown" "and the diagnostic"

list=$(pd suppressed list --json)
is "$(printf '%s' "$list" | jq -r '.[] | [.address, .reason, .status, .ticket, .outbox_id] | @tsv')" \
   "$(printf 'carol@acme.test\tbounce\t5.1.1\t1\t1')" "Carol's address is suppressed after the 5.1.1"
like "$(printf '%s' "$list" | jq -r '.[0].since')" "Z$" "since the bounce arrived"
like "$(pd suppressed list)" "carol@acme.test +bounce .* SUP-1 +5\.1\.1 .*User unknown" "suppressed list shows it as text"

# ---- a suppressed address gets no acknowledgement ----------------------------------
msg "Carol Diaz <carol@acme.test>" q2@acme.test "Another question" "Where are the invoices?" > "$T/q2.eml"
out=$(pd ingest "$T/q2.eml"); like "$out" "1 new ticket" "Carol's next question still opens a ticket"
tid=$(last_ticket)
is "$(acks_to carol@acme.test)" 1 "but no acknowledgement is queued for it"
like "$(event "$tid" ack-suppressed | jq -r .reason)" \
     "^the address is suppressed after a bounce: 5\.1\.1 .*User unknown" "an event says the address is suppressed, and why"
msg "Carol Diaz <carol@acme.test>" q3@acme.test "Re: [SUP-1] Cannot log in" "Still broken." > "$T/q3.eml"
like "$(pd ingest "$T/q3.eml")" "1 threaded" "her reply threads into SUP-1 as usual"

# ---- nothing queued for a suppressed address is sent --------------------------------
msg dave@initech.test d1@initech.test "Export fails" "x" > "$T/d1.eml"
pd ingest "$T/d1.eml" >/dev/null; d1=$(last_ticket)
pd send --once >/dev/null; d1_ack=$(sent_ack "$d1")
msg dave@initech.test d2@initech.test "Import fails too" "y" > "$T/d2.eml"
pd ingest "$T/d2.eml" >/dev/null; d2=$(last_ticket)
is "$(db "SELECT status FROM outbox WHERE ticket_id = $d2")" queued "Dave's second acknowledgement waits in the outbox"
dsn dave@initech.test 5.1.1 "550 5.1.1 No such user" "$d1_ack" bounce2@mx.acme.test > "$T/bounce2.eml"
pd ingest "$T/bounce2.eml" >/dev/null
before=$(ls "$DESK"/var/outgoing/new | wc -l)
out=$(pd send --once 2>"$T/send.err"); rc=$?
is "$out" "sent 0, retry later 0, failed 1" "the sender does not send it once the first one bounced"
is "$rc" 1 "and --once says something was not delivered"
is "$(ls "$DESK"/var/outgoing/new | wc -l)" "$before" "nothing is written"
is "$(db "SELECT status || ' ' || last_error || ' ' || attempts FROM outbox WHERE ticket_id = $d2")" "failed suppressed 0" \
   "the row is failed with last_error 'suppressed', without a delivery attempt"
like "$(event "$d2" delivery-suppressed | jq -r .reason)" "dave@initech.test: the address is suppressed after a bounce: 5\.1\.1" \
     "the ticket has an event saying why it was not sent"
like "$(cat "$T/send.err")" "not sent: dave@initech.test" "and the sender logs it"

# ---- a temporary failure is recorded, not suppressed -----------------------------------
msg erin@globex.test e1@globex.test "Slow dashboard" "z" > "$T/e1.eml"
pd ingest "$T/e1.eml" >/dev/null; e1=$(last_ticket)
pd send --once >/dev/null; e1_ack=$(sent_ack "$e1")
dsn erin@globex.test 4.2.2 "452 4.2.2 Mailbox full" "$e1_ack" bounce3@mx.acme.test > "$T/bounce3.eml"
pd ingest "$T/bounce3.eml" >/dev/null
is "$(db "SELECT status || ' ' || bounce_status FROM outbox WHERE ticket_id = $e1")" "bounced 4.2.2" "a 4.2.2 bounce marks the row bounced"
is "$(event "$e1" bounced | jq -r '[.permanent, (.suppressed // "none")] | @tsv')" "$(printf 'false\tnone')" \
   "its event says the failure was temporary"
is "$(pd suppressed list --json | jq -r '[.[].address] | join(" ")')" "carol@acme.test dave@initech.test" \
   "and the address is not suppressed"
msg erin@globex.test e2@globex.test "Another slow page" "w" > "$T/e2.eml"
pd ingest "$T/e2.eml" >/dev/null
is "$(acks_to erin@globex.test)" 2 "Erin's next question is acknowledged"

# ---- lifting a suppression ---------------------------------------------------------------
out=$(pd suppressed remove CAROL@acme.test); ok $? "suppressed remove lifts Carol's suppression, in any case"
is "$out" "CAROL@acme.test is no longer suppressed" "and says so"
is "$(pd suppressed list --json | jq -r '[.[].address] | join(" ")')" "dave@initech.test" "she is off the list"
is "$(db "SELECT action || ' ' || json_extract(detail, '$.address') || ' ' || json_extract(detail, '$.status')
          FROM journal ORDER BY id DESC LIMIT 1")" "suppressed-remove carol@acme.test 5.1.1" "the journal keeps what was lifted"
is "$(event 1 unsuppressed | jq -r .address)" carol@acme.test "and SUP-1 has an 'unsuppressed' event"
msg "Carol Diaz <carol@acme.test>" q4@acme.test "A new question" "v" > "$T/q4.eml"
pd ingest "$T/q4.eml" >/dev/null
is "$(acks_to carol@acme.test)" 2 "her next message is acknowledged again"
pd suppressed remove carol@acme.test 2>"$T/err"; is "$?" 1 "lifting an address that is not suppressed fails"
like "$(cat "$T/err")" "carol@acme.test is not suppressed" "and says so"
pd suppressed remove >/dev/null 2>&1; is "$?" 2 "suppressed remove without an address is a usage error"

# ---- a bounce of mail postdesk never sent -----------------------------------------------
dsn frank@acme.test 5.1.1 "550 5.1.1 unknown" "someone-else@acme.test" bounce4@mx.acme.test > "$T/bounce4.eml"
out=$(pd ingest "$T/bounce4.eml"); like "$out" "1 new ticket" "a bounce of mail postdesk did not send opens a ticket for an engineer"
is "$(db "SELECT count(*) FROM outbox WHERE ticket_id = $(last_ticket)")" 0 "it is not acknowledged"
is "$(pd suppressed list --json | jq length)" 1 "and suppresses nobody"
done_testing
