#!/bin/bash
# Ingest classifies every new ticket with the rules in force and records
# why; a customer's Severity 1 reply raises a ticket, nothing lowers one; a
# broken rule set stops ingest before anything is stored; a long ingest
# takes edited rules on SIGHUP, and keeps the old ones when the edit is bad.
. "$POSTDESK_SRC/tests/e2e/lib.sh"
new_desk
db () { sqlite3 "$DESK/var/postdesk.db" "$1"; }
msg () { # msg FROM MESSAGE-ID SUBJECT BODY [IN-REPLY-TO]
  printf 'From: %s\nTo: support@example.com\nSubject: %s\nMessage-ID: <%s>\n' "$1" "$3" "$2"
  [ -n "${5:-}" ] && printf 'In-Reply-To: <%s>\n' "$5"
  printf '\n%s\n' "$4"
}

pd ingest "$POSTDESK_SRC/examples/mail" >/dev/null 2>&1
is "$(ticket 1 '.severity')" 1 "the production outage of the demo opens as Severity 1"
is "$(ticket 1 '.severity_rules | index("production-down") != null')" "true" "naming the rule that set it"
is "$(ticket 1 '.tags | index("outage") != null')" "true" "with the rule's tag"
is "$(ticket 2 '.severity')" 2 "a German licence question stays Severity 2"
is "$(db "SELECT json_extract(detail, '$.severity_rule') FROM events WHERE ticket_id = 1 AND type = 'classified'")" \
   "production-down" "the classified event records the rule"
like "$(db "SELECT json_extract(detail, '$.rules[0].match') FROM events WHERE ticket_id = 1 AND type = 'classified'")" \
   "[Pp]roduction is down" "and the text it matched"
is "$(db "SELECT count(*) FROM events WHERE ticket_id = 2 AND type = 'classified'
          AND json_extract(detail, '$.severity') = 2 AND json_array_length(detail, '$.rules') = 0")" 1 \
   "a ticket no rule raised records that too"

# Replies: raised by a customer, never lowered, not raised by staff.
msg bob@initech.test q1@initech.test "Question about reports" "How do I export a report?" > "$T/q1.eml"
pd ingest "$T/q1.eml" >/dev/null
id=$(pd tickets list --json | jq -r '.[] | select(.subject == "Question about reports") | .id')
is "$(ticket "$id" '.severity')" 2 "a question opens as Severity 2"
msg eng@example.com e1@example.com "Re: Question about reports" "Is production down for you, or only the export?" q1@initech.test \
  > "$T/e1.eml"
pd ingest "$T/e1.eml" >/dev/null
is "$(ticket "$id" '.severity')" 2 "an engineer's reply that mentions an outage does not raise it"
msg bob@initech.test q2@initech.test "Re: Question about reports" "Now our production is down completely." q1@initech.test \
  > "$T/q2.eml"
pd ingest "$T/q2.eml" >/dev/null
is "$(ticket "$id" '.severity')" 1 "the customer's reply that production is down raises it to Severity 1"
is "$(db "SELECT json_extract(detail, '$.severity_rule') || ' ' || json_extract(detail, '$.message_id')
          FROM events WHERE ticket_id = $id AND type = 'severity'")" "production-down q2@initech.test" \
   "with an event naming the rule and the message"
msg bob@initech.test q3@initech.test "Re: Question about reports" "Thanks, it is back." q1@initech.test > "$T/q3.eml"
pd ingest "$T/q3.eml" >/dev/null
is "$(ticket "$id" '.severity')" 1 "a calm reply does not lower it"

# A rule set with a problem: nothing is ingested, every problem is named.
cp "$DESK/rules/severity.rules" "$T/good.rules"
printf 'rule broken\n  subject ~ /(unclosed/\n  severity 3\n' > "$DESK/rules/zz-broken.rules"
before=$(db "SELECT count(*) FROM messages")
msg ann@acme.test new1@acme.test "Hello" "hello" > "$T/new1.eml"
pd ingest "$T/new1.eml" >/dev/null 2>"$T/err"; is "$?" 2 "ingest with a broken rule file exits 2"
like "$(cat "$T/err")" "zz-broken.rules:2:[0-9]+: .*missing closing parenthesis" "naming file, line and column of the pattern"
like "$(cat "$T/err")" "zz-broken.rules:3:[0-9]+: " "and the bad severity on line 3"
is "$(db "SELECT count(*) FROM messages")" "$before" "and storing nothing"
rm "$DESK/rules/zz-broken.rules"

# A catastrophic pattern is cut off: the message is still classified by the
# other rules, and nothing hangs.
printf 'rule catastrophic\n  body ~ /^(\\w+\\s?)+$/\n  severity 1\n' > "$DESK/rules/zz-redos.rules"
{ msg ann@acme.test redos@acme.test "Production is down" "$(head -c 3000 /dev/zero | tr '\0' a)!"; } > "$T/redos.eml"
start=$(date +%s)
pd ingest "$T/redos.eml" >/dev/null 2>"$T/err"; ok $? "a message that makes one rule backtrack is ingested"
id=$(pd tickets list --json | jq -r '.[] | select(.subject == "Production is down") | .id')
is "$(ticket "$id" '.severity_rules | join(",")')" "production-down" "classified by the other rules"
like "$(cat "$T/err")" "catastrophic" "the cut-off is logged with the rule's name"
rm "$DESK/rules/zz-redos.rules"

# SIGHUP during a long ingest: an mbox on a pipe, read message by message.
mkfifo "$T/pipe"
"$POSTDESK" --config "$CONF" ingest - < "$T/pipe" >"$T/out" 2>"$T/err" &
pid=$!
exec 3>"$T/pipe"
from_line () { printf '\nFrom %s Mon Mar  9 10:00:00 2026\n' "$1"; }
{ printf 'From a@zoo.test Mon Mar  9 10:00:00 2026\n'; msg a@zoo.test z1@zoo.test "zebra crossing" "first"
  from_line a@zoo.test; } >&3
sleep 1   # the first message is read and classified with the rules as they were
printf 'rule zebra\n  subject ~ zebra\n  severity 1\n' > "$DESK/rules/zebra.rules"
kill -HUP "$pid"; sleep 0.5
{ msg a@zoo.test z2@zoo.test "zebra again" "second"; from_line a@zoo.test; } >&3
sleep 1
printf 'rule zebra\n  subject ~ /zebra(/\n  severity 1\n' > "$DESK/rules/zebra.rules"
kill -HUP "$pid"; sleep 0.5
{ msg a@zoo.test z3@zoo.test "zebra third" "third"; } >&3
exec 3>&-
wait "$pid"; ok $? "the ingest on the pipe completes"
sev () { pd tickets list --json | jq -r --arg s "$1" '.[] | select(.subject == $s) | .severity'; }
is "$(sev "zebra crossing")" 2 "a message read before the SIGHUP is classified with the old rules"
is "$(sev "zebra again")" 1 "after SIGHUP the edited rules are in force"
is "$(sev "zebra third")" 1 "a bad edit is refused and the rules in force stay"
like "$(cat "$T/err")" "reloaded rules" "the reload is logged"
like "$(cat "$T/err")" "kept the rules in force" "and the refused edit"
like "$(cat "$T/err")" "zebra.rules:2:[0-9]+: bad pattern: missing closing parenthesis" "with its problem"
done_testing
