"""The glue to Airflow: its REST API client, the DAGs' ids, where tasks run (pools and
queues), the worker's host name, a task's lifeline and the task-failure notifier."""
