"""Spark Structured Streaming job: agent result topics -> ``embedding_input``.

Reads every topic matching ``SPARK_KAFKA_PATTERN`` (default ``agent\\.results(\\..+)?``: the workers write
``agent.results.<container>``, which the old job's fixed ``agent.results`` subscription never saw), extracts
``{text, doc_id, topic, kafka_ts}`` with ``extract.record_json`` and writes it as JSON to
``SINK_INPUT_TOPIC`` (default ``embedding_input``), where ``dspy-code embed worker`` picks it up.

Environment:
  KAFKA_BOOTSTRAP_SERVERS (or KAFKA_BOOTSTRAP)  brokers, default kafka:9092
  SPARK_KAFKA_PATTERN                          topic regex, default agent\\.results(\\..+)?
  SINK_INPUT_TOPIC                             output topic, default embedding_input
  VEC_CHECKPOINT                               checkpoint dir, default /workspace/.dspy_checkpoints/embed_input
  SPARK_STARTING_OFFSETS                       earliest (default) or latest, for the first run only
  SPARK_TRIGGER_SEC                            micro-batch interval, default 5

Run: spark-submit --packages org.apache.spark:spark-sql-kafka-0-10_2.12:3.5.0 \\
       --py-files extract.py embed_input_job.py
"""

import os

from extract import DEFAULT_TOPIC_PATTERN, record_json


def main():
    from pyspark.sql import SparkSession, functions as F, types as T

    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or os.environ.get("KAFKA_BOOTSTRAP") or "kafka:9092"
    pattern = os.environ.get("SPARK_KAFKA_PATTERN", DEFAULT_TOPIC_PATTERN)
    sink = os.environ.get("SINK_INPUT_TOPIC", "embedding_input")
    checkpoint = os.environ.get("VEC_CHECKPOINT", "/workspace/.dspy_checkpoints/embed_input")
    starting = os.environ.get("SPARK_STARTING_OFFSETS", "earliest")
    trigger = float(os.environ.get("SPARK_TRIGGER_SEC", "5"))

    spark = SparkSession.builder.appName("dspy-embed-input").getOrCreate()
    to_json = F.udf(lambda v, t, ts: record_json(v, t, ts), T.StringType())
    rows = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribePattern", pattern)
        .option("startingOffsets", starting)
        .option("failOnDataLoss", "false")
        .load()
        .where(F.col("topic") != sink)  # never feed the output back in
        .select(
            to_json(
                F.col("value").cast("string"),
                F.col("topic"),
                F.col("timestamp").cast("double"),
            ).alias("value")
        )
        .where(F.col("value").isNotNull())
    )
    query = (
        rows.writeStream.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("topic", sink)
        .option("checkpointLocation", checkpoint)
        .trigger(processingTime=f"{trigger} seconds")
        .start()
    )
    query.awaitTermination()


if __name__ == "__main__":
    main()
