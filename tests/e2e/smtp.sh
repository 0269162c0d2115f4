# tests/e2e/smtp.sh - sourced after lib.sh by the tests that send over SMTP:
# a test CA and certificates made with openssl, and real SMTP receivers
# (Debian's aiosmtpd) on loopback ports, all stopped when the test exits.
#
#   smtp_certs                 $T/ca.pem (the test CA), $T/good.{pem,key}
#                              (localhost, 127.0.0.1), $T/wrongname.{pem,key}
#                              (mail.example.test, same CA), $T/rogue.{pem,key}
#                              (localhost, signed by a CA nobody trusts)
#   smtp_start NAME ARGS...    tests/e2e/pdsmtpd.py in $T/smtp-NAME (see its
#                              options); sets SMTP_PORT and SMTP_DIR
#   smtp_start_stock NAME      plain `python3 -m aiosmtpd` with its stock
#                              Mailbox handler; sets SMTP_PORT and SMTP_DIR
#   smtp_commands DIR          the command verbs the server got, on one line
PY=/usr/bin/python3   # Debian's: an earlier python3 on the PATH may not see aiosmtpd
_smtp_pids=""
trap '_smtp_stop_all; rm -rf "$T"' EXIT

_smtp_stop_all () {
  local p
  for p in $_smtp_pids; do
    kill "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  _smtp_pids=""
}

_smtp_leaf () {   # NAME CA-PREFIX SAN
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$1.key" \
    -out "$T/$1.csr" -subj "/CN=$1" 2>/dev/null &&
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$3" > "$T/$1.ext" &&
  openssl x509 -req -in "$T/$1.csr" -CA "$T/$2.pem" -CAkey "$T/$2.key" -CAcreateserial \
    -days 2 -extfile "$T/$1.ext" -out "$T/$1.pem" 2>/dev/null
}

smtp_certs () {
  local ca
  for ca in ca rogue-ca; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$ca.key" \
      -out "$T/$ca.pem" -days 2 -subj "/CN=postdesk test $ca" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      2>/dev/null || return 1
  done
  _smtp_leaf good ca "DNS:localhost,IP:127.0.0.1" &&
  _smtp_leaf wrongname ca "DNS:mail.example.test" &&
  _smtp_leaf rogue rogue-ca "DNS:localhost,IP:127.0.0.1"
}

_smtp_wait_port () {   # DIR: waits for DIR/port, up to 10 s
  local _
  for _ in $(seq 200); do
    [ -s "$1/port" ] && return 0
    sleep 0.05
  done
  echo "# SMTP server in $1 did not start:" >&2
  sed 's/^/#   /' "$1/server.log" >&2
  return 1
}

smtp_start () {
  local name=$1
  shift
  SMTP_DIR="$T/smtp-$name"
  mkdir -p "$SMTP_DIR"
  "$PY" "$POSTDESK_SRC/tests/e2e/pdsmtpd.py" "$SMTP_DIR" "$@" > "$SMTP_DIR/server.log" 2>&1 &
  _smtp_pids="$_smtp_pids $!"
  _smtp_wait_port "$SMTP_DIR" || return 1
  SMTP_PORT=$(cat "$SMTP_DIR/port")
}

# The stock server takes a port on its command line: ask the kernel for a
# free one, and try again if another process took it in between.
smtp_start_stock () {
  local name=$1 try pid
  SMTP_DIR="$T/smtp-$name"
  # The Mailbox handler makes the Maildir only where there is no folder yet.
  mkdir -p "$SMTP_DIR"
  for try in 1 2 3; do
    SMTP_PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$PY" -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$SMTP_DIR/mail" \
      > "$SMTP_DIR/server.log" 2>&1 &
    pid=$!
    _smtp_pids="$_smtp_pids $pid"
    for _ in $(seq 200); do
      (exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT") 2>/dev/null && return 0
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
  done
  return 1
}

smtp_commands () {
  tr '\n' ' ' < "$1/commands.log" | sed 's/ $//'
}
