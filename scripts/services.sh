#!/usr/bin/env bash
# Make sure Redis and PostgreSQL answer on loopback: start them when installed but
# stopped, and fail with a clear message when they are not installed at all.
set -uo pipefail

redis_up() { (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && head -c 5 <&3 | grep -q PONG) 2>/dev/null; }
pg_up() {
    if command -v pg_isready >/dev/null; then pg_isready -q -h 127.0.0.1 -p 5432; else (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; fi
}
wait_for() { for _ in $(seq 1 30); do "$1" && return 0; sleep 1; done; return 1; }

if ! redis_up; then
    if command -v redis-server >/dev/null; then
        echo "    Redis is not answering; starting it (nothing kept on disk)"
        redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
        wait_for redis_up || { echo "error: Redis did not start on 127.0.0.1:6379" >&2; exit 1; }
    else
        echo "error: Redis is not installed and nothing answers on 127.0.0.1:6379 (apt-get install redis-server)" >&2
        exit 1
    fi
fi
echo "    Redis answers"

if ! pg_up; then
    if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
        echo "    PostgreSQL is not answering; starting it"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
        wait_for pg_up || { echo "error: PostgreSQL did not start on 127.0.0.1:5432" >&2; exit 1; }
    else
        echo "error: PostgreSQL is not installed and nothing answers on 127.0.0.1:5432 (apt-get install postgresql)" >&2
        exit 1
    fi
fi
echo "    PostgreSQL answers"
