#!/usr/bin/env python3
"""Tiny dependency-free Kafka liveness probe (stdlib only, ~50 ms vs ~2 s for a JVM tool).

Usage: kafka_probe.py HOST PORT [TIMEOUT_S] [--cafile CA.crt]

Sends ApiVersions v0 (any Kafka broker answers it) and then Metadata v4
(the oldest Metadata version Kafka 4.x still accepts, KIP-896).

With --cafile the listener is SASL_SSL: the probe completes a TLS handshake that
verifies the broker's certificate against that CA, and sends ApiVersions, which a
SASL listener answers before authentication (KIP-43). It cannot send Metadata
without credentials, so "answering" then means: TLS up, Kafka speaking.

Exit codes:
  0  a Kafka broker answered and lists >= 1 live broker; prints
     "cluster_id=<id> brokers=<n> controller=<id>"
  1  nothing listening / connection refused
  2  something is listening but it does not speak the Kafka protocol
  3  it is Kafka but not ready yet (no brokers in metadata / error)
"""
import socket
import ssl
import struct
import sys


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    return buf


def _request(sock, api_key, api_version, corr, body=b""):
    client_id = b"orderflow-probe"
    header = struct.pack(">hhih", api_key, api_version, corr, len(client_id)) + client_id
    msg = header + body
    sock.sendall(struct.pack(">i", len(msg)) + msg)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    if size < 4 or size > 64 * 1024 * 1024:
        raise ValueError("implausible frame size %d" % size)
    payload = _recv_exact(sock, size)
    (rcorr,) = struct.unpack(">i", payload[:4])
    if rcorr != corr:
        raise ValueError("correlation id mismatch")
    return payload[4:]


class _Reader:
    def __init__(self, data):
        self.d, self.o = data, 0

    def i16(self):
        v = struct.unpack_from(">h", self.d, self.o)[0]
        self.o += 2
        return v

    def i32(self):
        v = struct.unpack_from(">i", self.d, self.o)[0]
        self.o += 4
        return v

    def string(self):
        n = self.i16()
        if n < 0:
            return None
        v = self.d[self.o:self.o + n].decode("utf-8", "replace")
        self.o += n
        return v


def main():
    args = sys.argv[1:]
    cafile = None
    if "--cafile" in args:
        at = args.index("--cafile")
        cafile = args[at + 1]
        del args[at:at + 2]
    host, port = args[0], int(args[1])
    timeout = float(args[2]) if len(args) > 2 else 3.0
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as e:
        print("not listening: %s" % e)
        return 1
    sock.settimeout(timeout)
    if cafile:
        try:
            context = ssl.create_default_context(cafile=cafile)
            sock = context.wrap_socket(sock, server_hostname=host)
        except (OSError, ssl.SSLError) as e:
            sock.close()
            print("listening, but no TLS handshake with our CA (%s)" % e)
            return 2
    with sock:
        # ApiVersions v0: empty body. Response: error_code, [api_key, min, max]
        try:
            r = _Reader(_request(sock, 18, 0, 1))
            err = r.i16()
            n = r.i32()
            if n < 0 or n > 1000:
                raise ValueError("bad api array")
            apis = {}
            for _ in range(n):
                k, lo, hi = r.i16(), r.i16(), r.i16()
                apis[k] = (lo, hi)
            if err != 0 or 3 not in apis:
                raise ValueError("ApiVersions error %d" % err)
        except (OSError, EOFError, ValueError, struct.error) as e:
            print("listening, but not a Kafka broker (%s)" % e)
            return 2
        if cafile:
            print("kafka answering over TLS (SASL_SSL, %d APIs)" % len(apis))
            return 0
        # Metadata v4: topics = null (-1) -> all topics; allow_auto_topic_creation=false
        try:
            r = _Reader(_request(sock, 3, 4, 2, struct.pack(">ib", -1, 0)))
            r.i32()  # throttle_time_ms
            nb = r.i32()
            for _ in range(max(nb, 0)):
                r.i32(); r.string(); r.i32(); r.string()  # node_id, host, port, rack
            cluster_id = r.string()
            controller = r.i32()
        except (OSError, EOFError, ValueError, struct.error) as e:
            print("kafka, but metadata request failed (%s)" % e)
            return 3
        if nb < 1:
            print("kafka, but no live brokers yet")
            return 3
        print("cluster_id=%s brokers=%d controller=%d" % (cluster_id, nb, controller))
        return 0


if __name__ == "__main__":
    sys.exit(main())
