#!/usr/bin/env python3
"""Writes the seed corpora in tests/fuzz/corpus/<target>/ (all but wire/,
which the wire fuzzer writes itself: see wire_fuzz.cpp). Rerun after
changing a seed list; the files are committed."""
import hashlib
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for s in seeds:
        b = s if isinstance(s, bytes) else s.encode()
        name = hashlib.sha1(b).hexdigest()[:16]
        with open(os.path.join(d, name), "wb") as f:
            f.write(b)


def http_seeds():
    reqs = [
        b"GET /master/state HTTP/1.1\r\nHost: 127.0.0.1:5050\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
        b"GET /master/state?jsonp=cb HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /master/state-summary HTTP/1.0\r\n\r\n",
        b"GET /master/tasks?limit=10&offset=2&order=desc HTTP/1.1\r\nConnection: close\r\n\r\n",
        b"HEAD /master/state HTTP/1.1\r\nHost: a\r\n\r\n",
        b"PUT /master/weights HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 58\r\n\r\n"
        b'[{"role": "web", "weight": 2.0}, {"role": "db", "weight": 1}]',
        b"POST /master/quota HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'1c\r\n{"role":"web","guarantee":"\r\n0c\r\ncpus:2;mem:1\r\n2\r\n"}\r\n0\r\n\r\n',
        b"POST /master/quota HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 60\r\n\r\n"
        b'{"role":"web","guarantee":[{"name":"cpus","scalar":{"value":1}}]}',
        b"DELETE /master/quota/web HTTP/1.1\r\nHost: a\r\n\r\n",
        b"DELETE /master/quota/we%20b%2F HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /slave(1)/monitor/statistics HTTP/1.1\r\n\r\nGET /slave(1)/state HTTP/1.1\r\n\r\nGET /help HTTP/1.1\r\nConnection: close\r\n\r\n",
        b"GET /__stoa__/processes HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n",
        b"GET /metrics/snapshot?a=%zz HTTP/1.1\r\n\r\n",
        b"GET /files/download?path=%2Fvar%2Flog+x HTTP/1.1\r\nX-A: 1\r\nX-A: 2\r\n\r\n",
        b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nGET /version HTTP/1.1\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\n\r\n",
        b"CONNECT 127.0.0.1:5050 HTTP/1.1\r\n\r\n",
        b"GET http://127.0.0.1:5050/master/flags?x=1#frag HTTP/1.1\r\n\r\n",
        b"POST /master/weights HTTP/1.1\r\nContent-Length: 99999\r\n\r\nabc",
        b"GET /master/state HTTP/1.1\r\nX-Long: " + b"a" * 300 + b"\r\n\r\n",
        b"GET /master/health HTTP/1.1\r\nContent-Type: text/plain\r\n folded\r\n\r\n",
        b"BREW /pot HTTP/1.1\r\n\r\n",
        b"GET /master/roles HTTP/1.1\nHost: a\n\n",
    ]
    out = []
    for i, r in enumerate(reqs):
        out.append(b"\x00" + r)  # one read
        if i % 3 == 0:
            out.append(bytes([1 + i * 7 % 40]) + r)  # split reads
    return out


def json_seeds():
    return [
        '[{"role": "web", "weight": 2.0}, {"role": "db", "weight": 1}]',
        '[{"role": "a/b", "weight": 1}]',
        '[{"role": "web", "weight": 0}]',
        '[{"role": "web", "weight": 1e-7}, {"role": "web", "weight": 3}]',
        '[]',
        '{"role": "web", "guarantee": "cpus:2;mem:1024"}',
        '{"role": "web", "guarantee": {"cpus": 2, "mem": 1024.5}}',
        '{"role": "web", "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.5}},'
        ' {"name": "mem", "type": "SCALAR", "scalar": {"value": 256}}]}',
        '{"role": "*", "guarantee": [{"name": "ports", "ranges": {"range": [{"begin": 1, "end": 2}]}}]}',
        '{"role": "web", "guarantee": {"cpus": 1e300}}',
        '{"role": "web", "guarantee": {"cpus": -1}}',
        '{"a": [1, 2.5, -0, 1e21, 9223372036854775807, -9223372036854775808, 9223372036854775808]}',
        '{"s": "a\\"b\\\\c\\n\\u0001\\u00e9\\ud83d\\ude00/", "t": true, "f": false, "n": null}',
        '[' * 64 + ']' * 64,
        '[' * 65 + ']' * 65,
        '{"a":' * 40 + '1' + '}' * 40,
        '1e400',
        '-1e-400',
        '"\\ud800"',
        '{"a": 1} x',
        '  \n\t[1, 2]  \r\n',
        '{"k": 1, "k": 2}',
    ]


