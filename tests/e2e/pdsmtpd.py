"""pdsmtpd.py - a real SMTP receiver for the tests: Debian's aiosmtpd
(its SMTP protocol class and Mailbox handler), run on a loopback port the
kernel picks, with what the tests need to see and provoke:

  DIR/port          the port, written once the server listens
  DIR/commands.log  the verb of every command a client sent, one a line
                    (EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA, QUIT, ...), so a
                    test can show that no AUTH or MAIL came before a refusal
  DIR/mail/         a Maildir with every message accepted

Options:
  --tls CERT KEY     offer STARTTLS with this certificate
  --implicit-tls     TLS from the first byte (smtps); needs --tls
  --auth USER:PASS   offer AUTH (PLAIN, LOGIN) and require it for MAIL;
                     aiosmtpd offers it only after STARTTLS
  --tempfail ADDR:N  answer 451 to the first N RCPT TO:<ADDR>, then accept
  --permfail ADDR    answer 550 5.1.1 to every RCPT TO:<ADDR>

aiosmtpd's command line (python3 -m aiosmtpd) can start a handler class
but cannot pass an authenticator or pick a free port, hence this file.
Run it with /usr/bin/python3 (Debian's Python sees python3-aiosmtpd).
"""
import argparse
import asyncio
import logging
import os
import ssl
import sys

from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class CommandLog(logging.Handler):
    """Keeps the verb of each command line aiosmtpd logs as 'peer >> line'.
    Only the verb: an AUTH line carries the credentials."""

    def __init__(self, path):
        super().__init__(logging.INFO)
        self.out = open(path, "a", buffering=1)

    def emit(self, record):
        if record.msg != "%r >> %r" or len(record.args) != 2:
            return
        line = record.args[1]
        if isinstance(line, bytes):
            line = line.decode("ascii", "replace")
        verb = line.split(" ", 1)[0].split(":", 1)[0].upper()
        self.out.write(verb + "\n")


class Handler(Mailbox):
    def __init__(self, mail_dir, tempfail, permfail):
        super().__init__(mail_dir)
        self.tempfail = tempfail      # address -> attempts still to refuse
        self.permfail = permfail      # set of addresses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.permfail:
            return "550 5.1.1 <%s>: no such user here" % address
        if self.tempfail.get(address, 0) > 0:
            self.tempfail[address] -= 1
            return "451 4.3.0 <%s>: try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--implicit-tls", action="store_true")
    p.add_argument("--auth")
    p.add_argument("--tempfail", action="append", default=[])
    p.add_argument("--permfail", action="append", default=[])
    a = p.parse_args()

    logging.getLogger("mail.log").setLevel(logging.INFO)
    logging.getLogger("mail.log").addHandler(CommandLog(os.path.join(a.dir, "commands.log")))

    tempfail = {}
    for item in a.tempfail:
        addr, n = item.rsplit(":", 1)
        tempfail[addr] = int(n)
    handler = Handler(os.path.join(a.dir, "mail"), tempfail, set(a.permfail))

    ctx = None
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls[0], a.tls[1])

    kwargs = {}
    if a.auth:
        user, password = a.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, data):
            ok = (isinstance(data, LoginPassword) and data.login == user.encode()
                  and data.password == password.encode())
            # handled=False: aiosmtpd then answers 535 itself (by default
            # a failed authenticator is assumed to have answered).
            return AuthResult(success=ok, handled=False)

        kwargs = dict(authenticator=authenticator, auth_required=True,
                      auth_require_tls=not a.implicit_tls)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def factory():
        return SMTP(handler, hostname="localhost", loop=loop,
                    tls_context=None if a.implicit_tls else ctx, **kwargs)

    server = loop.run_until_complete(
        loop.create_server(factory, "127.0.0.1", 0, ssl=ctx if a.implicit_tls else None))
    port = server.sockets[0].getsockname()[1]
    tmp = os.path.join(a.dir, "port.tmp")
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, os.path.join(a.dir, "port"))
    try:
        loop.run_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
