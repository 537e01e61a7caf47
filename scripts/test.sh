#!/usr/bin/env bash
# Run the whole test suite: installs what it needs, makes sure Redis, RabbitMQ and PostgreSQL answer on
# their standard local ports, then lint, type check and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh --test

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! port_open 6379; then
  echo "starting redis-server"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi
if ! port_open 5432; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
fi
if ! port_open 5672; then
  echo "starting RabbitMQ"
  rabbitmq-server -detached
  for _ in $(seq 60); do port_open 5672 && break; sleep 1; done
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest "$@"
