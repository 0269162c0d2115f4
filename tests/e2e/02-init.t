#!/bin/bash
# postdesk init writes a ready, commented working folder and never
# overwrites one.
. "$POSTDESK_SRC/tests/e2e/lib.sh"

out=$("$POSTDESK" init "$T/desk"); ok $? "init exits 0"
like "$out" "initialised" "and says what it did"
test -f "$T/desk/postdesk.conf"; ok $? "writes postdesk.conf"
test -d "$T/desk/var"; ok $? "creates var/"
test -f "$T/desk/rules/README"; ok $? "copies the default rules folder"
test -f "$T/desk/templates/README"; ok $? "copies the default templates folder"
cmp -s "$T/desk/postdesk.conf" "$POSTDESK_SRC/examples/postdesk.conf"; ok $? "the configuration is the shipped example"
grep -q '^# ' "$T/desk/postdesk.conf"; ok $? "and it is commented"
"$POSTDESK" --config "$T/desk/postdesk.conf" tickets list >/dev/null; ok $? "the written configuration loads as is"
test -f "$T/desk/var/postdesk.db"; ok $? "the database goes where the configuration says (var/)"
echo "edited" >> "$T/desk/postdesk.conf"
"$POSTDESK" init "$T/desk" 2>"$T/err"; is "$?" 1 "init into an initialised folder fails"
like "$(cat "$T/err")" "already exists" "and says why"
tail -n 1 "$T/desk/postdesk.conf" | grep -q edited; ok $? "and the admin's edits are kept"
done_testing
