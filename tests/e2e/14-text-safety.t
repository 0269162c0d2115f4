#!/bin/bash
# What a message says reaches a terminal only as text: every value in a
# text view is one line, control characters and escape sequences show as
# \xNN or \uNNNN, `quarantine show` shows held mail the same way (--raw
# gives the bytes), and `tickets list` fits the width it is given.
. "$POSTDESK_SRC/tests/e2e/lib.sh"
PY=/usr/bin/python3
new_desk

# safe [--body]: fails when stdin holds a control character, an escape
# sequence, a C1 control or a bidi override, or is not UTF-8. Newlines
# always pass; tabs only in --body mode (message bodies).
safe () {
  "$PY" -c '
import re, sys
text = sys.stdin.buffer.read().decode("utf-8")
allowed = "\n\t" if "--body" in sys.argv else "\n"
bad = [c for c in text if (ord(c) < 32 or 0x7f <= ord(c) <= 0x9f or 0x202a <= ord(c) <= 0x202e
                           or 0x2066 <= ord(c) <= 0x2069) and c not in allowed]
if bad:
    print("# unsafe: %r" % sorted(set(bad)))
    sys.exit(1)
' "$@"
}

# A From name that decodes to a newline and a forged header line, with an
# ESC colour sequence; a subject with an OSC title sequence, a C1 CSI and
# a right-to-left override; a body with a screen-clearing sequence.
NAME=$(printf 'Mallory\nRequester: ceo@example.com\033[31m' | base64 -w0)
SUBJ=$(printf 'Invoice \033]0;pwned\007 \302\233 2J \342\200\256fdp.exe' | base64 -w0)
{
  printf 'From: =?UTF-8?B?%s?= <mallory@example.org>\n' "$NAME"
  printf 'To: support@example.com\nSubject: =?UTF-8?B?%s?=\n' "$SUBJ"
  printf 'Message-ID: <evil-1@example.org>\nDate: Mon, 09 Mar 2026 10:00:00 +0000\n'
  printf 'Content-Type: text/plain; charset=utf-8\n\n'
  printf 'first line\n\033[2J\033[Hcleared\ttab\n'
} > "$T/evil.eml"
pd ingest "$T/evil.eml" >/dev/null; ok $? "the hostile message is ingested"

show=$(pd tickets show SUP-1); ok $? "tickets show runs"
is "$(printf '%s\n' "$show" | grep -c '^Requester:')" 1 "a From name with a newline forges no Requester: line"
like "$show" '^Requester: Mallory\\x0aRequester: ceo@example.com\\x1b\[31m <mallory@example.org>$' \
     "the name shows on its own line, the newline and ESC as \\x0a and \\x1b"
like "$show" 'Invoice \\x1b\]0;pwned\\x07 \\u009b 2J \\u202efdp.exe' "OSC, C1 CSI and the bidi override are visible"
like "$show" '^\\x1b\[2J\\x1b\[Hcleared' "the body keeps its lines but shows its escapes"
printf '%s\n' "$show" | safe --body; ok $? "tickets show writes nothing a terminal would act on"
like "$show" 'cleared	tab' "a tab in the body stays a tab"

list=$(pd tickets list); ok $? "tickets list runs"
printf '%s\n' "$list" | safe; ok $? "tickets list writes nothing a terminal would act on"
is "$(printf '%s\n' "$list" | wc -l)" 2 "and each ticket is one line"

out=$(pd parse "$T/evil.eml"); ok $? "parse runs"
printf '%s\n' "$out" | safe --body; ok $? "parse writes nothing a terminal would act on"
is "$(printf '%s\n' "$out" | grep -c '^Requester:')" 0 "and forges no header line"

# Held mail: no sender, binary bytes, a NUL, Latin-1 and escapes.
printf 'Subject: \033[5mheld\nX-Junk: \001\002\n\n\033[2J\000\377\376 caf\351 \302\233\n' > "$T/held.eml"
pd ingest "$T/held.eml" >/dev/null 2>&1; ok $? "a message without a sender is quarantined"
pd quarantine show 1 > "$T/qshow"; ok $? "quarantine show runs"
safe --body < "$T/qshow"; ok $? "quarantine show writes no raw control characters or binary"
like "$(cat "$T/qshow")" '\\x1b\[2J\\x00\\xff\\xfe caf\\xe9 \\u009b' "and shows them as escapes"
pd quarantine show --raw 1 > "$T/qraw"; ok $? "quarantine show --raw runs"
cmp -s "$T/qraw" "$T/held.eml"; ok $? "--raw writes the bytes exactly as received"
pd quarantine list | safe; ok $? "quarantine list writes nothing a terminal would act on"

# Width: the table fits $COLUMNS; names rather than addresses when there
# is room; subjects cut with an ellipsis.
for i in 2 3; do
  printf 'From: Alice Example-Longname <alice.with.a.long.address@customer-company.example>\nTo: support@example.com\nSubject: A rather long subject line that will not fit in a narrow terminal, number %s\nMessage-ID: <w-%s@example.org>\n\nhi\n' "$i" "$i" > "$T/w$i.eml"
done
pd ingest "$T/w2.eml" "$T/w3.eml" >/dev/null; ok $? "two ordinary tickets"
widest () { "$PY" -c 'import sys; print(max(len(l) for l in sys.stdin.read().splitlines()))'; }
narrow=$(COLUMNS=72 pd tickets list --status new)
is "$(printf '%s\n' "$narrow" | widest)" 72 "with COLUMNS=72 no line is wider than 72"
like "$narrow" 'SUP-3 .*…$' "the subject is cut with an ellipsis"
medium=$(COLUMNS=100 pd tickets list --status new)
is "$(printf '%s\n' "$medium" | widest)" 100 "with COLUMNS=100 no line is wider than 100"
like "$medium" 'Alice Example-Longname +A rather long' "the requester's name is shown, not the address"
wide=$(COLUMNS=220 pd tickets list --status new)
like "$wide" 'Alice Example-Longname <alice.with.a.long.address@customer-company.example> +A rather long subject line that will not fit in a narrow terminal, number 3$' \
     "with room, name and address and the whole subject"
piped=$(env -u COLUMNS "$POSTDESK" --config "$CONF" tickets list)
like "$piped" 'number 3$' "written to a pipe, nothing is cut"
like "$piped" ' 20[0-9-]+T[0-9:]+Z ' "and times are UTC"
if command -v script >/dev/null; then
  tty=$(TZ=America/Los_Angeles script -qec "env COLUMNS=200 '$POSTDESK' --config '$CONF' tickets list" /dev/null)
  like "$tty" ' 20[0-9-]+ [0-9]{2}:[0-9]{2} ' "on a terminal, times are in the local zone"
  if printf '%s' "$tty" | grep -q 'T[0-9:]*Z'; then ok 1 "and not UTC"; else ok 0 "and not UTC"; fi
else
  ok 0 "# SKIP script(1) is not installed: no terminal to test local times on"
fi
is "$(pd tickets list --json | jq -r '.[0].created_at' | grep -c 'Z$')" 1 "JSON stays UTC"
done_testing
