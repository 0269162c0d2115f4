#!/bin/bash
# Delivery-failure reports in the shapes real mail servers and services
# send (tests/corpus/bounces/), and mail that only looks like one. Each
# file says what it is in its own header: X-Expected-Bounce: yes|no and,
# for a bounce, X-Expected-Recipient, X-Expected-Status and
# X-Expected-Original-Id when the report carries them. `parse --json`
# must agree on every one; a customer's mail taken for a bounce would
# never be answered, so the negatives count as much as the positives.
. "$POSTDESK_SRC/tests/e2e/lib.sh"
DIR="$CORPUS/bounces"
new_desk

# expect FILE HEADER: the value of the file's X-Expected-HEADER, or "".
expect () { sed -n "/^\$/q; s/^X-Expected-$2: *//p" "$1" | head -1; }

yes=0; no=0
for f in "$DIR"/*.eml; do
  name=$(basename "$f")
  want=$(expect "$f" Bounce)
  [ "$want" = yes ] || [ "$want" = no ]; ok $? "$name says whether it is a bounce ($want)"
  pd parse --json "$f" > "$T/p.json" 2>/dev/null; ok $? "parse --json $name"
  if [ "$want" = yes ]; then
    yes=$((yes + 1))
    is "$(jq -r .bounce "$T/p.json")" true "$name is a bounce"
    is "$(jq -r '.bounce_detail | type' "$T/p.json")" object "$name has a bounce_detail"
    for pair in Recipient:recipient Status:status Original-Id:original_message_id; do
      w=$(expect "$f" "${pair%%:*}")
      [ -n "$w" ] || continue
      is "$(jq -r ".bounce_detail.${pair#*:}" "$T/p.json")" "$w" "$name: ${pair#*:}"
    done
    # Threading reads bounced_message_id; it is the same as the detail's.
    w=$(expect "$f" Original-Id)
    [ -z "$w" ] || is "$(pd parse "$f" 2>/dev/null | sed -n 's/^Bounced-Message-ID: //p')" "$w" "$name: the text view names the returned message"
  else
    no=$((no + 1))
    is "$(jq -r '[.bounce, .bounce_detail] | @json' "$T/p.json")" '[false,null]' "$name is not a bounce"
  fi
done
[ "$yes" -ge 20 ]; ok $? "at least 20 bounces ($yes)"
[ "$no" -ge 6 ]; ok $? "at least 6 look-alikes that are not bounces ($no)"

# Ingested, a bounce of a stored reply threads into that reply's ticket,
# and a customer's forwarded bounce opens a ticket of its own.
cat > "$T/reply.eml" <<'MAIL'
From: Kim Osei <kim.osei@northwind.example>
To: support@helpdesk.example.com
Subject: Export stops at 80 %
Message-ID: <export-question@northwind.example>
Date: Tue, 12 May 2026 08:00:00 +0000

The export stops at 80 %.
MAIL
pd ingest "$T/reply.eml" >/dev/null; ok $? "ingest a customer's question"
sed 's/^Message-ID: <ticket-2001-3@helpdesk.example.com>/Message-ID: <export-question@northwind.example>/' \
  "$DIR/postfix-report.eml" > "$T/bounce.eml"
pd ingest "$T/bounce.eml" >/dev/null; ok $? "ingest a bounce of it"
is "$(pd tickets list --json | jq length)" 1 "the bounce opens no ticket of its own"
is "$(ticket 1 '[.messages[] | select(.direction == "in") | .kind] | join(",")')" "customer,bounce" "it joins the ticket as a bounce"
pd ingest "$DIR/not-customer-forwarded-bounce-attachment.eml" >/dev/null; ok $? "ingest a forwarded bounce"
is "$(ticket 2 '.messages[0].kind')" customer "a customer's forwarded bounce is the customer's message"
done_testing
