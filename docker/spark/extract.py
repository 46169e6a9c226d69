"""Text extraction for the Spark job that feeds the embeddings pipeline.

Pure functions, no Spark: ``extract_record`` turns one Kafka value (a JSON document or plain text) from an
agent result topic into the pipeline's input record ``{text, doc_id, topic, kafka_ts}``, or ``None`` when
there is no text. The Spark job (``embed_input_job.py``) applies it per row; ``test_extract.py`` tests it
with plain ``unittest`` on machines without Spark.

Rules (the old vectorizer's, plus the agent result shape it never handled):

* the text is the first non-empty string among ``text``, ``message``, ``content``, ``prompt``, ``body``;
  otherwise an agent result ``{container, summary, key_points, plan, ts}`` gives ``summary``, the
  ``key_points`` (one per line) and ``plan`` joined by newlines; otherwise a value that is not JSON (or a
  JSON string) is the text itself;
* ``doc_id`` is the first non-empty string (or number) among ``doc_id``, ``id``, ``document_id``, ``key``;
  otherwise ``sha256(text)``, so re-reading a topic upserts instead of duplicating;
* texts are trimmed and cut to ``max_chars`` (default 32768, the embedding server's limit).
"""

import hashlib
import json

# Spark's subscribePattern (a Java regex, matched against the whole topic name): the workers write
# agent.results.<container>; the bare agent.results is matched too.
DEFAULT_TOPIC_PATTERN = r"agent\.results(\..+)?"
TEXT_FIELDS = ("text", "message", "content", "prompt", "body")
ID_FIELDS = ("doc_id", "id", "document_id", "key")
MAX_CHARS = 32768


def _as_text(value):
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        parts = [str(v).strip() for v in value if isinstance(v, (str, int, float)) and str(v).strip()]
        return "\n".join(parts)
    return ""


def extract_text(doc):
    """The text of a decoded value (dict, str or other JSON), or an empty string."""
    if isinstance(doc, str):
        return doc.strip()
    if not isinstance(doc, dict):
        return ""
    for field in TEXT_FIELDS:
        text = doc.get(field)
        if isinstance(text, str) and text.strip():
            return text.strip()
    parts = [_as_text(doc.get(f)) for f in ("summary", "key_points", "plan")]
    return "\n".join(p for p in parts if p)


def extract_doc_id(doc, text):
    """The record's id, else sha256 of its text (hex)."""
    if isinstance(doc, dict):
        for field in ID_FIELDS:
            value = doc.get(field)
            if isinstance(value, bool):
                continue
            if isinstance(value, str) and value:
                return value
            if isinstance(value, (int, float)):
                return str(value)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def extract_record(value, topic, kafka_ts, max_chars=MAX_CHARS):
    """One Kafka value (str or bytes) -> ``{text, doc_id, topic, kafka_ts}`` or ``None`` without text.

    ``kafka_ts`` is the Kafka timestamp in seconds (float).
    """
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8", errors="replace")
    try:
        doc = json.loads(value)
    except (ValueError, TypeError):
        doc = value
    text = extract_text(doc)
    if not text:
        return None
    text = text[:max_chars]
    return {
        "text": text,
        "doc_id": extract_doc_id(doc, text),
        "topic": topic,
        "kafka_ts": float(kafka_ts) if kafka_ts is not None else None,
    }


def record_json(value, topic, kafka_ts):
    """``extract_record`` as a JSON string (the Kafka sink's value), or ``None``."""
    rec = extract_record(value, topic, kafka_ts)
    return None if rec is None else json.dumps(rec, ensure_ascii=False, separators=(",", ":"))
