"""Plain-unittest tests of the Spark job's text extraction (no Spark needed): python3 -m unittest."""

import hashlib
import json
import re
import unittest

from extract import DEFAULT_TOPIC_PATTERN, extract_record, record_json


def sha(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ExtractRecordTest(unittest.TestCase):
    def test_text_field_order_and_id(self):
        rec = extract_record(json.dumps({"message": "m", "text": "  t  ", "id": "x1"}), "agent.results.app", 12.5)
        self.assertEqual(rec, {"text": "t", "doc_id": "x1", "topic": "agent.results.app", "kafka_ts": 12.5})
        rec = extract_record(json.dumps({"body": "b", "prompt": "p"}), "t", 1)
        self.assertEqual(rec["text"], "p")

    def test_agent_result_shape(self):
        value = json.dumps({
            "container": "backend",
            "summary": "Tests fail on import",
            "key_points": ["missing module", "", "pin version"],
            "plan": "add the dependency",
            "ts": 1,
        })
        rec = extract_record(value.encode("utf-8"), "agent.results.backend", 3.0)
        self.assertEqual(rec["text"], "Tests fail on import\nmissing module\npin version\nadd the dependency")
        self.assertEqual(rec["doc_id"], sha(rec["text"]))

    def test_plain_text_and_json_string(self):
        self.assertEqual(extract_record("just a log line", "t", None)["text"], "just a log line")
        self.assertEqual(extract_record('"quoted"', "t", None)["text"], "quoted")
        self.assertIsNone(extract_record("   ", "t", None))

    def test_nothing_to_embed(self):
        self.assertIsNone(extract_record(None, "t", 0))
        self.assertIsNone(extract_record(json.dumps({"summary": "", "n": 3}), "t", 0))
        self.assertIsNone(extract_record(json.dumps([1, 2]), "t", 0))
        self.assertIsNone(extract_record(json.dumps({"text": 5}), "t", 0))

    def test_id_fields(self):
        self.assertEqual(extract_record(json.dumps({"text": "a", "document_id": "d"}), "t", 0)["doc_id"], "d")
        self.assertEqual(extract_record(json.dumps({"text": "a", "key": 42}), "t", 0)["doc_id"], "42")
        self.assertEqual(extract_record(json.dumps({"text": "a", "id": True}), "t", 0)["doc_id"], sha("a"))
        self.assertEqual(extract_record(json.dumps({"text": "a", "doc_id": ""}), "t", 0)["doc_id"], sha("a"))

    def test_truncation_and_json(self):
        rec = extract_record(json.dumps({"text": "x" * 40000}), "t", 0)
        self.assertEqual(len(rec["text"]), 32768)
        out = json.loads(record_json(b'{"text": "caf\\u00e9", "id": 1}', "agent.results.c", 2))
        self.assertEqual(out, {"text": "café", "doc_id": "1", "topic": "agent.results.c", "kafka_ts": 2.0})
        self.assertIsNone(record_json(b"{}", "t", 0))

    def test_default_pattern_matches_container_topics(self):
        pattern = re.compile(DEFAULT_TOPIC_PATTERN)
        for topic in ("agent.results", "agent.results.backend", "agent.results.app.v2"):
            self.assertTrue(pattern.fullmatch(topic), topic)
        for topic in ("agent.resultsX", "embedding_input", "agent.patches"):
            self.assertFalse(pattern.fullmatch(topic), topic)


if __name__ == "__main__":
    unittest.main()
