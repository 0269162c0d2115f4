# scripts/loopback.sh - a throwaway Dovecot and a real SMTP receiver on
# loopback for make demo and make bench, sourced by scripts/demo.sh and
# scripts/bench.sh. It reuses the test suite's own helpers
# (tests/e2e/dovecot.sh and smtp.sh) so that the demo, the benchmark and the
# tests start the servers the same way; set before sourcing:
#   T             an empty folder for the servers (certificates, Maildirs,
#                 logs); Dovecot's auth process, user dovecot, must be able
#                 to traverse the folders leading to it
#   POSTDESK_SRC  the top of the source tree
# Then:
#   loopback_missing   why the servers cannot run here, or nothing
#   loopback_start     Dovecot (DOVECOT_IMAPS, DOVECOT_PLAIN, imap_append,
#                      mailbox_conf ... from dovecot.sh) and pdsmtpd.py
#                      (SMTP_PORT, SMTP_DIR: deliveries in $SMTP_DIR/mail/new)
#   loopback_stop      stops both; safe to call twice
# The helpers set EXIT traps of their own that remove $T: the caller sets
# its trap after loopback_start, calling loopback_stop.

. "$POSTDESK_SRC/tests/e2e/dovecot.sh"
. "$POSTDESK_SRC/tests/e2e/smtp.sh"
trap - EXIT

loopback_missing () {
  local why
  why=$(dovecot_missing)
  if [ -z "$why" ] && ! "$PY" -c 'import aiosmtpd' 2>/dev/null; then
    why="python3-aiosmtpd is not installed"
  fi
  echo "$why"
}

loopback_start () {
  mkdir -p "$T"
  dovecot_start || return 1
  trap - EXIT
  smtp_start loop || return 1
}

loopback_stop () {
  # A trap runs under the caller's set -e: the killed receiver's exit
  # status must not stop the cleanup halfway.
  set +e
  _smtp_stop_all
  dovecot_stop
}
