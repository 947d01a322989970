"""A mail server for the tests: aiosmtpd on 127.0.0.1:PORT, writing each message it accepts to
DIR/<n>.eml. With --refuse it keeps each message it is given but answers 554, as a server that
will not deliver it (so a test can check that the link inside is void). Prints "ready" once it
listens."""
import argparse
import asyncio
import pathlib

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, out: pathlib.Path, refuse: bool):
        self.out, self.refuse, self.count = out, refuse, 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        body = b"X-Envelope-To: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n"
        (self.out / f"{self.count}.eml").write_bytes(body + envelope.original_content)
        if self.refuse:
            return "554 5.7.1 Message refused"
        return "250 Message accepted for delivery"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--refuse", action="store_true")
    a = p.parse_args()
    out = pathlib.Path(a.dir)
    out.mkdir(parents=True, exist_ok=True)
    controller = Controller(Handler(out, a.refuse), hostname="127.0.0.1", port=a.port)
    controller.start()
    print("ready", flush=True)
    try:
        asyncio.new_event_loop().run_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
