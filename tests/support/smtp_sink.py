#!/usr/bin/python3
"""A local SMTP sink for the notification tests: aiosmtpd (Debian's python3-aiosmtpd) on 127.0.0.1:PORT that
writes each message it accepts into FOLDER as NNNN.eml (the bytes as received) and NNNN.json (the envelope, the
raw headers, and the subject and body as Python's e-mail parser decodes them — a decoder independent of the
server's encoder). Each file is written whole under a temporary name, then renamed. Prints "listening PORT"
once it accepts connections; runs until SIGTERM.

usage: smtp_sink.py PORT FOLDER
"""
import itertools
import json
import signal
import sys
import threading
from email import policy
from email.parser import BytesParser
from pathlib import Path

from aiosmtpd.controller import Controller


class Saver:
    def __init__(self, folder):
        self.folder = folder
        self.counter = itertools.count(1)
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = BytesParser(policy=policy.default).parsebytes(raw)
        body = message.get_body(preferencelist=("plain",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "headers": {k: str(v) for k, v in message.items()},
            "raw_headers": raw.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace"),
            "subject": str(message["subject"]),
            "content_type": message.get_content_type(),
            "charset": message.get_content_charset(),
            "body": body.get_content() if body is not None else "",
        }
        with self.lock:
            n = next(self.counter)
        for suffix, data in ((".eml", raw), (".json", json.dumps(record, ensure_ascii=False).encode("utf-8"))):
            path = self.folder / f"{n:04d}{suffix}"
            tmp = self.folder / f".{n:04d}{suffix}.tmp"
            tmp.write_bytes(data)
            tmp.rename(path)
        return "250 OK"


def main():
    port, folder = int(sys.argv[1]), Path(sys.argv[2])
    folder.mkdir(parents=True, exist_ok=True)
    controller = Controller(Saver(folder), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"listening {port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
