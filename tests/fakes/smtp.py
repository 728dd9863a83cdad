"""A local SMTP server (RFC 5321: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) that keeps
every message it accepts, parsed with the stdlib e-mail parser. It can turn connections away
with a chosen greeting (`421 ...`: try later; `554 ...`: never), as a real server does when
it is overloaded or refuses the client."""

import email
import socketserver
import threading
from dataclasses import dataclass, field
from email.message import Message


@dataclass
class FakeSmtp:
    messages: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    # greetings for the next connections instead of "220", in turn (the last one repeats
    # when `refuse_forever`); each such connection is closed at once
    refusals: list[str] = field(default_factory=list)
    refuse_forever: bool = False
    connections: int = 0  # every connection, accepted or turned away

    def __post_init__(self) -> None:
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write((line + "\r\n").encode())

            def handle(self) -> None:
                with fake._lock:
                    fake.connections += 1
                    refusal = fake.refusals[0] if fake.refusals else None
                    if fake.refusals and not (fake.refuse_forever and len(fake.refusals) == 1):
                        fake.refusals.pop(0)
                if refusal is not None:
                    self.reply(refusal)
                    return
                self.reply("220 fake-smtp ESMTP")
                sender, recipients = "", []
                while True:
                    raw = self.rfile.readline()
                    if not raw:
                        return
                    command = raw.decode(errors="replace").strip()
                    verb = command[:4].upper()
                    if verb in ("EHLO", "HELO"):
                        self.wfile.write(b"250-fake-smtp\r\n250-8BITMIME\r\n250 SIZE 20000000\r\n")
                    elif verb == "MAIL":
                        sender, recipients = command.split(":", 1)[1].strip(" <>"), []
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        recipients.append(command.split(":", 1)[1].strip(" <>"))
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        lines = []
                        while (line := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                            lines.append(line[1:] if line.startswith(b"..") else line)
                        fake.messages.append(email.message_from_bytes(b"".join(lines)))
                        fake.envelopes.append((sender, recipients))
                        self.reply("250 OK queued")
                    elif verb in ("RSET", "NOOP"):
                        self.reply("250 OK")
                    elif verb == "QUIT":
                        self.reply("221 Bye")
                        return
                    else:
                        self.reply("502 Command not implemented")

        self._lock = threading.Lock()
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
