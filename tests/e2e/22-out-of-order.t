#!/bin/bash
# A reply that arrives before the message it answers (an import out of
# order) still ends up on one ticket with it: the original joins the ticket
# its reply opened, in the same run or a later one. An id someone could
# have guessed does not pull a stranger's mail into another's ticket.
. "$POSTDESK_SRC/tests/e2e/lib.sh"
new_desk

msg () { # msg FROM MESSAGE-ID SUBJECT [IN-REPLY-TO]
  printf 'From: %s\nTo: support@example.com\nSubject: %s\nMessage-ID: <%s>\n' "$1" "$3" "$2"
  [ -n "${4:-}" ] && printf 'In-Reply-To: <%s>\nReferences: <root@acme.test> <%s>\n' "$4" "$4"
  printf '\nText of %s.\n' "$2"
}

# In one run: the files are read in name order, the reply first.
mkdir -p "$T/one"
msg ann@acme.test reply@acme.test "Re: Exports fail" orig@acme.test > "$T/one/1-reply.eml"
msg ann@acme.test orig@acme.test "Exports fail" > "$T/one/2-original.eml"
out=$(pd ingest "$T/one"); ok $? "a reply before its original, in one run"
like "$out" "1 new ticket, 1 threaded" "the original joins the reply's ticket"
is "$(ticket 1 '[.messages[] | select(.direction == "in") | .message_id] | sort | join(",")')" "orig@acme.test,reply@acme.test" \
   "both messages are on ticket 1"

# In two runs, and through References alone.
mkdir -p "$T/two"
printf 'From: bea@acme.test\nTo: support@example.com\nSubject: Re: Printing\nMessage-ID: <r2@acme.test>\nReferences: <p2@acme.test>\n\nStill broken.\n' \
  > "$T/two/reply.eml"
pd ingest "$T/two/reply.eml" >/dev/null
msg bea@acme.test p2@acme.test "Printing" > "$T/two/original.eml"
out=$(pd ingest "$T/two/original.eml"); like "$out" "0 new tickets, 1 threaded" \
  "an original arriving a run later joins the ticket its reply opened, found through References"
id=$(pd tickets list --json | jq -r '.[] | select(.subject == "Printing") | .id')
is "$(ticket "$id" '[.messages[] | select(.direction == "in")] | length')" 2 "the ticket holds both"

# A stranger whose Message-ID a customer's mail happens to name (an id can
# be guessed before it is sent) gets a ticket of their own, linked.
msg eve@gmail.com guess@acme.test "Something else" > "$T/stranger.eml"
printf 'From: cid@acme.test\nTo: support@example.com\nSubject: Re: x\nMessage-ID: <r3@acme.test>\nIn-Reply-To: <guess@acme.test>\n\nhi\n' \
  > "$T/r3.eml"
pd ingest "$T/r3.eml" >/dev/null
out=$(pd ingest "$T/stranger.eml"); like "$out" "1 new ticket" "the stranger's message opens its own ticket"
sid=$(pd tickets list --json | jq -r '.[] | select(.subject == "Something else") | .id')
rid=$(pd tickets list --json | jq -r '.[] | select(.requester.address == "cid@acme.test") | .id')
is "$(ticket "$sid" '.linked_to')" "$rid" "linked to the ticket that named it"
done_testing
