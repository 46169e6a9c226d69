#!/bin/sh
# Starts librdkafka's mock cluster through kcat (a producer whose stdin never ends keeps it alive), finds the
# port it chose, and forwards 9092 to it so clients can bootstrap at 127.0.0.1:9092.
set -eu
log=/tmp/kcat-mock.log
(tail -f /dev/null | kcat -P -t warmup -b 127.0.0.1:9092 -X test.mock.num.brokers=1 -d mock 2>"$log") &
port=""
for _ in $(seq 200); do
  port=$(sed -n 's/.*bootstrap\.servers=127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
  [ -n "$port" ] && break
  sleep 0.05
done
if [ -z "$port" ]; then
  echo "kafka-mock: the mock cluster did not start:" >&2
  cat "$log" >&2
  exit 1
fi
echo "kafka-mock: librdkafka mock cluster on 127.0.0.1:$port, forwarded from 0.0.0.0:9092"
exec socat TCP-LISTEN:9092,fork,reuseaddr "TCP:127.0.0.1:$port"
