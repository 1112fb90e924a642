"""MQTT receive path: plain paho against `ioc.mqtt.MqttClient` (chunked reads, batched PUBACKs).

    python bench/mqtt_receive.py                 # 100,000 messages each way, 3 rounds
    python bench/mqtt_receive.py --messages 20000 --rounds 1

For each round, the same number of small QoS 1 JSON messages is queued on the embedded
Mosquitto (or IOC_BENCH_MQTT_URL) for a persistent session while its subscriber is away;
then the subscriber connects and drains the queue with manual acknowledgements, acking in
groups of --ack-every as the ingest worker does after a commit. The baseline is paho's own
client acking message by message; the candidate is the client every ioc process uses. Both run
in this process, one after the other, so the ratio compares like with like on a noisy machine.
Figures: messages per second and CPU microseconds per message of this process (paho's network
thread included). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import paho.mqtt.client as paho  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402
from paho.mqtt.subscribeoptions import SubscribeOptions  # noqa: E402

from bench.ingest import RawPublisher, _publish_packet  # noqa: E402
from ioc.config import MqttSettings  # noqa: E402
from ioc.mqtt import MqttClient  # noqa: E402


class Drain:
    """Counts messages and acknowledges them every `ack_every`, as a committer would."""

    def __init__(self, total: int, ack_every: int, ack_group) -> None:
        self.total, self.ack_every, self.ack_group = total, ack_every, ack_group
        self.pending: list = []
        self.count = 0
        self.done = threading.Event()

    def on_message(self, message) -> None:
        self.count += 1
        self.pending.append(message)
        if len(self.pending) >= self.ack_every or self.count >= self.total:
            self.ack_group(self.pending)
            self.pending = []
        if self.count >= self.total:
            self.done.set()


def queue_messages(settings: MqttSettings, topic: str, total: int) -> None:
    url = settings.parsed_url()
    pub = RawPublisher(url, f"bench-rx-pub-{uuid.uuid4().hex[:6]}", window=1000)
    wire = topic.encode()
    sent = 0
    while sent < total:
        n = min(200, total - sent)
        pub.send([_publish_packet(wire, pub.next_mid(),
                                  b'{"time":%d,"metrics":{"pm25":%d}}' % (1_700_000_000 + i, i))
                  for i in range(sent, sent + n)])
        sent += n
    pub.drain(120)


def _subscribe_offline(settings: MqttSettings, client_id: str, topic: str) -> None:
    """Create the persistent session and its subscription, then go away."""
    c = MqttClient(settings, client_id, persistent=True, manual_ack=True)
    c.subscribe(topic, lambda m: None)
    c.connect(15)
    time.sleep(0.3)
    c.close()


def run_baseline(settings: MqttSettings, total: int, ack_every: int) -> tuple[float, float]:
    """Plain paho: per-message ack(), reading packet by packet."""
    client_id = f"{settings.client_id_prefix}-base-{uuid.uuid4().hex[:6]}"
    topic = f"{settings.topic_prefix}bench/base/{uuid.uuid4().hex[:6]}"
    url = settings.parsed_url()

    def make() -> paho.Client:
        c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id,
                        protocol=paho.MQTTv5, manual_ack=True)
        if url.username:
            c.username_pw_set(url.username, url.password)
        c.max_inflight_messages_set(1000)
        return c

    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 600
    props.ReceiveMaximum = 5000
    first = make()
    subscribed = threading.Event()
    first.on_subscribe = lambda *a: subscribed.set()
    first.connect(url.host, url.port, clean_start=True, properties=props)
    first.loop_start()
    first.subscribe(topic, options=SubscribeOptions(qos=1))
    subscribed.wait(15)
    first.disconnect()
    first.loop_stop()
    queue_messages(settings, topic, total)

    client = make()
    drain = Drain(total, ack_every, lambda ms: [client.ack(m.mid, m.qos) for m in ms])
    client.on_message = lambda c, u, m: drain.on_message(m)
    cpu0, t0 = time.process_time(), time.perf_counter()
    client.connect(url.host, url.port, clean_start=False, properties=props)
    client.loop_start()
    if not drain.done.wait(600):
        raise TimeoutError(f"baseline received {drain.count} of {total}")
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    client.disconnect()
    client.loop_stop()
    return total / wall, cpu / total * 1e6


def run_candidate(settings: MqttSettings, total: int, ack_every: int) -> tuple[float, float]:
    """ioc's MqttClient: chunked reads, ack_many per group."""
    name = f"cand-{uuid.uuid4().hex[:6]}"
    topic = f"bench/cand/{uuid.uuid4().hex[:6]}"
    _subscribe_offline(settings, name, topic)
    queue_messages(settings, f"{settings.topic_prefix}{topic}", total)
    client = MqttClient(settings, name, persistent=True, manual_ack=True, receive_maximum=5000)
    drain = Drain(total, ack_every, client.ack_many)
    client.subscribe(topic, drain.on_message)
    cpu0, t0 = time.process_time(), time.perf_counter()
    client.connect(15)
    if not drain.done.wait(600):
        raise TimeoutError(f"candidate received {drain.count} of {total}")
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    client.close()
    return total / wall, cpu / total * 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ack-every", type=int, default=1000)
    args = ap.parse_args(argv)

    broker = None
    url = os.environ.get("IOC_BENCH_MQTT_URL")
    if not url:
        from ioc.services.mqtt_broker import EmbeddedBroker

        broker = EmbeddedBroker(Path(tempfile.mkdtemp(prefix="ioc-bench-rx-")))
        url = broker.start()
    tag = uuid.uuid4().hex[:6]
    settings = MqttSettings(url=url, topic_prefix=f"b{tag}/", client_id_prefix=f"b{tag}")
    base, cand = [], []
    try:
        for r in range(args.rounds):
            base.append(run_baseline(settings, args.messages, args.ack_every))
            cand.append(run_candidate(settings, args.messages, args.ack_every))
            print(f"round {r + 1}: paho {base[-1][0]:,.0f} msg/s {base[-1][1]:.1f} us/msg | "
                  f"ioc {cand[-1][0]:,.0f} msg/s {cand[-1][1]:.1f} us/msg", flush=True)
    finally:
        if broker is not None:
            broker.stop()
    figures = {
        "messages": args.messages,
        "rounds": args.rounds,
        "baseline_msgs_per_s": round(statistics.median(b[0] for b in base)),
        "msgs_per_s": round(statistics.median(c[0] for c in cand)),
        "baseline_cpu_us_per_msg": round(statistics.median(b[1] for b in base), 1),
        "cpu_us_per_msg": round(statistics.median(c[1] for c in cand), 1),
    }
    figures["ratio"] = round(figures["msgs_per_s"] / figures["baseline_msgs_per_s"], 2)
    figures["cpu_ratio"] = round(
        figures["baseline_cpu_us_per_msg"] / figures["cpu_us_per_msg"], 2)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
