#!/bin/bash
# postdesk templates check: every problem of a templates folder as
# file:line, in one run, exit 1; a clean folder prints its template count.
. "$POSTDESK_SRC/tests/e2e/lib.sh"

out=$("$POSTDESK" templates check "$POSTDESK_SRC/templates"); ok $? "the shipped templates check clean"
is "$out" "$POSTDESK_SRC/templates: 1 template, no problems" "a clean run prints the template count"

# Without DIR, the folder comes from the configuration; init copies the
# shipped templates there.
new_desk desk
out=$(pd templates check); ok $? "the configured templates folder of a new desk checks clean"
is "$out" "$DESK/templates: 1 template, no problems" "init wrote the shipped acknowledgement"
cmp -s "$DESK/templates/ack.tmpl" "$POSTDESK_SRC/templates/ack.tmpl"; ok $? "init copied ack.tmpl as shipped"

mkdir "$T/bad"
cat > "$T/bad/ack.tmpl" <<'TMPL'
Subject: [{{ticket_ref}}] {{subjet}}
From: "Support" <support@example.com>
Dear customer,

{{#is_severity1}}
Severity 1.
TMPL
cat > "$T/bad/notice.tmpl" <<'TMPL'
Subject: notice
X-Ticket: {{ticket_ref}}

{{outside_hours}}
{{#raised}}raised{{/reopened}}
TMPL
printf 'Subject: s\n\nca\xf1on\n' > "$T/bad/latin1.tmpl"
echo "not a template" > "$T/bad/README"
"$POSTDESK" templates check "$T/bad" >"$T/out" 2>"$T/err"; is $? 1 "a folder with problems exits 1"
is "$(cat "$T/out")" "" "nothing on stdout when there are problems"
is "$(sed -n 1p "$T/err")" "$T/bad/ack.tmpl:1: unknown variable 'subjet' (did you mean 'subject'?)" \
   "an unknown variable, with file:line and a suggestion"
is "$(sed -n 2p "$T/err")" "$T/bad/ack.tmpl:2: a template cannot set the header 'From': postdesk sets it from support_name and support_address" \
   "a header postdesk sets itself"
like "$(sed -n 3p "$T/err")" "^$T/bad/ack.tmpl:3: 'Dear customer,' is not a header line 'Name: value'; the headers end at the first blank line" \
     "a missing blank line between headers and body"
is "$(sed -n 4p "$T/err")" "$T/bad/ack.tmpl:5: '{{#is_severity1}}' is never closed" "an unclosed section, where it opens"
is "$(sed -n 5p "$T/err")" "$T/bad/latin1.tmpl:3: not valid UTF-8" "text that is not UTF-8"
is "$(sed -n 6p "$T/err")" "$T/bad/notice.tmpl:4: 'outside_hours' is true or false: use it as a section, {{#outside_hours}}...{{/outside_hours}}" \
   "a true/false variable used as text"
is "$(sed -n 7p "$T/err")" "$T/bad/notice.tmpl:5: '{{/reopened}}' does not close '{{#raised}}' (opened on line 5)" \
   "a mismatched closing tag"
is "$(sed -n 8p "$T/err")" "$T/bad/notice.tmpl:5: '{{#raised}}' is never closed" "and the section it left open"
is "$(sed -n 9p "$T/err")" "postdesk templates check: 8 problems in $T/bad; no template would be used" "the summary counts them"
is "$(grep -c '' "$T/err")" 9 "eight problems and a summary line"

mkdir "$T/noack"
printf 'Subject: s\n\nb\n' > "$T/noack/notice.tmpl"
"$POSTDESK" templates check "$T/noack" >/dev/null 2>"$T/err"; is $? 1 "a folder without ack.tmpl exits 1"
is "$(sed -n 1p "$T/err")" "$T/noack/ack.tmpl:1: missing: every new ticket is acknowledged with this template" "and says why"

"$POSTDESK" templates check "$T/missing" >/dev/null 2>"$T/err"; is $? 1 "a missing folder exits 1"
like "$(cat "$T/err")" "cannot read the templates folder $T/missing" "and names it"
"$POSTDESK" templates check a b >/dev/null 2>&1; is $? 2 "two folders are a usage error"
"$POSTDESK" templates frobnicate >/dev/null 2>&1; is $? 2 "an unknown subcommand is a usage error"
"$POSTDESK" templates --help >/dev/null 2>&1; ok $? "templates --help exits 0"
done_testing
