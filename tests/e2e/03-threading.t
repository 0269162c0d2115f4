#!/bin/bash
# A support conversation in every shape threading must recognise, through
# the real binary and database: In-Reply-To only, References only, token
# only, plus-address only, a stranger's token, an auto-reply, an engineer,
# a bounce of our mail, list mail, no Message-ID, a reused Message-ID; then
# the whole lot again, which must change nothing.
. "$POSTDESK_SRC/tests/e2e/lib.sh"
new_desk

out=$(pd ingest "$CORPUS/thread"); ok $? "ingest of the conversation exits 0"
is "$out" "ingested 13 messages from $CORPUS/thread: 6 new tickets, 7 threaded, 0 duplicates, 0 quarantined" "summary line"

is "$(pd tickets list --json | jq length)" 6 "six tickets"
# Inbound mail only; the acknowledgement postdesk sent is an outbound row.
inbound () { ticket "$1" "[.messages[] | select(.direction == \"in\")] | $2"; }
is "$(inbound 1 'length')" 7 "SUP-1 holds the opening message and six that joined it"
is "$(inbound 1 '[.[].message_id] | join(" ")')" \
   "t1@acme.com t2@acme.com t3@acme.com t4@acme.com t5@acme.com p1@example.com bounce-1@mx.acme.com" \
   "In-Reply-To, References, token, plus-address, engineer and bounce all joined SUP-1"
is "$(ticket 1 '.subject')" "VPN gateway rejects all logins" "the ticket keeps the opening subject"
is "$(ticket 1 '.ref')" "SUP-1" "ref is prefix-id"
is "$(ticket 1 '.status')" "new" "a new ticket is new"
is "$(ticket 1 '.severity')" "2" "severity defaults to 2"
is "$(ticket 1 '.requester.address')" "dana@acme.com" "the requester is the first sender"
is "$(ticket 1 '.requester.name')" "Dana Ortiz" "with their name"
is "$(inbound 1 '[.[].kind] | join(",")')" "customer,customer,customer,customer,customer,staff,bounce" \
   "message kinds: customers, the engineer, the bounce"
is "$(ticket 1 '[.messages[] | select(.direction == "out") | .kind] | join(",")')" "ack" \
   "and one outbound message: the acknowledgement of the customer's new ticket"
like "$(ticket 1 '.created_at')" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' "times are ISO 8601 UTC with Z"

is "$(ticket 2 '.linked_to')" "1" "a stranger's token opens a new ticket linked to SUP-1"
is "$(ticket 2 '.requester.address')" "sam.hobbyist@gmail.com" "owned by the stranger"
is "$(ticket 2 '.subject')" "same here" "token and Re: are stripped from the subject"

is "$(ticket 3 '.subject')" "Export für Berichte fehlt" "an encoded-word subject is decoded"
is "$(inbound 3 '[.[].kind] | join(",")')" "customer,auto-reply" "the out-of-office joins as an auto-reply"

is "$(ticket 4 '.requester.address')" "news@vendor.test" "list mail is kept as a ticket of its own"
is "$(ticket 4 '.opened_by')" "bulk" "opened by bulk mail, which starts no clock"
is "$(ticket 1 '.opened_by')" "customer" "a customer's question opens as customer"
like "$(ticket 5 '.messages[0].message_id')" '^[0-9a-f]{32}@synthetic\.postdesk\.invalid$' \
   "mail without a Message-ID gets a synthetic one"
is "$(ticket 6 '.messages[0].message_id')" 't1@acme.com' \
   "different mail reusing a Message-ID is kept, under the id it carries"
is "$(ticket 6 '.requester.address')" "printer@initrode.test" "as a ticket of its own"

before=$(pd tickets list --json | jq -c '[.[] | {id, message_count, updated_at}]')
out=$(pd ingest "$CORPUS/thread"); ok $? "ingesting the same mail again exits 0"
is "$out" "ingested 13 messages from $CORPUS/thread: 0 new tickets, 0 threaded, 13 duplicates, 0 quarantined" "every message is a duplicate"
is "$(pd tickets list --json | jq -c '[.[] | {id, message_count, updated_at}]')" "$before" "and nothing changed"

# The same message with CRLF line endings, as IMAP delivers it.
sed 's/$/\r/' "$CORPUS/thread/12-no-message-id.eml" > "$T/crlf.eml"
out=$(pd ingest "$T/crlf.eml"); ok $? "CRLF copy ingests"
is "$out" "ingested 1 message from $T/crlf.eml: 0 new tickets, 0 threaded, 1 duplicate, 0 quarantined" \
   "the synthetic id does not depend on line endings"

out=$(pd tickets list --status new); ok $? "tickets list prints a table"
like "$out" "SUP-3 +new +2 " "with ref, status and severity"
is "$(pd tickets list --status solved --json | jq length)" 0 "--status filters"
out=$(pd tickets show SUP-1); ok $? "tickets show prints the ticket"
like "$out" "Since 08:40 every login through the VPN gateway fails" "with the message bodies"
done_testing
