#!/bin/bash
# When mail really arrived: without --received, a Maildir message arrived
# at the time its file name carries (else the file's modification time), an
# mbox message at its "From " line's date, and a single file or standard
# input at its Date header; never in the future.
. "$POSTDESK_SRC/tests/e2e/lib.sh"
new_desk

msg () { # msg ID SUBJECT DATE-HEADER
  printf 'From: ann@one.test\nTo: support@example.com\nSubject: %s\nDate: %s\nMessage-ID: <%s>\n\nhello\n' "$2" "$3" "$1"
}
received () { # received SUBJECT: the received_at of the ticket's first message
  local id
  id=$(pd tickets list --json | jq -r --arg s "$1" '.[] | select(.subject == $s) | .id')
  ticket "$id" '.messages[0].received_at'
}
created () {
  local id
  id=$(pd tickets list --json | jq -r --arg s "$1" '.[] | select(.subject == $s) | .id')
  ticket "$id" '.created_at'
}

mkdir -p "$T/md/new" "$T/md/cur" "$T/md/tmp"
msg md1@one.test "Maildir name" "Mon, 01 Jan 2024 00:00:00 +0000" \
  > "$T/md/new/$(date -u -d 2026-03-06T10:00:00Z +%s).M12P34.host"
msg md2@one.test "Maildir mtime" "Mon, 01 Jan 2024 00:00:00 +0000" > "$T/md/cur/delivered-by-hand:2,S"
touch -d 2026-03-07T08:30:00Z "$T/md/cur/delivered-by-hand:2,S"
pd ingest "$T/md" >/dev/null; ok $? "a Maildir"
is "$(received "Maildir name")" "2026-03-06T10:00:00Z" "a Maildir message arrived at the time its file name carries"
is "$(created "Maildir name")" "2026-03-06T10:00:00Z" "and its ticket opened then"
id=$(pd tickets list --json | jq -r '.[] | select(.subject == "Maildir name") | .id')
is "$(ticket "$id" '.messages[0].date')" "2024-01-01T00:00:00Z" "the message keeps its own Date beside received_at"
like "$(pd tickets show "$id")" "Date: +2024-01-01" "and tickets show prints it"
is "$(received "Maildir mtime")" "2026-03-07T08:30:00Z" "without one, at the file's modification time"

{ printf 'From ann@one.test Sat Mar  7 10:00:00 2026\n'; msg mb1@one.test "Mbox UTC" "Mon, 01 Jan 2024 00:00:00 +0000"
  printf '\nFrom ann@one.test Sun Mar  8 10:00:00 2026 +0100\n'; msg mb2@one.test "Mbox zone" "Mon, 01 Jan 2024 00:00:00 +0000"
  printf '\nFrom MAILER-DAEMON no date here\n'; msg mb3@one.test "Mbox no date" "Tue, 10 Mar 2026 12:00:00 +0000"
} > "$T/box.mbox"
pd ingest "$T/box.mbox" >/dev/null; ok $? "an mbox"
is "$(received "Mbox UTC")" "2026-03-07T10:00:00Z" "an mbox message arrived at its From line's date, as UTC"
is "$(created "Mbox UTC")" "2026-03-07T10:00:00Z" "and its ticket opened then"
is "$(received "Mbox zone")" "2026-03-08T09:00:00Z" "a zone after the year is honoured"
is "$(received "Mbox no date")" "2026-03-10T12:00:00Z" "a From line without a date falls back to the Date header"

msg f1@one.test "Single file" "Wed, 04 Mar 2026 09:15:00 -0800" > "$T/single.eml"
pd ingest "$T/single.eml" >/dev/null; ok $? "a single file"
is "$(received "Single file")" "2026-03-04T17:15:00Z" "a single file arrived at its Date header"
msg s1@one.test "From stdin" "Thu, 05 Mar 2026 11:00:00 +0000" | pd ingest - >/dev/null; ok $? "standard input"
is "$(received "From stdin")" "2026-03-05T11:00:00Z" "so did standard input"

before=$(date -u +%s)
msg fut@one.test "From the future" "Fri, 01 Jan 2100 00:00:00 +0000" > "$T/future.eml"
pd ingest "$T/future.eml" >/dev/null
got=$(date -u -d "$(received "From the future")" +%s)
ok $(( got >= before && got <= $(date -u +%s) ? 0 : 1 )) "a Date in the future is taken as now"
msg nodate@one.test "No date" "" | sed '/^Date:/d' > "$T/nodate.eml"
pd ingest "$T/nodate.eml" >/dev/null
got=$(date -u -d "$(received "No date")" +%s)
ok $(( got >= before && got <= $(date -u +%s) ? 0 : 1 )) "no Date header at all is now"

mkdir -p "$T/md2/new"
msg md3@one.test "Given time" "Mon, 01 Jan 2024 00:00:00 +0000" > "$T/md2/new/1772791200.M1P1.host"
pd ingest --received 2026-03-09T00:00:00Z "$T/md2" >/dev/null
is "$(received "Given time")" "2026-03-09T00:00:00Z" "--received still wins over what the source says"
done_testing
