#!/bin/bash
# The JSON field names of the command-line contract are fixed: later work
# and other tools read them. This pins every one, with its type.
. "$POSTDESK_SRC/tests/e2e/lib.sh"
new_desk
pd ingest "$POSTDESK_SRC/examples/mail" >/dev/null 2>&1

keys () { jq -r "$1 | keys_unsorted | join(\",\")"; }

p=$(pd parse --json "$POSTDESK_SRC/examples/mail/02-production-down-logs.eml")
is "$(echo "$p" | keys .)" \
   "message_id,from,to,cc,reply_to,subject,date,in_reply_to,references,body_text,attachments,auto_reply,bulk,bounce,bounce_detail" \
   "parse --json: the contract's fields, in order"
is "$(echo "$p" | keys .from)" "name,address" "parse --json: from is {name, address}"
is "$(echo "$p" | keys '.to[0]')" "name,address" "parse --json: to is a list of {name, address}"
is "$(echo "$p" | keys '.attachments[0]')" "filename,mime_type,size" "parse --json: attachments are {filename, mime_type, size}"
is "$(echo "$p" | jq -r '[.auto_reply, .bulk, .bounce] | map(type) | join(",")')" "boolean,boolean,boolean" "parse --json: flags are booleans"
is "$(echo "$p" | jq -r '.references | type')" "array" "parse --json: references is an array"
is "$(echo "$p" | jq -r '.attachments[0] | "\(.filename) \(.mime_type) \(.size)"')" "frontend.log text/plain 160" \
   "parse --json: the attachment's decoded name, type and size"

t=$(pd tickets show --json SUP-1)
for k in id ref subject status severity severity_rules requester customer plan created_at first_response_due \
         resolution_due first_response_at linked_to messages; do
  is "$(echo "$t" | jq "has(\"$k\")")" "true" "tickets show --json has $k"
done
is "$(echo "$t" | jq -r '[.id, .severity] | map(type) | join(",")')" "number,number" "id and severity are numbers"
is "$(echo "$t" | jq -r '.severity_rules | type')" "array" "severity_rules is an array"
is "$(echo "$t" | jq -r '[.customer, .first_response_at, .linked_to] | map(type) | unique | join(",")')" \
   "null" "no configured customer, no response yet, no link"
is "$(echo "$t" | jq -r '[.plan, .first_response_due, .resolution_due, .opened_by] | map(type) | join(",")')" \
   "string,string,string,string" "plan, deadlines (ISO 8601 UTC) and what opened it are strings"
for k in message_id direction kind from subject date received_at body_text attachments; do
  is "$(echo "$t" | jq ".messages[0] | has(\"$k\")")" "true" "a message has $k"
done

l=$(pd tickets list --json)
is "$(echo "$l" | jq -r '.[0] | has("messages")')" "false" "tickets list --json leaves out messages"
is "$(echo "$l" | jq -r '.[0].ref')" "SUP-1" "and otherwise has the same fields"

q=$(pd quarantine list --json)
for k in id reason received_at size mailbox; do
  is "$(echo "$q" | jq ".[0] | has(\"$k\")")" "true" "quarantine list --json has $k"
done
o=$(pd outbox list --json)
is "$(echo "$o" | jq -r '.[0] | [.kind, .status] | join(",")')" "ack,queued" "outbox list --json holds the queued acknowledgement"
for k in id ticket kind to subject message_id in_reply_to status attempts last_error; do
  is "$(echo "$o" | jq ".[0] | has(\"$k\")")" "true" "an outbox entry has $k"
done
done_testing
