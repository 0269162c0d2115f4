#!/bin/bash
# Automatic replies that do not carry RFC 3834's headers (Outlook's
# "Automatic reply:" and its translations, vacation programs, Exchange's
# inbox-rule headers, a null Return-Path), recognised by the shipped
# rules/auto-reply.rules, and customers who only mention an out-of-office.
# Each file in tests/corpus/auto-replies/ says what it is in its header
# X-Expected-Auto-Reply: yes|no. Both directions matter: an auto-reply
# taken for a customer half-starts a mail loop, a customer taken for an
# auto-reply goes unanswered.
. "$POSTDESK_SRC/tests/e2e/lib.sh"
DIR="$CORPUS/auto-replies"
new_desk

expect () { sed -n "/^\$/q; s/^X-Expected-$2: *//p" "$1" | head -1; }

yes=0; no=0
for f in "$DIR"/*.eml; do
  name=$(basename "$f")
  want=$(expect "$f" Auto-Reply)
  case $want in yes) yes=$((yes + 1)); flag=true ;; no) no=$((no + 1)); flag=false ;; *) flag=missing ;; esac
  [ "$flag" != missing ]; ok $? "$name says whether it is an auto-reply"
  is "$(pd parse --json "$f" 2>/dev/null | jq -r .auto_reply)" "$flag" "$name: auto_reply is $flag"
done
[ "$yes" -ge 12 ]; ok $? "at least 12 auto-replies ($yes)"
[ "$no" -ge 6 ]; ok $? "at least 6 customer mails that mention one ($no)"

# Without a configuration parse has no rules: only the fixed headers count,
# and it says nothing about it.
f="$DIR/outlook-abwesenheitsnotiz.eml"
(cd "$T" && env -u POSTDESK_CONFIG "$POSTDESK" parse --json "$f" > "$T/p.json" 2> "$T/err"); ok $? "parse without a configuration"
is "$(jq -r .auto_reply "$T/p.json")" false "without the rules a subject alone is not enough"
is "$(cat "$T/err")" "" "and nothing is said about the missing configuration"
is "$(cd "$T" && env -u POSTDESK_CONFIG "$POSTDESK" parse --json "$DIR/precedence-auto-reply.eml" | jq -r .auto_reply)" true \
   "the RFC 3834 headers count without rules"

# An admin's own rule extends the list, for parse and for ingest alike.
cat > "$DESK/rules/50-local.rules" <<'RULES'
rule helpdesk-robot
  subject ~ /^\s*\[ticket received\]/
  auto-reply
RULES
printf 'From: Robot <robot@vendor.example>\nTo: support@helpdesk.example.com\nSubject: [Ticket received] Your case 77\nMessage-ID: <robot-77@vendor.example>\nDate: Fri, 15 May 2026 10:00:00 +0000\n\nWe got your mail.\n' > "$T/robot.eml"
is "$(pd parse --json "$T/robot.eml" | jq -r .auto_reply)" true "an admin's rule with the auto-reply action"
pd parse "$T/robot.eml" | grep -q '^Flags: auto-reply$'; ok $? "the text view shows the flag"

# A broken rules folder is reported, and parse goes on without it.
echo "rule broken" > "$DESK/rules/60-broken.rules"
pd parse --json "$f" > "$T/p.json" 2> "$T/err"; ok $? "parse with a broken rule file still parses"
like "$(cat "$T/err")" "configured rules are not applied" "and says the rules are not applied"
like "$(cat "$T/err")" "60-broken.rules:1" "naming the problem"
rm "$DESK/rules/60-broken.rules"

# Ingest: the rules' verdict is the message's kind; a customer who only
# mentions an out-of-office stays a customer.
pd ingest "$DIR/outlook-respuesta-automatica.eml" "$DIR/not-customer-complains-about-ooo.eml" "$T/robot.eml" >/dev/null
ok $? "ingest two auto-replies and a customer"
kinds=$(pd tickets list --json | jq -r '.[].id' | while read -r id; do ticket "$id" '.messages[0] | "\(.subject)=\(.kind)"'; done | sort)
like "$kinds" "Respuesta automática: \\[SUP-3006\\] Factura=auto-reply" "an auto-reply found by a subject rule is stored as one"
like "$kinds" "\\[Ticket received\\] Your case 77=auto-reply" "and one found by the admin's rule"
like "$kinds" "Our out of office replies keep opening tickets=customer" "a customer who mentions them is a customer"
done_testing
