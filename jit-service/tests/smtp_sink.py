"""A local SMTP server for the jit-service mail tests (aiosmtpd, from scripts/jit-venv.sh).

    python smtp_sink.py DIR

Listens on 127.0.0.1 on a port the system picks and prints `PORT <n>` once it accepts
connections. Each message it receives becomes one file DIR/<nnnnn>.json holding the envelope
(sender, recipients), the decoded headers the tests look at, the plain-text body and the raw
message. A file appears complete (written, then renamed) before the server answers 250, so a
client that got its 250 finds the file. Exits when its standard input closes: the test that
started it has ended, even if it could not stop it.
"""

import asyncio
import email
import email.policy
import json
import os
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        self.count += 1
        path = os.path.join(self.directory, f"{self.count:05d}.json")
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg["from"] or ""),
            "to": str(msg["to"] or ""),
            "subject": str(msg["subject"] or ""),
            "text": body.get_content() if body is not None else "",
            "raw": raw.decode("utf-8", "replace"),
        }
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.replace(path + ".tmp", path)
        return "250 Message accepted for delivery"


async def main():
    directory = sys.argv[1]
    os.makedirs(directory, exist_ok=True)
    loop = asyncio.get_running_loop()
    handler = Sink(directory)
    server = await loop.create_server(lambda: SMTP(handler), host="127.0.0.1", port=0)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    # Serve until stdin reaches end of file (the parent closed it, or died).
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: smtp_sink.py DIR")
    asyncio.run(main())
