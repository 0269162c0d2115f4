#!/bin/bash
# The man pages stay true to the program: both render without a warning,
# and every command, option, configuration key and JSON field the program
# has is documented where it belongs (and nothing the program lacks).
# Rendering needs groff (Debian package groff-base).
. "$POSTDESK_SRC/tests/e2e/lib.sh"
MAN1="$POSTDESK_SRC/docs/postdesk.1"
MAN5="$POSTDESK_SRC/docs/postdesk.conf.5"
MAN5_RULES="$POSTDESK_SRC/docs/postdesk-rules.5"
CONFIG_C="$POSTDESK_SRC/ingest/config.c"
OUTPUT_C="$POSTDESK_SRC/ingest/output.c"
EXAMPLE="$POSTDESK_SRC/examples/postdesk.conf"

if ! command -v groff >/dev/null; then
  ok 1 "groff is installed (scripts/deps.sh test installs groff-base)"
  done_testing
  exit 1
fi

# Each page renders as man(1) would, with every groff warning turned on.
for page in "$MAN1" "$MAN5" "$MAN5_RULES"; do
  name=$(basename "$page")
  groff -k -man -Tutf8 -ww -z "$page" 2>"$T/warn"; ok $? "$name renders"
  is "$(head -c 2000 "$T/warn")" "" "$name renders without warnings"
done

# render PAGE: plain ASCII text, one long line per paragraph. Headings stay
# where man(7) puts them: .SH at column 0, .SS at column 3, text deeper.
render () { groff -man -Tascii -P-c -P-b -P-o -P-u -rLL=250n "$1" 2>/dev/null; }
render "$MAN1" > "$T/man1.txt"
render "$MAN5" > "$T/man5.txt"

# section FILE HEADING: the text under a .SH or .SS heading (matched whole,
# blanks folded), up to the next heading of the same or a higher level.
section () {
  awk -v h="$2" '
    function level(l) { if (l ~ /^[^ ]/) return 1; if (l ~ /^   [^ ]/) return 2; return 0 }
    on { lv = level($0); if (lv && lv <= start) exit; print; next }
    { t = $0; sub(/^ +/, "", t); gsub(/ +/, " ", t); lv = level($0)
      if (lv && t == h) { on = 1; start = lv; print } }' "$1"
}

# has TEXT WORD: WORD occurs in TEXT, not as part of a longer name.
has () { printf '%s\n' "$1" | grep -qE -- "(^|[^A-Za-z0-9_-])$2([^A-Za-z0-9_-]|$)"; }

# Long options in a --help text, less GLib's own --help and --help-*.
options_in () { printf '%s\n' "$1" | grep -oE -- '--[a-z][a-z-]*' | grep -vxE -- '--help(-[a-z]+)?' | sort -u; }

# ---- postdesk(1): commands and options -----------------------------------
help=$("$POSTDESK" --help); ok $? "postdesk --help exits 0"
commands=$(printf '%s\n' "$help" | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }')
[ -n "$commands" ]; ok $? "postdesk --help lists commands"

