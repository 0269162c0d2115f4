#!/bin/bash
# The command-line contract: help, versions, exit statuses, clear errors.
. "$POSTDESK_SRC/tests/e2e/lib.sh"

out=$("$POSTDESK" --help); ok $? "postdesk --help exits 0"
like "$out" "ingest" "--help lists the commands"
for c in init parse ingest "tickets list" "tickets show" "outbox list" "quarantine list" "quarantine show" "quarantine retry"; do
  # shellcheck disable=SC2086
  out=$("$POSTDESK" $c --help 2>&1); ok $? "postdesk $c --help exits 0"
  like "$out" "Usage" "postdesk $c --help shows its usage"
done
"$POSTDESK" --version | grep -q '^postdesk [0-9]'; ok $? "--version prints the version"

"$POSTDESK" frobnicate 2>"$T/err"; is "$?" 2 "an unknown command exits 2"
like "$(cat "$T/err")" "unknown command 'frobnicate'" "and names it"
"$POSTDESK" --frob 2>/dev/null; is "$?" 2 "an unknown global option exits 2"
"$POSTDESK" tickets list --frob 2>"$T/err"; is "$?" 2 "an unknown command option exits 2"
like "$(cat "$T/err")" "frob" "and names it"
"$POSTDESK" 2>/dev/null; is "$?" 2 "no command exits 2"

cd "$T" || exit 1
env -u POSTDESK_CONFIG "$POSTDESK" tickets list 2>"$T/err"; is "$?" 2 "no configuration anywhere exits 2"
like "$(cat "$T/err")" "no configuration file" "and says so"
"$POSTDESK" --config "$T/nope.conf" tickets list 2>"$T/err"; is "$?" 2 "a missing --config file exits 2"
like "$(cat "$T/err")" "nope.conf" "and names the file"

new_desk
before=$(sha256sum "$DESK/var/postdesk.db")
printf '[postdesk]\nsupport_address = support@example.com\nticket_prefx = SUP\n' > "$CONF"
pd ingest "$POSTDESK_SRC/examples/mail" >/dev/null 2>"$T/err"; is "$?" 2 "a config with an unknown key exits 2"
like "$(cat "$T/err")" "postdesk.conf:3: \[postdesk\] ticket_prefx: unknown key" "naming file, line and key"
is "$(sha256sum "$DESK/var/postdesk.db")" "$before" "and nothing was written"

new_desk desk2
POSTDESK_CONFIG="$CONF" "$POSTDESK" tickets list >/dev/null; ok $? "\$POSTDESK_CONFIG is used when --config is absent"
(cd "$DESK" && env -u POSTDESK_CONFIG "$POSTDESK" tickets list >/dev/null); ok $? "./postdesk.conf is used when nothing else is given"
pd tickets show 42 2>"$T/err"; is "$?" 1 "showing a ticket that does not exist exits 1"
like "$(cat "$T/err")" "no such ticket SUP-42" "and says which, as a reference"
pd tickets show SUP-x 2>/dev/null; is "$?" 2 "a malformed ticket id exits 2"
pd tickets list --status bogus 2>/dev/null; is "$?" 2 "an unknown status exits 2"
pd ingest 2>/dev/null; is "$?" 2 "ingest without a path exits 2"
pd ingest --received yesterday "$CORPUS/thread" 2>"$T/err"; is "$?" 2 "a bad --received exits 2"
like "$(cat "$T/err")" "not an ISO 8601 time" "and says what is expected"
is "$(pd outbox list --json | jq length)" 0 "the outbox starts empty"
pd quarantine show 99 2>/dev/null; is "$?" 1 "showing a missing quarantine entry exits 1"
done_testing
