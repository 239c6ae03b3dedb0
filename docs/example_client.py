#!/usr/bin/env python3
"""A complete emotiond client in the standard library: connects, asks for frames only,
prints one line per face. The protocol: docs/protocol.md.

    example_client.py [SOCKET] [--count N]      (default /run/emotiond/emotiond.sock)
"""
import json
import socket
import sys

args = [a for a in sys.argv[1:]]
count = None
if "--count" in args:
    i = args.index("--count")
    count = int(args[i + 1])
    del args[i:i + 2]
path = args[0] if args else "/run/emotiond/emotiond.sock"

sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(path)
sock.sendall(b'{"cmd":"subscribe","topics":["frame"]}\n')
frames = 0
for line in sock.makefile("r", encoding="utf-8"):
    msg = json.loads(line)
    if msg["type"] == "hello":
        print("model", msg["model"], "classes", ",".join(msg["classes"]), flush=True)
    elif msg["type"] == "frame":
        for face in msg["faces"]:
            print(msg["seq"], face["id"], face["label"], round(face["confidence"], 2),
                  face["box"], flush=True)
        frames += 1
        if count is not None and frames >= count:
            break
    elif msg["type"] == "dropped":
        print("(missed %d messages)" % msg["count"], file=sys.stderr)