def resources_seeds():
    return [
        "cpus:4;mem:4096;disk:10000;ports:[31000-32000]",
        "cpus:4;mem:4096\ncpus:1;mem:1024",
        "cpus(web):2;cpus:1;mem(db):512\ncpus(web):1\nweb",
        "ports:[1-10, 20-30, 11-19]\nports:[5-25]",
        "ports:[31000]\nports:[31000-31000]",
        "set:{a,b,c}\nset:{b,d}",
        "cpus:0.001;mem:0.0004\ncpus:0.0005",
        "cpus:0.1;cpus:0.2\ncpus:0.3",
        "cpus:1e15;mem:9e15\ncpus:9e15",
        "cpus:-1",
        "cpus:nan;mem:inf",
        "cpus(:1",
        "cpus():1",
        ":1;cpus",
        "gpus:1;cpus:2\n\n*",
        "ports:[18446744073709551615-18446744073709551615]\nports:[0-18446744073709551615]",
        "ports:[10-1]",
        "x:1;x:[1-2]",
        "mem:32;cpus:0.01|mem:64",
        "  cpus : 2 ; mem : 3 ",
    ]


def attributes_seeds():
    return [
        "rack:r1;zone:a;u:2;zone2:[1-3]",
        "rack:r1;;zone:a;",
        "n:1.5;m:-2;e:1e300;f:1e400;d:4.9e-324",
        "r:[1-3, 5-6];s:{a,b}",
        "r:[];t:[3-1]",
        "a:inf;b:nan;c:0x10;d:  7  ",
        "noval:;:x;novalue",
        "host:node-1.example;os:debian 12",
    ]


def flags_seeds():
    return [
        "--port=5050\n--ip=127.0.0.1\n--allocation_interval=1secs",
        "--weights=web=2,db=1.5\n--roles=web,db\n--min_allocatable_resources=cpus:0.01|mem:32",
        "--master=127.0.0.1:5050\n--resources=cpus:4;mem:4096;ports:[31000-32000]\n--attributes=rack:r1;zone:a",
        "--master=master@10.0.0.1:5050\n--isolation=posix/cpu,posix/mem\n--no-switch_user\n--strict",
        "--executor_registration_timeout=1mins\n--executor_shutdown_grace_period=5secs\n--registration_backoff_factor=100ms",
        "--slave_ping_timeout=15secs\n--max_slave_ping_timeouts=5\n--slave_reregister_timeout=10mins",
        "--offer_timeout=30secs\n--max_completed_frameworks=50\n--max_completed_tasks_per_framework=1000",
        "$STOA_PORT=1\n$MESOS_WORK_DIR=/tmp/x\n--hostname=h",
        "--zk=zk://a:2181/mesos\n--quorum=2",
        "--port=99999999999999999999\n--allocation_interval=1e300weeks",
        "1.5hrs\n--allocation_interval=0.000001ns",
        "--help\n--no-hostname_lookup\n--hostname_lookup=0",
        "--registry=replicated_log\n--allocator_policy=random",
        "--log_dir=\n--work_dir=",
        "--master=http://127.0.0.1:5050/\n--recover=reconnect",
    ]


def upid_seeds():
    return [
        "master@127.0.0.1:5050",
        "slave(1)@10.0.0.2:5051",
        "scheduler-4f1e3c1a-8a2b-4c5d-9e6f-0a1b2c3d4e5f@127.0.0.1:38211",
        "master@[::1]:5050",
        "master@::1:5050",
        "127.0.0.1:5050",
        "http://127.0.0.1:5050/",
        "zk://127.0.0.1:2181/mesos",
        "a@b:65536",
        "a@b:",
        "@b:1",
        "a@:1",
        "a b@c:1",
        "a@b@c:00080",
    ]


write("http", http_seeds())
write("json", json_seeds())
write("resources", resources_seeds())
write("attributes", attributes_seeds())
write("flags", flags_seeds())
write("upid", upid_seeds())