global=$(section "$T/man1.txt" "GLOBAL OPTIONS")
for opt in $(printf '%s\n' "$help" | sed -n '/^Global options:/,$p' | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
  has "$global" "$opt"; ok $? "postdesk.1 GLOBAL OPTIONS documents $opt"
done

synopsis=$(section "$T/man1.txt" "SYNOPSIS")
all_opts=$(options_in "$help")
units=""
for c in $commands; do
  # A command with subcommands prints their usage lines: "postdesk C SUB ...".
  chelp=$("$POSTDESK" "$c" --help 2>&1); ok $? "postdesk $c --help exits 0"
  subs=$(printf '%s\n' "$chelp" | awk -v c="$c" '{ for (i = 1; i < NF; i++) if ($i == "postdesk" && $(i + 1) == c && $(i + 2) ~ /^[a-z]+$/) print $(i + 2) }' | sort -u)
  if [ -z "$subs" ]; then units="$units$c"$'\n'; fi
  for s in $subs; do units="$units$c $s"$'\n'; done
done
while IFS= read -r u; do
  [ -n "$u" ] || continue
  text=$(section "$T/man1.txt" "postdesk $u")
  [ -n "$text" ]; ok $? "postdesk.1 has a section for 'postdesk $u'"
  printf '%s\n' "$synopsis" | grep -qE "^ +postdesk $u( |$)"; ok $? "the SYNOPSIS shows 'postdesk $u'"
  # shellcheck disable=SC2086
  uhelp=$("$POSTDESK" $u --help 2>&1); ok $? "postdesk $u --help exits 0"
  for opt in $(options_in "$uhelp"); do
    has "$text" "$opt"; ok $? "postdesk.1 documents $opt under 'postdesk $u'"
  done
  all_opts=$(printf '%s\n%s\n' "$all_opts" "$(options_in "$uhelp")" | sort -u)
done <<< "$units"

# And the other way round: no option the program does not have.
for opt in $(options_in "$(cat "$T/man1.txt")"); do
  printf '%s\n' "$all_opts" | grep -qxF -- "$opt"; ok $? "$opt in postdesk.1 is a real option"
done

# ---- postdesk(1): JSON field names ---------------------------------------
json_section=$(section "$T/man1.txt" "JSON OUTPUT")
# check_json SUBSECTION JSON-OBJECT: its own keys in the subsection, the keys
# of nested objects anywhere under JSON OUTPUT.
check_json () {
  local sub keys k
  sub=$(section "$T/man1.txt" "$1")
  [ -n "$sub" ]; ok $? "postdesk.1 has the JSON subsection '$1'"
  keys=$(printf '%s\n' "$2" | jq -r 'keys[]') || { ok 1 "JSON for '$1' is an object"; return; }
  for k in $keys; do
    has "$sub" "$k"; ok $? "'$1' documents the field $k"
  done
  for k in $(printf '%s\n' "$2" | jq -r '[paths | select(length > 1) | .[1:][] | strings] - keys | unique | .[]'); do
    has "$json_section" "$k"; ok $? "JSON OUTPUT documents the nested field $k"
  done
}
new_desk desk
pd ingest "$POSTDESK_SRC/examples/mail" >/dev/null 2>&1; ok $? "ingest the example mail"
check_json "parse --json" "$("$POSTDESK" parse --json "$POSTDESK_SRC/examples/mail/02-production-down-logs.eml")"
check_json "tickets list --json, tickets show --json" "$(pd tickets list --json | jq '.[0]')"
check_json "tickets list --json, tickets show --json" "$(pd tickets show --json 1 | jq 'del(.messages)')"
check_json "tickets list --json, tickets show --json" "$(pd tickets show --json 1 | jq '[.messages[] | select(.attachments | length > 0)][0]')"
check_json "quarantine list --json" "$(pd quarantine list --json | jq '.[0]')"
check_json "rules test --json" "$(pd rules test --json "$POSTDESK_SRC/examples/mail/02-production-down-logs.eml" | jq '.[0]')"
# The outbox is empty in this version: its fields come from output.c.
outbox_keys=$(awk '/^pd_json_outbox_item/ { on = 1 } on && /^}/ { exit } on' "$OUTPUT_C" | grep -oE '\(b, "[a-z_]+"' | grep -oE '[a-z_]+"$' | tr -d '"' | sort -u)
[ -n "$outbox_keys" ]; ok $? "the outbox fields are found in output.c"
check_json "outbox list --json" "$(for k in $outbox_keys; do printf '{"%s":0}\n' "$k"; done | jq -s add)"
suppressed_keys=$(awk '/^pd_json_suppression/ { on = 1 } on && /^}/ { exit } on' "$OUTPUT_C" | grep -oE '\(b, "[a-z_]+"' | grep -oE '[a-z_]+"$' | tr -d '"' | sort -u)
[ -n "$suppressed_keys" ]; ok $? "the suppression list's fields are found in output.c"
check_json "suppressed list --json" "$(for k in $suppressed_keys; do printf '{"%s":0}\n' "$k"; done | jq -s add)"

# ---- postdesk.conf(5): keys, example, public domains ---------------------
# "section key" for every key in examples/postdesk.conf (a commented-out
# key too) and every key config.c knows.
example_keys=$(awk '/^\[[a-z]+( [a-z0-9._-]+)?\]$/ { s = substr($0, 2, length($0) - 2); sub(/ .*/, "", s); next }
                    match($0, /^#?[a-z0-9_]+ *=/) { k = substr($0, 1, RLENGTH); sub(/^#/, "", k); sub(/ *=$/, "", k); print s, k }' "$EXAMPLE")
code_keys=$(grep -oE '\{ "[a-z]+", "[a-z0-9_]+", KEY_[A-Z]+ \}' "$CONFIG_C" | awk -F'"' '{ print $2, $4 }')
[ -n "$code_keys" ]; ok $? "config.c's known keys are found"
while read -r sec key; do
  [ -n "$key" ] || continue
  text=$(section "$T/man5.txt" "SECTION [$sec]")
  printf '%s\n' "$text" | grep -qE "^ +$key( |$)"; ok $? "postdesk.conf.5 documents [$sec] $key"
done <<< "$(printf '%s\n%s\n' "$example_keys" "$code_keys" | sort -u)"

# And the other way round: every key the page documents exists.
for sec in $(printf '%s\n' "$code_keys" | awk '{ print $1 }' | sort -u); do
  for key in $(section "$T/man5.txt" "SECTION [$sec]" | grep -oE '^       [a-z0-9_]+ \(' | grep -oE '[a-z0-9_]+'); do
    printf '%s\n' "$code_keys" | grep -qxF "$sec $key"; ok $? "[$sec] $key in postdesk.conf.5 is a real key"
  done
done

# The EXAMPLE shows the settings of examples/postdesk.conf, line for line.
settings () { grep -E '^(#?\[[a-z]+( [a-z0-9._-]+)?\]|#?[a-z0-9_]+ *=.*)$'; }
is "$(awk '/^\.SH EXAMPLE/ { on = 1 } on && /^\.EX/ { ex = 1; next } ex && /^\.EE/ { exit } ex' "$MAN5" | sed 's/\\-/-/g' | settings)" \
   "$(settings < "$EXAMPLE")" "the EXAMPLE in postdesk.conf.5 matches examples/postdesk.conf"

# The built-in public domains, as listed and as compiled in.
code_domains=$(sed -n '/default_public_domains\[\] = {/,/};/p' "$CONFIG_C" | grep -oE '"[^"]+"' | tr -d '"' | sort)
page_domains=$(sed -n '/BEGIN PUBLIC DOMAINS/,/END PUBLIC DOMAINS/p' "$MAN5" | grep -v '^\.' | sed 's/\\-/-/g; s/[,.] *$//' | sort)
[ "$(printf '%s\n' "$code_domains" | grep -c .)" -gt 10 ]; ok $? "config.c's public domains are found"
is "$(printf '%s\n' "$page_domains" | tr '\n' ' ')" "$(printf '%s\n' "$code_domains" | tr '\n' ' ')" \
   "postdesk.conf.5 lists exactly the built-in public domains"
range=$(grep -oE 'n < [0-9]+ \|\| n > [0-9* ]+\)' "$CONFIG_C" | head -1)
lo=$(printf '%s' "$range" | awk '{ print $3 }')
hi=$(( $(printf '%s' "$range" | sed 's/.*n > //; s/)//') ))
has "$(section "$T/man5.txt" "SECTION [postdesk]")" "$lo"; ok $? "postdesk.conf.5 gives max_message_bytes' minimum $lo"
has "$(section "$T/man5.txt" "SECTION [postdesk]")" "$hi"; ok $? "postdesk.conf.5 gives max_message_bytes' maximum $hi"
# ---- postdesk-rules(5): every field and action the parser knows ----------
render "$MAN5_RULES" > "$T/rules5.txt"
RULES_C="$POSTDESK_SRC/ingest/rules.c"
fields=$(sed -n '/^} field_names\[\] = {/,/^};/p' "$RULES_C" | grep -oE '"[a-z-]+"' | tr -d '"')
[ -n "$fields" ]; ok $? "rules.c's field names are found"
for f in $fields header; do
  has "$(section "$T/rules5.txt" "CONDITIONS")" "$f"; ok $? "postdesk-rules.5 documents the field $f"
done
for a in severity tag no-ack auto-reply stop match; do
  has "$(section "$T/rules5.txt" "ACTIONS")" "$a"; ok $? "postdesk-rules.5 documents the action $a"
done
done_testing
