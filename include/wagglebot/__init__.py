"""WaggleBot's domain package: config, the app database, the state machine, the stages.

Importable and testable without Airflow running; the DAGs only orchestrate it.
"""
