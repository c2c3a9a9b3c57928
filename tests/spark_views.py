"""Spark's views written out as Parquet, in the child process tests/test_spark_parity.py starts.

A module of its own, importing only the standard library (and pyspark when called): a spawned
child imports the module of the function it runs, and the test module's imports (the loader,
the generator, dbt's helpers) took about 2 s there for nothing."""

from __future__ import annotations

from pathlib import Path


def spark_session_conf(warehouse: Path) -> dict[str, str]:
    """The local-session settings of the spark target in profiles.yml, for reading its views."""
    return {
        "spark.master": "local[2]",
        "spark.sql.warehouse.dir": str(warehouse),
        "spark.hadoop.javax.jdo.option.ConnectionURL":
            f"jdbc:derby:;databaseName={warehouse}/metastore_db;create=true",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={warehouse}",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": "4",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.log.level": "ERROR",
    }


def write_spark_views(warehouse: Path, views: list[str], out: Path) -> dict[str, Path]:
    """Write each Spark view (schema.name) of the local warehouse to ``out/<schema>.<name>``."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.enableHiveSupport()
    for key, value in spark_session_conf(warehouse).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    try:
        paths = {}
        for view in views:
            path = out / view
            spark.table(view).coalesce(1).write.mode("overwrite").parquet(str(path))
            paths[view] = path
        return paths
    finally:
        spark.stop()
