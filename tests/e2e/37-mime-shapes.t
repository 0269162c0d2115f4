#!/bin/bash
# Real-world shapes of mail, read as the sender meant them. Each message in
# tests/corpus/shapes/ says what a reader must see in its own X-Expected-*
# headers; this test runs `postdesk parse --json` on it and checks each one:
#   X-Expected-Body-Contains: TEXT   body_text holds TEXT (repeatable)
#   X-Expected-Body-Lacks: TEXT      body_text does not hold TEXT
#   X-Expected-Attachments: A,B|none the attachment names, in order
#   X-Expected-From: ADDRESS         from.address
#   X-Expected-From-Name: NAME       from.name
#   X-Expected-Subject: TEXT         subject
# Compressed files (.gz) and files with old-Mac CR line ends carry their
# expectations inside; they are read the way a person would read them.
# At the end a comment line per shape (charset, body, forward, file, lost)
# says how many facts held, which is how the before/after counts are taken.
. "$POSTDESK_SRC/tests/e2e/lib.sh"
SHAPES="$CORPUS/shapes"

declare -A good total
for f in "$SHAPES"/*; do
  name=$(basename "$f")
  shape=${name%%-*}
  case "$f" in
    *.gz) text=$(gzip -dc "$f" | head -c 65536 | tr '\r\0' '\n ') ;;
    *)    text=$(head -c 65536 "$f" | tr '\r\0' '\n ') ;;
  esac
  # The header section only, unfolded lines are not used by the corpus.
  expectations=$(printf '%s\n' "$text" | sed -e 's/^\xEF\xBB\xBF//' | awk 'NF==0 && seen {exit} /^X-Expected-/ {print; seen=1} /:/ {seen=1}')
  json=$("$POSTDESK" parse --json "$f" 2>"$T/stderr")
  status=$?
  is "$status" 0 "$name: parse exits 0 ($(head -c 200 "$T/stderr"))"
  while IFS= read -r line; do
    [ -z "$line" ] && continue
    key=${line%%:*}
    want=${line#*: }
    case "$key" in
      X-Expected-Body-Contains)
        got=$(printf '%s' "$json" | jq -r --arg w "$want" '.body_text // "" | contains($w)') ;;
      X-Expected-Body-Lacks)
        got=$(printf '%s' "$json" | jq -r --arg w "$want" '.body_text // "" | contains($w) | not') ;;
      X-Expected-Attachments)
        [ "$want" = none ] && want=""
        got=$(printf '%s' "$json" | jq -r --arg w "$want" '[.attachments[]?.filename] | join(",") == $w') ;;
      X-Expected-From)
        got=$(printf '%s' "$json" | jq -r --arg w "$want" '.from.address? == $w') ;;
      X-Expected-From-Name)
        got=$(printf '%s' "$json" | jq -r --arg w "$want" '.from.name? == $w') ;;
      X-Expected-Subject)
        got=$(printf '%s' "$json" | jq -r --arg w "$want" '.subject? == $w') ;;
      *) got="unknown expectation $key" ;;
    esac
    total[$shape]=$(( ${total[$shape]:-0} + 1 ))
    [ "$got" = true ] && good[$shape]=$(( ${good[$shape]:-0} + 1 ))
    if [ "$got" != true ]; then
      is "$got" true "$name: $key: $want"
      printf '#   body: %s\n' "$(printf '%s' "$json" | jq -c '{body_text, attachments: [.attachments[]?.filename], from, subject}' 2>/dev/null | head -c 400)"
    else
      is "$got" true "$name: $key: $want"
    fi
  done <<< "$expectations"
done
for s in "${!total[@]}"; do echo "# shape $s: ${good[$s]:-0}/${total[$s]} facts right"; done

# An mbox that opens with a byte-order mark and a blank line is a mailbox of
# two messages, not one quarantined entry; compressed, the same.
new_desk
for f in file-bom-mbox.mbox file-gzip-mbox.mbox.gz; do
  out=$(pd ingest "$SHAPES/$f" 2>&1)
  like "$out" "ingested 2 messages" "$f: ingest reads both messages ($out)"
done
is "$(pd quarantine list 2>/dev/null | tail -n +2 | grep -c .)" 0 "nothing from the mailboxes is quarantined"
done_testing
