# A selectors (epoll) echo server that serves 40 short connections from a client
# thread in the same process, then exits: a small, self-contained strace subject.
# logs/echo-churn-python.strace was made from it with
#   polltrace record -o echo.trace --log logs/echo-churn-python.strace -- /usr/bin/python3 echo_churn.py
# (Python 3.11, strace 6.x), and traces/echo-churn-python.v4.trace from that log by
# the schema v4 importer (`polltrace import` at commit 5613b63).
import selectors, socket, threading
sel = selectors.DefaultSelector()
listener = socket.socket(); listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0)); listener.listen(64); listener.setblocking(False)
port = listener.getsockname()[1]
served = 0
def client():
    for i in range(40):
        with socket.create_connection(("127.0.0.1", port)) as c:
            c.sendall(b"ping %d" % i); c.recv(64)
def accept(sock):
    conn, _ = sock.accept(); conn.setblocking(False)
    sel.register(conn, selectors.EVENT_READ, echo)
def echo(conn):
    global served
    data = conn.recv(64)
    if data:
        conn.sendall(data)
    else:
        sel.unregister(conn); conn.close(); served += 1
sel.register(listener, selectors.EVENT_READ, accept)
threading.Thread(target=client, daemon=True).start()
while served < 40:
    for key, _ in sel.select(timeout=5):
        key.data(key.fileobj)
