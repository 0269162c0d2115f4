#!/bin/bash
# Mistakes get an answer that says what is wrong, and output that cannot be
# written is a failure: unknown subcommands, ticket references as typed,
# --config after the command, configuration lines with their line number
# and a suggestion, and standard output on a full disk or closed.
. "$POSTDESK_SRC/tests/e2e/lib.sh"
new_desk
pd ingest "$POSTDESK_SRC/examples/mail" >/dev/null 2>&1

pd tickets lst 2>"$T/err"; is "$?" 2 "an unknown tickets subcommand exits 2"
like "$(cat "$T/err")" "unknown command 'lst'" "and says so"
pd quarantine frobnicate 2>"$T/err"; is "$?" 2 "an unknown quarantine subcommand exits 2"
like "$(cat "$T/err")" "unknown command 'frobnicate'" "and says so"
pd outbox lst 2>"$T/err"; is "$?" 2 "an unknown outbox subcommand exits 2"
like "$(cat "$T/err")" "unknown command 'lst'" "and says so"

pd tickets show SUP-999 2>"$T/err"; is "$?" 1 "a ticket that does not exist exits 1"
is "$(cat "$T/err")" "postdesk: no such ticket SUP-999" "and is named as typed"
pd tickets show sup-0999 2>"$T/err"
is "$(cat "$T/err")" "postdesk: no such ticket SUP-999" "a reference is normalised to PREFIX-N"
pd tickets show 999 2>"$T/err"
is "$(cat "$T/err")" "postdesk: no such ticket SUP-999" "a bare number too"
pd tickets show 99999999999999999999999 2>"$T/err"; is "$?" 1 "a number too large is a ticket that does not exist"
is "$(cat "$T/err")" "postdesk: no such ticket SUP-99999999999999999999999" "named as typed, not overflowed"

"$POSTDESK" tickets list --config "$CONF" >/dev/null; ok $? "--config works after the command"
"$POSTDESK" tickets show --json SUP-1 --config="$CONF" | jq -e '.ref == "SUP-1"' >/dev/null
ok $? "--config=FILE works after the command's arguments"

printf '[postdesk]\nsupport_name = Help\nthis line is not a key\n' > "$T/bad.conf"
"$POSTDESK" --config "$T/bad.conf" tickets list 2>"$T/err"; is "$?" 2 "a line that is no setting exits 2"
like "$(cat "$T/err")" "bad.conf:3: not a setting" "and names file and line"
printf '[postdesk]\n\033]0;owned\007\033[2J\377\376%s\n' "$(head -c 3000 /dev/zero | tr '\0' x)" > "$T/garbage.conf"
"$POSTDESK" --config "$T/garbage.conf" tickets list 2>"$T/err"; is "$?" 2 "binary garbage in the configuration exits 2"
like "$(cat "$T/err")" "garbage.conf:2: " "naming the line"
if grep -q "$(printf '\033')" "$T/err"; then ok 1 "without echoing the escape sequences"; else ok 0 "without echoing the escape sequences"; fi
[ "$(wc -c < "$T/err")" -lt 300 ]; ok $? "and in a short form"
printf '[postdesk]\ndatabse = var/x.db\n' > "$T/typo.conf"
"$POSTDESK" --config "$T/typo.conf" tickets list 2>"$T/err"; is "$?" 2 "a misspelt key exits 2"
like "$(cat "$T/err")" "typo.conf:2: \[postdesk\] databse: unknown key; did you mean 'database'\?" "and suggests the nearest key"
printf '[staff]\ndomian = example.com\n' > "$T/typo2.conf"
"$POSTDESK" --config "$T/typo2.conf" tickets list 2>"$T/err"
like "$(cat "$T/err")" "did you mean 'domains'\?" "suggestions come from the key's own section"

pd tickets list >/dev/full 2>"$T/err"; is "$?" 1 "tickets list to a full disk exits 1"
is "$(cat "$T/err")" "postdesk: cannot write to standard output: No space left on device" "and says why"
pd tickets show --json 1 >/dev/full 2>"$T/err"; is "$?" 1 "tickets show --json to a full disk exits 1"
like "$(cat "$T/err")" "cannot write to standard output" "and says so"
pd tickets list >&- 2>"$T/err"; is "$?" 1 "tickets list with standard output closed exits 1"
like "$(cat "$T/err")" "cannot write to standard output: Bad file descriptor" "and says why"
pd quarantine list --json >/dev/full 2>/dev/null; is "$?" 1 "quarantine list --json to a full disk exits 1"
"$POSTDESK" parse "$POSTDESK_SRC/examples/mail/02-production-down-logs.eml" >/dev/full 2>/dev/null
is "$?" 1 "parse to a full disk exits 1"
"$POSTDESK" --help >/dev/full 2>/dev/null; is "$?" 1 "even --help to a full disk exits 1"
done_testing
