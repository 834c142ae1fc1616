"""asyncio's selector loop with a stale event on purpose.

One batch holds two readable sockets [A, B]. A's reader removes B's reader, closes
B, and gives B's number to a new socket with a reader of its own. The selector
maps every event to its key while harvesting, before any callback runs, and
remove_reader cancels B's handle already queued for this iteration, so B's old
callback never runs: the stale event is dropped.

    python3 asyncio_stale.py TRUTH_FILE   writes which callbacks ran.
"""
import asyncio
import selectors
import socket
import sys

truth = open(sys.argv[1], "w")
loop = asyncio.SelectorEventLoop(selectors.EpollSelector())
a_reader, a_writer = socket.socketpair()
b_reader, b_writer = socket.socketpair()
for s in (a_reader, a_writer, b_reader, b_writer):
    s.setblocking(False)
a_writer.send(b"a")
b_writer.send(b"b")
state = {"batch_over": False}


def on_new(sock):
    if not state["batch_over"]:
        truth.write(f"new {sock.fileno()} ran in the batch\n")


def on_b():
    data = b_reader.recv(16)
    truth.write(f"b ran ({data!r})\n")


def on_a():
    a_reader.recv(16)
    number = b_reader.fileno()
    loop.remove_reader(number)
    b_reader.close()
    fresh, fresh_peer = socket.socketpair()
    fresh.setblocking(False)
    loop.add_reader(fresh.fileno(), on_new, fresh)
    state["keep"] = (fresh, fresh_peer)
    truth.write(f"a ran: closed {number}, new socket {fresh.fileno()}\n")
    loop.stop()


loop.add_reader(a_reader.fileno(), on_a)
loop.add_reader(b_reader.fileno(), on_b)
loop.run_forever()
state["batch_over"] = True
truth.write("batch done\n")
loop.call_soon(loop.stop)
loop.run_forever()
truth.close()
