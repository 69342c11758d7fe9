"""The DAGs' ids, named once: the DAG files, the review code that asks for runs, the main
job and the benchmarks all use these."""

CRAWL_DAG = "crawl_communities"
PRODUCE_DAG = "produce_shorts"
PUBLISH_DAG = "publish_shorts"
WATCH_DAG = "watch_health"
BACKUP_DAG = "backup"
STATS_DAG = "collect_stats"
